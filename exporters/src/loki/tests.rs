//! The `loki` exporter's tests: config, labels, lines, and pushes to an in-process HTTP
//! server on 127.0.0.1 port 0 whose bodies are decoded as Loki decodes them (snappy block
//! format, then `logproto.PushRequest` declared here independently of `push.rs`, then the
//! label text parsed strictly).

use pipeline_api::ComponentConfig;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use pipeline_api::config::{parse_typed, ConfigError, ConfigValue};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{
    Batch, BuildContext, ComponentId, ComponentKind, ErrorKind, Exporter, RequestContext, Signal,
};
use prost::Message;

use super::labels::{go_quote, CardinalityGuard};
use super::*;
use crate::common::testutil::{http_server, kv, str_kv, HttpRecorder, HttpReply, LogCapture};

// ------------------------------------------------------------------------------ Loki side

/// `logproto` as Loki declares it in `pkg/push/push.proto`.
mod logproto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
        #[prost(string, tag = "2")]
        pub format: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Ts>,
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<Pair>,
        #[prost(message, repeated, tag = "4")]
        pub parsed: Vec<Pair>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Pair {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Ts {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// A label set as Loki's parser reads `{name="value", ...}`: valid names, Go-quoted values,
/// no duplicates, at least one pair.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("not a label set: {text}"))?;
    let mut out = BTreeMap::new();
    let mut rest = inner.trim_start();
    if rest.is_empty() {
        return Err("error at least one label pair is required per stream".into());
    }
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or("missing =")?;
        let name = rest[..eq].trim();
        if !super::config::is_valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        rest = &rest[eq + 1..];
        let mut chars = rest.char_indices();
        if chars.next().map(|c| c.1) != Some('"') {
            return Err("value not quoted".into());
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '"' => value.push('"'),
                    '\\' => value.push('\\'),
                    'x' => {
                        let h: String = (0..2).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        value.push(u8::from_str_radix(&h, 16).map_err(|e| e.to_string())? as char);
                    }
                    other => return Err(format!("escape \\{other}")),
                },
                c => value.push(c),
            }
        }
        let end = end.ok_or("unterminated value")?;
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("duplicate label {name}"));
        }
        rest = rest[end..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("garbage after value: {rest}"));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
struct Entry {
    ns: i128,
    line: String,
    metadata: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Stream {
    labels: BTreeMap<String, String>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Pushed {
    headers: http::HeaderMap,
    streams: Vec<Stream>,
}

/// Every push the server received, decoded as Loki does.
fn pushes(rec: &HttpRecorder) -> Vec<Pushed> {
    rec.take()
        .into_iter()
        .map(|r| {
            let raw = snap::raw::Decoder::new()
                .decompress_vec(&r.body)
                .expect("snappy block format");
            let req = logproto::PushRequest::decode(raw.as_slice()).expect("logproto.PushRequest");
            let streams = req
                .streams
                .into_iter()
                .map(|s| Stream {
                    labels: parse_labels(&s.labels).unwrap(),
                    entries: s
                        .entries
                        .into_iter()
                        .map(|e| {
                            let ts = e.timestamp.expect("every entry has a timestamp");
                            Entry {
                                ns: ts.seconds as i128 * 1_000_000_000 + ts.nanos as i128,
                                line: e.line,
                                metadata: e
                                    .structured_metadata
                                    .into_iter()
                                    .map(|p| (p.name, p.value))
                                    .collect(),
                            }
                        })
                        .collect(),
                })
                .collect();
            Pushed {
                headers: r.headers,
                streams,
            }
        })
        .collect()
}

fn only_push(rec: &HttpRecorder) -> Pushed {
    let mut p = pushes(rec);
    assert_eq!(p.len(), 1, "{p:?}");
    p.remove(0)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ------------------------------------------------------------------------------ helpers

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<Config, Vec<ConfigError>> {
    parse_typed::<Config>(&yaml(s))
}

fn messages(errs: &[ConfigError]) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn exporter_for(endpoint: &str, extra: &str) -> LokiExporter {
    let text = format!("endpoint: {endpoint}\n{extra}");
    let cfg = parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
    let id = ComponentId::parse("loki").unwrap();
    LokiExporter::new(
        id.clone(),
        &cfg,
        &ComponentTelemetry::detached(ComponentKind::Exporter, &id),
        &Default::default(),
    )
    .unwrap()
}

async fn setup(
    extra: &str,
) -> (
    crate::common::testutil::TestServer,
    Arc<HttpRecorder>,
    LokiExporter,
) {
    let (server, rec) = http_server(false).await;
    rec.set_reply(HttpReply {
        status: StatusCode::NO_CONTENT,
        ..Default::default()
    });
    let exp = exporter_for(&format!("http://{}/loki/api/v1/push", server.addr), extra);
    (server, rec, exp)
}

async fn export(exp: &LokiExporter, batch: Batch) -> Result<(), pipeline_api::ConsumeError> {
    tokio::time::timeout(Duration::from_secs(10), exp.export(batch))
        .await
        .expect("export finished in time")
}

fn text(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}

fn rec(time: u64, body: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        body: Some(text(body)),
        attributes: attrs,
        ..Default::default()
    }
}

fn resource_logs(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ResourceLogs {
    ResourceLogs {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: records,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A batch in the wire form, as the receivers hand batches on: the exporter reads its
/// records where they lie (`the_wire_form_translates_as_the_decoded_form` holds that path
/// to the decoded one).
fn batch(rls: Vec<ResourceLogs>) -> Batch {
    let bytes = ExportLogsServiceRequest { resource_logs: rls }.encode_to_vec();
    let b = Batch::decode(Signal::Logs, &bytes, RequestContext::default()).unwrap();
    assert!(!b.is_decoded());
    b
}

fn one(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> Batch {
    batch(vec![resource_logs(resource, records)])
}

const NO_DEFAULTS: &str =
    "default_labels_enabled: {exporter: false, job: false, instance: false, level: false}\n";

// ------------------------------------------------------------------------------ config

#[test]
fn the_confighttp_keys_are_the_shared_clients_with_go_defaults() {
    let c = parse("endpoint: http://loki:3100/loki/api/v1/push").unwrap();
    assert_eq!(c.http.max_idle_conns, 100);
    assert_eq!(c.http.idle_conn_timeout.get(), Duration::from_secs(90));
    let c = parse(
        "endpoint: http://loki:3100/loki/api/v1/push\nmax_idle_conns: 5\nidle_conn_timeout: 10s\n\
         http2_read_idle_timeout: 30s\nforce_attempt_http2: false\ncookies: {enabled: false}",
    )
    .unwrap();
    assert_eq!(c.http.max_idle_conns, 5);
    assert_eq!(c.http.idle_conn_timeout.get(), Duration::from_secs(10));
    assert!(!c.http.force_attempt_http2);
    let errs = parse("endpoint: http://l:3100\nmax_idle_conns: -1\nproxy_url: x").unwrap_err();
    assert_eq!(
        messages(&errs),
        vec![
            "proxy_url: \"x\": the URL must start with http:// or https://",
            "max_idle_conns: must not be negative: -1",
        ]
    );
}

#[test]
fn defaults_validate_and_match_go_create_default_config() {
    let c = parse("endpoint: http://127.0.0.1:3100/loki/api/v1/push").unwrap();
    assert_eq!(
        c.default_labels_enabled,
        DefaultLabelsEnabled {
            exporter: true,
            job: true,
            instance: true,
            level: true
        }
    );
    assert_eq!(c.max_label_count, 15);
    assert_eq!(c.format, LineFormat::Json);
    assert!(c.tenant.is_none());
    assert!(!c.structured_metadata.is_enabled());
    assert_eq!(c.http.write_buffer_size, 512 * 1024);
    assert_eq!(c.cardinality_warning.max_values, 100);
    assert!(c.listen_addresses().is_empty());
    assert_eq!(factory().default_timeout(), Duration::from_secs(30));
    assert_eq!(factory().signals(), &[Signal::Logs]);
    assert_eq!(factory().type_name(), "loki");
    // the runtime owns these: they are not this config's keys
    for key in ["timeout", "retry_on_failure", "sending_queue"] {
        let errs = parse(&format!("{{endpoint: 'http://x:1/p', {key}: {{}}}}")).unwrap_err();
        assert!(errs[0].message.contains("unknown key"), "{errs:?}");
    }
    // a label left out of default_labels_enabled stays on (Go: a missing key counts as true)
    let c = parse("{endpoint: 'http://x:1/p', default_labels_enabled: {exporter: false}}").unwrap();
    assert!(!c.default_labels_enabled.exporter && c.default_labels_enabled.job);
}

#[test]
fn an_empty_config_is_refused_with_the_go_endpoint_message() {
    let errs = parse("").unwrap_err();
    assert_eq!(errs[0].path, vec!["endpoint"]);
    assert!(
        errs[0]
            .message
            .starts_with("\"endpoint\" must be a valid URL"),
        "{errs:?}"
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let errs = parse(
        "{endpoint: 'http://x:1/p', labels: {resorce: {a: b}}, default_labels_enabled: {levle: false}, structured_metadata: {trace_contxt: true}, max_label_cout: 3}",
    )
    .unwrap_err();
    let text = messages(&errs);
    for want in [
        "default_labels_enabled::levle: unknown key \"levle\"; did you mean \"level\"?",
        "labels::resorce: unknown key \"resorce\"; did you mean \"resource\"?",
        "max_label_cout: unknown key \"max_label_cout\"; did you mean \"max_label_count\"?",
        "structured_metadata::trace_contxt: unknown key \"trace_contxt\"; did you mean \"trace_context\"?",
    ] {
        assert!(text.iter().any(|t| t == want), "missing {want:?} in {text:?}");
    }
    let errs = parse("{endpoint: 'http://x:1/p', format: jsn, tenant: {source: header, value: x}}")
        .unwrap_err();
    let text = messages(&errs);
    assert!(
        text.iter()
            .any(|t| t.starts_with("format: invalid value \"jsn\"")
                && t.contains("did you mean \"json\"")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("tenant::source: invalid value \"header\"")),
        "{text:?}"
    );
}

#[test]
fn invalid_values_are_refused_with_paths() {
    let errs = parse(
        "{endpoint: 'ftp://x/p', labels: {attributes: {level: 'bad-name', x: __reserved}, static: {'9job': a, env: ''}}, max_label_count: 0, tenant: {source: context, value: ''}, structured_metadata: {attributes: ['...']}, cardinality_warning: {window: 0s}}",
    )
    .unwrap_err();
    let text = messages(&errs);
    for want in [
        "endpoint: \"ftp://x/p\": the URL must start with http:// or https://",
        "labels::attributes::level: \"bad-name\" is not a valid Loki label name",
        "labels::attributes::x: \"__reserved\": label names starting with \"__\" are reserved",
        "labels::static::9job: \"9job\" is not a valid Loki label name",
        "labels::static::env: a static label needs a value",
        "max_label_count: must be at least 1",
        "tenant::value: must not be empty: write the client metadata key",
        "structured_metadata::attributes::0: \"...\" cannot be made",
        "cardinality_warning::window: must be greater than 0",
    ] {
        assert!(
            text.iter().any(|t| t.starts_with(want)),
            "missing {want:?} in {text:?}"
        );
    }
}

#[tokio::test]
async fn build_and_shutdown_twice() {
    let f = factory();
    let cfg = f
        .parse_config(&yaml("endpoint: http://127.0.0.1:1/loki/api/v1/push"))
        .unwrap();
    for _ in 0..2 {
        let id = ComponentId::parse("loki/x").unwrap();
        let ctx = BuildContext {
            telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
            id,
            signals: vec![Signal::Logs],
            extensions: Default::default(),
            memory: Default::default(),
        };
        let exp = f.build(ctx, cfg.as_ref()).unwrap();
        exp.start().await.unwrap();
        exp.shutdown().await;
    }
    let cfg = f
        .parse_config(&yaml(
            "{endpoint: 'http://127.0.0.1:1/p', auth: {authenticator: basicauth}}",
        ))
        .unwrap();
    let id = ComponentId::parse("loki").unwrap();
    let ctx = BuildContext {
        telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
        id,
        signals: vec![Signal::Logs],
        extensions: Default::default(),
        memory: Default::default(),
    };
    assert!(f.build(ctx, cfg.as_ref()).is_err());
}

// ------------------------------------------------------------------------------ labels

#[tokio::test]
async fn hint_labels_from_resource_and_record_with_dots_turned_into_underscores() {
    let (_s, rec_, exp) = setup(NO_DEFAULTS).await;
    let resource = vec![
        str_kv("service.name", "api"),
        str_kv("service.namespace", "shop"),
        str_kv("host.name", "h1"),
        str_kv("loki.resource.labels", "service.name, service.namespace"),
    ];
    let record = rec(
        1_000,
        "hello",
        vec![
            str_kv("event.domain", "auth"),
            str_kv("user", "bob"),
            str_kv("loki.attribute.labels", "event.domain"),
            // a record can name resource attributes too
            str_kv("loki.resource.labels", "host.name"),
        ],
    );
    export(&exp, one(resource, vec![record])).await.unwrap();
    let p = only_push(&rec_);
    assert_eq!(p.streams.len(), 1);
    assert_eq!(
        p.streams[0].labels,
        labels(&[
            ("event_domain", "auth"),
            ("host_name", "h1"),
            ("service_name", "api"),
            ("service_namespace", "shop"),
        ])
    );
    // promoted attributes and every hint leave the line (Go removeAttributes)
    assert_eq!(
        p.streams[0].entries[0].line,
        r#"{"body":"hello","attributes":{"user":"bob"}}"#
    );
}

#[tokio::test]
async fn hint_as_a_list_and_nested_attribute_paths() {
    let (_s, rec_, exp) = setup(NO_DEFAULTS).await;
    let http_map = kv(
        "http",
        any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                str_kv("method", "GET"),
                kv("status", any_value::Value::IntValue(200)),
            ],
        }),
    );
    let hint = kv(
        "loki.attribute.labels",
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![text("http.method"), text(" http.status "), text("missing")],
        }),
    );
    export(&exp, one(vec![], vec![rec(1, "x", vec![http_map, hint])]))
        .await
        .unwrap();
    let p = only_push(&rec_);
    assert_eq!(
        p.streams[0].labels,
        labels(&[("http_method", "GET"), ("http_status", "200")])
    );
}

#[tokio::test]
async fn config_labels_from_resource_attributes_and_static() {
    let (_s, rec_, exp) = setup(
        "labels:\n  resource: {service.name: service, container.name: container, docker.compose.project: project}\n  attributes: {level: level, log.iostream: stream, k8s.pod.name: }\n  static: {job: docker}\n",
    )
    .await;
    let resource = vec![
        str_kv("service.name", "shop-api"),
        str_kv("container.name", "shop-api-1"),
        str_kv("docker.compose.project", "shop"),
    ];
    let record = LogRecord {
        severity_number: 17,
        ..rec(
            5,
            "boom",
            vec![
                str_kv("level", "error"),
                str_kv("log.iostream", "stderr"),
                str_kv("k8s.pod.name", "p-1"),
                str_kv("request_id", "r-1"),
            ],
        )
    };
    export(&exp, one(resource, vec![record])).await.unwrap();
    let p = only_push(&rec_);
    assert_eq!(
        p.streams[0].labels,
        labels(&[
            ("container", "shop-api-1"),
            ("exporter", "OTLP"),
            // static wins over the default job
            ("job", "docker"),
            // the configured attribute wins over the severity name
            ("level", "error"),
            ("k8s_pod_name", "p-1"),
            ("project", "shop"),
            ("service", "shop-api"),
            ("stream", "stderr"),
        ])
    );
    // config labels take their source attributes out of the line; the rest stays
    assert_eq!(
        p.streams[0].entries[0].line,
        r#"{"body":"boom","attributes":{"request_id":"r-1"}}"#
    );
}

#[tokio::test]
async fn default_labels_exporter_job_instance_level_as_go_sets_them() {
    let (_s, rec_, exp) = setup("").await;
    let full = vec![
        str_kv("service.name", "api"),
        str_kv("service.namespace", "shop"),
        str_kv("service.instance.id", "i-1"),
    ];
    let info = LogRecord {
        severity_number: 9,
        severity_text: "Information".into(),
        ..rec(1, "a", vec![])
    };
    let warn_attr = LogRecord {
        severity_number: 13,
        ..rec(2, "b", vec![str_kv("level", "warning")])
    };
    let text_only = LogRecord {
        severity_text: "notice".into(),
        ..rec(3, "c", vec![])
    };
    let rls = vec![
        resource_logs(full, vec![info, warn_attr]),
        // a namespace without a name gives no job
        resource_logs(vec![str_kv("service.namespace", "shop")], vec![text_only]),
        resource_logs(
            vec![str_kv("service.name", "solo")],
            vec![rec(4, "d", vec![])],
        ),
    ];
    export(&exp, batch(rls)).await.unwrap();
    let p = only_push(&rec_);
    let sets: Vec<BTreeMap<String, String>> = p.streams.iter().map(|s| s.labels.clone()).collect();
    for want in [
        labels(&[
            ("exporter", "OTLP"),
            ("instance", "i-1"),
            ("job", "shop/api"),
            ("level", "INFO"),
        ]),
        labels(&[
            ("exporter", "OTLP"),
            ("instance", "i-1"),
            ("job", "shop/api"),
            ("level", "warning"),
        ]),
        labels(&[("exporter", "OTLP"), ("level", "notice")]),
        labels(&[("exporter", "OTLP"), ("job", "solo")]),
    ] {
        assert!(sets.contains(&want), "missing {want:?} in {sets:?}");
    }
    assert_eq!(sets.len(), 4);
    // the promoted `level` attribute leaves the line
    let warn = p
        .streams
        .iter()
        .find(|s| s.labels.get("level").map(String::as_str) == Some("warning"))
        .unwrap();
    assert_eq!(
        warn.entries[0].line,
        r#"{"body":"b","resources":{"service.instance.id":"i-1","service.name":"api","service.namespace":"shop"}}"#
    );

    // each default can be turned off
    let (_s2, rec2, exp2) =
        setup("default_labels_enabled: {exporter: false, level: false}\n").await;
    let info = LogRecord {
        severity_number: 9,
        ..rec(1, "a", vec![])
    };
    export(&exp2, one(vec![str_kv("service.name", "api")], vec![info]))
        .await
        .unwrap();
    assert_eq!(
        only_push(&rec2).streams[0].labels,
        labels(&[("job", "api")])
    );
}

#[test]
fn severity_numbers_map_to_go_level_names() {
    use super::labels::severity_level;
    assert_eq!(severity_level(0), None);
    assert_eq!(severity_level(1), Some("TRACE"));
    assert_eq!(severity_level(10), Some("INFO2"));
    assert_eq!(severity_level(17), Some("ERROR"));
    assert_eq!(severity_level(24), Some("FATAL4"));
    assert_eq!(severity_level(25), None);
    assert_eq!(severity_level(-3), None);
}

#[test]
fn label_text_is_sorted_and_go_quoted() {
    let l = labels(&[("b", "x\"y\\z\n\t\u{1}é"), ("a", "1")]);
    let s = super::labels::label_string(&l);
    assert_eq!(s, "{a=\"1\", b=\"x\\\"y\\\\z\\n\\t\\x01é\"}");
    assert_eq!(parse_labels(&s).unwrap(), l);
    let mut q = String::new();
    go_quote("\u{7}\u{b}\u{7f}\u{85}", &mut q);
    assert_eq!(q, "\"\\a\\v\\x7f\\u0085\"");
}

// ------------------------------------------------------------------------------ tenant

#[tokio::test]
async fn tenant_from_the_loki_tenant_hint_splits_requests() {
    let (_s, rec_, exp) = setup("").await;
    let rls = vec![
        resource_logs(
            vec![
                str_kv("loki.tenant", "tenant.id"),
                str_kv("tenant.id", "acme"),
            ],
            vec![rec(1, "a", vec![])],
        ),
        // the hint on the record, the value on the record
        resource_logs(
            vec![],
            vec![rec(
                2,
                "b",
                vec![str_kv("loki.tenant", "team"), str_kv("team", "blue")],
            )],
        ),
        resource_logs(vec![], vec![rec(3, "c", vec![])]),
    ];
    export(&exp, batch(rls)).await.unwrap();
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in pushes(&rec_) {
        let tenant = p
            .headers
            .get("x-scope-orgid")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let lines = p
            .streams
            .iter()
            .flat_map(|s| s.entries.iter().map(|e| e.line.clone()))
            .collect();
        assert!(by_tenant.insert(tenant, lines).is_none());
    }
    assert_eq!(
        by_tenant,
        BTreeMap::from([
            (String::new(), vec![r#"{"body":"c"}"#.to_string()]),
            (
                "acme".into(),
                vec![r#"{"body":"a","resources":{"tenant.id":"acme"}}"#.into()]
            ),
            (
                "blue".into(),
                vec![r#"{"body":"b","attributes":{"team":"blue"}}"#.into()]
            ),
        ])
    );
}

#[tokio::test]
async fn tenant_from_static_config_overrides_the_header() {
    let (_s, rec_, exp) = setup(
        "headers: {X-Scope-OrgID: other, X-Extra: yes}\ntenant: {source: static, value: acme}\n",
    )
    .await;
    export(&exp, one(vec![], vec![rec(1, "a", vec![])]))
        .await
        .unwrap();
    let p = only_push(&rec_);
    assert_eq!(p.headers["x-scope-orgid"], "acme");
    assert_eq!(p.headers["x-extra"], "yes");
}

#[tokio::test]
async fn tenant_from_client_metadata_with_source_context() {
    let (_s, rec_, exp) = setup("tenant: {source: context, value: X-Tenant}\n").await;
    let mut b = one(vec![], vec![rec(1, "a", vec![])]);
    b.set_context(RequestContext {
        metadata: vec![("x-tenant".into(), "team-a".into())],
        ..Default::default()
    });
    export(&exp, b).await.unwrap();
    assert_eq!(only_push(&rec_).headers["x-scope-orgid"], "team-a");
    // two values: Go refuses to guess
    let mut b = one(vec![], vec![rec(1, "a", vec![])]);
    b.set_context(RequestContext {
        metadata: vec![
            ("x-tenant".into(), "a".into()),
            ("x-tenant".into(), "b".into()),
        ],
        ..Default::default()
    });
    let err = export(&exp, b).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.message().contains("2 tenant keys found in the context"));
    assert!(pushes(&rec_).is_empty());
}

#[tokio::test]
async fn tenant_from_attributes_per_record() {
    let (_s, rec_, exp) = setup("tenant: {source: attributes, value: org}\n").await;
    let rls = vec![
        resource_logs(
            vec![str_kv("org", "r")],
            vec![rec(1, "a", vec![str_kv("org", "ignored")])],
        ),
        resource_logs(vec![], vec![rec(2, "b", vec![str_kv("org", "rec")])]),
    ];
    export(&exp, batch(rls)).await.unwrap();
    let mut tenants: Vec<String> = pushes(&rec_)
        .iter()
        .map(|p| p.headers["x-scope-orgid"].to_str().unwrap().to_string())
        .collect();
    tenants.sort();
    assert_eq!(tenants, vec!["r", "rec"]);
}

// ------------------------------------------------------------------------------ entries

#[tokio::test]
async fn entries_are_sorted_by_time_within_a_stream() {
    let (_s, rec_, exp) = setup("format: raw\n").await;
    let observed = LogRecord {
        observed_time_unix_nano: 2_500_000_000,
        ..rec(0, "observed", vec![])
    };
    let records = vec![
        rec(3_000_000_001, "third", vec![]),
        rec(1_000_000_000, "first", vec![]),
        observed,
        rec(2_000_000_000, "second-a", vec![]),
        rec(2_000_000_000, "second-b", vec![]),
    ];
    export(&exp, one(vec![str_kv("service.name", "api")], records))
        .await
        .unwrap();
    let p = only_push(&rec_);
    assert_eq!(p.streams.len(), 1);
    let got: Vec<(i128, &str)> = p.streams[0]
        .entries
        .iter()
        .map(|e| (e.ns, e.line.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1_000_000_000, "first"),
            (2_000_000_000, "second-a"),
            (2_000_000_000, "second-b"),
            (2_500_000_000, "observed"),
            (3_000_000_001, "third"),
        ]
    );
    // a record without any time gets now
    let before = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    export(&exp, one(vec![], vec![rec(0, "now", vec![])]))
        .await
        .unwrap();
    let p = only_push(&rec_);
    assert!(p.streams[0].entries[0].ns >= before);
}

#[tokio::test]
async fn structured_metadata_from_attributes_and_trace_context() {
    let (_s, rec_, exp) = setup(
        "structured_metadata: {attributes: [request_id, http.route, deployment.environment, absent], trace_context: true}\n",
    )
    .await;
    let record = LogRecord {
        trace_id: vec![0xab; 16],
        span_id: vec![0xcd; 8],
        ..rec(
            1,
            "done",
            vec![str_kv("request_id", "r-42"), str_kv("http.route", "/cart")],
        )
    };
    let plain = rec(2, "no ids", vec![]);
    export(
        &exp,
        one(
            // the record's own attribute wins over the resource's
            vec![
                str_kv("deployment.environment", "prod"),
                str_kv("request_id", "from-resource"),
            ],
            vec![record, plain],
        ),
    )
    .await
    .unwrap();
    let p = only_push(&rec_);
    assert_eq!(p.streams.len(), 1);
    // metadata are not labels
    assert_eq!(p.streams[0].labels, labels(&[("exporter", "OTLP")]));
    let e = &p.streams[0].entries;
    assert_eq!(
        e[0].metadata,
        vec![
            ("request_id".to_string(), "r-42".to_string()),
            ("http_route".into(), "/cart".into()),
            ("deployment_environment".into(), "prod".into()),
            ("trace_id".into(), "ab".repeat(16)),
            ("span_id".into(), "cd".repeat(8)),
        ]
    );
    assert_eq!(
        e[1].metadata,
        vec![
            ("request_id".to_string(), "from-resource".to_string()),
            ("deployment_environment".into(), "prod".into()),
        ]
    );
    // the line is written as without metadata
    assert!(
        e[0].line.contains(r#""request_id":"r-42""#),
        "{}",
        e[0].line
    );
}

// ------------------------------------------------------------------------------ lines

fn golden_record() -> (Vec<KeyValue>, LogRecord, InstrumentationScope) {
    let resource = vec![str_kv("service.name", "api"), str_kv("host.name", "h1")];
    let record = LogRecord {
        time_unix_nano: 1,
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        severity_text: "Info".into(),
        severity_number: 9,
        flags: 1,
        body: Some(text("user <admin> logged in & out")),
        attributes: vec![
            kv("http.status", any_value::Value::IntValue(200)),
            kv("ratio", any_value::Value::DoubleValue(0.5)),
            kv("big", any_value::Value::DoubleValue(1e21)),
            kv(
                "tags",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![
                        text("a"),
                        AnyValue {
                            value: Some(any_value::Value::BoolValue(true)),
                        },
                    ],
                }),
            ),
            kv("blob", any_value::Value::BytesValue(vec![0xff, 0x00])),
            kv(
                "nested",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![
                        str_kv("z", "1"),
                        KeyValue {
                            key: "a".into(),
                            value: None,
                            ..Default::default()
                        },
                    ],
                }),
            ),
        ],
        ..Default::default()
    };
    let scope = InstrumentationScope {
        name: "lib".into(),
        version: "1.0".into(),
        ..Default::default()
    };
    (resource, record, scope)
}

async fn line_of(
    extra: &str,
    resource: Vec<KeyValue>,
    record: LogRecord,
    scope: Option<InstrumentationScope>,
) -> String {
    let (_s, rec_, exp) = setup(extra).await;
    let rl = ResourceLogs {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            scope,
            log_records: vec![record],
            ..Default::default()
        }],
        ..Default::default()
    };
    export(&exp, batch(vec![rl])).await.unwrap();
    only_push(&rec_).streams[0].entries[0].line.clone()
}

#[tokio::test]
async fn json_line_golden_as_the_go_exporter_wrote_it() {
    let (resource, record, scope) = golden_record();
    let line = line_of("", resource, record, Some(scope)).await;
    assert_eq!(
        line,
        concat!(
            r#"{"body":"user \u003cadmin\u003e logged in \u0026 out","#,
            r#""traceid":"01010101010101010101010101010101","spanid":"0202020202020202","#,
            r#""severity":"Info","flags":1,"#,
            r#""attributes":{"big":1e+21,"blob":"/wA=","http.status":200,"nested":{"a":null,"z":"1"},"ratio":0.5,"tags":["a",true]},"#,
            r#""resources":{"host.name":"h1","service.name":"api"},"#,
            r#""instrumentation_scope":{"name":"lib","version":"1.0"}}"#
        )
    );
    // a map body is written as JSON; an empty body and empty maps are left out
    let record = LogRecord {
        body: Some(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    str_kv("msg", "hi"),
                    kv("n", any_value::Value::DoubleValue(f64::NAN)),
                ],
            })),
        }),
        ..rec(1, "", vec![])
    };
    assert_eq!(
        line_of("", vec![], record, None).await,
        r#"{"body":{"msg":"hi","n":"NaN"}}"#
    );
    let empty = LogRecord {
        body: None,
        ..rec(1, "", vec![])
    };
    assert_eq!(line_of("", vec![], empty, None).await, "{}");
}

#[tokio::test]
async fn logfmt_line_golden_as_the_go_exporter_wrote_it() {
    let (resource, mut record, scope) = golden_record();
    record.body = Some(text(r#"user=admin action="log in" ok"#));
    let line = line_of("format: logfmt\n", resource, record, Some(scope)).await;
    assert_eq!(
        line,
        concat!(
            r#"user=admin action="log in" ok= "#,
            "traceID=01010101010101010101010101010101 spanID=0202020202020202 severity=Info flags=1 ",
            "attribute_http.status=200 attribute_ratio=0.5 attribute_big=1e+21 attribute_tags_0=a ",
            "attribute_tags_1=true attribute_blob=\"/wA=\" attribute_nested_z=1 ",
            "resource_service.name=api resource_host.name=h1 ",
            "instrumentation_scope_name=lib instrumentation_scope_version=1.0"
        )
    );
    // a body that is not logfmt becomes msg; a parsed pair is replaced, not repeated; a
    // string "null" is quoted, a parsed null is not
    let cases: Vec<(LogRecord, &str)> = vec![
        (rec(1, r#"{"a":1}"#, vec![]), r#"msg="{\"a\":1}""#),
        (
            LogRecord {
                severity_text: "WARN".into(),
                ..rec(
                    1,
                    "severity=x v=null",
                    vec![str_kv("s", "null"), str_kv("q", "a=b")],
                )
            },
            r#"severity=WARN v=null attribute_s="null" attribute_q="a=b""#,
        ),
        (
            rec(1, "line one\nline two", vec![]),
            r#"msg="line one\nline two""#,
        ),
        (
            LogRecord {
                body: Some(AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList {
                        values: vec![
                            str_kv("msg", "hi there"),
                            kv(
                                "ctx",
                                any_value::Value::KvlistValue(KeyValueList {
                                    values: vec![kv("id", any_value::Value::IntValue(7))],
                                }),
                            ),
                            kv("f", any_value::Value::DoubleValue(1e6)),
                        ],
                    })),
                }),
                ..rec(1, "", vec![])
            },
            r#"msg="hi there" ctx_id=7 f=1e+06"#,
        ),
        (
            LogRecord {
                body: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(42)),
                }),
                ..rec(1, "", vec![str_kv("a key", "v")])
            },
            "msg=42 attribute_a_key=v",
        ),
    ];
    for (record, want) in cases {
        assert_eq!(
            line_of("format: logfmt\n", vec![], record, None).await,
            want
        );
    }
}

#[tokio::test]
async fn raw_lines_and_the_loki_format_hint() {
    let record = LogRecord {
        body: Some(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv("a", any_value::Value::IntValue(1))],
            })),
        }),
        ..rec(1, "", vec![])
    };
    assert_eq!(
        line_of("format: raw\n", vec![], record, None).await,
        r#"{"a":1}"#
    );
    assert_eq!(
        line_of(
            "format: raw\n",
            vec![],
            rec(1, "plain text", vec![str_kv("k", "v")]),
            None
        )
        .await,
        "plain text"
    );
    // the hint (resource first) overrides the configured format, and leaves the line
    assert_eq!(
        line_of(
            "format: json\n",
            vec![str_kv("loki.format", "logfmt")],
            rec(
                1,
                "hi",
                vec![str_kv("loki.format", "raw"), str_kv("k", "v")]
            ),
            None
        )
        .await,
        "hi= attribute_k=v"
    );
    assert_eq!(
        line_of(
            "",
            vec![],
            rec(1, "hi", vec![str_kv("loki.format", "raw")]),
            None
        )
        .await,
        "hi"
    );
    // an unknown hint: the configured format, and a warning
    let capture = LogCapture::start();
    assert_eq!(
        line_of(
            "format: raw\n",
            vec![str_kv("loki.format", "xml")],
            rec(1, "hi", vec![]),
            None
        )
        .await,
        "hi"
    );
    assert!(
        capture.text().contains("Invalid loki.format hint \"xml\""),
        "{}",
        capture.text()
    );
}

// ------------------------------------------------------------------------------ HTTP

#[tokio::test]
async fn request_is_snappy_protobuf_with_go_headers() {
    let (_s, rec_, exp) =
        setup("headers: {Content-Type: text/plain, Authorization: Bearer t}\n").await;
    export(&exp, one(vec![], vec![rec(1, "a", vec![])]))
        .await
        .unwrap();
    let reqs = rec_.take();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/loki/api/v1/push");
    // the content type cannot be overridden by headers; no Content-Encoding (Loki
    // snappy-decodes every protobuf body)
    assert_eq!(r.headers["content-type"], "application/x-protobuf");
    assert!(r.headers.get("content-encoding").is_none());
    assert_eq!(r.headers["authorization"], "Bearer t");
    assert!(r.headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("Ferrotel/"));
    assert!(r.headers.get("x-scope-orgid").is_none());
    // the body is snappy's block format, not its framed format
    assert!(snap::raw::Decoder::new().decompress_vec(&r.body).is_ok());
    // an empty batch sends nothing
    export(&exp, Batch::empty(Signal::Logs)).await.unwrap();
    assert!(rec_.take().is_empty());
}

async fn answer(
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: &str,
) -> pipeline_api::ConsumeError {
    let (_s, rec_, exp) = setup("").await;
    rec_.set_reply(HttpReply {
        status: StatusCode::from_u16(status).unwrap(),
        headers,
        body: body.as_bytes().to_vec(),
    });
    export(&exp, one(vec![], vec![rec(1, "a", vec![])]))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn status_429_and_503_with_retry_after_are_throttled() {
    let e = answer(
        429,
        vec![("retry-after", "7".into())],
        "Ingestion rate limit exceeded",
    )
    .await;
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(
        e.message(),
        "HTTP 429 \"Too Many Requests\": Ingestion rate limit exceeded"
    );
    let e = answer(503, vec![("retry-after", "3".into())], "").await;
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    let e = answer(503, vec![("retry-after", date)], "").await;
    assert!(e
        .retry_after()
        .is_some_and(|d| d > Duration::from_secs(100)));
}

#[tokio::test]
async fn status_5xx_and_429_without_hint_are_retryable() {
    for status in [500, 502, 504, 429] {
        let e = answer(status, vec![], "try later").await;
        assert_eq!(e.kind(), ErrorKind::Retryable, "{status}");
        assert_eq!(e.retry_after(), None);
    }
}

#[tokio::test]
async fn status_400_is_permanent_with_lokis_error_text() {
    let e = answer(
        400,
        vec![],
        "entry for stream '{job=\"api\"}' has timestamp too old: 2020-01-01T00:00:00Z, oldest acceptable timestamp is: 2024-01-01T00:00:00Z\nsecond line",
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert_eq!(
        e.message(),
        "HTTP 400 \"Bad Request\": entry for stream '{job=\"api\"}' has timestamp too old: 2020-01-01T00:00:00Z, oldest acceptable timestamp is: 2024-01-01T00:00:00Z"
    );
    for status in [401, 404, 413] {
        let e = answer(
            status,
            vec![("retry-after", "5".into())],
            "stream limit exceeded",
        )
        .await;
        assert_eq!(e.kind(), ErrorKind::Permanent, "{status}");
        assert!(e.message().ends_with(": stream limit exceeded"));
    }
}

#[test]
fn error_text_is_the_first_line_of_at_most_1024_bytes() {
    assert_eq!(push::first_line(b"a\r\nb"), "a");
    assert_eq!(push::first_line(&[b'x'; 5000]).len(), 1024);
    let e = push::classify(
        StatusCode::BAD_REQUEST,
        None,
        b"nope",
        "acme",
        SystemTime::now(),
    );
    assert_eq!(
        e.message(),
        "HTTP 400 \"Bad Request\": nope (X-Scope-OrgID \"acme\")"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exp = exporter_for(&format!("http://127.0.0.1:{port}/loki/api/v1/push"), "");
    let e = export(&exp, one(vec![], vec![rec(1, "a", vec![])]))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.message().contains("failed to push to Loki"), "{e}");
}

// ------------------------------------------------------------------------------ guards

#[tokio::test]
async fn label_limit_keeps_the_highest_priority_labels_and_counts_cuts() {
    let capture = LogCapture::start();
    let (_s, rec_, exp) =
        setup("max_label_count: 3\nlabels: {attributes: {a: a}, static: {s: fixed}}\n").await;
    let record = |t| LogRecord {
        severity_number: 9,
        ..rec(
            t,
            "x",
            vec![
                str_kv("a", "1"),
                str_kv("h1", "2"),
                str_kv("h2", "3"),
                str_kv("loki.attribute.labels", "h1,h2"),
            ],
        )
    };
    export(
        &exp,
        one(
            vec![str_kv("service.name", "api")],
            vec![record(1), record(2)],
        ),
    )
    .await
    .unwrap();
    let p = only_push(&rec_);
    // static, configured attribute, then hints by name; defaults and exporter go first
    assert_eq!(
        p.streams[0].labels,
        labels(&[("a", "1"), ("h1", "2"), ("s", "fixed")])
    );
    // the dropped hint label's attribute stays in the line
    assert_eq!(
        p.streams[0].entries[0].line,
        r#"{"body":"x","attributes":{"h2":"3"},"resources":{"service.name":"api"}}"#
    );
    assert_eq!(exp.truncated.get(), 2);
    let logs = capture.text();
    assert_eq!(
        logs.matches("more than max_label_count (3)").count(),
        1,
        "{logs}"
    );
    assert!(logs.contains("exporter, h2, job, level"), "{logs}");
}

#[tokio::test]
async fn cardinality_warning_names_the_label_once() {
    let capture = LogCapture::start();
    let (_s, rec_, exp) = setup(
        "labels: {attributes: {request_id: request_id}}\ncardinality_warning: {max_values: 5, window: 1m}\n",
    )
    .await;
    let records: Vec<LogRecord> = (0..20)
        .map(|i| rec(i + 1, "x", vec![str_kv("request_id", &format!("r-{i}"))]))
        .collect();
    export(
        &exp,
        one(vec![str_kv("service.name", "api")], records.clone()),
    )
    .await
    .unwrap();
    export(&exp, one(vec![str_kv("service.name", "api")], records))
        .await
        .unwrap();
    assert_eq!(pushes(&rec_).len(), 2);
    let logs = capture.text();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("distinct values"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    let w = warnings[0];
    assert!(w.contains("WARN"), "{w}");
    assert!(
        w.contains("Loki label \"request_id\" took 6 distinct values"),
        "{w}"
    );
    assert!(w.contains("structured_metadata::attributes"), "{w}");
    // the steady labels did not warn
    assert!(!logs.contains("label \"job\""), "{logs}");
}

#[test]
fn cardinality_guard_forgets_values_after_its_window() {
    let start = std::time::Instant::now();
    let mut g = CardinalityGuard::new(2, Duration::from_secs(60), start);
    let l = |v: &str| labels(&[("id", v)]);
    assert!(g.observe(&l("a"), start).is_empty());
    assert!(g.observe(&l("b"), start).is_empty());
    // a new window: the count starts again
    let later = start + Duration::from_secs(61);
    assert!(g.observe(&l("c"), later).is_empty());
    assert!(g.observe(&l("d"), later).is_empty());
    let e = g.observe(&l("e"), later);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].label, "id");
    assert_eq!(e[0].values, 3);
    // once per label
    assert!(g.observe(&l("f"), later).is_empty());
    // off
    let mut off = CardinalityGuard::new(0, Duration::from_secs(1), start);
    for i in 0..50 {
        assert!(off.observe(&l(&i.to_string()), start).is_empty());
    }
}

#[tokio::test]
async fn records_without_labels_are_not_sent_and_are_counted() {
    let capture = LogCapture::start();
    let (_s, rec_, exp) = setup(NO_DEFAULTS).await;
    let err = export(
        &exp,
        one(vec![], vec![rec(1, "a", vec![]), rec(2, "b", vec![])]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err
        .message()
        .contains("failed to transform logs into Loki log streams"));
    assert!(rec_.take().is_empty());
    assert_eq!(exp.missing_labels.get(), 2);
    // only the record with a label is sent
    let labelled = rec(
        3,
        "c",
        vec![str_kv("k", "v"), str_kv("loki.attribute.labels", "k")],
    );
    export(&exp, one(vec![], vec![rec(4, "d", vec![]), labelled]))
        .await
        .unwrap();
    let p = only_push(&rec_);
    assert_eq!(p.streams.len(), 1);
    assert_eq!(p.streams[0].entries.len(), 1);
    assert_eq!(exp.missing_labels.get(), 3);
    assert!(capture
        .text()
        .contains("Dropped log records without any label"));
}

#[tokio::test]
async fn hostile_input_neither_panics_nor_hangs() {
    let (_s, rec_, exp) =
        setup("format: logfmt\nstructured_metadata: {attributes: [a.b.c]}\n").await;
    let long_name = "a.".repeat(300) + "z";
    let mut deep = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for i in 0..90 {
        deep = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: format!("k{i}"),
                    value: Some(deep),
                    ..Default::default()
                }],
            })),
        };
    }
    let bodies = [
        "k=\"unterminated",
        "=v",
        "k=\"\\u12\"",
        "k=\"\\ud83d\\ude00\" x=\"\\ud83d\"",
        "a=b=c",
        "\u{0}\u{1f}=\u{7f}",
        "é=ü \"",
    ];
    let mut records: Vec<LogRecord> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            rec(
                i as u64 + 1,
                b,
                vec![str_kv(
                    "loki.attribute.labels",
                    &format!("{long_name},,  ,{}", "."),
                )],
            )
        })
        .collect();
    records.push(LogRecord {
        time_unix_nano: u64::MAX,
        trace_id: vec![1, 2, 3],
        body: Some(deep.clone()),
        attributes: vec![
            KeyValue {
                key: "deep".into(),
                value: Some(deep),
                ..Default::default()
            },
            kv("inf", any_value::Value::DoubleValue(f64::INFINITY)),
        ],
        ..Default::default()
    });
    let started = std::time::Instant::now();
    // decoded: the wire scan refuses a value nested this deep
    let hostile = Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![resource_logs(vec![], records)],
    });
    export(&exp, hostile).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let p = only_push(&rec_);
    let lines: Vec<String> = p
        .streams
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.line.clone()))
        .collect();
    assert_eq!(lines.len(), bodies.len() + 1);
    assert!(
        lines.contains(&r#"msg="k=\"unterminated""#.to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&r#"msg="=v""#.to_string()), "{lines:?}");
    assert!(lines.contains(&"k=😀 x=\u{fffd}".to_string()), "{lines:?}");
}

/// Random requests, with Loki's hints among their attributes, translated from their wire
/// form give the push requests their decoded form gives, under configs that between them
/// read every kind of label, each tenant source, each line format and structured metadata.
#[test]
fn the_wire_form_translates_as_the_decoded_form() {
    use pipeline_api::testing::random::{self, Rng};
    use pipeline_api::BatchData;
    let configs = [
        "format: raw\nlabels: {attributes: {a: la, b.c: bc, http.method: method}, resource: {service.name: svc, dup: rdup}}\nstructured_metadata: {attributes: [c, a.b, dup]}\n".to_string(),
        "format: json\ntenant: {source: attributes, value: a}\nstructured_metadata: {attributes: [service.name]}\n".to_string(),
        format!("format: logfmt\n{NO_DEFAULTS}labels: {{static: {{env: prod}}, attributes: {{dup: d, c: c}}}}\nmax_label_count: 2\n"),
        "tenant: {source: static, value: t1}\nstructured_metadata: {trace_context: false}\n".to_string(),
    ];
    let exporters: Vec<LokiExporter> = configs
        .iter()
        .map(|c| exporter_for("http://127.0.0.1:9/loki/api/v1/push", c))
        .collect();
    let hints = [
        "loki.attribute.labels",
        "loki.resource.labels",
        "loki.format",
        "loki.tenant",
    ];
    let hint_values = [
        "a, dup",
        "b.c,http.method",
        "service.name",
        "json",
        "logfmt",
        "raw",
        "bogus",
        "a",
        "c",
    ];
    let mut rng = Rng(0x10c1);
    let (mut entries, mut formats) = (0, std::collections::BTreeSet::new());
    let (mut previous, mut chunks) = (None, 0);
    for round in 0..400 {
        let mut data = random::request(Signal::Logs, &mut rng);
        for r in random::log_records_mut(&mut data) {
            // some without a time, some without either time
            if rng.one_in(4) {
                r.time_unix_nano = 0;
                if rng.one_in(2) {
                    r.observed_time_unix_nano = 0;
                }
            }
            for _ in 0..rng.below(3) {
                let value = rng.pick(&hint_values).to_string();
                let key = *rng.pick(&hints);
                r.attributes.push(str_kv(key, &value));
            }
        }
        if let BatchData::Logs(req) = &mut data {
            for rl in &mut req.resource_logs {
                if let (Some(res), true) = (&mut rl.resource, rng.one_in(2)) {
                    let value = rng.pick(&hint_values).to_string();
                    let key = *rng.pick(&hints);
                    res.attributes.push(str_kv(key, &value));
                }
            }
        }
        let (wire, decoded) = random::both_forms(data);
        // every third round, after the previous round's request, as `batch` joins them
        let (wire, decoded) = match previous.take().filter(|_| round % 3 == 0) {
            Some((w, d)) => (
                Batch::merge(vec![w, wire]).unwrap(),
                Batch::merge(vec![d, decoded]).unwrap(),
            ),
            None => (wire, decoded),
        };
        let exp = &exporters[round % exporters.len()];
        let ctx = RequestContext::default();
        // a record without times is stamped with the time of the export
        let now = SystemTime::now();
        let got = exp
            .translate_wire(wire.wire_pieces().expect("the wire form"), &ctx, now)
            .unwrap()
            .expect("the bytes walk");
        let want = exp
            .translate(decoded.as_logs().unwrap(), &ctx, now)
            .unwrap();
        assert_eq!(got, want, "round {round}");
        chunks = chunks.max(wire.wire_pieces().unwrap().len());
        previous = Some((wire, decoded));
        for r in want.requests.values() {
            for s in &r.streams {
                entries += s.entries.len();
                formats.extend(s.entries.iter().map(|e| e.line.chars().next()));
            }
        }
    }
    assert!(entries > 1000, "{entries} entries");
    assert!(chunks > 1, "no batch of several requests");
    // json objects, logfmt pairs and raw bodies among the lines
    assert!(formats.len() > 5, "{formats:?}");
}

/// Streams go in the order of their label text (`{a="x", b="y"}` before `{a="x"}`: `,` sorts
/// before `}`), whatever order the label sets themselves sort in.
#[test]
fn streams_are_in_the_order_of_their_label_text() {
    let exp = exporter_for("http://127.0.0.1:9/loki/api/v1/push", NO_DEFAULTS);
    let hinted = |pairs: &[(&str, &str)]| {
        let names: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        let mut attrs: Vec<KeyValue> = pairs.iter().map(|(k, v)| str_kv(k, v)).collect();
        attrs.push(str_kv("loki.attribute.labels", &names.join(",")));
        rec(1, "line", attrs)
    };
    let records = vec![
        hinted(&[("ab", "z")]),
        hinted(&[("a", "x")]),
        hinted(&[("a", "x"), ("b", "y")]),
    ];
    let t = exp.translate_batch(&one(vec![], records)).unwrap().unwrap();
    let order: Vec<&str> = t.requests[""]
        .streams
        .iter()
        .map(|s| s.labels.as_str())
        .collect();
    assert_eq!(order, [r#"{a="x", b="y"}"#, r#"{a="x"}"#, r#"{ab="z"}"#]);
}
