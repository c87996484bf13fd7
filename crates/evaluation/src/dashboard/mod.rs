//! 评价看板: for an organization a curator manages, one row per child unit (the cities of a
//! province, the schools of a county, the classes of a school; the families belonging to the
//! organization itself form a row of their own) with the measures of [`indicators::measure`]
//! in a term, the composite score of the indicator system in force (the organization's own, or
//! its nearest ancestor's, or the default) with its formula, the rank among siblings (横向)
//! and the trend over the last four terms (纵向). Every figure is computed from the stored
//! credit logs, check-ins, certificates and ratings of the period; nothing is kept aside.
//! `store` holds the evaluation's own queries, `routes` the handlers.

pub mod indicators;
mod routes;
mod store;

use std::collections::{HashMap, HashSet};

use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::ids::{OrgId, UserId};
use platform::terms::Period;
use serde::Serialize;
use utoipa::ToSchema;

pub(crate) use routes::router;

use crate::{Evaluation, EvaluationError, EvaluationResult};
use indicators::{Family, Indicators, Measures};

/// Terms in a trend.
const TREND: usize = 4;
/// Terms offered.
const TERMS: usize = 6;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TermView {
    pub name: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendPoint {
    pub term: String,
    pub coverage: f64,
    pub avg_hours: f64,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitRow {
    /// `null` for the families belonging to the organization itself.
    pub org_id: Option<OrgId>,
    pub name: String,
    pub measures: Measures,
    pub score: f64,
    /// Among the rows, by score (equal scores share a rank).
    pub rank: usize,
    /// The last terms, oldest first, ending with the chosen one.
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationView {
    pub org_id: OrgId,
    pub org_name: String,
    pub term: TermView,
    /// The terms one may choose, the latest first.
    pub terms: Vec<TermView>,
    pub indicators: Indicators,
    /// Where the indicators come from: this organization or an ancestor (`null`: the default).
    pub indicators_from: Option<OrgId>,
    pub formula: String,
    /// The organization as a whole.
    pub total: UnitRow,
    pub rows: Vec<UnitRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorsView {
    pub org_id: OrgId,
    pub indicators: Indicators,
    /// This organization, the ancestor it inherits from, or `null` for the default.
    pub inherited_from: Option<OrgId>,
    pub formula: String,
}

fn term_view(p: &Period) -> TermView {
    TermView {
        name: p.0.clone(),
        from: Timestamp::from_offset_date_time(p.1),
        to: Timestamp::from_offset_date_time(p.2),
    }
}

/// The organizations on a path (`/a/b/c/`), the root first.
fn path_orgs(path: &str) -> Vec<OrgId> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// The family `u` of period `p`, when `u` is one of `members`.
fn slot<'m>(
    out: &'m mut [HashMap<UserId, Family>],
    members: &HashSet<UserId>,
    u: UserId,
    p: usize,
) -> Option<&'m mut Family> {
    if !members.contains(&u) {
        return None;
    }
    Some(out.get_mut(p)?.entry(u).or_default())
}

/// The measures of each group of families in one term.
struct Groups {
    total: Measures,
    own: Option<Measures>,
    children: Vec<Measures>,
}

impl Evaluation {
    /// The indicator system in force at the organization with `path`, and where it is set.
    async fn indicators_at(&self, path: &str) -> EvaluationResult<(Indicators, Option<OrgId>)> {
        let orgs = path_orgs(path);
        let set = store::indicators_of(&self.db, &orgs).await?;
        for org in orgs.iter().rev() {
            if let Some((_, json)) = set.iter().find(|(o, _)| o == org) {
                if let Ok(i) = serde_json::from_str::<Indicators>(json) {
                    return Ok((i, Some(*org)));
                }
            }
        }
        Ok((Indicators::default(), None))
    }

    /// The indicators in force at `org` (staff who manage it).
    pub async fn indicators(&self, user: &AuthUser, org: OrgId) -> EvaluationResult<IndicatorsView> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        let path = platform::orgs::org_path(&self.db, org).await?;
        let (indicators, inherited_from) = self.indicators_at(&path).await?;
        Ok(IndicatorsView {
            org_id: org,
            formula: indicators::formula(&indicators),
            indicators,
            inherited_from,
        })
    }

    /// Sets `org`'s own indicator system; the units below it inherit it unless they set theirs.
    pub async fn set_indicators(&self, user: &AuthUser, org: OrgId, i: Indicators) -> EvaluationResult<IndicatorsView> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        indicators::check(&i).map_err(EvaluationError::Invalid)?;
        let json = serde_json::to_string(&i).map_err(|e| EvaluationError::Internal(e.into()))?;
        store::set_indicators(&self.db, org, &json, user.id, self.clock.now()).await?;
        self.indicators(user, org).await
    }

    /// Each member's study, certificates and ratings in each of `periods`, one scan of each
    /// log; members of `members` only.
    async fn families(
        &self,
        members: &HashSet<UserId>,
        periods: &[(Timestamp, Timestamp)],
        under: Option<&str>,
    ) -> EvaluationResult<Vec<HashMap<UserId, Family>>> {
        let mut out: Vec<HashMap<UserId, Family>> = vec![HashMap::new(); periods.len()];
        for (u, p, ms) in self.media.credited_in_periods(periods, under).await? {
            if let Some(f) = slot(&mut out, members, u, p) {
                f.total_ms += ms;
            }
        }
        for (u, p, ms) in self.live.attendance().credited_in_periods(periods, under).await? {
            if let Some(f) = slot(&mut out, members, u, p) {
                f.total_ms += ms;
                f.live_ms += ms;
            }
        }
        for (u, p, ms) in self.live.offline().credited_in_periods(periods, under).await? {
            if let Some(f) = slot(&mut out, members, u, p) {
                f.total_ms += ms;
                f.offline_ms += ms;
            }
        }
        for (u, p, n) in store::certificates_in_periods(&self.db, periods, under).await? {
            if let Some(f) = p
                .and_then(|p| usize::try_from(p).ok())
                .and_then(|p| slot(&mut out, members, u, p))
            {
                f.certificates = n;
            }
        }
        for (u, p, sum, n) in store::stars_in_periods(&self.db, periods, under).await? {
            if let Some(f) = p
                .and_then(|p| usize::try_from(p).ok())
                .and_then(|p| slot(&mut out, members, u, p))
            {
                f.stars = (sum, n);
            }
        }
        Ok(out)
    }

    /// The measures of the organization, its own families and each child unit in one term;
    /// `unit[i]` is the child unit of `members[i]` (`None`: the organization's own).
    fn groups(
        members: &[(UserId, String)],
        unit: &[Option<usize>],
        study: &HashMap<UserId, Family>,
        children: usize,
        coverage_hours: f64,
    ) -> Groups {
        let mut own = Vec::new();
        let mut all = Vec::with_capacity(members.len());
        let mut by_child: Vec<Vec<Family>> = vec![Vec::new(); children];
        for ((u, _), unit) in members.iter().zip(unit) {
            let f = study.get(u).copied().unwrap_or_default();
            all.push(f);
            match unit.and_then(|i| by_child.get_mut(i)) {
                Some(group) => group.push(f),
                None => own.push(f),
            }
        }
        Groups {
            total: indicators::measure(&all, coverage_hours),
            own: (!own.is_empty()).then(|| indicators::measure(&own, coverage_hours)),
            children: by_child
                .iter()
                .map(|c| indicators::measure(c, coverage_hours))
                .collect(),
        }
    }

    /// The evaluation of `org`'s child units in the term named `term` (default: the current
    /// one), for staff who manage it.
    pub async fn evaluation(
        &self,
        user: &AuthUser,
        org: OrgId,
        term: Option<&str>,
    ) -> EvaluationResult<EvaluationView> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        let path = platform::orgs::org_path(&self.db, org).await?;
        let org_name = platform::orgs::org_name(&self.db, org).await?;
        let now = self.clock.now().to_offset_date_time();
        let offered = platform::terms::recent(now, &self.terms, TERMS);
        let chosen = match term.filter(|t| !t.is_empty()) {
            None => 0,
            Some(t) => offered.iter().position(|p| p.0 == t).ok_or_else(|| {
                EvaluationError::Invalid(vec![FieldError::new(
                    "term",
                    msg(
                        format!(
                            "没有“{t}”这个学期，可选：{}。",
                            offered.iter().map(|p| p.0.as_str()).collect::<Vec<_>>().join("、")
                        ),
                        format!("No term {t:?}."),
                    ),
                )])
            })?,
        };
        let (indicators, indicators_from) = self.indicators_at(&path).await?;
        let children = platform::orgs::child_units(&self.db, org).await?;
        let child_paths: Vec<String> = children.iter().map(|c| c.1.clone()).collect();
        let members = platform::orgs::subtree_parents(&self.db, &path).await?;
        // The chosen term and the ones before it, oldest first.
        let span: Vec<Period> = platform::terms::recent(offered[chosen].1, &self.terms, TREND);
        let periods: Vec<(Timestamp, Timestamp)> = span
            .iter()
            .rev()
            .map(|t| {
                (
                    Timestamp::from_offset_date_time(t.1),
                    Timestamp::from_offset_date_time(t.2),
                )
            })
            .collect();
        let ids: HashSet<UserId> = members.iter().map(|m| m.0).collect();
        // A root organization's subtree is everyone: no need to filter the scans by it.
        let under = (path_orgs(&path).len() > 1).then_some(path.as_str());
        let studies = self.families(&ids, &periods, under).await?;
        let unit: Vec<Option<usize>> = members
            .iter()
            .map(|(_, p)| child_paths.iter().position(|c| p.starts_with(c.as_str())))
            .collect();
        let terms_groups: Vec<Groups> = studies
            .iter()
            .map(|study| Self::groups(&members, &unit, study, child_paths.len(), indicators.coverage_hours))
            .collect();
        let names: Vec<String> = span.iter().rev().map(|t| t.0.clone()).collect();
        let row = |org_id, name: String, pick: &dyn Fn(&Groups) -> Option<Measures>| -> Option<UnitRow> {
            let measures = pick(terms_groups.last()?)?;
            let trend = terms_groups
                .iter()
                .zip(&names)
                .filter_map(|(g, term)| {
                    let m = pick(g)?;
                    Some(TrendPoint {
                        term: term.clone(),
                        coverage: m.coverage,
                        avg_hours: m.avg_hours,
                        score: indicators::composite(&m, &indicators),
                    })
                })
                .collect();
            Some(UnitRow {
                org_id,
                name,
                score: indicators::composite(&measures, &indicators),
                measures,
                rank: 0,
                trend,
            })
        };
        let mut rows: Vec<UnitRow> = Vec::new();
        for (i, (c, _)) in children.iter().enumerate() {
            rows.extend(row(Some(c.id), c.name.clone(), &|g| g.children.get(i).cloned()));
        }
        rows.extend(row(None, format!("{org_name}（直属）"), &|g| g.own.clone()));
        let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
        for r in &mut rows {
            r.rank = 1 + scores.iter().filter(|s| **s > r.score).count();
        }
        let total = row(Some(org), org_name.clone(), &|g| Some(g.total.clone()))
            .ok_or_else(|| EvaluationError::Internal(anyhow::anyhow!("no term computed")))?;
        Ok(EvaluationView {
            org_id: org,
            org_name,
            term: term_view(&offered[chosen]),
            terms: offered.iter().map(term_view).collect(),
            formula: indicators::formula(&indicators),
            indicators,
            indicators_from,
            total,
            rows,
        })
    }
}
