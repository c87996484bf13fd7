//! WHIP (RFC 9725) and WHEP over HTTP: `POST` an SDP offer, get `201 Created` with the answer
//! and the session's `Location`; `DELETE` that location to stop. Errors are problem+json like
//! everywhere else. Publishing takes the user's access token (the series' expert or an admin);
//! watching takes an access token or a ticket for the occurrence (embedded players).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Path, RawBody};
use utoipa_axum::routes;

use crate::ActivityError;
use crate::lifecycle::{Event, LiveState};
use crate::rooms::access::{PublisherAuth, STREAM_KEY_PREFIX, Watcher, stream_key_hash};
use crate::sdp::{self, SdpError};
use crate::sfu::{SessionId, SfuError};
use crate::{Live, OccurrenceId};
use crate::{LiveError, LiveResult};

/// The SDP body, which must be sent as `application/sdp`.
fn offer(headers: &HeaderMap, body: &[u8]) -> LiveResult<(String, sdp::OfferSummary)> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("application/sdp") {
        return Err(LiveError::SdpContentType);
    }
    if body.len() > sdp::MAX_SDP_BYTES {
        return Err(LiveError::Sdp(SdpError::TooLarge));
    }
    let text = std::str::from_utf8(body).map_err(|_| LiveError::Sdp(SdpError::NotSdp))?;
    let summary = sdp::inspect(text).map_err(LiveError::Sdp)?;
    Ok((text.to_owned(), summary))
}

fn created(location: String, answer: String) -> Response {
    let mut res = (StatusCode::CREATED, answer).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location"),
    );
    res
}

/// WHIP/WHEP may be called from other origins (OBS, browser tools, embedded players): they
/// authenticate with a Bearer token, never a cookie, so any origin is allowed.
pub(crate) fn router() -> ApiRouter<Live> {
    use axum::http::Method;
    use tower_http::cors::{Any, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::DELETE, Method::OPTIONS, Method::PATCH])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH])
        .expose_headers([header::LOCATION, header::ETAG, header::LINK])
        .max_age(std::time::Duration::from_secs(86400));
    ApiRouter::new()
        .routes(routes!(whip, whip_options))
        .routes(routes!(whip_delete, whip_session_options))
        .routes(routes!(whep, whep_options))
        .routes(routes!(whep_delete, whep_session_options))
        .routes(routes!(create_stream_key, revoke_stream_key))
        .layer(cors)
}

/// A new stream key for OBS and other WHIP encoders.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct StreamKey {
    /// Paste as the Bearer token of WHIP; shown once (only its hash is kept).
    pub stream_key: String,
    pub whip_url: String,
}

/// Create (or replace) the occurrence's stream key: the series' expert or an admin. The old
/// key stops working at once.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/stream-key", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 201, body = StreamKey), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn create_stream_key(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, axum::Json<StreamKey>)> {
    live.rooms.check_publisher(id, &PublisherAuth::User(auth)).await?;
    let occ = live.audience.occurrence_row(id).await?;
    match occ.state {
        LiveState::Ended => return Err(LiveError::Refused(crate::lifecycle::Refusal::AlreadyEnded).into()),
        LiveState::Cancelled => return Err(LiveError::Refused(crate::lifecycle::Refusal::Cancelled).into()),
        _ => {}
    }
    let key = format!("{STREAM_KEY_PREFIX}{}", platform::auth::random_token());
    live.rooms.set_stream_key(id, Some(&stream_key_hash(&key))).await?;
    tracing::info!(occ = %id, "stream key created");
    Ok((
        StatusCode::CREATED,
        axum::Json(StreamKey {
            stream_key: key,
            whip_url: format!("{}/api/v1/live/occurrences/{id}/whip", live.base_url(&headers)),
        }),
    ))
}

/// Revoke the occurrence's stream key (a publisher already connected with it stays on).
#[utoipa::path(delete, path = "/api/v1/live/occurrences/{id}/stream-key", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn revoke_stream_key(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<StatusCode> {
    live.rooms.check_publisher(id, &PublisherAuth::User(auth)).await?;
    let n = live.rooms.set_stream_key(id, None).await?;
    if n == 0 {
        return Err(LiveError::StreamKeyNotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// CORS preflight (answered by the CORS layer; this route makes the method exist).
#[utoipa::path(options, path = "/api/v1/live/occurrences/{id}/whip", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 204)))]
async fn whip_options() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// CORS preflight.
#[utoipa::path(options, path = "/api/v1/live/occurrences/{id}/whip/{session}", tag = "live",
    params(("id" = OccurrenceId, Path), ("session" = SessionId, Path)), responses((status = 204)))]
async fn whip_session_options() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// CORS preflight.
#[utoipa::path(options, path = "/api/v1/live/occurrences/{id}/whep", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 204)))]
async fn whep_options() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// CORS preflight.
#[utoipa::path(options, path = "/api/v1/live/occurrences/{id}/whep/{session}", tag = "live",
    params(("id" = OccurrenceId, Path), ("session" = SessionId, Path)), responses((status = 204)))]
async fn whep_session_options() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Go live (WHIP): the series' expert (or an admin) posts an SDP offer.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/whip", tag = "live", params(("id" = OccurrenceId, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, content_type = "application/sdp", body = String), (status = 400), (status = 403),
        (status = 404), (status = 409), (status = 413), (status = 415)), security(("bearer" = [])))]
async fn whip(
    State(live): State<Live>,
    who: PublisherAuth,
    Path(id): Path<OccurrenceId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    live.rooms.check_publisher(id, &who).await?;
    if crate::store::activities::is_activity(&live.db, id)
        .await
        .map_err(LiveError::from)?
    {
        return Err(LiveError::from(ActivityError::Offline).into());
    }
    let occ = live.audience.occurrence_row(id).await?;
    match occ.state {
        LiveState::Ended => return Err(LiveError::Refused(crate::lifecycle::Refusal::AlreadyEnded).into()),
        LiveState::Cancelled => return Err(LiveError::Refused(crate::lifecycle::Refusal::Cancelled).into()),
        _ => {}
    }
    let (sdp, summary) = offer(&headers, &body)?;
    let (session, answer) = live
        .rooms
        .sfu
        .publish(id, sdp, summary.audio, !summary.video_codecs.is_empty())
        .await
        .map_err(LiveError::Sfu)?;
    if let Err(e) = live.transition(id, Event::Publish).await {
        let _ = live.rooms.sfu.unpublish(id, session).await;
        return Err(e.into());
    }
    live.recording.start_recording(id);
    Ok(created(format!("/api/v1/live/occurrences/{id}/whip/{session}"), answer))
}

/// Stop publishing (the occurrence pauses until the expert publishes again or ends it).
#[utoipa::path(delete, path = "/api/v1/live/occurrences/{id}/whip/{session}", tag = "live",
    params(("id" = OccurrenceId, Path), ("session" = SessionId, Path)),
    responses((status = 200), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn whip_delete(
    State(live): State<Live>,
    who: PublisherAuth,
    Path((id, session)): Path<(OccurrenceId, SessionId)>,
) -> ApiResult<StatusCode> {
    live.rooms.check_publisher(id, &who).await?;
    live.rooms.sfu.unpublish(id, session).await.map_err(LiveError::Sfu)?;
    live.transition(id, Event::PublisherGone).await?;
    Ok(StatusCode::OK)
}

/// Watch (WHEP): an enrolled parent, or someone who manages the series, posts a recvonly offer.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/whep", tag = "live", params(("id" = OccurrenceId, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, content_type = "application/sdp", body = String), (status = 400), (status = 403),
        (status = 404), (status = 409), (status = 415), (status = 503)), security(("bearer" = [])))]
async fn whep(
    State(live): State<Live>,
    watcher: Watcher,
    Path(id): Path<OccurrenceId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let auth = live.rooms.watcher_user(id, watcher).await?;
    // Each offer costs a peer connection and ICE gathering: a user gets a few a minute.
    platform::limits::hit(
        &live.db,
        &format!("whep:{}", auth.id),
        live.cfg.whep_offers_per_minute,
        60_000,
        live.clock.now(),
    )
    .await?;
    let (occ, series) = live.audience.occurrence_with_series(id).await?;
    if !live.audience.may_watch(&auth, id, &series).await? {
        return Err(if live.audience.in_audience(auth.id, series.scope_org_id).await? {
            LiveError::NotEnrolled { to_watch: true }.into()
        } else {
            LiveError::OccurrenceNotFound.into()
        });
    }
    match occ.state {
        LiveState::Live => {}
        LiveState::Scheduled => {
            return Err(LiveError::NotLiveYet.into());
        }
        LiveState::Paused => {
            return Err(LiveError::LivePaused.into());
        }
        LiveState::Ended | LiveState::Cancelled => {
            return Err(LiveError::LectureEnded.into());
        }
    }
    let (sdp, _) = offer(&headers, &body)?;
    let (session, answer) = match live.rooms.sfu.subscribe(id, auth.id, sdp).await {
        Ok(x) => x,
        Err(SfuError::Full) => {
            let hls = live
                .rooms
                .hls_available(id, LiveState::Live)
                .await?
                .then(|| live.rooms.hls_url(id));
            return Err(LiveError::Full { hls_url: hls }.into());
        }
        Err(e) => return Err(LiveError::Sfu(e).into()),
    };
    Ok(created(format!("/api/v1/live/occurrences/{id}/whep/{session}"), answer))
}

/// Stop watching.
#[utoipa::path(delete, path = "/api/v1/live/occurrences/{id}/whep/{session}", tag = "live",
    params(("id" = OccurrenceId, Path), ("session" = SessionId, Path)),
    responses((status = 200), (status = 404)), security(("bearer" = [])))]
async fn whep_delete(
    State(live): State<Live>,
    watcher: Watcher,
    Path((id, session)): Path<(OccurrenceId, SessionId)>,
) -> ApiResult<StatusCode> {
    let auth = live.rooms.watcher_user(id, watcher).await?;
    let (_, series) = live.audience.occurrence_with_series(id).await?;
    let own = if live.audience.manages(&auth, &series).await? {
        None
    } else {
        Some(auth.id)
    };
    live.rooms
        .sfu
        .unsubscribe(id, session, own)
        .await
        .map_err(LiveError::Sfu)?;
    Ok(StatusCode::OK)
}
