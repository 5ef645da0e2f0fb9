//! cargo-fuzz target: `harness::chat_datagrams` (see fuzz/harness/mod.rs).
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::chat_datagrams(data));
