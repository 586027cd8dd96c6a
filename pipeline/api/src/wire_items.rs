//! Statements over the spans of a trace export request, or the log records of a logs export
//! request, in its wire form.
//!
//! [`edit_items`] walks a request [`crate::wire::scan`] accepted and hands a callback each
//! resource, scope or item (by [`Level`]) as [`Parts`]: the resource and scope decoded
//! (small, once per entry), the item's scalar fields decoded into a [`Span`] or
//! [`LogRecord`] whose lists stay empty, and its attributes as an [`ItemAttrs`] that keeps
//! untouched entries as bytes. A span's events and links are never decoded: nothing a
//! span-level statement reads is in them. An item the callback does not change is copied
//! as bytes; one whose attributes alone changed keeps its other bytes, the list written in
//! place of its entries; any other changed one is written in prost's field order. So for a
//! request any prost encoder wrote the result is byte for byte what decoding, editing and
//! re-encoding gives.
//! [`filter_items`] also leaves out what the callback drops.

use std::borrow::Cow;
use std::cell::RefCell;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;

use crate::attrs::AttrMap;
use crate::wire_edit::{
    decode_entry, header_len, kv_key, next_field, Piece, Plan, ValueRef, WireAttrs, WireKv,
};

/// An item's attributes in the wire form, read and edited through a shared reference (so
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
    /// The first entry of `key` decoded whole (its value `None` when it has none, as
    /// prost decodes it).
    fn entry(&self, key: &str) -> Option<KeyValue>;
    /// The list decoded, each entry whole (so what else an entry holds stays).
    fn decode_all(&self) -> Vec<KeyValue>;
    /// Edit the list in place.
    fn edit(&self, f: &mut dyn FnMut(&mut dyn AttrMap));
}

impl<'a> ItemAttrs<'a> {
    /// Read the list as it stands.
    pub fn read<R>(&self, f: impl FnOnce(&WireAttrs<'a>) -> R) -> R {
        f(&self.0.borrow())
    }
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
    fn entry(&self, key: &str) -> Option<KeyValue> {
        let wire = self.0.borrow();
        wire.find(key).map(|i| decoded(&wire.entries[i]))
    }
    fn decode_all(&self) -> Vec<KeyValue> {
        self.0.borrow().entries.iter().map(decoded).collect()
    }
    fn edit(&self, f: &mut dyn FnMut(&mut dyn AttrMap)) {
        f(&mut *self.0.borrow_mut())
    }
}

/// An entry decoded whole.
fn decoded(e: &WireKv<'_>) -> KeyValue {
    match e {
        WireKv::Raw { key, payload, .. } => decode_entry(key, payload),
        WireKv::Keyed { key, value, .. } => KeyValue {
            key: String::from_utf8_lossy(key).into_owned(),
            value: Some(value.clone()),
            ..Default::default()
        },
        WireKv::Owned(kv) => kv.clone(),
    }
}

/// What [`edit_items`] hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Resource,
    Scope,
    /// The spans or log records.
    Item,
}

/// An item [`edit_items`] walks: a span or a log record.
pub trait WireItem: Message + Default {
    /// The signal of the requests that hold it.
    const SIGNAL: crate::Signal;
    /// Its attributes' field number.
    const ATTRIBUTES: u64;
    /// Its repeated message fields, in order, the attributes included: the others are
    /// kept as bytes, never decoded.
    const LISTS: &'static [u64];
    /// Those of [`WireItem::LISTS`] that form a oneof (a metric's data): kept in the order
    /// they came, all written where the first of them is due, so the last still wins.
    const ONEOF: &'static [u64] = &[];
    /// Whether the items are data points, reached through the metrics of each scope: the
    /// points of each metric's data are walked, the metric handed over with them.
    const IN_METRICS: bool = false;
    /// Its attributes' field number ([`WireItem::ATTRIBUTES`], or by the kind of point).
    fn attributes_field(&self) -> u64 {
        Self::ATTRIBUTES
    }
    /// Its repeated message fields ([`WireItem::LISTS`], or by the kind of point).
    fn lists(&self) -> &'static [u64] {
        Self::LISTS
    }
    /// Where prost writes field `number` among the others: its number, but for a field of
    /// a oneof, which is written at the oneof's lowest number.
    fn position(&self, number: u64) -> u64 {
        number
    }
    /// Take the kind of the points of a metric's data field `data` (a data point walk).
    fn enter(&mut self, _data: u64) {}
    /// Clear it for the next item, keeping the capacity of its strings and bytes (prost's
    /// merge writes into the existing buffer). Its lists are always empty here.
    fn reset(&mut self);
    /// Set one scalar field from its encoded value as prost's merge does (the last
    /// occurrence wins; an `int32` or `uint32` is the varint's low bits); `None` for any
    /// other field or wire type, left to prost's merge.
    fn scalar(&mut self, number: u64, wire_type: u64, value: &[u8]) -> Option<()>;
    /// Its attribute list (a metric's metadata): empty while walked, the entries staying in
    /// [`ItemAttrs`].
    fn attributes_mut(&mut self) -> &mut Vec<KeyValue>;
    /// Read what it needs of the lists kept as bytes (each whole field, in order): a
    /// metric's data kind and header. `None` when they do not read.
    fn read_kept(&mut self, _kept: &[(u64, &[u8])]) -> Option<()> {
        Some(())
    }
    /// Write its fields but the lists, as prost encodes them.
    fn encode_fields(&self, buf: &mut Vec<u8>) {
        self.encode_raw(buf)
    }
    /// The request's items one encoded item stands for: a span or log record is one, a
    /// metric its data points.
    fn weight(_item: &[u8]) -> Result<usize, ItemEditError> {
        Ok(1)
    }
}

/// The item handed to a [`Level::Item`] callback.
pub struct ItemRef<'p, 'a, T> {
    /// The item's fields but its lists (those stay empty).
    pub item: &'p mut T,
    pub attrs: &'p ItemAttrs<'a>,
    /// The attributes decoded, once an operation needed the list itself: from then on the
    /// list that is written.
    pub decoded: &'p mut Option<Vec<KeyValue>>,
    /// Set by the callback when it may have changed `item` (the attributes track their own
    /// changes).
    pub changed: &'p mut bool,
    /// The item's lists but its attributes (a span's events and links), each whole field
    /// as it came: read with [`ItemRef::list`].
    pub lists: &'p [(u64, &'a [u8])],
}

impl<'a, T: WireItem> ItemRef<'_, 'a, T> {
    /// The messages of list field `number` (a span's events: 11), decoded in order (bytes
    /// the scan accepted decode).
    pub fn list<M: Message + Default>(&self, number: u64) -> impl Iterator<Item = M> + '_ {
        self.lists
            .iter()
            .filter(move |(n, _)| *n == number)
            .filter_map(|&(_, raw)| {
                let mut b = raw;
                M::decode(next_field(&mut b)?.value).ok()
            })
    }

    /// Run `f` over the item with the first entry of each of `keys` lent to its attribute
    /// list, taken back after: for a decision that looks its attributes up by key (the
    /// first entry of each, as pdata's `Map.Get` does), what it sees is what the whole list
    /// would show it.
    pub fn with_entries<'k, R>(
        &mut self,
        keys: impl IntoIterator<Item = &'k str>,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let attrs = self.attrs;
        self.item
            .attributes_mut()
            .extend(keys.into_iter().filter_map(|k| attrs.entry(k)));
        let r = f(self.item);
        self.item.attributes_mut().clear();
        r
    }
}

/// What one callback sees. `scope` is `None` at [`Level::Resource`], `item` is `None`
/// above [`Level::Item`].
pub struct Parts<'p, 'a, T> {
    pub resource: &'p mut Option<Resource>,
    pub resource_schema_url: &'p mut String,
    pub scope: Option<(&'p mut Option<InstrumentationScope>, &'p mut String)>,
    pub item: Option<ItemRef<'p, 'a, T>>,
    /// A data point's metric (a data point walk): its fields, metadata and data header,
    /// without its points. Read only: a change to it is not written.
    pub metric: Option<&'p mut Metric>,
    /// Where the walk is in the request: two callbacks with the same place share their
    /// resource (scope, metric) entry.
    pub place: Place,
    /// Set by the callback to drop what it was handed: the resource entry, the scope entry
    /// or the item, with every item in it.
    pub drop: &'p mut bool,
}

/// The ordinals, counted from 1 in the request, of the resource entry, the scope entry and
/// the metric (a data point walk) being walked: each moves on as its next entry starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    pub resource: usize,
    pub scope: usize,
    pub metric: usize,
}

/// What a callback over spans sees.
pub type SpanParts<'p, 'a> = Parts<'p, 'a, Span>;
/// What a callback over log records sees.
pub type LogParts<'p, 'a> = Parts<'p, 'a, LogRecord>;
/// What a callback over metrics sees: each metric's name, description, unit and metadata,
/// and its data's kind and header (temporality, monotonicity) without its data points.
pub type MetricParts<'p, 'a> = Parts<'p, 'a, Metric>;
/// What a callback over data points sees: each point's fields but its lists, its
/// attributes in the wire form, and its metric ([`Parts::metric`]).
pub type PointParts<'p, 'a> = Parts<'p, 'a, DataPoint>;

/// Why [`edit_items`] stopped.
#[derive(Debug)]
pub enum ItemEditError {
    /// The bytes could not be walked: decode instead.
    Walk,
    /// The callback failed.
    Callback(String),
}

/// A callback over the items of type `T`.
pub type Callback<'f, T> = dyn for<'p, 'a> FnMut(Parts<'p, 'a, T>) -> Result<(), String> + 'f;

/// Run `f` over every resource, scope or item (by `level`) of the export request of
/// `T`s in `bytes`. `Ok(None)` when nothing changed (the bytes stand), `Ok(Some(bytes))`
/// the edited request.
pub fn edit_items<T: WireItem>(
    bytes: &[u8],
    level: Level,
    f: &mut Callback<'_, T>,
) -> Result<Option<Vec<u8>>, ItemEditError> {
    filter_items(bytes, level, false, f).map(|(out, _)| out)
}

/// As [`edit_items`], and what the callback drops ([`Parts::drop`]) is left out; the
/// number of items that went. With `prune`, a scope entry left without items goes, and a
/// resource entry left without scope entries (as a filter of the decoded request removes
/// them: those that had none to begin with too).
pub fn filter_items<T: WireItem>(
    bytes: &[u8],
    level: Level,
    prune: bool,
    f: &mut Callback<'_, T>,
) -> Result<(Option<Vec<u8>>, usize), ItemEditError> {
    let mut walk = ItemWalk {
        plan: Plan::over(bytes),
        level,
        prune,
        changed: false,
        dropped: 0,
        f,
        item: Some(Box::default()),
        attrs: ItemAttrs::default(),
        kept: Vec::new(),
        metric: Metric::default(),
        metric_fields: Vec::new(),
        data_fields: Vec::new(),
        place: Place::default(),
    };
    let out = walk.request(bytes).map(|len| {
        let out = walk.changed.then(|| walk.plan.write(len));
        (out, walk.dropped)
    });
    walk.plan.give_back();
    out
}

/// The items (field 2) of an encoded `ScopeSpans` or `ScopeLogs`.
fn item_count(scope: &[u8]) -> Result<usize, ItemEditError> {
    let mut n = 0;
    let mut rest = scope;
    while !rest.is_empty() {
        let f = next_field(&mut rest).ok_or(WALK)?;
        n += usize::from(f.number == 2 && f.wire_type == 2);
    }
    Ok(n)
}

/// The request's items an encoded `ScopeSpans`, `ScopeLogs` or `ScopeMetrics` holds.
fn scope_weight<T: WireItem>(scope: &[u8]) -> Result<usize, ItemEditError> {
    let mut n = 0;
    let mut rest = scope;
    while !rest.is_empty() {
        let f = next_field(&mut rest).ok_or(WALK)?;
        if f.number == 2 && f.wire_type == 2 {
            n += T::weight(f.value)?;
        }
    }
    Ok(n)
}

const WALK: ItemEditError = ItemEditError::Walk;

/// What an item's statements see around it: the resource, its schema URL, the scope and
/// its schema URL.
type ItemContext<'c> = (
    &'c mut Option<Resource>,
    &'c mut String,
    &'c mut Option<InstrumentationScope>,
    &'c mut String,
);

/// A `ResourceSpans`, `ScopeSpans`, `ResourceLogs` or `ScopeLogs` as [`ItemWalk::entry`]
/// reads it.
struct Entry<'a, M> {
    message: Option<M>,
    /// The last occurrence of the message field, and how many there were.
    original: Option<&'a [u8]>,
    fields: usize,
    schema_url: String,
    children: Vec<&'a [u8]>,
}

struct ItemWalk<'a, 'f, 'g, T> {
    plan: Plan<'a>,
    level: Level,
    /// Leave out scope entries without items and resource entries without scope entries.
    prune: bool,
    changed: bool,
    /// Items left out so far.
    dropped: usize,
    f: &'f mut Callback<'g, T>,
    /// Reused between items; boxed, so that taking it out for an item and putting it back
    /// moves a pointer rather than the whole item.
    item: Option<Box<T>>,
    attrs: ItemAttrs<'a>,
    /// The item's lists but its attributes (a span's events and links) as they were, each
    /// whole field.
    kept: Vec<(u64, &'a [u8])>,
    /// A data point walk's metric and its fields, reused between metrics.
    metric: Metric,
    metric_fields: Vec<&'a [u8]>,
    data_fields: Vec<&'a [u8]>,
    /// The entries being walked.
    place: Place,
}

fn string(value: &[u8]) -> Result<String, ItemEditError> {
    String::from_utf8(value.to_vec()).map_err(|_| WALK)
}

impl<'a, T: WireItem> ItemWalk<'a, '_, '_, T> {
    fn request(&mut self, bytes: &'a [u8]) -> Result<usize, ItemEditError> {
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
            match self.resource_entry(f.value)? {
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

    /// Hand the callback a resource or scope entry; whether it drops the entry.
    fn hand_over(
        &mut self,
        resource: &mut Option<Resource>,
        resource_schema_url: &mut String,
        scope: Option<(&mut Option<InstrumentationScope>, &mut String)>,
    ) -> Result<bool, ItemEditError> {
        let mut drop = false;
        (self.f)(Parts {
            resource,
            resource_schema_url,
            scope,
            item: None,
            metric: None,
            place: self.place,
            drop: &mut drop,
        })
        .map_err(ItemEditError::Callback)?;
        Ok(drop)
    }

    /// Leave out an entry: what it held counted, the request changed.
    fn left_out(&mut self, items: usize) -> Option<usize> {
        self.dropped += items;
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

    /// Read a resource or scope entry (`ResourceSpans`, `ScopeLogs`...): its message (field
    /// 1, every occurrence merged, as prost does), its children (field 2) and its schema URL
    /// (field 3, the last one); any other field is dropped from the output, as prost drops
    /// it.
    fn entry<M: Message + Default>(
        &mut self,
        msg: &'a [u8],
    ) -> Result<Entry<'a, M>, ItemEditError> {
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

    /// A `ResourceSpans` or `ResourceLogs` planned: its length, `None` when it is left out.
    fn resource_entry(&mut self, msg: &'a [u8]) -> Result<Option<usize>, ItemEditError> {
        self.place.resource += 1;
        let mut e = self.entry::<Resource>(msg)?;
        let url_before = e.schema_url.clone();
        if self.level == Level::Resource
            && self.hand_over(&mut e.message, &mut e.schema_url, None)?
        {
            let items = e
                .children
                .iter()
                .map(|s| scope_weight::<T>(s))
                .sum::<Result<usize, _>>()?;
            return Ok(self.left_out(items));
        }
        let at = self.reserve_message();
        let mut len = 0;
        let mut kept = 0;
        for scope in std::mem::take(&mut e.children) {
            if self.level == Level::Resource {
                if self.prune && item_count(scope)? == 0 {
                    self.changed = true;
                    continue;
                }
                len += self.plan.header(2, scope.len()) + self.plan.input(scope);
                kept += 1;
                continue;
            }
            let h = self.plan.pieces.len();
            self.plan.pieces.push(Piece::Header { number: 2, len: 0 });
            match self.scope_entry(scope, &mut e.message, &mut e.schema_url)? {
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
        // the resource last, as the items may have changed it; written in its place
        Ok(Some(len + self.finish(at, &e, &url_before)))
    }

    /// A `ScopeSpans` or `ScopeLogs` planned: its length, `None` when it is left out.
    fn scope_entry(
        &mut self,
        msg: &'a [u8],
        resource: &mut Option<Resource>,
        resource_schema_url: &mut String,
    ) -> Result<Option<usize>, ItemEditError> {
        // the scope and schema URL first (the items' statements read them), then the items
        self.place.scope += 1;
        let mut e = self.entry::<InstrumentationScope>(msg)?;
        let url_before = e.schema_url.clone();
        let scope = Some((&mut e.message, &mut e.schema_url));
        if self.level == Level::Scope && self.hand_over(resource, resource_schema_url, scope)? {
            let items = e
                .children
                .iter()
                .map(|i| T::weight(i))
                .sum::<Result<usize, _>>()?;
            return Ok(self.left_out(items));
        }
        let at = self.reserve_message();
        let mut len = 0;
        let mut kept = 0;
        for item in std::mem::take(&mut e.children) {
            if self.level == Level::Item && T::IN_METRICS {
                let (scope, url) = (&mut e.message, &mut e.schema_url);
                match self.metric_points(item, resource, resource_schema_url, scope, url)? {
                    Some(n) => len += n,
                    // its points were counted as they went
                    None => {
                        self.left_out(0);
                        continue;
                    }
                }
            } else if self.level == Level::Item {
                let (scope, url) = (&mut e.message, &mut e.schema_url);
                let context = (&mut *resource, &mut *resource_schema_url, scope, url);
                match self.item(item, 2, context, None)? {
                    Some(n) => len += n,
                    None => {
                        self.left_out(T::weight(item)?);
                        continue;
                    }
                }
            } else {
                len += self.plan.header(2, item.len()) + self.plan.input(item);
            }
            kept += 1;
        }
        if self.prune && kept == 0 {
            return Ok(self.left_out(0));
        }
        Ok(Some(len + self.finish(at, &e, &url_before)))
    }

    /// A metric's data points handed over one by one, in a data point walk: the metric
    /// planned, its length; `None` when the walk prunes it, all its points dropped (or none
    /// there, as a filter of the decoded request leaves out a metric without points).
    fn metric_points(
        &mut self,
        msg: &'a [u8],
        resource: &mut Option<Resource>,
        resource_schema_url: &mut String,
        scope: &mut Option<InstrumentationScope>,
        scope_schema_url: &mut String,
    ) -> Result<Option<usize>, ItemEditError> {
        self.place.metric += 1;
        let mut metric = std::mem::take(&mut self.metric);
        metric.reset();
        let mut fields = std::mem::take(&mut self.metric_fields);
        fields.clear();
        // the data field: its number, payload and place among the fields
        let mut data = None;
        let mut rest = msg;
        while !rest.is_empty() {
            let f = next_field(&mut rest).ok_or(WALK)?;
            if f.wire_type == 2 && Metric::ONEOF.contains(&f.number) {
                // prost merges or replaces a repeated data field: left to the decoded form
                if data.is_some() {
                    return Err(WALK);
                }
                data = Some((f.number, f.value, fields.len()));
            } else if metric.scalar(f.number, f.wire_type, f.value).is_none() {
                // the metadata, and anything else as prost merges it
                metric.merge(f.raw).map_err(|_| WALK)?;
            }
            fields.push(f.raw);
        }
        let Some((number, value, index)) = data else {
            // a metric without data stays, as a filter of the decoded request keeps it
            self.metric = metric;
            self.metric_fields = fields;
            return Ok(Some(self.plan.header(2, msg.len()) + self.plan.input(msg)));
        };
        metric.read_kept(&[(number, fields[index])]).ok_or(WALK)?;
        self.item.get_or_insert_default().enter(number);
        let before = std::mem::replace(&mut self.changed, false);
        let h = self.plan.pieces.len();
        self.plan.pieces.push(Piece::Header { number: 2, len: 0 });
        let mut len = 0;
        let mut points = 0;
        for (i, &raw) in fields.iter().enumerate() {
            if i != index {
                len += self.plan.input(raw);
                continue;
            }
            // the points first, as prost writes them, then the data's other fields
            let d = self.plan.pieces.len();
            self.plan.pieces.push(Piece::Header { number, len: 0 });
            let mut others = std::mem::take(&mut self.data_fields);
            others.clear();
            let mut data_len = 0;
            let mut rest = value;
            while !rest.is_empty() {
                let f = next_field(&mut rest).ok_or(WALK)?;
                if f.number != 1 || f.wire_type != 2 {
                    others.push(f.raw);
                    continue;
                }
                let context = (
                    &mut *resource,
                    &mut *resource_schema_url,
                    &mut *scope,
                    &mut *scope_schema_url,
                );
                match self.item(f.value, 1, context, Some(&mut metric))? {
                    Some(n) => {
                        data_len += n;
                        points += 1;
                    }
                    None => {
                        self.left_out(1);
                    }
                }
            }
            for &raw in &others {
                data_len += self.plan.input(raw);
            }
            self.data_fields = others;
            self.plan.pieces[d] = Piece::Header {
                number,
                len: data_len,
            };
            len += header_len(number, data_len) + data_len;
        }
        let changed = std::mem::replace(&mut self.changed, before);
        self.changed |= changed;
        self.metric = metric;
        self.metric_fields = fields;
        if self.prune && points == 0 {
            self.plan.pieces.truncate(h);
            return Ok(None);
        }
        if !changed {
            // as it came, byte for byte
            self.plan.pieces.truncate(h);
            return Ok(Some(self.plan.header(2, msg.len()) + self.plan.input(msg)));
        }
        self.plan.pieces[h] = Piece::Header { number: 2, len };
        Ok(Some(header_len(2, len) + len))
    }

    /// A span, log record, metric or data point planned as field `number` of what holds
    /// it: its length, `None` when it is dropped. `metric` is a data point's.
    fn item(
        &mut self,
        msg: &'a [u8],
        number: u64,
        (resource, resource_schema_url, scope, scope_schema_url): ItemContext<'_>,
        metric: Option<&mut Metric>,
    ) -> Result<Option<usize>, ItemEditError> {
        let mut item = self.item.take().unwrap_or_default();
        item.reset();
        let (attributes, lists) = (item.attributes_field(), item.lists());
        let attrs = std::mem::take(&mut self.attrs);
        let mut wire = attrs.0.into_inner();
        wire.entries.clear();
        wire.changed = false;
        self.kept.clear();
        // where the attribute fields are in `msg`, while they are one run: the range
        // from the first one's start to the last one's end, `None` once another field
        // came between them
        let mut run: Option<(usize, usize)> = None;
        let mut split = false;
        let mut rest = msg;
        while !rest.is_empty() {
            let f = next_field(&mut rest).ok_or(WALK)?;
            if f.wire_type == 2 && f.number == attributes {
                let end = msg.len() - rest.len();
                match &mut run {
                    Some((_, e)) if *e == end - f.raw.len() => *e = end,
                    None if !split => run = Some((end - f.raw.len(), end)),
                    _ => {
                        run = None;
                        split = true;
                    }
                }
                let key = kv_key(f.value).ok_or(WALK)?;
                // `extend` makes room before it makes the entry, which it then writes in
                // place; `push` made the entry on the stack first and copied it over, the
                // copy's wide loads waiting on the narrow stores just made (about a tenth of
                // the walk's time)
                wire.entries.extend(std::iter::once_with(|| WireKv::Raw {
                    key,
                    payload: f.value,
                    field: f.raw,
                }));
            } else if f.wire_type == 2 && lists.contains(&f.number) {
                self.kept.push((f.number, f.raw));
            } else if item.scalar(f.number, f.wire_type, f.value).is_none() {
                // anything else (a span's status, a log's body, a wrong wire type) as
                // prost merges it
                item.merge(f.raw).map_err(|_| WALK)?;
            }
        }
        item.read_kept(&self.kept).ok_or(WALK)?;
        let attrs = ItemAttrs(RefCell::new(wire));
        let mut decoded = None;
        let mut changed = false;
        let mut drop = false;
        let r = (self.f)(Parts {
            resource,
            resource_schema_url,
            scope: Some((scope, scope_schema_url)),
            item: Some(ItemRef {
                item: &mut *item,
                attrs: &attrs,
                decoded: &mut decoded,
                changed: &mut changed,
                lists: &self.kept,
            }),
            metric,
            place: self.place,
            drop: &mut drop,
        });
        let len = match r {
            Err(e) => Err(ItemEditError::Callback(e)),
            Ok(()) if drop => Ok(None),
            Ok(()) if !changed && decoded.is_none() && !attrs.0.borrow().changed => Ok(Some(
                self.plan.header(number, msg.len()) + self.plan.input(msg),
            )),
            Ok(()) => {
                self.changed = true;
                let wire = attrs.0.borrow();
                Ok(Some(match run {
                    // only the attributes changed, and they came as one run: the bytes
                    // around it stand
                    Some(run) if !changed => {
                        let list = (attributes, &*wire, decoded.as_deref());
                        self.splice_attributes(number, msg, run, list)
                    }
                    _ => self.write_item(number, &item, &wire, decoded.as_deref()),
                }))
            }
        };
        self.item = Some(item);
        self.attrs = attrs;
        len
    }

    /// Write an item of which only the attributes changed as field `number` of what holds
    /// it: its bytes as they came, the attribute fields (field `attributes`, one run of
    /// `msg` from `start` to `end`) replaced by the list as it now stands. For an item
    /// prost encoded these are the bytes [`ItemWalk::write_item`] gives (prost writes a
    /// list's entries together, in the place of its field number), without encoding the
    /// item's other fields again.
    fn splice_attributes(
        &mut self,
        number: u64,
        msg: &'a [u8],
        (start, end): (usize, usize),
        (attributes, wire, decoded): (u64, &WireAttrs<'a>, Option<&[KeyValue]>),
    ) -> usize {
        let h = self.plan.pieces.len();
        self.plan.pieces.push(Piece::Header { number, len: 0 });
        let mut len = 0;
        if start > 0 {
            len += self.plan.input(&msg[..start]);
        }
        len += self.plan_attributes(attributes, wire, decoded);
        if end < msg.len() {
            len += self.plan.input(&msg[end..]);
        }
        self.plan.pieces[h] = Piece::Header { number, len };
        header_len(number, len) + len
    }

    /// The attribute list as field `attributes` of its item: the wire form's entries, or
    /// the decoded list once an operation needed it.
    fn plan_attributes(
        &mut self,
        attributes: u64,
        wire: &WireAttrs<'a>,
        decoded: Option<&[KeyValue]>,
    ) -> usize {
        match decoded {
            None => wire.plan(attributes, &mut self.plan),
            Some(list) => list
                .iter()
                .map(|kv| self.plan.message(attributes, kv))
                .sum(),
        }
    }

    /// Write a changed item as field `number` of what holds it: the scalar fields as prost
    /// encodes them, the attributes and the other lists in their places by field number
    /// (prost writes fields in that order, a oneof at its lowest number).
    fn write_item(
        &mut self,
        number: u64,
        item: &T,
        wire: &WireAttrs<'a>,
        decoded: Option<&[KeyValue]>,
    ) -> usize {
        let item_number = number;
        let (lists, attributes) = (item.lists(), item.attributes_field());
        let h = self.plan.pieces.len();
        self.plan.pieces.push(Piece::Header {
            number: item_number,
            len: 0,
        });
        let start = self.plan.arena.len();
        item.encode_fields(&mut self.plan.arena);
        let end = self.plan.arena.len();
        let mut len = 0;
        let mut next_list = 0;
        let kept = std::mem::take(&mut self.kept);
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
                let number = item.position(f.number);
                if lists.get(next_list).is_none_or(|&n| n > number) {
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
            while let Some(&n) = lists.get(next_list).filter(|&&n| n < number) {
                next_list += 1;
                if n == attributes {
                    len += self.plan_attributes(n, wire, decoded);
                } else if T::ONEOF.contains(&n) {
                    if T::ONEOF.first() == Some(&n) {
                        for &(_, raw) in kept.iter().filter(|(k, _)| T::ONEOF.contains(k)) {
                            len += self.plan.input(raw);
                        }
                    }
                } else {
                    for &(_, raw) in kept.iter().filter(|(k, _)| *k == n) {
                        len += self.plan.input(raw);
                    }
                }
            }
            if number == u64::MAX {
                break;
            }
        }
        self.kept = kept;
        self.plan.pieces[h] = Piece::Header {
            number: item_number,
            len,
        };
        header_len(item_number, len) + len
    }
}

/// A bytes field's value, written into the existing buffer.
fn put_bytes(to: &mut Vec<u8>, value: &[u8]) {
    to.clear();
    to.extend_from_slice(value);
}

/// A string field's value, written into the existing buffer; `None` when it is not UTF-8.
fn put_str(to: &mut String, value: &[u8]) -> Option<()> {
    to.clear();
    to.push_str(std::str::from_utf8(value).ok()?);
    Some(())
}

/// A span's status merged as prost merges it, for the layouts every encoder writes: its
/// `message` and `code` fields, each of its type. `None`, with the fields as they were,
/// for anything else (prost then merges the field).
fn merge_status(status: &mut Status, mut value: &[u8]) -> Option<()> {
    let (mut message, mut code) = (None, None);
    while !value.is_empty() {
        let f = next_field(&mut value)?;
        match (f.number, f.wire_type) {
            (2, 2) => message = Some(std::str::from_utf8(f.value).ok()?),
            (3, 0) => code = Some(crate::wire::varint(&mut &*f.value)? as i32),
            _ => return None,
        }
    }
    if let Some(m) = message {
        status.message.clear();
        status.message.push_str(m);
    }
    if let Some(c) = code {
        status.code = c;
    }
    Some(())
}

/// A log record's body that holds one string field and nothing else; `None` for any other
/// body.
fn string_body(mut value: &[u8]) -> Option<AnyValue> {
    let f = next_field(&mut value)?;
    if (f.number, f.wire_type) != (1, 2) || !value.is_empty() {
        return None;
    }
    let s = std::str::from_utf8(f.value).ok()?;
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.to_owned())),
    })
}

fn fixed64(value: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(value.try_into().ok()?))
}

fn fixed32(value: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(value.try_into().ok()?))
}

impl WireItem for Span {
    const SIGNAL: crate::Signal = crate::Signal::Traces;
    const ATTRIBUTES: u64 = 9;
    const LISTS: &'static [u64] = &[9, 11, 13];

    fn attributes_mut(&mut self) -> &mut Vec<KeyValue> {
        &mut self.attributes
    }

    fn reset(&mut self) {
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
        } = self;
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

    #[inline(always)]
    fn scalar(&mut self, number: u64, wire_type: u64, value: &[u8]) -> Option<()> {
        let varint = || crate::wire::varint(&mut &*value);
        match (number, wire_type) {
            (1, 2) => put_bytes(&mut self.trace_id, value),
            (2, 2) => put_bytes(&mut self.span_id, value),
            (3, 2) => put_str(&mut self.trace_state, value)?,
            (4, 2) => put_bytes(&mut self.parent_span_id, value),
            (5, 2) => put_str(&mut self.name, value)?,
            (6, 0) => self.kind = varint()? as i32,
            (7, 1) => self.start_time_unix_nano = fixed64(value)?,
            (8, 1) => self.end_time_unix_nano = fixed64(value)?,
            (10, 0) => self.dropped_attributes_count = varint()? as u32,
            (12, 0) => self.dropped_events_count = varint()? as u32,
            (14, 0) => self.dropped_links_count = varint()? as u32,
            (16, 5) => self.flags = fixed32(value)?,
            (15, 2) => merge_status(self.status.get_or_insert_with(Status::default), value)?,
            _ => return None,
        }
        Some(())
    }
}

impl WireItem for LogRecord {
    const SIGNAL: crate::Signal = crate::Signal::Logs;
    const ATTRIBUTES: u64 = 6;
    const LISTS: &'static [u64] = &[6];

    fn attributes_mut(&mut self) -> &mut Vec<KeyValue> {
        &mut self.attributes
    }

    fn reset(&mut self) {
        let LogRecord {
            time_unix_nano,
            observed_time_unix_nano,
            severity_number,
            severity_text,
            body,
            attributes,
            dropped_attributes_count,
            flags,
            trace_id,
            span_id,
            event_name,
        } = self;
        *time_unix_nano = 0;
        *observed_time_unix_nano = 0;
        *severity_number = 0;
        severity_text.clear();
        *body = None;
        attributes.clear();
        *dropped_attributes_count = 0;
        *flags = 0;
        trace_id.clear();
        span_id.clear();
        event_name.clear();
    }

    #[inline(always)]
    fn scalar(&mut self, number: u64, wire_type: u64, value: &[u8]) -> Option<()> {
        let varint = || crate::wire::varint(&mut &*value);
        match (number, wire_type) {
            (1, 1) => self.time_unix_nano = fixed64(value)?,
            (11, 1) => self.observed_time_unix_nano = fixed64(value)?,
            (2, 0) => self.severity_number = varint()? as i32,
            (3, 2) => put_str(&mut self.severity_text, value)?,
            (7, 0) => self.dropped_attributes_count = varint()? as u32,
            (8, 5) => self.flags = fixed32(value)?,
            (9, 2) => put_bytes(&mut self.trace_id, value),
            (10, 2) => put_bytes(&mut self.span_id, value),
            (12, 2) => put_str(&mut self.event_name, value)?,
            // a string body: what prost's merge leaves, even over an earlier body (the
            // body's one field is a oneof, which a string replaces)
            (5, 2) => self.body = Some(string_body(value)?),
            _ => return None,
        }
        Some(())
    }
}

impl WireItem for Metric {
    const SIGNAL: crate::Signal = crate::Signal::Metrics;
    const ATTRIBUTES: u64 = 12;
    const LISTS: &'static [u64] = &[5, 7, 9, 10, 11, 12];
    const ONEOF: &'static [u64] = &[5, 7, 9, 10, 11];

    fn attributes_mut(&mut self) -> &mut Vec<KeyValue> {
        &mut self.metadata
    }

    fn reset(&mut self) {
        let Metric {
            name,
            description,
            unit,
            metadata,
            data,
        } = self;
        name.clear();
        description.clear();
        unit.clear();
        metadata.clear();
        *data = None;
    }

    #[inline(always)]
    fn scalar(&mut self, number: u64, wire_type: u64, value: &[u8]) -> Option<()> {
        match (number, wire_type) {
            (1, 2) => put_str(&mut self.name, value)?,
            (2, 2) => put_str(&mut self.description, value)?,
            (3, 2) => put_str(&mut self.unit, value)?,
            _ => return None,
        }
        Some(())
    }

    /// The data's kind and header as prost decodes them: the last variant, merged with the
    /// occurrences of the same variant just before it; its data points left out.
    fn read_kept(&mut self, kept: &[(u64, &[u8])]) -> Option<()> {
        let mut kind = 0;
        let (mut temporality, mut monotonic) = (0i32, false);
        for &(number, raw) in kept.iter().filter(|(n, _)| Self::ONEOF.contains(n)) {
            let mut whole = raw;
            let value = next_field(&mut whole)?.value;
            if number != kind {
                (kind, temporality, monotonic) = (number, 0, false);
            }
            let mut rest = value;
            while !rest.is_empty() {
                let f = next_field(&mut rest)?;
                let read = || crate::wire::varint(&mut &*f.value);
                match (number, f.number, f.wire_type) {
                    (7 | 9 | 10, 2, 0) => temporality = read()? as i32,
                    (7, 3, 0) => monotonic = read()? != 0,
                    _ => {}
                }
            }
        }
        self.data = match kind {
            0 => None,
            5 => Some(metric::Data::Gauge(Gauge::default())),
            7 => Some(metric::Data::Sum(Sum {
                aggregation_temporality: temporality,
                is_monotonic: monotonic,
                ..Default::default()
            })),
            9 => Some(metric::Data::Histogram(Histogram {
                aggregation_temporality: temporality,
                ..Default::default()
            })),
            10 => Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                aggregation_temporality: temporality,
                ..Default::default()
            })),
            _ => Some(metric::Data::Summary(Summary::default())),
        };
        Some(())
    }

    /// The name, description and unit: the data stays as it came, in the kept fields.
    fn encode_fields(&self, buf: &mut Vec<u8>) {
        for (number, s) in [(1, &self.name), (2, &self.description), (3, &self.unit)] {
            if !s.is_empty() {
                crate::wire_edit::put_len_field(buf, number, s.as_bytes());
            }
        }
    }

    fn weight(item: &[u8]) -> Result<usize, ItemEditError> {
        crate::wire::metric_points(item).ok_or(WALK)
    }
}

/// A data point of any kind: the item of a data point walk ([`PointParts`]), which takes
/// the kind of each metric's points.
#[derive(Debug, Clone, PartialEq)]
pub enum DataPoint {
    /// A gauge's or a sum's.
    Number(NumberDataPoint),
    Histogram(HistogramDataPoint),
    ExpHistogram(ExponentialHistogramDataPoint),
    Summary(SummaryDataPoint),
}

impl Default for DataPoint {
    fn default() -> Self {
        DataPoint::Number(NumberDataPoint::default())
    }
}

/// `$e` with `$p` the point of whatever kind `$s` holds.
macro_rules! each_point {
    ($s:expr, $p:ident => $e:expr) => {
        match $s {
            DataPoint::Number($p) => $e,
            DataPoint::Histogram($p) => $e,
            DataPoint::ExpHistogram($p) => $e,
            DataPoint::Summary($p) => $e,
        }
    };
}

impl Message for DataPoint {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        each_point!(self, p => p.encode_raw(buf))
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        each_point!(self, p => p.merge_field(tag, wire_type, buf, ctx))
    }

    fn encoded_len(&self) -> usize {
        each_point!(self, p => p.encoded_len())
    }

    fn clear(&mut self) {
        each_point!(self, p => p.clear())
    }
}

impl WireItem for DataPoint {
    const SIGNAL: crate::Signal = crate::Signal::Metrics;
    // by the kind of point: `attributes_field` and `lists`
    const ATTRIBUTES: u64 = 7;
    const LISTS: &'static [u64] = &[5, 7];
    const IN_METRICS: bool = true;

    fn attributes_field(&self) -> u64 {
        match self {
            DataPoint::Number(_) | DataPoint::Summary(_) => 7,
            DataPoint::Histogram(_) => 9,
            DataPoint::ExpHistogram(_) => 1,
        }
    }

    /// The exemplars (a summary point's quantiles) and the attributes.
    fn lists(&self) -> &'static [u64] {
        match self {
            DataPoint::Number(_) => &[5, 7],
            DataPoint::Histogram(_) => &[8, 9],
            DataPoint::ExpHistogram(_) => &[1, 11],
            DataPoint::Summary(_) => &[6, 7],
        }
    }

    /// A number point's `as_int` (6) is written with the value oneof, at `as_double`'s 4.
    fn position(&self, number: u64) -> u64 {
        match (self, number) {
            (DataPoint::Number(_), 6) => 4,
            _ => number,
        }
    }

    fn enter(&mut self, data: u64) {
        *self = match (data, std::mem::take(self)) {
            (5 | 7, p @ DataPoint::Number(_))
            | (9, p @ DataPoint::Histogram(_))
            | (10, p @ DataPoint::ExpHistogram(_))
            | (11, p @ DataPoint::Summary(_)) => p,
            (5 | 7, _) => DataPoint::Number(Default::default()),
            (9, _) => DataPoint::Histogram(Default::default()),
            (10, _) => DataPoint::ExpHistogram(Default::default()),
            _ => DataPoint::Summary(Default::default()),
        }
    }

    fn reset(&mut self) {
        // prost's clear keeps the lists' capacity
        self.clear()
    }

    fn attributes_mut(&mut self) -> &mut Vec<KeyValue> {
        each_point!(self, p => &mut p.attributes)
    }

    #[inline(always)]
    fn scalar(&mut self, number: u64, wire_type: u64, value: &[u8]) -> Option<()> {
        let varint = || crate::wire::varint(&mut &*value);
        let (start, time) =
            each_point!(self, p => (&mut p.start_time_unix_nano, &mut p.time_unix_nano));
        match (number, wire_type) {
            (2, 1) => *start = fixed64(value)?,
            (3, 1) => *time = fixed64(value)?,
            _ => match (self, number, wire_type) {
                (DataPoint::Number(p), 4, 1) => {
                    p.value = Some(number_data_point::Value::AsDouble(f64::from_bits(fixed64(
                        value,
                    )?)))
                }
                (DataPoint::Number(p), 6, 1) => {
                    p.value = Some(number_data_point::Value::AsInt(fixed64(value)? as i64))
                }
                (DataPoint::Number(p), 8, 0) => p.flags = varint()? as u32,
                (DataPoint::Summary(p), 8, 0) => p.flags = varint()? as u32,
                (DataPoint::Histogram(p), 10, 0) => p.flags = varint()? as u32,
                (DataPoint::ExpHistogram(p), 10, 0) => p.flags = varint()? as u32,
                _ => return None,
            },
        }
        Some(())
    }

    /// A scope's item is a metric: its data points.
    fn weight(item: &[u8]) -> Result<usize, ItemEditError> {
        crate::wire::metric_points(item).ok_or(WALK)
    }
}

/// The spans of one trace from one resource entry of a trace export request, as
/// [`split_by_trace`] gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePiece {
    /// The spans' trace id, padded with zeros or cut to 16 bytes.
    pub id: [u8; 16],
    /// An encoded `ResourceSpans`: the entry's resource, then each scope entry that holds
    /// spans of the trace (its scope, those spans in order, its schema URL), then the
    /// entry's schema URL.
    pub bytes: Vec<u8>,
    pub spans: usize,
    /// Whether a span has no parent (an empty or all-zero parent span id).
    pub has_root: bool,
}

/// A trace piece being gathered: the scope entries it has spans in (each the entry's
/// index, its fields but the spans, and the spans' whole fields).
struct Gathered<'a> {
    id: [u8; 16],
    scopes: Vec<(usize, Vec<&'a [u8]>)>,
    spans: usize,
    has_root: bool,
}

/// Split the trace export request in `bytes` (bytes [`crate::wire::scan`] accepted) into
/// the spans of each trace, per resource entry, in the order each trace first appears in
/// the entry, without decoding a span: only its trace id and parent span id are read. The
/// pieces decode to what splitting the decoded request gives (Go `groupSpansByTraceKey`),
/// and for a request prost encoded they are its encoding byte for byte. `None` when the
/// bytes cannot be walked.
pub fn split_by_trace(bytes: &[u8]) -> Option<Vec<TracePiece>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let f = next_field(&mut rest)?;
        if f.number == 1 && f.wire_type == 2 {
            split_resource_spans(f.value, &mut out)?;
        }
    }
    Some(out)
}

/// The pieces of one `ResourceSpans`.
fn split_resource_spans(entry: &[u8], out: &mut Vec<TracePiece>) -> Option<()> {
    // the resource and schema URL fields as they came (every occurrence, so they merge as
    // they would have), and the scope entries
    let (mut head, mut tail, mut scopes) = (Vec::new(), Vec::new(), Vec::new());
    let mut rest = entry;
    while !rest.is_empty() {
        let f = next_field(&mut rest)?;
        match (f.number, f.wire_type) {
            (1, 2) => head.push(f.raw),
            (2, 2) => scopes.push(f.value),
            (3, 2) => tail.push(f.raw),
            // anything else prost drops
            _ => {}
        }
    }
    let mut gathered: Vec<Gathered<'_>> = Vec::new();
    let mut by_trace: std::collections::HashMap<[u8; 16], usize> = Default::default();
    // each scope entry's fields but its spans
    let mut scope_fields: Vec<Vec<(u64, &[u8])>> = Vec::with_capacity(scopes.len());
    for (index, scope) in scopes.iter().enumerate() {
        let mut fields = Vec::new();
        let mut rest = *scope;
        while !rest.is_empty() {
            let f = next_field(&mut rest)?;
            match (f.number, f.wire_type) {
                (2, 2) => {
                    let (id, root) = span_trace(f.value)?;
                    let at = *by_trace.entry(id).or_insert_with(|| {
                        gathered.push(Gathered {
                            id,
                            scopes: Vec::new(),
                            spans: 0,
                            has_root: false,
                        });
                        gathered.len() - 1
                    });
                    let g = &mut gathered[at];
                    if g.scopes.last().is_none_or(|(i, _)| *i != index) {
                        g.scopes.push((index, Vec::new()));
                    }
                    if let Some((_, spans)) = g.scopes.last_mut() {
                        spans.push(f.raw);
                    }
                    g.spans += 1;
                    g.has_root |= root;
                }
                (1, 2) | (3, 2) => fields.push((f.number, f.raw)),
                _ => {}
            }
        }
        scope_fields.push(fields);
    }
    let sum = |raws: &[&[u8]]| raws.iter().map(|r| r.len()).sum::<usize>();
    let scope_len = |index: usize, spans: &[&[u8]]| {
        scope_fields[index]
            .iter()
            .map(|(_, r)| r.len())
            .sum::<usize>()
            + sum(spans)
    };
    for g in gathered {
        // sized exactly: a trace's bytes are held until its decision
        let len = sum(&head)
            + sum(&tail)
            + g.scopes
                .iter()
                .map(|(index, spans)| {
                    let len = scope_len(*index, spans);
                    crate::wire_edit::header_len(2, len) + len
                })
                .sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        head.iter().for_each(|raw| bytes.extend_from_slice(raw));
        for (index, spans) in &g.scopes {
            let fields = &scope_fields[*index];
            // the scope (field 1) first, then the spans, then the schema URL (field 3), as
            // prost writes them
            let of = |number: u64| {
                fields
                    .iter()
                    .filter(move |(n, _)| *n == number)
                    .map(|(_, raw)| *raw)
            };
            crate::wire_edit::put_len_header(&mut bytes, 2, scope_len(*index, spans));
            of(1).for_each(|raw| bytes.extend_from_slice(raw));
            spans.iter().for_each(|raw| bytes.extend_from_slice(raw));
            of(3).for_each(|raw| bytes.extend_from_slice(raw));
        }
        tail.iter().for_each(|raw| bytes.extend_from_slice(raw));
        debug_assert_eq!(bytes.len(), len);
        out.push(TracePiece {
            id: g.id,
            bytes,
            spans: g.spans,
            has_root: g.has_root,
        });
    }
    Some(())
}

/// A span's trace id (the last occurrence, as prost reads it, padded or cut to 16 bytes)
/// and whether it is a root (its parent span id empty or all zeros).
fn span_trace(span: &[u8]) -> Option<([u8; 16], bool)> {
    let (mut trace, mut parent): (&[u8], &[u8]) = (&[], &[]);
    let mut rest = span;
    while !rest.is_empty() {
        let f = next_field(&mut rest)?;
        match (f.number, f.wire_type) {
            (1, 2) => trace = f.value,
            (4, 2) => parent = f.value,
            _ => {}
        }
    }
    let mut id = [0u8; 16];
    let n = trace.len().min(16);
    id[..n].copy_from_slice(&trace[..n]);
    Some((id, parent.iter().all(|b| *b == 0)))
}
