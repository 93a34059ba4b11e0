//! See `failover_fuzz_props::node`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| failover_fuzz_props::node::check(data));
