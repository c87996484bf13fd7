//! The ICE servers route: STUN, and TURN credentials only for those who may host or watch
//! (the credentials themselves are made in [`crate::ice`]).

use axum::extract::State;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json};
use utoipa_axum::routes;

use super::Rooms;
use crate::ice::{IceServers, ice_servers};
use crate::{LiveResult, store};

pub(crate) fn router() -> ApiRouter<Rooms> {
    ApiRouter::new().routes(routes!(get_ice_servers))
}

/// The STUN and TURN servers the caller's browser should use (TURN credentials are personal and
/// time-limited).
#[utoipa::path(get, path = "/api/v1/live/ice-servers", tag = "live",
    responses((status = 200, body = IceServers), (status = 401)), security(("bearer" = [])))]
async fn get_ice_servers(State(rooms): State<Rooms>, auth: AuthUser) -> ApiResult<Json<IceServers>> {
    let turn = rooms.may_use_turn(&auth).await?;
    Ok(Json(ice_servers(
        &rooms.ice,
        &auth.id.to_string(),
        rooms.clock.now().unix_seconds(),
        turn,
    )))
}

impl Rooms {
    /// Staff and experts may host; a parent may watch once enrolled in a lecture that has not
    /// ended. Anyone else (a fresh self-registered account) gets no relay credentials.
    async fn may_use_turn(&self, auth: &AuthUser) -> LiveResult<bool> {
        if !matches!(auth.role, platform::validate::Role::Parent) {
            return Ok(true);
        }
        let seats = store::enrolments::active_seats(&self.db, auth.id).await?;
        Ok(seats > 0)
    }
}
