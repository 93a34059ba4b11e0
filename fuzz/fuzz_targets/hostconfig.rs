//! See `failover_fuzz_props::hostconfig`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| failover_fuzz_props::hostconfig::check(data));
