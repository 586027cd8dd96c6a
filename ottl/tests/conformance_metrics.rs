//! The conformance table of the transform processor's metric functions: a request with one
//! metric of each type (sums and gauges with attributes to aggregate over, a delta
//! histogram, a summary, an exponential histogram) → statements → every metric after, as
//! Go's function docs and tests describe.

mod common;

use common::{i, kv, s};
use ottl::{exec, ContextKind, ErrorMode, PathStyle, Statement, StatementSeq};
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use serde_json::{json, Value as J};

fn num(attrs: Vec<KeyValue>, v: number_data_point::Value, start: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        value: Some(v),
        start_time_unix_nano: start,
        time_unix_nano: 100,
        ..Default::default()
    }
}

fn request() -> ExportMetricsServiceRequest {
    use number_data_point::Value::{AsDouble, AsInt};
    let m = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        unit: unit.into(),
        description: format!("{name} desc"),
        data: Some(data),
        ..Default::default()
    };
    let metrics = vec![
        m(
            "req",
            "1",
            metric::Data::Sum(Sum {
                data_points: vec![
                    num(
                        vec![kv("method", s("GET")), kv("code", i(200))],
                        AsInt(10),
                        50,
                    ),
                    num(
                        vec![kv("method", s("GET")), kv("code", i(500))],
                        AsInt(5),
                        40,
                    ),
                    num(
                        vec![kv("method", s("POST")), kv("code", i(200))],
                        AsInt(7),
                        50,
                    ),
                ],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        m(
            "temp",
            "Cel",
            metric::Data::Gauge(Gauge {
                data_points: vec![
                    num(vec![kv("room", s("a"))], AsDouble(20.0), 0),
                    num(vec![kv("room", s("b"))], AsDouble(22.0), 0),
                    num(vec![kv("room", s("a"))], AsDouble(24.0), 0),
                ],
            }),
        ),
        m(
            "lat",
            "ms",
            metric::Data::Histogram(Histogram {
                data_points: vec![
                    HistogramDataPoint {
                        attributes: vec![kv("m", s("GET"))],
                        count: 3,
                        sum: Some(30.0),
                        bucket_counts: vec![1, 2],
                        explicit_bounds: vec![10.0],
                        min: Some(1.0),
                        max: Some(20.0),
                        time_unix_nano: 100,
                        ..Default::default()
                    },
                    HistogramDataPoint {
                        attributes: vec![kv("m", s("POST"))],
                        count: 1,
                        sum: Some(5.0),
                        bucket_counts: vec![1, 0],
                        explicit_bounds: vec![10.0],
                        min: Some(5.0),
                        max: Some(5.0),
                        time_unix_nano: 100,
                        ..Default::default()
                    },
                ],
                aggregation_temporality: 1,
            }),
        ),
        m(
            "rpc",
            "ms",
            metric::Data::Summary(Summary {
                data_points: vec![
                    SummaryDataPoint {
                        attributes: vec![kv("m", s("GET"))],
                        count: 4,
                        sum: 40.0,
                        start_time_unix_nano: 10,
                        time_unix_nano: 100,
                        ..Default::default()
                    },
                    SummaryDataPoint {
                        attributes: vec![kv("m", s("POST"))],
                        count: 2,
                        sum: 8.0,
                        time_unix_nano: 100,
                        ..Default::default()
                    },
                ],
            }),
        ),
        m(
            "eh",
            "s",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![
                    ExponentialHistogramDataPoint {
                        attributes: vec![kv("m", s("GET"))],
                        count: 3,
                        sum: Some(3.0),
                        scale: 1,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: 0,
                            bucket_counts: vec![1, 1],
                        }),
                        time_unix_nano: 100,
                        ..Default::default()
                    },
                    ExponentialHistogramDataPoint {
                        attributes: vec![kv("m", s("POST"))],
                        count: 1,
                        sum: Some(1.0),
                        scale: 1,
                        positive: Some(Buckets {
                            offset: 1,
                            bucket_counts: vec![1],
                        }),
                        time_unix_nano: 100,
                        ..Default::default()
                    },
                ],
                aggregation_temporality: 2,
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn attrs(a: &[KeyValue]) -> J {
    ottl::value::map_to_json(a)
}

/// Every metric: name, unit, description, type, temporality, monotonic and points.
fn dump(req: &ExportMetricsServiceRequest) -> Vec<J> {
    let mut out = Vec::new();
    for m in req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        let n = |p: &NumberDataPoint| {
            let v = match p.value {
                Some(number_data_point::Value::AsInt(i)) => json!(i),
                Some(number_data_point::Value::AsDouble(d)) => json!(d),
                None => J::Null,
            };
            json!({"attributes": attrs(&p.attributes), "value": v, "start": p.start_time_unix_nano, "time": p.time_unix_nano})
        };
        let (ty, temporality, monotonic, points): (&str, i32, bool, Vec<J>) = match &m.data {
            Some(metric::Data::Sum(x)) => ("sum", x.aggregation_temporality, x.is_monotonic, x.data_points.iter().map(n).collect()),
            Some(metric::Data::Gauge(x)) => ("gauge", 0, false, x.data_points.iter().map(n).collect()),
            Some(metric::Data::Histogram(x)) => ("histogram", x.aggregation_temporality, false, x.data_points.iter().map(|p| json!({"attributes": attrs(&p.attributes), "count": p.count, "sum": p.sum, "buckets": p.bucket_counts, "min": p.min, "max": p.max, "start": p.start_time_unix_nano})).collect()),
            Some(metric::Data::Summary(x)) => ("summary", 0, false, x.data_points.iter().map(|p| json!({"attributes": attrs(&p.attributes), "count": p.count, "sum": p.sum})).collect()),
            Some(metric::Data::ExponentialHistogram(x)) => ("exphistogram", x.aggregation_temporality, false, x.data_points.iter().map(|p| json!({"attributes": attrs(&p.attributes), "count": p.count, "sum": p.sum, "zero_count": p.zero_count, "positive": p.positive.as_ref().map(|b| json!({"offset": b.offset, "counts": b.bucket_counts}))})).collect()),
            None => ("empty", 0, false, Vec::new()),
        };
        out.push(json!({"name": m.name, "unit": m.unit, "description": m.description, "type": ty, "temporality": temporality, "monotonic": monotonic, "points": points}));
    }
    out
}

fn run(ctx: &str, statements: &[&str]) -> Result<Vec<J>, String> {
    let kind = ContextKind::from_name(ctx).ok_or("bad context")?;
    let seq = StatementSeq {
        statements: statements
            .iter()
            .map(|t| Statement::compile(t, kind, PathStyle::Contextual).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        error_mode: ErrorMode::Propagate,
    };
    let mut r = request();
    exec::visit_metrics(&mut r, kind, &mut |c| seq.execute(c))?;
    Ok(dump(&r))
}

/// (context, statements, expectation): `+[...]` the metrics appended after the five of the
/// request; `name:{...}` the keys of the named metric after the run; `!text` an error.
type Case = (&'static str, &'static [&'static str], &'static str);

const CASES: &[Case] = &[
    // extract_sum_metric / extract_count_metric
    ("metric", &[r#"extract_sum_metric(true) where name == "lat""#],
     r#"+[{"name":"lat_sum","unit":"ms","description":"lat desc","type":"sum","temporality":1,"monotonic":true,"points":[{"attributes":{"m":"GET"},"value":30.0,"start":0,"time":100},{"attributes":{"m":"POST"},"value":5.0,"start":0,"time":100}]}]"#),
    ("metric", &[r#"extract_count_metric(false) where name == "lat""#],
     r#"+[{"name":"lat_count","unit":"1","type":"sum","temporality":1,"monotonic":false,"points":[{"attributes":{"m":"GET"},"value":3,"start":0,"time":100},{"attributes":{"m":"POST"},"value":1,"start":0,"time":100}]}]"#),
    ("metric", &[r#"extract_sum_metric(false, "_total") where name == "rpc""#],
     r#"+[{"name":"rpc_total","unit":"ms","temporality":2,"monotonic":false,"points":[{"attributes":{"m":"GET"},"value":40.0,"start":10,"time":100},{"attributes":{"m":"POST"},"value":8.0,"start":0,"time":100}]}]"#),
    ("metric", &[r#"extract_count_metric(true) where name == "eh""#],
     r#"+[{"name":"eh_count","unit":"1","temporality":2,"monotonic":true,"points":[{"attributes":{"m":"GET"},"value":3,"start":0,"time":100},{"attributes":{"m":"POST"},"value":1,"start":0,"time":100}]}]"#),
    ("metric", &[r#"extract_count_metric(true, suffix=".n") where name == "rpc""#],
     r#"+[{"name":"rpc.n","temporality":2,"points":[{"attributes":{"m":"GET"},"value":4,"start":10,"time":100},{"attributes":{"m":"POST"},"value":2,"start":0,"time":100}]}]"#),
    ("metric", &[r#"extract_sum_metric(true) where name == "req""#],
     "!extract_sum_metric requires an input metric of type Histogram, ExponentialHistogram or Summary, got Sum"),
    ("metric", &[r#"extract_count_metric(true) where name == "temp""#],
     "!extract_count_metric requires an input metric of type Histogram, ExponentialHistogram or Summary, got Gauge"),
    // the new metric is visited by the statements in turn
    ("metric", &[r#"extract_count_metric(true) where name == "lat""#, r#"copy_metric(name="again") where name == "lat_count""#],
     r#"+[{"name":"lat_count"},{"name":"again","unit":"1","type":"sum"}]"#),
    // copy_metric
    ("metric", &[r#"copy_metric(name="req_copy") where name == "req""#],
     r#"+[{"name":"req_copy","unit":"1","description":"req desc","type":"sum","temporality":2,"monotonic":true,"points":[{"attributes":{"method":"GET","code":200},"value":10,"start":50,"time":100},{"attributes":{"method":"GET","code":500},"value":5,"start":40,"time":100},{"attributes":{"method":"POST","code":200},"value":7,"start":50,"time":100}]}]"#),
    ("metric", &[r#"copy_metric(name="t2", description="copy", unit="K") where name == "temp""#],
     r#"+[{"name":"t2","description":"copy","unit":"K","type":"gauge"}]"#),
    ("metric", &[r#"copy_metric(name=Concat([name, "2"], "")) where name == "temp""#],
     r#"+[{"name":"temp2","unit":"Cel"}]"#),
    ("metric", &[r#"copy_metric(name="eh2", unit="x") where name == "eh""#],
     r#"+[{"name":"eh2","unit":"x","type":"exphistogram"}]"#),
    ("metric", &[r#"copy_metric() where name == "temp""#], "!appended more than"),
    ("metric", &[r#"copy_metric(name=attributes["nope"]) where name == "temp""#], "!"),
    // aggregate_on_attributes
    ("metric", &[r#"aggregate_on_attributes("sum", ["method"]) where name == "req""#],
     r#"req:{"type":"sum","temporality":2,"monotonic":true,"points":[{"attributes":{"method":"GET"},"value":15,"start":40,"time":100},{"attributes":{"method":"POST"},"value":7,"start":50,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("max") where name == "temp""#],
     r#"temp:{"points":[{"attributes":{"room":"a"},"value":24.0,"start":0,"time":100},{"attributes":{"room":"b"},"value":22.0,"start":0,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("min", []) where name == "temp""#],
     r#"temp:{"points":[{"attributes":{},"value":20.0,"start":0,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("mean", []) where name == "temp""#],
     r#"temp:{"points":[{"attributes":{},"value":22.0,"start":0,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("median", []) where name == "temp""#],
     r#"temp:{"points":[{"attributes":{},"value":22.0,"start":0,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("median", ["nope"]) where name == "req""#],
     r#"req:{"points":[{"attributes":{},"value":7,"start":40,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("count", []) where name == "temp""#],
     r#"temp:{"points":[{"attributes":{},"value":3.0,"start":0,"time":100}]}"#),
    // a group of one keeps its value under "count", as in Go
    ("metric", &[r#"aggregate_on_attributes("count", ["method"]) where name == "req""#],
     r#"req:{"points":[{"attributes":{"method":"GET"},"value":2,"start":40,"time":100},{"attributes":{"method":"POST"},"value":7,"start":50,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("mean", ["code"]) where name == "req""#],
     r#"req:{"points":[{"attributes":{"code":200},"value":8,"start":50,"time":100},{"attributes":{"code":500},"value":5,"start":40,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attributes("sum", []) where name == "lat""#],
     r#"lat:{"type":"histogram","temporality":1,"points":[{"attributes":{},"count":4,"sum":35.0,"buckets":[2,2],"min":1.0,"max":20.0,"start":0}]}"#),
    ("metric", &[r#"aggregate_on_attributes("sum", []) where name == "eh""#],
     r#"eh:{"points":[{"attributes":{},"count":4,"sum":4.0,"zero_count":1,"positive":{"offset":0,"counts":[1,2]}}]}"#),
    ("metric", &[r#"aggregate_on_attributes("sum") where name == "rpc""#],
     "!aggregate_on_attributes does not support aggregating Summary metrics"),
    // a delta sum groups by start time too
    ("metric", &[r#"set(aggregation_temporality, AGGREGATION_TEMPORALITY_DELTA) where name == "req""#, r#"aggregate_on_attributes("sum", ["method"]) where name == "req""#],
     r#"req:{"temporality":1,"points":[{"attributes":{"method":"GET"},"value":10,"start":50,"time":100},{"attributes":{"method":"GET"},"value":5,"start":40,"time":100},{"attributes":{"method":"POST"},"value":7,"start":50,"time":100}]}"#),
    // aggregate_on_attribute_value
    ("metric", &[r#"aggregate_on_attribute_value("sum", "method", ["GET", "POST"], "ANY") where name == "req""#],
     r#"req:{"points":[{"attributes":{"method":"ANY","code":200},"value":17,"start":50,"time":100},{"attributes":{"method":"ANY","code":500},"value":5,"start":40,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attribute_value("max", "room", ["a"], "x") where name == "temp""#],
     r#"temp:{"points":[{"attributes":{"room":"x"},"value":24.0,"start":0,"time":100},{"attributes":{"room":"b"},"value":22.0,"start":0,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attribute_value("sum", "nope", ["a"], "x") where name == "temp""#],
     r#"temp:{"points":[{"attributes":{"room":"a"},"value":44.0,"start":0,"time":100},{"attributes":{"room":"b"},"value":22.0,"start":0,"time":100}]}"#),
    ("metric", &[r#"aggregate_on_attribute_value("sum", "m", ["GET"], "x") where name == "rpc""#],
     r#"rpc:{"type":"summary","points":[]}"#),
    // convert_summary_*_val_to_sum: one new metric per summary point
    ("datapoint", &[r#"convert_summary_count_val_to_sum("delta", true) where metric.name == "rpc""#],
     r#"+[{"name":"rpc_count","unit":"ms","type":"sum","temporality":1,"monotonic":true,"points":[{"attributes":{"m":"GET"},"value":4,"start":10,"time":100},{"attributes":{"m":"POST"},"value":2,"start":0,"time":100}]},{"name":"rpc_count","points":[{"attributes":{"m":"GET"},"value":4,"start":10,"time":100},{"attributes":{"m":"POST"},"value":2,"start":0,"time":100}]}]"#),
    ("datapoint", &[r#"convert_summary_sum_val_to_sum("cumulative", false, "_s") where metric.name == "rpc" and attributes["m"] == "GET""#],
     r#"+[{"name":"rpc_s","temporality":2,"monotonic":false,"points":[{"attributes":{"m":"GET"},"value":40.0,"start":10,"time":100},{"attributes":{"m":"POST"},"value":8.0,"start":0,"time":100}]}]"#),
    ("datapoint", &[r#"convert_summary_sum_val_to_sum("delta", true)"#],
     r#"+[{"name":"rpc_sum"},{"name":"rpc_sum"}]"#),
    ("datapoint", &[r#"convert_summary_count_val_to_sum("delta", true) where metric.name == "req""#], "+[]"),
    // load errors
    ("datapoint", &[r#"convert_summary_sum_val_to_sum("bad", true)"#], "!unknown aggregation temporality: bad"),
    ("metric", &[r#"aggregate_on_attributes("avg")"#], "!invalid aggregation function"),
    ("metric", &[r#"aggregate_on_attribute_value("sum", "a", ["b"])"#], "!incorrect number of arguments"),
    ("datapoint", &[r#"copy_metric()"#], "!only available in the metric context"),
    ("datapoint", &[r#"extract_sum_metric(true)"#], "!only available in the metric context"),
    ("metric", &[r#"convert_summary_count_val_to_sum("delta", true)"#], "!only available in the datapoint context"),
    ("metric", &[r#"extract_sum_metric("yes")"#], "!must be a bool literal"),
];

#[test]
fn metric_functions_table() {
    let base = dump(&request());
    let mut failures = Vec::new();
    for (i, (ctx, statements, want)) in CASES.iter().enumerate() {
        let got = run(ctx, statements);
        let ok = if let Some(frag) = want.strip_prefix('!') {
            matches!(&got, Err(e) if e.contains(frag))
        } else if let Some(added) = want.strip_prefix('+') {
            let exp: J = serde_json::from_str(added).expect("expectation");
            match &got {
                Ok(g) if g.len() == base.len() + exp.as_array().map_or(0, Vec::len) => {
                    g[..base.len()].iter().zip(&base).all(|(a, b)| a == b)
                        && g[base.len()..]
                            .iter()
                            .zip(exp.as_array().into_iter().flatten())
                            .all(|(g, e)| subset(g, e))
                }
                _ => false,
            }
        } else {
            let (name, keys) = want.split_once(':').expect("name:{...}");
            let exp: J = serde_json::from_str(keys).expect("expectation");
            match &got {
                Ok(g) => {
                    g.len() == base.len() && g.iter().any(|m| m["name"] == name && subset(m, &exp))
                }
                _ => false,
            }
        };
        if !ok {
            failures.push(format!(
                "case {i} {statements:?}: want {want}\n  got {}",
                match &got {
                    Ok(g) => serde_json::to_string(g).unwrap_or_default(),
                    Err(e) => e.clone(),
                }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn subset(got: &J, exp: &J) -> bool {
    exp.as_object()
        .is_some_and(|o| o.iter().all(|(k, v)| &got[k] == v))
}
