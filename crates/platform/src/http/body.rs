//! JSON bodies: the `Json` extractor, and `decode_json`, which turns a body of the wrong shape
//! into 422 `invalid_body` naming the field in Chinese (English on request) with `errors[]`.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::error::{ApiError, msg};

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

pub(super) fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
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
pub(super) fn field_label(field: &str) -> Option<&'static str> {
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
pub(super) fn body_field_error(path: &str, message: &str) -> crate::error::FieldError {
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
    pub(super) struct Series {
        title: String,
        starts_at: crate::Timestamp,
        capacity: i32,
        lessons: Option<Vec<Lesson>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    pub(super) struct Lesson {
        title: String,
    }

    pub(super) fn zh(body: &str) -> (String, String, String) {
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
    pub(super) fn shape_errors_name_the_field_in_chinese() {
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
    pub(super) fn syntax_errors_stay_malformed_json() {
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
