//! A first look at an SDP offer before it reaches the WebRTC stack: size, shape and codecs, so a
//! hostile or useless offer gets a clear answer instead of a half-built peer connection.

/// Offers larger than this are refused (a browser's offer is 3–8 KiB).
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// One audio and one video section is what WHIP/WHEP clients send; a few more are tolerated.
pub const MAX_MEDIA_SECTIONS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    TooLarge,
    NotSdp,
    NoMedia,
    TooManyMedia,
    /// Media sections exist but none offers Opus, H.264 or VP8.
    NoSupportedCodec,
    /// No ICE credentials (`a=ice-ufrag`, `a=ice-pwd`) or DTLS fingerprint (`a=fingerprint`):
    /// not an offer a WebRTC peer can answer.
    NotWebRtc,
}

/// What an offer contains, as far as the SFU cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferSummary {
    /// An audio section offers Opus.
    pub audio: bool,
    /// Supported video codecs offered, in the offer's order (`H264`, `VP8`).
    pub video_codecs: Vec<String>,
}

/// Checks an offer. Payload types only count in the section whose `m=` line lists them.
pub fn inspect(offer: &str) -> Result<OfferSummary, SdpError> {
    if offer.len() > MAX_SDP_BYTES {
        return Err(SdpError::TooLarge);
    }
    if !offer.trim_start().starts_with("v=0") || !offer.contains("\no=") {
        return Err(SdpError::NotSdp);
    }
    let mut out = OfferSummary::default();
    let mut sections = 0;
    let mut kind = "";
    let mut pts: Vec<&str> = Vec::new();
    let (mut ufrag, mut pwd, mut fingerprint) = (false, false, false);
    for line in offer.lines().map(str::trim) {
        ufrag |= line.strip_prefix("a=ice-ufrag:").is_some_and(|v| !v.trim().is_empty());
        pwd |= line.strip_prefix("a=ice-pwd:").is_some_and(|v| !v.trim().is_empty());
        fingerprint |= line
            .strip_prefix("a=fingerprint:")
            .is_some_and(|v| !v.trim().is_empty());
        if let Some(m) = line.strip_prefix("m=") {
            sections += 1;
            if sections > MAX_MEDIA_SECTIONS {
                return Err(SdpError::TooManyMedia);
            }
            let mut parts = m.split_whitespace();
            kind = parts.next().unwrap_or("");
            pts = parts.skip(2).collect();
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            let (pt, codec) = map.split_once(' ').unwrap_or((map, ""));
            if !pts.contains(&pt) {
                continue;
            }
            let name = codec.split('/').next().unwrap_or("").to_ascii_uppercase();
            match (kind, name.as_str()) {
                ("audio", "OPUS") => out.audio = true,
                ("video", "H264" | "VP8") if !out.video_codecs.contains(&name) => out.video_codecs.push(name),
                _ => {}
            }
        }
    }
    if sections == 0 {
        return Err(SdpError::NoMedia);
    }
    if !out.audio && out.video_codecs.is_empty() {
        return Err(SdpError::NoSupportedCodec);
    }
    if !(ufrag && pwd && fingerprint) {
        return Err(SdpError::NotWebRtc);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
                          a=ice-ufrag:Zx9b\r\na=ice-pwd:Vd0rN3sUuVIRT0tJ0r4SkHqI\r\na=fingerprint:sha-256 \
                          AB:CD:EF\r\n\
                          m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
                          a=rtpmap:63 red/48000/2\r\n\
                          m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n\
                          a=rtpmap:97 rtx/90000\r\na=rtpmap:102 H264/90000\r\n";

    #[test]
    fn a_browser_offer_passes() {
        assert_eq!(
            inspect(CHROME),
            Ok(OfferSummary {
                audio: true,
                video_codecs: vec!["VP8".into(), "H264".into()]
            })
        );
    }

    #[test]
    fn hostile_offers_are_refused() {
        assert_eq!(inspect("hello"), Err(SdpError::NotSdp));
        assert_eq!(inspect(&"v=0\r\n".repeat(10_000)), Err(SdpError::TooLarge));
        assert_eq!(
            inspect("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"),
            Err(SdpError::NoMedia)
        );
        let many = format!(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n{}",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n".repeat(5)
        );
        assert_eq!(inspect(&many), Err(SdpError::TooManyMedia));
        let unsupported = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 \
                           VP9/90000\r\n\
                           m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert_eq!(inspect(unsupported), Err(SdpError::NoSupportedCodec));
        // An rtpmap for a payload type the m-line does not list does not count.
        let stray = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(inspect(stray), Err(SdpError::NoSupportedCodec));
        // Codecs alone are no WebRTC offer: without ICE credentials and a DTLS fingerprint
        // there is nothing to answer (it used to reach the WebRTC stack and fail there as a 500).
        for missing in ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"] {
            let partial: String = CHROME
                .split_inclusive("\r\n")
                .filter(|l| !l.starts_with(missing))
                .collect();
            assert_eq!(inspect(&partial), Err(SdpError::NotWebRtc), "without {missing}");
        }
    }
}
