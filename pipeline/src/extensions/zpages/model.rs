//! What `/debug/pipelinez` shows: the running graph (from `GraphInfo`) with each component's
//! item counts and errors read from the metrics registry, and rates over the last minute.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use pipeline_api::{GraphInfo, Signal};
use prometheus::proto::MetricFamily;
use serde::Serialize;

/// How often the rate keeper samples the counters, and how far back rates look.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// One component in one pipeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeView {
    pub id: String,
    /// Items through this component for this pipeline's signal since start: accepted by a
    /// receiver, entering a processor, sent by an exporter.
    pub items: u64,
    /// Receivers: refused + failed; exporters: send_failed + enqueue_failed; processors:
    /// none (what a sampler drops on purpose is not an error: compare incoming/outgoing).
    pub errors: Option<u64>,
    /// Over the rate window (up to the last minute); absent until a sample is old enough.
    pub items_per_second: Option<f64>,
    pub errors_per_second: Option<f64>,
    /// The underlying metrics, by short name (`accepted`, `refused`, `sent`, `queue_size`...).
    pub counters: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PipelineView {
    pub id: String,
    pub signal: String,
    pub receivers: Vec<NodeView>,
    pub processors: Vec<NodeView>,
    pub exporters: Vec<NodeView>,
}

/// The JSON of `/debug/pipelinez?format=json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pipelinez {
    pub version: String,
    /// Seconds the rates are computed over (absent before the first sample).
    pub rate_window_seconds: Option<f64>,
    pub pipelines: Vec<PipelineView>,
    pub extensions: Vec<String>,
}

/// The registry's current values, looked up by name and labels.
pub struct Values(Vec<MetricFamily>);

impl Values {
    pub fn new(families: Vec<MetricFamily>) -> Values {
        Values(families)
    }

    /// Sum of every series of `name` carrying all `labels` (counter or gauge).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric())
            .filter(|m| {
                labels.iter().all(|(k, v)| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == *k && l.value() == *v)
                })
            })
            .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
            .sum::<f64>()
            .max(0.0) as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Receiver,
    Processor,
    Exporter,
}

/// Totals of one component for one signal.
fn node(values: &Values, kind: Kind, id: &str, signal: Signal) -> NodeView {
    let item = signal.item_name();
    let mut counters = BTreeMap::new();
    let (items, errors) = match kind {
        Kind::Receiver => {
            let l = [("receiver", id)];
            let accepted = values.sum(&format!("otelcol_receiver_accepted_{item}"), &l);
            let refused = values.sum(&format!("otelcol_receiver_refused_{item}"), &l);
            let failed = values.sum(&format!("otelcol_receiver_failed_{item}"), &l);
            counters.insert("accepted".into(), accepted);
            counters.insert("refused".into(), refused);
            counters.insert("failed".into(), failed);
            (accepted, Some(refused + failed))
        }
        Kind::Processor => {
            let l = [("processor", id), ("otel_signal", signal.as_str())];
            let incoming = values.sum("otelcol_processor_incoming_items", &l);
            let outgoing = values.sum("otelcol_processor_outgoing_items", &l);
            counters.insert("incoming".into(), incoming);
            counters.insert("outgoing".into(), outgoing);
            (incoming, None)
        }
        Kind::Exporter => {
            let l = [("exporter", id)];
            let sent = values.sum(&format!("otelcol_exporter_sent_{item}"), &l);
            let failed = values.sum(&format!("otelcol_exporter_send_failed_{item}"), &l);
            let enqueue = values.sum(&format!("otelcol_exporter_enqueue_failed_{item}"), &l);
            let q = [("exporter", id), ("data_type", signal.as_str())];
            counters.insert("sent".into(), sent);
            counters.insert("send_failed".into(), failed);
            counters.insert("enqueue_failed".into(), enqueue);
            counters.insert(
                "queue_size".into(),
                values.sum("otelcol_exporter_queue_size", &q),
            );
            counters.insert(
                "queue_capacity".into(),
                values.sum("otelcol_exporter_queue_capacity", &q),
            );
            (sent, Some(failed + enqueue))
        }
    };
    NodeView {
        id: id.to_string(),
        items,
        errors,
        items_per_second: None,
        errors_per_second: None,
        counters,
    }
}

type Key = (Kind, String, Signal);
type Sample = HashMap<Key, (u64, u64)>;

fn nodes(info: &GraphInfo) -> Vec<Key> {
    let mut out = Vec::new();
    for p in &info.pipelines {
        let s = p.id.signal();
        for (kind, ids) in [
            (Kind::Receiver, &p.receivers),
            (Kind::Processor, &p.processors),
            (Kind::Exporter, &p.exporters),
        ] {
            for id in ids {
                out.push((kind, id.to_string(), s));
            }
        }
    }
    out
}

/// Totals of every component now.
fn sample(info: &GraphInfo, values: &Values) -> Sample {
    nodes(info)
        .into_iter()
        .map(|key| {
            let n = node(values, key.0, &key.1, key.2);
            (key, (n.items, n.errors.unwrap_or(0)))
        })
        .collect()
}

/// Samples of the totals over the last `RATE_WINDOW`, to turn counters into rates.
#[derive(Default)]
pub struct RateKeeper {
    samples: VecDeque<(Instant, Sample)>,
}

impl RateKeeper {
    pub fn record(&mut self, info: &GraphInfo, values: &Values, now: Instant) {
        self.samples.push_back((now, sample(info, values)));
        // keep the newest sample that is at least a window old as the baseline
        while self.samples.len() > 1 && now.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
    }

    fn baseline(&self, now: Instant) -> Option<(Duration, &Sample)> {
        let (t, s) = self.samples.front()?;
        let age = now.checked_duration_since(*t)?;
        (age >= Duration::from_secs(1)).then_some((age, s))
    }
}

/// The page's data: the running graph with counts, errors and rates.
pub fn pipelinez(
    info: &GraphInfo,
    values: &Values,
    rates: &RateKeeper,
    now: Instant,
    version: &str,
) -> Pipelinez {
    let baseline = rates.baseline(now);
    let view = |kind: Kind, id: &pipeline_api::ComponentId, signal: Signal| {
        let mut n = node(values, kind, &id.to_string(), signal);
        if let Some((age, base)) = baseline {
            let (items0, errors0) = base
                .get(&(kind, id.to_string(), signal))
                .copied()
                .unwrap_or((0, 0));
            let secs = age.as_secs_f64();
            n.items_per_second = Some(n.items.saturating_sub(items0) as f64 / secs);
            n.errors_per_second = n.errors.map(|e| e.saturating_sub(errors0) as f64 / secs);
        }
        n
    };
    Pipelinez {
        version: version.to_string(),
        rate_window_seconds: baseline.map(|(age, _)| age.as_secs_f64()),
        pipelines: info
            .pipelines
            .iter()
            .map(|p| {
                let s = p.id.signal();
                PipelineView {
                    id: p.id.to_string(),
                    signal: s.as_str().to_string(),
                    receivers: p
                        .receivers
                        .iter()
                        .map(|id| view(Kind::Receiver, id, s))
                        .collect(),
                    processors: p
                        .processors
                        .iter()
                        .map(|id| view(Kind::Processor, id, s))
                        .collect(),
                    exporters: p
                        .exporters
                        .iter()
                        .map(|id| view(Kind::Exporter, id, s))
                        .collect(),
                }
            })
            .collect(),
        extensions: info.extensions.iter().map(|e| e.to_string()).collect(),
    }
}
