//! OTLP/JSON trace and logs requests written straight into their protobuf encoding, in one
//! pass over the JSON with no tree and no decoded structs: the batch then stays in the wire
//! form, as a protobuf request does.
//!
//! [`transcode`] takes what the usual payloads hold, with the same meaning
//! [`super::json::decode`] gives it: keys in `lowerCamelCase` or `snake_case`, `null` for a
//! field's default, enums by name or number, 32-bit integers as numbers or (trimmed) strings,
//! 64-bit ones as numbers or strings, hex trace and span ids of their lengths (or empty),
//! base64 bytes values, unknown fields skipped; missing keys and lists are empty, as Go's
//! unmarshaller leaves them. Anything else (a key twice, two values in one `AnyValue`,
//! entity references, a `null` in a list, a number where that path would refuse it or read
//! it otherwise...) gives `None`, and the caller decodes with
//! [`super::json::decode`], which gives the answer, or the error, it always gave. So the
//! protobuf written here decodes to what that path decodes; the tests hold both paths to it.
//! Fields are written in the order the JSON holds them, which protobuf allows.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use pipeline_api::Signal;

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
}

struct Field {
    /// The `lowerCamelCase` name.
    name: &'static str,
    number: u32,
    kind: Kind,
}

/// A message: its fields.
struct Desc {
    fields: &'static [Field],
}

const fn f(name: &'static str, number: u32, kind: Kind) -> Field {
    Field { name, number, kind }
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

/// The protobuf encoding of an OTLP/JSON trace or logs request, when the JSON is of the
/// shapes this module takes; `None` otherwise (metrics included), for the decoding path.
pub fn transcode(signal: Signal, body: &[u8]) -> Option<Vec<u8>> {
    let root = match signal {
        Signal::Traces => &TRACE_REQUEST,
        Signal::Logs => &LOGS_REQUEST,
        Signal::Metrics => return None,
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

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

fn put_bytes(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
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

/// Start a length-delimited field whose length is not known yet: its key and a one-byte
/// length, patched by [`close`].
fn open(out: &mut Vec<u8>, number: u32) -> usize {
    put_key(out, number, 2);
    out.push(0);
    out.len()
}

/// Write the length of the field [`open`] started at `start`, moving its payload when the
/// length takes more than one byte.
fn close(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
        return;
    }
    let (mut head, mut n, mut v) = ([0u8; 10], 0, len as u64);
    while v >= 0x80 {
        head[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    head[n] = v as u8;
    let extra = n;
    out.resize(out.len() + extra, 0);
    out.copy_within(start..start + len, start + extra);
    out[start - 1..=start - 1 + n].copy_from_slice(&head[..=n]);
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
        let mut seen = 0u64;
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
            map.next_value_seed(Value {
                field,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
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
                    put_key(self.out, number, 1);
                    self.out.extend_from_slice(&n.to_le_bytes());
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

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Err(not_here())
    }

    fn visit_u64<E: de::Error>(mut self, n: u64) -> Result<bool, E> {
        let ok = match self.field.kind {
            Kind::Fixed64 => {
                self.number(n);
                true
            }
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
            _ => false,
        };
        if ok {
            Ok(true)
        } else {
            Err(not_here())
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Err(not_here())
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
            Kind::Msg(_) | Kind::List(_) | Kind::Any | Kind::Refuse => false,
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
        let start = open(self.out, self.field.number);
        Message {
            desc,
            out: &mut *self.out,
        }
        .visit_map(map)?;
        close(self.out, start);
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let desc = match self.field.kind {
            Kind::List(desc) => desc,
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
        let start = open(self.out, self.number);
        Message {
            desc: self.desc,
            out: &mut *self.out,
        }
        .visit_map(map)?;
        close(self.out, start);
        Ok(())
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
                put_key(self.out, 4, 1);
                self.out.extend_from_slice(&(n as f64).to_le_bytes());
            }
            _ => return Err(not_here()),
        }
        Ok(true)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<bool, E> {
        match (self.kind, i64::try_from(n)) {
            (AnyKind::Int, Ok(n)) => self.visit_i64(n),
            (AnyKind::Double, _) => {
                put_key(self.out, 4, 1);
                self.out.extend_from_slice(&(n as f64).to_le_bytes());
                Ok(true)
            }
            _ => Err(not_here()),
        }
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<bool, E> {
        let AnyKind::Double = self.kind else {
            return Err(not_here());
        };
        put_key(self.out, 4, 1);
        self.out.extend_from_slice(&n.to_le_bytes());
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
        let start = open(self.out, number);
        Message {
            desc,
            out: &mut *self.out,
        }
        .visit_map(map)?;
        close(self.out, start);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::otlp::json::decode;
    use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use pipeline_api::testing::random::{self, Rng};
    use pipeline_api::BatchData;

    /// What the protobuf written here decodes to.
    fn decoded(signal: Signal, bytes: &[u8]) -> BatchData {
        match signal {
            Signal::Traces => BatchData::Traces(ExportTraceServiceRequest::decode(bytes).unwrap()),
            Signal::Logs => BatchData::Logs(ExportLogsServiceRequest::decode(bytes).unwrap()),
            Signal::Metrics => unreachable!(),
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

    /// Random trace and logs requests as the OTLP/JSON encoder writes them, again with
    /// `snake_case` keys, and as serde writes the structs: the protobuf written here decodes
    /// to what the decoding path gives, and all are taken here.
    #[test]
    fn random_requests_decode_alike() {
        let (mut taken, mut left) = (0, 0);
        for signal in [Signal::Traces, Signal::Logs] {
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
        assert_eq!((taken, left), (2_400, 0));
    }

    /// The specification's example payloads.
    #[test]
    fn the_specification_examples_decode_alike() {
        for (name, signal) in [
            ("trace.json", Signal::Traces),
            ("events.json", Signal::Logs),
            ("logs.json", Signal::Logs),
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
        assert!(transcode(Signal::Metrics, b"{}").is_none());
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
