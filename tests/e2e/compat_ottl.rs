//! OTTL against the Go collector: the same `transform` and `filter` configs and input through
//! Go's `transformprocessor` and `filterprocessor` (v0.155.0) and through Ferrotel, outputs
//! compared by the differential harness of `compat.rs`.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

use crate::compat::{b, compare, d, i, resource, s, scope, Case, Input, T0};

const OTTL: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  filter/ottl:
    error_mode: ignore
    traces:
      span:
        - 'attributes["http.route"] == "/healthz"'
        - 'kind == SPAN_KIND_INTERNAL and name == "noise"'
      spanevent:
        - 'name == "debug"'
    metrics:
      metric:
        - 'IsMatch(name, "^debug\\.")'
      datapoint:
        - 'attributes["method"] == "OPTIONS"'
    logs:
      log_record:
        - 'severity_number < SEVERITY_NUMBER_INFO and severity_number != SEVERITY_NUMBER_UNSPECIFIED'
  filter/inferred:
    log_conditions:
      - 'IsMatch(log.body, "^drop me")'
  transform:
    error_mode: ignore
    trace_statements:
      - context: resource
        statements:
          - set(attributes["deployment.environment"], "prod") where attributes["deployment.environment"] == nil
          - delete_key(attributes, "process.command_line")
      - context: span
        statements:
          - set(attributes["service"], resource.attributes["service.name"])
          - set(name, Concat([attributes["http.method"], attributes["http.route"]], " ")) where attributes["http.route"] != nil
          - set(status.code, STATUS_CODE_ERROR) where attributes["http.status_code"] >= 500
          - replace_pattern(attributes["db.statement"], "\\d+", "?")
          - replace_match(attributes["http.target"], "/user/*/cart", "/user/{id}/cart")
          - truncate_all(attributes, 16)
          - limit(attributes, 6, ["service"])
          - set(attributes["duration_ms"], (end_time_unix_nano - start_time_unix_nano) / 1000000)
          - set(attributes["root"], IsRootSpan())
          - set(attributes["trace"], trace_id.string)
          - set(attributes["kind"], kind.string)
      - context: spanevent
        statements:
          - set(attributes["span"], span.name)
    metric_statements:
      - context: metric
        statements:
          - set(description, "HTTP requests") where name == "http.requests"
          - set(unit, "s") where type == METRIC_DATA_TYPE_GAUGE
      - context: datapoint
        statements:
          - set(attributes["method"], ToLowerCase(attributes["method"]))
          - set(value_int, value_int * 10) where metric.name == "http.requests"
          - set(value_double, value_double + 0.5) where metric.type == METRIC_DATA_TYPE_GAUGE
    log_statements:
      - context: log
        statements:
          - merge_maps(attributes, ParseJSON(body), "upsert") where IsMatch(body, "^\\{")
          - set(severity_text, attributes["level"]) where attributes["level"] != nil
          - set(attributes["words"], Split(body, " ")) where not IsMatch(body, "^\\{")
          - set(attributes["hash"], SHA256(attributes["user"])) where attributes["user"] != nil
          - delete_matching_keys(attributes, "^tmp\\.")
          - keep_keys(attributes, ["level", "user", "words", "hash", "count", "nested", "kv", "parsed"])
          - set(attributes["kv"], ParseKeyValue("a=1 b=2")) where severity_number == SEVERITY_NUMBER_WARN
          - set(attributes["parsed"], ExtractPatterns(body, "^(?P<verb>\\w+) (?P<obj>\\w+)")) where severity_number == SEVERITY_NUMBER_WARN
          - flatten(attributes) where attributes["nested"] != nil
          - set(body, ConvertCase(body, "upper")) where severity_number == SEVERITY_NUMBER_ERROR
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter/ottl, transform]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [filter/ottl, transform]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [filter/ottl, filter/inferred, transform]
      exporters: [otlp]
"#;

fn sv(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn ottl_input() -> Input {
    let span = |n: u8, name: &str, kind: i32, attrs| Span {
        trace_id: vec![n; 16],
        span_id: vec![n; 8],
        parent_span_id: if n.is_multiple_of(2) {
            vec![n + 1; 8]
        } else {
            Vec::new()
        },
        name: name.into(),
        kind,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + u64::from(n) * 7_000_000,
        attributes: attrs,
        events: vec![
            span::Event {
                name: "debug".into(),
                time_unix_nano: T0,
                ..Default::default()
            },
            span::Event {
                name: "exception".into(),
                time_unix_nano: T0,
                attributes: vec![s("exception.type", "E")],
                ..Default::default()
            },
        ],
        status: Some(Status::default()),
        ..Default::default()
    };
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(vec![
                s("service.name", "checkout"),
                s("process.command_line", "run --secret"),
            ]),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![
                    span(
                        1,
                        "h",
                        2,
                        vec![s("http.method", "GET"), s("http.route", "/healthz")],
                    ),
                    span(
                        2,
                        "handler",
                        2,
                        vec![
                            s("http.method", "POST"),
                            s("http.route", "/cart"),
                            i("http.status_code", 503),
                            s("http.target", "/user/42/cart"),
                        ],
                    ),
                    span(
                        3,
                        "query",
                        3,
                        vec![
                            s("db.statement", "SELECT * FROM t WHERE id = 42 AND n = 7"),
                            s("a", "1"),
                            s("b", "2"),
                            s("c", "3"),
                            s("d", "4"),
                            s("e", "a very long value indeed"),
                        ],
                    ),
                    span(4, "noise", 1, vec![b("x", true)]),
                    span(5, "calc", 1, vec![d("ratio", 0.25)]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let pt = |m: &str, v: i64| NumberDataPoint {
        attributes: vec![s("method", m)],
        time_unix_nano: T0,
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![s("service.name", "checkout")]),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    Metric {
                        name: "http.requests".into(),
                        unit: "1".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![pt("GET", 3), pt("OPTIONS", 1), pt("POST", 2)],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "debug.internal".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![pt("GET", 1)],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "temperature".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![s("method", "SENSOR")],
                                time_unix_nano: T0,
                                value: Some(number_data_point::Value::AsDouble(20.25)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "only.options".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![pt("OPTIONS", 9)],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let rec = |sev: i32, body: &str| LogRecord {
        time_unix_nano: T0,
        severity_number: sev,
        body: sv(body),
        attributes: vec![s("tmp.x", "1"), s("keep", "no")],
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(vec![s("service.name", "checkout")]),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    rec(5, "debug noise"),
                    rec(
                        9,
                        r#"{"level":"info","user":"ann","count":3,"nested":{"a":{"b":1}}}"#,
                    ),
                    rec(13, "open file now"),
                    rec(17, "failed hard"),
                    rec(0, "drop me please"),
                    rec(0, "no severity"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Input::Grpc(vec![traces], vec![metrics], vec![logs])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_transform_and_filter_act_alike() {
    compare(Case {
        name: "ottl_transform_filter",
        config: OTTL,
        files: &[],
        input: ottl_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// More converters and editors on logs, and the metric functions, through both.
const OTTL_FUNCTIONS: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  transform:
    error_mode: ignore
    log_statements:
      - context: log
        statements:
          - set(attributes["concat_nil"], Concat(["a", attributes["missing"], 1, 2.5, true], "|"))
          - set(attributes["snake"], ConvertCase("HTTPServerError inCase", "snake"))
          - set(attributes["camel"], ConvertCase("http_server-error", "camel"))
          - set(attributes["int"], Int("42"))
          - set(attributes["int_f"], Int(3.9))
          - set(attributes["dbl"], Double("2.5"))
          - set(attributes["str"], String(12))
          - set(attributes["sub"], Substring("abcdef", 1, 3))
          - set(attributes["fmt"], Format("%s-%d-%v", ["x", 7, true]))
          - set(attributes["hex"], Hex(0xabcd))
          - set(attributes["fnv"], FNV("hello"))
          - set(attributes["sha1"], SHA1("hello"))
          - set(attributes["md5"], MD5("hello"))
          - set(attributes["kv"], ParseKeyValue("a=1 b=\"two words\" c=x=y"))
          - set(attributes["len"], Len("héllo"))
          - set(attributes["split"], Split("a,,b", ","))
          - set(attributes["time"], UnixMilli(Time("2024-05-01 10:00:00.123", "%Y-%m-%d %H:%M:%S.%L")))
          - set(attributes["trim"], Trim("  x "))
          - set(attributes["upper"], ToUpperCase(body))
          - set(attributes["is"], IsString(body))
          - 'set(attributes["keys"], Keys({"b": 1, "a": 2}))'
          - set(attributes["idx"], Index("hello", "l"))
          - set(attributes["bool"], Bool("T"))
          - set(attributes["math"], (7 / 2) * 2 + 1.5)
          - 'set(attributes["nested"], {"a": {"b": [1, {"c": 2}]}})'
          - flatten(attributes["nested"], "p", 2)
          - append(attributes["list"], values=["x", 1])
          - append(attributes["list"], "y")
          - 'merge_maps(attributes, {"int": 0, "new": "n"}, "insert")'
          - replace_all_patterns(attributes, "key", "^s(.*)$", "S$1")
          - replace_all_matches(attributes, "*llo*", "globbed")
          - truncate_all(attributes, 12)
          - set(attributes["after_limit"], true)
      - context: log
        statements:
          - limit(attributes, 30, ["after_limit"])
          - delete_matching_keys(attributes, "^md")
    metric_statements:
      - context: metric
        statements:
          - convert_sum_to_gauge() where name == "requests"
          - scale_metric(1000.0, "ms") where name == "latency"
          - convert_gauge_to_sum("delta", true) where name == "queue"
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [transform]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [transform]
      exporters: [otlp]
"#;

fn functions_input() -> Input {
    use opentelemetry_proto::tonic::metrics::v1::{Histogram, HistogramDataPoint};
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(vec![s("service.name", "fn")]),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![LogRecord {
                    time_unix_nano: T0,
                    severity_number: 9,
                    body: sv("hello world"),
                    trace_id: vec![0xab; 16],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let pt = |v: i64| NumberDataPoint {
        time_unix_nano: T0,
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![s("service.name", "fn")]),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    Metric {
                        name: "requests".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![pt(5)],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "queue".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![pt(3)],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: T0,
                                count: 3,
                                sum: Some(0.75),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![0.5],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Input::Grpc(vec![], vec![metrics], vec![logs])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_ottl_functions_act_alike() {
    compare(Case {
        name: "ottl_functions",
        config: OTTL_FUNCTIONS,
        files: &[],
        input: functions_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// The legacy filter forms and the dropped-item counters, through both.
const FILTER_LEGACY: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  filter/spans:
    spans:
      exclude:
        match_type: regexp
        span_names: ['^h$', 'noise']
  filter/logs:
    logs:
      include:
        severity_number: {min: INFO, match_undefined: false}
  filter/metrics:
    metrics:
      exclude:
        match_type: strict
        metric_names: [debug.internal]
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter/spans]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [filter/metrics]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [filter/logs]
      exporters: [otlp]
"#;

/// The `otelcol_processor_filter_*` series: name and label set → value.
fn filter_series(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = text
        .lines()
        .filter(|l| l.starts_with("otelcol_processor_filter_"))
        .filter_map(|l| {
            l.rsplit_once(' ')
                .map(|(s, v)| (s.to_string(), v.to_string()))
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_filter_legacy_forms_and_counters_act_alike() {
    let case = Case {
        name: "ottl_filter_legacy",
        config: FILTER_LEGACY,
        files: &[],
        input: ottl_input(),
        wait_for: 0,
        scrape: true,
        scrape_url: None,
    };
    let (go, fe) = crate::compat::run_both(&case).await;
    let fe = fe.unwrap_or_else(|e| panic!("{e}"));
    let go_names = crate::compat::own_metric_names(&go.own_metrics);
    let fe_names = crate::compat::own_metric_names(&fe.own_metrics);
    let pick = |m: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>| {
        m.iter()
            .filter(|(k, _)| k.starts_with("otelcol_processor_filter_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert!(
        !pick(&go_names).is_empty(),
        "Go served no filter counter:\n{}",
        go.own_metrics
    );
    assert_eq!(pick(&go_names), pick(&fe_names), "names and labels");
    let strip = |v: Vec<(String, String)>| -> Vec<(String, String)> {
        // the label values that name the collector build differ; keep the filter's own
        v.into_iter()
            .map(|(s, v)| {
                let name = s.split('{').next().unwrap_or("").to_string();
                let filter = s
                    .split("filter=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or("")
                    .to_string();
                (format!("{name} {filter}"), v)
            })
            .collect()
    };
    assert_eq!(
        strip(filter_series(&go.own_metrics)),
        strip(filter_series(&fe.own_metrics)),
        "values"
    );
    compare(Case {
        name: "ottl_filter_legacy",
        config: FILTER_LEGACY,
        files: &[],
        input: ottl_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// Comparisons, nested writes, hashing replacements, span events and the inferred form with
/// conditions, through both.
const OTTL_SEMANTICS: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  filter/events:
    error_mode: ignore
    traces:
      resource:
        - 'attributes["drop"] == true'
      spanevent:
        - 'IsMatch(name, "^debug") or attributes["level"] == "trace"'
  transform:
    error_mode: ignore
    trace_statements:
      - context: span
        conditions:
          - 'kind != SPAN_KIND_INTERNAL'
        statements:
          - set(attributes["nested"]["a"]["b"], 1)
          - set(attributes["cmp_int_float"], true) where attributes["http.status_code"] == 503.0
          - set(attributes["cmp_str_int"], true) where attributes["http.status_code"] == "503"
          - set(attributes["cmp_nil"], true) where attributes["missing"] != nil
          - set(attributes["cmp_order"], true) where name < "m"
          - set(attributes["is_match_int"], IsMatch(attributes["http.status_code"], "^5"))
          - replace_pattern(attributes["http.target"], "/user/(\\d+)", "/user/$1", SHA256, "h:%s")
          - set(cache["n"], Len(attributes))
          - set(attributes["n"], cache["n"])
          - set(attributes["copy"], attributes["nested"])
          - delete_key(attributes["nested"]["a"], "b")
          - keep_matching_keys(attributes, "^(cmp|is_|n$|copy|nested|http)")
      - 'set(spanevent.attributes["idx"], spanevent.event_index) where spanevent.name != "x"'
    log_statements:
      - set(log.attributes["body_string"], log.body.string)
      - set(log.attributes["sev"], log.severity_number) where log.severity_number >= SEVERITY_NUMBER_WARN
      - 'set(log.attributes["t"], UnixSeconds(Time("2024-05-01T12:00:00+0200", "%Y-%m-%dT%H:%M:%S%z")))'
      - set(log.attributes["l"], Split(log.attributes["csv"], ","))
      - set(log.attributes["l"][9], "x")
      - limit(log.attributes, 3, ["csv"])
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter/events, transform]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [transform]
      exporters: [otlp]
"#;

fn semantics_input() -> Input {
    let Input::Grpc(mut traces, _, _) = ottl_input() else {
        unreachable!("grpc input")
    };
    let rs = &mut traces[0].resource_spans;
    let mut dropped = rs[0].clone();
    dropped.resource = resource(vec![s("service.name", "gone"), b("drop", true)]);
    rs.push(dropped);
    for sp in &mut rs[0].scope_spans[0].spans {
        sp.events.push(span::Event {
            name: "verbose".into(),
            attributes: vec![s("level", "trace")],
            ..Default::default()
        });
        sp.events.push(span::Event {
            name: "debug.extra".into(),
            ..Default::default()
        });
    }
    let rec = |sev: i32, body: Option<AnyValue>, csv: &str| LogRecord {
        time_unix_nano: T0,
        severity_number: sev,
        body,
        attributes: vec![s("csv", csv), i("n", 1), d("x", 0.5), s("y", "z")],
        ..Default::default()
    };
    let map_body = AnyValue {
        value: Some(any_value::Value::KvlistValue(
            opentelemetry_proto::tonic::common::v1::KeyValueList {
                values: vec![s("k", "v"), i("n", 2)],
            },
        )),
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(vec![s("service.name", "sem")]),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    rec(13, sv("plain"), "a,b"),
                    rec(9, Some(map_body), "c"),
                    rec(17, None, ""),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Input::Grpc(traces, vec![], vec![logs])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_ottl_semantics_act_alike() {
    compare(Case {
        name: "ottl_semantics",
        config: OTTL_SEMANTICS,
        files: &[],
        input: semantics_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// The transform processor's metric functions, in both the metric and the data point
/// context, and `URL`.
const METRIC_FUNCTIONS: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  transform:
    error_mode: ignore
    metric_statements:
      - context: metric
        statements:
          - extract_sum_metric(true) where name == "latency"
          - extract_count_metric(false) where name == "latency"
          - extract_count_metric(true, ".n") where name == "rpc"
          - extract_sum_metric(false) where name == "spread"
          - copy_metric(name="requests.copy", unit="req") where name == "requests"
          - aggregate_on_attributes("sum", ["method"]) where name == "requests"
          - aggregate_on_attributes("count", ["method"]) where name == "requests.copy"
          - aggregate_on_attributes("max") where name == "temp"
          - aggregate_on_attribute_value("mean", "room", ["a", "b"], "ab") where name == "temp2"
          - aggregate_on_attributes("sum", []) where name == "latency"
          - aggregate_on_attributes("sum", []) where name == "spread"
          - aggregate_on_attributes("sum") where name == "rpc"
      - context: datapoint
        statements:
          - convert_summary_count_val_to_sum("delta", true) where metric.name == "rpc"
          - convert_summary_sum_val_to_sum("cumulative", false, "_total") where metric.name == "rpc" and attributes["m"] == "GET"
    log_statements:
      - context: log
        statements:
          - set(attributes["u"], URL(body))
          - set(attributes["q"], URL("?a=1&a=2&b=x+y"))
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [transform]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [transform]
      exporters: [otlp]
"#;

fn metric_functions_input() -> Input {
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::metrics::v1::{
        exponential_histogram_data_point::Buckets, ExponentialHistogram,
        ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Summary, SummaryDataPoint,
    };
    let num = |attrs: Vec<KeyValue>, v: number_data_point::Value, start: u64| NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: T0,
        value: Some(v),
        ..Default::default()
    };
    use number_data_point::Value::{AsDouble, AsInt};
    let req = |name: &str| Metric {
        name: name.into(),
        unit: "1".into(),
        description: "requests".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![
                num(vec![s("method", "GET"), i("code", 200)], AsInt(10), T0 - 50),
                num(vec![s("method", "GET"), i("code", 500)], AsInt(5), T0 - 40),
                num(vec![s("method", "POST"), i("code", 200)], AsInt(7), T0 - 50),
            ],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let temp = |name: &str| Metric {
        name: name.into(),
        unit: "Cel".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![
                num(vec![s("room", "a")], AsDouble(20.0), 0),
                num(vec![s("room", "b")], AsDouble(23.0), 0),
                num(vec![s("room", "a")], AsDouble(24.0), 0),
                num(vec![s("room", "c")], AsDouble(1.0), 0),
            ],
        })),
        ..Default::default()
    };
    let hist =
        |m: &str, count: u64, sum: f64, buckets: Vec<u64>, min: f64, max: f64| HistogramDataPoint {
            attributes: vec![s("m", m)],
            start_time_unix_nano: T0 - 10,
            time_unix_nano: T0,
            count,
            sum: Some(sum),
            bucket_counts: buckets,
            explicit_bounds: vec![10.0],
            min: Some(min),
            max: Some(max),
            ..Default::default()
        };
    let exp = |m: &str, count: u64, zero: u64, offset: i32, counts: Vec<u64>| {
        ExponentialHistogramDataPoint {
            attributes: vec![s("m", m)],
            start_time_unix_nano: T0 - 10,
            time_unix_nano: T0,
            count,
            sum: Some(count as f64),
            scale: 1,
            zero_count: zero,
            positive: Some(Buckets {
                offset,
                bucket_counts: counts,
            }),
            ..Default::default()
        }
    };
    let summary = |m: &str, count: u64, sum: f64| SummaryDataPoint {
        attributes: vec![s("m", m)],
        start_time_unix_nano: T0 - 10,
        time_unix_nano: T0,
        count,
        sum,
        ..Default::default()
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![s("service.name", "mf")]),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    req("requests"),
                    temp("temp"),
                    temp("temp2"),
                    Metric {
                        name: "latency".into(),
                        unit: "ms".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![
                                hist("GET", 3, 30.0, vec![1, 2], 1.0, 20.0),
                                hist("POST", 1, 5.0, vec![1, 0], 5.0, 5.0),
                            ],
                            aggregation_temporality: 1,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "spread".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![
                                exp("GET", 3, 1, 0, vec![1, 1]),
                                exp("POST", 1, 0, 1, vec![1]),
                            ],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "rpc".into(),
                        unit: "ms".into(),
                        data: Some(metric::Data::Summary(Summary {
                            data_points: vec![summary("GET", 4, 40.0), summary("POST", 2, 8.0)],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let log = |body: &str| LogRecord {
        time_unix_nano: T0,
        body: sv(body),
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(vec![s("service.name", "mf")]),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    log("http://user:pw@www.example.com:8080/a/b.tar.gz?x=1&y=2#frag"),
                    log("https://example.com"),
                    log("HTTP://[::1]:9/p%20q"),
                    log("mailto:someone@example.com"),
                    log("http://h:bad/"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Input::Grpc(vec![], vec![metrics], vec![logs])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_metric_functions_act_alike() {
    compare(Case {
        name: "ottl_metric_functions",
        config: METRIC_FUNCTIONS,
        files: &[],
        input: metric_functions_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}
