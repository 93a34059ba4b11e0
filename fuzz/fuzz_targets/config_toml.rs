//! See `failover_fuzz_props::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| failover_fuzz_props::config::check(data));
