//! cargo-fuzz target: `harness::files_command` (see fuzz/harness/mod.rs).
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::files_command(data));
