#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::basic_auth(data));
