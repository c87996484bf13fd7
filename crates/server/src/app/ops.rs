//! Operations endpoints: liveness, readiness (with a time limit, so a dead database answers
//! 503 at once), metrics and the OpenAPI document.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use platform::Db;
use platform::error::{ApiError, msg};
use platform::http::{ApiRouter, Json};
use platform::store::ObjectStore;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(super) fn openapi_document(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    doc.info.title = "ParentSchool 家长学堂 API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Errors are RFC 9457 application/problem+json with a stable `code`; messages follow \
         Accept-Language (Chinese by default)."
            .into(),
    );
    doc.components.get_or_insert_with(Default::default).add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

#[derive(Clone)]
pub(super) struct Ops {
    pub(super) db: Db,
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) media: media::Media,
    pub(super) openapi_json: Arc<OnceLock<String>>,
}

pub(super) fn ops_router(ops: Ops) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi))
        .with_state(ops)
}

#[derive(Serialize, ToSchema)]
pub(super) struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub(super) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub(super) struct Readiness {
    status: &'static str,
    database: String,
    object_store: String,
    /// `ffmpeg` version, or "missing": the service runs without it, but uploads then fail.
    ffmpeg: String,
}

pub(super) const READY_TIMEOUT: Duration = Duration::from_millis(1500);

/// The database and the object store answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Readiness), (status = 503)))]
pub(super) async fn readyz(State(ops): State<Ops>) -> Response {
    // No longer than a request waits for the database: a probe must answer before it times out.
    let (db, store) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, ops.db.ping()),
        tokio::time::timeout(READY_TIMEOUT, ops.store.check())
    );
    // Callers (anonymous load balancers) learn only ok or unavailable; the cause is logged.
    let check = |name: &str, r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            "unavailable"
        }
    };
    let database = check("database", db.map(|r| r.map_err(|e| e.to_string()))).to_owned();
    let object_store = check("object_store", store.map(|r| r.map_err(|e| e.to_string()))).to_owned();
    let ffmpeg = ops.media.ffmpeg_version().await.unwrap_or_else(|| "missing".into());
    if database == "ok" && object_store == "ok" {
        Json(Readiness {
            status: "ready",
            database,
            object_store,
            ffmpeg,
        })
        .into_response()
    } else {
        tracing::warn!(database, object_store, "not ready");
        ApiError::unavailable(
            "not_ready",
            msg(
                "服务尚未就绪，请稍后再试。",
                "The service is not ready; try again shortly.",
            ),
        )
        .with_extra(
            "checks",
            serde_json::json!({ "database": database, "object_store": object_store }),
        )
        .into_response()
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, content_type = "application/json")))]
pub(super) async fn openapi(State(ops): State<Ops>) -> Response {
    let body = ops.openapi_json.get().cloned().unwrap_or_default();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}
