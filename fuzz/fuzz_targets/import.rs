//! Catalog import manifests (CSV in UTF-8 or GBK, or JSON): any bytes give entries and row
//! errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = catalog::import::decode(data);
    let _ = catalog::import::parse(data);
});
