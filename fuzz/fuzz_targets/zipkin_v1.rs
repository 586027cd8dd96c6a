#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::zipkin_v1(data));
