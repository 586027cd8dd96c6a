//! Paths: resolution of `context.field[keys]` to a target at load time, and reading and
//! writing the target at run time.

use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::proto::tonic::metrics::v1::metric;
use pipeline_api::proto::tonic::trace::v1::{Span, Status};

use crate::compile::Getter;
use crate::context::{map_get, map_slot, ContextKind, Ctx, Item, Point, WirePoint};
use crate::parser::CmpOp;
use crate::value::Value;
use pipeline_api::attrs::AttrMap;
use pipeline_api::wire_edit::ValueRef;
use pipeline_api::wire_items::WireMap;
use std::borrow::Cow;

/// A map-valued target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapT {
    ResourceAttrs,
    ScopeAttrs,
    SpanAttrs,
    EventAttrs,
    LogAttrs,
    PointAttrs,
    MetricMetadata,
    Cache,
}

/// A scalar field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldT {
    ResourceDropped,
    ResourceSchemaUrl,
    ScopeName,
    ScopeVersion,
    ScopeDropped,
    ScopeSchemaUrl,
    TraceId,
    TraceIdStr,
    SpanId,
    SpanIdStr,
    ParentSpanId,
    ParentSpanIdStr,
    TraceState,
    SpanName,
    Kind,
    KindString,
    KindDeprecated,
    SpanStartNanos,
    SpanEndNanos,
    SpanStart,
    SpanEnd,
    SpanDroppedAttrs,
    SpanDroppedEvents,
    SpanDroppedLinks,
    StatusCode,
    StatusMessage,
    SpanFlags,
    EventName,
    EventTimeNanos,
    EventTime,
    EventDropped,
    EventIndex,
    LogBodyString,
    LogTimeNanos,
    LogObservedNanos,
    LogTime,
    LogObserved,
    SeverityNumber,
    SeverityText,
    LogFlags,
    LogTraceId,
    LogTraceIdStr,
    LogSpanId,
    LogSpanIdStr,
    LogDropped,
    LogEventName,
    MetricName,
    MetricDescription,
    MetricUnit,
    MetricType,
    Temporality,
    Monotonic,
    PointStartNanos,
    PointTimeNanos,
    PointStart,
    PointTime,
    ValueDouble,
    ValueInt,
    PointFlags,
    Count,
    Sum,
    BucketCounts,
    ExplicitBounds,
    Scale,
    ZeroCount,
    PositiveOffset,
    PositiveBuckets,
    NegativeOffset,
    NegativeBuckets,
}

/// What a path designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Map(MapT),
    /// A log body.
    Body,
    Field(FieldT),
}

/// A key after compilation.
pub enum CKey {
    Str(String),
    Int(i64),
    Expr(Getter),
}

/// A compiled path.
pub struct CPath {
    pub target: Target,
    pub keys: Vec<CKey>,
    pub text: String,
}

/// The target of `ctx.field.sub` (the context already split off).
pub fn resolve(ctx: ContextKind, names: &[&str]) -> Option<Target> {
    use ContextKind as C;
    use FieldT as F;
    let t = match (ctx, names) {
        (C::Resource, ["attributes"]) => Target::Map(MapT::ResourceAttrs),
        (C::Resource, ["dropped_attributes_count"]) => Target::Field(F::ResourceDropped),
        (C::Resource, ["schema_url"]) => Target::Field(F::ResourceSchemaUrl),
        (C::Scope, ["name"]) => Target::Field(F::ScopeName),
        (C::Scope, ["version"]) => Target::Field(F::ScopeVersion),
        (C::Scope, ["attributes"]) => Target::Map(MapT::ScopeAttrs),
        (C::Scope, ["dropped_attributes_count"]) => Target::Field(F::ScopeDropped),
        (C::Scope, ["schema_url"]) => Target::Field(F::ScopeSchemaUrl),
        (C::Span, ["trace_id"]) => Target::Field(F::TraceId),
        (C::Span, ["trace_id", "string"]) => Target::Field(F::TraceIdStr),
        (C::Span, ["span_id"]) => Target::Field(F::SpanId),
        (C::Span, ["span_id", "string"]) => Target::Field(F::SpanIdStr),
        (C::Span, ["parent_span_id"]) => Target::Field(F::ParentSpanId),
        (C::Span, ["parent_span_id", "string"]) => Target::Field(F::ParentSpanIdStr),
        (C::Span, ["trace_state"]) => Target::Field(F::TraceState),
        (C::Span, ["name"]) => Target::Field(F::SpanName),
        (C::Span, ["kind"]) => Target::Field(F::Kind),
        (C::Span, ["kind", "string"]) => Target::Field(F::KindString),
        (C::Span, ["kind", "deprecated_string"]) => Target::Field(F::KindDeprecated),
        (C::Span, ["start_time_unix_nano"]) => Target::Field(F::SpanStartNanos),
        (C::Span, ["end_time_unix_nano"]) => Target::Field(F::SpanEndNanos),
        (C::Span, ["start_time"]) => Target::Field(F::SpanStart),
        (C::Span, ["end_time"]) => Target::Field(F::SpanEnd),
        (C::Span, ["attributes"]) => Target::Map(MapT::SpanAttrs),
        (C::Span, ["dropped_attributes_count"]) => Target::Field(F::SpanDroppedAttrs),
        (C::Span, ["dropped_events_count"]) => Target::Field(F::SpanDroppedEvents),
        (C::Span, ["dropped_links_count"]) => Target::Field(F::SpanDroppedLinks),
        (C::Span, ["status", "code"]) => Target::Field(F::StatusCode),
        (C::Span, ["status", "message"]) => Target::Field(F::StatusMessage),
        (C::Span, ["flags"]) => Target::Field(F::SpanFlags),
        (C::SpanEvent, ["name"]) => Target::Field(F::EventName),
        (C::SpanEvent, ["time_unix_nano"]) => Target::Field(F::EventTimeNanos),
        (C::SpanEvent, ["time"]) => Target::Field(F::EventTime),
        (C::SpanEvent, ["attributes"]) => Target::Map(MapT::EventAttrs),
        (C::SpanEvent, ["dropped_attributes_count"]) => Target::Field(F::EventDropped),
        (C::SpanEvent, ["event_index"]) => Target::Field(F::EventIndex),
        (C::Log, ["body"]) => Target::Body,
        (C::Log, ["body", "string"]) => Target::Field(F::LogBodyString),
        (C::Log, ["attributes"]) => Target::Map(MapT::LogAttrs),
        (C::Log, ["time_unix_nano"]) => Target::Field(F::LogTimeNanos),
        (C::Log, ["observed_time_unix_nano"]) => Target::Field(F::LogObservedNanos),
        (C::Log, ["time"]) => Target::Field(F::LogTime),
        (C::Log, ["observed_time"]) => Target::Field(F::LogObserved),
        (C::Log, ["severity_number"]) => Target::Field(F::SeverityNumber),
        (C::Log, ["severity_text"]) => Target::Field(F::SeverityText),
        (C::Log, ["flags"]) => Target::Field(F::LogFlags),
        (C::Log, ["trace_id"]) => Target::Field(F::LogTraceId),
        (C::Log, ["trace_id", "string"]) => Target::Field(F::LogTraceIdStr),
        (C::Log, ["span_id"]) => Target::Field(F::LogSpanId),
        (C::Log, ["span_id", "string"]) => Target::Field(F::LogSpanIdStr),
        (C::Log, ["dropped_attributes_count"]) => Target::Field(F::LogDropped),
        (C::Log, ["event_name"]) => Target::Field(F::LogEventName),
        (C::Metric, ["name"]) => Target::Field(F::MetricName),
        (C::Metric, ["description"]) => Target::Field(F::MetricDescription),
        (C::Metric, ["unit"]) => Target::Field(F::MetricUnit),
        (C::Metric, ["type"]) => Target::Field(F::MetricType),
        (C::Metric, ["aggregation_temporality"]) => Target::Field(F::Temporality),
        (C::Metric, ["is_monotonic"]) => Target::Field(F::Monotonic),
        (C::Metric, ["metadata"]) => Target::Map(MapT::MetricMetadata),
        (C::DataPoint, ["attributes"]) => Target::Map(MapT::PointAttrs),
        (C::DataPoint, ["start_time_unix_nano"]) => Target::Field(F::PointStartNanos),
        (C::DataPoint, ["time_unix_nano"]) => Target::Field(F::PointTimeNanos),
        (C::DataPoint, ["start_time"]) => Target::Field(F::PointStart),
        (C::DataPoint, ["time"]) => Target::Field(F::PointTime),
        (C::DataPoint, ["value_double"]) => Target::Field(F::ValueDouble),
        (C::DataPoint, ["value_int"]) => Target::Field(F::ValueInt),
        (C::DataPoint, ["flags"]) => Target::Field(F::PointFlags),
        (C::DataPoint, ["count"]) => Target::Field(F::Count),
        (C::DataPoint, ["sum"]) => Target::Field(F::Sum),
        (C::DataPoint, ["bucket_counts"]) => Target::Field(F::BucketCounts),
        (C::DataPoint, ["explicit_bounds"]) => Target::Field(F::ExplicitBounds),
        (C::DataPoint, ["scale"]) => Target::Field(F::Scale),
        (C::DataPoint, ["zero_count"]) => Target::Field(F::ZeroCount),
        (C::DataPoint, ["positive", "offset"]) => Target::Field(F::PositiveOffset),
        (C::DataPoint, ["positive", "bucket_counts"]) => Target::Field(F::PositiveBuckets),
        (C::DataPoint, ["negative", "offset"]) => Target::Field(F::NegativeOffset),
        (C::DataPoint, ["negative", "bucket_counts"]) => Target::Field(F::NegativeBuckets),
        _ => return None,
    };
    Some(t)
}

fn hex(b: &[u8]) -> String {
    const_hex::encode(b)
}

fn id_str(b: &[u8]) -> String {
    if b.iter().all(|x| *x == 0) {
        String::new()
    } else {
        hex(b)
    }
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

const KIND_STRINGS: [&str; 6] = [
    "Unspecified",
    "Internal",
    "Server",
    "Client",
    "Producer",
    "Consumer",
];
const KIND_DEPRECATED: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

fn u64s(v: &[u64]) -> Value {
    Value::List(
        v.iter()
            .map(|x| Value::Int(*x as i64).into_any_or_empty())
            .collect(),
    )
}

fn f64s(v: &[f64]) -> Value {
    Value::List(
        v.iter()
            .map(|x| Value::Double(*x).into_any_or_empty())
            .collect(),
    )
}

fn list_ints(v: &Value) -> Option<Vec<u64>> {
    match v {
        Value::List(l) => l
            .iter()
            .map(|a| match a.value {
                Some(any_value::Value::IntValue(i)) => Some(i as u64),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn list_doubles(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::List(l) => l
            .iter()
            .map(|a| match a.value {
                Some(any_value::Value::DoubleValue(d)) => Some(d),
                Some(any_value::Value::IntValue(i)) => Some(i as f64),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A map target for reading: a decoded list, or a span's attributes in the wire form.
#[derive(Clone, Copy)]
pub enum MapRef<'c> {
    List(&'c [KeyValue]),
    Wire(&'c dyn WireMap),
}

impl<'c> MapRef<'c> {
    /// The value of the first entry of `key`.
    pub fn get(self, key: &str) -> Option<Cow<'c, AnyValue>> {
        match self {
            MapRef::List(m) => map_get(m, key).map(Cow::Borrowed),
            MapRef::Wire(m) => m.get(key).map(Cow::Owned),
        }
    }

    pub fn to_vec(self) -> Vec<KeyValue> {
        match self {
            MapRef::List(m) => m.to_vec(),
            MapRef::Wire(m) => m.decode_all(),
        }
    }
}

/// The attributes of a span or log record in the wire form when `t` names them: the wire
/// list, and the decoded one once an operation needed it.
fn wire_attrs<'c>(
    ctx: &'c Ctx<'_>,
    t: MapT,
) -> Option<(&'c dyn WireMap, &'c Option<Vec<KeyValue>>)> {
    match (t, &ctx.item) {
        (MapT::SpanAttrs, Item::WireSpan { attrs, decoded, .. })
        | (MapT::LogAttrs, Item::WireLog { attrs, decoded, .. })
        | (MapT::MetricMetadata, Item::WireMetric { attrs, decoded, .. }) => {
            Some((*attrs, &**decoded))
        }
        (MapT::PointAttrs, Item::DataPoint { wire: Some(w), .. }) => Some((w.attrs, &*w.decoded)),
        _ => None,
    }
}

/// The map of a map target, when it exists.
pub fn map_ref<'c>(ctx: &'c Ctx<'_>, t: MapT) -> Option<MapRef<'c>> {
    if let Some((attrs, decoded)) = wire_attrs(ctx, t) {
        return Some(match decoded {
            Some(list) => MapRef::List(list),
            None => MapRef::Wire(attrs),
        });
    }
    list_ref(ctx, t).map(|m| MapRef::List(m))
}

/// An item's attributes still in the wire form, for editing in place.
fn wire_map<'c>(ctx: &'c Ctx<'_>, t: MapT) -> Option<&'c dyn WireMap> {
    match wire_attrs(ctx, t)? {
        (attrs, None) => Some(attrs),
        _ => None,
    }
}

fn list_ref<'c>(ctx: &'c Ctx<'_>, t: MapT) -> Option<&'c Vec<KeyValue>> {
    match t {
        MapT::ResourceAttrs => ctx.resource.as_ref().map(|r| &r.attributes),
        MapT::ScopeAttrs => ctx.scope_ref().map(|s| &s.attributes),
        MapT::SpanAttrs => match &ctx.item {
            Item::Span(s) => Some(&s.attributes),
            Item::SpanEvent { span, .. } => Some(&span.attributes),
            _ => None,
        },
        MapT::EventAttrs => match &ctx.item {
            Item::SpanEvent { event, .. } => Some(&event.attributes),
            _ => None,
        },
        MapT::LogAttrs => match &ctx.item {
            Item::Log(l) => Some(&l.attributes),
            _ => None,
        },
        MapT::PointAttrs => match &ctx.item {
            // in `wire` (`wire_attrs`) for a point in the wire form
            Item::DataPoint {
                point, wire: None, ..
            } => Some(match point {
                Point::Number(p) => &p.attributes,
                Point::Histogram(p) => &p.attributes,
                Point::ExpHistogram(p) => &p.attributes,
                Point::Summary(p) => &p.attributes,
            }),
            _ => None,
        },
        MapT::MetricMetadata => match &ctx.item {
            // in `attrs` (`wire_attrs`), not in the metric
            Item::WireMetric { .. } => None,
            _ => ctx.metric().map(|m| &m.metadata),
        },
        MapT::Cache => Some(&ctx.cache),
    }
}

/// The map of a map target, for writing (a span's attributes in the wire form decoded).
pub fn map_mut<'c>(ctx: &'c mut Ctx<'_>, t: MapT) -> Option<&'c mut Vec<KeyValue>> {
    match t {
        MapT::ResourceAttrs => Some(&mut ctx.resource_mut().attributes),
        MapT::ScopeAttrs => ctx.scope_mut().map(|s| &mut s.attributes),
        MapT::SpanAttrs => match &mut ctx.item {
            Item::Span(s) => Some(&mut s.attributes),
            Item::SpanEvent { span, .. } => Some(&mut span.attributes),
            Item::WireSpan { attrs, decoded, .. } => {
                Some(decoded.get_or_insert_with(|| attrs.decode_all()))
            }
            _ => None,
        },
        MapT::EventAttrs => match &mut ctx.item {
            Item::SpanEvent { event, .. } => Some(&mut event.attributes),
            _ => None,
        },
        MapT::LogAttrs => match &mut ctx.item {
            Item::Log(l) => Some(&mut l.attributes),
            Item::WireLog { attrs, decoded, .. } => {
                Some(decoded.get_or_insert_with(|| attrs.decode_all()))
            }
            _ => None,
        },
        MapT::PointAttrs => match &mut ctx.item {
            Item::DataPoint {
                wire: Some(WirePoint { attrs, decoded, .. }),
                ..
            } => Some(decoded.get_or_insert_with(|| attrs.decode_all())),
            Item::DataPoint { point, .. } => Some(match point {
                Point::Number(p) => &mut p.attributes,
                Point::Histogram(p) => &mut p.attributes,
                Point::ExpHistogram(p) => &mut p.attributes,
                Point::Summary(p) => &mut p.attributes,
            }),
            _ => None,
        },
        MapT::MetricMetadata => match &mut ctx.item {
            Item::WireMetric { attrs, decoded, .. } => {
                Some(decoded.get_or_insert_with(|| attrs.decode_all()))
            }
            Item::Metric(m) => Some(&mut m.metadata),
            Item::DataPoint {
                metric, wire: None, ..
            } => Some(&mut metric.metadata),
            _ => None,
        },
        MapT::Cache => Some(&mut ctx.cache),
    }
}

fn body_ref<'c>(ctx: &'c Ctx<'_>) -> Option<&'c AnyValue> {
    ctx.log()?.body.as_ref()
}

fn body_mut<'c>(ctx: &'c mut Ctx<'_>) -> Option<&'c mut AnyValue> {
    Some(ctx.log_mut()?.body.get_or_insert_with(Default::default))
}

/// A resolved key value.
pub enum KeyVal {
    Str(String),
    Int(i64),
}

impl CPath {
    /// Whether writing to the path changes a metric's data (its temporality or
    /// monotonicity).
    pub(crate) fn sets_metric_data(&self) -> bool {
        matches!(
            self.target,
            Target::Field(FieldT::Temporality | FieldT::Monotonic)
        )
    }

    /// Whether the path is a metric's: its fields or metadata (which a statement over a
    /// data point in the wire form cannot change).
    pub(crate) fn is_metric_level(&self) -> bool {
        matches!(
            self.target,
            Target::Map(MapT::MetricMetadata)
                | Target::Field(
                    FieldT::MetricName
                        | FieldT::MetricDescription
                        | FieldT::MetricUnit
                        | FieldT::MetricType
                        | FieldT::Temporality
                        | FieldT::Monotonic
                )
        )
    }

    /// Compare the value at this path with a literal in place, when the path is a map
    /// entry with constant keys and the value a scalar; `None` otherwise.
    pub fn compare_in_place(&self, ctx: &Ctx<'_>, op: CmpOp, lit: &Value) -> Option<bool> {
        let Target::Map(t) = self.target else {
            return None;
        };
        let Some(CKey::Str(first)) = self.keys.first() else {
            return None;
        };
        let m = map_ref(ctx, t)?;
        if let (MapRef::Wire(w), 1) = (m, self.keys.len()) {
            if let (Value::Nil, CmpOp::Eq | CmpOp::Ne) = (lit, op) {
                // `attributes["k"] == nil` in the wire form: nothing decoded
                return Some(w.is_nil(first) == (op == CmpOp::Eq));
            }
            // a string or scalar compared where it lies in the bytes
            let mut r = None;
            w.with_value(first, &mut |v| r = crate::value::compare_ref(v, op, lit));
            return r;
        }
        let found = m.get(first);
        let mut v = found.as_deref();
        for k in &self.keys[1..] {
            v = match (k, v.and_then(|x| x.value.as_ref())) {
                (_, None) => None,
                (CKey::Str(s), Some(any_value::Value::KvlistValue(kv))) => map_get(&kv.values, s),
                (CKey::Int(i), Some(any_value::Value::ArrayValue(a))) => {
                    Some(a.values.get(usize::try_from(*i).ok()?)?)
                }
                _ => return None,
            };
        }
        crate::value::compare_any(v, op, lit)
    }

    fn key_vals(&self, ctx: &Ctx<'_>) -> Result<Vec<KeyVal>, String> {
        self.keys
            .iter()
            .map(|k| match k {
                CKey::Str(s) => Ok(KeyVal::Str(s.clone())),
                CKey::Int(i) => Ok(KeyVal::Int(*i)),
                CKey::Expr(g) => match g.get(ctx)? {
                    Value::Str(s) => Ok(KeyVal::Str(s)),
                    Value::Int(i) => Ok(KeyVal::Int(i)),
                    other => Err(format!(
                        "invalid key type {} for path {}",
                        other.type_name(),
                        self.text
                    )),
                },
            })
            .collect()
    }

    /// Read the path.
    pub fn get(&self, ctx: &Ctx<'_>) -> Result<Value, String> {
        match self.target {
            Target::Map(t) => {
                let Some(m) = map_ref(ctx, t) else {
                    return Ok(if self.keys.is_empty() {
                        Value::Map(Vec::new())
                    } else {
                        Value::Nil
                    });
                };
                if self.keys.is_empty() {
                    return Ok(Value::Map(m.to_vec()));
                }
                if let [CKey::Str(key)] = &self.keys[..] {
                    // the usual `attributes["key"]`: no key list built
                    if let MapRef::Wire(w) = m {
                        let mut out = Value::Nil;
                        w.with_value(key, &mut |v| out = v.map_or(Value::Nil, Value::from_ref));
                        return Ok(out);
                    }
                    return Ok(match m.get(key) {
                        None => Value::Nil,
                        Some(Cow::Owned(v)) => Value::from_any_owned(v),
                        Some(Cow::Borrowed(v)) => Value::from_any(v),
                    });
                }
                let keys = self.key_vals(ctx)?;
                let first = match &keys[0] {
                    KeyVal::Str(s) => s,
                    KeyVal::Int(_) => {
                        return Err(format!("non-string key used on map {}", self.text))
                    }
                };
                match m.get(first) {
                    None => Ok(Value::Nil),
                    // a value decoded from the wire form: moved, not copied
                    Some(Cow::Owned(v)) if keys.len() == 1 => Ok(Value::from_any_owned(v)),
                    Some(v) => nav(&v, &keys[1..], &self.text).map(Value::from_any_opt),
                }
            }
            Target::Body => {
                let Some(b) = body_ref(ctx) else {
                    return Ok(Value::Nil);
                };
                if self.keys.is_empty() {
                    return Ok(Value::from_any(b));
                }
                let keys = self.key_vals(ctx)?;
                nav(b, &keys, &self.text).map(Value::from_any_opt)
            }
            Target::Field(f) => {
                let v = get_field(ctx, f);
                if self.keys.is_empty() {
                    return Ok(v);
                }
                let keys = self.key_vals(ctx)?;
                match v.into_any() {
                    None => Ok(Value::Nil),
                    Some(a) => nav(&a, &keys, &self.text).map(Value::from_any_opt),
                }
            }
        }
    }

    /// Write the path; nil writes nothing (Go `set`).
    pub fn set(&self, ctx: &mut Ctx<'_>, mut v: Value) -> Result<(), String> {
        if v.is_nil() {
            return Ok(());
        }
        if let (Target::Map(t), [CKey::Str(key)]) = (self.target, &self.keys[..]) {
            if let Some(m) = wire_map(ctx, t) {
                // the whole value replaced in the wire form: the old one is not read
                m.edit(&mut |m| m.put(key, std::mem::take(&mut v).into_any_or_empty()));
                return Ok(());
            }
        }
        let keys = self.key_vals(ctx)?;
        match self.target {
            Target::Map(t) => {
                if let (Some(m), Some(KeyVal::Str(first))) = (wire_map(ctx, t), keys.first()) {
                    // in place: one value replaced, the rest of the list kept as it is
                    let mut v = Some(v);
                    let mut res = Ok(());
                    m.edit(&mut |m| {
                        let i = match m.find(first) {
                            Some(i) => i,
                            None => {
                                m.push(first, AnyValue::default());
                                m.len() - 1
                            }
                        };
                        let mut value = m.value(i).into_owned();
                        match nav_mut(&mut value, &keys[1..], &self.text) {
                            Ok(slot) => {
                                *slot = v.take().map(Value::into_any_or_empty).unwrap_or_default();
                                m.set_value(i, value);
                            }
                            Err(e) => res = Err(e),
                        }
                    });
                    return res;
                }
                let Some(m) = map_mut(ctx, t) else {
                    return Ok(());
                };
                if keys.is_empty() {
                    if let Value::Map(new) = v {
                        *m = new;
                    }
                    return Ok(());
                }
                let first = match &keys[0] {
                    KeyVal::Str(s) => s,
                    KeyVal::Int(_) => {
                        return Err(format!("non-string key used on map {}", self.text))
                    }
                };
                let slot = map_slot(m, first);
                let slot = nav_mut(slot, &keys[1..], &self.text)?;
                *slot = v.into_any_or_empty();
                Ok(())
            }
            Target::Body => {
                let Some(b) = body_mut(ctx) else {
                    return Ok(());
                };
                let slot = nav_mut(b, &keys, &self.text)?;
                *slot = v.into_any_or_empty();
                Ok(())
            }
            Target::Field(f) => {
                if !keys.is_empty() {
                    return Err(format!("cannot set an indexed {}", self.text));
                }
                set_field(ctx, f, v);
                Ok(())
            }
        }
    }

    /// Call `f` with the string at this path where it lies in a span's wire-form attributes
    /// (a one-key path whose value is a string); `None` (and `f` not called) otherwise.
    pub fn with_wire_str<R>(
        &self,
        ctx: &Ctx<'_>,
        f: impl FnOnce(&str, &Ctx<'_>) -> R,
    ) -> Option<R> {
        let (Target::Map(t), [CKey::Str(key)]) = (self.target, &self.keys[..]) else {
            return None;
        };
        let w = wire_map(ctx, t)?;
        let mut f = Some(f);
        let mut out = None;
        w.with_value(key, &mut |v| {
            if let Some(ValueRef::Str(s)) = v {
                out = f.take().map(|f| f(s, ctx));
            }
        });
        out
    }

    /// The map the path designates as an [`AttrMap`], for the editors that need no more
    /// than its operations: a span's attributes in the wire form stay in it.
    pub fn with_attr_map<R>(
        &self,
        ctx: &mut Ctx<'_>,
        f: impl FnOnce(&mut dyn AttrMap) -> R,
    ) -> Result<Option<R>, String> {
        if let Target::Map(t) = self.target {
            if self.keys.is_empty() {
                if let Some(m) = wire_map(ctx, t) {
                    let mut f = Some(f);
                    let mut out = None;
                    m.edit(&mut |m| out = f.take().map(|f| f(m)));
                    return Ok(out);
                }
            }
        }
        self.with_map(ctx, |m| f(m))
    }

    /// The map the path designates, for the editors that change maps in place.
    pub fn with_map<R>(
        &self,
        ctx: &mut Ctx<'_>,
        f: impl FnOnce(&mut Vec<KeyValue>) -> R,
    ) -> Result<Option<R>, String> {
        let keys = self.key_vals(ctx)?;
        let any: &mut AnyValue = match self.target {
            Target::Map(t) => {
                let Some(m) = map_mut(ctx, t) else {
                    return Ok(None);
                };
                if keys.is_empty() {
                    return Ok(Some(f(m)));
                }
                let KeyVal::Str(first) = &keys[0] else {
                    return Err(format!("non-string key used on map {}", self.text));
                };
                let Some(i) = m.iter().position(|kv| kv.key == *first) else {
                    return Ok(None);
                };
                let slot = m[i].value.get_or_insert_with(Default::default);
                match nav_existing_mut(slot, &keys[1..]) {
                    Some(s) => s,
                    None => return Ok(None),
                }
            }
            Target::Body => {
                let Some(b) = body_mut(ctx) else {
                    return Ok(None);
                };
                match nav_existing_mut(b, &keys) {
                    Some(s) => s,
                    None => return Ok(None),
                }
            }
            Target::Field(_) => return Err(format!("{} is not a map", self.text)),
        };
        match &mut any.value {
            Some(any_value::Value::KvlistValue(kv)) => Ok(Some(f(&mut kv.values))),
            _ => Err(format!(
                "expected pcommon.Map but got {}",
                Value::from_any(any).type_name()
            )),
        }
    }
}

fn nav<'v>(
    mut v: &'v AnyValue,
    keys: &[KeyVal],
    text: &str,
) -> Result<Option<&'v AnyValue>, String> {
    for k in keys {
        match (k, &v.value) {
            (KeyVal::Str(s), Some(any_value::Value::KvlistValue(m))) => match map_get(&m.values, s)
            {
                Some(x) => v = x,
                None => return Ok(None),
            },
            (KeyVal::Int(i), Some(any_value::Value::ArrayValue(a))) => {
                if *i < 0 || *i as usize >= a.values.len() {
                    return Err(format!("index {i} out of bounds"));
                }
                v = &a.values[*i as usize];
            }
            (KeyVal::Str(_), Some(any_value::Value::ArrayValue(_))) => {
                return Err(format!("non-integer indexing is not supported: {text}"))
            }
            (KeyVal::Int(_), Some(any_value::Value::KvlistValue(_))) => {
                return Err(format!("non-string indexing is not supported: {text}"))
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(v))
}

fn nav_mut<'v>(
    mut v: &'v mut AnyValue,
    keys: &[KeyVal],
    text: &str,
) -> Result<&'v mut AnyValue, String> {
    for k in keys {
        match k {
            KeyVal::Str(s) => {
                if !matches!(v.value, Some(any_value::Value::KvlistValue(_))) {
                    if v.value.is_some() {
                        return Err(format!(
                            "type {} does not support string indexing: {text}",
                            Value::from_any(v).type_name()
                        ));
                    }
                    v.value = Some(any_value::Value::KvlistValue(KeyValueList::default()));
                }
                let Some(any_value::Value::KvlistValue(m)) = &mut v.value else {
                    return Err(format!("cannot index {text}"));
                };
                v = map_slot(&mut m.values, s);
            }
            KeyVal::Int(i) => {
                if !matches!(v.value, Some(any_value::Value::ArrayValue(_))) {
                    return Err(format!(
                        "type {} does not support int indexing: {text}",
                        Value::from_any(v).type_name()
                    ));
                }
                let Some(any_value::Value::ArrayValue(ArrayValue { values })) = &mut v.value else {
                    return Err(format!("cannot index {text}"));
                };
                if *i < 0 || *i as usize >= values.len() {
                    return Err(format!("index {i} out of bounds"));
                }
                v = &mut values[*i as usize];
            }
        }
    }
    Ok(v)
}

fn nav_existing_mut<'v>(mut v: &'v mut AnyValue, keys: &[KeyVal]) -> Option<&'v mut AnyValue> {
    for k in keys {
        v = match (k, &mut v.value) {
            (KeyVal::Str(s), Some(any_value::Value::KvlistValue(m))) => {
                let i = m.values.iter().position(|kv| kv.key == *s)?;
                m.values[i].value.get_or_insert_with(Default::default)
            }
            (KeyVal::Int(i), Some(any_value::Value::ArrayValue(a))) => {
                a.values.get_mut(usize::try_from(*i).ok()?)?
            }
            _ => return None,
        };
    }
    Some(v)
}

fn get_field(ctx: &Ctx<'_>, f: FieldT) -> Value {
    use FieldT as F;
    let s = |x: &str| Value::Str(x.to_string());
    match f {
        F::ResourceDropped => Value::Int(
            ctx.resource
                .as_ref()
                .map_or(0, |r| r.dropped_attributes_count)
                .into(),
        ),
        F::ResourceSchemaUrl => s(ctx.resource_schema_url),
        F::ScopeName => s(ctx.scope_ref().map_or("", |x| &x.name)),
        F::ScopeVersion => s(ctx.scope_ref().map_or("", |x| &x.version)),
        F::ScopeDropped => Value::Int(
            ctx.scope_ref()
                .map_or(0, |x| x.dropped_attributes_count)
                .into(),
        ),
        F::ScopeSchemaUrl => s(ctx.scope_schema_url.as_deref().map_or("", |x| x.as_str())),
        F::EventName | F::EventTimeNanos | F::EventTime | F::EventDropped | F::EventIndex => {
            let Item::SpanEvent { event, index, .. } = &ctx.item else {
                return Value::Nil;
            };
            match f {
                F::EventName => s(&event.name),
                F::EventTimeNanos => Value::Int(event.time_unix_nano as i64),
                F::EventTime => Value::Time(event.time_unix_nano as i64),
                F::EventDropped => Value::Int(event.dropped_attributes_count.into()),
                _ if *index < 0 => Value::Nil,
                _ => Value::Int(*index),
            }
        }
        F::TraceId
        | F::TraceIdStr
        | F::SpanId
        | F::SpanIdStr
        | F::ParentSpanId
        | F::ParentSpanIdStr
        | F::TraceState
        | F::SpanName
        | F::Kind
        | F::KindString
        | F::KindDeprecated
        | F::SpanStartNanos
        | F::SpanEndNanos
        | F::SpanStart
        | F::SpanEnd
        | F::SpanDroppedAttrs
        | F::SpanDroppedEvents
        | F::SpanDroppedLinks
        | F::StatusCode
        | F::StatusMessage
        | F::SpanFlags => {
            let Some(sp) = ctx.span() else {
                return Value::Nil;
            };
            match f {
                F::TraceId => Value::Bytes(sp.trace_id.clone()),
                F::TraceIdStr => s(&id_str(&sp.trace_id)),
                F::SpanId => Value::Bytes(sp.span_id.clone()),
                F::SpanIdStr => s(&id_str(&sp.span_id)),
                F::ParentSpanId => Value::Bytes(sp.parent_span_id.clone()),
                F::ParentSpanIdStr => s(&id_str(&sp.parent_span_id)),
                F::TraceState => s(&sp.trace_state),
                F::SpanName => s(&sp.name),
                F::Kind => Value::Int(sp.kind.into()),
                F::KindString => s(KIND_STRINGS.get(sp.kind as usize).copied().unwrap_or("")),
                F::KindDeprecated => {
                    s(KIND_DEPRECATED.get(sp.kind as usize).copied().unwrap_or(""))
                }
                F::SpanStartNanos => Value::Int(sp.start_time_unix_nano as i64),
                F::SpanEndNanos => Value::Int(sp.end_time_unix_nano as i64),
                F::SpanStart => Value::Time(sp.start_time_unix_nano as i64),
                F::SpanEnd => Value::Time(sp.end_time_unix_nano as i64),
                F::SpanDroppedAttrs => Value::Int(sp.dropped_attributes_count.into()),
                F::SpanDroppedEvents => Value::Int(sp.dropped_events_count.into()),
                F::SpanDroppedLinks => Value::Int(sp.dropped_links_count.into()),
                F::StatusCode => Value::Int(sp.status.as_ref().map_or(0, |x| x.code).into()),
                F::StatusMessage => s(sp.status.as_ref().map_or("", |x| &x.message)),
                _ => Value::Int(sp.flags.into()),
            }
        }
        F::LogBodyString
        | F::LogTimeNanos
        | F::LogObservedNanos
        | F::LogTime
        | F::LogObserved
        | F::SeverityNumber
        | F::SeverityText
        | F::LogFlags
        | F::LogTraceId
        | F::LogTraceIdStr
        | F::LogSpanId
        | F::LogSpanIdStr
        | F::LogDropped
        | F::LogEventName => {
            let Some(l) = ctx.log() else {
                return Value::Nil;
            };
            match f {
                F::LogBodyString => s(&Value::from_any_opt(l.body.as_ref()).as_string()),
                F::LogTimeNanos => Value::Int(l.time_unix_nano as i64),
                F::LogObservedNanos => Value::Int(l.observed_time_unix_nano as i64),
                F::LogTime => Value::Time(l.time_unix_nano as i64),
                F::LogObserved => Value::Time(l.observed_time_unix_nano as i64),
                F::SeverityNumber => Value::Int(l.severity_number.into()),
                F::SeverityText => s(&l.severity_text),
                F::LogFlags => Value::Int(l.flags.into()),
                F::LogTraceId => Value::Bytes(l.trace_id.clone()),
                F::LogTraceIdStr => s(&id_str(&l.trace_id)),
                F::LogSpanId => Value::Bytes(l.span_id.clone()),
                F::LogSpanIdStr => s(&id_str(&l.span_id)),
                F::LogDropped => Value::Int(l.dropped_attributes_count.into()),
                _ => s(&l.event_name),
            }
        }
        F::MetricName
        | F::MetricDescription
        | F::MetricUnit
        | F::MetricType
        | F::Temporality
        | F::Monotonic => {
            let header = match &ctx.item {
                Item::Metric(m) => crate::context::MetricHeader::of(m.data.as_ref()),
                // the data's kind and header without its points
                Item::WireMetric { metric, .. } => {
                    crate::context::MetricHeader::of(metric.data.as_ref())
                }
                Item::DataPoint { header, .. } => *header,
                _ => return Value::Nil,
            };
            let Some(m) = ctx.metric() else {
                return Value::Nil;
            };
            match f {
                F::MetricName => s(&m.name),
                F::MetricDescription => s(&m.description),
                F::MetricUnit => s(&m.unit),
                F::MetricType => Value::Int(header.metric_type),
                F::Temporality => Value::Int(header.temporality),
                _ => Value::Bool(header.monotonic),
            }
        }
        _ => {
            let Item::DataPoint { point, .. } = &ctx.item else {
                return Value::Nil;
            };
            point_field(point, f)
        }
    }
}

fn point_field(p: &Point<'_>, f: FieldT) -> Value {
    use FieldT as F;
    let (start, time, flags) = match p {
        Point::Number(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
        Point::Histogram(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
        Point::ExpHistogram(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
        Point::Summary(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
    };
    match (f, p) {
        (F::PointStartNanos, _) => Value::Int(start as i64),
        (F::PointTimeNanos, _) => Value::Int(time as i64),
        (F::PointStart, _) => Value::Time(start as i64),
        (F::PointTime, _) => Value::Time(time as i64),
        (F::PointFlags, _) => Value::Int(flags.into()),
        (F::ValueDouble, Point::Number(p)) => Value::Double(match p.value {
            Some(pipeline_api::proto::tonic::metrics::v1::number_data_point::Value::AsDouble(
                d,
            )) => d,
            _ => 0.0,
        }),
        (F::ValueInt, Point::Number(p)) => Value::Int(match p.value {
            Some(pipeline_api::proto::tonic::metrics::v1::number_data_point::Value::AsInt(i)) => i,
            _ => 0,
        }),
        (F::Count, Point::Histogram(p)) => Value::Int(p.count as i64),
        (F::Count, Point::ExpHistogram(p)) => Value::Int(p.count as i64),
        (F::Count, Point::Summary(p)) => Value::Int(p.count as i64),
        (F::Sum, Point::Histogram(p)) => Value::Double(p.sum.unwrap_or(0.0)),
        (F::Sum, Point::ExpHistogram(p)) => Value::Double(p.sum.unwrap_or(0.0)),
        (F::Sum, Point::Summary(p)) => Value::Double(p.sum),
        (F::BucketCounts, Point::Histogram(p)) => u64s(&p.bucket_counts),
        (F::ExplicitBounds, Point::Histogram(p)) => f64s(&p.explicit_bounds),
        (F::Scale, Point::ExpHistogram(p)) => Value::Int(p.scale.into()),
        (F::ZeroCount, Point::ExpHistogram(p)) => Value::Int(p.zero_count as i64),
        (F::PositiveOffset, Point::ExpHistogram(p)) => {
            Value::Int(p.positive.as_ref().map_or(0, |b| b.offset).into())
        }
        (F::PositiveBuckets, Point::ExpHistogram(p)) => {
            u64s(p.positive.as_ref().map_or(&[][..], |b| &b.bucket_counts))
        }
        (F::NegativeOffset, Point::ExpHistogram(p)) => {
            Value::Int(p.negative.as_ref().map_or(0, |b| b.offset).into())
        }
        (F::NegativeBuckets, Point::ExpHistogram(p)) => {
            u64s(p.negative.as_ref().map_or(&[][..], |b| &b.bucket_counts))
        }
        _ => Value::Nil,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) | Value::Time(i) => Some(*i),
        _ => None,
    }
}

/// Whether span field `f` already holds `v` as [`set_field`] would write it (`false` where
/// that is not cheap to tell).
fn span_holds(sp: &Span, f: FieldT, v: &Value) -> bool {
    use FieldT as F;
    match (f, v) {
        (F::TraceState, Value::Str(s)) => sp.trace_state == *s,
        (F::SpanName, Value::Str(s)) => sp.name == *s,
        (F::Kind, Value::Int(i)) => sp.kind == *i as i32,
        (F::SpanStartNanos, Value::Int(i)) => sp.start_time_unix_nano == *i as u64,
        (F::SpanEndNanos, Value::Int(i)) => sp.end_time_unix_nano == *i as u64,
        (F::SpanDroppedAttrs, Value::Int(i)) => sp.dropped_attributes_count == *i as u32,
        (F::SpanDroppedEvents, Value::Int(i)) => sp.dropped_events_count == *i as u32,
        (F::SpanDroppedLinks, Value::Int(i)) => sp.dropped_links_count == *i as u32,
        // a span without a status gains one on any write to it
        (F::StatusCode, Value::Int(i)) => sp.status.as_ref().is_some_and(|s| s.code == *i as i32),
        (F::StatusMessage, Value::Str(m)) => sp.status.as_ref().is_some_and(|s| s.message == *m),
        (F::SpanFlags, Value::Int(i)) => sp.flags == *i as u32,
        _ => false,
    }
}

/// [`span_holds`] for a log record's fields.
fn log_holds(l: &LogRecord, f: FieldT, v: &Value) -> bool {
    use FieldT as F;
    match (f, v) {
        (F::LogTimeNanos, Value::Int(i)) => l.time_unix_nano == *i as u64,
        (F::LogObservedNanos, Value::Int(i)) => l.observed_time_unix_nano == *i as u64,
        (F::SeverityNumber, Value::Int(i)) => l.severity_number == *i as i32,
        (F::SeverityText, Value::Str(s)) => l.severity_text == *s,
        (F::LogFlags, Value::Int(i)) => l.flags == *i as u32,
        (F::LogDropped, Value::Int(i)) => l.dropped_attributes_count == *i as u32,
        (F::LogEventName, Value::Str(s)) => l.event_name == *s,
        _ => false,
    }
}

/// Go's setters ignore values of the wrong type.
fn set_field(ctx: &mut Ctx<'_>, f: FieldT, v: Value) {
    use FieldT as F;
    let str_of = |v: &Value| match v {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    };
    let time_of = |v: &Value| match v {
        Value::Time(t) => Some(*t as u64),
        _ => None,
    };
    match f {
        F::ResourceDropped => {
            if let Some(i) = as_i64(&v) {
                ctx.resource_mut().dropped_attributes_count = i as u32;
            }
        }
        F::ResourceSchemaUrl => {
            if let Some(s) = str_of(&v) {
                *ctx.resource_schema_url = s;
            }
        }
        F::ScopeName | F::ScopeVersion | F::ScopeDropped => {
            let Some(sc) = ctx.scope_mut() else { return };
            match (f, v) {
                (F::ScopeName, Value::Str(s)) => sc.name = s,
                (F::ScopeVersion, Value::Str(s)) => sc.version = s,
                (F::ScopeDropped, Value::Int(i)) => sc.dropped_attributes_count = i as u32,
                _ => {}
            }
        }
        F::ScopeSchemaUrl => {
            if let (Some(u), Value::Str(s)) = (ctx.scope_schema_url.as_deref_mut(), v) {
                *u = s;
            }
        }
        F::EventName | F::EventTimeNanos | F::EventTime | F::EventDropped | F::EventIndex => {
            let Item::SpanEvent { event, .. } = &mut ctx.item else {
                return;
            };
            match (f, v) {
                (F::EventName, Value::Str(s)) => event.name = s,
                (F::EventTimeNanos, Value::Int(i)) => event.time_unix_nano = i as u64,
                (F::EventTime, Value::Time(t)) => event.time_unix_nano = t as u64,
                (F::EventDropped, Value::Int(i)) => event.dropped_attributes_count = i as u32,
                _ => {}
            }
        }
        F::TraceId
        | F::TraceIdStr
        | F::SpanId
        | F::SpanIdStr
        | F::ParentSpanId
        | F::ParentSpanIdStr
        | F::TraceState
        | F::SpanName
        | F::Kind
        | F::KindString
        | F::KindDeprecated
        | F::SpanStartNanos
        | F::SpanEndNanos
        | F::SpanStart
        | F::SpanEnd
        | F::SpanDroppedAttrs
        | F::SpanDroppedEvents
        | F::SpanDroppedLinks
        | F::StatusCode
        | F::StatusMessage
        | F::SpanFlags => {
            // a write that leaves the span as it was is no change: in the wire form the
            // span keeps its bytes
            if ctx.span().is_some_and(|sp| span_holds(sp, f, &v)) {
                return;
            }
            let Some(sp) = ctx.span_mut() else { return };
            match (f, v) {
                (F::TraceId, Value::Bytes(b)) if b.len() == 16 => sp.trace_id = b,
                (F::SpanId, Value::Bytes(b)) if b.len() == 8 => sp.span_id = b,
                (F::ParentSpanId, Value::Bytes(b)) if b.len() == 8 => sp.parent_span_id = b,
                (F::TraceIdStr, Value::Str(s)) => {
                    if let Some(b) = unhex(&s).filter(|b| b.len() == 16) {
                        sp.trace_id = b
                    }
                }
                (F::SpanIdStr, Value::Str(s)) => {
                    if let Some(b) = unhex(&s).filter(|b| b.len() == 8) {
                        sp.span_id = b
                    }
                }
                (F::ParentSpanIdStr, Value::Str(s)) => {
                    if let Some(b) = unhex(&s).filter(|b| b.len() == 8) {
                        sp.parent_span_id = b
                    }
                }
                (F::TraceState, Value::Str(s)) => sp.trace_state = s,
                (F::SpanName, Value::Str(s)) => sp.name = s,
                (F::Kind, Value::Int(i)) => sp.kind = i as i32,
                (F::KindString, Value::Str(s)) => {
                    if let Some(i) = KIND_STRINGS.iter().position(|k| *k == s) {
                        sp.kind = i as i32
                    }
                }
                (F::KindDeprecated, Value::Str(s)) => {
                    if let Some(i) = KIND_DEPRECATED.iter().position(|k| *k == s) {
                        sp.kind = i as i32
                    }
                }
                (F::SpanStartNanos, Value::Int(i)) => sp.start_time_unix_nano = i as u64,
                (F::SpanEndNanos, Value::Int(i)) => sp.end_time_unix_nano = i as u64,
                (F::SpanStart, v) => {
                    if let Some(t) = time_of(&v) {
                        sp.start_time_unix_nano = t
                    }
                }
                (F::SpanEnd, v) => {
                    if let Some(t) = time_of(&v) {
                        sp.end_time_unix_nano = t
                    }
                }
                (F::SpanDroppedAttrs, Value::Int(i)) => sp.dropped_attributes_count = i as u32,
                (F::SpanDroppedEvents, Value::Int(i)) => sp.dropped_events_count = i as u32,
                (F::SpanDroppedLinks, Value::Int(i)) => sp.dropped_links_count = i as u32,
                (F::StatusCode, Value::Int(i)) => {
                    sp.status.get_or_insert_with(Status::default).code = i as i32
                }
                (F::StatusMessage, Value::Str(s)) => {
                    sp.status.get_or_insert_with(Status::default).message = s
                }
                (F::SpanFlags, Value::Int(i)) => sp.flags = i as u32,
                _ => {}
            }
        }
        F::LogBodyString
        | F::LogTimeNanos
        | F::LogObservedNanos
        | F::LogTime
        | F::LogObserved
        | F::SeverityNumber
        | F::SeverityText
        | F::LogFlags
        | F::LogTraceId
        | F::LogTraceIdStr
        | F::LogSpanId
        | F::LogSpanIdStr
        | F::LogDropped
        | F::LogEventName => {
            // as for spans: an unchanged log record keeps its bytes
            if ctx.log().is_some_and(|l| log_holds(l, f, &v)) {
                return;
            }
            let Some(l) = ctx.log_mut() else { return };
            match (f, v) {
                (F::LogBodyString, Value::Str(s)) => l.body = Value::Str(s).into_any(),
                (F::LogTimeNanos, Value::Int(i)) => l.time_unix_nano = i as u64,
                (F::LogObservedNanos, Value::Int(i)) => l.observed_time_unix_nano = i as u64,
                (F::LogTime, Value::Time(t)) => l.time_unix_nano = t as u64,
                (F::LogObserved, Value::Time(t)) => l.observed_time_unix_nano = t as u64,
                (F::SeverityNumber, Value::Int(i)) => l.severity_number = i as i32,
                (F::SeverityText, Value::Str(s)) => l.severity_text = s,
                (F::LogFlags, Value::Int(i)) => l.flags = i as u32,
                (F::LogTraceId, Value::Bytes(b)) if b.len() == 16 => l.trace_id = b,
                (F::LogSpanId, Value::Bytes(b)) if b.len() == 8 => l.span_id = b,
                (F::LogTraceIdStr, Value::Str(s)) => {
                    if let Some(b) = unhex(&s).filter(|b| b.len() == 16) {
                        l.trace_id = b
                    }
                }
                (F::LogSpanIdStr, Value::Str(s)) => {
                    if let Some(b) = unhex(&s).filter(|b| b.len() == 8) {
                        l.span_id = b
                    }
                }
                (F::LogDropped, Value::Int(i)) => l.dropped_attributes_count = i as u32,
                (F::LogEventName, Value::Str(s)) => l.event_name = s,
                _ => {}
            }
        }
        F::MetricName
        | F::MetricDescription
        | F::MetricUnit
        | F::MetricType
        | F::Temporality
        | F::Monotonic => {
            let Item::Metric(m) = &mut ctx.item else {
                // In the data point context the metric's data is borrowed: only names.
                if let Some(m) = ctx.metric_mut() {
                    match (f, v) {
                        (F::MetricName, Value::Str(s)) => m.name = s,
                        (F::MetricDescription, Value::Str(s)) => m.description = s,
                        (F::MetricUnit, Value::Str(s)) => m.unit = s,
                        _ => {}
                    }
                }
                return;
            };
            match (f, v) {
                (F::MetricName, Value::Str(s)) => m.name = s,
                (F::MetricDescription, Value::Str(s)) => m.description = s,
                (F::MetricUnit, Value::Str(s)) => m.unit = s,
                (F::Temporality, Value::Int(i)) => match &mut m.data {
                    Some(metric::Data::Sum(s)) => s.aggregation_temporality = i as i32,
                    Some(metric::Data::Histogram(h)) => h.aggregation_temporality = i as i32,
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        h.aggregation_temporality = i as i32
                    }
                    _ => {}
                },
                (F::Monotonic, Value::Bool(b)) => {
                    if let Some(metric::Data::Sum(s)) = &mut m.data {
                        s.is_monotonic = b
                    }
                }
                _ => {}
            }
        }
        _ => {
            let Item::DataPoint { point, wire, .. } = &mut ctx.item else {
                return;
            };
            if let Some(w) = wire {
                *w.changed = true;
            }
            set_point_field(point, f, v);
        }
    }
}

fn set_point_field(p: &mut Point<'_>, f: FieldT, v: Value) {
    use pipeline_api::proto::tonic::metrics::v1::number_data_point::Value as NV;
    use FieldT as F;
    let t = match &v {
        Value::Int(i) | Value::Time(i) => Some(*i as u64),
        _ => None,
    };
    let is_time = matches!(v, Value::Time(_));
    macro_rules! times {
        ($p:expr) => {
            match f {
                F::PointStartNanos | F::PointStart
                    if t.is_some() && (is_time == (f == F::PointStart)) =>
                {
                    $p.start_time_unix_nano = t.unwrap_or(0)
                }
                F::PointTimeNanos | F::PointTime
                    if t.is_some() && (is_time == (f == F::PointTime)) =>
                {
                    $p.time_unix_nano = t.unwrap_or(0)
                }
                F::PointFlags => {
                    if let Value::Int(i) = v {
                        $p.flags = i as u32
                    }
                }
                _ => {}
            }
        };
    }
    match p {
        Point::Number(p) => match (f, &v) {
            (F::ValueDouble, Value::Double(d)) => p.value = Some(NV::AsDouble(*d)),
            (F::ValueInt, Value::Int(i)) => p.value = Some(NV::AsInt(*i)),
            _ => times!(p),
        },
        Point::Histogram(p) => match (f, &v) {
            (F::Count, Value::Int(i)) => p.count = *i as u64,
            (F::Sum, Value::Double(d)) => p.sum = Some(*d),
            (F::BucketCounts, _) => {
                if let Some(l) = list_ints(&v) {
                    p.bucket_counts = l
                }
            }
            (F::ExplicitBounds, _) => {
                if let Some(l) = list_doubles(&v) {
                    p.explicit_bounds = l
                }
            }
            _ => times!(p),
        },
        Point::ExpHistogram(p) => match (f, &v) {
            (F::Count, Value::Int(i)) => p.count = *i as u64,
            (F::Sum, Value::Double(d)) => p.sum = Some(*d),
            (F::Scale, Value::Int(i)) => p.scale = *i as i32,
            (F::ZeroCount, Value::Int(i)) => p.zero_count = *i as u64,
            (F::PositiveOffset, Value::Int(i)) => {
                p.positive.get_or_insert_with(Default::default).offset = *i as i32
            }
            (F::NegativeOffset, Value::Int(i)) => {
                p.negative.get_or_insert_with(Default::default).offset = *i as i32
            }
            (F::PositiveBuckets, _) => {
                if let Some(l) = list_ints(&v) {
                    p.positive
                        .get_or_insert_with(Default::default)
                        .bucket_counts = l
                }
            }
            (F::NegativeBuckets, _) => {
                if let Some(l) = list_ints(&v) {
                    p.negative
                        .get_or_insert_with(Default::default)
                        .bucket_counts = l
                }
            }
            _ => times!(p),
        },
        Point::Summary(p) => match (f, &v) {
            (F::Count, Value::Int(i)) => p.count = *i as u64,
            (F::Sum, Value::Double(d)) => p.sum = *d,
            _ => times!(p),
        },
    }
}
