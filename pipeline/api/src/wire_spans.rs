//! Statements over the spans of a trace export request in its wire form.
//!
//! [`edit_spans`] walks a request [`crate::wire::scan`] accepted and hands a callback each
//! resource, scope or span (by [`Level`]) as [`SpanParts`]: the resource and scope
//! decoded (small, once per entry), the span's scalar fields decoded into a [`Span`] whose
//! `attributes`, `events` and `links` stay empty, and its attributes as an [`ItemAttrs`]
//! that keeps untouched entries as bytes. Events and links are never decoded: nothing a
//! span-level statement reads is in them. A span the callback does not change is copied as
//! bytes; a changed one is written in prost's field order, so for a request any prost
//! encoder wrote the result is byte for byte what decoding, editing and re-encoding gives.

use std::borrow::Cow;
use std::cell::RefCell;

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::attrs::AttrMap;
use crate::wire_edit::{
    decode_entry, header_len, kv_key, next_field, Piece, Plan, ValueRef, WireAttrs, WireKv,
};

/// A span's attributes in the wire form, read and edited through a shared reference (so
/// that what holds one stays covariant in its lifetime): untouched entries stay bytes.
#[derive(Debug, Default)]
pub struct ItemAttrs<'a>(RefCell<WireAttrs<'a>>);

/// What OTTL sees of an [`ItemAttrs`].
pub trait WireMap {
    /// The value of the first entry of `key`.
    fn get(&self, key: &str) -> Option<AnyValue>;
    /// Call `f` with the value of the first entry of `key` (`None` when there is none),
    /// borrowed from the bytes where the layout allows.
    fn with_value(&self, key: &str, f: &mut dyn FnMut(Option<ValueRef<'_>>));
    /// Whether `key` is missing or its value reads as nil, decoding nothing where the
    /// layout tells.
    fn is_nil(&self, key: &str) -> bool;
    /// The list decoded, each entry whole (so what else an entry holds stays).
    fn decode_all(&self) -> Vec<KeyValue>;
    /// Edit the list in place.
    fn edit(&self, f: &mut dyn FnMut(&mut dyn AttrMap));
}

impl WireMap for ItemAttrs<'_> {
    fn get(&self, key: &str) -> Option<AnyValue> {
        self.0.borrow().get(key).map(Cow::into_owned)
    }
    fn with_value(&self, key: &str, f: &mut dyn FnMut(Option<ValueRef<'_>>)) {
        let wire = self.0.borrow();
        f(wire.find(key).map(|i| wire.value_ref(i)))
    }
    fn is_nil(&self, key: &str) -> bool {
        let wire = self.0.borrow();
        wire.find(key).is_none_or(|i| !wire.value_is_set(i))
    }
    fn decode_all(&self) -> Vec<KeyValue> {
        self.0
            .borrow()
            .entries
            .iter()
            .map(|e| match e {
                WireKv::Raw { key, payload, .. } => decode_entry(key, payload),
                WireKv::Keyed { key, value, .. } => KeyValue {
                    key: String::from_utf8_lossy(key).into_owned(),
                    value: Some(value.clone()),
                    ..Default::default()
                },
                WireKv::Owned(kv) => kv.clone(),
            })
            .collect()
    }
    fn edit(&self, f: &mut dyn FnMut(&mut dyn AttrMap)) {
        f(&mut *self.0.borrow_mut())
    }
}

/// Which items [`edit_spans`] hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Resource,
    Scope,
    Span,
}

/// The span handed to a [`Level::Span`] callback.
pub struct SpanItem<'p, 'a> {
    /// The span's fields but its attributes, events and links (those stay empty).
    pub span: &'p mut Span,
    pub attrs: &'p ItemAttrs<'a>,
    /// The attributes decoded, once an operation needed the list itself: from then on the
    /// list that is written.
    pub decoded: &'p mut Option<Vec<KeyValue>>,
    /// Set by the callback when it may have changed `span` (the attributes track their own
    /// changes).
    pub span_changed: &'p mut bool,
}

/// What one callback sees. `scope` is `None` at [`Level::Resource`], `span` is `None`
/// above [`Level::Span`].
pub struct SpanParts<'p, 'a> {
    pub resource: &'p mut Option<Resource>,
    pub resource_schema_url: &'p mut String,
    pub scope: Option<(&'p mut Option<InstrumentationScope>, &'p mut String)>,
    pub span: Option<SpanItem<'p, 'a>>,
    /// Set by the callback to drop the item: the resource entry, the scope entry or the
    /// span, with every span in it.
    pub drop: &'p mut bool,
}

/// Why [`edit_spans`] stopped.
#[derive(Debug)]
pub enum SpanEditError {
    /// The bytes could not be walked: decode instead.
    Walk,
    /// The callback failed.
    Callback(String),
}

type Callback<'f> = dyn for<'p, 'a> FnMut(SpanParts<'p, 'a>) -> Result<(), String> + 'f;

/// Run `f` over every resource, scope or span (by `level`) of the trace export request in
/// `bytes`. `Ok(None)` when nothing changed (the bytes stand), `Ok(Some(bytes))` the edited
/// request.
pub fn edit_spans(
    bytes: &[u8],
    level: Level,
    f: &mut Callback<'_>,
) -> Result<Option<Vec<u8>>, SpanEditError> {
    filter_spans(bytes, level, false, f).map(|(out, _)| out)
}

/// As [`edit_spans`], and the items the callback drops ([`SpanParts::drop`]) are left out,
/// with the number of spans they held. With `prune`, a scope entry left without spans goes,
/// and a resource entry left without scope entries (as a filter of the decoded request
/// removes them: those that had none to begin with too).
pub fn filter_spans(
    bytes: &[u8],
    level: Level,
    prune: bool,
    f: &mut Callback<'_>,
) -> Result<(Option<Vec<u8>>, usize), SpanEditError> {
    let mut walk = SpanWalk {
        plan: Plan::over(bytes),
        level,
        prune,
        changed: false,
        dropped: 0,
        f,
        span: Span::default(),
        attrs: ItemAttrs::default(),
        events: Vec::new(),
    };
    let out = walk.request(bytes).map(|len| {
        let out = walk.changed.then(|| walk.plan.write(len));
        (out, walk.dropped)
    });
    walk.plan.give_back();
    out
}

/// The spans (field 2) of an encoded `ScopeSpans`.
fn span_count(scope: &[u8]) -> Result<usize, SpanEditError> {
    let mut n = 0;
    let mut rest = scope;
    while !rest.is_empty() {
        let f = next_field(&mut rest).ok_or(WALK)?;
        n += usize::from(f.number == 2 && f.wire_type == 2);
    }
    Ok(n)
}

const WALK: SpanEditError = SpanEditError::Walk;

/// A `ResourceSpans` or `ScopeSpans` as [`SpanWalk::entry`] reads it.
struct Entry<'a, M> {
    message: Option<M>,
    /// The last occurrence of the message field, and how many there were.
    original: Option<&'a [u8]>,
    fields: usize,
    schema_url: String,
    children: Vec<&'a [u8]>,
}

struct SpanWalk<'a, 'f, 'g> {
    plan: Plan<'a>,
    level: Level,
    /// Leave out scope entries without spans and resource entries without scope entries.
    prune: bool,
    changed: bool,
    /// Spans left out so far.
    dropped: usize,
    f: &'f mut Callback<'g>,
    /// Reused between spans.
    span: Span,
    attrs: ItemAttrs<'a>,
    /// The span's events and links (fields 11 and 13) as they were, each whole field.
    events: Vec<(u64, &'a [u8])>,
}

fn string(value: &[u8]) -> Result<String, SpanEditError> {
    String::from_utf8(value.to_vec()).map_err(|_| WALK)
}

impl<'a> SpanWalk<'a, '_, '_> {
    fn request(&mut self, bytes: &'a [u8]) -> Result<usize, SpanEditError> {
        let mut len = 0;
        let mut rest = bytes;
        while !rest.is_empty() {
            let f = next_field(&mut rest).ok_or(WALK)?;
            if f.number != 1 || f.wire_type != 2 {
                len += self.plan.input(f.raw);
                continue;
            }
            let at = self.plan.pieces.len();
            self.plan.pieces.push(Piece::Header { number: 1, len: 0 });
            match self.resource_spans(f.value)? {
                Some(n) => {
                    self.plan.pieces[at] = Piece::Header { number: 1, len: n };
                    len += header_len(1, n) + n;
                }
                // nothing pushed from `at` on changed a piece before it
                None => self.plan.pieces.truncate(at),
            }
        }
        Ok(len)
    }

    /// Leave out an entry: what it held counted, the request changed.
    fn left_out(&mut self, spans: usize) -> Option<usize> {
        self.dropped += spans;
        self.changed = true;
        None
    }

    /// Write an optional message field into the arena at the two pieces from `at`.
    fn put_message<M: Message>(&mut self, at: usize, number: u64, m: &Option<M>) -> usize {
        let Some(m) = m else {
            self.plan.pieces[at] = Piece::Arena(0..0);
            self.plan.pieces[at + 1] = Piece::Arena(0..0);
            return 0;
        };
        let start = self.plan.arena.len();
        m.encode_raw(&mut self.plan.arena);
        let n = self.plan.arena.len() - start;
        self.plan.pieces[at] = Piece::Header { number, len: n };
        self.plan.pieces[at + 1] = Piece::Arena(start..start + n);
        header_len(number, n) + n
    }

    /// Write the resource or scope (field 1) at the pieces from `at`, noting a change when
    /// its bytes are not the one field it was read from.
    fn settle<M: Message>(
        &mut self,
        at: usize,
        m: &Option<M>,
        fields: usize,
        original: Option<&[u8]>,
    ) -> usize {
        let n = self.put_message(at, 1, m);
        let now = match (m, &self.plan.pieces[at + 1]) {
            (Some(_), Piece::Arena(range)) => Some(&self.plan.arena[range.clone()]),
            _ => None,
        };
        let same = match (fields, original, now) {
            (0, _, None) => true,
            (1, Some(o), Some(now)) => o == now,
            _ => false,
        };
        if !same {
            self.changed = true;
        }
        n
    }

    /// Append a string field as prost writes it (nothing for an empty string).
    fn put_string(&mut self, number: u64, s: &str) -> usize {
        if s.is_empty() {
            return 0;
        }
        let start = self.plan.arena.len();
        crate::wire_edit::put_len_field(&mut self.plan.arena, number, s.as_bytes());
        self.plan
            .pieces
            .push(Piece::Arena(start..self.plan.arena.len()));
        self.plan.arena.len() - start
    }

    /// Read a `ResourceSpans` or `ScopeSpans`: its message (field 1, every occurrence
    /// merged, as prost does), its children (field 2) and its schema URL (field 3, the last
    /// one); any other field is dropped from the output, as prost drops it.
    fn entry<M: Message + Default>(
        &mut self,
        msg: &'a [u8],
    ) -> Result<Entry<'a, M>, SpanEditError> {
        let mut e = Entry {
            message: None,
            original: None,
            fields: 0,
            schema_url: String::new(),
            children: Vec::new(),
        };
        let mut rest = msg;
        while !rest.is_empty() {
            let f = next_field(&mut rest).ok_or(WALK)?;
            match (f.number, f.wire_type) {
                (1, 2) => {
                    e.message
                        .get_or_insert_with(M::default)
                        .merge(f.value)
                        .map_err(|_| WALK)?;
                    e.original = Some(f.value);
                    e.fields += 1;
                }
                (2, 2) => e.children.push(f.value),
                (3, 2) => e.schema_url = string(f.value)?,
                _ => self.changed = true,
            }
        }
        Ok(e)
    }

    /// Reserve the two pieces of an entry's message, written once its children are.
    fn reserve_message(&mut self) -> usize {
        let at = self.plan.pieces.len();
        self.plan.pieces.push(Piece::Arena(0..0));
        self.plan.pieces.push(Piece::Arena(0..0));
        at
    }

    /// Write an entry's message at `at` and its schema URL after its children, noting a
    /// change of either; their length.
    fn finish<M: Message>(&mut self, at: usize, e: &Entry<'a, M>, url_before: &str) -> usize {
        let mut len = self.settle(at, &e.message, e.fields, e.original);
        if e.schema_url != url_before {
            self.changed = true;
        }
        len += self.put_string(3, &e.schema_url);
        len
    }

    /// A `ResourceSpans` planned: its length, `None` when it is left out.
    fn resource_spans(&mut self, msg: &'a [u8]) -> Result<Option<usize>, SpanEditError> {
        let mut e = self.entry::<Resource>(msg)?;
        let url_before = e.schema_url.clone();
        if self.level == Level::Resource {
            let mut drop = false;
            (self.f)(SpanParts {
                resource: &mut e.message,
                resource_schema_url: &mut e.schema_url,
                scope: None,
                span: None,
                drop: &mut drop,
            })
            .map_err(SpanEditError::Callback)?;
            if drop {
                let spans = e
                    .children
                    .iter()
                    .map(|s| span_count(s))
                    .sum::<Result<usize, _>>()?;
                return Ok(self.left_out(spans));
            }
        }
        let at = self.reserve_message();
        let mut len = 0;
        let mut kept = 0;
        for scope in std::mem::take(&mut e.children) {
            if self.level == Level::Resource {
                if self.prune && span_count(scope)? == 0 {
                    self.changed = true;
                    continue;
                }
                len += self.plan.header(2, scope.len()) + self.plan.input(scope);
                kept += 1;
                continue;
            }
            let h = self.plan.pieces.len();
            self.plan.pieces.push(Piece::Header { number: 2, len: 0 });
            match self.scope_spans(scope, &mut e.message, &mut e.schema_url)? {
                Some(n) => {
                    self.plan.pieces[h] = Piece::Header { number: 2, len: n };
                    len += header_len(2, n) + n;
                    kept += 1;
                }
                None => self.plan.pieces.truncate(h),
            }
        }
        if self.prune && kept == 0 {
            return Ok(self.left_out(0));
        }
        // the resource last, as the spans may have changed it; written in its place
        Ok(Some(len + self.finish(at, &e, &url_before)))
    }

    /// A `ScopeSpans` planned: its length, `None` when it is left out.
    fn scope_spans(
        &mut self,
        msg: &'a [u8],
        resource: &mut Option<Resource>,
        resource_schema_url: &mut String,
    ) -> Result<Option<usize>, SpanEditError> {
        // the scope and schema URL first (the spans' statements read them), then the spans
        let mut e = self.entry::<InstrumentationScope>(msg)?;
        let url_before = e.schema_url.clone();
        if self.level == Level::Scope {
            let mut drop = false;
            (self.f)(SpanParts {
                resource,
                resource_schema_url,
                scope: Some((&mut e.message, &mut e.schema_url)),
                span: None,
                drop: &mut drop,
            })
            .map_err(SpanEditError::Callback)?;
            if drop {
                return Ok(self.left_out(e.children.len()));
            }
        }
        let at = self.reserve_message();
        let mut len = 0;
        let mut kept = 0;
        for span in std::mem::take(&mut e.children) {
            if self.level == Level::Span {
                match self.span(
                    span,
                    resource,
                    resource_schema_url,
                    &mut e.message,
                    &mut e.schema_url,
                )? {
                    Some(n) => len += n,
                    None => {
                        self.left_out(1);
                        continue;
                    }
                }
            } else {
                len += self.plan.header(2, span.len()) + self.plan.input(span);
            }
            kept += 1;
        }
        if self.prune && kept == 0 {
            return Ok(self.left_out(0));
        }
        Ok(Some(len + self.finish(at, &e, &url_before)))
    }

    fn span(
        &mut self,
        msg: &'a [u8],
        resource: &mut Option<Resource>,
        resource_schema_url: &mut String,
        scope: &mut Option<InstrumentationScope>,
        scope_schema_url: &mut String,
    ) -> Result<Option<usize>, SpanEditError> {
        let mut span = std::mem::take(&mut self.span);
        reset(&mut span);
        let attrs = std::mem::take(&mut self.attrs);
        let mut wire = attrs.0.into_inner();
        wire.entries.clear();
        wire.changed = false;
        self.events.clear();
        let mut rest = msg;
        while !rest.is_empty() {
            let f = next_field(&mut rest).ok_or(WALK)?;
            match (f.number, f.wire_type) {
                (9, 2) => {
                    let key = kv_key(f.value).ok_or(WALK)?;
                    wire.entries.push(WireKv::Raw {
                        key,
                        payload: f.value,
                        field: f.raw,
                    });
                }
                (11 | 13, 2) => self.events.push((f.number, f.raw)),
                _ => {
                    if scalar(&mut span, f.number, f.wire_type, f.value).is_none() {
                        // anything else (the status, a wrong wire type) as prost merges it
                        span.merge(f.raw).map_err(|_| WALK)?;
                    }
                }
            }
        }
        let attrs = ItemAttrs(RefCell::new(wire));
        let mut decoded = None;
        let mut span_changed = false;
        let mut drop = false;
        let r = (self.f)(SpanParts {
            resource,
            resource_schema_url,
            scope: Some((scope, scope_schema_url)),
            span: Some(SpanItem {
                span: &mut span,
                attrs: &attrs,
                decoded: &mut decoded,
                span_changed: &mut span_changed,
            }),
            drop: &mut drop,
        });
        let len = match r {
            Err(e) => Err(SpanEditError::Callback(e)),
            Ok(()) if drop => Ok(None),
            Ok(()) if !span_changed && decoded.is_none() && !attrs.0.borrow().changed => {
                Ok(Some(self.plan.header(2, msg.len()) + self.plan.input(msg)))
            }
            Ok(()) => {
                self.changed = true;
                Ok(Some(self.write_span(
                    &span,
                    &attrs.0.borrow(),
                    decoded.as_deref(),
                )))
            }
        };
        self.span = span;
        self.attrs = attrs;
        len
    }

    /// Write a changed span as field 2 of its scope: the scalar fields as prost encodes
    /// them, the attributes, events and links in their places by field number (prost
    /// writes fields in that order).
    fn write_span(
        &mut self,
        span: &Span,
        wire: &WireAttrs<'a>,
        decoded: Option<&[KeyValue]>,
    ) -> usize {
        const LISTS: [u64; 3] = [9, 11, 13];
        let h = self.plan.pieces.len();
        self.plan.pieces.push(Piece::Header { number: 2, len: 0 });
        let start = self.plan.arena.len();
        span.encode_raw(&mut self.plan.arena);
        let end = self.plan.arena.len();
        let mut len = 0;
        let mut next_list = 0;
        let events = std::mem::take(&mut self.events);
        // the scalar fields as runs, with the lists due before a field written in between
        let (mut pos, mut run) = (start, start);
        loop {
            let number = if pos < end {
                let mut b = &self.plan.arena[pos..end];
                let before = b.len();
                // the arena holds prost's encoding: a field always reads
                let Some(f) = next_field(&mut b) else {
                    pos = end;
                    continue;
                };
                let number = f.number;
                if LISTS.get(next_list).is_none_or(|&n| n > number) {
                    pos += before - b.len();
                    continue;
                }
                number
            } else {
                u64::MAX
            };
            if run < pos {
                self.plan.pieces.push(Piece::Arena(run..pos));
                len += pos - run;
            }
            run = pos;
            while let Some(&n) = LISTS.get(next_list).filter(|&&n| n < number) {
                next_list += 1;
                if n == 9 {
                    len += match decoded {
                        None => wire.plan(9, &mut self.plan),
                        Some(list) => list.iter().map(|kv| self.plan.message(9, kv)).sum(),
                    };
                } else {
                    for &(_, raw) in events.iter().filter(|(k, _)| *k == n) {
                        len += self.plan.input(raw);
                    }
                }
            }
            if number == u64::MAX {
                break;
            }
        }
        self.events = events;
        self.plan.pieces[h] = Piece::Header { number: 2, len };
        header_len(2, len) + len
    }
}

/// Clear a span for the next one, keeping the capacity of its ids and strings (prost's
/// merge of a bytes or string field writes into the existing buffer). Its lists are always
/// empty here.
fn reset(span: &mut Span) {
    let Span {
        trace_id,
        span_id,
        trace_state,
        parent_span_id,
        flags,
        name,
        kind,
        start_time_unix_nano,
        end_time_unix_nano,
        attributes,
        dropped_attributes_count,
        events,
        dropped_events_count,
        links,
        dropped_links_count,
        status,
    } = span;
    trace_id.clear();
    span_id.clear();
    trace_state.clear();
    parent_span_id.clear();
    name.clear();
    *flags = 0;
    *kind = 0;
    *start_time_unix_nano = 0;
    *end_time_unix_nano = 0;
    *dropped_attributes_count = 0;
    *dropped_events_count = 0;
    *dropped_links_count = 0;
    *status = None;
    attributes.clear();
    events.clear();
    links.clear();
}

/// Set one of the span's scalar fields from its encoded value as prost's merge does (the
/// last occurrence wins; an `int32` or `uint32` is the varint's low bits); `None` for any
/// other field or wire type, left to prost.
#[inline(always)]
fn scalar(span: &mut Span, number: u64, wire_type: u64, value: &[u8]) -> Option<()> {
    fn bytes(to: &mut Vec<u8>, value: &[u8]) {
        to.clear();
        to.extend_from_slice(value);
    }
    fn string(to: &mut String, value: &[u8]) -> Option<()> {
        to.clear();
        to.push_str(std::str::from_utf8(value).ok()?);
        Some(())
    }
    let varint = || crate::wire::varint(&mut &*value);
    match (number, wire_type) {
        (1, 2) => bytes(&mut span.trace_id, value),
        (2, 2) => bytes(&mut span.span_id, value),
        (3, 2) => string(&mut span.trace_state, value)?,
        (4, 2) => bytes(&mut span.parent_span_id, value),
        (5, 2) => string(&mut span.name, value)?,
        (6, 0) => span.kind = varint()? as i32,
        (7, 1) => span.start_time_unix_nano = u64::from_le_bytes(value.try_into().ok()?),
        (8, 1) => span.end_time_unix_nano = u64::from_le_bytes(value.try_into().ok()?),
        (10, 0) => span.dropped_attributes_count = varint()? as u32,
        (12, 0) => span.dropped_events_count = varint()? as u32,
        (14, 0) => span.dropped_links_count = varint()? as u32,
        (16, 5) => span.flags = u32::from_le_bytes(value.try_into().ok()?),
        _ => return None,
    }
    Some(())
}
