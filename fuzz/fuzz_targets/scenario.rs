//! See `failover_fuzz_props::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| failover_fuzz_props::scenario::check(data));
