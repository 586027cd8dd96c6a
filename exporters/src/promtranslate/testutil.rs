//! OTLP builders for the tests of both Prometheus exporters.

use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point,
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::Batch;

pub const SEC: u64 = 1_000_000_000;
pub const CUMULATIVE: i32 = 2;
pub const DELTA: i32 = 1;

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub fn metric(name: &str, unit: &str, description: &str, data: metric::Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        description: description.into(),
        data: Some(data),
        ..Default::default()
    }
}

pub fn int_point(attrs: Vec<KeyValue>, start: u64, time: u64, v: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    }
}

pub fn double_point(attrs: Vec<KeyValue>, start: u64, time: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

pub fn sum(points: Vec<NumberDataPoint>, monotonic: bool, temporality: i32) -> metric::Data {
    metric::Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality,
        is_monotonic: monotonic,
    })
}

pub fn gauge(points: Vec<NumberDataPoint>) -> metric::Data {
    metric::Data::Gauge(Gauge {
        data_points: points,
    })
}

pub fn histogram_point(
    attrs: Vec<KeyValue>,
    time: u64,
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: attrs,
        start_time_unix_nano: SEC,
        time_unix_nano: time,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts,
        explicit_bounds: bounds,
        ..Default::default()
    }
}

pub fn histogram(points: Vec<HistogramDataPoint>, temporality: i32) -> metric::Data {
    metric::Data::Histogram(Histogram {
        data_points: points,
        aggregation_temporality: temporality,
    })
}

/// Scale 0 (base 2): `zero` values at 0, `positive[i]` values in `(2^(offset+i), 2^(offset+i+1)]`.
pub fn exp_histogram(
    time: u64,
    zero: u64,
    offset: i32,
    positive: Vec<u64>,
    sum: f64,
    temporality: i32,
) -> metric::Data {
    metric::Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            start_time_unix_nano: SEC,
            time_unix_nano: time,
            count: zero + positive.iter().sum::<u64>(),
            sum: Some(sum),
            scale: 0,
            zero_count: zero,
            positive: Some(exponential_histogram_data_point::Buckets {
                offset,
                bucket_counts: positive,
            }),
            ..Default::default()
        }],
        aggregation_temporality: temporality,
    })
}

pub fn summary(time: u64, quantiles: &[(f64, f64)], count: u64, sum: f64) -> metric::Data {
    metric::Data::Summary(Summary {
        data_points: vec![SummaryDataPoint {
            start_time_unix_nano: SEC,
            time_unix_nano: time,
            count,
            sum,
            quantile_values: quantiles
                .iter()
                .map(|(q, v)| summary_data_point::ValueAtQuantile {
                    quantile: *q,
                    value: *v,
                })
                .collect(),
            ..Default::default()
        }],
    })
}

pub fn exemplar(value: f64, time: u64, trace: u8, span: u8) -> Exemplar {
    Exemplar {
        time_unix_nano: time,
        trace_id: (0..16).map(|i| trace + i).collect(),
        span_id: (0..8).map(|i| span + i).collect(),
        value: Some(exemplar::Value::AsDouble(value)),
        ..Default::default()
    }
}

pub fn resource_metrics(
    resource: Vec<KeyValue>,
    scope: (&str, &str),
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: scope.0.into(),
                version: scope.1.into(),
                ..Default::default()
            }),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

pub fn batch(rms: Vec<ResourceMetrics>) -> Batch {
    Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: rms,
    })
}

/// The resource of the tests: service `api`, instance `i-1`, host `h1`.
pub fn api_resource() -> Vec<KeyValue> {
    vec![
        kv("service.name", "api"),
        kv("service.instance.id", "i-1"),
        kv("host.name", "h1"),
    ]
}

/// One metric of every kind (cumulative), from [`api_resource`], scope `meter` 1.0, at 2s.
pub fn every_kind() -> Vec<Metric> {
    let t = 2 * SEC;
    let mut counter = int_point(vec![kv("method", "GET")], SEC, t, 10);
    counter.exemplars = vec![exemplar(1.0, 1_700_000_000 * SEC, 1, 101)];
    let mut hist = histogram_point(vec![], t, vec![0.1, 1.0], vec![1, 2, 1], 2.5);
    hist.exemplars = vec![exemplar(0.5, 1_700_000_000 * SEC, 2, 102)];
    vec![
        metric(
            "http.requests",
            "{requests}",
            "Requests",
            sum(vec![counter], true, CUMULATIVE),
        ),
        metric(
            "queue.size",
            "{items}",
            "",
            sum(vec![int_point(vec![], SEC, t, -3)], false, CUMULATIVE),
        ),
        metric(
            "cpu.utilization",
            "1",
            "CPU",
            gauge(vec![double_point(vec![], 0, t, 0.25)]),
        ),
        metric(
            "http.server.duration",
            "s",
            "",
            histogram(vec![hist], CUMULATIVE),
        ),
        metric(
            "rpc.latency",
            "ms",
            "",
            summary(t, &[(0.99, 20.0), (0.5, 10.0)], 5, 60.0),
        ),
        metric(
            "payload.size",
            "By",
            "",
            exp_histogram(t, 1, 0, vec![2, 3], 15.0, CUMULATIVE),
        ),
    ]
}
