//! A validating scanner for OTLP protobuf export requests.
//!
//! [`scan`] walks the wire bytes of an `ExportTraceServiceRequest`,
//! `ExportMetricsServiceRequest` or `ExportLogsServiceRequest` without decoding them, counts
//! the items the way the Go collector does (spans, metric data points, log records) and
//! guarantees that decoding the same bytes with `prost` into the `opentelemetry-proto`
//! structs succeeds. A request can then be kept as bytes and decoded later, or never.
//!
//! The schema below mirrors the `#[prost(...)]` attributes of the structs generated in
//! `opentelemetry-proto` 0.33 (`src/proto/tonic/opentelemetry.proto.*.rs`), every field of
//! every message reachable from the three export requests. The decoding rules mirror
//! `prost` 0.14 (`encoding.rs`, `encoding/varint.rs`, the `merge_field` that
//! `prost-derive` generates):
//!
//! - a field key is a varint of at most 32 bits; its wire type must be 0..=5 and its field
//!   number at least 1;
//! - a varint has at most 10 bytes and its 10th byte must be 0 or 1 (no overflow past
//!   `u64::MAX`); non-minimal encodings are accepted;
//! - a known field must carry the wire type of its type (varint for the integer, enum and
//!   bool types, 64-bit for `fixed64`/`sfixed64`/`double`, 32-bit for `fixed32`,
//!   length-delimited for strings, bytes and messages). Repeated numeric fields accept both
//!   the packed (one length-delimited run) and the unpacked encoding, and a packed run must
//!   consist of whole values;
//! - a `string` must be valid UTF-8;
//! - a length prefix must not run past the end of the enclosing message, and every field
//!   must end inside it;
//! - unknown fields are skipped by wire type; a start-group is skipped up to the end-group
//!   with the same field number (nested groups included) and a stray end-group is an error;
//! - prost stops at a nesting depth of 100 (`RECURSION_LIMIT`, counted per nested message,
//!   per nested group level, and checked again before skipping any unknown field). This
//!   scanner refuses anything nested deeper than [`MAX_DEPTH`] = 64 levels, a clear margin
//!   below, so whatever it accepts never reaches prost's limit.
//!
//! On purpose it is stricter than prost in one more way, as the Go collector is: trace ids
//! (`Span`, `Span.Link`, `LogRecord`, `Exemplar`) must be empty or 16 bytes, span ids
//! (including `Span.parent_span_id`) empty or 8 bytes. prost keeps the last occurrence of a
//! repeated non-repeated field; every occurrence is checked here.
//!
//! The scan allocates nothing, keeps no state beyond the recursion (bounded by
//! [`MAX_DEPTH`]) and takes time linear in the size of the request: a table lookup and a
//! few comparisons per field, plus a UTF-8 check of every string.

use std::cell::Cell;
use std::fmt;

use crate::Signal;

/// Deepest nesting [`scan`] accepts: the export request itself is level 0, each nested
/// message and each level of a skipped group adds one. prost 0.14 refuses more than 100.
pub const MAX_DEPTH: u32 = 64;

/// Validate `bytes` as the protobuf export request of `signal` and count its items: spans,
/// metric data points or log records.
///
/// `Ok` guarantees that `prost` decoding of the bytes into the matching
/// `opentelemetry-proto` request succeeds and that the decoded request holds that many
/// items. A metric counts the data points of the data it holds once decoded, 0 without
/// data. When the `data` oneof occurs several times, prost keeps the last kind and merges
/// into it the occurrences of that kind since the last occurrence of another kind.
pub fn scan(signal: Signal, bytes: &[u8]) -> Result<usize, WireError> {
    scan_detail(signal, bytes).map(|s| s.items)
}

/// The data points of one encoded `Metric` of a request [`scan`] accepted, counted as the
/// scan counts them (what prost's decode of it holds); `None` when the bytes do not scan.
pub(crate) fn metric_points(bytes: &[u8]) -> Option<usize> {
    let scanner = Scanner {
        base: bytes,
        error: Cell::new(None),
        groups: Cell::new(false),
    };
    // at its depth in a request: ResourceMetrics, ScopeMetrics, Metric
    scanner.message(bytes, &METRIC, 3).ok()
}

/// What [`scan_detail`] found in a request it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// The items (spans, data points, log records).
    pub items: usize,
    /// Whether an unknown field was a group (prost skips them; the walks of the wire form,
    /// `wire_edit` and `wire_items`, do not read them).
    pub groups: bool,
}

/// As [`scan`], and whether the request holds a group.
pub fn scan_detail(signal: Signal, bytes: &[u8]) -> Result<Scanned, WireError> {
    let root = match signal {
        Signal::Traces => &TRACE_REQUEST,
        Signal::Metrics => &METRICS_REQUEST,
        Signal::Logs => &LOGS_REQUEST,
    };
    let scanner = Scanner {
        base: bytes,
        error: Cell::new(None),
        groups: Cell::new(false),
    };
    match scanner.message(bytes, root, 0) {
        Ok(items) => Ok(Scanned {
            items,
            groups: scanner.groups.get(),
        }),
        // `fail` records the error before returning `Failed`, its only constructor; the
        // default is never used.
        Err(Failed) => Err(scanner.error.get().unwrap_or(WireError {
            problem: Problem::InvalidVarint,
            message: root.name,
            field: 0,
            field_name: "",
            offset: 0,
        })),
    }
}

/// Why [`scan`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    problem: Problem,
    message: &'static str,
    field: u32,
    field_name: &'static str,
    offset: usize,
}

/// What is wrong, without the place (see [`WireError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A varint of more than 10 bytes, overflowing 64 bits, or cut off.
    InvalidVarint,
    /// A field key above `u32::MAX`.
    InvalidKey { key: u64 },
    /// Wire type 6 or 7, in the key of field `field`.
    InvalidWireType { wire_type: u8, field: u32 },
    /// Field number 0.
    FieldZero,
    /// A known field with a wire type its type does not allow.
    WrongWireType { actual: u8, expected: u8 },
    /// A value running past the end of its message.
    Truncated {
        wire_type: u8,
        need: u64,
        left: usize,
    },
    /// A packed run of fixed-width values whose length is not a multiple of the width.
    PackedLength { len: usize, width: usize },
    /// A `string` field that is not UTF-8.
    InvalidUtf8,
    /// An end-group key with no group open.
    UnexpectedEndGroup,
    /// A group closed by the end-group key of another field number.
    EndGroupMismatch { found: u32 },
    /// A group with no end-group key before the end of its message.
    UnterminatedGroup,
    /// A trace id not of 16 bytes or a span id not of 8 (nor empty). prost accepts these.
    IdLength { len: usize, expected: usize },
    /// Nesting deeper than [`MAX_DEPTH`]. prost accepts up to 100 levels.
    TooDeep,
}

impl WireError {
    pub fn problem(&self) -> Problem {
        self.problem
    }

    /// The protobuf message in which the problem was found (`"Span"`, `"KeyValue"`, ...).
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// The field number concerned; 0 when the field key itself is unreadable.
    pub fn field(&self) -> u32 {
        self.field
    }

    /// Byte offset in the request of the field key where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

fn wire_type_name(wire_type: u8) -> &'static str {
    match wire_type {
        VARINT => "varint",
        I64 => "64-bit",
        LEN => "length-delimited",
        START_GROUP => "start-group",
        END_GROUP => "end-group",
        I32 => "32-bit",
        _ => "invalid",
    }
}

/// `Span.trace_id (field 1)`, `unknown field 99 of Span`, or `Span` when no field is known.
struct Place<'e>(&'e WireError);

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        match (e.field, e.field_name) {
            (0, _) => f.write_str(e.message),
            (n, "") => write!(f, "unknown field {n} of {}", e.message),
            (n, name) => write!(f, "{}.{name} (field {n})", e.message),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = Place(self);
        match self.problem {
            Problem::InvalidVarint => write!(f, "invalid or truncated varint in {place}")?,
            Problem::InvalidKey { key } => write!(f, "field key {key} exceeds 32 bits in {place}")?,
            Problem::InvalidWireType { wire_type, field } => write!(
                f,
                "invalid wire type {wire_type} (field {field}) in {place}"
            )?,
            Problem::FieldZero => write!(f, "field number 0 in {place}")?,
            Problem::WrongWireType { actual, expected } => write!(
                f,
                "{place}: wire type {actual} ({}), expected {expected} ({})",
                wire_type_name(actual),
                wire_type_name(expected)
            )?,
            Problem::Truncated {
                wire_type,
                need,
                left,
            } => write!(
                f,
                "truncated {} {place}: {need} bytes, {left} left in the message",
                wire_type_name(wire_type)
            )?,
            Problem::PackedLength { len, width } => write!(
                f,
                "{place}: packed length {len} is not a multiple of {width}"
            )?,
            Problem::InvalidUtf8 => write!(f, "invalid UTF-8 in {place}")?,
            Problem::UnexpectedEndGroup => write!(f, "unexpected end-group in {place}")?,
            Problem::EndGroupMismatch { found } => {
                write!(f, "group {place} closed by the end-group of field {found}")?
            }
            Problem::UnterminatedGroup => write!(f, "unterminated group {place}")?,
            Problem::IdLength { len, expected } => {
                write!(f, "{place}: {len} bytes, expected {expected} (or none)")?
            }
            Problem::TooDeep => write!(f, "{place}: nested deeper than {MAX_DEPTH} levels")?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for WireError {}

// Wire types (prost `WireType`).
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const I32: u8 = 5;

/// How a field is validated.
#[derive(Clone, Copy)]
enum Kind {
    /// Not in the message: skipped by wire type.
    Unknown,
    /// int32, int64, uint32, uint64, sint32, bool, enum: any valid varint.
    Varint,
    /// fixed32.
    Fixed32,
    /// fixed64, sfixed64, double.
    Fixed64,
    /// bytes.
    Bytes,
    /// string: UTF-8.
    Str,
    /// A trace id (16) or span id (8): bytes of that length or empty.
    Id(usize),
    /// repeated uint64: packed or unpacked.
    RepVarint,
    /// repeated fixed64 or double: packed or unpacked.
    RepFixed64,
    /// A message, optional or repeated.
    Msg(&'static Desc),
    /// A repeated message of which each occurrence is one item.
    Item(&'static Desc),
    /// A message variant of `Metric.data`: a oneof, of which prost keeps the last variant.
    Data(&'static Desc),
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
}

/// A message: its fields indexed by field number.
struct Desc {
    name: &'static str,
    fields: &'static [Field],
}

impl Desc {
    #[inline(always)]
    fn field(&self, tag: u32) -> Field {
        match self.fields.get(tag as usize) {
            Some(f) => *f,
            None => NONE,
        }
    }
}

const NONE: Field = Field {
    name: "",
    kind: Kind::Unknown,
};

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const TRACE_ID: Kind = Kind::Id(16);
const SPAN_ID: Kind = Kind::Id(8);

// ----------------------------------------------------------------------------------------
// The schema: opentelemetry-proto 0.33.1, `src/proto/tonic/opentelemetry.proto.*.rs`.
// Index = field number; gaps (reserved or absent numbers) are NONE.

// collector.trace.v1 / trace.v1
static TRACE_REQUEST: Desc = Desc {
    name: "ExportTraceServiceRequest",
    fields: &[NONE, f("resource_spans", Kind::Msg(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Desc = Desc {
    name: "ResourceSpans",
    fields: &[
        NONE,
        f("resource", Kind::Msg(&RESOURCE)),
        f("scope_spans", Kind::Msg(&SCOPE_SPANS)),
        f("schema_url", Kind::Str),
    ],
};
static SCOPE_SPANS: Desc = Desc {
    name: "ScopeSpans",
    fields: &[
        NONE,
        f("scope", Kind::Msg(&SCOPE)),
        f("spans", Kind::Item(&SPAN)),
        f("schema_url", Kind::Str),
    ],
};
static SPAN: Desc = Desc {
    name: "Span",
    fields: &[
        NONE,
        f("trace_id", TRACE_ID),
        f("span_id", SPAN_ID),
        f("trace_state", Kind::Str),
        f("parent_span_id", SPAN_ID),
        f("name", Kind::Str),
        f("kind", Kind::Varint),
        f("start_time_unix_nano", Kind::Fixed64),
        f("end_time_unix_nano", Kind::Fixed64),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("dropped_attributes_count", Kind::Varint),
        f("events", Kind::Msg(&SPAN_EVENT)),
        f("dropped_events_count", Kind::Varint),
        f("links", Kind::Msg(&SPAN_LINK)),
        f("dropped_links_count", Kind::Varint),
        f("status", Kind::Msg(&STATUS)),
        f("flags", Kind::Fixed32),
    ],
};
static SPAN_EVENT: Desc = Desc {
    name: "Span.Event",
    fields: &[
        NONE,
        f("time_unix_nano", Kind::Fixed64),
        f("name", Kind::Str),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("dropped_attributes_count", Kind::Varint),
    ],
};
static SPAN_LINK: Desc = Desc {
    name: "Span.Link",
    fields: &[
        NONE,
        f("trace_id", TRACE_ID),
        f("span_id", SPAN_ID),
        f("trace_state", Kind::Str),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("dropped_attributes_count", Kind::Varint),
        f("flags", Kind::Fixed32),
    ],
};
static STATUS: Desc = Desc {
    name: "Status",
    // Field 1 is reserved.
    fields: &[NONE, NONE, f("message", Kind::Str), f("code", Kind::Varint)],
};

// common.v1 / resource.v1
static RESOURCE: Desc = Desc {
    name: "Resource",
    fields: &[
        NONE,
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("dropped_attributes_count", Kind::Varint),
        f("entity_refs", Kind::Msg(&ENTITY_REF)),
    ],
};
static ENTITY_REF: Desc = Desc {
    name: "EntityRef",
    fields: &[
        NONE,
        f("schema_url", Kind::Str),
        f("type", Kind::Str),
        f("id_keys", Kind::Str),
        f("description_keys", Kind::Str),
    ],
};
static SCOPE: Desc = Desc {
    name: "InstrumentationScope",
    fields: &[
        NONE,
        f("name", Kind::Str),
        f("version", Kind::Str),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("dropped_attributes_count", Kind::Varint),
    ],
};
static KEY_VALUE: Desc = Desc {
    name: "KeyValue",
    fields: &[
        NONE,
        f("key", Kind::Str),
        f("value", Kind::Msg(&ANY_VALUE)),
        f("key_strindex", Kind::Varint),
    ],
};
/// Its fields form the `value` oneof; which variant prost keeps does not matter here.
static ANY_VALUE: Desc = Desc {
    name: "AnyValue",
    fields: &[
        NONE,
        f("string_value", Kind::Str),
        f("bool_value", Kind::Varint),
        f("int_value", Kind::Varint),
        f("double_value", Kind::Fixed64),
        f("array_value", Kind::Msg(&ARRAY_VALUE)),
        f("kvlist_value", Kind::Msg(&KEY_VALUE_LIST)),
        f("bytes_value", Kind::Bytes),
        f("string_value_strindex", Kind::Varint),
    ],
};
static ARRAY_VALUE: Desc = Desc {
    name: "ArrayValue",
    fields: &[NONE, f("values", Kind::Msg(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Desc = Desc {
    name: "KeyValueList",
    fields: &[NONE, f("values", Kind::Msg(&KEY_VALUE))],
};

// collector.logs.v1 / logs.v1
static LOGS_REQUEST: Desc = Desc {
    name: "ExportLogsServiceRequest",
    fields: &[NONE, f("resource_logs", Kind::Msg(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Desc = Desc {
    name: "ResourceLogs",
    fields: &[
        NONE,
        f("resource", Kind::Msg(&RESOURCE)),
        f("scope_logs", Kind::Msg(&SCOPE_LOGS)),
        f("schema_url", Kind::Str),
    ],
};
static SCOPE_LOGS: Desc = Desc {
    name: "ScopeLogs",
    fields: &[
        NONE,
        f("scope", Kind::Msg(&SCOPE)),
        f("log_records", Kind::Item(&LOG_RECORD)),
        f("schema_url", Kind::Str),
    ],
};
static LOG_RECORD: Desc = Desc {
    name: "LogRecord",
    // Field 4 is reserved.
    fields: &[
        NONE,
        f("time_unix_nano", Kind::Fixed64),
        f("severity_number", Kind::Varint),
        f("severity_text", Kind::Str),
        NONE,
        f("body", Kind::Msg(&ANY_VALUE)),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("dropped_attributes_count", Kind::Varint),
        f("flags", Kind::Fixed32),
        f("trace_id", TRACE_ID),
        f("span_id", SPAN_ID),
        f("observed_time_unix_nano", Kind::Fixed64),
        f("event_name", Kind::Str),
    ],
};

// collector.metrics.v1 / metrics.v1
static METRICS_REQUEST: Desc = Desc {
    name: "ExportMetricsServiceRequest",
    fields: &[NONE, f("resource_metrics", Kind::Msg(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Desc = Desc {
    name: "ResourceMetrics",
    fields: &[
        NONE,
        f("resource", Kind::Msg(&RESOURCE)),
        f("scope_metrics", Kind::Msg(&SCOPE_METRICS)),
        f("schema_url", Kind::Str),
    ],
};
static SCOPE_METRICS: Desc = Desc {
    name: "ScopeMetrics",
    fields: &[
        NONE,
        f("scope", Kind::Msg(&SCOPE)),
        f("metrics", Kind::Msg(&METRIC)),
        f("schema_url", Kind::Str),
    ],
};
static METRIC: Desc = Desc {
    name: "Metric",
    // Fields 4, 6 and 8 are reserved.
    fields: &[
        NONE,
        f("name", Kind::Str),
        f("description", Kind::Str),
        f("unit", Kind::Str),
        NONE,
        f("gauge", Kind::Data(&GAUGE)),
        NONE,
        f("sum", Kind::Data(&SUM)),
        NONE,
        f("histogram", Kind::Data(&HISTOGRAM)),
        f("exponential_histogram", Kind::Data(&EXP_HISTOGRAM)),
        f("summary", Kind::Data(&SUMMARY)),
        f("metadata", Kind::Msg(&KEY_VALUE)),
    ],
};
static GAUGE: Desc = Desc {
    name: "Gauge",
    fields: &[NONE, f("data_points", Kind::Item(&NUMBER_POINT))],
};
static SUM: Desc = Desc {
    name: "Sum",
    fields: &[
        NONE,
        f("data_points", Kind::Item(&NUMBER_POINT)),
        f("aggregation_temporality", Kind::Varint),
        f("is_monotonic", Kind::Varint),
    ],
};
static HISTOGRAM: Desc = Desc {
    name: "Histogram",
    fields: &[
        NONE,
        f("data_points", Kind::Item(&HISTOGRAM_POINT)),
        f("aggregation_temporality", Kind::Varint),
    ],
};
static EXP_HISTOGRAM: Desc = Desc {
    name: "ExponentialHistogram",
    fields: &[
        NONE,
        f("data_points", Kind::Item(&EXP_HISTOGRAM_POINT)),
        f("aggregation_temporality", Kind::Varint),
    ],
};
static SUMMARY: Desc = Desc {
    name: "Summary",
    fields: &[NONE, f("data_points", Kind::Item(&SUMMARY_POINT))],
};
static NUMBER_POINT: Desc = Desc {
    name: "NumberDataPoint",
    // Field 1 is reserved; 4 and 6 form the `value` oneof.
    fields: &[
        NONE,
        NONE,
        f("start_time_unix_nano", Kind::Fixed64),
        f("time_unix_nano", Kind::Fixed64),
        f("as_double", Kind::Fixed64),
        f("exemplars", Kind::Msg(&EXEMPLAR)),
        f("as_int", Kind::Fixed64),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("flags", Kind::Varint),
    ],
};
static HISTOGRAM_POINT: Desc = Desc {
    name: "HistogramDataPoint",
    // Field 1 is reserved.
    fields: &[
        NONE,
        NONE,
        f("start_time_unix_nano", Kind::Fixed64),
        f("time_unix_nano", Kind::Fixed64),
        f("count", Kind::Fixed64),
        f("sum", Kind::Fixed64),
        f("bucket_counts", Kind::RepFixed64),
        f("explicit_bounds", Kind::RepFixed64),
        f("exemplars", Kind::Msg(&EXEMPLAR)),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("flags", Kind::Varint),
        f("min", Kind::Fixed64),
        f("max", Kind::Fixed64),
    ],
};
static EXP_HISTOGRAM_POINT: Desc = Desc {
    name: "ExponentialHistogramDataPoint",
    fields: &[
        NONE,
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("start_time_unix_nano", Kind::Fixed64),
        f("time_unix_nano", Kind::Fixed64),
        f("count", Kind::Fixed64),
        f("sum", Kind::Fixed64),
        f("scale", Kind::Varint),
        f("zero_count", Kind::Fixed64),
        f("positive", Kind::Msg(&BUCKETS)),
        f("negative", Kind::Msg(&BUCKETS)),
        f("flags", Kind::Varint),
        f("exemplars", Kind::Msg(&EXEMPLAR)),
        f("min", Kind::Fixed64),
        f("max", Kind::Fixed64),
        f("zero_threshold", Kind::Fixed64),
    ],
};
static BUCKETS: Desc = Desc {
    name: "ExponentialHistogramDataPoint.Buckets",
    fields: &[
        NONE,
        f("offset", Kind::Varint),
        f("bucket_counts", Kind::RepVarint),
    ],
};
static SUMMARY_POINT: Desc = Desc {
    name: "SummaryDataPoint",
    // Field 1 is reserved.
    fields: &[
        NONE,
        NONE,
        f("start_time_unix_nano", Kind::Fixed64),
        f("time_unix_nano", Kind::Fixed64),
        f("count", Kind::Fixed64),
        f("sum", Kind::Fixed64),
        f("quantile_values", Kind::Msg(&QUANTILE)),
        f("attributes", Kind::Msg(&KEY_VALUE)),
        f("flags", Kind::Varint),
    ],
};
static QUANTILE: Desc = Desc {
    name: "SummaryDataPoint.ValueAtQuantile",
    fields: &[
        NONE,
        f("quantile", Kind::Fixed64),
        f("value", Kind::Fixed64),
    ],
};
static EXEMPLAR: Desc = Desc {
    name: "Exemplar",
    // Field 1 is reserved; 3 and 6 form the `value` oneof.
    fields: &[
        NONE,
        NONE,
        f("time_unix_nano", Kind::Fixed64),
        f("as_double", Kind::Fixed64),
        f("span_id", SPAN_ID),
        f("trace_id", TRACE_ID),
        f("as_int", Kind::Fixed64),
        f("filtered_attributes", Kind::Msg(&KEY_VALUE)),
    ],
};

// ----------------------------------------------------------------------------------------
// The scanner.

/// Reads a varint as prost's `decode_varint` does: at most 10 bytes, the 10th at most 1.
/// `None` if invalid or cut off by the end of `b`.
#[inline(always)]
pub(crate) fn varint(b: &mut &[u8]) -> Option<u64> {
    if let Some((&first, rest)) = b.split_first() {
        if first < 0x80 {
            *b = rest;
            return Some(u64::from(first));
        }
    }
    varint_long(b)
}

#[inline(never)]
fn varint_long(b: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in b.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            // Past u64::MAX: protobuf-go's `ConsumeVarint` rule, which prost follows.
            if i == 9 && byte > 1 {
                return None;
            }
            *b = &b[i + 1..];
            return Some(value);
        }
    }
    None
}

/// Whether `p` is UTF-8, with a word-at-a-time pass for the usual all-ASCII string.
#[inline(always)]
fn is_utf8(p: &[u8]) -> bool {
    let word = |w: &[u8]| w.try_into().map_or(u64::MAX, u64::from_ne_bytes);
    let mut chunks = p.chunks_exact(8);
    let mut high = 0u64;
    for chunk in &mut chunks {
        high |= word(chunk);
    }
    if !chunks.remainder().is_empty() {
        // the last eight bytes, overlapping the words above, instead of a byte loop
        high |= match p.len().checked_sub(8) {
            Some(at) => word(&p[at..]),
            None => chunks.remainder().iter().fold(0, |h, &b| h | u64::from(b)),
        };
    }
    high & 0x8080_8080_8080_8080 == 0 || std::str::from_utf8(p).is_ok()
}

/// A payload of a one-byte length `len` at the front of `b`, and what follows it.
#[inline(always)]
fn short(len: u8, b: &[u8]) -> Option<(&[u8], &[u8])> {
    if len < 0x80 {
        b.split_at_checked(usize::from(len))
    } else {
        None
    }
}

/// `b` after an id field of key byte `key` at its front, empty or of `len` bytes; `b`
/// itself otherwise.
#[inline(always)]
fn id_field(b: &[u8], key: u8, len: u8) -> &[u8] {
    if let [k, n, tail @ ..] = b {
        if *k == key && (*n == 0 || *n == len) && tail.len() >= usize::from(*n) {
            return &tail[usize::from(*n)..];
        }
    }
    b
}

/// `b` after a fixed-width field of key byte `key` (`len` bytes) at its front; `b` itself
/// otherwise.
#[inline(always)]
fn fixed_field(b: &[u8], key: u8, len: usize) -> &[u8] {
    if let [k, tail @ ..] = b {
        if *k == key && tail.len() >= len {
            return &tail[len..];
        }
    }
    b
}

/// `b` after a varint field of key byte `key` with a one-byte value at its front; `b`
/// itself otherwise.
#[inline(always)]
fn short_varint(b: &[u8], key: u8) -> &[u8] {
    if let [k, v, tail @ ..] = b {
        if *k == key && *v < 0x80 {
            return tail;
        }
    }
    b
}

/// Whether `v` is an `AnyValue` holding nothing but a `string_value` of any length.
#[inline(always)]
fn string_any_value(v: &[u8]) -> bool {
    if let [0x0a, tail @ ..] = v {
        let mut t = tail;
        if let Some(len) = varint(&mut t) {
            return usize::try_from(len).is_ok_and(|len| len == t.len()) && is_utf8(t);
        }
    }
    false
}

/// `b` after a string field of key byte `key` with a one-byte length at its front, when it
/// is one and its bytes are UTF-8; `b` itself otherwise.
#[inline(always)]
fn short_str(b: &[u8], key: u8) -> &[u8] {
    if let [k, len, tail @ ..] = b {
        if *k == key {
            if let Some((s, after)) = short(*len, tail) {
                if is_utf8(s) {
                    return after;
                }
            }
        }
    }
    b
}

/// Whether `v` is an `AnyValue` with nothing but a `string_value` of a one-byte length, a
/// `bool_value`, an `int_value` or a `double_value`, or nothing at all.
#[inline(always)]
fn simple_any_value(v: &[u8]) -> bool {
    match v {
        [] => true,
        [0x0a, len, s @ ..] => *len < 0x80 && usize::from(*len) == s.len() && is_utf8(s),
        // a varint that ends the value: one byte, or two (a status code, a port) read
        // without the general loop
        [0x10 | 0x18, x] => *x < 0x80,
        [0x10 | 0x18, x, y] => *x >= 0x80 && *y < 0x80,
        [0x10 | 0x18, n @ ..] => {
            let mut n = n;
            varint(&mut n).is_some() && n.is_empty()
        }
        [0x21, d @ ..] => d.len() == 8,
        _ => false,
    }
}

/// Splits `len` bytes off the front of `b`.
#[inline(always)]
pub(crate) fn take<'a>(b: &mut &'a [u8], len: u64) -> Option<&'a [u8]> {
    let (head, tail) = b.split_at_checked(usize::try_from(len).ok()?)?;
    *b = tail;
    Some(head)
}

struct Scanner<'a> {
    /// The whole request, for error offsets.
    base: &'a [u8],
    /// The error behind a `Failed`, kept aside so that results stay two words wide.
    error: Cell<Option<WireError>>,
    /// An unknown field was a group.
    groups: Cell<bool>,
}

/// The scan failed; the error is in `Scanner::error`.
#[derive(Debug)]
struct Failed;

impl<'a> Scanner<'a> {
    #[cold]
    #[inline(never)]
    fn fail(&self, problem: Problem, desc: &'static Desc, tag: u32, at: &[u8]) -> Failed {
        let offset = (at.as_ptr() as usize).saturating_sub(self.base.as_ptr() as usize);
        self.error.set(Some(WireError {
            problem,
            message: desc.name,
            field: tag,
            field_name: desc.field(tag).name,
            offset,
        }));
        Failed
    }

    /// A field key: (field number, wire type).
    #[inline(always)]
    fn key(&self, b: &mut &'a [u8], desc: &'static Desc) -> Result<(u32, u8), Failed> {
        let at = *b;
        let Some(key) = varint(b) else {
            return Err(self.fail(Problem::InvalidVarint, desc, 0, at));
        };
        if key > u64::from(u32::MAX) {
            return Err(self.fail(Problem::InvalidKey { key }, desc, 0, at));
        }
        let wire_type = (key & 7) as u8;
        let tag = key as u32 >> 3;
        if wire_type > I32 {
            let problem = Problem::InvalidWireType {
                wire_type,
                field: tag,
            };
            return Err(self.fail(problem, desc, 0, at));
        }
        if tag == 0 {
            return Err(self.fail(Problem::FieldZero, desc, 0, at));
        }
        Ok((tag, wire_type))
    }

    /// The payload of a length-delimited field whose key has been read.
    #[inline(always)]
    fn payload(
        &self,
        b: &mut &'a [u8],
        desc: &'static Desc,
        tag: u32,
        at: &[u8],
    ) -> Result<&'a [u8], Failed> {
        let Some(len) = varint(b) else {
            return Err(self.fail(Problem::InvalidVarint, desc, tag, at));
        };
        match take(b, len) {
            Some(p) => Ok(p),
            None => Err(self.truncated(LEN, len, b.len(), desc, tag, at)),
        }
    }

    /// `n` bytes of a fixed-width field whose key has been read.
    #[inline(always)]
    fn fixed(
        &self,
        b: &mut &'a [u8],
        n: u64,
        wire_type: u8,
        desc: &'static Desc,
        tag: u32,
        at: &[u8],
    ) -> Result<(), Failed> {
        match take(b, n) {
            Some(_) => Ok(()),
            None => Err(self.truncated(wire_type, n, b.len(), desc, tag, at)),
        }
    }

    #[cold]
    fn truncated(
        &self,
        wire_type: u8,
        need: u64,
        left: usize,
        desc: &'static Desc,
        tag: u32,
        at: &[u8],
    ) -> Failed {
        let problem = Problem::Truncated {
            wire_type,
            need,
            left,
        };
        self.fail(problem, desc, tag, at)
    }

    #[inline(always)]
    fn expect(
        &self,
        actual: u8,
        expected: u8,
        desc: &'static Desc,
        tag: u32,
        at: &[u8],
    ) -> Result<(), Failed> {
        if actual == expected {
            Ok(())
        } else {
            let problem = Problem::WrongWireType { actual, expected };
            Err(self.fail(problem, desc, tag, at))
        }
    }

    /// Validates the fields of one message (`b` is exactly its bytes) at nesting level
    /// `depth`, and returns the number of items in it.
    fn message(&self, mut b: &'a [u8], desc: &'static Desc, depth: u32) -> Result<usize, Failed> {
        let mut items = 0usize;
        // `Metric.data`: the field number of the variant prost would hold, and its items.
        let mut variant = 0u32;
        let mut variant_items = 0usize;
        while !b.is_empty() {
            let at = b;
            let (tag, wire_type) = self.key(&mut b, desc)?;
            match desc.field(tag).kind {
                Kind::Unknown => self.skip(&mut b, wire_type, tag, desc, tag, depth, at)?,
                Kind::Varint => {
                    self.expect(wire_type, VARINT, desc, tag, at)?;
                    if varint(&mut b).is_none() {
                        return Err(self.fail(Problem::InvalidVarint, desc, tag, at));
                    }
                }
                Kind::Fixed64 => {
                    self.expect(wire_type, I64, desc, tag, at)?;
                    self.fixed(&mut b, 8, I64, desc, tag, at)?;
                }
                Kind::Fixed32 => {
                    self.expect(wire_type, I32, desc, tag, at)?;
                    self.fixed(&mut b, 4, I32, desc, tag, at)?;
                }
                Kind::Str => {
                    self.expect(wire_type, LEN, desc, tag, at)?;
                    let p = self.payload(&mut b, desc, tag, at)?;
                    if !is_utf8(p) {
                        return Err(self.fail(Problem::InvalidUtf8, desc, tag, at));
                    }
                }
                Kind::Bytes => {
                    self.expect(wire_type, LEN, desc, tag, at)?;
                    self.payload(&mut b, desc, tag, at)?;
                }
                Kind::Id(expected) => {
                    self.expect(wire_type, LEN, desc, tag, at)?;
                    let len = self.payload(&mut b, desc, tag, at)?.len();
                    if len != 0 && len != expected {
                        let problem = Problem::IdLength { len, expected };
                        return Err(self.fail(problem, desc, tag, at));
                    }
                }
                // prost 0.14 decodes repeated numeric fields from both the packed and the
                // unpacked encoding, whatever the `packed` attribute says.
                Kind::RepVarint => {
                    if wire_type == LEN {
                        let mut p = self.payload(&mut b, desc, tag, at)?;
                        while !p.is_empty() {
                            if varint(&mut p).is_none() {
                                return Err(self.fail(Problem::InvalidVarint, desc, tag, at));
                            }
                        }
                    } else {
                        self.expect(wire_type, VARINT, desc, tag, at)?;
                        if varint(&mut b).is_none() {
                            return Err(self.fail(Problem::InvalidVarint, desc, tag, at));
                        }
                    }
                }
                Kind::RepFixed64 => {
                    if wire_type == LEN {
                        let len = self.payload(&mut b, desc, tag, at)?.len();
                        if len % 8 != 0 {
                            let problem = Problem::PackedLength { len, width: 8 };
                            return Err(self.fail(problem, desc, tag, at));
                        }
                    } else {
                        self.expect(wire_type, I64, desc, tag, at)?;
                        self.fixed(&mut b, 8, I64, desc, tag, at)?;
                    }
                }
                Kind::Msg(inner) => {
                    items += self.nested(&mut b, wire_type, desc, tag, inner, depth, at)?;
                }
                Kind::Item(inner) => {
                    items += 1 + self.nested(&mut b, wire_type, desc, tag, inner, depth, at)?;
                }
                Kind::Data(inner) => {
                    let n = self.nested(&mut b, wire_type, desc, tag, inner, depth, at)?;
                    // prost merges a oneof message variant into the one it holds when the
                    // variant is the same, and replaces it otherwise.
                    if tag == variant {
                        variant_items += n;
                    } else {
                        variant = tag;
                        variant_items = n;
                    }
                }
            }
        }
        Ok(items + variant_items)
    }

    /// A message field of `desc` holding an `inner` message.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn nested(
        &self,
        b: &mut &'a [u8],
        wire_type: u8,
        desc: &'static Desc,
        tag: u32,
        inner: &'static Desc,
        depth: u32,
        at: &[u8],
    ) -> Result<usize, Failed> {
        self.expect(wire_type, LEN, desc, tag, at)?;
        let p = self.payload(b, desc, tag, at)?;
        if depth >= MAX_DEPTH {
            return Err(self.fail(Problem::TooDeep, desc, tag, at));
        }
        if std::ptr::eq(inner, &KEY_VALUE) {
            self.key_value(p, depth + 1)
        } else if std::ptr::eq(inner, &SPAN) {
            self.span(p, depth + 1)
        } else if std::ptr::eq(inner, &LOG_RECORD) {
            self.log_record(p, depth + 1)
        } else {
            self.message(p, inner, depth + 1)
        }
    }

    /// A `KeyValue` at level `depth`, the most frequent message. Its usual encoding, a
    /// `key` then a `value` with a string, int, bool or double, each with a one-byte
    /// length, is checked here directly; the generic loop takes over at the first field
    /// that does not fit that pattern, and reports any error.
    #[inline(always)]
    fn key_value(&self, b: &'a [u8], depth: u32) -> Result<usize, Failed> {
        let mut rest = b;
        if let [0x0a, len, tail @ ..] = rest {
            if let Some((key, tail)) = short(*len, tail) {
                if is_utf8(key) {
                    rest = tail;
                    if let [0x12, len, tail @ ..] = rest {
                        if let Some((value, tail)) = short(*len, tail) {
                            // The AnyValue is one level down.
                            if depth < MAX_DEPTH && simple_any_value(value) {
                                rest = tail;
                            }
                        }
                    }
                }
            }
        }
        // the usual entry ends here: no call for an empty rest
        if rest.is_empty() {
            return Ok(0);
        }
        self.message(rest, &KEY_VALUE, depth)
    }

    /// A `Span` at level `depth`. Encoders write a message's fields in field-number order,
    /// so a span usually starts with its ids, trace state, parent, name, kind, times and
    /// attributes, each with a one-byte length: that run is checked here field after field
    /// with direct comparisons, as the generic loop checks each (the loop's dispatch on the
    /// field's kind was a quarter of the scan's time). Any field may be missing; the generic
    /// loop takes over at the first field that does not fit the pattern (events, links,
    /// status, flags, anything unusual), and reports any error.
    #[inline(always)]
    fn span(&self, b: &'a [u8], depth: u32) -> Result<usize, Failed> {
        // the attributes are one level down
        if depth >= MAX_DEPTH {
            return self.message(b, &SPAN, depth);
        }
        let mut rest = b;
        rest = id_field(rest, 0x0a, 16); // trace_id (1)
        rest = id_field(rest, 0x12, 8); // span_id (2)
        rest = short_str(rest, 0x1a); // trace_state (3)
        rest = id_field(rest, 0x22, 8); // parent_span_id (4)
        rest = short_str(rest, 0x2a); // name (5)
        rest = short_varint(rest, 0x30); // kind (6)
        rest = fixed_field(rest, 0x39, 8); // start_time_unix_nano (7)
        rest = fixed_field(rest, 0x41, 8); // end_time_unix_nano (8)
        rest = self.attributes(rest, 0x4a, depth)?; // attributes (9)
        if rest.is_empty() {
            return Ok(0);
        }
        self.message(rest, &SPAN, depth)
    }

    /// A `LogRecord` at level `depth`, read as [`Scanner::span`] reads a span: its usual run
    /// of fields (times, severity, body, attributes, flags, ids, event name) checked one
    /// after the other, any of them missing, a body string of any length; the generic loop
    /// takes over at the first field that does not fit.
    #[inline(always)]
    fn log_record(&self, b: &'a [u8], depth: u32) -> Result<usize, Failed> {
        // the body and the attributes are one level down
        if depth >= MAX_DEPTH {
            return self.message(b, &LOG_RECORD, depth);
        }
        let mut rest = b;
        rest = fixed_field(rest, 0x09, 8); // time_unix_nano (1)
        rest = short_varint(rest, 0x10); // severity_number (2)
        rest = short_str(rest, 0x1a); // severity_text (3)

        // body (5)
        if let [0x2a, tail @ ..] = rest {
            let mut t = tail;
            if let Some(body) = varint(&mut t).and_then(|len| take(&mut t, len)) {
                if string_any_value(body) || simple_any_value(body) {
                    rest = t;
                }
            }
        }
        rest = self.attributes(rest, 0x32, depth)?; // attributes (6)
        rest = short_varint(rest, 0x38); // dropped_attributes_count (7)
        rest = fixed_field(rest, 0x45, 4); // flags (8)
        rest = id_field(rest, 0x4a, 16); // trace_id (9)
        rest = id_field(rest, 0x52, 8); // span_id (10)
        rest = fixed_field(rest, 0x59, 8); // observed_time_unix_nano (11)
        rest = short_str(rest, 0x62); // event_name (12)
        if rest.is_empty() {
            return Ok(0);
        }
        self.message(rest, &LOG_RECORD, depth)
    }

    /// `b` after the run of attribute entries of key byte `key` at its front, each with a
    /// one-byte length, checked as `KeyValue`s one level below `depth` (which the caller
    /// made sure is allowed).
    #[inline(always)]
    fn attributes(&self, mut b: &'a [u8], key: u8, depth: u32) -> Result<&'a [u8], Failed> {
        while let [k, len, tail @ ..] = b {
            if *k != key {
                break;
            }
            let Some((kv, after)) = short(*len, tail) else {
                break;
            };
            self.key_value(kv, depth + 1)?;
            b = after;
        }
        Ok(b)
    }

    /// Skips an unknown field `tag` whose key has been read, as prost's `skip_field` does.
    /// Errors are reported at field `report` of `desc`: `tag` itself, or the group that
    /// encloses it.
    #[allow(clippy::too_many_arguments)]
    fn skip(
        &self,
        b: &mut &'a [u8],
        wire_type: u8,
        tag: u32,
        desc: &'static Desc,
        report: u32,
        depth: u32,
        at: &[u8],
    ) -> Result<(), Failed> {
        match wire_type {
            VARINT => {
                if varint(b).is_none() {
                    return Err(self.fail(Problem::InvalidVarint, desc, report, at));
                }
            }
            I64 => self.fixed(b, 8, I64, desc, report, at)?,
            LEN => {
                self.payload(b, desc, report, at)?;
            }
            I32 => self.fixed(b, 4, I32, desc, report, at)?,
            START_GROUP => {
                if depth >= MAX_DEPTH {
                    return Err(self.fail(Problem::TooDeep, desc, report, at));
                }
                self.groups.set(true);
                // The group's fields, all unknown, up to the end-group of the same field
                // number.
                loop {
                    if b.is_empty() {
                        return Err(self.fail(Problem::UnterminatedGroup, desc, report, at));
                    }
                    let (inner_tag, inner_wire_type) = self.key(b, desc)?;
                    if inner_wire_type == END_GROUP {
                        if inner_tag != tag {
                            let problem = Problem::EndGroupMismatch { found: inner_tag };
                            return Err(self.fail(problem, desc, report, at));
                        }
                        break;
                    }
                    self.skip(b, inner_wire_type, inner_tag, desc, report, depth + 1, at)?;
                }
            }
            _ => return Err(self.fail(Problem::UnexpectedEndGroup, desc, report, at)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
