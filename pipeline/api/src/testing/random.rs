//! Random, valid export requests from a fixed seed, for differential tests: every signal,
//! every metric kind, attributes with repeated keys and values of every type, and the
//! nested attribute lists (events, links, exemplars, key-value lists) a walk must leave
//! alone.

use crate::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use crate::proto::tonic::resource::v1::Resource;
use crate::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use crate::{BatchData, Signal};

/// splitmix64: a fixed-seed generator, so every run tests the same cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.below(from.len())]
    }
}

/// Keys drawn from a small set, so that lists repeat keys and edits find them.
pub const KEYS: [&str; 7] = ["a", "b", "c", "http.method", "service.name", "dup", ""];

/// A random value of any type (nested at most `depth` levels).
pub fn value(rng: &mut Rng, depth: usize) -> AnyValue {
    use any_value::Value;
    let kinds = if depth == 0 { 6 } else { 8 };
    let v = match rng.below(kinds) {
        0 => None,
        1 => Some(Value::StringValue(format!("v{}", rng.below(20)))),
        2 => Some(Value::IntValue(rng.next_u64() as i64 >> rng.below(64))),
        3 => Some(Value::DoubleValue(rng.below(1000) as f64 / 8.0)),
        4 => Some(Value::BoolValue(rng.one_in(2))),
        5 => Some(Value::BytesValue(
            (0..rng.below(5)).map(|_| rng.byte()).collect(),
        )),
        6 => Some(Value::ArrayValue(ArrayValue {
            values: (0..rng.below(3)).map(|_| value(rng, depth - 1)).collect(),
        })),
        _ => Some(Value::KvlistValue(KeyValueList {
            values: attributes(rng, depth - 1),
        })),
    };
    AnyValue { value: v }
}

/// 0 to 5 attributes, keys from [`KEYS`]; sometimes an entry without a value.
pub fn attributes(rng: &mut Rng, depth: usize) -> Vec<KeyValue> {
    (0..rng.below(6))
        .map(|_| KeyValue {
            key: rng.pick(&KEYS).to_string(),
            value: (!rng.one_in(8)).then(|| value(rng, depth)),
            ..Default::default()
        })
        .collect()
}

fn id(rng: &mut Rng, len: usize) -> Vec<u8> {
    if rng.one_in(4) {
        Vec::new()
    } else {
        (0..len).map(|_| rng.byte()).collect()
    }
}

fn resource(rng: &mut Rng) -> Option<Resource> {
    (!rng.one_in(4)).then(|| Resource {
        attributes: attributes(rng, 1),
        dropped_attributes_count: rng.below(2) as u32,
        ..Default::default()
    })
}

fn scope(rng: &mut Rng) -> Option<InstrumentationScope> {
    (!rng.one_in(4)).then(|| InstrumentationScope {
        name: format!("scope{}", rng.below(3)),
        version: if rng.one_in(2) {
            "1.0".into()
        } else {
            String::new()
        },
        attributes: attributes(rng, 0),
        dropped_attributes_count: 0,
    })
}

fn span(rng: &mut Rng) -> Span {
    Span {
        trace_id: id(rng, 16),
        span_id: id(rng, 8),
        trace_state: if rng.one_in(3) {
            "ot=th:8".into()
        } else {
            String::new()
        },
        parent_span_id: id(rng, 8),
        flags: rng.below(3) as u32,
        name: format!("op{}", rng.below(5)),
        kind: rng.below(6) as i32,
        start_time_unix_nano: rng.next_u64() >> 4,
        end_time_unix_nano: rng.next_u64() >> 4,
        attributes: attributes(rng, 2),
        dropped_attributes_count: rng.below(2) as u32,
        events: (0..rng.below(3))
            .map(|_| span::Event {
                time_unix_nano: rng.next_u64() >> 4,
                name: "event".into(),
                attributes: attributes(rng, 1),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: (0..rng.below(2))
            .map(|_| span::Link {
                trace_id: id(rng, 16),
                span_id: id(rng, 8),
                attributes: attributes(rng, 1),
                flags: rng.below(2) as u32,
                ..Default::default()
            })
            .collect(),
        dropped_links_count: rng.below(2) as u32,
        status: (!rng.one_in(3)).then(|| Status {
            message: if rng.one_in(2) {
                "boom".into()
            } else {
                String::new()
            },
            code: rng.below(3) as i32,
        }),
    }
}

fn log_record(rng: &mut Rng) -> LogRecord {
    LogRecord {
        time_unix_nano: rng.next_u64() >> 4,
        observed_time_unix_nano: rng.next_u64() >> 4,
        severity_number: rng.below(25) as i32,
        severity_text: if rng.one_in(2) {
            "INFO".into()
        } else {
            String::new()
        },
        body: (!rng.one_in(4)).then(|| value(rng, 2)),
        attributes: attributes(rng, 2),
        dropped_attributes_count: rng.below(2) as u32,
        flags: rng.below(2) as u32,
        trace_id: id(rng, 16),
        span_id: id(rng, 8),
        event_name: if rng.one_in(3) {
            "login".into()
        } else {
            String::new()
        },
    }
}

fn exemplars(rng: &mut Rng) -> Vec<Exemplar> {
    (0..rng.below(2))
        .map(|_| Exemplar {
            filtered_attributes: attributes(rng, 0),
            time_unix_nano: rng.next_u64() >> 4,
            span_id: id(rng, 8),
            trace_id: id(rng, 16),
            value: Some(exemplar::Value::AsInt(rng.below(100) as i64)),
        })
        .collect()
}

fn number_points(rng: &mut Rng) -> Vec<NumberDataPoint> {
    (0..rng.below(4))
        .map(|_| NumberDataPoint {
            attributes: attributes(rng, 1),
            start_time_unix_nano: rng.next_u64() >> 4,
            time_unix_nano: rng.next_u64() >> 4,
            value: Some(if rng.one_in(2) {
                number_data_point::Value::AsInt(rng.below(1000) as i64)
            } else {
                number_data_point::Value::AsDouble(rng.below(1000) as f64 / 4.0)
            }),
            exemplars: exemplars(rng),
            flags: rng.below(2) as u32,
        })
        .collect()
}

fn metric(rng: &mut Rng) -> Metric {
    let data = match rng.below(6) {
        0 => None,
        1 => Some(metric::Data::Gauge(Gauge {
            data_points: number_points(rng),
        })),
        2 => Some(metric::Data::Sum(Sum {
            data_points: number_points(rng),
            aggregation_temporality: rng.below(3) as i32,
            is_monotonic: rng.one_in(2),
        })),
        3 => Some(metric::Data::Histogram(Histogram {
            data_points: (0..rng.below(3))
                .map(|_| HistogramDataPoint {
                    attributes: attributes(rng, 1),
                    start_time_unix_nano: rng.next_u64() >> 4,
                    time_unix_nano: rng.next_u64() >> 4,
                    count: 3,
                    sum: rng.one_in(2).then_some(4.5),
                    bucket_counts: vec![1, 2],
                    explicit_bounds: vec![1.0],
                    exemplars: exemplars(rng),
                    flags: 0,
                    min: rng.one_in(2).then_some(0.5),
                    max: rng.one_in(2).then_some(2.0),
                })
                .collect(),
            aggregation_temporality: rng.below(3) as i32,
        })),
        4 => Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: (0..rng.below(3))
                .map(|_| ExponentialHistogramDataPoint {
                    attributes: attributes(rng, 1),
                    start_time_unix_nano: rng.next_u64() >> 4,
                    time_unix_nano: rng.next_u64() >> 4,
                    count: 4,
                    sum: rng.one_in(2).then_some(8.0),
                    scale: rng.below(5) as i32 - 2,
                    zero_count: 1,
                    positive: rng.one_in(2).then(|| Buckets {
                        offset: -1,
                        bucket_counts: vec![1, 2],
                    }),
                    negative: None,
                    flags: 0,
                    exemplars: exemplars(rng),
                    min: None,
                    max: rng.one_in(2).then_some(3.0),
                    zero_threshold: 0.0,
                })
                .collect(),
            aggregation_temporality: rng.below(3) as i32,
        })),
        _ => Some(metric::Data::Summary(Summary {
            data_points: (0..rng.below(3))
                .map(|_| SummaryDataPoint {
                    attributes: attributes(rng, 1),
                    start_time_unix_nano: rng.next_u64() >> 4,
                    time_unix_nano: rng.next_u64() >> 4,
                    count: 2,
                    sum: 3.0,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.5,
                        value: 1.5,
                    }],
                    flags: 0,
                })
                .collect(),
        })),
    };
    Metric {
        name: format!("m{}", rng.below(4)),
        description: if rng.one_in(2) {
            "d".into()
        } else {
            String::new()
        },
        unit: if rng.one_in(2) {
            "ms".into()
        } else {
            String::new()
        },
        metadata: attributes(rng, 0),
        data,
    }
}

/// A random export request of `signal`: up to 2 resources of up to 2 scopes of up to 4
/// items (or metrics), any of them possibly empty.
pub fn request(signal: Signal, rng: &mut Rng) -> BatchData {
    let schema = |rng: &mut Rng| {
        if rng.one_in(3) {
            "https://opentelemetry.io/schemas/1.21.0".to_string()
        } else {
            String::new()
        }
    };
    match signal {
        Signal::Traces => BatchData::Traces(ExportTraceServiceRequest {
            resource_spans: (0..1 + rng.below(2))
                .map(|_| ResourceSpans {
                    resource: resource(rng),
                    scope_spans: (0..rng.below(3))
                        .map(|_| ScopeSpans {
                            scope: scope(rng),
                            spans: (0..rng.below(5)).map(|_| span(rng)).collect(),
                            schema_url: schema(rng),
                        })
                        .collect(),
                    schema_url: schema(rng),
                })
                .collect(),
        }),
        Signal::Logs => BatchData::Logs(ExportLogsServiceRequest {
            resource_logs: (0..1 + rng.below(2))
                .map(|_| ResourceLogs {
                    resource: resource(rng),
                    scope_logs: (0..rng.below(3))
                        .map(|_| ScopeLogs {
                            scope: scope(rng),
                            log_records: (0..rng.below(5)).map(|_| log_record(rng)).collect(),
                            schema_url: schema(rng),
                        })
                        .collect(),
                    schema_url: schema(rng),
                })
                .collect(),
        }),
        Signal::Metrics => BatchData::Metrics(ExportMetricsServiceRequest {
            resource_metrics: (0..1 + rng.below(2))
                .map(|_| ResourceMetrics {
                    resource: resource(rng),
                    scope_metrics: (0..rng.below(3))
                        .map(|_| ScopeMetrics {
                            scope: scope(rng),
                            metrics: (0..rng.below(5)).map(|_| metric(rng)).collect(),
                            schema_url: schema(rng),
                        })
                        .collect(),
                    schema_url: schema(rng),
                })
                .collect(),
        }),
    }
}

/// A random edit of one attribute list through the map operations, chosen by `seed` and
/// the list's keys: a pure function of the list, as a processor's edit is, so the same list
/// is edited alike wherever it is met and whatever else was edited before.
pub fn edit(seed: u64, m: &mut dyn crate::attrs::AttrMap) {
    // FNV-1a over the keys
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for i in 0..m.len() {
        for b in m.key(i).bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    let rng = &mut Rng(h);
    for _ in 0..rng.below(4) {
        let key = *rng.pick(&KEYS);
        let at = |rng: &mut Rng, m: &dyn crate::attrs::AttrMap| {
            (!m.is_empty()).then(|| rng.below(m.len()))
        };
        match rng.below(9) {
            0 => m.put(key, value(rng, 1)),
            1 => {
                m.update(key, value(rng, 1));
            }
            2 => {
                m.remove(key);
            }
            3 => m.push(key, value(rng, 1)),
            4 => m.remove_keys_if(&mut |k| k.starts_with(key)),
            5 => {
                if let Some(i) = at(rng, m) {
                    m.set_value(i, value(rng, 1));
                }
            }
            6 => {
                if let Some(i) = at(rng, m) {
                    m.swap_remove(i);
                }
            }
            7 => {
                if let Some(i) = at(rng, m) {
                    m.remove_at(i);
                }
            }
            // a read: the value of one attribute copied to another
            _ => {
                if let Some(v) = m.get(key).map(std::borrow::Cow::into_owned) {
                    m.put("copy", v);
                }
            }
        }
    }
}

/// `data` in both forms, for tests that compare a path over the wire form with the decoded
/// one: a batch of its encoding still in the wire form, and one decoded from the same bytes.
pub fn both_forms(data: BatchData) -> (crate::Batch, crate::Batch) {
    let signal = data.signal();
    let bytes = crate::Batch::new(data, Default::default()).encode();
    let wire =
        crate::Batch::decode(signal, &bytes, Default::default()).expect("encoded data scans");
    let decoded =
        crate::Batch::decode(signal, &bytes, Default::default()).expect("encoded data scans");
    decoded.data();
    (wire, decoded)
}

/// Every span of `data` (none for another signal), for tests that shape random requests.
pub fn spans_mut(data: &mut BatchData) -> impl Iterator<Item = &mut Span> {
    let resources = match data {
        BatchData::Traces(r) => &mut r.resource_spans[..],
        _ => &mut [],
    };
    resources
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
        .flat_map(|s| &mut s.spans)
}

/// Every log record of `data` (none for another signal), as [`spans_mut`].
pub fn log_records_mut(data: &mut BatchData) -> impl Iterator<Item = &mut LogRecord> {
    let resources = match data {
        BatchData::Logs(r) => &mut r.resource_logs[..],
        _ => &mut [],
    };
    resources
        .iter_mut()
        .flat_map(|r| &mut r.scope_logs)
        .flat_map(|s| &mut s.log_records)
}
