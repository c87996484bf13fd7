//! QR codes as SVG, made on the server: the join poster staff print for the class WeChat group
//! now, on-site check-in screens and certificates later. `GET /api/v1/qr.svg?text=` draws a link
//! of this service for staff (the poster page fetches it with the token and shows it as an
//! image); only `http(s)` links, at most 512 characters, so it is no general-purpose encoder.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::Deserialize;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, msg};
use crate::http::{ApiRouter, Query};
use crate::validate::Role;

/// The longest text drawn.
pub const MAX_TEXT: usize = 512;

/// `text` as a QR code (error correction M: a poster survives a crease or a phone photo of a
/// screen), an SVG of at least `min_px` pixels with a quiet zone, black on white.
pub fn svg(text: &str, min_px: u32) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(min_px, min_px)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct QrQuery {
    /// An `http(s)` link, at most 512 characters.
    pub text: String,
}

pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> ApiRouter<S> {
    ApiRouter::new().routes(routes!(qr_svg))
}

/// A link as a QR code (SVG), for staff: the join poster, check-in screens.
#[utoipa::path(get, path = "/api/v1/qr.svg", tag = "organizations", params(QrQuery),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 403), (status = 422)),
    security(("bearer" = [])))]
async fn qr_svg(auth: AuthUser, Query(q): Query<QrQuery>) -> ApiResult<Response> {
    auth.require_role(&[Role::Expert, Role::Curator, Role::Admin])?;
    let text = q.text.trim();
    let link = text.starts_with("https://") || text.starts_with("http://");
    if !link || text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "text",
            msg(
                format!("只能生成本服务链接的二维码（http 或 https 开头，最多 {MAX_TEXT} 个字符）。"),
                format!("Only http(s) links of at most {MAX_TEXT} characters."),
            ),
        ));
    }
    let body = svg(text, 320).map_err(|e| {
        ApiError::invalid_field("text", msg(format!("无法生成二维码：{e}"), format!("No QR code: {e}")))
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_a_square_svg() {
        let out = svg("https://jiazhang.example.cn/join/7K2QMX", 320).unwrap_or_default();
        assert!(out.starts_with("<?xml") && out.contains("<svg"), "{out}");
        assert!(out.contains("#000000") && out.contains("#ffffff"), "{out}");
    }

    #[test]
    fn too_long_for_any_version_is_an_error() {
        assert!(svg(&"x".repeat(5000), 320).is_err());
    }
}
