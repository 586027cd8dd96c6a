//! Edits applied to the wire form of an export request without decoding the rest of it.
//!
//! [`edit_resources`] rewrites the `resource` of every `ResourceSpans`, `ResourceMetrics` or
//! `ResourceLogs` (field 1 of the request, field 1 inside each: the same numbers for the
//! three signals) and copies every other byte as it is, so a processor that touches only
//! resource attributes (`resource`, `resourcedetection`) costs a few small decodes per
//! request instead of decoding and re-encoding every span, data point and log record.
//!
//! [`edit_item_attributes`] does the same one level down for the attributes of every span,
//! log record or data point: only the attributes an edit touches are decoded, and only the
//! messages that hold a changed list are written anew.
//!
//! The input must be bytes [`crate::wire::scan`] accepted; anything else gives `None` and
//! the caller falls back to decoding.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::attrs::{key_eq, string_len_of, AttrMap};
use crate::ids::Signal;
use crate::wire::{take, varint};

/// One field of a message: its number, wire type and the bytes of its value (for a
/// length-delimited field, the payload without the length); `raw` is the whole field, key
/// included.
pub(crate) struct Field<'a> {
    pub(crate) number: u64,
    pub(crate) wire_type: u64,
    pub(crate) value: &'a [u8],
    pub(crate) raw: &'a [u8],
}

/// The next field of `b`, advancing it; `None` at the end or on anything malformed (groups
/// included: the requests' schema has none, and a skipped unknown group is left to the
/// decoding path).
// inlined everywhere: as a call, its prologue, epilogue and the returned struct cost more
// than reading the field
#[inline(always)]
pub(crate) fn next_field<'a>(b: &mut &'a [u8]) -> Option<Field<'a>> {
    let start = *b;
    let key = varint(b)?;
    let (number, wire_type) = (key >> 3, key & 7);
    let value: &[u8] = match wire_type {
        0 => {
            let before = *b;
            varint(b)?;
            &before[..before.len() - b.len()]
        }
        1 => take(b, 8)?,
        2 => {
            let len = varint(b)?;
            take(b, len)?
        }
        5 => take(b, 4)?,
        _ => return None,
    };
    let raw = &start[..start.len() - b.len()];
    Some(Field {
        number,
        wire_type,
        value,
        raw,
    })
}

/// Append `value` as a varint: one bounds check for the usual one-byte value, one copy
/// from the stack for a longer one (prost's `encode_varint` checks capacity per byte).
#[inline(always)]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut n = 0;
    while value >= 0x80 {
        buf[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    buf[n] = value as u8;
    out.extend_from_slice(&buf[..=n]);
}

/// Append the key and length of length-delimited field `number`.
#[inline(always)]
pub(crate) fn put_len_header(out: &mut Vec<u8>, number: u64, len: usize) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, len as u64);
}

/// Append field `number` as a length-delimited `payload`.
pub(crate) fn put_len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    put_len_header(out, number, payload.len());
    out.extend_from_slice(payload);
}

/// Apply `f` to the resource of every resource entry of the export request in `bytes` (an
/// empty resource where there is none, as the decoded path treats a missing one), keeping
/// everything else byte for byte. `None` when the bytes cannot be walked.
pub fn edit_resources(bytes: &[u8], f: &mut dyn FnMut(&mut Resource)) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 256);
    let mut rest = bytes;
    let mut others: Vec<&[u8]> = Vec::new();
    while !rest.is_empty() {
        let field = next_field(&mut rest)?;
        if field.number != 1 || field.wire_type != 2 {
            out.extend_from_slice(field.raw);
            continue;
        }
        // one Resource{Spans,Metrics,Logs}: the resource (every occurrence merged, as
        // prost merges a repeated message field), then the other fields as they were,
        // written once into `out` behind the entry's new length
        let mut resource = Resource::default();
        others.clear();
        let mut entry = field.value;
        while !entry.is_empty() {
            let f = next_field(&mut entry)?;
            if f.number == 1 && f.wire_type == 2 {
                resource.merge(f.value).ok()?;
            } else {
                others.push(f.raw);
            }
        }
        f(&mut resource);
        let resource_len = resource.encoded_len();
        let others_len: usize = others.iter().map(|o| o.len()).sum();
        let entry_len = header_len(1, resource_len) + resource_len + others_len;
        out.reserve(header_len(1, entry_len) + entry_len);
        put_len_header(&mut out, 1, entry_len);
        put_len_header(&mut out, 1, resource_len);
        resource.encode_raw(&mut out);
        for o in &others {
            out.extend_from_slice(o);
        }
    }
    Some(out)
}

/// One attribute of a [`WireAttrs`]: still the bytes of its `KeyValue`, or replaced.
#[derive(Debug, Clone)]
pub(crate) enum WireKv<'a> {
    /// The encoded `KeyValue` (without its field key and length) and its key's bytes
    /// (UTF-8, which the scan checked; lookups compare bytes, so most keys are never
    /// converted).
    Raw {
        key: &'a [u8],
        payload: &'a [u8],
        /// The whole field, its key and length included: an unchanged entry is copied as
        /// it is, and neighbours as one piece.
        field: &'a [u8],
    },
    /// The key still as its encoded field, the value replaced: for an entry that held its
    /// key field and then at most its value field (as every encoder writes one), which
    /// prost re-encodes as the same key field followed by the new value, so neither the key
    /// nor the old value is decoded.
    Keyed {
        key: &'a [u8],
        key_field: &'a [u8],
        value: AnyValue,
    },
    Owned(KeyValue),
}

/// The attribute list of one span, log record or data point in the wire form: the entries
/// stay bytes until an operation replaces them, so an edit that touches two attributes
/// decodes two values and copies the rest. Operations are [`AttrMap`]'s, with pdata's
/// order semantics, so the list ends in the same order as the decoded path leaves it.
#[derive(Debug, Default)]
pub struct WireAttrs<'a> {
    pub(crate) entries: Vec<WireKv<'a>>,
    pub(crate) changed: bool,
}

impl WireAttrs<'_> {
    /// Whether an operation changed the list.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The plan of the list as field `field` of its item, in order; the encoded length.
    pub(crate) fn plan(&self, field: u64, plan: &mut Plan<'_>) -> usize {
        let mut len = 0;
        for e in &self.entries {
            match e {
                WireKv::Raw { field: raw, .. } => len += plan.input(raw),
                WireKv::Keyed {
                    key_field, value, ..
                } => {
                    let v = value.encoded_len();
                    let n = key_field.len() + header_len(2, v) + v;
                    len += plan.header(field, n) + n;
                    plan.input(key_field);
                    let start = plan.arena.len();
                    put_len_header(&mut plan.arena, 2, v);
                    value.encode_raw(&mut plan.arena);
                    plan.pieces.push(Piece::Arena(start..plan.arena.len()));
                }
                WireKv::Owned(kv) => len += plan.message(field, kv),
            }
        }
        len
    }
}

impl AttrMap for WireAttrs<'_> {
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn key(&self, i: usize) -> &str {
        match &self.entries[i] {
            // checked bytes: the scan refuses a key that is not UTF-8
            WireKv::Raw { key, .. } | WireKv::Keyed { key, .. } => {
                std::str::from_utf8(key).unwrap_or_default()
            }
            WireKv::Owned(kv) => &kv.key,
        }
    }
    fn find(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|e| match e {
            WireKv::Raw { key: k, .. } | WireKv::Keyed { key: k, .. } => key_eq(k, key.as_bytes()),
            WireKv::Owned(kv) => key_eq(kv.key.as_bytes(), key.as_bytes()),
        })
    }
    fn value(&self, i: usize) -> Cow<'_, AnyValue> {
        match &self.entries[i] {
            // checked bytes: the scan guarantees they decode
            WireKv::Raw { payload, .. } => Cow::Owned(raw_value(payload)),
            WireKv::Keyed { value, .. } => Cow::Borrowed(value),
            WireKv::Owned(kv) => match &kv.value {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(AnyValue::default()),
            },
        }
    }
    fn key_bytes(&self, i: usize) -> &[u8] {
        match &self.entries[i] {
            WireKv::Raw { key, .. } | WireKv::Keyed { key, .. } => key,
            WireKv::Owned(kv) => kv.key.as_bytes(),
        }
    }
    fn string_len(&self, i: usize) -> Option<usize> {
        match &self.entries[i] {
            WireKv::Raw { payload, .. } => match raw_string_len(payload) {
                Some(n) => n,
                None => string_len_of(&raw_value(payload)),
            },
            WireKv::Keyed { value, .. } => string_len_of(value),
            WireKv::Owned(kv) => kv.value.as_ref().and_then(string_len_of),
        }
    }
    fn string_len_bound(&self, i: usize) -> usize {
        match &self.entries[i] {
            // the string's bytes lie inside the entry's
            WireKv::Raw { field, .. } => field.len(),
            _ => usize::MAX,
        }
    }
    fn set_value(&mut self, i: usize, value: AnyValue) {
        self.changed = true;
        match &mut self.entries[i] {
            WireKv::Owned(kv) => kv.value = Some(value),
            WireKv::Keyed { value: v, .. } => *v = value,
            WireKv::Raw { key, payload, .. } => {
                if let Some(key_field) = canonical_key_field(payload) {
                    self.entries[i] = WireKv::Keyed {
                        key,
                        key_field,
                        value,
                    };
                    return;
                }
                // decoded whole, so that what else the entry holds stays
                let mut kv = decode_entry(key, payload);
                kv.value = Some(value);
                self.entries[i] = WireKv::Owned(kv);
            }
        }
    }
    fn push(&mut self, key: &str, value: AnyValue) {
        self.changed = true;
        self.entries.push(WireKv::Owned(KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }));
    }
    fn swap_remove(&mut self, i: usize) {
        self.changed = true;
        self.entries.swap_remove(i);
    }
    fn remove_at(&mut self, i: usize) {
        self.changed = true;
        self.entries.remove(i);
    }
}

/// The value of an encoded `KeyValue` (checked bytes: the scan guarantees they decode). A
/// single `value` field is decoded alone; anything else goes through prost, which merges
/// repeated occurrences.
/// For a `KeyValue` laid out as its key field then one value field holding only a string
/// (how every encoder writes a string attribute): `Some(Some(length))`; `Some(None)` when
/// the layout shows a value of another type; `None` when only a decode can tell.
fn raw_string_len(payload: &[u8]) -> Option<Option<usize>> {
    if let Some(s) = short_value(payload).and_then(short_string) {
        return Some(Some(s.len()));
    }
    let mut rest = payload;
    let key = next_field(&mut rest)?;
    if key.number != 1 || key.wire_type != 2 {
        return None;
    }
    if rest.is_empty() {
        // no value field: an empty value
        return Some(None);
    }
    let value = next_field(&mut rest)?;
    if value.number != 2 || value.wire_type != 2 || !rest.is_empty() {
        return None;
    }
    let mut inner = value.value;
    if inner.is_empty() {
        return Some(None);
    }
    let f = next_field(&mut inner)?;
    if !inner.is_empty() {
        return None;
    }
    match (f.number, f.wire_type) {
        (1, 2) => Some(Some(f.value.len())),
        // one field of another member of the oneof
        (2..=7, _) => Some(None),
        _ => None,
    }
}

/// The value field's payload of a `KeyValue` that is its key field then its value field,
/// both with one-byte lengths (how encoders write short attributes).
#[inline(always)]
fn short_value(payload: &[u8]) -> Option<&[u8]> {
    if let [0x0a, n, rest @ ..] = payload {
        let n = usize::from(*n);
        if n < 0x80 && rest.len() > n {
            if let [0x12, m, value @ ..] = &rest[n..] {
                if *m < 0x80 && value.len() == usize::from(*m) {
                    return Some(value);
                }
            }
        }
    }
    None
}

/// The string of an `AnyValue` that is only its string field, with a one-byte length.
#[inline(always)]
fn short_string(value: &[u8]) -> Option<&[u8]> {
    match value {
        [0x0a, n, s @ ..] if *n < 0x80 && s.len() == usize::from(*n) => Some(s),
        _ => None,
    }
}

/// A value read from the wire form: a string or a scalar straight from the bytes, anything
/// else (or any other layout) decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueRef<'v> {
    Str(&'v str),
    Int(i64),
    Double(f64),
    Bool(bool),
    Any(Cow<'v, AnyValue>),
}

impl WireAttrs<'_> {
    /// The value of entry `i`, borrowed from the bytes where its layout is the usual one.
    pub fn value_ref(&self, i: usize) -> ValueRef<'_> {
        if let WireKv::Raw { payload, .. } = &self.entries[i] {
            if let Some(v) = short_value(payload) {
                let mut rest = v;
                if let Some(f) = next_field(&mut rest).filter(|_| rest.is_empty()) {
                    let mut b = f.value;
                    match (f.number, f.wire_type) {
                        (1, 2) => {
                            if let Ok(s) = std::str::from_utf8(f.value) {
                                return ValueRef::Str(s);
                            }
                        }
                        // prost: a bool is any non-zero varint, an int64 the varint's bits
                        (2, 0) => {
                            if let Some(x) = crate::wire::varint(&mut b) {
                                return ValueRef::Bool(x != 0);
                            }
                        }
                        (3, 0) => {
                            if let Some(x) = crate::wire::varint(&mut b) {
                                return ValueRef::Int(x as i64);
                            }
                        }
                        (4, 1) => {
                            if let Ok(bytes) = <[u8; 8]>::try_from(f.value) {
                                return ValueRef::Double(f64::from_le_bytes(bytes));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        ValueRef::Any(self.value(i))
    }

    /// Whether entry `i` holds a value OTTL does not read as nil: any member of the oneof
    /// but `string_value_strindex`. Read from the layout where it is the usual one.
    pub fn value_is_set(&self, i: usize) -> bool {
        if let WireKv::Raw { payload, .. } = &self.entries[i] {
            if let Some(v) = short_value(payload) {
                let mut rest = v;
                match next_field(&mut rest) {
                    None if v.is_empty() => return false,
                    Some(f) if rest.is_empty() && f.number != 8 => return true,
                    _ => {}
                }
            }
        }
        !matches!(
            self.value(i).value,
            None | Some(
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValueStrindex(_)
            )
        )
    }
}

/// An encoded `KeyValue` decoded whole (checked bytes: an entry that does not decode keeps
/// only its key).
pub(crate) fn decode_entry(key: &[u8], payload: &[u8]) -> KeyValue {
    KeyValue::decode(payload).unwrap_or_else(|_| KeyValue {
        key: String::from_utf8_lossy(key).into_owned(),
        ..Default::default()
    })
}

pub(crate) fn raw_value(payload: &[u8]) -> AnyValue {
    if let Some(value) = short_value(payload) {
        if let Some(s) = short_string(value).and_then(|s| std::str::from_utf8(s).ok()) {
            return AnyValue {
                value: Some(
                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                        s.to_owned(),
                    ),
                ),
            };
        }
        return AnyValue::decode(value).unwrap_or_default();
    }
    let mut rest = payload;
    let mut value: Option<&[u8]> = None;
    let mut count = 0;
    while !rest.is_empty() {
        let Some(f) = next_field(&mut rest) else {
            count = usize::MAX;
            break;
        };
        if f.number == 2 {
            value = Some(f.value);
            count += 1;
        }
    }
    match (count, value) {
        (0, _) => AnyValue::default(),
        (1, Some(v)) => AnyValue::decode(v).unwrap_or_default(),
        _ => KeyValue::decode(payload)
            .ok()
            .and_then(|kv| kv.value)
            .unwrap_or_default(),
    }
}

/// The key field of an encoded `KeyValue` that holds a non-empty key field and then at
/// most one value field, nothing else: what prost writes back for it with any new value
/// starts with these bytes. `None` for any other layout (an empty key, which prost would
/// not write back, repeated fields, `key_strindex`, unknown fields).
fn canonical_key_field(payload: &[u8]) -> Option<&[u8]> {
    let mut rest = payload;
    let key = next_field(&mut rest)?;
    // a minimal length too, as prost writes it
    if key.number != 1
        || key.wire_type != 2
        || key.value.is_empty()
        || key.raw.len() != header_len(1, key.value.len()) + key.value.len()
    {
        return None;
    }
    if !rest.is_empty() {
        let value = next_field(&mut rest)?;
        if value.number != 2 || value.wire_type != 2 || !rest.is_empty() {
            return None;
        }
    }
    Some(key.raw)
}

/// The key of an encoded `KeyValue` as prost reads it (the last `key` field wins); `None`
/// when the bytes do not walk. Its UTF-8 is the scan's to check.
pub(crate) fn kv_key(mut payload: &[u8]) -> Option<&[u8]> {
    // the usual layout, a short key field and then a value field with a one-byte length
    // or none, read without the general walk
    if let [0x0a, n, rest @ ..] = payload {
        let n = usize::from(*n);
        if n < 0x80 && rest.len() >= n {
            let (key, after) = rest.split_at(n);
            match after {
                [] => return Some(key),
                [0x12, m, value @ ..] if *m < 0x80 && value.len() == usize::from(*m) => {
                    return Some(key)
                }
                _ => {}
            }
        }
    }
    let mut key: &[u8] = &[];
    while !payload.is_empty() {
        let f = next_field(&mut payload)?;
        if f.number == 1 {
            if f.wire_type != 2 {
                return None;
            }
            key = f.value;
        }
    }
    Some(key)
}

/// Where the attribute lists sit in an export request: a message whose fields lead to
/// items, or an item whose attributes are field `.0`.
enum Node {
    Inner(&'static [(u64, &'static Node)]),
    Item(u64),
}

static SPAN: Node = Node::Item(9);
static SCOPE_SPANS: Node = Node::Inner(&[(2, &SPAN)]);
static RESOURCE_SPANS: Node = Node::Inner(&[(2, &SCOPE_SPANS)]);
static TRACES: Node = Node::Inner(&[(1, &RESOURCE_SPANS)]);

static LOG_RECORD: Node = Node::Item(6);
static SCOPE_LOGS: Node = Node::Inner(&[(2, &LOG_RECORD)]);
static RESOURCE_LOGS: Node = Node::Inner(&[(2, &SCOPE_LOGS)]);
static LOGS: Node = Node::Inner(&[(1, &RESOURCE_LOGS)]);

// data points: number (gauge, sum) and summary points hold attributes in field 7,
// histogram points in 9, exponential histogram points in 1; each kind's points are field 1
static NUMBER_POINT: Node = Node::Item(7);
static HISTOGRAM_POINT: Node = Node::Item(9);
static EXP_HISTOGRAM_POINT: Node = Node::Item(1);
static SUMMARY_POINT: Node = Node::Item(7);
static NUMBER_POINTS: Node = Node::Inner(&[(1, &NUMBER_POINT)]);
static HISTOGRAM_POINTS: Node = Node::Inner(&[(1, &HISTOGRAM_POINT)]);
static EXP_HISTOGRAM_POINTS: Node = Node::Inner(&[(1, &EXP_HISTOGRAM_POINT)]);
static SUMMARY_POINTS: Node = Node::Inner(&[(1, &SUMMARY_POINT)]);
static METRIC: Node = Node::Inner(&[
    (5, &NUMBER_POINTS),
    (7, &NUMBER_POINTS),
    (9, &HISTOGRAM_POINTS),
    (10, &EXP_HISTOGRAM_POINTS),
    (11, &SUMMARY_POINTS),
]);
static SCOPE_METRICS: Node = Node::Inner(&[(2, &METRIC)]);
static RESOURCE_METRICS: Node = Node::Inner(&[(2, &SCOPE_METRICS)]);
static METRICS: Node = Node::Inner(&[(1, &RESOURCE_METRICS)]);

/// One piece of the edited request, in output order: a range of the input copied as it
/// is, the key and length of a length-delimited field, or bytes encoded aside.
pub(crate) enum Piece {
    Input(std::ops::Range<usize>),
    Header { number: u64, len: usize },
    Arena(std::ops::Range<usize>),
}

/// The edited request as pieces: planned first, with every new length known, then written
/// in one pass, so each byte is copied once however deep it sits (an edited span's bytes
/// are not copied again into its scope, its resource and the request).
pub(crate) struct Plan<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) pieces: Vec<Piece>,
    pub(crate) arena: Vec<u8>,
}

impl<'a> Plan<'a> {
    /// A plan over `input` with this thread's kept buffers.
    pub(crate) fn over(input: &'a [u8]) -> Plan<'a> {
        let (mut pieces, mut arena) = PLAN_BUFFERS.take();
        pieces.clear();
        arena.clear();
        Plan {
            input,
            pieces,
            arena,
        }
    }

    /// Keep the buffers for this thread's next plan, unless a large request grew them.
    pub(crate) fn give_back(self) {
        if self.pieces.capacity() <= KEPT_PIECES && self.arena.capacity() <= KEPT_ARENA {
            PLAN_BUFFERS.set((self.pieces, self.arena));
        }
    }

    /// Plan `part` (a sub-slice of the input) copied as it is, joined to the piece before
    /// it when they are adjacent in the input; its length.
    pub(crate) fn input(&mut self, part: &[u8]) -> usize {
        // the offset of a sub-slice of the input, from the addresses
        let start = part.as_ptr() as usize - self.input.as_ptr() as usize;
        let end = start + part.len();
        match self.pieces.last_mut() {
            Some(Piece::Input(r)) if r.end == start => r.end = end,
            _ => self.pieces.push(Piece::Input(start..end)),
        }
        part.len()
    }

    /// Plan `m` encoded aside as field `number`; the bytes it takes.
    pub(crate) fn message(&mut self, number: u64, m: &impl Message) -> usize {
        let n = m.encoded_len();
        let len = self.header(number, n) + n;
        let start = self.arena.len();
        m.encode_raw(&mut self.arena);
        self.pieces.push(Piece::Arena(start..self.arena.len()));
        len
    }

    /// Plan the key and length of a length-delimited field; the bytes they take.
    pub(crate) fn header(&mut self, number: u64, len: usize) -> usize {
        self.pieces.push(Piece::Header { number, len });
        header_len(number, len)
    }

    pub(crate) fn write(&self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        for p in &self.pieces {
            match p {
                Piece::Input(r) => out.extend_from_slice(&self.input[r.clone()]),
                Piece::Header { number, len } => put_len_header(&mut out, *number, *len),
                Piece::Arena(r) => out.extend_from_slice(&self.arena[r.clone()]),
            }
        }
        out
    }
}

/// Bytes taken by the key and length of a length-delimited field of `len` bytes.
pub(crate) fn header_len(number: u64, len: usize) -> usize {
    prost::encoding::encoded_len_varint((number << 3) | 2)
        + prost::encoding::encoded_len_varint(len as u64)
}

/// The walk's state: the plan, and the reusable lists of the item being edited.
struct Walk<'a, 'f> {
    plan: Plan<'a>,
    attrs: WireAttrs<'a>,
    others: Vec<(u64, &'a [u8])>,
    f: &'f mut dyn FnMut(&mut WireAttrs<'_>),
}

impl<'a> Walk<'a, '_> {
    /// Plan the content of `msg` (a `node`): its new length, `None` when nothing in it
    /// changed (and nothing was planned), `Err(())` when the bytes do not walk.
    fn message(&mut self, msg: &'a [u8], node: &Node) -> Result<Option<usize>, ()> {
        match node {
            Node::Item(field) => self.item(msg, *field),
            Node::Inner(children) => {
                let mark = self.plan.pieces.len();
                let mut len = 0;
                let mut changed = false;
                let mut rest = msg;
                while !rest.is_empty() {
                    let f = next_field(&mut rest).ok_or(())?;
                    let child = children
                        .iter()
                        .find(|(n, _)| *n == f.number && f.wire_type == 2)
                        .map(|(_, c)| *c);
                    if let Some(child) = child {
                        let at = self.plan.pieces.len();
                        self.plan.pieces.push(Piece::Header {
                            number: f.number,
                            len: 0,
                        });
                        if let Some(n) = self.message(f.value, child)? {
                            changed = true;
                            self.plan.pieces[at] = Piece::Header {
                                number: f.number,
                                len: n,
                            };
                            len += header_len(f.number, n) + n;
                            continue;
                        }
                        self.plan.pieces.truncate(at);
                    }
                    len += self.plan.input(f.raw);
                }
                if !changed {
                    self.plan.pieces.truncate(mark);
                    return Ok(None);
                }
                Ok(Some(len))
            }
        }
    }

    /// An item: its attributes (field `field`) through the edit; the other fields as they
    /// were, the attributes written where the field order puts them.
    fn item(&mut self, msg: &'a [u8], field: u64) -> Result<Option<usize>, ()> {
        self.attrs.entries.clear();
        self.attrs.changed = false;
        self.others.clear();
        let mut rest = msg;
        while !rest.is_empty() {
            let f = next_field(&mut rest).ok_or(())?;
            if f.number == field && f.wire_type == 2 {
                let key = kv_key(f.value).ok_or(())?;
                // made in place, as the item walk makes its entries
                self.attrs
                    .entries
                    .extend(std::iter::once_with(|| WireKv::Raw {
                        key,
                        payload: f.value,
                        field: f.raw,
                    }));
            } else {
                self.others.push((f.number, f.raw));
            }
        }
        (self.f)(&mut self.attrs);
        if !self.attrs.changed {
            return Ok(None);
        }
        let mut len = 0;
        let mut written = false;
        for &(number, raw) in &self.others {
            if !written && number > field {
                len += self.attrs.plan(field, &mut self.plan);
                written = true;
            }
            len += self.plan.input(raw);
        }
        if !written {
            len += self.attrs.plan(field, &mut self.plan);
        }
        Ok(Some(len))
    }
}

/// Apply `f` to the attributes of every span (traces), log record (logs) or data point
/// (metrics) of the export request in `bytes`, keeping every other byte as it was.
/// `Some(None)`: nothing changed. `None` when the bytes cannot be walked.
///
/// For a request prost encoded, the result is byte for byte what decoding, editing the
/// same lists and encoding with prost gives.
pub fn edit_item_attributes(
    bytes: &[u8],
    signal: Signal,
    f: &mut dyn FnMut(&mut WireAttrs<'_>),
) -> Option<Option<Vec<u8>>> {
    let root = match signal {
        Signal::Traces => &TRACES,
        Signal::Logs => &LOGS,
        Signal::Metrics => &METRICS,
    };
    let mut walk = Walk {
        plan: Plan::over(bytes),
        attrs: WireAttrs::default(),
        others: Vec::new(),
        f,
    };
    let out = match walk.message(bytes, root) {
        Err(()) => None,
        Ok(None) => Some(None),
        Ok(Some(len)) => Some(Some(walk.plan.write(len))),
    };
    walk.plan.give_back();
    out
}

thread_local! {
    /// A plan's buffers, kept on each thread between requests: growing them from empty
    /// for every request was a tenth of the `attributes` processor's instructions.
    static PLAN_BUFFERS: std::cell::Cell<(Vec<Piece>, Vec<u8>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// The largest plan buffers kept between requests (about 1.5 MiB of pieces, 1 MiB of
/// re-encoded attributes); the buffers of a larger request are freed after it.
const KEPT_PIECES: usize = 1 << 16;
const KEPT_ARENA: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn edit(r: &mut Resource) {
        r.attributes.retain(|a| a.key != "drop.me");
        r.attributes.push(kv("env", "prod"));
    }

    /// The wire edit gives what decoding, editing and encoding give, for every signal and
    /// for the spec's example requests (with a resource, without one, several entries).
    #[test]
    fn a_wire_edit_decodes_to_the_decoded_edit() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/otlp-examples"
        );
        let mut checked = 0;
        for (file, signal) in [
            ("trace.json", 't'),
            ("metrics.json", 'm'),
            ("logs.json", 'l'),
            ("events.json", 'l'),
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{file}"))
                .unwrap_or_else(|e| panic!("{dir}/{file}: {e}"));
            macro_rules! check {
                ($ty:ty, $field:ident) => {{
                    let mut req: $ty = serde_json::from_str(&text).unwrap();
                    // a second entry without a resource, and one with a dropped attribute
                    let mut extra = req.$field[0].clone();
                    extra.resource = None;
                    req.$field.push(extra);
                    if let Some(r) = req.$field[0].resource.as_mut() {
                        r.attributes.push(kv("drop.me", "x"));
                    }
                    let wire = req.encode_to_vec();
                    let edited = edit_resources(&wire, &mut edit).unwrap();
                    let mut expected = req.clone();
                    for e in &mut expected.$field {
                        edit(e.resource.get_or_insert_with(Default::default));
                    }
                    assert_eq!(<$ty>::decode(&edited[..]).unwrap(), expected, "{file}");
                    // and byte for byte what prost writes for the decoded edit
                    assert_eq!(edited, expected.encode_to_vec(), "{file}");
                    checked += 1;
                }};
            }
            match signal {
                't' => check!(ExportTraceServiceRequest, resource_spans),
                'm' => check!(ExportMetricsServiceRequest, resource_metrics),
                _ => check!(ExportLogsServiceRequest, resource_logs),
            }
        }
        assert_eq!(
            checked, 4,
            "the spec's examples in ../shared/testdata/otlp-examples"
        );
    }

    /// A value set on an attribute whose `KeyValue` is laid out in any accepted way gives
    /// what prost gives for the same edit: the key field kept as bytes only where the entry
    /// is its key field and then at most its value field (and then byte for byte what prost
    /// writes), the entry decoded whole otherwise.
    #[test]
    fn values_nil_and_string_lengths_read_from_the_layout_agree_with_the_decoded_value() {
        use any_value::Value as V;
        let values = [
            None,
            Some(V::StringValue("abc".into())),
            Some(V::StringValue(String::new())),
            Some(V::StringValue("x".repeat(300))),
            Some(V::StringValueStrindex(3)),
            Some(V::IntValue(0)),
            Some(V::BoolValue(false)),
            Some(V::BytesValue(vec![1, 2])),
            Some(V::IntValue(-7)),
            Some(V::IntValue(i64::MAX)),
            Some(V::BoolValue(true)),
            Some(V::DoubleValue(-0.5)),
            Some(V::StringValue("é".into())),
        ];
        for value in values {
            for with_value in [true, false] {
                let kv = KeyValue {
                    key: "k".repeat(if with_value { 1 } else { 200 }),
                    value: with_value.then(|| AnyValue {
                        value: value.clone(),
                    }),
                    ..Default::default()
                };
                let payload = kv.encode_to_vec();
                let mut field = Vec::new();
                put_len_field(&mut field, 9, &payload);
                let attrs = WireAttrs {
                    entries: vec![WireKv::Raw {
                        key: kv.key.as_bytes(),
                        payload: &payload,
                        field: &field,
                    }],
                    changed: false,
                };
                let decoded = kv.value.clone().unwrap_or_default().value;
                let set = !matches!(decoded, None | Some(V::StringValueStrindex(_)));
                assert_eq!(attrs.value_is_set(0), set, "{kv:?}");
                let len = match &decoded {
                    Some(V::StringValue(s)) => Some(s.len()),
                    _ => None,
                };
                assert_eq!(attrs.string_len(0), len, "{kv:?}");
                assert_eq!(attrs.value(0).value, decoded, "{kv:?}");
                let read = match attrs.value_ref(0) {
                    ValueRef::Str(s) => Some(V::StringValue(s.into())),
                    ValueRef::Int(x) => Some(V::IntValue(x)),
                    ValueRef::Double(x) => Some(V::DoubleValue(x)),
                    ValueRef::Bool(x) => Some(V::BoolValue(x)),
                    ValueRef::Any(v) => v.into_owned().value,
                };
                assert_eq!(read, decoded, "{kv:?}");
            }
        }
    }

    #[test]
    fn a_value_set_on_any_key_value_layout_agrees_with_prost() {
        use crate::wire::scan;
        let field = |n: u64, payload: &[u8]| {
            let mut out = Vec::new();
            put_len_field(&mut out, n, payload);
            out
        };
        let string = |s: &str| {
            AnyValue {
                value: Some(any_value::Value::StringValue(s.into())),
            }
            .encode_to_vec()
        };
        let key = |k: &str| field(1, k.as_bytes());
        let value = |v: &str| field(2, &string(v));
        let layouts: Vec<(&str, Vec<u8>, bool)> = vec![
            ("key, value", [key("k"), value("v")].concat(), true),
            ("key alone", key("k"), true),
            ("value, key", [value("v"), key("k")].concat(), false),
            (
                "key, value, key",
                [key("a"), value("v"), key("k")].concat(),
                false,
            ),
            (
                "key, value, value",
                [key("k"), value("v"), value("w")].concat(),
                false,
            ),
            (
                "key_strindex",
                [key("k"), value("v"), vec![0x18, 0x05]].concat(),
                false,
            ),
            ("empty key", [key(""), value("v")].concat(), false),
            (
                "long key length",
                [vec![0x0a, 0x81, 0x00, b'k'], value("v")].concat(),
                false,
            ),
            (
                "unknown field",
                [key("k"), value("v"), field(9, b"x")].concat(),
                false,
            ),
        ];
        for (name, kv, keyed) in layouts {
            let span = [field(5, b"s"), field(9, &kv)].concat();
            let request = field(1, &field(2, &field(2, &span)));
            scan(Signal::Traces, &request).unwrap_or_else(|e| panic!("{name}: {e}"));
            let new = AnyValue {
                value: Some(any_value::Value::IntValue(7)),
            };
            let mut was_keyed = false;
            let edited = edit_item_attributes(&request, Signal::Traces, &mut |m| {
                m.set_value(0, new.clone());
                was_keyed = matches!(m.entries[0], WireKv::Keyed { .. });
            })
            .expect("walks")
            .expect("changed");
            assert_eq!(was_keyed, keyed, "{name}");
            let mut expected = ExportTraceServiceRequest::decode(&request[..]).unwrap();
            expected.resource_spans[0].scope_spans[0].spans[0].attributes[0].value =
                Some(new.clone());
            let got = ExportTraceServiceRequest::decode(&edited[..]).unwrap();
            assert_eq!(got, expected, "{name}");
            if keyed {
                assert_eq!(edited, expected.encode_to_vec(), "{name}: bytes");
            }
        }
    }

    #[test]
    fn bytes_that_do_not_walk_give_none() {
        // a length running past the end
        assert!(edit_resources(&[0x0a, 0x05, 0x0a], &mut edit).is_none());
        // a group
        assert!(edit_resources(&[0x0b, 0x0c], &mut edit).is_none());
        assert_eq!(edit_resources(&[], &mut edit), Some(Vec::new()));
    }

    /// Random valid requests of every signal, edited through the wire form and through
    /// decoded structs with the same random operations: the encodings are byte for byte
    /// the same, the wire batch stays in its wire form, and one nothing changed keeps its
    /// bytes.
    #[test]
    fn b_item_attribute_edits_in_the_wire_form_are_byte_identical_to_prost() {
        use crate::testing::random::{self, Rng};
        use crate::{Batch, RequestContext};
        let (mut changed, mut unchanged) = (0, 0);
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            for seed in 0..500u64 {
                let data = random::request(signal, &mut Rng(seed));
                let bytes = Batch::new(data.clone(), RequestContext::default()).encode();
                let mut wire =
                    Batch::from_wire(signal, bytes.into(), RequestContext::default()).unwrap();
                let before = wire.clone();
                let mut decoded = Batch::new(data, RequestContext::default());
                wire.edit_item_attributes(|m| random::edit(seed, m));
                decoded.edit_item_attributes(|m| random::edit(seed, m));
                assert!(wire.is_wire(), "{signal} seed {seed}: decoded");
                assert_eq!(
                    wire.encode(),
                    decoded.encode(),
                    "{signal} seed {seed}: the wire edit differs"
                );
                if wire.shares_data_with(&before) {
                    unchanged += 1;
                } else {
                    changed += 1;
                }
            }
        }
        // both outcomes are common enough to mean something
        assert!(changed > 700 && unchanged > 100, "{changed} / {unchanged}");
    }
}
