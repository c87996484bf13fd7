//! The one rule for "may this actor see / manage this object", used by catalog, media and live.
//!
//! Organizations form a tree whose nodes carry materialised paths (`/<root>/<district>/<school>/`,
//! always ending in `/`, so that one path is a prefix of another exactly when it is an ancestor or
//! the node itself). Objects carry the path of the organization they are *scoped to* (who may see
//! them; `None`: everyone) and of the one that *owns* them (who may manage them).
//!
//! - **sees**: an object scoped to organization `o` is seen by the members of `o` and of every
//!   organization below it, i.e. when `o`'s path is a prefix of one of the viewer's membership
//!   paths. Unscoped objects are seen by everyone, anonymous visitors included. Admins see all.
//! - **reaches**: a path inside one of the actor's subtrees (one of their membership paths is a
//!   prefix of it), whatever their role. Experts may aim a lecture at what they reach.
//! - **manages**: admins manage everything; curators manage what their subtrees own (reach);
//!   parents and experts manage nothing by scope (experts manage what they authored, which each
//!   domain checks against its own author column).
//! - **publishes to everyone**: admins and curators of a top-level (province) organization.
//! - **addresses**: may aim content (a course, a lecture, an activity) at an audience
//!   organization: admins anywhere, curators what they manage, experts what they reach, and the
//!   experts and curators of a 教联体 partner unit also what the unit serves (and below), and
//!   nowhere else.
//!
//! A [`Scope`] is loaded once per request ([`Scope::load`]) and answers in memory; its
//! `push_*` methods render the same rules as SQL conditions for list queries, so a page is
//! filtered before it is limited. Those and the one query that loads the membership paths are
//! in `store`.

mod store;

pub use store::push_within;

use crate::auth::AuthUser;
use crate::ids::UserId;
use crate::validate::Role;
use crate::{Db, PlatformResult};

/// What an actor's organizations let them see and manage.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `None` for anonymous visitors.
    actor: Option<(UserId, Role)>,
    /// The paths of the organizations the actor belongs to (by any membership).
    member: Vec<String>,
    /// The paths of the organizations served by the partner units the actor belongs to.
    served: Vec<String>,
}

impl Scope {
    /// Nobody signed in: sees unscoped objects only, manages nothing.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The actor's scope, from their memberships (one query; none for anonymous visitors).
    pub async fn load(db: &Db, actor: Option<&AuthUser>) -> PlatformResult<Self> {
        let Some(user) = actor else {
            return Ok(Self::anonymous());
        };
        let (served, member): (Vec<_>, Vec<_>) = store::member_and_served_paths(db, user.id)
            .await?
            .into_iter()
            .partition(|(_, served)| *served);
        let mut scope = Self::of(user, member.into_iter().map(|(p, _)| p).collect());
        scope.served = served.into_iter().map(|(p, _)| p).collect();
        Ok(scope)
    }

    /// The scope of user `id` as a member only (no role: sees by membership, manages nothing),
    /// for questions about someone other than the caller, e.g. "is this parent in the audience".
    pub async fn load_member(db: &Db, id: UserId) -> PlatformResult<Self> {
        let member = store::member_paths(db, id).await?;
        Ok(Self {
            actor: None,
            member,
            served: Vec::new(),
        })
    }

    /// A scope from known membership paths (tests, and callers that already have them).
    pub fn of(user: &AuthUser, member: Vec<String>) -> Self {
        Self {
            actor: Some((user.id, user.role)),
            member,
            served: Vec::new(),
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.actor.map(|(id, _)| id)
    }

    pub fn role(&self) -> Option<Role> {
        self.actor.map(|(_, r)| r)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// The paths of the actor's own organizations.
    pub fn member_paths(&self) -> &[String] {
        &self.member
    }

    /// Whether an object scoped to `scope_path` (`None`: everyone) is seen by the actor.
    pub fn sees(&self, scope_path: Option<&str>) -> bool {
        match scope_path {
            None => true,
            Some(_) if self.is_admin() => true,
            Some(path) => self.member.iter().any(|m| within(m, path)),
        }
    }

    /// Whether `path` lies inside one of the actor's subtrees (any role).
    pub fn reaches(&self, path: &str) -> bool {
        self.is_admin() || self.member.iter().any(|m| within(path, m))
    }

    /// Whether the actor manages objects owned by (or organizations at) `path`.
    pub fn manages(&self, path: &str) -> bool {
        match self.role() {
            Some(Role::Admin) => true,
            Some(Role::Curator) => self.reaches(path),
            _ => false,
        }
    }

    /// [`of`](Self::of) with the paths the actor's partner units serve.
    pub fn with_served(mut self, served: Vec<String>) -> Self {
        self.served = served;
        self
    }

    /// Whether `path` lies inside what one of the actor's partner units serves.
    pub fn serves(&self, path: &str) -> bool {
        self.served.iter().any(|s| within(path, s))
    }

    /// Whether the actor may aim content at the audience organization at `path`.
    pub fn addresses(&self, path: &str) -> bool {
        match self.role() {
            Some(Role::Admin) => true,
            Some(Role::Curator) => self.manages(path) || self.serves(path),
            Some(Role::Expert) => self.reaches(path) || self.serves(path),
            _ => false,
        }
    }

    /// Whether the actor may make an object visible to everyone.
    pub fn publishes_to_everyone(&self) -> bool {
        match self.role() {
            Some(Role::Admin) => true,
            Some(Role::Curator) => self.member.iter().any(|m| depth(m) == 1),
            _ => false,
        }
    }

    /// The ancestors-or-self of the actor's organizations: an object scoped to any of them is seen.
    fn seen_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for path in &self.member {
            let mut prefix = String::from("/");
            for seg in path.split('/').filter(|s| !s.is_empty()) {
                prefix.push_str(seg);
                prefix.push('/');
                if !out.contains(&prefix) {
                    out.push(prefix.clone());
                }
            }
        }
        out
    }
}

/// Whether the organization at `path` is `ancestor` or lies below it (paths end in `/`; one that
/// does not is no organization's and contains nothing).
pub fn within(path: &str, ancestor: &str) -> bool {
    ancestor.ends_with('/') && path.starts_with(ancestor)
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(role: Role, member: &[&str]) -> Scope {
        let user = AuthUser {
            id: UserId::new(),
            role,
        };
        Scope::of(&user, member.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn members_see_their_organizations_and_what_is_scoped_above_them() {
        let parent = scope(Role::Parent, &["/p/d/s1/c1/"]);
        for seen in ["/p/", "/p/d/", "/p/d/s1/", "/p/d/s1/c1/"] {
            assert!(parent.sees(Some(seen)), "{seen}");
        }
        for unseen in ["/p/d/s1/c2/", "/p/d/s2/", "/q/", "/p/d/s"] {
            assert!(!parent.sees(Some(unseen)), "{unseen}");
        }
        assert!(parent.sees(None));
        assert!(Scope::anonymous().sees(None));
        assert!(!Scope::anonymous().sees(Some("/p/")));
        assert!(scope(Role::Admin, &[]).sees(Some("/q/")));
    }

    #[test]
    fn curators_manage_their_subtrees_only() {
        let curator = scope(Role::Curator, &["/p/d/s1/"]);
        assert!(curator.manages("/p/d/s1/"));
        assert!(curator.manages("/p/d/s1/c1/"));
        assert!(!curator.manages("/p/d/"));
        assert!(
            !curator.manages("/p/d/s10/"),
            "a sibling whose id starts alike is not inside"
        );
        assert!(!curator.manages("/p/d/s2/"));
        // Reach is not management for other roles.
        let expert = scope(Role::Expert, &["/p/d/s1/"]);
        assert!(expert.reaches("/p/d/s1/c1/"));
        assert!(!expert.manages("/p/d/s1/c1/"));
        assert!(!scope(Role::Parent, &["/p/"]).manages("/p/"));
        assert!(scope(Role::Admin, &[]).manages("/anything/"));
    }

    #[test]
    fn partner_staff_address_what_their_unit_serves_and_nowhere_else() {
        let served = vec!["/p/d/s1/".to_owned(), "/p/e/".to_owned()];
        for role in [Role::Curator, Role::Expert] {
            let staff = scope(role, &["/p/d/m/"]).with_served(served.clone());
            for ok in ["/p/d/m/", "/p/d/s1/", "/p/d/s1/c1/", "/p/e/", "/p/e/s9/"] {
                assert!(staff.addresses(ok), "{role:?} {ok}");
            }
            for no in ["/p/", "/p/d/", "/p/d/s2/", "/p/d/s10/", "/q/"] {
                assert!(!staff.addresses(no), "{role:?} {no}");
            }
            // Serving is not managing: the school's members stay the school's.
            assert!(!staff.manages("/p/d/s1/"));
        }
        assert!(
            !scope(Role::Parent, &["/p/d/m/"])
                .with_served(served)
                .addresses("/p/d/s1/")
        );
        assert!(scope(Role::Admin, &[]).addresses("/q/"));
        assert!(!scope(Role::Expert, &["/p/d/s1/"]).addresses("/p/d/s2/"));
    }

    #[test]
    fn only_admins_and_province_curators_publish_to_everyone() {
        assert!(scope(Role::Admin, &[]).publishes_to_everyone());
        assert!(scope(Role::Curator, &["/p/"]).publishes_to_everyone());
        assert!(!scope(Role::Curator, &["/p/d/"]).publishes_to_everyone());
        assert!(!scope(Role::Expert, &["/p/"]).publishes_to_everyone());
    }
}
