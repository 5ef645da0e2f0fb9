//! cargo-fuzz target: `harness::dav_bodies` (see fuzz/harness/mod.rs).
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::dav_bodies(data));
