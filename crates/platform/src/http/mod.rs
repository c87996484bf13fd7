//! HTTP building blocks shared by the domain routers: extractors whose rejections are
//! problem+json, the documented router type, pagination, client addresses.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::error::{ApiError, msg};

mod body;
mod csv;
mod forwarded;

pub use body::*;
pub use csv::*;
pub use forwarded::*;

/// The API router every crate hands to the server. Unlike a bare `OpenApiRouter` it only takes
/// routes through `routes!` (so each route is in the OpenAPI document by construction): there is
/// no way to add an undocumented `/api` route.
pub struct ApiRouter<S = ()>(OpenApiRouter<S>);

impl<S: Clone + Send + Sync + 'static> Default for ApiRouter<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> ApiRouter<S> {
    pub fn new() -> Self {
        Self(OpenApiRouter::new())
    }

    pub fn routes(self, routes: UtoipaMethodRouter<S>) -> Self {
        Self(self.0.routes(routes))
    }

    pub fn merge(self, other: ApiRouter<S>) -> Self {
        Self(self.0.merge(other.0))
    }

    pub fn with_state<S2: Clone + Send + Sync + 'static>(self, state: S) -> ApiRouter<S2> {
        ApiRouter(self.0.with_state(state))
    }

    pub fn into_inner(self) -> OpenApiRouter<S> {
        self.0
    }
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        msg("请求内容过大。", "The request body is too large."),
    )
}

/// Path parameters; an unparsable id is a 404 of the resource, not a 500.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| {
                ApiError::not_found(
                    "not_found",
                    msg(
                        format!("地址中的参数无效：{}", e.body_text()),
                        format!("Invalid path parameter: {}", e.body_text()),
                    ),
                )
            })
    }
}

/// Query string parameters; failures are 422 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_query",
                    msg(
                        format!("查询参数有误：{}", e.body_text()),
                        format!("Invalid query parameters: {}", e.body_text()),
                    ),
                )
            })
    }
}

/// `?cursor=&limit=` of list endpoints.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn limit(&self) -> ApiResultLimit {
        match self.limit {
            None => Ok(20),
            Some(n @ 1..=100) => Ok(n),
            Some(_) => Err(ApiError::invalid_field(
                "limit",
                msg("每页数量必须在 1 到 100 之间。", "limit must be between 1 and 100."),
            )),
        }
    }
}

type ApiResultLimit = Result<u32, ApiError>;

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A JSON answer for catalog-style GETs: a strong `ETag` over the body, `Cache-Control` (shared
/// caches may keep anonymous answers briefly; personalised ones must revalidate), and `304 Not
/// Modified` when `If-None-Match` matches.
pub fn cached_json<T: Serialize>(req_headers: &axum::http::HeaderMap, value: &T, personalised: bool) -> Response {
    use axum::http::{HeaderValue, header};
    use sha2::{Digest, Sha256};
    let body = match serde_json::to_vec(value) {
        Ok(b) => b,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &digest[..16])
    );
    let cache = if personalised {
        "private, no-cache"
    } else {
        "public, max-age=60"
    };
    let matches = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag || t.trim() == format!("W/{etag}") || t.trim() == "*")
        });
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Authorization, Accept-Language"));
    res
}

/// A raw request body whose failures (too large, unreadable) are problem+json.
#[derive(Debug, Clone)]
pub struct RawBody(pub bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        bytes::Bytes::from_request(req, state).await.map(RawBody).map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                ApiError::bad_request(
                    "unreadable_body",
                    msg(
                        format!("无法读取请求体：{}", e.body_text()),
                        format!("Could not read the request body: {}", e.body_text()),
                    ),
                )
            }
        })
    }
}

impl<S: Clone + Send + Sync + 'static> ApiRouter<S> {
    /// Applies a layer (e.g. a larger body limit) to every route of this router.
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Error: Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        Self(self.0.layer(layer))
    }
}
