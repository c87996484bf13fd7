//! What to make of a source: the rendition ladder (never upscaled), the ffmpeg arguments per
//! rendition, and the time limits.

use super::*;
use crate::probe::{self, Probe};

/// The ladder: (height, video kbit/s).
pub(super) const LADDER: [(i32, i64); 3] = [(360, 800), (540, 1400), (720, 2500)];

pub(super) const AUDIO_KBPS: i64 = 96;

pub(super) const AUDIO_ONLY_KBPS: i64 = 64;

/// Heights to encode for a source of `height` lines: the ladder steps that fit, or the source
/// height itself (even) when it is below the smallest step.
pub fn ladder_for(height: i32) -> Vec<(i32, i64)> {
    let steps: Vec<(i32, i64)> = LADDER.iter().copied().filter(|(h, _)| *h <= height).collect();
    if steps.is_empty() {
        vec![((height / 2 * 2).max(2), LADDER[0].1)]
    } else {
        steps
    }
}

/// How long one encode may take: ten minutes plus three times the video's length (the
/// ladder encodes at about 1.75× real time on two cores).
pub fn encode_time_limit(duration_s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(600.0 + 3.0 * duration_s.clamp(0.0, 86_400.0))
}

/// The ffmpeg command lines of a transcode: one encode of the whole ladder (and the audio-only
/// rendition) into MP4 files under `out`, then per rendition a packaging into HLS fMP4, run in
/// that rendition's folder. Public so the benchmark runs the very same commands by hand.
#[derive(Debug)]
pub struct Plan {
    /// Arguments of the encoding ffmpeg (progress on stdout).
    pub encode: Vec<String>,
    /// Rendition names with their video height and bitrate (`None` for audio).
    pub outputs: Vec<(String, Option<(i32, i64)>)>,
    /// Per rendition: the folder to run in and the arguments of the packaging ffmpeg.
    pub package: Vec<(PathBuf, Vec<String>)>,
}

pub fn plan(cfg: &crate::MediaSettings, source: &Path, out: &Path, info: &Probe) -> Plan {
    let seg = cfg.segment_seconds;
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-nostats", "-progress", "pipe:1"]
        .map(String::from)
        .to_vec();
    args.extend(probe::input_guard().map(String::from));
    args.push("-i".into());
    args.push(source.display().to_string());
    let ladder = info.video.map(|(_, h)| ladder_for(h)).unwrap_or_default();
    let mut outputs: Vec<(String, Option<(i32, i64)>)> = Vec::new();
    if !ladder.is_empty() {
        let labels: Vec<String> = (0..ladder.len()).map(|i| format!("[s{i}]")).collect();
        let mut graph = format!("[0:v]split={}{}", ladder.len(), labels.join(""));
        for (i, (h, _)) in ladder.iter().enumerate() {
            graph.push_str(&format!(";[s{i}]scale=-2:{h}[v{i}]"));
        }
        args.extend(["-filter_complex".into(), graph]);
        for (i, (h, kbps)) in ladder.iter().enumerate() {
            let name = format!("{h}p");
            args.extend([
                "-map".into(),
                format!("[v{i}]"),
                "-map".into(),
                "0:a:0?".into(),
                "-c:v".into(),
                "libx264".into(),
                "-preset".into(),
                cfg.x264_preset.clone(),
                "-profile:v".into(),
                "main".into(),
                "-pix_fmt".into(),
                "yuv420p".into(),
                "-b:v".into(),
                format!("{kbps}k"),
                "-maxrate".into(),
                format!("{}k", kbps * 3 / 2),
                "-bufsize".into(),
                format!("{}k", kbps * 2),
                "-force_key_frames".into(),
                format!("expr:gte(t,n_forced*{seg})"),
                "-sc_threshold".into(),
                "0".into(),
                "-c:a".into(),
                "aac".into(),
                "-b:a".into(),
                format!("{AUDIO_KBPS}k"),
                "-ac".into(),
                "2".into(),
                out.join(format!("{name}.mp4")).display().to_string(),
            ]);
            outputs.push((name, Some((*h, *kbps))));
        }
    }
    if info.audio {
        args.extend(
            [
                "-map",
                "0:a:0",
                "-vn",
                "-c:a",
                "aac",
                "-b:a",
                &format!("{AUDIO_ONLY_KBPS}k"),
                "-ac",
                "2",
            ]
            .map(String::from),
        );
        args.push(out.join("audio.mp4").display().to_string());
        outputs.push(("audio".into(), None));
    }
    let seg = seg.to_string();
    let package = outputs
        .iter()
        .map(|(name, _)| {
            let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
                .map(String::from)
                .to_vec();
            a.extend(probe::input_guard().map(String::from));
            a.push("-i".into());
            a.push(out.join(format!("{name}.mp4")).display().to_string());
            a.extend(
                [
                    "-c",
                    "copy",
                    "-f",
                    "hls",
                    "-hls_time",
                    &seg,
                    "-hls_playlist_type",
                    "vod",
                    "-hls_segment_type",
                    "fmp4",
                    "-hls_fmp4_init_filename",
                    "init.mp4",
                    "-hls_segment_filename",
                    "seg_%05d.m4s",
                    "index.m3u8",
                ]
                .map(String::from),
            );
            (out.join("hls").join(name), a)
        })
        .collect();
    Plan {
        encode: args,
        outputs,
        package,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_never_upscales() {
        assert_eq!(
            ladder_for(1080).iter().map(|r| r.0).collect::<Vec<_>>(),
            [360, 540, 720]
        );
        assert_eq!(ladder_for(720).iter().map(|r| r.0).collect::<Vec<_>>(), [360, 540, 720]);
        assert_eq!(ladder_for(480).iter().map(|r| r.0).collect::<Vec<_>>(), [360]);
        assert_eq!(ladder_for(241).iter().map(|r| r.0).collect::<Vec<_>>(), [240]);
    }
}
