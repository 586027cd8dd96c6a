//! Log entries and the operators that parse and shape them: Go's `pkg/stanza`, shared by
//! the receivers that read logs (so far `filelog`).
//!
//! - [`entry`]: the entry, its values and field references (`body.a`, `attributes["k"]`);
//! - [`operators`]: the operator chain built from an `operators:` list ([`Pipeline`]), every
//!   operator type declared once in its table;
//! - [`expr`]: the expression language of `if`, `is_first_entry`, router routes and `add`;
//! - `timeparse`, `severity` (private): the embedded timestamp, severity, trace and scope
//!   parsers;
//! - [`goregex`]: Go regular expressions on the `regex` crate;
//! - [`convert`]: entries to OTLP logs (Go's stanza adapter);
//! - [`attrs`], [`ByteSize`]: the file attribute names and config sizes operators share with
//!   the file input.
#![forbid(unsafe_code)]

pub mod attrs;
mod bytesize;
pub mod convert;
pub mod entry;
pub mod expr;
pub mod goregex;
mod map;
pub mod operators;
mod severity;
mod timeparse;

#[cfg(test)]
mod tests;

pub use bytesize::ByteSize;
pub use operators::{BuildMode, Pipeline, Stats};
