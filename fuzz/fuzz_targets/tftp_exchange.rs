//! cargo-fuzz target: `harness::tftp_exchange` (see fuzz/harness/mod.rs).
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::tftp_exchange(data));
