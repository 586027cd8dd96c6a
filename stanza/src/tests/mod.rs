//! Tests of the operators through the chain: container formats, parsers with embedded
//! timestamp / severity / trace, transformers, router, recombine, `regex_replace` and
//! `unquote`, Docker lines read by the shortcut, bad input.

mod bad_input;
mod convert;
mod docker_lines;
mod operators;
mod regex_replace_unquote;
mod syslog;
