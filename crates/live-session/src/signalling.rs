//! WHIP (RFC 9725) and WHEP over HTTP: `POST` an SDP offer, get `201 Created` with the answer
//! and the session's `Location`; `DELETE` that location to stop. Errors are problem+json like
//! everywhere else. Publishing takes the user's access token (the series' expert or an admin);
//! watching takes an access token or a ticket for the occurrence (embedded players).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::auth::AuthUser;
use platform::error::{ApiError, ApiResult, msg};
use platform::http::{ApiRouter, Path, RawBody};
use platform::validate::Role;
use platform::with_db;
use utoipa_axum::routes;

use crate::lifecycle::{Event, LiveState};
use crate::model::occurrence_not_found;
use crate::occurrences::refusal;
use crate::sdp::{self, SdpError};
use crate::sfu::{SessionId, SfuError};
use crate::{Live, OccurrenceId};

fn sdp_error(e: SdpError) -> ApiError {
    let (status, code, m) = match e {
        SdpError::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "sdp_too_large",
            msg(
                "SDP 过大（上限 32 KiB）。",
                "The SDP offer is too large (32 KiB at most).",
            ),
        ),
        SdpError::NotSdp => (
            StatusCode::BAD_REQUEST,
            "sdp_invalid",
            msg("请求体不是 SDP offer。", "The body is not an SDP offer."),
        ),
        SdpError::NoMedia => (
            StatusCode::BAD_REQUEST,
            "sdp_no_media",
            msg("SDP 里没有音视频。", "The offer has no audio or video."),
        ),
        SdpError::TooManyMedia => (
            StatusCode::BAD_REQUEST,
            "sdp_too_many_media",
            msg(
                format!("SDP 的媒体段过多（最多 {}）。", sdp::MAX_MEDIA_SECTIONS),
                format!("Too many media sections (at most {}).", sdp::MAX_MEDIA_SECTIONS),
            ),
        ),
        SdpError::NotWebRtc => (
            StatusCode::BAD_REQUEST,
            "sdp_not_webrtc",
            msg(
                "SDP 缺少 ICE 凭据或 DTLS 指纹，不是 WebRTC offer。",
                "The offer has no ICE credentials or DTLS fingerprint: not a WebRTC offer.",
            ),
        ),
        SdpError::NoSupportedCodec => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sdp_unsupported_codecs",
            msg(
                "不支持这些编码：请使用 H.264 或 VP8 视频、Opus 音频。",
                "Unsupported codecs: use H.264 or VP8 video and Opus audio.",
            ),
        ),
    };
    ApiError::new(status, code, m)
}

fn sfu_error(e: SfuError) -> ApiError {
    match e {
        SfuError::PublisherActive => ApiError::conflict(
            "publisher_active",
            msg(
                "这场直播已经有人在推流：请先在另一处结束推流。",
                "Someone is already publishing this occurrence; stop that first.",
            ),
        ),
        SfuError::NoMedia => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_live_media",
            msg(
                "主讲人的画面还没有到达，请稍后重试。",
                "The publisher's media has not arrived yet; retry shortly.",
            ),
        )
        .with_extra("retry_after_seconds", serde_json::json!(3)),
        SfuError::NoSession => ApiError::not_found(
            "session_not_found",
            msg("这个直播连接不存在或已结束。", "No such session."),
        ),
        SfuError::Codecs(c) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sdp_unsupported_codecs",
            msg(
                format!("你的浏览器不支持直播使用的编码（{c}）。"),
                format!("Your browser cannot receive the stream's codec ({c})."),
            ),
        ),
        SfuError::Full => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webrtc_full",
            msg(
                "实时连接已满，请用 HLS 观看（延迟稍高）。",
                "WebRTC is full; watch through HLS (a little more delay).",
            ),
        ),
        SfuError::Replaced => ApiError::conflict(
            "session_replaced",
            msg(
                "你在别处打开了这场直播，这里的连接已让出。",
                "You opened this lecture elsewhere; this connection gave way.",
            ),
        ),
        e @ (SfuError::Gathering | SfuError::WebRtc(_)) => ApiError::internal(e),
    }
}

/// The SDP body, which must be sent as `application/sdp`.
fn offer(headers: &HeaderMap, body: &[u8]) -> ApiResult<(String, sdp::OfferSummary)> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("application/sdp") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sdp_content_type",
            msg(
                "请以 Content-Type: application/sdp 发送 SDP。",
                "Send the offer as application/sdp.",
            ),
        ));
    }
    if body.len() > sdp::MAX_SDP_BYTES {
        return Err(sdp_error(SdpError::TooLarge));
    }
    let text = std::str::from_utf8(body).map_err(|_| sdp_error(SdpError::NotSdp))?;
    let summary = sdp::inspect(text).map_err(sdp_error)?;
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

/// The caller of WHEP: an access token, or a ticket for one occurrence.
pub(crate) enum Watcher {
    User(AuthUser),
    Ticket(String),
}

impl<S: Send + Sync> FromRequestParts<S> for Watcher {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        match bearer {
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
const STREAM_KEY_PREFIX: &str = "psk_";

impl<S: Send + Sync> FromRequestParts<S> for PublisherAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        match bearer {
            Some(t) if t.starts_with(STREAM_KEY_PREFIX) => Ok(Self::StreamKey(t.to_owned())),
            _ => AuthUser::from_request_parts(parts, state).await.map(Self::User),
        }
    }
}

/// Stored like refresh tokens: only the hash.
fn stream_key_hash(key: &str) -> String {
    platform::auth::token_hash(key)
}

impl Live {
    /// Whether the caller may publish (or stop publishing) `id`: its expert, an admin, or
    /// the holder of its current stream key. Refusals say why.
    async fn check_publisher(&self, id: OccurrenceId, who: &PublisherAuth) -> ApiResult<()> {
        match who {
            PublisherAuth::User(auth) => {
                let (_, series) = self.occurrence_with_series(id).await?;
                if auth.is_admin() || auth.id == series.expert_id {
                    Ok(())
                } else if self.in_audience(auth.id, series.scope_org_id).await? {
                    Err(ApiError::forbidden(
                        "not_the_expert",
                        msg(
                            "只有这个系列的主讲专家可以推流。",
                            "Only the series' expert may publish.",
                        ),
                    ))
                } else {
                    Err(occurrence_not_found())
                }
            }
            PublisherAuth::StreamKey(key) => {
                let owner: Option<OccurrenceId> = with_db!(&self.db, |pool| sqlx::query_scalar(
                    "SELECT id FROM live_occurrences WHERE stream_key_hash = $1",
                )
                .bind(stream_key_hash(key))
                .fetch_optional(pool)
                .await)?;
                match owner {
                    Some(o) if o == id => Ok(()),
                    Some(_) => Err(ApiError::forbidden(
                        "stream_key_other_occurrence",
                        msg(
                            "这个推流密钥属于另一场直播：请在这场直播的页面生成密钥。",
                            "This stream key belongs to another occurrence.",
                        ),
                    )),
                    None => Err(ApiError::unauthorized(
                        "stream_key_invalid",
                        msg(
                            "推流密钥无效或已撤销：请在直播管理页面重新生成。",
                            "The stream key is invalid or was revoked; create a new one.",
                        ),
                    )),
                }
            }
        }
    }

    pub(crate) async fn watcher_user(&self, occ: OccurrenceId, w: Watcher) -> ApiResult<AuthUser> {
        match w {
            Watcher::User(u) => Ok(u),
            Watcher::Ticket(t) => {
                let id = self.check_ticket(occ, &t).ok_or_else(|| {
                    ApiError::unauthorized(
                        "ticket_invalid",
                        msg(
                            "观看凭证已过期或不属于这场直播。",
                            "The ticket expired or is for another occurrence.",
                        ),
                    )
                })?;
                let role: Option<String> = with_db!(&self.db, |pool| sqlx::query_scalar(
                    "SELECT role FROM users WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id)
                .fetch_optional(pool)
                .await)?;
                let role = role.and_then(|r| Role::parse(&r)).ok_or_else(occurrence_not_found)?;
                Ok(AuthUser { id, role })
            }
        }
    }
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
    live.check_publisher(id, &PublisherAuth::User(auth)).await?;
    let occ = live.occurrence_row(id).await?;
    match LiveState::parse(&occ.state) {
        LiveState::Ended => return Err(refusal(crate::lifecycle::Refusal::AlreadyEnded)),
        LiveState::Cancelled => return Err(refusal(crate::lifecycle::Refusal::Cancelled)),
        _ => {}
    }
    let key = format!("{STREAM_KEY_PREFIX}{}", platform::auth::random_token());
    platform::db_execute!(
        &live.db,
        "UPDATE live_occurrences SET stream_key_hash = $2, updated_at = $3 WHERE id = $1",
        id,
        stream_key_hash(&key),
        live.clock.now()
    )?;
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
    live.check_publisher(id, &PublisherAuth::User(auth)).await?;
    let n = platform::db_execute!(
        &live.db,
        "UPDATE live_occurrences SET stream_key_hash = NULL, updated_at = $2 WHERE id = $1 AND stream_key_hash IS \
         NOT NULL",
        id,
        live.clock.now()
    )?;
    if n == 0 {
        return Err(ApiError::not_found(
            "stream_key_not_found",
            msg("这场直播没有推流密钥。", "This occurrence has no stream key."),
        ));
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
    live.check_publisher(id, &who).await?;
    let occ = live.occurrence_row(id).await?;
    match LiveState::parse(&occ.state) {
        LiveState::Ended => return Err(refusal(crate::lifecycle::Refusal::AlreadyEnded)),
        LiveState::Cancelled => return Err(refusal(crate::lifecycle::Refusal::Cancelled)),
        _ => {}
    }
    let (sdp, summary) = offer(&headers, &body)?;
    let (session, answer) = live
        .sfu
        .publish(id, sdp, summary.audio, !summary.video_codecs.is_empty())
        .await
        .map_err(sfu_error)?;
    if let Err(e) = live.transition(id, Event::Publish).await {
        let _ = live.sfu.unpublish(id, session).await;
        return Err(e);
    }
    live.start_recording(id);
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
    live.check_publisher(id, &who).await?;
    live.sfu.unpublish(id, session).await.map_err(sfu_error)?;
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
    let auth = live.watcher_user(id, watcher).await?;
    // Each offer costs a peer connection and ICE gathering: a user gets a few a minute.
    platform::limits::hit(
        &live.db,
        &format!("whep:{}", auth.id),
        live.cfg.whep_offers_per_minute,
        60_000,
        live.clock.now(),
    )
    .await?;
    let (occ, series) = live.occurrence_with_series(id).await?;
    if !live.may_watch(&auth, id, &series).await? {
        return Err(if live.in_audience(auth.id, series.scope_org_id).await? {
            ApiError::forbidden(
                "not_enrolled",
                msg("请先报名这场直播再观看。", "Enrol in this occurrence to watch it."),
            )
        } else {
            occurrence_not_found()
        });
    }
    match LiveState::parse(&occ.state) {
        LiveState::Live => {}
        LiveState::Scheduled => {
            return Err(ApiError::conflict(
                "not_live_yet",
                msg("直播还没有开始，请到开始时间再来。", "The lecture has not started yet."),
            ));
        }
        LiveState::Paused => {
            return Err(ApiError::conflict(
                "live_paused",
                msg("主讲人暂时离开了，请稍候。", "The lecturer paused; please wait."),
            ));
        }
        LiveState::Ended | LiveState::Cancelled => {
            return Err(ApiError::conflict(
                "occurrence_ended",
                msg(
                    "直播已经结束，回放稍后发布。",
                    "The lecture has ended; the replay comes later.",
                ),
            ));
        }
    }
    let (sdp, _) = offer(&headers, &body)?;
    let (session, answer) = match live.sfu.subscribe(id, auth.id, sdp).await {
        Ok(x) => x,
        Err(SfuError::Full) => {
            let hls = live.hls_available(id, LiveState::Live).await?.then(|| live.hls_url(id));
            return Err(sfu_error(SfuError::Full).with_extra("hls_url", serde_json::json!(hls)));
        }
        Err(e) => return Err(sfu_error(e)),
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
    let auth = live.watcher_user(id, watcher).await?;
    let (_, series) = live.occurrence_with_series(id).await?;
    let own = if live.manages(&auth, &series).await? {
        None
    } else {
        Some(auth.id)
    };
    live.sfu.unsubscribe(id, session, own).await.map_err(sfu_error)?;
    Ok(StatusCode::OK)
}
