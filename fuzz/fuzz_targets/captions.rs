//! SRT and WebVTT captions (UTF-8 or GBK bytes): any bytes, never a panic; what is accepted is
//! valid WebVTT that reads back the same.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((vtt, cues)) = media::captions::to_webvtt(data) {
        assert!(vtt.starts_with("WEBVTT"));
        let (again, n) =
            media::captions::to_webvtt(vtt.as_bytes()).unwrap_or_else(|e| panic!("own output refused: {e:?}"));
        assert_eq!((again.as_str(), n), (vtt.as_str(), cues));
    }
});
