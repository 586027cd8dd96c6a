//! `service.telemetry.metrics.readers[].periodic`: the collector's own metrics pushed over
//! OTLP every `interval` (Go's declarative telemetry config, `go.opentelemetry.io/contrib/
//! otelconf`): `exporter.otlp` with `protocol: http/protobuf` or `grpc`, or the newer
//! `otlp_http` / `otlp_grpc` forms; `console` prints them. The last readings are pushed
//! once more at shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pipeline_api::config::{parse_typed, ConfigError, ConfigValue, Validate};
use pipeline_api::proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::telemetry::Telemetry;
use prometheus::proto::{MetricFamily, MetricType};
use prost::Message;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// One `periodic` reader as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeriodicConfig {
    /// Milliseconds between pushes (otelconf default 60000).
    pub interval: Option<u64>,
    /// Milliseconds a push may take (otelconf default 30000).
    pub timeout: Option<u64>,
    pub exporter: PushExporterConfig,
    pub producers: ConfigValue,
    pub cardinality_limits: ConfigValue,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushExporterConfig {
    pub otlp: Option<OtlpPushConfig>,
    pub otlp_http: Option<OtlpPushConfig>,
    pub otlp_grpc: Option<OtlpPushConfig>,
    pub console: Option<ConfigValue>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpPushConfig {
    /// `http/protobuf`, `http/json` (sent as protobuf), `grpc` or `grpc/protobuf`.
    pub protocol: Option<String>,
    pub endpoint: Option<String>,
    /// `[{name, value}]` (otelconf) or a map.
    pub headers: ConfigValue,
    /// `k=v,k2=v2`.
    pub headers_list: Option<String>,
    pub compression: Option<String>,
    pub timeout: Option<u64>,
    pub insecure: Option<bool>,
    pub certificate: Option<String>,
    pub certificate_file: Option<String>,
    pub client_key: Option<String>,
    pub client_key_file: Option<String>,
    pub client_certificate: Option<String>,
    pub client_certificate_file: Option<String>,
    pub temporality_preference: Option<String>,
    pub default_histogram_aggregation: Option<String>,
    pub tls: ConfigValue,
}

impl Validate for PushExporterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let e = self;
        let set = [
            e.otlp.is_some(),
            e.otlp_http.is_some(),
            e.otlp_grpc.is_some(),
            e.console.is_some(),
        ];
        let mut errors = Vec::new();
        if set.iter().filter(|s| **s).count() != 1 {
            errors.push(ConfigError::new(
                &[],
                "set exactly one of otlp, otlp_http, otlp_grpc, console",
            ));
        }
        if let Some(o) = &e.otlp {
            match o.protocol.as_deref() {
                Some("http/protobuf" | "http/json" | "grpc" | "grpc/protobuf") => {}
                Some(p) => errors.push(ConfigError::new(
                    &["otlp", "protocol"],
                    format!("unsupported protocol {p:?} (http/protobuf, http/json, grpc)"),
                )),
                None => errors.push(ConfigError::new(
                    &["otlp", "protocol"],
                    "missing: http/protobuf or grpc",
                )),
            }
        }
        for (name, o) in [
            ("otlp", &e.otlp),
            ("otlp_http", &e.otlp_http),
            ("otlp_grpc", &e.otlp_grpc),
        ] {
            if let Some(o) = o {
                if o.endpoint.as_deref().unwrap_or("").is_empty() {
                    errors.push(ConfigError::new(&[name, "endpoint"], "missing"));
                }
                if let Some(c) = o.compression.as_deref() {
                    if !matches!(c, "gzip" | "none" | "") {
                        errors.push(ConfigError::new(
                            &[name, "compression"],
                            format!("unsupported compression {c:?} (gzip, none)"),
                        ));
                    }
                }
            }
        }
        errors
    }
}

impl Validate for PeriodicConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.exporter
            .validate()
            .into_iter()
            .map(|e| e.prefixed(&["exporter"]))
            .collect()
    }
}

/// Parse a reader's `periodic` section; errors relative to it.
pub fn parse(value: &ConfigValue) -> Result<PeriodicConfig, Vec<ConfigError>> {
    parse_typed(value)
}

pub(crate) enum Target {
    Http {
        url: String,
        headers: Vec<(String, String)>,
        gzip: bool,
    },
    Grpc {
        endpoint: String,
        headers: Vec<(String, String)>,
    },
    Console,
}

fn headers(o: &OtlpPushConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match &o.headers {
        ConfigValue::Sequence(list) => {
            for h in list {
                if let (Some(n), Some(v)) = (
                    h.get("name").and_then(|v| v.as_str()),
                    h.get("value").and_then(|v| v.as_str()),
                ) {
                    out.push((n.to_string(), v.to_string()));
                }
            }
        }
        ConfigValue::Mapping(m) => {
            for (k, v) in m {
                if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                    out.push((k.to_string(), v.to_string()));
                }
            }
        }
        _ => {}
    }
    for pair in o.headers_list.as_deref().unwrap_or("").split(',') {
        if let Some((k, v)) = pair.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn target(cfg: &PeriodicConfig) -> Target {
    exporter_target(&cfg.exporter, "/v1/metrics")
}

/// Where an otelconf exporter sends; an HTTP endpoint without a path gets `signal_path`.
pub(crate) fn exporter_target(e: &PushExporterConfig, signal_path: &str) -> Target {
    let http = |o: &OtlpPushConfig| {
        let endpoint = o.endpoint.clone().unwrap_or_default();
        let endpoint = if endpoint.contains("://") {
            endpoint
        } else {
            format!("http://{endpoint}")
        };
        // a URL without a path gets the signal's path (otlpmetrichttp's default)
        let after_scheme = endpoint.split_once("://").map(|(_, r)| r).unwrap_or("");
        let url = if after_scheme.trim_end_matches('/').contains('/') {
            endpoint
        } else {
            format!("{}{signal_path}", endpoint.trim_end_matches('/'))
        };
        Target::Http {
            url,
            headers: headers(o),
            gzip: o.compression.as_deref() == Some("gzip"),
        }
    };
    let grpc = |o: &OtlpPushConfig| {
        let endpoint = o.endpoint.clone().unwrap_or_default();
        let endpoint = if endpoint.contains("://") {
            endpoint
        } else {
            format!("http://{endpoint}")
        };
        Target::Grpc {
            endpoint,
            headers: headers(o),
        }
    };
    if let Some(o) = &e.otlp {
        if o.protocol.as_deref().is_some_and(|p| p.starts_with("grpc")) {
            return grpc(o);
        }
        return http(o);
    }
    if let Some(o) = &e.otlp_http {
        return http(o);
    }
    if let Some(o) = &e.otlp_grpc {
        return grpc(o);
    }
    Target::Console
}

/// A running periodic reader.
pub struct PeriodicReader {
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl PeriodicReader {
    /// Start pushing the registry's metrics; `resource` is the service identity.
    pub fn start(
        cfg: &PeriodicConfig,
        telemetry: Arc<Telemetry>,
        resource: Vec<(String, String)>,
    ) -> PeriodicReader {
        let interval = Duration::from_millis(cfg.interval.unwrap_or(60_000).max(1));
        let timeout = Duration::from_millis(cfg.timeout.unwrap_or(30_000).max(1));
        let target = Arc::new(target(cfg));
        let token = CancellationToken::new();
        let stop = token.clone();
        let started = now_nanos();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(timeout).build().ok();
            loop {
                let last = tokio::select! {
                    _ = tokio::time::sleep(interval) => false,
                    _ = stop.cancelled() => true,
                };
                let request = to_otlp(&telemetry.registry().gather(), &resource, started);
                let sent = tokio::time::timeout(
                    timeout,
                    push(&target, client.as_ref(), Request::Metrics(request)),
                )
                .await;
                match sent {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn!(error = %e, "Cannot push the collector's own metrics"),
                    Err(_) => warn!("Pushing the collector's own metrics timed out"),
                }
                if last {
                    break;
                }
            }
        });
        info!(every = ?interval, "Pushing own metrics periodically");
        PeriodicReader { token, task }
    }

    /// Push once more and stop.
    pub async fn stop(self) {
        self.token.cancel();
        let _ = self.task.await;
    }
}

/// One OTLP export request of the collector's own telemetry.
pub(crate) enum Request {
    Metrics(ExportMetricsServiceRequest),
    Traces(ExportTraceServiceRequest),
}

impl Request {
    fn encode_to_vec(&self) -> Vec<u8> {
        match self {
            Request::Metrics(r) => r.encode_to_vec(),
            Request::Traces(r) => r.encode_to_vec(),
        }
    }
}

pub(crate) async fn push(
    target: &Target,
    client: Option<&reqwest::Client>,
    request: Request,
) -> Result<(), String> {
    match target {
        Target::Console => {
            match &request {
                Request::Metrics(r) => println!("{r:#?}"),
                Request::Traces(r) => println!("{r:#?}"),
            }
            Ok(())
        }
        Target::Http { url, headers, gzip } => {
            let client = client.ok_or("no HTTP client")?;
            let mut body = request.encode_to_vec();
            let mut req = client
                .post(url)
                .header("Content-Type", "application/x-protobuf");
            if *gzip {
                use std::io::Write;
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&body).map_err(|e| e.to_string())?;
                body = enc.finish().map_err(|e| e.to_string())?;
                req = req.header("Content-Encoding", "gzip");
            }
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let response = req.body(body).send().await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("{url}: HTTP {}", response.status()));
            }
            Ok(())
        }
        Target::Grpc { endpoint, headers } => {
            fn with_headers<T>(request: T, headers: &[(String, String)]) -> tonic::Request<T> {
                let mut req = tonic::Request::new(request);
                for (k, v) in headers {
                    if let (Ok(k), Ok(v)) = (
                        k.to_ascii_lowercase()
                            .parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
                        v.parse(),
                    ) {
                        req.metadata_mut().insert(k, v);
                    }
                }
                req
            }
            let failed = |e: &dyn std::fmt::Display| format!("{endpoint}: {e}");
            match request {
                Request::Metrics(r) => {
                    MetricsServiceClient::connect(endpoint.clone())
                        .await
                        .map_err(|e| failed(&e))?
                        .export(with_headers(r, headers))
                        .await
                        .map_err(|e| failed(&e))?;
                }
                Request::Traces(r) => {
                    TraceServiceClient::connect(endpoint.clone())
                        .await
                        .map_err(|e| failed(&e))?
                        .export(with_headers(r, headers))
                        .await
                        .map_err(|e| failed(&e))?;
                }
            }
            Ok(())
        }
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub(crate) fn string_kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        }),
        ..Default::default()
    }
}

/// The registry's families as one OTLP request: counters as cumulative monotonic sums,
/// gauges as gauges, histograms as cumulative histograms; labels become attributes.
/// `target_info` is the resource, not a metric.
pub fn to_otlp(
    families: &[MetricFamily],
    resource: &[(String, String)],
    start: u64,
) -> ExportMetricsServiceRequest {
    let now = now_nanos();
    let mut metrics = Vec::new();
    for f in families {
        if f.name() == "target_info" {
            continue;
        }
        let attrs = |m: &prometheus::proto::Metric| -> Vec<KeyValue> {
            m.get_label()
                .iter()
                .map(|l| string_kv(l.name(), l.value()))
                .collect()
        };
        let number = |m: &prometheus::proto::Metric, v: f64| NumberDataPoint {
            attributes: attrs(m),
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(if v.fract() == 0.0 && v.abs() < 9.0e15 {
                number_data_point::Value::AsInt(v as i64)
            } else {
                number_data_point::Value::AsDouble(v)
            }),
            ..Default::default()
        };
        let data = match f.get_field_type() {
            MetricType::COUNTER => metric::Data::Sum(Sum {
                data_points: f
                    .get_metric()
                    .iter()
                    .map(|m| number(m, m.get_counter().get_value()))
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
            MetricType::GAUGE => metric::Data::Gauge(Gauge {
                data_points: f
                    .get_metric()
                    .iter()
                    .map(|m| number(m, m.get_gauge().get_value()))
                    .collect(),
            }),
            MetricType::HISTOGRAM => metric::Data::Histogram(Histogram {
                data_points: f
                    .get_metric()
                    .iter()
                    .map(|m| {
                        let h = m.get_histogram();
                        let mut bounds = Vec::new();
                        let mut counts = Vec::new();
                        let mut below = 0u64;
                        for b in h.get_bucket() {
                            if b.upper_bound().is_finite() {
                                bounds.push(b.upper_bound());
                                counts.push(b.cumulative_count().saturating_sub(below));
                                below = b.cumulative_count();
                            }
                        }
                        counts.push(h.get_sample_count().saturating_sub(below));
                        HistogramDataPoint {
                            attributes: attrs(m),
                            start_time_unix_nano: start,
                            time_unix_nano: now,
                            count: h.get_sample_count(),
                            sum: Some(h.get_sample_sum()),
                            bucket_counts: counts,
                            explicit_bounds: bounds,
                            ..Default::default()
                        }
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
            _ => continue,
        };
        metrics.push(Metric {
            name: f.name().to_string(),
            description: f.help().to_string(),
            data: Some(data),
            ..Default::default()
        });
    }
    let resource: BTreeMap<&str, &str> = resource
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource.iter().map(|(k, v)| string_kv(k, v)).collect(),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "ferrotel".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
