//! Captions: SRT or WebVTT files per language (UTF-8, or GBK as Chinese tools often write),
//! checked and stored as WebVTT, and offered to players as HLS subtitle renditions: the master
//! playlist served for an asset gains one `#EXT-X-MEDIA:TYPE=SUBTITLES` entry per language.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::{ApiResult, msg};
use platform::http::{ApiRouter, Json, Path, Query, RawBody};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::Media;
use crate::assets::AssetId;
use crate::{MediaError, MediaResult};

mod store;

use store::CaptionKey;
pub use store::CaptionView;

/// Largest caption file accepted (a two-hour lecture's SRT is about 150 KiB).
pub(crate) const MAX_CAPTION_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
pub struct CaptionParams {
    /// Name shown in the player (default: from the language, e.g. 中文 for `zh`).
    pub label: Option<String>,
}

pub use crate::error::CaptionError;

/// Milliseconds from `hh:mm:ss,mmm`, `hh:mm:ss.mmm` or `mm:ss.mmm`.
fn parse_time(s: &str) -> Option<u64> {
    let (hms, frac) = s.trim().rsplit_once(['.', ','])?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let nums: Option<Vec<u64>> = parts
        .iter()
        .map(|p| (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok())?)
        .collect();
    let (h, m, sec) = match nums?.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [m, s] => (0, *m, *s),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + frac.parse::<u64>().ok()?)
}

fn format_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Decodes a caption file: UTF-8 (with or without BOM), else GBK.
fn decode(bytes: &[u8]) -> Result<String, CaptionError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => {
            let (t, _, had_errors) = encoding_rs::GBK.decode(bytes);
            if had_errors {
                return Err(CaptionError::NotText);
            }
            t.into_owned()
        }
    };
    if text
        .chars()
        .any(|c| c == '\0' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(CaptionError::NotText);
    }
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Turns an SRT or WebVTT file into a clean WebVTT document; returns it with its cue count.
pub fn to_webvtt(bytes: &[u8]) -> Result<(String, usize), CaptionError> {
    let text = decode(bytes)?;
    if text.trim().is_empty() {
        return Err(CaptionError::Empty);
    }
    let is_vtt = text.starts_with("WEBVTT");
    let mut out = String::from("WEBVTT\n");
    let mut cues = 0;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = if is_vtt {
        // Skip the header block (and any STYLE/REGION/NOTE blocks up to the first cue).
        lines.iter().position(|l| l.trim().is_empty()).unwrap_or(lines.len())
    } else {
        0
    };
    while i < lines.len() {
        // One block: lines up to the next blank line.
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        let start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let block = &lines[start..i];
        if block.is_empty() {
            continue;
        }
        if is_vtt && ["NOTE", "STYLE", "REGION"].iter().any(|k| block[0].starts_with(k)) {
            continue;
        }
        let Some(t) = block.iter().position(|l| l.contains("-->")) else {
            if is_vtt || block.len() > 1 || block[0].trim().parse::<u64>().is_err() {
                return Err(if cues == 0 && !is_vtt {
                    CaptionError::NotText
                } else {
                    CaptionError::BadTiming { line: start + 1 }
                });
            }
            continue;
        };
        if t > 1 {
            return Err(CaptionError::BadTiming { line: start + t + 1 });
        }
        let (a, rest) = block[t].split_once("-->").unwrap_or_default();
        let mut rest = rest.split_whitespace();
        let b = rest.next().unwrap_or_default();
        let settings: Vec<&str> = if is_vtt { rest.collect() } else { Vec::new() };
        let (Some(from), Some(to)) = (parse_time(a), parse_time(b)) else {
            return Err(CaptionError::BadTiming { line: start + t + 1 });
        };
        if to < from {
            return Err(CaptionError::BadTiming { line: start + t + 1 });
        }
        out.push('\n');
        if t == 1 && is_vtt {
            out.push_str(block[0].trim());
            out.push('\n');
        }
        out.push_str(&format_time(from));
        out.push_str(" --> ");
        out.push_str(&format_time(to));
        for s in settings {
            out.push(' ');
            out.push_str(s);
        }
        out.push('\n');
        for l in &block[t + 1..] {
            out.push_str(l.trim_end());
            out.push('\n');
        }
        cues += 1;
    }
    if cues == 0 {
        return Err(CaptionError::NoCues);
    }
    Ok((out, cues))
}

/// The name a language gets in the caption menu when none is given.
fn default_label(lang: &str) -> String {
    let base = lang.split('-').next().unwrap_or(lang);
    match base {
        "zh" if lang.contains("Hant") || lang.ends_with("TW") || lang.ends_with("HK") => "繁體中文",
        "zh" => "中文",
        "en" => "English",
        "bo" => "བོད་ཡིག",
        "ug" => "ئۇيغۇرچە",
        "mn" => "Монгол",
        _ => lang,
    }
    .to_owned()
}

/// A language tag of letters, digits and hyphens (`zh`, `zh-Hans`, `en-US`).
fn valid_lang(lang: &str) -> bool {
    let mut parts = lang.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && lang.len() <= 35
}

/// The master playlist with one subtitle rendition per caption track.
pub fn with_subtitles(master: &str, tracks: &[(String, String)]) -> String {
    if tracks.is_empty() {
        return master.to_owned();
    }
    let mut out = String::with_capacity(master.len() + 200 * tracks.len());
    let mut media_written = false;
    for line in master.lines() {
        if line.starts_with("#EXT-X-STREAM-INF:") {
            if !media_written {
                for (i, (lang, label)) in tracks.iter().enumerate() {
                    let label = label.replace('"', "'");
                    out.push_str(&format!(
                        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"{label}\",LANGUAGE=\"{lang}\",\
                         DEFAULT={},AUTOSELECT=YES,URI=\"subs/{lang}.m3u8\"\n",
                        if i == 0 { "YES" } else { "NO" }
                    ));
                }
                media_written = true;
            }
            out.push_str(line);
            out.push_str(",SUBTITLES=\"subs\"\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The media playlist of one subtitle rendition: the whole WebVTT file as one segment.
pub fn subtitle_playlist(lang: &str, duration_s: f64) -> String {
    let d = duration_s.max(1.0);
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXTINF:{d:.3},\n{lang}.vtt\n#EXT-X-ENDLIST\n",
        d.ceil() as u64
    )
}

impl Media {
    /// The caption tracks of an asset, in language order.
    pub(crate) async fn caption_keys(&self, asset: AssetId) -> Result<Vec<CaptionKey>, sqlx::Error> {
        store::keys(&self.db, asset).await
    }

    async fn captions(&self, asset: AssetId) -> MediaResult<Vec<CaptionView>> {
        Ok(store::tracks(&self.db, asset).await?)
    }

    /// Stores a caption track, replacing an earlier one of the same language. The file goes to
    /// a fresh key first and the old object is deleted only after the row points at the new one.
    async fn put_caption(
        &self,
        asset: AssetId,
        lang: &str,
        label: Option<String>,
        body: &[u8],
    ) -> MediaResult<CaptionView> {
        if !valid_lang(lang) {
            return Err(MediaError::field(
                "lang",
                msg(
                    "语言代码不对，例如 zh、zh-Hans、en。",
                    "Bad language tag; e.g. zh, zh-Hans, en.",
                ),
            ));
        }
        if body.len() > MAX_CAPTION_BYTES {
            return Err(MediaError::CaptionTooLarge);
        }
        let label = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
        if label
            .as_ref()
            .is_some_and(|l| l.chars().count() > 40 || l.chars().any(char::is_control))
        {
            return Err(MediaError::field(
                "label",
                msg("字幕名称最多 40 个字。", "Labels are at most 40 characters."),
            ));
        }
        let label = label.unwrap_or_else(|| default_label(lang));
        let (vtt, cues) = to_webvtt(body).map_err(MediaError::CaptionInvalid)?;
        let key = format!("assets/{asset}/captions/{lang}-{}.vtt", uuid::Uuid::now_v7().simple());
        self.store.put_bytes(&key, bytes::Bytes::from(vtt)).await?;
        let old = self.caption_keys(asset).await?.into_iter().find(|c| c.lang == lang);
        let now = self.clock.now();
        let cues = i32::try_from(cues).unwrap_or(i32::MAX);
        let saved = store::save(&self.db, asset, lang, &label, &key, cues, now).await;
        if let Err(e) = saved {
            let _ = self.store.delete(&key).await;
            return Err(e.into());
        }
        if let Some(old) = old {
            if let Err(e) = self.store.delete(&old.object_key).await {
                tracing::warn!(error = %e, key = old.object_key, "old caption object left behind");
            }
        }
        Ok(CaptionView {
            lang: lang.to_owned(),
            label,
            cues,
            updated_at: now,
        })
    }

    async fn delete_caption(&self, asset: AssetId, lang: &str) -> MediaResult<()> {
        let Some(old) = self.caption_keys(asset).await?.into_iter().find(|c| c.lang == lang) else {
            return Err(MediaError::CaptionNotFound);
        };
        store::delete(&self.db, asset, lang).await?;
        if let Err(e) = self.store.delete(&old.object_key).await {
            tracing::warn!(error = %e, key = old.object_key, "deleted caption object left behind");
        }
        Ok(())
    }
}

pub(crate) fn router() -> ApiRouter<Media> {
    ApiRouter::new()
        .routes(routes!(list_captions))
        .routes(routes!(put_caption, delete_caption))
}

/// The caption tracks of an asset (its uploader, curators and admins).
#[utoipa::path(get, path = "/api/v1/assets/{id}/captions", tag = "media", params(("id" = AssetId, Path)),
    responses((status = 200, body = Vec<CaptionView>), (status = 404)), security(("bearer" = [])))]
async fn list_captions(
    State(media): State<Media>,
    auth: AuthUser,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<Vec<CaptionView>>> {
    media.managed_asset(&auth, id).await?;
    Ok(Json(media.captions(id).await?))
}

/// Upload captions for one language: the raw SRT or WebVTT file (UTF-8 or GBK) as the body.
#[utoipa::path(put, path = "/api/v1/assets/{id}/captions/{lang}", tag = "media",
    params(("id" = AssetId, Path), ("lang" = String, Path), CaptionParams),
    request_body(content = String, content_type = "text/vtt"),
    responses((status = 200, body = CaptionView), (status = 404), (status = 413), (status = 422)), security(("bearer" = [])))]
async fn put_caption(
    State(media): State<Media>,
    auth: AuthUser,
    Path((id, lang)): Path<(AssetId, String)>,
    Query(params): Query<CaptionParams>,
    RawBody(body): RawBody,
) -> ApiResult<Json<CaptionView>> {
    media.managed_asset(&auth, id).await?;
    Ok(Json(media.put_caption(id, &lang, params.label, &body).await?))
}

/// Remove the captions of one language.
#[utoipa::path(delete, path = "/api/v1/assets/{id}/captions/{lang}", tag = "media",
    params(("id" = AssetId, Path), ("lang" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn delete_caption(
    State(media): State<Media>,
    auth: AuthUser,
    Path((id, lang)): Path<(AssetId, String)>,
) -> ApiResult<StatusCode> {
    media.managed_asset(&auth, id).await?;
    media.delete_caption(id, &lang).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_becomes_webvtt() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\n孩子，\r\n我们聊聊\r\n\r\n2\r\n00:01:02,000 --> \
                   01:00:00,000\r\n好\r\n";
        let (vtt, n) = to_webvtt(srt.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(n, 2);
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n孩子，\n我们聊聊\n\n00:01:02.000 --> 01:00:00.000\n好\n"
        );
    }

    #[test]
    fn gbk_srt_is_decoded() {
        let (gbk, _, _) = encoding_rs::GBK.encode("1\n00:00:01,000 --> 00:00:02,000\n家长学堂\n");
        let (vtt, _) = to_webvtt(&gbk).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(vtt.contains("家长学堂"), "{vtt}");
    }

    #[test]
    fn webvtt_keeps_ids_and_settings_and_drops_notes() {
        let v = "\u{feff}WEBVTT - lecture\n\nNOTE made by hand\n\nintro\n00:01.000 --> 00:02.000 align:start\nHi\n";
        let (vtt, n) = to_webvtt(v.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(n, 1);
        assert_eq!(vtt, "WEBVTT\n\nintro\n00:00:01.000 --> 00:00:02.000 align:start\nHi\n");
    }

    #[test]
    fn bad_files_are_refused() {
        assert_eq!(to_webvtt(b""), Err(CaptionError::Empty));
        assert_eq!(to_webvtt(b"\x00\x01\x02ftypmp42"), Err(CaptionError::NotText));
        assert_eq!(to_webvtt(b"hello world\nthis is prose"), Err(CaptionError::NotText));
        assert_eq!(
            to_webvtt(b"1\n00:00:01,000 --> 00:00:0x,000\nhi\n"),
            Err(CaptionError::BadTiming { line: 2 })
        );
        assert_eq!(
            to_webvtt(b"1\n00:00:05,000 --> 00:00:01,000\nhi\n"),
            Err(CaptionError::BadTiming { line: 2 })
        );
        assert_eq!(to_webvtt(b"WEBVTT\n\nNOTE nothing\n"), Err(CaptionError::NoCues));
        assert_eq!(parse_time("00:61:00,000"), None);
    }

    #[test]
    fn master_gains_subtitle_group() {
        let master = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"a\"\n360p/index.m3u8\n\
                      #EXT-X-STREAM-INF:BANDWIDTH=2,CODECS=\"b\"\n720p/index.m3u8\n";
        let out = with_subtitles(master, &[("en".into(), "English".into()), ("zh".into(), "中文".into())]);
        assert_eq!(out.matches("#EXT-X-MEDIA:TYPE=SUBTITLES").count(), 2);
        assert_eq!(out.matches(",SUBTITLES=\"subs\"").count(), 2);
        assert!(out.find("#EXT-X-MEDIA").unwrap_or(usize::MAX) < out.find("#EXT-X-STREAM-INF").unwrap_or(0));
        assert!(
            out.contains("LANGUAGE=\"zh\",DEFAULT=NO,AUTOSELECT=YES,URI=\"subs/zh.m3u8\""),
            "{out}"
        );
        assert_eq!(with_subtitles(master, &[]), master);
    }

    #[test]
    fn language_tags() {
        assert!(valid_lang("zh") && valid_lang("zh-Hans") && valid_lang("en-US"));
        assert!(!valid_lang("ZH") && !valid_lang("z") && !valid_lang("zh_CN") && !valid_lang("../x"));
        assert_eq!(default_label("zh-Hant"), "繁體中文");
    }
}
