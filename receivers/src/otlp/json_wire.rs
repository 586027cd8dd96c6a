//! OTLP/JSON export requests written straight into their protobuf encoding, in one
//! pass over the JSON with no tree and no decoded structs: the batch then stays in the wire
//! form, as a protobuf request does.
//!
//! [`transcode`] takes what the usual payloads hold, with the same meaning
//! [`super::json::decode`] gives it: keys in `lowerCamelCase` or `snake_case`, `null` for a
//! field's default, enums by name or number, 32-bit integers as numbers or (trimmed) strings,
//! 64-bit ones as numbers or strings, hex trace and span ids of their lengths (or empty),
//! base64 bytes values, unknown fields skipped; missing keys and lists are empty, as Go's
//! unmarshaller leaves them; doubles as numbers. Anything else (a key twice, two values in
//! one `AnyValue` or two fields of one oneof, a double as a string, entity references, a `null` in a list, a number where that path would refuse it or read
//! it otherwise...) gives `None`, and the caller decodes with
//! [`super::json::decode`], which gives the answer, or the error, it always gave. So the
//! protobuf written here decodes to what that path decodes; the tests hold both paths to it.
//! Fields are written in the order the JSON holds them, which protobuf allows.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use pipeline_api::Signal;

use crate::proto_write::{close, open, put_bytes, put_fixed64, put_key, put_varint};

/// How a field's JSON value is written.
#[derive(Clone, Copy)]
enum Kind {
    /// `string`.
    Str,
    /// Hex bytes of this many bytes (a trace or span id), or empty.
    Hex(usize),
    /// `fixed64`, from a number or a string.
    Fixed64,
    /// `fixed32`, from a number or a trimmed string.
    Fixed32,
    /// `uint32`, from a number or a trimmed string.
    Uint32,
    /// An enum (`int32`), from a number, a trimmed string of one, or a value name of the
    /// enum of this field (see the decoding path's `enum_number`).
    Enum(&'static str),
    /// A message.
    Msg(&'static Desc),
    /// A repeated message: a JSON array of objects.
    List(&'static Desc),
    /// An `AnyValue`.
    Any,
    /// A field the decoding path reads and this module does not take.
    Refuse,
    /// `double`, from a number.
    Double,
    /// An `optional double`, or one in a oneof: written even when zero.
    OptDouble,
    /// `sfixed64` in a oneof (a data point's `asInt`), from a number or a string.
    Sfixed64,
    /// `sint32`, from a number or a trimmed string.
    Sint32,
    /// `bool`.
    Bool,
    /// A packed repeated field: a JSON array of these elements.
    Packed(Elem),
}

/// The elements of a packed repeated field.
#[derive(Clone, Copy)]
enum Elem {
    /// `fixed64`, from a number or a string.
    Fixed64,
    /// `uint64`, from a number or a string.
    Uint64,
    /// `double`, from a number.
    Double,
}

struct Field {
    /// The `lowerCamelCase` name.
    name: &'static str,
    number: u32,
    kind: Kind,
    /// Whether it is one of its message's oneof (at most one is taken here).
    oneof: bool,
}

/// A message: its fields.
struct Desc {
    fields: &'static [Field],
}

const fn f(name: &'static str, number: u32, kind: Kind) -> Field {
    Field {
        name,
        number,
        kind,
        oneof: false,
    }
}

/// A field of its message's oneof.
const fn o(name: &'static str, number: u32, kind: Kind) -> Field {
    Field {
        name,
        number,
        kind,
        oneof: true,
    }
}

static KEY_VALUE: Desc = Desc {
    fields: &[
        f("key", 1, Kind::Str),
        f("value", 2, Kind::Any),
        f("keyStrindex", 3, Kind::Refuse),
    ],
};
static ARRAY_VALUE: Desc = Desc {
    fields: &[f("values", 1, Kind::List(&ANY_VALUE_ITEM))],
};
/// An `AnyValue` as an element of a list (written by [`Kind::Any`]'s visitor).
static ANY_VALUE_ITEM: Desc = Desc { fields: &[] };
static KEY_VALUE_LIST: Desc = Desc {
    fields: &[f("values", 1, Kind::List(&KEY_VALUE))],
};
static RESOURCE: Desc = Desc {
    fields: &[
        f("attributes", 1, Kind::List(&KEY_VALUE)),
        f("droppedAttributesCount", 2, Kind::Uint32),
        f("entityRefs", 3, Kind::Refuse),
    ],
};
static SCOPE: Desc = Desc {
    fields: &[
        f("name", 1, Kind::Str),
        f("version", 2, Kind::Str),
        f("attributes", 3, Kind::List(&KEY_VALUE)),
        f("droppedAttributesCount", 4, Kind::Uint32),
    ],
};
static TRACE_REQUEST: Desc = Desc {
    fields: &[f("resourceSpans", 1, Kind::List(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Desc = Desc {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeSpans", 2, Kind::List(&SCOPE_SPANS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_SPANS: Desc = Desc {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("spans", 2, Kind::List(&SPAN)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SPAN: Desc = Desc {
    fields: &[
        f("traceId", 1, Kind::Hex(16)),
        f("spanId", 2, Kind::Hex(8)),
        f("traceState", 3, Kind::Str),
        f("parentSpanId", 4, Kind::Hex(8)),
        f("flags", 16, Kind::Fixed32),
        f("name", 5, Kind::Str),
        f("kind", 6, Kind::Enum("kind")),
        f("startTimeUnixNano", 7, Kind::Fixed64),
        f("endTimeUnixNano", 8, Kind::Fixed64),
        f("attributes", 9, Kind::List(&KEY_VALUE)),
        f("droppedAttributesCount", 10, Kind::Uint32),
        f("events", 11, Kind::List(&EVENT)),
        f("droppedEventsCount", 12, Kind::Uint32),
        f("links", 13, Kind::List(&LINK)),
        f("droppedLinksCount", 14, Kind::Uint32),
        f("status", 15, Kind::Msg(&STATUS)),
    ],
};
static EVENT: Desc = Desc {
    fields: &[
        f("timeUnixNano", 1, Kind::Fixed64),
        f("name", 2, Kind::Str),
        f("attributes", 3, Kind::List(&KEY_VALUE)),
        f("droppedAttributesCount", 4, Kind::Uint32),
    ],
};
static LINK: Desc = Desc {
    fields: &[
        f("traceId", 1, Kind::Hex(16)),
        f("spanId", 2, Kind::Hex(8)),
        f("traceState", 3, Kind::Str),
        f("attributes", 4, Kind::List(&KEY_VALUE)),
        f("droppedAttributesCount", 5, Kind::Uint32),
        f("flags", 6, Kind::Fixed32),
    ],
};
static STATUS: Desc = Desc {
    fields: &[f("message", 2, Kind::Str), f("code", 3, Kind::Enum("code"))],
};
static LOGS_REQUEST: Desc = Desc {
    fields: &[f("resourceLogs", 1, Kind::List(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Desc = Desc {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeLogs", 2, Kind::List(&SCOPE_LOGS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_LOGS: Desc = Desc {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("logRecords", 2, Kind::List(&LOG_RECORD)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static LOG_RECORD: Desc = Desc {
    fields: &[
        f("timeUnixNano", 1, Kind::Fixed64),
        f("observedTimeUnixNano", 11, Kind::Fixed64),
        f("severityNumber", 2, Kind::Enum("severityNumber")),
        f("severityText", 3, Kind::Str),
        f("body", 5, Kind::Any),
        f("attributes", 6, Kind::List(&KEY_VALUE)),
        f("droppedAttributesCount", 7, Kind::Uint32),
        f("flags", 8, Kind::Fixed32),
        f("traceId", 9, Kind::Hex(16)),
        f("spanId", 10, Kind::Hex(8)),
        f("eventName", 12, Kind::Str),
    ],
};

static METRICS_REQUEST: Desc = Desc {
    fields: &[f("resourceMetrics", 1, Kind::List(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Desc = Desc {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeMetrics", 2, Kind::List(&SCOPE_METRICS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_METRICS: Desc = Desc {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("metrics", 2, Kind::List(&METRIC)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static METRIC: Desc = Desc {
    fields: &[
        f("name", 1, Kind::Str),
        f("description", 2, Kind::Str),
        f("unit", 3, Kind::Str),
        o("gauge", 5, Kind::Msg(&GAUGE)),
        o("sum", 7, Kind::Msg(&SUM)),
        o("histogram", 9, Kind::Msg(&HISTOGRAM)),
        o("exponentialHistogram", 10, Kind::Msg(&EXP_HISTOGRAM)),
        o("summary", 11, Kind::Msg(&SUMMARY)),
        f("metadata", 12, Kind::List(&KEY_VALUE)),
    ],
};
static GAUGE: Desc = Desc {
    fields: &[f("dataPoints", 1, Kind::List(&NUMBER_POINT))],
};
static SUM: Desc = Desc {
    fields: &[
        f("dataPoints", 1, Kind::List(&NUMBER_POINT)),
        f(
            "aggregationTemporality",
            2,
            Kind::Enum("aggregationTemporality"),
        ),
        f("isMonotonic", 3, Kind::Bool),
    ],
};
static HISTOGRAM: Desc = Desc {
    fields: &[
        f("dataPoints", 1, Kind::List(&HISTOGRAM_POINT)),
        f(
            "aggregationTemporality",
            2,
            Kind::Enum("aggregationTemporality"),
        ),
    ],
};
static EXP_HISTOGRAM: Desc = Desc {
    fields: &[
        f("dataPoints", 1, Kind::List(&EXP_HISTOGRAM_POINT)),
        f(
            "aggregationTemporality",
            2,
            Kind::Enum("aggregationTemporality"),
        ),
    ],
};
static SUMMARY: Desc = Desc {
    fields: &[f("dataPoints", 1, Kind::List(&SUMMARY_POINT))],
};
static NUMBER_POINT: Desc = Desc {
    fields: &[
        f("attributes", 7, Kind::List(&KEY_VALUE)),
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        o("asDouble", 4, Kind::OptDouble),
        o("asInt", 6, Kind::Sfixed64),
        f("exemplars", 5, Kind::List(&EXEMPLAR)),
        f("flags", 8, Kind::Uint32),
    ],
};
static HISTOGRAM_POINT: Desc = Desc {
    fields: &[
        f("attributes", 9, Kind::List(&KEY_VALUE)),
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::OptDouble),
        f("bucketCounts", 6, Kind::Packed(Elem::Fixed64)),
        f("explicitBounds", 7, Kind::Packed(Elem::Double)),
        f("exemplars", 8, Kind::List(&EXEMPLAR)),
        f("flags", 10, Kind::Uint32),
        f("min", 11, Kind::OptDouble),
        f("max", 12, Kind::OptDouble),
    ],
};
static EXP_HISTOGRAM_POINT: Desc = Desc {
    fields: &[
        f("attributes", 1, Kind::List(&KEY_VALUE)),
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::OptDouble),
        f("scale", 6, Kind::Sint32),
        f("zeroCount", 7, Kind::Fixed64),
        f("positive", 8, Kind::Msg(&BUCKETS)),
        f("negative", 9, Kind::Msg(&BUCKETS)),
        f("flags", 10, Kind::Uint32),
        f("exemplars", 11, Kind::List(&EXEMPLAR)),
        f("min", 12, Kind::OptDouble),
        f("max", 13, Kind::OptDouble),
        f("zeroThreshold", 14, Kind::Double),
    ],
};
static BUCKETS: Desc = Desc {
    fields: &[
        f("offset", 1, Kind::Sint32),
        f("bucketCounts", 2, Kind::Packed(Elem::Uint64)),
    ],
};
static SUMMARY_POINT: Desc = Desc {
    fields: &[
        f("attributes", 7, Kind::List(&KEY_VALUE)),
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("quantileValues", 6, Kind::List(&QUANTILE)),
        f("flags", 8, Kind::Uint32),
    ],
};
static QUANTILE: Desc = Desc {
    fields: &[f("quantile", 1, Kind::Double), f("value", 2, Kind::Double)],
};
static EXEMPLAR: Desc = Desc {
    fields: &[
        f("filteredAttributes", 7, Kind::List(&KEY_VALUE)),
        f("timeUnixNano", 2, Kind::Fixed64),
        o("asDouble", 3, Kind::OptDouble),
        o("asInt", 6, Kind::Sfixed64),
        f("spanId", 4, Kind::Hex(8)),
        f("traceId", 5, Kind::Hex(16)),
    ],
};

/// The protobuf encoding of an OTLP/JSON export request, when the JSON is of the shapes
/// this module takes; `None` otherwise, for the decoding path.
pub fn transcode(signal: Signal, body: &[u8]) -> Option<Vec<u8>> {
    let root = match signal {
        Signal::Traces => &TRACE_REQUEST,
        Signal::Logs => &LOGS_REQUEST,
        Signal::Metrics => &METRICS_REQUEST,
    };
    let mut out = Vec::with_capacity(body.len() / 2);
    let mut de = serde_json::Deserializer::from_slice(body);
    Message {
        desc: root,
        out: &mut out,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

/// Not taken here: the caller decodes instead.
#[derive(Debug)]
struct NotHere;

impl fmt::Display for NotHere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to the decoding path")
    }
}

fn not_here<E: de::Error>() -> E {
    E::custom(NotHere)
}

/// Hex digits (either case) into `to`, two a byte; whether they all were hex digits.
fn unhex(hex: &[u8], to: &mut [u8]) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (pair, byte) in hex.chunks_exact(2).zip(to.iter_mut()) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

/// The `lowerCamelCase` form of a key, as the decoding path makes it (see its `camel`).
fn field<'d>(desc: &'d Desc, key: &str) -> Option<&'d Field> {
    if let Some(f) = desc.fields.iter().find(|f| f.name == key) {
        return Some(f);
    }
    if !key.contains('_') {
        return None;
    }
    let camel = super::json::camel(key)?;
    desc.fields.iter().find(|f| f.name == camel)
}

/// A JSON object written as the message `desc` (its fields appended to `out`).
struct Message<'o> {
    desc: &'static Desc,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Message<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Message<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut seen, mut oneof) = (0u64, false);
        let desc = self.desc;
        while let Some(field) = map.next_key_seed(Key(|key: &str| field(desc, key)))? {
            let Some(field) = field else {
                map.next_value_seed(Skip)?;
                continue;
            };
            let bit = 1u64 << field.number;
            if seen & bit != 0 {
                // the same field twice (perhaps under both spellings)
                return Err(not_here());
            }
            seen |= bit;
            if field.oneof {
                if oneof {
                    // which one the decoding path keeps depends on its map's order
                    return Err(not_here());
                }
                oneof = true;
            }
            map.next_value_seed(Value {
                field,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}

/// A JSON object written as field `number`, a message `desc`.
fn nested<'de, A: MapAccess<'de>>(
    number: u32,
    desc: &'static Desc,
    out: &mut Vec<u8>,
    map: A,
) -> Result<(), A::Error> {
    let start = open(out, number);
    Message {
        desc,
        out: &mut *out,
    }
    .visit_map(map)?;
    close(out, start);
    Ok(())
}

/// One field's JSON value, written as that field.
struct Value<'o> {
    field: &'static Field,
    out: &'o mut Vec<u8>,
}

/// Whether the value was not `null`.
impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl Value<'_> {
    fn number(&mut self, n: u64) {
        let number = self.field.number;
        match self.field.kind {
            Kind::Fixed64 => {
                if n != 0 {
                    put_fixed64(self.out, number, n.to_le_bytes());
                }
            }
            Kind::Fixed32 => {
                if n != 0 {
                    put_key(self.out, number, 5);
                    self.out.extend_from_slice(&(n as u32).to_le_bytes());
                }
            }
            _ => {
                if n != 0 {
                    put_key(self.out, number, 0);
                    put_varint(self.out, n);
                }
            }
        }
    }

    /// An `int32` (an enum), sign-extended as protobuf writes a negative one.
    fn int32(&mut self, n: i64) -> bool {
        let Ok(n) = i32::try_from(n) else {
            return false;
        };
        if n != 0 {
            put_key(self.out, self.field.number, 0);
            put_varint(self.out, i64::from(n) as u64);
        }
        true
    }

    /// A `double`: skipped when zero unless it is optional (or in a oneof).
    fn double(&mut self, v: f64) {
        if v != 0.0 || matches!(self.field.kind, Kind::OptDouble) {
            put_fixed64(self.out, self.field.number, v.to_le_bytes());
        }
    }

    /// An `sfixed64` of a oneof (always written) or a `sint32` (skipped when zero).
    fn signed(&mut self, n: i64) -> bool {
        match self.field.kind {
            Kind::Sfixed64 => {
                put_fixed64(self.out, self.field.number, n.to_le_bytes());
                true
            }
            Kind::Sint32 => {
                let Ok(n) = i32::try_from(n) else {
                    return false;
                };
                if n != 0 {
                    put_key(self.out, self.field.number, 0);
                    put_varint(self.out, u64::from(((n << 1) ^ (n >> 31)) as u32));
                }
                true
            }
            _ => false,
        }
    }

    /// A 32-bit unsigned field (`uint32`, `fixed32`).
    fn uint32(&mut self, n: i64) -> bool {
        if u32::try_from(n).is_err() {
            return false;
        }
        self.number(n as u64);
        true
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OTLP/JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        // `null`: the field's default
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<bool, E> {
        let Kind::Bool = self.field.kind else {
            return Err(not_here());
        };
        if b {
            put_key(self.out, self.field.number, 0);
            self.out.push(1);
        }
        Ok(true)
    }

    fn visit_u64<E: de::Error>(mut self, n: u64) -> Result<bool, E> {
        let ok = match self.field.kind {
            Kind::Fixed64 => {
                self.number(n);
                true
            }
            Kind::Double | Kind::OptDouble => {
                self.double(n as f64);
                true
            }
            Kind::Sfixed64 | Kind::Sint32 => i64::try_from(n).is_ok_and(|n| self.signed(n)),
            Kind::Fixed32 | Kind::Uint32 => i64::try_from(n).is_ok_and(|n| self.uint32(n)),
            Kind::Enum(_) => i64::try_from(n).is_ok_and(|n| self.int32(n)),
            // a default, as serde writes it
            Kind::Refuse => n == 0,
            _ => false,
        };
        if ok {
            Ok(true)
        } else {
            Err(not_here())
        }
    }

    fn visit_i64<E: de::Error>(mut self, n: i64) -> Result<bool, E> {
        let ok = match self.field.kind {
            Kind::Fixed64 => u64::try_from(n).is_ok_and(|n| {
                self.number(n);
                true
            }),
            Kind::Fixed32 | Kind::Uint32 => self.uint32(n),
            Kind::Enum(_) => self.int32(n),
            Kind::Refuse => n == 0,
            Kind::Double | Kind::OptDouble => {
                self.double(n as f64);
                true
            }
            Kind::Sfixed64 | Kind::Sint32 => self.signed(n),
            _ => false,
        };
        if ok {
            Ok(true)
        } else {
            Err(not_here())
        }
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<bool, E> {
        match self.field.kind {
            Kind::Double | Kind::OptDouble => {
                self.double(v);
                Ok(true)
            }
            _ => Err(not_here()),
        }
    }

    fn visit_str<E: de::Error>(mut self, s: &str) -> Result<bool, E> {
        let number = self.field.number;
        let ok = match self.field.kind {
            Kind::Str => {
                if !s.is_empty() {
                    put_bytes(self.out, number, s.as_bytes());
                }
                true
            }
            Kind::Hex(len) => match s.len() {
                0 => true,
                n if n == len * 2 => {
                    let mut bytes = [0u8; 16];
                    let ok = unhex(s.as_bytes(), &mut bytes[..len]);
                    if ok {
                        put_bytes(self.out, number, &bytes[..len]);
                    }
                    ok
                }
                _ => false,
            },
            Kind::Fixed64 => s.parse::<u64>().is_ok_and(|n| {
                self.number(n);
                true
            }),
            Kind::Fixed32 | Kind::Uint32 => s.trim().parse::<i64>().is_ok_and(|n| self.uint32(n)),
            Kind::Enum(field) => match super::json::enum_number(field, s) {
                Some(n) => self.int32(n),
                None => s.trim().parse::<i64>().is_ok_and(|n| self.int32(n)),
            },
            // as the decoding path reads them: `asInt` untrimmed, `scale` and `offset` trimmed
            Kind::Sfixed64 => s.parse::<i64>().is_ok_and(|n| self.signed(n)),
            Kind::Sint32 => s.trim().parse::<i64>().is_ok_and(|n| self.signed(n)),
            _ => false,
        };
        if ok {
            Ok(true)
        } else {
            Err(not_here())
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let desc = match self.field.kind {
            Kind::Msg(desc) => desc,
            Kind::Any => return write_any(self.field.number, self.out, map).map(|()| true),
            _ => return Err(not_here()),
        };
        nested(self.field.number, desc, self.out, map)?;
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let desc = match self.field.kind {
            Kind::List(desc) => desc,
            Kind::Packed(elem) => {
                let field_at = self.out.len();
                let start = open(self.out, self.field.number);
                while seq
                    .next_element_seed(Packed {
                        elem,
                        out: &mut *self.out,
                    })?
                    .is_some()
                {}
                if self.out.len() == start {
                    // prost writes no empty packed field
                    self.out.truncate(field_at);
                } else {
                    close(self.out, start);
                }
                return Ok(true);
            }
            // an empty list of what is not taken here is its default (as serde writes it)
            Kind::Refuse if seq.next_element_seed(Skip)?.is_none() => return Ok(true),
            _ => return Err(not_here()),
        };
        let number = self.field.number;
        while let Some(()) = seq.next_element_seed(Element {
            desc,
            number,
            out: &mut *self.out,
        })? {}
        Ok(true)
    }
}

/// One element of a packed repeated field, appended to its payload.
struct Packed<'o> {
    elem: Elem,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Packed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Packed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        match self.elem {
            Elem::Fixed64 => self.out.extend_from_slice(&n.to_le_bytes()),
            Elem::Uint64 => put_varint(self.out, n),
            Elem::Double => self.out.extend_from_slice(&(n as f64).to_le_bytes()),
        }
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        match (self.elem, u64::try_from(n)) {
            (Elem::Double, _) => self.out.extend_from_slice(&(n as f64).to_le_bytes()),
            (_, Ok(n)) => return self.visit_u64(n),
            _ => return Err(not_here()),
        }
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let Elem::Double = self.elem else {
            return Err(not_here());
        };
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        match self.elem {
            Elem::Fixed64 | Elem::Uint64 => {
                let n = s.parse::<u64>().map_err(|_| not_here::<E>())?;
                self.visit_u64(n)
            }
            Elem::Double => Err(not_here()),
        }
    }
}

/// One element of a repeated message field: an object (a `null` is left to the decoding
/// path, which refuses it).
struct Element<'o> {
    desc: &'static Desc,
    number: u32,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Element<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Element<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if std::ptr::eq(self.desc, &ANY_VALUE_ITEM) {
            return write_any(self.number, self.out, map);
        }
        nested(self.number, self.desc, self.out, map)
    }
}

/// An `AnyValue` object written as field `number`: at most one of its values (as the
/// decoding path keeps one), unknown keys skipped.
fn write_any<'de, A: MapAccess<'de>>(
    number: u32,
    out: &mut Vec<u8>,
    mut map: A,
) -> Result<(), A::Error> {
    let start = open(out, number);
    let mut values = 0;
    while let Some(kind) = map.next_key_seed(Key(any_kind))? {
        let Some(kind) = kind else {
            map.next_value_seed(Skip)?;
            continue;
        };
        let before = out.len();
        let wrote = map.next_value_seed(AnyField {
            kind,
            out: &mut *out,
        })?;
        if wrote {
            values += 1;
            if values > 1 {
                // which one the decoding path keeps depends on its map's order
                return Err(not_here());
            }
        } else {
            out.truncate(before);
        }
    }
    close(out, start);
    Ok(())
}

/// The value an `AnyValue` key names (in either spelling); `None` for a key the decoding
/// path skips.
fn any_kind(key: &str) -> Option<AnyKind> {
    let camel;
    let key = if key.contains('_') {
        camel = super::json::camel(key)?;
        camel.as_str()
    } else {
        key
    };
    Some(match key {
        "stringValue" => AnyKind::Str,
        "boolValue" => AnyKind::Bool,
        "intValue" => AnyKind::Int,
        "doubleValue" => AnyKind::Double,
        "arrayValue" => AnyKind::Message(&ARRAY_VALUE, 5),
        "kvlistValue" => AnyKind::Message(&KEY_VALUE_LIST, 6),
        "bytesValue" => AnyKind::Bytes,
        _ => return None,
    })
}

/// A value skipped, but read as the decoding path reads it: its strings must be UTF-8
/// without lone surrogates (serde's `IgnoredAny` does not look at them).
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry_seed(Skip, Skip)?.is_some() {}
        Ok(())
    }
}

/// An object key read in place (no copy, unless it holds escapes), handed to the function.
struct Key<F>(F);

impl<'de, T, F: FnOnce(&str) -> T> DeserializeSeed<'de> for Key<F> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, T, F: FnOnce(&str) -> T> Visitor<'de> for Key<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<T, E> {
        Ok((self.0)(key))
    }
}

#[derive(Clone, Copy)]
enum AnyKind {
    Str,
    Bool,
    Int,
    Double,
    /// Base64 (the standard alphabet, padded), as the decoding path reads it.
    Bytes,
    Message(&'static Desc, u32),
}

/// One value of an `AnyValue`; whether it set the value (`null` does not).
struct AnyField<'o> {
    kind: AnyKind,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for AnyField<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyField<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AnyValue's value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<bool, E> {
        let AnyKind::Bool = self.kind else {
            return Err(not_here());
        };
        put_key(self.out, 2, 0);
        self.out.push(u8::from(b));
        Ok(true)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<bool, E> {
        match self.kind {
            AnyKind::Int => {
                put_key(self.out, 3, 0);
                put_varint(self.out, n as u64);
            }
            AnyKind::Double => {
                put_fixed64(self.out, 4, (n as f64).to_le_bytes());
            }
            _ => return Err(not_here()),
        }
        Ok(true)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<bool, E> {
        match (self.kind, i64::try_from(n)) {
            (AnyKind::Int, Ok(n)) => self.visit_i64(n),
            (AnyKind::Double, _) => {
                put_fixed64(self.out, 4, (n as f64).to_le_bytes());
                Ok(true)
            }
            _ => Err(not_here()),
        }
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<bool, E> {
        let AnyKind::Double = self.kind else {
            return Err(not_here());
        };
        put_fixed64(self.out, 4, n.to_le_bytes());
        Ok(true)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
        match self.kind {
            AnyKind::Str => put_bytes(self.out, 1, s.as_bytes()),
            AnyKind::Int => {
                let n = s.parse::<i64>().map_err(|_| not_here::<E>())?;
                put_key(self.out, 3, 0);
                put_varint(self.out, n as u64);
            }
            AnyKind::Bytes => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| not_here::<E>())?;
                put_bytes(self.out, 7, &bytes);
            }
            _ => return Err(not_here()),
        }
        Ok(true)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let AnyKind::Message(desc, number) = self.kind else {
            return Err(not_here());
        };
        nested(number, desc, self.out, map)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::otlp::json::decode;
    use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use pipeline_api::testing::random::{self, Rng};
    use pipeline_api::BatchData;

    /// What the protobuf written here decodes to.
    fn decoded(signal: Signal, bytes: &[u8]) -> BatchData {
        match signal {
            Signal::Traces => BatchData::Traces(ExportTraceServiceRequest::decode(bytes).unwrap()),
            Signal::Logs => BatchData::Logs(ExportLogsServiceRequest::decode(bytes).unwrap()),
            Signal::Metrics => {
                BatchData::Metrics(ExportMetricsServiceRequest::decode(bytes).unwrap())
            }
        }
    }

    /// Both paths over `json`: the same request when this one takes it (and whether it
    /// did), and the batch `decode_batch` gives always the decoding path's data or error.
    fn same(signal: Signal, json: &[u8]) -> bool {
        let old = decode(signal, json);
        let fast = transcode(signal, json);
        if let Some(bytes) = &fast {
            let text = String::from_utf8_lossy(json);
            let old = old
                .as_ref()
                .unwrap_or_else(|e| panic!("{e}: taken here: {text}"));
            assert_eq!(&decoded(signal, bytes), old, "{text}");
            assert!(
                pipeline_api::wire::scan(signal, bytes).is_ok(),
                "the scan refuses what was written for {text}"
            );
        }
        match (crate::otlp::json::decode_batch(signal, json), old) {
            (Ok(b), Ok(d)) => {
                assert_eq!(b.is_wire(), fast.is_some());
                assert_eq!(b.data(), &d);
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("{a:?} against {b:?}"),
        }
        fast.is_some()
    }

    /// JSON keys `lowerCamelCase` → `snake_case`, as some clients write them.
    fn snake(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                let old = std::mem::take(m);
                for (k, mut v) in old {
                    snake(&mut v);
                    let mut s = String::new();
                    for c in k.chars() {
                        if c.is_ascii_uppercase() {
                            s.push('_');
                            s.push(c.to_ascii_lowercase());
                        } else {
                            s.push(c);
                        }
                    }
                    m.insert(s, v);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(snake),
            _ => {}
        }
    }

    /// Random requests of every signal as the OTLP/JSON encoder writes them, again with
    /// `snake_case` keys, and as serde writes the structs: the protobuf written here decodes
    /// to what the decoding path gives, and all are taken here.
    #[test]
    fn random_requests_decode_alike() {
        let (mut taken, mut left) = (0, 0);
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            for seed in 0..400u64 {
                let data = random::request(signal, &mut Rng(seed));
                let json = exporters::otlphttp::json::encode(&data);
                let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
                snake(&mut value);
                let snaked = serde_json::to_vec(&value).unwrap();
                // as the structs' serde impls write it (every field, defaults included)
                let serde = match &data {
                    BatchData::Traces(r) => serde_json::to_vec(r),
                    BatchData::Logs(r) => serde_json::to_vec(r),
                    BatchData::Metrics(r) => serde_json::to_vec(r),
                }
                .unwrap();
                for body in [json, snaked, serde] {
                    if same(signal, &body) {
                        taken += 1;
                    } else {
                        left += 1;
                    }
                }
            }
        }
        assert_eq!((taken, left), (3_600, 0));
    }

    /// The specification's example payloads.
    #[test]
    fn the_specification_examples_decode_alike() {
        for (name, signal) in [
            ("trace.json", Signal::Traces),
            ("events.json", Signal::Logs),
            ("logs.json", Signal::Logs),
            ("metrics.json", Signal::Metrics),
        ] {
            let path = format!(
                "{}/../../shared/testdata/otlp-examples/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(same(signal, &json), "{name} left to the decoding path");
        }
    }

    /// What the Node.js SDK sends (its default OTLP/HTTP encoding): bodies captured from
    /// `@opentelemetry/exporter-trace-otlp-http` and `exporter-logs-otlp-http` 0.223.1 with
    /// `sdk-trace-base` 2.12.1 and `sdk-logs` 0.223.1 on Node 20 (`testdata/node-sdk-*.json`: three
    /// spans with string, int, double, bool and array attributes, an event and an error
    /// status; three log records with map bodies). Numbers where Go's encoder writes
    /// strings, `droppedAttributesCount: 0` and the like are all taken here.
    #[test]
    fn the_node_sdk_s_requests_are_taken_and_decode_alike() {
        for (name, signal) in [
            ("node-sdk-traces.json", Signal::Traces),
            ("node-sdk-logs.json", Signal::Logs),
        ] {
            let path = format!("{}/src/otlp/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
            let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(same(signal, &json), "{name} left to the decoding path");
            let batch = crate::otlp::json::decode_batch(signal, &json).unwrap();
            assert_eq!(batch.items(), 3, "{name}");
        }
    }

    /// The shapes the decoding path reads its own way, each left to it (the answer then
    /// is its own, error or data), and the forms taken here that it reads alike.
    #[test]
    fn what_is_left_to_the_decoding_path_and_what_is_taken() {
        let span = |fields: &str| {
            format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{fields}}}]}}]}}]}}"#)
        };
        let attr = |value: &str| span(&format!(r#""attributes":[{{"key":"k","value":{value}}}]"#));
        let left = [
            span(r#""name":"a","name":"b""#),
            span(r#""name":"a","name":null"#),
            span(r#""droppedAttributesCount":1,"dropped_attributes_count":2"#),
            span(r#""name":3"#),
            span(r#""traceId":"0x5b8efff798038103d269b633813fc60c""#),
            span(r#""traceId":"5b8e""#),
            span(r#""spanId":"zzzzzzzzzzzzzzzz""#),
            span(r#""startTimeUnixNano":1.5e18"#),
            span(r#""startTimeUnixNano":" 12""#),
            span(r#""startTimeUnixNano":-1"#),
            span(r#""kind":"SPAN_KIND_NONE""#),
            span(r#""kind":4294967296"#),
            span(r#""droppedAttributesCount":-1"#),
            span(r#""attributes":[null]"#),
            span(r#""attributes":[{"key":"k","keyStrindex":3}]"#),
            span(r#""status":[]"#),
            attr(r#"{"stringValue":"a","boolValue":true}"#),
            attr(r#"{"bytesValue":"aGk"}"#),
            attr(r#"{"intValue":1.5}"#),
            attr(r#"{"intValue":"x"}"#),
            attr(r#"{"intValue":18446744073709551615}"#),
            attr(r#"{"doubleValue":"NaN"}"#),
            attr(r#"{"boolValue":"true"}"#),
            attr(r#"{"arrayValue":{"values":[null]}}"#),
            r#"{"resourceSpans":[{"resource":{"entityRefs":[{}]}}]}"#.to_string(),
            r#"{"resourceSpans":[]} x"#.to_string(),
            r#"[]"#.to_string(),
            r#"{"resourceSpans":{}}"#.to_string(),
        ];
        for json in &left {
            assert!(!same(Signal::Traces, json.as_bytes()), "taken: {json}");
        }
        let taken = [
            span(r#""name":null,"kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR"}"#),
            span(r#""kind":" 3 ","flags":"257","droppedLinksCount":"2","status":{"code":2}"#),
            span(r#""traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"","parentSpanId":null"#),
            span(r#""startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000"#),
            span(r#""unknown":{"a":[1,{"b":null}]},"events":[{"name":"e","time_unix_nano":"5"}]"#),
            span(r#""links":[{"traceId":"5b8efff798038103d269b633813fc60c","flags":1}],"kind":-3"#),
            attr(r#"{"stringValue":""}"#),
            attr(r#"{"string_value":"snake"}"#),
            attr(r#"{"intValue":"-42","unknown":1}"#),
            attr(r#"{"intValue":-42,"doubleValue":null}"#),
            attr(r#"{"doubleValue":3}"#),
            attr(r#"{"doubleValue":-0.25e-3}"#),
            attr(r#"{"boolValue":false}"#),
            attr(r#"{}"#),
            attr(r#"null"#),
            attr(&format!(r#"{{"stringValue":"{}"}}"#, "x".repeat(300))),
            attr(r#"{"arrayValue":{"values":[{"intValue":1},{"kvlistValue":{"values":[{"key":"a","value":{"boolValue":true}}]}}]}}"#),
            attr(r#"{"kvlistValue":{"values":[]}}"#),
            // Go's defaults for what serde's derive would require
            span(r#""attributes":[{"value":{"stringValue":"v"}},{"key":null}]"#),
            attr(r#"{"arrayValue":{}}"#),
            attr(r#"{"kvlistValue":{}}"#),
            attr(r#"{"bytesValue":"aGk="}"#),
            attr(r#"{"bytesValue":""}"#),
            attr(r#"{"kvlistValue":{"values":[{"value":{}}]}}"#),
            r#"{}"#.to_string(),
            // serde's defaults of what is not taken here
            r#"{"resourceSpans":[{"resource":{"entityRefs":[],"attributes":[{"key":"a","keyStrindex":0}]}}]}"#.to_string(),
            r#"{"resource_spans":[{"resource":{"attributes":[],"dropped_attributes_count":"1"},"schema_url":"s"}]}"#.to_string(),
        ];
        for json in &taken {
            assert!(same(Signal::Traces, json.as_bytes()), "left: {json}");
        }
        let log = |fields: &str| {
            format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{{fields}}}]}}]}}]}}"#)
        };
        for json in [
            log(
                r#""severityNumber":"SEVERITY_NUMBER_WARN2","severityText":"w","body":{"stringValue":"b"}"#,
            ),
            log(r#""severity_number":17,"observedTimeUnixNano":"9","eventName":"e","flags":1"#),
            log(
                r#""traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","body":null"#,
            ),
        ] {
            assert!(same(Signal::Logs, json.as_bytes()), "left: {json}");
        }
        assert!(!same(
            Signal::Logs,
            log(r#""severityNumber":"SEVERITY_NUMBER_INFO5""#).as_bytes()
        ));
        let metric = |fields: &str| {
            format!(r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{{fields}}}]}}]}}]}}"#)
        };
        let left = [
            metric(r#""gauge":{},"sum":{}"#),
            metric(r#""gauge":3"#),
            metric(r#""gauge":{"dataPoints":[{"asDouble":1,"asInt":"2"}]}"#),
            metric(r#""gauge":{"dataPoints":[{"asDouble":"NaN"}]}"#),
            metric(r#""gauge":{"dataPoints":[{"asInt":" 2"}]}"#),
            metric(r#""sum":{"isMonotonic":"true"}"#),
            metric(r#""histogram":{"dataPoints":[{"bucketCounts":[1,null]}]}"#),
            metric(r#""histogram":{"dataPoints":[{"bucketCounts":[-1]}]}"#),
            metric(r#""histogram":{"dataPoints":[{"explicitBounds":["1"]}]}"#),
            metric(r#""exponentialHistogram":{"dataPoints":[{"scale":2147483648}]}"#),
        ];
        for json in &left {
            assert!(!same(Signal::Metrics, json.as_bytes()), "taken: {json}");
        }
        for json in [
            metric(
                r#""name":"m","gauge":{"dataPoints":[{"asDouble":0,"timeUnixNano":"1"},{"asInt":0}]}"#,
            ),
            metric(
                r#""sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"asInt":"-7","flags":"1"}]}"#,
            ),
            metric(
                r#""histogram":{"aggregationTemporality":1,"dataPoints":[{"count":"3","sum":0,"bucketCounts":["1",2],"explicitBounds":[0.5,1],"min":-1,"max":2.5}]}"#,
            ),
            metric(r#""histogram":{"dataPoints":[{"bucketCounts":[],"explicitBounds":[]}]}"#),
            metric(
                r#""exponentialHistogram":{"dataPoints":[{"scale":" -3 ","zeroCount":"2","zeroThreshold":0.001,"positive":{"offset":"-2","bucketCounts":["5",6]},"negative":{"offset":300}}]}"#,
            ),
            metric(
                r#""summary":{"dataPoints":[{"count":2,"sum":1.5,"quantileValues":[{"quantile":0.5,"value":1},{"quantile":0,"value":0}]}]}"#,
            ),
            metric(
                r#""gauge":{"dataPoints":[{"asDouble":2,"exemplars":[{"asInt":"3","spanId":"eee19b7ec3c1b174","filteredAttributes":[{"key":"a","value":{"intValue":1}}]}]}]}"#,
            ),
            metric(
                r#""metadata":[{"key":"k","value":{"stringValue":"v"}}],"gauge":null,"unknown":{"x":1}"#,
            ),
        ] {
            assert!(same(Signal::Metrics, json.as_bytes()), "left: {json}");
        }
    }

    /// What the fuzzer found: bytes that are not UTF-8, or a lone surrogate, in a skipped
    /// field are refused by the decoding path, so they are not taken here either.
    #[test]
    fn skipped_fields_are_read_as_the_decoding_path_reads_them() {
        for json in [
            &b"{\"unknown\":{\"valu\xc4\":1}}"[..],
            b"{\"unknown\":\"\\ud800\"}",
            b"{\"resourceSpans\":[{\"x\":[\"\xff\"]}]}",
        ] {
            assert!(
                !same(Signal::Traces, json),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
        assert!(same(
            Signal::Traces,
            b"{\"unknown\":{\"a\":[1,\"\\u00e9\",null,{}]}}"
        ));
    }

    /// A length of more than one byte moves the payload once, to the right place.
    #[test]
    fn long_payloads_get_their_lengths() {
        for n in [126, 127, 128, 16_383, 16_384, 70_000] {
            let mut out = Vec::new();
            let start = open(&mut out, 1);
            out.extend(std::iter::repeat_n(b'x', n));
            close(&mut out, start);
            let mut expected = Vec::new();
            put_bytes(&mut expected, 1, &vec![b'x'; n]);
            assert_eq!(out, expected, "{n}");
        }
    }
}
