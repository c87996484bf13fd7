//! The one API error type: every failure leaves the service as an RFC 9457
//! `application/problem+json` body with a stable `code`, a message in the caller's language
//! (Chinese by default, English when `Accept-Language` prefers it) and the request id.
//!
//! Handlers return [`ApiError`]; its `IntoResponse` renders a Chinese body and parks the parts in
//! the response extensions, and [`render_problems`] (a middleware the server installs) renders
//! them again with the request's language and id. 5xx bodies say nothing internal: the cause is
//! logged with the request id.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

mod domain;

/// The parts every domain error shares, for an enum with the variants `Invalid(Vec<FieldError>)`,
/// `Platform(ApiError)` (what the platform refused, kept as its problem) and
/// `Internal(anyhow::Error)`, and a method `fn into_problem(self) -> ApiError` (the domain's
/// table): `field`, the conversions from database, store and platform errors, and the one
/// conversion to a problem (`From<…> for ApiError`, `IntoResponse`). The platform's own error
/// takes `@core`: everything but the conversion from itself.
#[macro_export]
macro_rules! domain_error {
    (@core $name:ident) => {
        impl $name {
            /// One invalid field.
            pub fn field(field: &str, message: $crate::error::Msg) -> Self {
                Self::Invalid(vec![$crate::error::FieldError {
                    field: field.to_owned(),
                    message,
                }])
            }
        }

        impl From<sqlx::Error> for $name {
            fn from(e: sqlx::Error) -> Self {
                Self::Internal(e.into())
            }
        }

        impl From<$crate::store::StoreError> for $name {
            fn from(e: $crate::store::StoreError) -> Self {
                Self::Internal(e.into())
            }
        }

        impl From<$name> for $crate::ApiError {
            fn from(e: $name) -> Self {
                e.into_problem()
            }
        }

        impl axum::response::IntoResponse for $name {
            fn into_response(self) -> axum::response::Response {
                self.into_problem().into_response()
            }
        }
    };
    ($name:ident) => {
        $crate::domain_error!(@core $name);

        /// The platform's refusal (an organization, a user in scope) keeps its problem.
        impl From<$crate::PlatformError> for $name {
            fn from(e: $crate::PlatformError) -> Self {
                Self::Platform(e.into())
            }
        }
    };
}

pub use domain::{PlatformError, PlatformResult};

pub type ApiResult<T> = Result<T, ApiError>;

/// A message in both languages the UI speaks.
#[derive(Clone, Debug)]
pub struct Msg {
    pub zh: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Msg {
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// Shorthand for [`Msg::new`].
pub fn msg(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Msg {
    Msg::new(zh, en)
}

/// The languages problem details are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language` value: the highest-weighted of `zh*`/`en*`,
    /// Chinese when neither appears or on a tie.
    pub fn from_accept_language(value: Option<&str>) -> Self {
        let Some(value) = value else { return Self::Zh };
        let mut best: Option<(Lang, f32)> = None;
        for part in value.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l).unwrap_or(Self::Zh)
    }
}

/// One invalid field of a request.
#[derive(Clone, Debug)]
pub struct FieldError {
    pub field: String,
    pub message: Msg,
}

impl FieldError {
    pub fn new(field: &str, message: Msg) -> Self {
        Self {
            field: field.to_owned(),
            message,
        }
    }
}

/// Invalid fields as one line for logs and panics: `field: message; …` (English).
pub fn fields_text(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message.en))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A failure that becomes a problem+json response (boxed: errors travel in every `Result`).
#[derive(Clone, Debug)]
pub struct ApiError(Box<Problem>);

impl std::ops::Deref for ApiError {
    type Target = Problem;
    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Problem {
        &mut self.0
    }
}

/// The parts of a problem document.
#[derive(Clone, Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Msg,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// The cause, for the log only (never sent to the client).
    pub cause: Option<Arc<anyhow::Error>>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message.en)
    }
}

impl std::error::Error for ApiError {
    /// The logged cause, so that a caller that is not HTTP (a job, a bridge) keeps the chain.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// The stable codes that more than one domain uses; a code used by one domain lives in its
/// error table.
pub mod codes {
    /// The caller's scope does not reach the organization, user or thing in question (403).
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
    /// Someone else changed the thing since the caller read it (409).
    pub const VERSION_CONFLICT: &str = "version_conflict";
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: Msg) -> Self {
        Self(Box::new(Problem {
            status,
            code,
            message,
            errors: Vec::new(),
            retry_after: None,
            extra: None,
            cause: None,
        }))
    }

    pub fn bad_request(code: &'static str, message: Msg) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: Msg) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: Msg) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: Msg) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: Msg) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 with one message per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            msg("请求内容有误，请检查标出的字段。", "The request has invalid fields."),
        );
        if let [only] = errors.as_slice() {
            e.message = only.message.clone();
        }
        e.errors = errors;
        e
    }

    /// 422 for a single field.
    pub fn invalid_field(field: &str, message: Msg) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message,
        }])
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            msg(
                format!("尝试次数过多，请在 {retry_after_seconds} 秒后再试。"),
                format!("Too many attempts; try again in {retry_after_seconds} seconds."),
            ),
        );
        e.retry_after = Some(retry_after_seconds.max(1));
        e
    }

    /// A 500 whose cause goes to the log, not to the client; a 503 with `Retry-After` when
    /// the cause is a database that cannot be reached right now (an outage is not a bug, and
    /// clients should come back rather than give up).
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        if cause
            .chain()
            .any(|c| c.downcast_ref::<sqlx::Error>().is_some_and(database_unavailable))
        {
            let mut e = Self::unavailable(
                "database_unavailable",
                msg(
                    "数据库暂时无法连接，请稍后再试。",
                    "The database cannot be reached right now; try again shortly.",
                ),
            );
            e.cause = Some(Arc::new(cause));
            return e;
        }
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            msg(
                "服务器内部错误，请稍后再试；如果问题持续，请把请求编号告诉管理员。",
                "Internal server error; try again later. If it persists, give the request id to an administrator.",
            ),
        );
        e.cause = Some(Arc::new(cause));
        e
    }

    /// 503 with `Retry-After`: a dependency is down; the request may succeed later.
    pub fn unavailable(code: &'static str, message: Msg) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        e.retry_after = Some(UNAVAILABLE_RETRY_SECONDS);
        e
    }

    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value);
        self
    }

    fn title(&self, lang: Lang) -> String {
        let reason = self.status.canonical_reason().unwrap_or("Error");
        match lang {
            Lang::En => reason.to_owned(),
            Lang::Zh => match self.status.as_u16() {
                400 => "请求错误",
                401 => "未登录或登录已失效",
                403 => "没有权限",
                404 => "未找到",
                405 => "不支持的请求方法",
                409 => "冲突",
                413 => "请求内容过大",
                415 => "不支持的内容类型",
                422 => "内容校验未通过",
                429 => "请求过于频繁",
                503 => "服务暂不可用",
                s if s >= 500 => "服务器错误",
                _ => reason,
            }
            .to_owned(),
        }
    }

    /// The problem document in one language.
    pub fn body(&self, lang: Lang, request_id: Option<&str>) -> serde_json::Value {
        #[derive(Serialize)]
        struct Field<'a> {
            field: &'a str,
            detail: &'a str,
        }
        let mut doc = serde_json::json!({
            "type": format!("/problems/{}", self.code.replace('_', "-")),
            "title": self.title(lang),
            "status": self.status.as_u16(),
            "detail": self.message.get(lang),
            "code": self.code,
            "request_id": request_id,
        });
        if let Some(map) = doc.as_object_mut() {
            if !self.errors.is_empty() {
                let fields: Vec<Field<'_>> = self
                    .errors
                    .iter()
                    .map(|f| Field {
                        field: &f.field,
                        detail: f.message.get(lang),
                    })
                    .collect();
                map.insert("errors".into(), serde_json::to_value(fields).unwrap_or_default());
            }
            if let Some(extra) = &self.extra {
                for (k, v) in extra {
                    map.insert(k.clone(), v.clone());
                }
            }
        }
        doc
    }

    fn to_response(&self, lang: Lang, request_id: Option<&str>) -> Response {
        let body = self.body(lang, request_id).to_string();
        let mut res = (self.status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(match lang {
                Lang::Zh => "zh-CN",
                Lang::En => "en",
            }),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.to_response(Lang::Zh, None);
        res.extensions_mut().insert(Arc::new(self));
        res
    }
}

/// How long clients are asked to wait after a 503.
pub const UNAVAILABLE_RETRY_SECONDS: u64 = 5;

/// Errors that mean the database is out of reach (down, restarting, overloaded), not that the
/// request or the code is wrong: pool timeouts, broken connections, PostgreSQL's connection
/// exceptions (08…), shutdowns (57P01–57P03) and "too many connections" (53300), SQLite's busy.
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                || code.parse::<u32>().is_ok_and(|n| n & 0xff == 5)
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e)
    }
}

/// Maps a unique/foreign-key violation on `table_column` to a chosen error
/// (realworld's `on_constraint`); other database errors stay internal.
pub trait ResultExt<T> {
    fn on_constraint<E: From<sqlx::Error>>(self, name: &str, f: impl FnOnce() -> E) -> Result<T, E>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint<E: From<sqlx::Error>>(self, name: &str, f: impl FnOnce() -> E) -> Result<T, E> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if constraint_matches(db.as_ref(), name) => f(),
            _ => E::from(e),
        })
    }
}

fn constraint_matches(db: &dyn sqlx::error::DatabaseError, name: &str) -> bool {
    // PostgreSQL names the constraint (`users_phone_key`); SQLite only says
    // "UNIQUE constraint failed: users.phone". `name` is `table_column`, found in either.
    db.constraint().is_some_and(|c| c.contains(name)) || db.message().replace('.', "_").contains(name)
}

/// Middleware: re-renders every problem response in the request's language with its request id,
/// and logs 5xx causes.
pub async fn render_problems(req: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let Some(problem) = res.extensions().get::<Arc<ApiError>>().cloned() else {
        return res;
    };
    if problem.status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(
            request_id = request_id.as_deref().unwrap_or(""),
            %method,
            path,
            code = problem.code,
            cause = problem.cause.as_ref().map(|c| format!("{c:#}")).unwrap_or_default(),
            "request refused: a dependency is unavailable"
        );
    } else if problem.status.is_server_error() {
        tracing::error!(
            request_id = request_id.as_deref().unwrap_or(""),
            %method,
            path,
            code = problem.code,
            cause = problem.cause.as_ref().map(|c| format!("{c:#}")).unwrap_or_default(),
            "request failed"
        );
    }
    let mut out = problem.to_response(lang, request_id.as_deref());
    for (name, value) in res.headers() {
        if !out.headers().contains_key(name) {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_weight_and_defaults_to_chinese() {
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en;q=0.5, zh;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("fr, en;q=0.1")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Zh);
    }
}
