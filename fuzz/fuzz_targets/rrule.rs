//! RRULEs of live series: any text parses or is refused, and an accepted rule expands (within
//! its limits) without a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rule) = live_session::recurrence::parse(text) {
            let start = time::macros::datetime!(2026-03-05 19:30 +08:00);
            let _ = live_session::recurrence::expand(&rule, start, time::Duration::minutes(60), &[]);
        }
    }
});
