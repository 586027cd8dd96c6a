//! The invariant every fuzz target checks, one function per decoder of outside input.
//!
//! A check takes any bytes and panics only when Ferrotel breaks a promise: a decoder panics,
//! or what it accepted does not hold up (the wire scan accepts bytes prost cannot decode, a
//! decoded request does not encode back to the same items, a splitter returns a token outside
//! its input). The `cargo fuzz` targets in `fuzz_targets/` call these; the test in
//! `tests/corpus.rs` replays every stored input (seed corpus and regressions) through them on
//! stable, so a crash once found stays fixed.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use pipeline::config::Environment;
use pipeline_api::{wire, Batch, BatchData, RequestContext, Signal};
use prost::Message;
use receivers::filelog::config::FileLogConfig;
use receivers::filelog::split::{Cut, Splitter};
use receivers::prometheus::textparse;
use stanza::entry::{EntryData, Value};
use stanza::operators::{BuildMode, Pipeline, Stats};

const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

/// The first byte picks one of `n` variants; the rest is the input.
fn pick(data: &[u8], n: usize) -> (usize, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b as usize % n, rest),
        None => (0, data),
    }
}

fn decode_request(signal: Signal, bytes: &[u8]) -> Result<BatchData, prost::DecodeError> {
    use opentelemetry_proto::tonic::collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    };
    Ok(match signal {
        Signal::Traces => BatchData::Traces(ExportTraceServiceRequest::decode(bytes)?),
        Signal::Metrics => BatchData::Metrics(ExportMetricsServiceRequest::decode(bytes)?),
        Signal::Logs => BatchData::Logs(ExportLogsServiceRequest::decode(bytes)?),
    })
}

/// Ferrotel's own encoder (lengths computed once per item), checked against prost's.
fn encode(data: BatchData) -> (Vec<u8>, usize) {
    let prost_bytes = match &data {
        BatchData::Traces(r) => r.encode_to_vec(),
        BatchData::Metrics(r) => r.encode_to_vec(),
        BatchData::Logs(r) => r.encode_to_vec(),
    };
    let items = data.count_items();
    let ours = Batch::new(data, RequestContext::default()).encode();
    assert!(
        ours == prost_bytes,
        "the encoder and prost encode differently"
    );
    (ours, items)
}

/// OTLP protobuf (gRPC and HTTP bodies): what the scan accepts, prost decodes, with the item
/// count the scan gave; and the re-encoded request scans to the same count.
pub fn otlp_wire(data: &[u8]) {
    let (i, bytes) = pick(data, SIGNALS.len());
    let signal = SIGNALS[i];
    let Ok(items) = wire::scan(signal, bytes) else {
        return;
    };
    let decoded = decode_request(signal, bytes)
        .unwrap_or_else(|e| panic!("scan accepted {signal} bytes prost refuses: {e}"));
    assert_eq!(
        decoded.count_items(),
        items,
        "scan and prost count differently"
    );
    let (again, _) = encode(decoded.clone());
    assert_eq!(
        wire::scan(signal, &again).expect("re-encoded request scans"),
        items
    );
    match signal {
        Signal::Traces => {
            use pipeline_api::proto::tonic::trace::v1::Span;
            wire_items_agree::<Span>(bytes, decoded.clone(), items);
            wire_filter_agrees::<Span>(bytes, decoded.clone(), items);
            wire_split_holds(bytes, items);
        }
        Signal::Logs => {
            use pipeline_api::proto::tonic::logs::v1::LogRecord;
            wire_items_agree::<LogRecord>(bytes, decoded.clone(), items);
            wire_filter_agrees::<LogRecord>(bytes, decoded.clone(), items);
            loki_agrees(bytes, &decoded);
        }
        Signal::Metrics => {
            use pipeline_api::proto::tonic::metrics::v1::Metric;
            wire_items_agree::<Metric>(bytes, decoded.clone(), items);
            wire_filter_agrees::<Metric>(bytes, decoded.clone(), items);
            wire_points_agree(bytes, decoded.clone(), items);
            prometheus_points_agree(bytes, &decoded);
        }
    }
    resource_edit_agrees(signal, bytes, decoded.clone(), items);
    wire_edit_agrees(signal, bytes, decoded, items);
}

/// What the walk's checks need of a span or a log record and of the requests holding it.
trait Walked: pipeline_api::wire_items::WireItem {
    /// A string field to append to: a span's name, a log record's severity text.
    fn label(&mut self) -> &mut String;
    fn attributes(&mut self) -> &mut Vec<pipeline_api::proto::tonic::common::v1::KeyValue>;
    /// Every resource entry of `data`: its resource and its scope entries' scopes and items.
    fn tree(data: &mut BatchData) -> Vec<Tree<'_, Self>>;
    /// Drop the items `drop` selects, then the scope entries left empty and the resource
    /// entries left without scope entries, and the resources `drop_resource` selects.
    fn filter(
        data: &mut BatchData,
        drop: &dyn Fn(&mut Self) -> bool,
        drop_resource: &dyn Fn(&Option<pipeline_api::proto::tonic::resource::v1::Resource>) -> bool,
    );
}

type Scope = Option<pipeline_api::proto::tonic::common::v1::InstrumentationScope>;
type Tree<'d, T> = (
    &'d mut Option<pipeline_api::proto::tonic::resource::v1::Resource>,
    Vec<(&'d mut Scope, &'d mut Vec<T>)>,
);

impl Walked for pipeline_api::proto::tonic::trace::v1::Span {
    fn label(&mut self) -> &mut String {
        &mut self.name
    }
    fn attributes(&mut self) -> &mut Vec<pipeline_api::proto::tonic::common::v1::KeyValue> {
        &mut self.attributes
    }
    fn tree(data: &mut BatchData) -> Vec<Tree<'_, Self>> {
        let BatchData::Traces(r) = data else {
            unreachable!("a trace request")
        };
        r.resource_spans
            .iter_mut()
            .map(|rs| {
                let scopes = rs
                    .scope_spans
                    .iter_mut()
                    .map(|s| (&mut s.scope, &mut s.spans));
                (&mut rs.resource, scopes.collect())
            })
            .collect()
    }
    fn filter(
        data: &mut BatchData,
        drop: &dyn Fn(&mut Self) -> bool,
        drop_resource: &dyn Fn(&Option<pipeline_api::proto::tonic::resource::v1::Resource>) -> bool,
    ) {
        let BatchData::Traces(r) = data else {
            unreachable!("a trace request")
        };
        r.resource_spans.retain_mut(|rs| {
            rs.scope_spans.retain_mut(|ss| {
                ss.spans.retain_mut(|s| !drop(s));
                !ss.spans.is_empty()
            });
            !rs.scope_spans.is_empty() && !drop_resource(&rs.resource)
        });
    }
}

impl Walked for pipeline_api::proto::tonic::logs::v1::LogRecord {
    fn label(&mut self) -> &mut String {
        &mut self.severity_text
    }
    fn attributes(&mut self) -> &mut Vec<pipeline_api::proto::tonic::common::v1::KeyValue> {
        &mut self.attributes
    }
    fn tree(data: &mut BatchData) -> Vec<Tree<'_, Self>> {
        let BatchData::Logs(r) = data else {
            unreachable!("a logs request")
        };
        r.resource_logs
            .iter_mut()
            .map(|rl| {
                let scopes = rl
                    .scope_logs
                    .iter_mut()
                    .map(|s| (&mut s.scope, &mut s.log_records));
                (&mut rl.resource, scopes.collect())
            })
            .collect()
    }
    fn filter(
        data: &mut BatchData,
        drop: &dyn Fn(&mut Self) -> bool,
        drop_resource: &dyn Fn(&Option<pipeline_api::proto::tonic::resource::v1::Resource>) -> bool,
    ) {
        let BatchData::Logs(r) = data else {
            unreachable!("a logs request")
        };
        r.resource_logs.retain_mut(|rl| {
            rl.scope_logs.retain_mut(|sl| {
                sl.log_records.retain_mut(|l| !drop(l));
                !sl.log_records.is_empty()
            });
            !rl.scope_logs.is_empty() && !drop_resource(&rl.resource)
        });
    }
}

impl Walked for pipeline_api::proto::tonic::metrics::v1::Metric {
    fn label(&mut self) -> &mut String {
        &mut self.name
    }
    fn attributes(&mut self) -> &mut Vec<pipeline_api::proto::tonic::common::v1::KeyValue> {
        &mut self.metadata
    }
    fn tree(data: &mut BatchData) -> Vec<Tree<'_, Self>> {
        let BatchData::Metrics(r) = data else {
            unreachable!("a metrics request")
        };
        r.resource_metrics
            .iter_mut()
            .map(|rm| {
                let scopes = rm
                    .scope_metrics
                    .iter_mut()
                    .map(|s| (&mut s.scope, &mut s.metrics));
                (&mut rm.resource, scopes.collect())
            })
            .collect()
    }
    fn filter(
        data: &mut BatchData,
        drop: &dyn Fn(&mut Self) -> bool,
        drop_resource: &dyn Fn(&Option<pipeline_api::proto::tonic::resource::v1::Resource>) -> bool,
    ) {
        let BatchData::Metrics(r) = data else {
            unreachable!("a metrics request")
        };
        r.resource_metrics.retain_mut(|rm| {
            rm.scope_metrics.retain_mut(|sm| {
                sm.metrics.retain_mut(|m| !drop(m));
                !sm.metrics.is_empty()
            });
            !rm.scope_metrics.is_empty() && !drop_resource(&rm.resource)
        });
    }
}

/// Edits of accepted trace, logs or metrics bytes through the item walk
/// ([`pipeline_api::wire_items`]), at each level, scan and decode to what the same edits of
/// the decoded request give: a random attribute edit of every resource, a suffix on every
/// scope's name, and of every item a random attribute edit and a suffix on a string field,
/// then another attribute edit alone (which keeps the item's other bytes).
fn wire_items_agree<T: Walked>(bytes: &[u8], mut decoded: BatchData, items: usize) {
    use pipeline_api::attrs::AttrMap;
    use pipeline_api::testing::random;
    use pipeline_api::wire_items::{edit_items, ItemEditError, Level, WireMap};
    let seed = bytes.len() as u64;
    let mut wire = bytes.to_vec();
    // the last pass edits the items' attributes alone: the item keeps its other bytes
    let passes = [
        (Level::Resource, false),
        (Level::Scope, false),
        (Level::Item, false),
        (Level::Item, true),
    ];
    for (level, attributes_alone) in passes {
        let edited = edit_items::<T>(&wire, level, &mut |parts| {
            match level {
                Level::Item if attributes_alone => {
                    if let Some(item) = parts.item {
                        item.attrs
                            .edit(&mut |m: &mut dyn AttrMap| random::edit(!seed, m));
                    }
                }
                Level::Resource => {
                    let r = parts.resource.get_or_insert_with(Default::default);
                    random::edit(seed, &mut r.attributes);
                }
                Level::Scope => {
                    if let Some((scope, _)) = parts.scope {
                        scope.get_or_insert_with(Default::default).name.push('y');
                    }
                }
                Level::Item => {
                    if let Some(item) = parts.item {
                        item.attrs
                            .edit(&mut |m: &mut dyn AttrMap| random::edit(seed, m));
                        item.item.label().push('x');
                        *item.changed = true;
                    }
                }
            }
            Ok(())
        });
        match edited {
            Ok(Some(e)) => wire = e,
            Ok(None) => {}
            // bytes the walk does not read (groups): the decoded path edits them
            Err(ItemEditError::Walk) => return,
            Err(ItemEditError::Callback(e)) => panic!("no callback fails here: {e}"),
        }
    }
    assert_eq!(
        wire::scan(T::SIGNAL, &wire).expect("the item walk's output scans"),
        items
    );
    for (resource, scopes) in T::tree(&mut decoded) {
        let r = resource.get_or_insert_with(Default::default);
        random::edit(seed, &mut r.attributes);
        for (scope, list) in scopes {
            scope.get_or_insert_with(Default::default).name.push('y');
            for item in list {
                random::edit(seed, item.attributes());
                item.label().push('x');
                random::edit(!seed, item.attributes());
            }
        }
    }
    let got = decode_request(T::SIGNAL, &wire).expect("the item walk's output decodes");
    // compared encoded: a NaN is not equal to itself
    assert!(
        encode(got).0 == encode(decoded).0,
        "the item walk and the decoded edits differ"
    );
}

/// Take a filter walk's output into `wire` and its count into `dropped`; false when the
/// walk does not read the bytes (groups, a metric's repeated data field), which the decoded
/// path then takes.
fn filtered(
    out: Result<(Option<Vec<u8>>, usize), pipeline_api::wire_items::ItemEditError>,
    wire: &mut Vec<u8>,
    dropped: &mut usize,
) -> bool {
    use pipeline_api::wire_items::ItemEditError;
    match out {
        Ok((e, n)) => {
            *dropped += n;
            if let Some(e) = e {
                *wire = e;
            }
            true
        }
        Err(ItemEditError::Walk) => false,
        Err(ItemEditError::Callback(e)) => panic!("no callback fails here: {e}"),
    }
}

/// Items and resources dropped from accepted trace, logs or metrics bytes by the item walk
/// ([`pipeline_api::wire_items::filter_items`]) leave what the same drops and the filter's
/// pruning of empty entries leave of the decoded request, and the count of what went.
fn wire_filter_agrees<T: Walked>(bytes: &[u8], mut decoded: BatchData, items: usize) {
    use pipeline_api::proto::tonic::resource::v1::Resource;
    use pipeline_api::wire_items::{filter_items, Level, WireMap};
    // the rules: a resource by its attribute count, an item by a string and its attributes
    let drop_resource =
        |r: &Option<Resource>| r.as_ref().map_or(0, |r| r.attributes.len()) % 4 == 1;
    let drop_item = |label: usize, attrs: usize| (label + attrs).is_multiple_of(3);
    let mut wire = bytes.to_vec();
    let mut dropped = 0;
    for level in [Level::Item, Level::Resource] {
        let out = filter_items::<T>(&wire, level, true, &mut |parts| {
            *parts.drop = match parts.item {
                Some(item) => drop_item(item.item.label().len(), item.attrs.decode_all().len()),
                None => drop_resource(parts.resource),
            };
            Ok(())
        });
        if !filtered(out, &mut wire, &mut dropped) {
            return;
        }
    }
    T::filter(
        &mut decoded,
        &|i: &mut T| drop_item(i.label().len(), i.attributes().len()),
        &drop_resource,
    );
    assert_eq!(
        wire::scan(T::SIGNAL, &wire).expect("the item filter's output scans"),
        decoded.count_items()
    );
    assert_eq!(
        items - dropped,
        decoded.count_items(),
        "items counted as dropped"
    );
    let got = decode_request(T::SIGNAL, &wire).expect("the item filter's output decodes");
    // compared encoded: a NaN is not equal to itself
    assert!(
        encode(got).0 == encode(decoded).0,
        "the item filter and the decoded filter differ"
    );
}

/// `tail_sampling`'s split of accepted trace bytes by trace id
/// ([`pipeline_api::wire_items::split_by_trace`]): every piece decodes, holds the spans it
/// counts, all of its trace, and says rightly whether one is a root; the pieces hold every
/// span. (The tests compare the pieces with the decoded split byte for byte.)
fn wire_split_holds(bytes: &[u8], items: usize) {
    use pipeline_api::proto::tonic::trace::v1::ResourceSpans;
    let Some(pieces) = pipeline_api::wire_items::split_by_trace(bytes) else {
        return; // bytes the walk does not read (groups): the decoded split takes them
    };
    let mut spans = 0;
    for p in &pieces {
        let rs = ResourceSpans::decode(&p.bytes[..]).expect("a piece decodes");
        let all: Vec<_> = rs.scope_spans.iter().flat_map(|s| &s.spans).collect();
        assert_eq!(all.len(), p.spans, "a piece's span count");
        for span in &all {
            let mut id = [0u8; 16];
            let n = span.trace_id.len().min(16);
            id[..n].copy_from_slice(&span.trace_id[..n]);
            assert_eq!(id, p.id, "a span of another trace in a piece");
        }
        let root = all.iter().any(|s| s.parent_span_id.iter().all(|b| *b == 0));
        assert_eq!(root, p.has_root, "a piece's root");
        spans += p.spans;
    }
    assert_eq!(spans, items, "the pieces hold every span");
}

/// Each data point of `m`: its attributes and flags.
fn each_point(
    m: &mut pipeline_api::proto::tonic::metrics::v1::Metric,
    f: &mut dyn FnMut(&mut Vec<pipeline_api::proto::tonic::common::v1::KeyValue>, &mut u32) -> bool,
) {
    use pipeline_api::proto::tonic::metrics::v1::metric::Data;
    macro_rules! points {
        ($list:expr) => {
            $list.retain_mut(|p| f(&mut p.attributes, &mut p.flags))
        };
    }
    match &mut m.data {
        None => {}
        Some(Data::Gauge(g)) => points!(g.data_points),
        Some(Data::Sum(s)) => points!(s.data_points),
        Some(Data::Histogram(h)) => points!(h.data_points),
        Some(Data::ExponentialHistogram(h)) => points!(h.data_points),
        Some(Data::Summary(s)) => points!(s.data_points),
    }
}

/// A point's flags.
fn point_flags(p: &mut pipeline_api::wire_items::DataPoint) -> &mut u32 {
    use pipeline_api::wire_items::DataPoint;
    match p {
        DataPoint::Number(p) => &mut p.flags,
        DataPoint::Histogram(p) => &mut p.flags,
        DataPoint::ExpHistogram(p) => &mut p.flags,
        DataPoint::Summary(p) => &mut p.flags,
    }
}

/// The Prometheus exporters' points of metrics bytes read where they lie are those of the
/// decoded request (when the bytes walk), under options that exercise every label source.
fn prometheus_points_agree(bytes: &[u8], decoded: &BatchData) {
    use exporters::promtranslate::{
        translate, translate_wire, ExtraLabels, MetricNamer, ResourceToTelemetry, ScopeLabels,
        TranslateOptions,
    };
    let BatchData::Metrics(req) = decoded else {
        return;
    };
    let promote = bytes.len().is_multiple_of(2);
    let opts = TranslateOptions {
        namer: MetricNamer::new(if promote { "ns" } else { "" }, !promote),
        scope_labels: if promote {
            ScopeLabels::Full
        } else {
            ScopeLabels::NameAndVersionIfSet
        },
        resource_to_telemetry: ResourceToTelemetry {
            enabled: promote,
            exclude_service_attributes: bytes.len().is_multiple_of(3),
        },
        extra: ExtraLabels {
            labels: vec![("job".into(), "fixed".into())],
            override_data: promote,
        },
        drop_reserved: !promote,
    };
    let Some((got, _)) = translate_wire(&[bytes], &opts) else {
        return;
    };
    let (want, _) = translate(req, &opts);
    assert_eq!(
        format!("{got:?}"),
        format!("{want:?}"),
        "the wire form and the decoded form translate differently"
    );
}

/// The `loki` exporter's push requests of logs bytes read where they lie are those of the
/// decoded request (when the bytes walk), under configs that read each kind of label, each
/// tenant source and line format, and structured metadata.
fn loki_agrees(bytes: &[u8], decoded: &BatchData) {
    use exporters::loki::{Config, LokiExporter};
    use pipeline_api::telemetry::ComponentTelemetry;
    use pipeline_api::{ComponentId, ComponentKind, RequestContext};
    static EXPORTERS: std::sync::OnceLock<Vec<LokiExporter>> = std::sync::OnceLock::new();
    let BatchData::Logs(req) = decoded else {
        return;
    };
    let exporters = EXPORTERS.get_or_init(|| {
        [
            // keys of the seeds (the OTLP specification's example) and of short inputs
            "format: raw\nlabels: {attributes: {string.attribute: s, a: la, b.c: bc}, resource: {service.name: svc}}\nstructured_metadata: {attributes: [int.attribute, map.attribute.some.map.key, c]}\n",
            "format: json\ntenant: {source: attributes, value: string.attribute}\n",
            "format: logfmt\nmax_label_count: 2\nlabels: {static: {env: prod}, attributes: {boolean.attribute: flag}}\n",
        ]
        .iter()
        .map(|extra| {
            let text = format!("endpoint: http://127.0.0.1:9/loki/api/v1/push\n{extra}");
            let value: pipeline_api::config::ConfigValue =
                serde_yaml_ng::from_str(&text).expect("yaml");
            let cfg: Config = pipeline_api::config::parse_typed(&value).expect("a valid config");
            let id = ComponentId::parse("loki").expect("an id");
            LokiExporter::new(
                id.clone(),
                &cfg,
                &ComponentTelemetry::detached(ComponentKind::Exporter, &id),
                &Default::default(),
            )
            .expect("the exporter builds")
        })
        .collect()
    });
    let context = RequestContext::default();
    // a record with neither time is stamped with the time of the export: one for both
    let now = std::time::SystemTime::now();
    for exporter in exporters {
        let Ok(Some(got)) = exporter.translate_wire(&[bytes], &context, now) else {
            return;
        };
        let want = exporter
            .translate(req, &context, now)
            .expect("the decoded form translates");
        assert_eq!(
            got, want,
            "the wire form and the decoded form translate differently"
        );
    }
}

/// The data point walk ([`pipeline_api::wire_items::DataPoint`]) over accepted metrics
/// bytes: a random attribute edit and a changed field of every point, then points dropped
/// by their attributes and flags (a metric left without points goes, then empty scope and
/// resource entries), give what the same edits and drops of the decoded request give.
fn wire_points_agree(bytes: &[u8], mut decoded: BatchData, items: usize) {
    use pipeline_api::attrs::AttrMap;
    use pipeline_api::testing::random;
    use pipeline_api::wire_items::{filter_items, DataPoint, Level, WireMap};
    let seed = bytes.len() as u64;
    let drop_point = |attrs: usize, flags: u32| (attrs + flags as usize).is_multiple_of(3);
    let mut wire = bytes.to_vec();
    let mut dropped = 0;
    for prune in [false, true] {
        let out = filter_items::<DataPoint>(&wire, Level::Item, prune, &mut |parts| {
            if let Some(item) = parts.item {
                if prune {
                    let n = item.attrs.decode_all().len();
                    *parts.drop = drop_point(n, *point_flags(item.item));
                } else {
                    item.attrs
                        .edit(&mut |m: &mut dyn AttrMap| random::edit(seed, m));
                    *point_flags(item.item) ^= 1;
                    *item.changed = true;
                }
            }
            Ok(())
        });
        if !filtered(out, &mut wire, &mut dropped) {
            return;
        }
    }
    let BatchData::Metrics(r) = &mut decoded else {
        unreachable!("a metrics request")
    };
    for m in r
        .resource_metrics
        .iter_mut()
        .flat_map(|rm| &mut rm.scope_metrics)
        .flat_map(|sm| &mut sm.metrics)
    {
        each_point(m, &mut |attrs, flags| {
            random::edit(seed, attrs);
            *flags ^= 1;
            true
        });
    }
    r.resource_metrics.retain_mut(|rm| {
        rm.scope_metrics.retain_mut(|sm| {
            sm.metrics.retain_mut(|m| {
                let mut left = 0;
                each_point(m, &mut |attrs, flags| {
                    let keep = !drop_point(attrs.len(), *flags);
                    left += usize::from(keep);
                    keep
                });
                m.data.is_none() || left > 0
            });
            !sm.metrics.is_empty()
        });
        !rm.scope_metrics.is_empty()
    });
    assert_eq!(
        wire::scan(Signal::Metrics, &wire).expect("the data point walk's output scans"),
        decoded.count_items()
    );
    assert_eq!(
        items - dropped,
        decoded.count_items(),
        "points counted as dropped"
    );
    let got = decode_request(Signal::Metrics, &wire).expect("the data point walk's output decodes");
    // compared encoded: a NaN is not equal to itself
    assert!(
        encode(got).0 == encode(decoded).0,
        "the data point walk and the decoded edits differ"
    );
}

/// An attribute edit of accepted bytes in the wire form ([`pipeline_api::wire_edit`])
/// scans, and decodes to what the same edit of the decoded request gives; the edit is a
/// random one chosen by the bytes' length and each list's keys.
fn wire_edit_agrees(signal: Signal, bytes: &[u8], decoded: BatchData, items: usize) {
    use pipeline_api::testing::random;
    let seed = bytes.len() as u64;
    let Some(edited) = pipeline_api::wire_edit::edit_item_attributes(bytes, signal, &mut |m| {
        random::edit(seed, m)
    }) else {
        return; // bytes the walk does not read (groups): the decoded path edits them
    };
    let mut expected = Batch::new(decoded, RequestContext::default());
    expected.edit_item_attributes(|m| random::edit(seed, m));
    edits_agree(
        "attribute",
        signal,
        edited.as_deref().unwrap_or(bytes),
        items,
        &expected,
    );
}

/// `wire_edit::edit_resources` (the `resource` and `resourcedetection` processors on the wire
/// form) agrees with the same edit made on the decoded request, a missing resource edited as
/// an empty one; compared encoded.
fn resource_edit_agrees(signal: Signal, bytes: &[u8], decoded: BatchData, items: usize) {
    use pipeline_api::proto::tonic::resource::v1::Resource;
    use pipeline_api::testing::random;
    let seed = bytes.len() as u64 ^ 0x5eed;
    let mut edit = move |r: &mut Resource| random::edit(seed, &mut r.attributes);
    let Some(edited) = pipeline_api::wire_edit::edit_resources(bytes, &mut edit) else {
        return; // bytes the walk does not read: the decoded path edits them
    };
    let mut expected = Batch::new(decoded, RequestContext::default());
    expected.edit_resources(edit);
    edits_agree("resource", signal, &edited, items, &expected);
}

/// The bytes a wire-form edit wrote scan to the same item count and decode to what the same
/// edit of the decoded request gives (`expected`), compared encoded: a NaN is not equal to
/// itself.
fn edits_agree(what: &str, signal: Signal, edited: &[u8], items: usize, expected: &Batch) {
    assert_eq!(
        wire::scan(signal, edited)
            .unwrap_or_else(|e| panic!("the wire {what} edit's output does not scan: {e:?}")),
        items
    );
    let got = decode_request(signal, edited)
        .unwrap_or_else(|e| panic!("the wire {what} edit's output does not decode: {e}"));
    assert!(
        encode(got).0 == expected.encode(),
        "the {what} edit on the wire form and on the decoded request differ"
    );
}

/// OTLP/JSON (HTTP bodies): no panic; what decodes encodes to protobuf the scan accepts with
/// the same item count.
pub fn otlp_json(data: &[u8]) {
    let (i, body) = pick(data, SIGNALS.len());
    let signal = SIGNALS[i];
    // the receiver's path (protobuf written straight from the JSON where it can be) gives
    // the decoding path's data, or its error
    let batch = receivers::otlp::json::decode_batch(signal, body);
    let decoded = receivers::otlp::json::decode(signal, body);
    match (&batch, &decoded) {
        (Ok(b), Ok(d)) => assert_eq!(b.data(), d, "the two paths read the JSON apart"),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("one path takes what the other refuses: {a:?} / {b:?}"),
    }
    let Ok(decoded) = decoded else {
        return;
    };
    let (bytes, decoded_items) = encode(decoded);
    let items = wire::scan(signal, &bytes).expect("a decoded JSON request encodes to valid OTLP");
    assert_eq!(items, decoded_items);
}

/// The `Content-Encoding`s the OTLP receiver takes, in the order the first byte picks them.
pub const ENCODINGS: [&str; 6] = [
    "gzip",
    "zstd",
    "snappy",
    "deflate",
    "zlib",
    "x-snappy-framed",
];

/// Request body decompression (every `Content-Encoding` the OTLP receiver takes): no panic,
/// and never more than the limit.
pub fn decompress(data: &[u8]) {
    const LIMIT: usize = 1 << 20;
    let (i, body) = pick(data, ENCODINGS.len());
    let enabled: Vec<String> = ENCODINGS.iter().map(|s| s.to_string()).collect();
    if let Ok(Some(out)) =
        receivers::otlp::compression::decompress(ENCODINGS[i], body, &enabled, LIMIT)
    {
        assert!(out.len() <= LIMIT, "decompressed past the limit");
    }
}

/// Prometheus text and OpenMetrics exposition (scrape bodies): no panic; what parses,
/// translated to OTLP as a scrape is (twice, the second against the first's start times),
/// is bytes that pass the wire scan with the count the receiver hands on and decode with
/// prost (the batch is made without the scan: `Batch::from_encoded`).
pub fn prometheus_text(data: &[u8]) {
    use receivers::prometheus::relabel::SampleLabels;
    use receivers::prometheus::translate::{build, Adjuster, FinalSample, TargetInfo};
    let (i, body) = pick(data, 2);
    let format = if i == 0 {
        textparse::Format::Text
    } else {
        textparse::Format::OpenMetrics
    };
    let Ok(parsed) = textparse::parse(body, format) else {
        return;
    };
    let samples: Vec<FinalSample<'_>> = parsed
        .samples
        .iter()
        .map(|s| {
            let mut labels: SampleLabels<'_> = s
                .labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect();
            labels.insert("__name__", s.name);
            labels.insert("job", "j");
            labels.insert("instance", "127.0.0.1:9100");
            FinalSample {
                labels,
                value: s.value,
                time_ns: s.timestamp_ms.map_or(1_000, |ms| ms.unsigned_abs()),
            }
        })
        .collect();
    let target = TargetInfo {
        job: "j".into(),
        instance: "127.0.0.1:9100".into(),
        scheme: "http".into(),
        scope_version: "v".into(),
        trim_suffixes: i == 1,
        external_labels: vec![("cluster".into(), "c".into())],
        kubernetes: Vec::new(),
    };
    let mut adjuster = Adjuster::default();
    for _ in 0..2 {
        let built = build(&target, &samples, &parsed.metadata, &mut adjuster);
        assert_eq!(
            wire::scan(Signal::Metrics, &built.bytes),
            Ok(built.items),
            "the scrape's encoding fails the wire scan or holds another count"
        );
        let decoded = built.decode();
        assert_eq!(decoded.resource_metrics.len(), 1);
    }
}

/// The operators of `config-examples/docker-logs-config.yaml` (container parser in Docker
/// format, router, json and key_value parsers with timestamps, severity and trace parsers),
/// built once, over one line as it would come from a `*-json.log` file: no panic.
pub fn docker_log_line(data: &[u8]) {
    static OPERATORS: OnceLock<Vec<serde_yaml_ng::Value>> = OnceLock::new();
    let ops = OPERATORS.get_or_init(|| {
        let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(include_str!(
            "../../config-examples/docker-logs-config.yaml"
        ))
        .expect("the example config is YAML");
        let mut ops = config["receivers"]["filelog/docker"]["operators"]
            .as_sequence()
            .expect("the example has operators")
            .clone();
        // no container metadata files to read here
        if let Some(m) = ops[0].as_mapping_mut() {
            m.remove("docker_metadata");
        }
        ops
    });
    let mut pipeline = Pipeline::build(ops, BuildMode::Run).expect("the example's operators build");
    let line = String::from_utf8_lossy(data).into_owned();
    let mut entry = EntryData::new(Value::Str(line), 1);
    entry.attributes.insert(
        "log.file.path".into(),
        Value::Str("/var/lib/docker/containers/0123456789abcdef/0123456789abcdef-json.log".into()),
    );
    let mut stats = Stats::default();
    let out = pipeline.process(vec![entry], &mut stats);
    // the records are encoded as prost encodes their structs, and what is encoded passes the
    // wire scan that makes it a batch, with one item per record
    let records = out.len();
    let (mut logs, mut reference) = (stanza::convert::Logs::default(), Vec::new());
    for e in out {
        reference.push(e.clone());
        logs.push(e);
    }
    let mut items = 0;
    let requests = logs.into_encoded();
    let single = requests.len() == 1;
    for req in requests {
        items += match req {
            stanza::convert::LogsRequest::Wire { bytes, records } => {
                if single {
                    assert_eq!(
                        bytes,
                        stanza::convert::to_request_decoded(reference.clone()).encode_to_vec(),
                        "the encoding is prost's"
                    );
                }
                // the filelog receiver trusts the count (`Batch::from_encoded`)
                let scanned = Batch::from_wire(Signal::Logs, bytes, RequestContext::default())
                    .expect("the scan accepts the encoded records")
                    .items();
                assert_eq!(scanned, records, "the encoder counts what the scan counts");
                scanned
            }
            stanza::convert::LogsRequest::Decoded(r) => Batch::from_logs(r).items(),
        };
    }
    assert_eq!(items, records);
    let line = String::from_utf8_lossy(data);
    // the container operator's scanner, wherever it reads a line, reads what serde_json reads
    if let Some((fast, general)) = stanza::operators::docker_line_fields_both_ways(&line) {
        assert_eq!(Some(fast), general, "the Docker line scanner on {line:?}");
    }
    // json_parser's direct reading agrees with reading a serde_json::Value, on the raw line and
    // on the Docker line's `log`
    let log = line
        .find("\"log\":\"")
        .map(|i| &line[i + 7..])
        .unwrap_or("");
    for text in [&line[..], log] {
        let v = Value::Str(text.to_string());
        for ints in [false, true] {
            assert_eq!(
                stanza::operators::parse_json(&v, ints),
                stanza::operators::parse_json_via_serde_value(&v, ints),
                "json_parser on {text:?}"
            );
        }
    }
}

/// filelog's expression language (`if:`, router `expr:`): compile any text, and evaluate what
/// compiles against an entry: no panic.
pub fn stanza_expr(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let Ok(expr) = stanza::expr::Expr::compile(&src) else {
        return;
    };
    let mut entry = EntryData::new(Value::Str("level=info msg=\"ok\"".into()), 1);
    entry
        .attributes
        .insert("level".into(), Value::Str("info".into()));
    entry.attributes.insert("n".into(), Value::Int(3));
    let _ = expr.eval(&entry);
}

/// Time parsing (`time_parser`, parsers' `timestamp`): the first line is a layout, the rest a
/// value; both strptime and Go layouts; building may refuse the layout, nothing panics.
pub fn time_layout(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (layout, value) = text.split_once('\n').unwrap_or((&text, ""));
    for layout_type in ["strptime", "gotime"] {
        let mut op = serde_yaml_ng::Mapping::new();
        op.insert("type".into(), "time_parser".into());
        op.insert("parse_from".into(), "body".into());
        op.insert("layout_type".into(), layout_type.into());
        op.insert("layout".into(), layout.into());
        let Ok(mut pipeline) =
            Pipeline::build(&[serde_yaml_ng::Value::Mapping(op)], BuildMode::Run)
        else {
            continue;
        };
        let mut stats = Stats::default();
        let _ = pipeline.process(
            vec![EntryData::new(Value::Str(value.into()), 1)],
            &mut stats,
        );
    }
}

/// Cutting a file's bytes into log entries (newline, multiline start pattern, UTF-16): every
/// token lies inside the data, and each cut makes progress.
pub fn filelog_split(data: &[u8]) {
    static SPLITTERS: OnceLock<Vec<Splitter>> = OnceLock::new();
    let splitters = SPLITTERS.get_or_init(|| {
        let plain = FileLogConfig {
            max_log_size: stanza::ByteSize(64),
            ..Default::default()
        };
        let multiline: FileLogConfig = serde_yaml_ng::from_str(
            "include: [x]\nmultiline: {line_start_pattern: '^\\d{4}-'}\nmax_log_size: 64",
        )
        .expect("multiline config");
        let utf16: FileLogConfig =
            serde_yaml_ng::from_str("include: [x]\nencoding: utf-16le").expect("utf-16 config");
        [plain, multiline, utf16]
            .iter()
            .map(|c| Splitter::new(c).expect("splitter builds"))
            .collect()
    });
    let (i, mut rest) = pick(data, splitters.len());
    let splitter = &splitters[i];
    while !rest.is_empty() {
        match splitter.cut(rest, true) {
            Cut::Token {
                advance,
                start,
                end,
            } => {
                assert!(advance > 0, "a cut that consumes nothing");
                assert!(advance <= rest.len() && start <= end && end <= rest.len());
                let _ = splitter.trim(&rest[start..end]);
                rest = &rest[advance..];
            }
            Cut::More => break,
        }
    }
}

/// The config loader: the bytes as the YAML of a `--config` file, with `${env:...}`,
/// `${file:...}` and `${yaml:...}` references resolved against a fixed environment, merged
/// with the embedded default, and validated against every component of this build: no
/// panic; errors are errors.
pub fn config_yaml(data: &[u8]) {
    let _ = load_config(data);
}

/// What [`config_yaml`] runs, with the loader's verdict: the problems' messages on error.
pub fn load_config(data: &[u8]) -> Result<(), Vec<String>> {
    struct Env(String);
    impl Environment for Env {
        fn var(&self, name: &str) -> Option<String> {
            match name {
                "HOST" => Some("127.0.0.1".into()),
                "PORT" => Some("4317".into()),
                "EMPTY" => Some(String::new()),
                _ => None,
            }
        }
        fn read_file(&self, path: &str) -> std::io::Result<String> {
            match path {
                "/config.yaml" => Ok(self.0.clone()),
                _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, path)),
            }
        }
        fn fetch(&self, url: &str) -> Result<String, String> {
            Err(format!("no network here: {url}"))
        }
    }
    static REGISTRY: OnceLock<pipeline::Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(ferrotel::registry);
    let env = Env(String::from_utf8_lossy(data).into_owned());
    pipeline::config::load(&["/config.yaml".to_string()], &[], &env, registry)
        .map(|_| ())
        .map_err(|errors| errors.iter().map(|e| e.to_string()).collect())
}

/// OTTL (the `transform`, `filter` and `tail_sampling` statements and conditions of a
/// config): compile any text as a statement and as a condition in the span context, both path
/// styles; run what compiles on a span with attributes, events and a resource: no panic.
pub fn ottl_statement(data: &[u8]) {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{span::Event, Span};
    let text = String::from_utf8_lossy(data);
    let kv = |k: &str, v: any_value::Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    for style in [ottl::PathStyle::Contextual, ottl::PathStyle::Prefixed] {
        let statement = ottl::Statement::compile(&text, ottl::ContextKind::Span, style);
        let condition = ottl::Condition::compile(&text, ottl::ContextKind::Span, style);
        if statement.is_err() && condition.is_err() {
            continue;
        }
        let mut resource = Some(Resource {
            attributes: vec![kv(
                "service.name",
                any_value::Value::StringValue("api".into()),
            )],
            ..Default::default()
        });
        let mut schema = String::new();
        let mut scope = None;
        let mut scope_schema = String::new();
        let mut span = Span {
            name: "GET /items".into(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            attributes: vec![
                kv("http.status_code", any_value::Value::IntValue(500)),
                kv(
                    "body",
                    any_value::Value::StringValue(r#"{"a": [1, {"b": "c"}]}"#.into()),
                ),
            ],
            events: vec![Event {
                name: "exception".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut ctx = ottl::Ctx::new(&mut resource, &mut schema)
            .with_scope(&mut scope, &mut scope_schema)
            .with_item(ottl::Item::Span(&mut span));
        if let Ok(c) = &condition {
            let _ = c.eval(&ctx);
        }
        if let Ok(s) = &statement {
            let _ = s.execute(&mut ctx);
        }
    }
}

/// A target's check.
pub type Check = fn(&[u8]);

/// Every target by name, for the corpus replay and the seed writer.
/// Zipkin v2 bodies (the `zipkin` receiver), JSON or protobuf by the first byte: no panic;
/// what decodes re-encodes and decodes to the same spans; the translation to OTLP keeps
/// every span (or refuses the request).
pub fn zipkin_v2(data: &[u8]) {
    use exporters::zipkin::{model, translate};
    let (i, body) = pick(data, 2);
    let json = i == 0;
    let decode = |b: &[u8]| {
        if json {
            model::from_json(b)
        } else {
            model::from_proto(b, false)
        }
    };
    let Ok(spans) = decode(body) else {
        return;
    };
    let encoded = if json {
        model::to_json(&spans)
    } else {
        model::to_proto(&spans)
    };
    let again = decode(&encoded).expect("what decoded re-encodes to a valid body");
    assert_eq!(again, spans, "decode(encode(spans)) == spans");
    if let Ok(req) = translate::to_otlp(spans.clone(), json) {
        let n: usize = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        assert_eq!(n, spans.len(), "every span translated");
    }
}

/// Loki push bodies (the `loki` receiver), JSON or snappy protobuf by the first byte: no
/// panic; what decodes has one log record per entry of a stream with parsable labels.
pub fn loki_push(data: &[u8]) {
    let (i, body) = pick(data, 2);
    let ct = ["application/json", "application/x-protobuf"][i];
    if let Ok(req) = receivers::loki::decode_push(ct, body, true, 1 << 20) {
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    assert!(r.observed_time_unix_nano > 0, "observed time set");
                }
            }
        }
    }
}

/// Jaeger `api_v2` `PostSpansRequest` bodies (the `jaeger` receiver): no panic; every span
/// that is not all-default is translated, with 16- and 8-byte ids.
pub fn jaeger_api_v2(data: &[u8]) {
    use exporters::jaeger::model::{PostSpansRequest, Span};
    let Ok(req) = <PostSpansRequest as prost::Message>::decode(data) else {
        return;
    };
    let batch = req.batch.unwrap_or_default();
    let want = batch
        .spans
        .iter()
        .filter(|s| **s != Span::default())
        .count();
    let out = exporters::jaeger::to_otlp::to_otlp(std::slice::from_ref(&batch));
    let spans: Vec<_> = out
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    assert_eq!(spans.len(), want, "every span translated");
    for s in spans {
        assert_eq!((s.trace_id.len(), s.span_id.len()), (16, 8));
    }
}

/// Jaeger Thrift (the `jaeger` receiver's `thrift_http` bodies and `thrift_binary` /
/// `thrift_compact` UDP packets; the first byte picks which) and the translation to OTLP:
/// no panic; every span that is not all-default is translated, with 16- and 8-byte ids.
pub fn jaeger_thrift(data: &[u8]) {
    use receivers::jaeger::{decode_agent_packet, decode_batch, ThriftProtocol};
    let Some((which, body)) = data.split_first() else {
        return;
    };
    let decoded = match which % 3 {
        0 => decode_batch(body),
        1 => decode_agent_packet(body, ThriftProtocol::Binary),
        _ => decode_agent_packet(body, ThriftProtocol::Compact),
    };
    let Ok(batch) = decoded else { return };
    let want = batch
        .spans
        .iter()
        .filter(|s| **s != Default::default())
        .count();
    let out = receivers::jaeger::thrift_to_otlp(&batch);
    let spans: Vec<_> = out
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    assert_eq!(spans.len(), want, "every span translated");
    for s in spans {
        assert_eq!((s.trace_id.len(), s.span_id.len()), (16, 8));
    }
}

/// Zipkin v1 bodies (the `zipkin` receiver's `/api/v1/spans`; the first byte picks JSON,
/// JSON with `parse_string_tags`, or Thrift) and the translation to OTLP: no panic; every
/// span has a 16-byte trace id (Thrift: or none, for a zero id) and an 8-byte span id.
pub fn zipkin_v1(data: &[u8]) {
    use receivers::zipkin::v1;
    let Some((which, body)) = data.split_first() else {
        return;
    };
    let out = match which % 3 {
        0 => v1::from_json(body, false),
        1 => v1::from_json(body, true),
        _ => v1::from_thrift(body),
    };
    let Ok(out) = out else { return };
    for s in out
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
    {
        assert!(matches!(s.trace_id.len(), 0 | 16), "{s:?}");
        assert!(matches!(s.span_id.len(), 0 | 8), "{s:?}");
        if which % 3 != 2 {
            assert_eq!((s.trace_id.len(), s.span_id.len()), (16, 8));
        }
    }
}

pub const TARGETS: &[(&str, Check)] = &[
    ("zipkin_v2", zipkin_v2),
    ("zipkin_v1", zipkin_v1),
    ("loki_push", loki_push),
    ("jaeger_api_v2", jaeger_api_v2),
    ("jaeger_thrift", jaeger_thrift),
    ("otlp_wire", otlp_wire),
    ("otlp_json", otlp_json),
    ("decompress", decompress),
    ("prometheus_text", prometheus_text),
    ("docker_log_line", docker_log_line),
    ("stanza_expr", stanza_expr),
    ("time_layout", time_layout),
    ("filelog_split", filelog_split),
    ("config_yaml", config_yaml),
    ("ottl_statement", ottl_statement),
    ("kubelet_summary", kubelet_summary),
    ("kube_watch", kube_watch),
    ("kubernetes_sd", kubernetes_sd),
    ("syslog", syslog),
    ("basic_auth", basic_auth),
];

/// The kubelet's `/stats/summary` and `/pods` bodies (the `kubelet_stats` receiver), split
/// at the first NUL: no panic; every resource names what it describes and every point is a
/// finite number.
pub fn kubelet_summary(data: &[u8]) {
    use receivers::kubeletstats::{Convert, KubeletStatsConfig};
    static CFG: OnceLock<KubeletStatsConfig> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        let mut cfg = KubeletStatsConfig {
            metric_groups: ["container", "pod", "node", "volume"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            extra_metadata_labels: vec!["container.id".into(), "k8s.volume.type".into()],
            ..Default::default()
        };
        for d in receivers::kubeletstats::metadata::DEFS {
            cfg.metrics.insert(
                d.name.to_string(),
                serde_yaml_ng::from_str("{enabled: true}").unwrap(),
            );
        }
        cfg
    });
    let (summary, pods) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let convert = Convert { cfg, start: 1 };
    let Ok((resources, _warnings)) = convert.from_bodies(summary, pods, 2_000_000_000_000_000_000)
    else {
        return;
    };
    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
    for rm in &resources {
        assert!(
            !rm.resource.as_ref().unwrap().attributes.is_empty(),
            "a resource names its node, pod, container or volume"
        );
        for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
            let points = match &m.data {
                Some(metric::Data::Sum(s)) => &s.data_points,
                Some(metric::Data::Gauge(g)) => &g.data_points,
                _ => panic!("{}: only sums and gauges", m.name),
            };
            for p in points {
                if let Some(number_data_point::Value::AsDouble(v)) = p.value {
                    assert!(v.is_finite(), "{}: {v}", m.name);
                }
            }
        }
    }
}

/// One line of a Kubernetes watch (the `k8s_attributes` processor's pod cache and every
/// other kind's metadata): no panic; a pod that decodes is taken into the cache and found
/// by its uid.
pub fn kube_watch(data: &[u8]) {
    use processors::k8sattributes::pods::{Cache, Pod, PodInfo};
    use transport::kube::{watch_event, Event, Meta};
    let _ = watch_event::<Meta>(data);
    let Ok((_, Some(Event::Upsert(pod) | Event::Delete(pod)))) = watch_event::<Pod>(data) else {
        return;
    };
    static CFG: OnceLock<processors::k8sattributes::Config> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        serde_yaml_ng::from_str::<processors::k8sattributes::Config>(
            "extract: {metadata: [k8s.pod.name, k8s.pod.uid, container.id, container.image.name, container.image.tag, k8s.deployment.name], labels: [{key_regex: '(.*)', tag_name: '$1'}], otel_annotations: true}",
        )
        .unwrap()
    });
    let rules = processors::k8sattributes::pods::FieldRule::compile(cfg);
    let info = PodInfo::from_pod(&pod, cfg, &rules, &[]);
    let associations = vec![
        vec![("resource_attribute".to_string(), "k8s.pod.uid".to_string())],
        vec![("connection".to_string(), String::new())],
        vec![("resource_attribute".to_string(), "container.id".to_string())],
    ];
    let uid = info.uid.clone();
    let mut cache = Cache::default();
    cache.upsert_pod(info, &associations);
    let key = processors::k8sattributes::pods::part("resource_attribute", "k8s.pod.uid", &uid);
    assert!(cache.pods.contains_key(&key), "a pod is found by its uid");
}

/// Kubernetes watch lines (the prometheus receiver's `kubernetes_sd_configs`): each line as
/// every kind the discovery keeps, into one store, then every role's targets with all the
/// metadata `attach_metadata` can attach: no panic; every target has an address and only valid
/// label names.
pub fn kubernetes_sd(data: &[u8]) {
    use receivers::prometheus::config::is_valid_label_name;
    use receivers::prometheus::kubernetes_sd::objects::{
        EndpointSlice, Endpoints, Ingress, Node, Pod, Service,
    };
    use receivers::prometheus::kubernetes_sd::roles::{groups, Attach};
    use receivers::prometheus::kubernetes_sd::{Role, Store};
    use transport::kube::{watch_event, Meta};
    let mut store = Store::default();
    for line in data.split(|&b| b == b'\n').take(64) {
        macro_rules! feed {
            ($t:ty, $coll:ident) => {
                if let Ok((_, Some(event))) = watch_event::<$t>(line) {
                    store.$coll.apply("", event);
                }
            };
        }
        feed!(Pod, pods);
        feed!(Node, nodes);
        feed!(Service, services);
        feed!(Endpoints, endpoints);
        feed!(EndpointSlice, endpointslices);
        feed!(Ingress, ingresses);
        feed!(Meta, namespaces);
        feed!(Meta, replicasets);
        feed!(Meta, jobs);
    }
    let attach = Attach {
        node: true,
        namespace: true,
        deployment: true,
        job: true,
        cronjob: true,
    };
    for role in [
        Role::Pod,
        Role::Node,
        Role::Service,
        Role::Endpoints,
        Role::EndpointSlice,
        Role::Ingress,
    ] {
        for g in groups(role, &store, &attach) {
            assert_eq!(g.targets.len(), 1, "one target a group");
            for name in g.labels.keys() {
                assert!(is_valid_label_name(name), "label name {name:?}");
            }
        }
    }
}

/// A syslog message (`syslog_parser`, the `syslog` receiver) as RFC 3164 (in a zone with
/// daylight saving), RFC 5424, octet-counted frames and NUL-ended frames: no panic; a message
/// taken has a PRI in range and an RFC 5424 version in 1..=999, and its fields make
/// attributes.
pub fn syslog(data: &[u8]) {
    use stanza::operators::syslog::{
        fields, parse_octet_counted, parse_rfc3164, parse_rfc5424, parse_with_trailer,
    };
    static TZ: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    let tz = TZ.get_or_init(|| {
        jiff::tz::TimeZone::get("America/Detroit").unwrap_or(jiff::tz::TimeZone::UTC)
    });
    for (m, rfc5424) in [
        (parse_rfc3164(data, tz), false),
        (parse_rfc5424(data), true),
        (parse_octet_counted(data, 8192), true),
        (parse_with_trailer(data, 0), true),
    ] {
        let Ok(m) = m else { continue };
        assert!(m.priority.is_none_or(|p| p <= 191), "PRI in range");
        if rfc5424 {
            assert!(m.version.is_some_and(|v| (1..=999).contains(&v)), "version");
        }
        let _ = fields(&m, false);
    }
}

/// An `Authorization` value as the `basicauth` server reads it, and an htpasswd table, split
/// at the first NUL: no panic; a value that parses, encoded again, parses to the same user and
/// password; a user whose plain password is that password matches it. Encodings whose cost
/// is in the input (bcrypt's cost, SHA-crypt's rounds) are not matched, so an input cannot
/// make one check run for minutes.
pub fn basic_auth(data: &[u8]) {
    use base64::Engine;
    use pipeline::extensions::auth::basicauth::parse_basic;
    use pipeline::extensions::auth::htpasswd::Htpasswd;
    let (header, table) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(table);
    let costly = text.contains("$2") || text.contains("rounds=");
    let htpasswd = Htpasswd::parse(&text);
    if let Ok((user, password)) = parse_basic(header) {
        let again = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        assert_eq!(
            parse_basic(again.as_bytes()),
            Ok((user.clone(), password.clone())),
            "round trip"
        );
        if !costly {
            let _ = htpasswd.matches(&user, &password);
        }
        if !user.contains(':') && !user.trim().is_empty() && !password.contains('\n') {
            let line = format!("{user}:{password}");
            // only a plain password (no encoding prefix, no surrounding space) matches as
            // itself
            let plain = !password.starts_with('$')
                && !password.starts_with('{')
                && password.trim() == password
                && user.trim() == user
                && !user.contains('\n')
                && !user.contains('\r')
                && !password.contains('\r');
            if plain && !line.contains('\u{85}') && !line.contains('\u{2028}') {
                assert!(
                    Htpasswd::parse(&line).matches(&user, &password),
                    "a plain line matches: {line:?}"
                );
            }
        }
    }
}
