//! Who is on the other end of WHIP and WHEP: a publisher by access token (the series' expert
//! or an admin) or by the occurrence's stream key (OBS), a watcher by access token or by a
//! ticket for one occurrence (embedded players).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use platform::auth::AuthUser;
use platform::error::ApiError;
use platform::validate::Role;

use super::Rooms;
use crate::{LiveError, LiveResult, OccurrenceId, store};

/// The caller of WHEP: an access token, or a ticket for one occurrence.
pub(crate) enum Watcher {
    User(AuthUser),
    Ticket(String),
}

/// The `Authorization: Bearer …` token, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

impl<S: Send + Sync> FromRequestParts<S> for Watcher {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match bearer(parts) {
            Some(t) if t.starts_with("pst.") => Ok(Self::Ticket(t.to_owned())),
            _ => AuthUser::from_request_parts(parts, state).await.map(Self::User),
        }
    }
}

/// The caller of WHIP: an access token, or the occurrence's stream key (OBS).
pub(crate) enum PublisherAuth {
    User(AuthUser),
    StreamKey(String),
}

/// Stream keys look like this, so they are told from access tokens without a lookup.
pub(crate) const STREAM_KEY_PREFIX: &str = "psk_";

impl<S: Send + Sync> FromRequestParts<S> for PublisherAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match bearer(parts) {
            Some(t) if t.starts_with(STREAM_KEY_PREFIX) => Ok(Self::StreamKey(t.to_owned())),
            _ => AuthUser::from_request_parts(parts, state).await.map(Self::User),
        }
    }
}

/// Stored like refresh tokens: only the hash.
pub(crate) fn stream_key_hash(key: &str) -> String {
    platform::auth::token_hash(key)
}

impl Rooms {
    /// Whether the caller may publish (or stop publishing) `id`: its expert, an admin, or
    /// the holder of its current stream key. Refusals say why.
    pub(crate) async fn check_publisher(&self, id: OccurrenceId, who: &PublisherAuth) -> LiveResult<()> {
        match who {
            PublisherAuth::User(auth) => {
                let (_, series) = self.audience.occurrence_with_series(id).await?;
                if auth.is_admin() || auth.id == series.expert_id {
                    Ok(())
                } else if self.audience.in_audience(auth.id, series.scope_org_id).await? {
                    Err(LiveError::NotTheExpert)
                } else {
                    Err(LiveError::OccurrenceNotFound)
                }
            }
            PublisherAuth::StreamKey(key) => {
                let owner = store::occurrences::by_stream_key(&self.db, &stream_key_hash(key)).await?;
                match owner {
                    Some(o) if o == id => Ok(()),
                    Some(_) => Err(LiveError::StreamKeyOtherOccurrence),
                    None => Err(LiveError::StreamKeyInvalid),
                }
            }
        }
    }

    /// Sets (or with `None` revokes) the occurrence's stream key hash; the rows changed.
    pub(crate) async fn set_stream_key(&self, id: OccurrenceId, hash: Option<&str>) -> LiveResult<u64> {
        Ok(store::occurrences::set_stream_key(&self.db, id, hash, self.clock.now()).await?)
    }

    pub(crate) async fn watcher_user(&self, occ: OccurrenceId, w: Watcher) -> LiveResult<AuthUser> {
        match w {
            Watcher::User(u) => Ok(u),
            Watcher::Ticket(t) => {
                let id = self
                    .check_ticket(occ, &t)
                    .ok_or(LiveError::TicketInvalid { for_events: false })?;
                let role = store::people::role(&self.db, id).await?;
                let role = role
                    .and_then(|r| Role::parse(&r))
                    .ok_or(LiveError::OccurrenceNotFound)?;
                Ok(AuthUser { id, role })
            }
        }
    }
}
