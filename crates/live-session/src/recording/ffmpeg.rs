//! The recorder's ffmpeg: the SDP it reads the forwarded RTP with, its arguments (copy H.264,
//! transcode VP8, AAC audio, fMP4 HLS pieces of a few seconds), the playlist of finished pieces,
//! and free loopback ports for it.

use std::path::Path as FsPath;

/// Payload types of the RTP handed to ffmpeg (the SFU rewrites them).
pub(super) const VIDEO_PT: u8 = 96;

pub(super) const AUDIO_PT: u8 = 111;

/// The SDP that tells ffmpeg what arrives on which loopback port.
pub fn ffmpeg_sdp(video: Option<(&str, u16)>, audio: Option<u16>) -> String {
    let mut s =
        String::from("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ParentSchool recording\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n");
    if let Some((mime, port)) = video {
        let codec = if mime.eq_ignore_ascii_case("video/vp8") {
            "VP8/90000"
        } else {
            "H264/90000"
        };
        s.push_str(&format!(
            "m=video {port} RTP/AVP {VIDEO_PT}\r\na=rtpmap:{VIDEO_PT} {codec}\r\n"
        ));
        if codec.starts_with("H264") {
            s.push_str(&format!("a=fmtp:{VIDEO_PT} packetization-mode=1\r\n"));
        }
    }
    if let Some(port) = audio {
        s.push_str(&format!(
            "m=audio {port} RTP/AVP {AUDIO_PT}\r\na=rtpmap:{AUDIO_PT} opus/48000/2\r\n"
        ));
    }
    s
}

/// ffmpeg's arguments: the SDP in, HLS fMP4 pieces of `segment_s` seconds out. H.264 is copied
/// (the recorder asks the publisher for a keyframe every piece); VP8 is encoded to H.264.
pub fn ffmpeg_args(
    sdp: &FsPath,
    dir: &FsPath,
    copy_video: bool,
    has_video: bool,
    has_audio: bool,
    segment_s: u64,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostats",
        "-protocol_whitelist",
        "file,udp,rtp",
        // Listen on loopback only: nothing from the network can reach the recording.
        "-localaddr",
        "127.0.0.1",
        "-buffer_size",
        "4194304",
        "-reorder_queue_size",
        "512",
        "-i",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    a.push(sdp.display().to_string());
    if has_video {
        a.extend(["-map", "0:v:0"].map(String::from));
        if copy_video {
            a.extend(["-c:v", "copy"].map(String::from));
        } else {
            a.extend(
                [
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-tune",
                    "zerolatency",
                    "-pix_fmt",
                    "yuv420p",
                    "-force_key_frames",
                ]
                .map(String::from),
            );
            a.push(format!("expr:gte(t,n_forced*{segment_s})"));
        }
    }
    if has_audio {
        a.extend(
            [
                "-map", "0:a:0", "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000",
            ]
            .map(String::from),
        );
    }
    a.extend(
        [
            "-f",
            "hls",
            "-hls_segment_type",
            "fmp4",
            "-hls_playlist_type",
            "event",
            "-hls_flags",
            "independent_segments+temp_file",
            "-hls_fmp4_init_filename",
            "init.mp4",
            "-hls_time",
        ]
        .map(String::from),
    );
    a.push(segment_s.to_string());
    a.push("-hls_segment_filename".into());
    a.push(dir.join("%d.m4s").display().to_string());
    a.push(dir.join("index.m3u8").display().to_string());
    a
}

/// The finished pieces of an ffmpeg HLS playlist: file name and duration (ms), in order.
pub fn playlist_entries(text: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut dur: Option<i64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXTINF:") {
            let secs = v.split(',').next().unwrap_or("").trim();
            dur = secs.parse::<f64>().ok().map(|s| (s * 1000.0).round() as i64);
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = dur.take() {
                let name = line.rsplit('/').next().unwrap_or(line);
                out.push((name.to_owned(), d));
            }
        }
    }
    out
}

/// Four consecutive free loopback UDP ports, starting even (RTP and RTCP for video and audio).
pub(super) fn free_ports() -> Option<u16> {
    for _ in 0..64 {
        let base = 20_000 + 2 * (rand::random::<u16>() % 20_000);
        let held: Vec<_> = (0..4)
            .map_while(|i| std::net::UdpSocket::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == 4 {
            return Some(base);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_for_ffmpeg() {
        let s = ffmpeg_sdp(Some(("video/H264", 40000)), Some(40002));
        assert!(s.contains("m=video 40000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1"));
        assert!(s.contains("m=audio 40002 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2"));
        let v = ffmpeg_sdp(Some(("video/VP8", 40000)), None);
        assert!(v.contains("VP8/90000") && !v.contains("fmtp") && !v.contains("m=audio"));
    }

    #[test]
    fn ffmpeg_arguments() {
        let a = ffmpeg_args(FsPath::new("/w/in.sdp"), FsPath::new("/w"), true, true, true, 2);
        let s = a.join(" ");
        assert!(
            s.contains("-localaddr 127.0.0.1") && s.contains("-i /w/in.sdp -map 0:v:0 -c:v copy -map 0:a:0 -c:a aac")
        );
        assert!(
            s.contains("-hls_segment_type fmp4")
                && s.ends_with("-hls_time 2 -hls_segment_filename /w/%d.m4s /w/index.m3u8")
        );
        let vp8 = ffmpeg_args(FsPath::new("/w/in.sdp"), FsPath::new("/w"), false, true, false, 4).join(" ");
        assert!(vp8.contains("-c:v libx264") && vp8.contains("expr:gte(t,n_forced*4)") && !vp8.contains("0:a:0"));
    }

    #[test]
    fn finished_pieces_of_a_playlist() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                    #EXTINF:1.997982,\n/w/0.m4s\n#EXTINF:2.000000,\n1.m4s\n#EXTINF:2.0";
        assert_eq!(
            playlist_entries(text),
            vec![("0.m4s".to_owned(), 1998), ("1.m4s".to_owned(), 2000)]
        );
        assert!(playlist_entries("").is_empty());
    }
}
