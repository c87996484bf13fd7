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

/// JSON body extractor whose failures are problem+json: wrong content type 415, malformed JSON
/// 400, too large 413, and a body of the wrong shape 422 `invalid_body` naming the field in
/// Chinese (「开始时间格式不正确……」), with `errors` for forms to show beside the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                msg(
                    "请求体必须是 JSON，并带有 Content-Type: application/json。",
                    "The request body must be JSON sent with Content-Type: application/json.",
                ),
            ));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        decode_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")))
}

/// Decodes a JSON body: syntax errors are 400 `malformed_json`; a body of the wrong shape is
/// 422 `invalid_body` with the field it concerns and a message in Chinese (English on request).
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = serde_path_to_error::deserialize::<_, T>(&mut de)
        .map_err(|err| (err.path().to_string(), err.into_inner()))
        .and_then(|v| de.end().map(|()| v).map_err(|e| (String::from("."), e)));
    result.map_err(|(path, inner)| {
        if inner.classify() != serde_json::error::Category::Data {
            return ApiError::bad_request(
                "malformed_json",
                msg(format!("JSON 格式错误：{inner}"), format!("Malformed JSON: {inner}")),
            );
        }
        let field = body_field_error(&path, &inner.to_string());
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", field.message.clone());
        e.errors = vec![field];
        e
    })
}

/// Chinese names of the body fields users meet in forms.
fn field_label(field: &str) -> Option<&'static str> {
    let last = field.rsplit('.').next().unwrap_or(field);
    let last = last.split('[').next().unwrap_or(last);
    Some(match last {
        "starts_at" => "开始时间",
        "title" => "标题",
        "description" => "简介",
        "summary" => "简介",
        "year" => "年份",
        "capacity" => "名额",
        "duration_minutes" => "时长",
        "duration_s" => "时长",
        "rrule" => "重复规则",
        "exceptions" => "不上课的日期",
        "phone" => "手机号",
        "password" | "current_password" | "new_password" => "密码",
        "display_name" => "称呼",
        "join_code" => "加入码",
        "scope_org_id" => "面向的组织",
        "owner_org_id" => "所属组织",
        "org_id" | "parent_id" => "组织",
        "age_stages" => "年龄段",
        "topics" => "主题",
        "tags" => "标签",
        "lessons" => "课时",
        "published_from" => "发布时间",
        "published_until" => "下架时间",
        "visibility" => "可见范围",
        "version" => "版本",
        "text" => "内容",
        "expert_id" => "主讲专家",
        "lecturer" => "主讲人",
        "role" => "角色",
        "kind" => "类型",
        "name" => "名称",
        "filename" => "文件名",
        "size" => "文件大小",
        "attendance_threshold" => "出勤比例",
        "course_ids" => "课程",
        "user_ids" => "用户",
        "class_id" => "班级",
        _ => return None,
    })
}

/// The field error for serde's message `message` at `path` (serde_path_to_error's rendering,
/// `.` for the root).
fn body_field_error(path: &str, message: &str) -> crate::error::FieldError {
    let backticked = message.split('`').nth(1).unwrap_or_default().to_owned();
    let at = |name: &str| match path {
        "." | "" => name.to_owned(),
        p if p.ends_with(name) => p.to_owned(),
        p => format!("{p}.{name}"),
    };
    let (field, zh, en) = if message.starts_with("missing field") {
        let f = at(&backticked);
        let label = field_label(&f).map_or_else(|| format!("「{backticked}」"), str::to_owned);
        (f, format!("请填写{label}。"), format!("{backticked} is required."))
    } else if message.starts_with("unknown field") {
        let f = at(&backticked);
        (
            f,
            format!("不认识的字段「{backticked}」。"),
            format!("Unknown field {backticked}."),
        )
    } else {
        let f = if path == "." { String::new() } else { path.to_owned() };
        let label = field_label(&f).map_or_else(
            || {
                if f.is_empty() {
                    "请求内容".to_owned()
                } else {
                    format!("「{f}」")
                }
            },
            str::to_owned,
        );
        let time = message.contains("component")
            || message.contains("timestamp")
            || message.contains("RFC 3339")
            || f.ends_with("_at")
            || f.ends_with("_from")
            || f.ends_with("_until");
        if message.starts_with("invalid type: null") {
            (f.clone(), format!("请填写{label}。"), format!("{f} is required."))
        } else if message.starts_with("unknown variant") {
            (
                f.clone(),
                format!("{label}的取值不在可选范围内。"),
                format!("{f}: {message}"),
            )
        } else if time {
            (
                f.clone(),
                format!("{label}格式不正确，应为如 2026-12-03T19:30:00+08:00 的时间。"),
                format!("{f} must be a time such as 2026-12-03T19:30:00+08:00."),
            )
        } else {
            (f.clone(), format!("{label}格式不正确。"), format!("{f}: {message}"))
        }
    };
    crate::error::FieldError {
        field,
        message: msg(zh, en),
    }
}

#[cfg(test)]
mod body_errors {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Series {
        title: String,
        starts_at: crate::Timestamp,
        capacity: i32,
        lessons: Option<Vec<Lesson>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Lesson {
        title: String,
    }

    fn zh(body: &str) -> (String, String, String) {
        let e = decode_json::<Series>(body.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{body} decoded"));
        let f = e.errors.first().cloned().unwrap_or_else(|| crate::error::FieldError {
            field: String::new(),
            message: msg("", ""),
        });
        (e.code.to_owned(), f.field, f.message.zh.to_string())
    }

    #[test]
    fn shape_errors_name_the_field_in_chinese() {
        let ok = r#""title":"讲座","capacity":10"#;
        let (code, field, text) = zh(&format!(r#"{{{ok},"starts_at":"2026-13-45T19:30:00+08:00"}}"#));
        assert_eq!((code.as_str(), field.as_str()), ("invalid_body", "starts_at"));
        assert!(text.starts_with("开始时间格式不正确"), "{text}");
        let (_, field, text) = zh(r#"{"title":"讲座","starts_at":"2026-12-03T19:30:00+08:00"}"#);
        assert_eq!((field.as_str(), text.as_str()), ("capacity", "请填写名额。"));
        let (_, field, text) = zh(&format!(
            r#"{{{ok},"starts_at":"2026-12-03T19:30:00+08:00","colour":1}}"#
        ));
        assert_eq!((field.as_str(), text.as_str()), ("colour", "不认识的字段「colour」。"));
        let (_, field, text) = zh(r#"{"title":"讲座","starts_at":"2026-12-03T19:30:00+08:00","capacity":"十"}"#);
        assert_eq!((field.as_str(), text.as_str()), ("capacity", "名额格式不正确。"));
        let (_, field, text) = zh(&format!(
            r#"{{{ok},"starts_at":"2026-12-03T19:30:00+08:00","lessons":[{{}}]}}"#
        ));
        assert_eq!((field.as_str(), text.as_str()), ("lessons[0].title", "请填写标题。"));
    }

    #[test]
    fn syntax_errors_stay_malformed_json() {
        for body in [
            r#"{"title": "#,
            r#"{"title":"讲座","starts_at":"2026-12-03T19:30:00+08:00","capacity":1} trailing"#,
            "",
        ] {
            let e = decode_json::<Series>(body.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{body} decoded"));
            assert_eq!(e.code, "malformed_json", "{body}");
        }
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

/// Reverse proxies whose `X-Forwarded-For` entries are believed: addresses and CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(std::net::IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`; the error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let (addr, bits) = match e.split_once('/') {
                    Some((a, b)) => (a, Some(b)),
                    None => (e.as_str(), None),
                };
                let ip: std::net::IpAddr = addr
                    .trim()
                    .parse()
                    .map_err(|_| format!("{e:?} is not an address or CIDR block"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    Some(b) => b
                        .trim()
                        .parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(|| format!("{e:?} has a bad prefix length"))?,
                    None => max,
                };
                Ok((ip, bits))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|(net, bits)| match (canonical(*net), ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            _ => false,
        })
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (full, rest) = (usize::from(bits / 8), bits % 8);
    a[..full] == b[..full] && (rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0)
}

/// The client's address: the peer, unless `trust_forwarded` and the peer is a trusted proxy
/// (any peer when none are listed); then the rightmost `X-Forwarded-For` entry that is not a
/// trusted proxy. Entries left of it are the client's own words and are never believed; an
/// entry that is not an address ends the walk at the hop that forwarded it.
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trust_forwarded: bool,
    proxies: &TrustedProxies,
) -> std::net::IpAddr {
    if !trust_forwarded || (!proxies.is_empty() && !proxies.contains(peer)) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded_for
        .unwrap_or("")
        .rsplit(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let Ok(ip) = entry.parse::<std::net::IpAddr>() else {
            break;
        };
        client = ip;
        if !proxies.contains(ip) {
            break;
        }
    }
    client
}

/// The client's address as the server decided it (peer address, or the proxy header when the
/// server is configured to trust it). The server inserts it as a request extension.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .cloned()
            .unwrap_or(ClientIp("unknown".into())))
    }
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

/// A CSV download for spreadsheet users: UTF-8 with a byte-order mark (so Excel shows Chinese
/// correctly), CRLF line ends, quoted cells where needed, and cells a spreadsheet would run as
/// a formula (`=`, `+`, `-`, `@` first) defused with a leading apostrophe.
pub fn csv_download(filename: &str, header: &[&str], rows: &[Vec<String>]) -> Response {
    use axum::http::{HeaderValue, header};
    let mut out = String::from("\u{feff}");
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        for (i, c) in cells.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&csv_cell(c));
        }
        out.push_str("\r\n");
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    let mut res = out.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn csv_cell(c: &str) -> String {
    let c = if c.starts_with(['=', '+', '-', '@', '\t', '\r']) && c.parse::<f64>().is_err() {
        format!("'{c}")
    } else {
        c.to_owned()
    };
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c
    }
}

#[cfg(test)]
mod csv_tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("王芳"), "王芳");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-12.5"), "-12.5");
        assert_eq!(csv_cell("@cmd"), "'@cmd");
    }
}

#[cfg(test)]
mod forwarded_tests {
    use super::*;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let none = TrustedProxies::default();
        let proxy = ip("10.0.0.5");
        // nginx appends the address it saw: whatever the client sent stays on the left.
        assert_eq!(
            client_address(proxy, Some("6.6.6.6, 203.0.113.7"), true, &none),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(proxy, Some("203.0.113.7"), true, &none),
            ip("203.0.113.7")
        );
        assert_eq!(client_address(proxy, None, true, &none), proxy);
        assert_eq!(client_address(proxy, Some("6.6.6.6"), false, &none), proxy);
        // Two proxies: the CDN's address is skipped, the client's kept.
        let chain = TrustedProxies::parse(&["10.0.0.0/8".into(), "198.51.100.0/24".into()]).unwrap_or_default();
        assert_eq!(
            client_address(proxy, Some("6.6.6.6, 203.0.113.7, 198.51.100.20"), true, &chain),
            ip("203.0.113.7")
        );
        // A peer that is not a listed proxy speaks for itself.
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("6.6.6.6"), true, &chain),
            ip("203.0.113.9")
        );
        // Garbage ends the walk at the hop that forwarded it.
        assert_eq!(
            client_address(proxy, Some("6.6.6.6, junk, 198.51.100.20"), true, &chain),
            ip("198.51.100.20")
        );
        assert_eq!(
            client_address(ip("::ffff:10.1.2.3"), Some("203.0.113.7"), true, &chain),
            ip("203.0.113.7")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["nginx".into()]).is_err());
        assert!(TrustedProxies::parse(&["fd00::/8".into()]).is_ok_and(|p| p.contains(ip("fd12::1"))));
    }
}
