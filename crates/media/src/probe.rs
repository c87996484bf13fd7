//! Reading what an uploaded file is, with `ffprobe`, and turning its verdict into a reason a
//! curator understands.

use std::path::Path;

use serde::Deserialize;

/// What `ffprobe` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration_s: f64,
    /// `(width, height)` of the first video stream.
    pub video: Option<(i32, i32)>,
    pub audio: bool,
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: i32,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

const IMAGE_CODECS: [&str; 6] = ["mjpeg", "png", "bmp", "webp", "tiff", "gif"];

/// Interprets `ffprobe -print_format json -show_format -show_streams` output. Still images,
/// cover art and files without a playable stream are refused with a Chinese reason.
pub fn parse(json: &str) -> Result<Probe, String> {
    let out: Output = serde_json::from_str(json).map_err(|_| "无法读取文件信息。".to_owned())?;
    let format = out.format.ok_or("文件不是可识别的音视频格式。")?;
    let format_name = format.format_name.unwrap_or_default();
    if format_name.starts_with("image2") || format_name.ends_with("_pipe") || format_name == "tty" {
        return Err("这是图片或文本文件，不是视频。请上传 MP4、MOV 等视频文件。".into());
    }
    let video = out.streams.iter().find(|s| {
        s.codec_type.as_deref() == Some("video")
            && s.disposition.attached_pic == 0
            && !s.codec_name.as_deref().is_some_and(|c| IMAGE_CODECS.contains(&c))
    });
    let audio = out.streams.iter().any(|s| s.codec_type.as_deref() == Some("audio"));
    if video.is_none() && !audio {
        return Err("文件中没有可播放的视频或音频。".into());
    }
    let duration_s = format
        .duration
        .or_else(|| video.and_then(|v| v.duration.clone()))
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or("无法确定视频时长，文件可能已损坏。")?;
    let video = match video {
        Some(v) => match (v.width, v.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => Some((w, h)),
            _ => return Err("无法读取视频画面尺寸，文件可能已损坏。".into()),
        },
        None => None,
    };
    Ok(Probe {
        duration_s,
        video,
        audio,
    })
}

/// The containers ffprobe and ffmpeg may open (demuxer names): real media files only. Without
/// it a text file could be read as an HLS playlist or a concat list, whose entries name other
/// files on disk, and those would be transcoded and served.
pub const INPUT_FORMATS: &str = "mov,matroska,avi,flv,mpegts,mpeg,asf,mp3,wav,aac,ogg,flac";

/// Options that go before every `-i` of an uploaded file (or of what was made from one): the
/// container allow-list, and only local files as protocols.
pub fn input_guard() -> [&'static str; 4] {
    ["-format_whitelist", INPUT_FORMATS, "-protocol_whitelist", "file,pipe"]
}

/// Longest ffprobe run: reading a container's header takes seconds.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Turns ffprobe's complaint into a reason a curator understands.
pub fn explain_failure(stderr: &str) -> String {
    let s = stderr.to_lowercase();
    if s.contains("not on whitelist") {
        "文件不是可识别的音视频格式（只接受 MP4、MOV、MKV、WebM、AVI、FLV、TS、MPEG、WMV 视频和常见音频）。".into()
    } else if s.contains("moov atom not found") {
        "视频文件不完整（上传可能中断或文件已损坏），请重新导出后上传。".into()
    } else if s.contains("invalid data found") {
        "文件不是可识别的音视频格式（可能是改了扩展名的其他文件）。".into()
    } else {
        format!("无法读取该文件：{}", stderr.lines().last().unwrap_or("").trim())
    }
}

/// Runs `ffprobe` on `path`.
pub async fn probe(ffprobe: &str, path: &Path) -> Result<Probe, String> {
    let run = tokio::process::Command::new(ffprobe)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .args(input_guard())
        .arg(path)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(PROBE_TIMEOUT, run)
        .await
        .map_err(|_| "读取文件信息超时，文件可能已损坏。".to_owned())?
        .map_err(|e| format!("无法运行 ffprobe：{e}"))?;
    if !out.status.success() {
        return Err(explain_failure(&String::from_utf8_lossy(&out.stderr)));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_audio_and_refusals() {
        let video = r#"{"streams":[{"codec_type":"video","codec_name":"h264","width":1280,"height":720},{"codec_type":"audio","codec_name":"aac"}],"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"60.0"}}"#;
        assert_eq!(
            parse(video),
            Ok(Probe {
                duration_s: 60.0,
                video: Some((1280, 720)),
                audio: true
            })
        );
        let audio = r#"{"streams":[{"codec_type":"audio","codec_name":"mp3"},{"codec_type":"video","codec_name":"mjpeg","width":300,"height":300,"disposition":{"attached_pic":1}}],"format":{"format_name":"mp3","duration":"12.5"}}"#;
        assert_eq!(
            parse(audio),
            Ok(Probe {
                duration_s: 12.5,
                video: None,
                audio: true
            })
        );
        let image = r#"{"streams":[{"codec_type":"video","codec_name":"mjpeg","width":300,"height":300}],"format":{"format_name":"image2","duration":"0.04"}}"#;
        assert!(parse(image).is_err());
        let nothing = r#"{"streams":[{"codec_type":"data"}],"format":{"format_name":"mpegts","duration":"3"}}"#;
        assert!(parse(nothing).is_err());
        assert!(explain_failure("x.mp4: Invalid data found when processing input").contains("不是可识别"));
        assert!(explain_failure("[mov] moov atom not found").contains("不完整"));
        assert!(explain_failure("[hls @ 0x1] Format not on whitelist 'mov'").contains("不是可识别"));
    }
}
