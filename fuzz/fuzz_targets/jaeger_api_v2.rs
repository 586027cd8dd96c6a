#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::jaeger_api_v2(data));
