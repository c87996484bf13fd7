//! CSV downloads for Excel: UTF-8 with a BOM, CRLF, and cells that cannot start a formula.

use axum::response::{IntoResponse, Response};

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
    if let Some(v) = content_disposition("attachment", filename) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// `Content-Disposition` for a file named `filename` (Chinese too): `disposition` is
/// `attachment` or `inline`; an ASCII fallback name beside the UTF-8 one.
pub fn content_disposition(disposition: &str, filename: &str) -> Option<axum::http::HeaderValue> {
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
    axum::http::HeaderValue::from_str(&format!(
        "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .ok()
}

pub(super) fn csv_cell(c: &str) -> String {
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
    pub(super) fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("王芳"), "王芳");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-12.5"), "-12.5");
        assert_eq!(csv_cell("@cmd"), "'@cmd");
    }
}
