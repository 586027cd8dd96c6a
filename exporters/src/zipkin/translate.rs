//! Zipkin v2 ↔ OTLP, as Go's `pkg/translator/zipkin/zipkinv2` (`ToTranslator`,
//! `FromTranslator`) does it, following the OpenTelemetry specification's Zipkin mapping.
//!
//! Go facts relied on:
//! - Zipkin → OTLP: spans are sorted by local service name, then by the `otel.library.name`
//!   tag, and grouped into one resource per service (`service.name`, or the key named by the
//!   `otlp.service.name.source` tag) and one scope per library; tags that are resource
//!   semantic-convention names go to the resource. `w3c.tracestate` → trace state;
//!   `otel.status_code` (`OK`/`ERROR` in any case, or `STATUS_CODE_OK|ERROR`; any other
//!   value is unset) and
//!   `otel.status_description` → status; `error: "true"` → error status; `span.kind:
//!   internal` → internal when Zipkin's kind is unset; `otlp.link.N` tags → links; other tags
//!   → attributes (numbers and booleans parsed with `parse_string_tags`); the endpoints →
//!   `network.local.address`, `net.host.port`, `service.peer.name`,
//!   `network.peer.address`, `net.peer.port` (v0.155's names, checked against the oracle);
//!   annotations → events (`name|{json attributes}|dropped`); no timestamp → start at the
//!   epoch and `otel.zipkin.absentField.startTime: true`.
//! - OTLP → Zipkin: resource attributes and the scope's name and version
//!   (`otel.library.name`, `otel.library.version`) become tags, span attributes override them;
//!   the local service is `service.name`, else `faas.name`, `k8s.deployment.name`,
//!   `process.executable.name` (recorded in `otlp.service.name.source`), else
//!   `OTLPResourceNoServiceName`; an error status sets `error: "true"`, a set status
//!   `otel.status_code` (`Ok`/`Error`) and its message `otel.status_description`; timestamps
//!   in microseconds; a span without trace or span id is an error.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

use super::model::{Annotation, Endpoint, Kind, ZSpan};

pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
pub const TAG_SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
pub const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
const LIBRARY_NAME: &str = "otel.library.name";
const LIBRARY_VERSION: &str = "otel.library.version";
const STATUS_CODE: &str = "otel.status_code";
const STATUS_DESCRIPTION: &str = "otel.status_description";
const TRACE_STATE: &str = "w3c.tracestate";
const SPAN_KIND: &str = "span.kind";
const ERROR: &str = "error";
/// The endpoint attributes Go v0.155 writes (newer semantic conventions for the addresses
/// and the peer service; the ports keep their old names).
const LOCAL_ADDRESS: &str = "network.local.address";
const PEER_ADDRESS: &str = "network.peer.address";
const PEER_SERVICE: &str = "service.peer.name";

/// Go `conventions.GetResourceSemanticConventionAttributeNames()` (semconv v1.6.1).
const RESOURCE_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.platform",
    "aws.ecs.container.arn",
    "aws.ecs.cluster.arn",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.eks.cluster.arn",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
    "container.name",
    "container.id",
    "container.runtime",
    "container.image.name",
    "container.image.tag",
    "deployment.environment",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "faas.name",
    "faas.id",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "host.id",
    "host.name",
    "host.type",
    "host.arch",
    "host.image.name",
    "host.image.id",
    "host.image.version",
    "k8s.cluster.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.namespace.name",
    "k8s.pod.uid",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.container.restart_count",
    "k8s.replicaset.uid",
    "k8s.replicaset.name",
    "k8s.deployment.uid",
    "k8s.deployment.name",
    "k8s.statefulset.uid",
    "k8s.statefulset.name",
    "k8s.daemonset.uid",
    "k8s.daemonset.name",
    "k8s.job.uid",
    "k8s.job.name",
    "k8s.cronjob.uid",
    "k8s.cronjob.name",
    "os.type",
    "os.description",
    "os.name",
    "os.version",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "process.command",
    "process.command_line",
    "process.command_args",
    "process.owner",
    "process.runtime.name",
    "process.runtime.version",
    "process.runtime.description",
    "service.name",
    "service.namespace",
    "service.instance.id",
    "service.version",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "webengine.name",
    "webengine.version",
    "webengine.description",
];

/// Go `nonSpanAttributes`: never span attributes.
fn non_span(key: &str) -> bool {
    RESOURCE_KEYS.contains(&key)
        || matches!(
            key,
            TAG_SERVICE_NAME_SOURCE
                | LIBRARY_NAME
                | LIBRARY_VERSION
                | "opencensus.starttime"
                | "opencensus.exporterversion"
                | "opencensus.resourcetype"
        )
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn str_kv(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.to_string()))
}

// ------------------------------------------------------------------ Zipkin → OTLP

fn local_service(s: &ZSpan) -> &str {
    match &s.local_endpoint {
        Some(e) if !e.service_name.is_empty() => &e.service_name,
        _ => NO_SERVICE_NAME,
    }
}

fn library(s: &ZSpan) -> &str {
    s.tags.get(LIBRARY_NAME).map(String::as_str).unwrap_or("")
}

/// Go `zipkin.DetermineValueType` followed by the parse.
pub fn typed_value(v: &str) -> any_value::Value {
    let int = |s: &str| {
        let d = s.strip_prefix('-').unwrap_or(s);
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
    };
    if v.is_empty() {
        return any_value::Value::StringValue(String::new());
    }
    if int(v) {
        if let Ok(i) = v.parse::<i64>() {
            return any_value::Value::IntValue(i);
        }
        return any_value::Value::IntValue(0);
    }
    if let Some((a, b)) = v.split_once('.') {
        if int(a) && !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) {
            return any_value::Value::DoubleValue(v.parse().unwrap_or(0.0));
        }
    }
    match v {
        "true" => any_value::Value::BoolValue(true),
        "false" => any_value::Value::BoolValue(false),
        _ => any_value::Value::StringValue(v.to_string()),
    }
}

/// Go `jsonMapToAttributeMap`: strings, numbers (whole ones as ints), booleans; the rest is
/// dropped.
fn json_attrs(json: &str) -> Result<Vec<KeyValue>, String> {
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("invalid attributes {json:?}: {e}"))?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => any_value::Value::StringValue(s),
                serde_json::Value::Bool(b) => any_value::Value::BoolValue(b),
                serde_json::Value::Number(n) => {
                    let d = n.as_f64()?;
                    if d.fract() == 0.0 && d.abs() < 9.2e18 {
                        any_value::Value::IntValue(d as i64)
                    } else {
                        any_value::Value::DoubleValue(d)
                    }
                }
                _ => return None,
            };
            Some(kv(&k, v))
        })
        .collect())
}

fn hex_id<const N: usize>(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_matches('"');
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if s.len() != 2 * N {
        return Err("invalid length for ID".into());
    }
    (0..N)
        .map(|i| {
            u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                .map_err(|_| format!("cannot unmarshal ID from string '{s}'"))
        })
        .collect()
}

/// The `|`-separated `name|json|dropped` annotation format; `parts` at least 3.
fn split_json(parts: &[&str], first: usize) -> (String, Result<u32, String>) {
    let last = parts.len() - 1;
    let json = parts[first..last].join("|");
    let dropped = parts[last]
        .parse::<u32>()
        .map_err(|e| format!("invalid dropped count {:?}: {e}", parts[last]));
    (json, dropped)
}

fn span_to_otlp(
    z: &ZSpan,
    mut tags: BTreeMap<String, String>,
    parse_string_tags: bool,
) -> Result<Span, String> {
    let mut s = Span {
        trace_id: z.trace_id.to_vec(),
        span_id: z.id.to_vec(),
        name: z.name.clone(),
        ..Default::default()
    };
    if let Some(ts) = tags.remove(TRACE_STATE) {
        s.trace_state = ts;
    }
    if let Some(p) = z.parent_id {
        if p != z.id {
            s.parent_span_id = p.to_vec();
        }
    }
    s.kind = match z.kind {
        Some(Kind::Client) => span::SpanKind::Client as i32,
        Some(Kind::Server) => span::SpanKind::Server as i32,
        Some(Kind::Producer) => span::SpanKind::Producer as i32,
        Some(Kind::Consumer) => span::SpanKind::Consumer as i32,
        None => match tags.remove(SPAN_KIND).as_deref() {
            Some("internal") => span::SpanKind::Internal as i32,
            _ => span::SpanKind::Unspecified as i32,
        },
    };
    let mut status = Status::default();
    if let Some(code) = tags.remove(STATUS_CODE) {
        // Go v0.155 (checked against the oracle) takes the exporter's `Ok`/`Error` too.
        status.code = match code.to_ascii_uppercase().as_str() {
            "STATUS_CODE_OK" | "OK" => 1,
            "STATUS_CODE_ERROR" | "ERROR" => 2,
            _ => 0,
        };
        if let Some(m) = tags.remove(STATUS_DESCRIPTION) {
            status.message = m;
        }
    }
    if tags.get(ERROR).map(String::as_str) == Some("true") {
        status.code = 2;
        tags.remove(ERROR);
    }
    if status != Status::default() {
        s.status = Some(status);
    }
    for i in 0..128 {
        let key = format!("otlp.link.{i}");
        let Some(val) = tags.remove(&key) else { break };
        let parts: Vec<&str> = val.split('|').collect();
        if parts.len() < 5 {
            continue;
        }
        let (json, dropped) = split_json(&parts, 3);
        s.links.push(span::Link {
            trace_id: hex_id::<16>(parts[0])?,
            span_id: hex_id::<8>(parts[1])?,
            trace_state: parts[2].to_string(),
            attributes: json_attrs(&json)?,
            dropped_attributes_count: dropped?,
            flags: 0,
        });
    }
    for (k, v) in &tags {
        if non_span(k) {
            continue;
        }
        let value = if parse_string_tags {
            typed_value(v)
        } else {
            any_value::Value::StringValue(v.clone())
        };
        s.attributes.push(kv(k, value));
    }
    let ip = |e: &Endpoint| {
        e.ipv6
            .map(|ip| ip.to_string())
            .or(e.ipv4.map(|ip| ip.to_string()))
    };
    if let Some(e) = &z.local_endpoint {
        if let Some(ip) = ip(e) {
            s.attributes.push(str_kv(LOCAL_ADDRESS, &ip));
        }
        if e.port > 0 {
            s.attributes.push(kv(
                "net.host.port",
                any_value::Value::IntValue(e.port as i64),
            ));
        }
    }
    if let Some(e) = &z.remote_endpoint {
        if !e.service_name.is_empty() {
            s.attributes.push(str_kv(PEER_SERVICE, &e.service_name));
        }
        if let Some(ip) = ip(e) {
            s.attributes.push(str_kv(PEER_ADDRESS, &ip));
        }
        if e.port > 0 {
            s.attributes.push(kv(
                "net.peer.port",
                any_value::Value::IntValue(e.port as i64),
            ));
        }
    }
    match z.timestamp {
        Some(ts) => {
            s.start_time_unix_nano = ts.saturating_mul(1000);
            s.end_time_unix_nano = s
                .start_time_unix_nano
                .saturating_add(z.duration.saturating_mul(1000));
        }
        None => {
            s.start_time_unix_nano = 0;
            s.end_time_unix_nano = z.duration.saturating_mul(1000);
            s.attributes
                .push(kv(START_TIME_ABSENT, any_value::Value::BoolValue(true)));
        }
    }
    for a in &z.annotations {
        let parts: Vec<&str> = a.value.split('|').collect();
        let mut ev = span::Event {
            time_unix_nano: a.timestamp.saturating_mul(1000),
            name: parts[0].to_string(),
            ..Default::default()
        };
        if parts.len() >= 3 {
            let (json, dropped) = split_json(&parts, 1);
            ev.attributes = json_attrs(&json)?;
            ev.dropped_attributes_count = dropped?;
        }
        s.events.push(ev);
    }
    Ok(s)
}

/// Zipkin spans → one OTLP request (Go `ToTranslator.ToTraces`).
pub fn to_otlp(
    mut spans: Vec<ZSpan>,
    parse_string_tags: bool,
) -> Result<ExportTraceServiceRequest, String> {
    spans.sort_by(|a, b| {
        local_service(a)
            .cmp(local_service(b))
            .then_with(|| library(a).cmp(library(b)))
    });
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut prev_service: Option<String> = None;
    let mut prev_lib: Option<String> = None;
    for z in &spans {
        let mut tags = z.tags.clone();
        let service = local_service(z).to_string();
        if prev_service.as_ref() != Some(&service) {
            prev_service = Some(service.clone());
            prev_lib = None;
            let mut resource = Resource::default();
            if service != NO_SERVICE_NAME {
                let key = tags
                    .remove(TAG_SERVICE_NAME_SOURCE)
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "service.name".to_string());
                resource.attributes.push(str_kv(&key, &service));
                for k in RESOURCE_KEYS {
                    if let Some(v) = tags.remove(*k) {
                        resource.attributes.push(str_kv(k, &v));
                    }
                }
                for k in [
                    "opencensus.starttime",
                    "opencensus.exporterversion",
                    "opencensus.resourcetype",
                ] {
                    if let Some(v) = tags.remove(k) {
                        resource.attributes.push(str_kv(k, &v));
                    }
                }
            }
            out.push(ResourceSpans {
                resource: Some(resource),
                ..Default::default()
            });
        }
        let lib = library(z).to_string();
        let rs = out.last_mut().expect("pushed above");
        if prev_lib.as_ref() != Some(&lib) || rs.scope_spans.is_empty() {
            prev_lib = Some(lib.clone());
            let mut scope = InstrumentationScope::default();
            if !lib.is_empty() {
                scope.name = tags.remove(LIBRARY_NAME).unwrap_or_default();
                scope.version = tags.remove(LIBRARY_VERSION).unwrap_or_default();
            }
            rs.scope_spans.push(ScopeSpans {
                scope: Some(scope),
                ..Default::default()
            });
        }
        let span = span_to_otlp(z, tags, parse_string_tags)?;
        rs.scope_spans
            .last_mut()
            .expect("pushed above")
            .spans
            .push(span);
    }
    Ok(ExportTraceServiceRequest {
        resource_spans: out,
    })
}

// ------------------------------------------------------------------ OTLP → Zipkin

/// Go `pcommon.Value.AsString`.
pub fn as_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => format_double(*d),
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(other) => serde_json::to_string(&raw(Some(&AnyValue {
            value: Some(other.clone()),
        })))
        .unwrap_or_default(),
    }
}

fn format_double(d: f64) -> String {
    if d.is_nan() {
        "NaN".into()
    } else if d.is_infinite() {
        if d > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{d}")
    }
}

/// Go `Value.AsRaw` as JSON.
fn raw(v: Option<&AnyValue>) -> serde_json::Value {
    use serde_json::Value as J;
    match v.and_then(|v| v.value.as_ref()) {
        None => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(J::Number)
            .unwrap_or(J::Null),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(a)) => {
            J::Array(a.values.iter().map(|v| raw(Some(v))).collect())
        }
        Some(any_value::Value::KvlistValue(m)) => J::Object(
            m.values
                .iter()
                .map(|kv| (kv.key.clone(), raw(kv.value.as_ref())))
                .collect(),
        ),
        Some(_) => J::Null,
    }
}

fn attrs_json(attrs: &[KeyValue]) -> String {
    let map: BTreeMap<&str, serde_json::Value> = attrs
        .iter()
        .map(|kv| (kv.key.as_str(), raw(kv.value.as_ref())))
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// Go `extractZipkinServiceName`.
fn service_name(tags: &mut BTreeMap<String, String>) -> String {
    if let Some(s) = tags.remove("service.name") {
        return s;
    }
    for key in [
        "faas.name",
        "k8s.deployment.name",
        "process.executable.name",
    ] {
        if let Some(s) = tags.remove(key) {
            tags.insert(TAG_SERVICE_NAME_SOURCE.into(), key.into());
            return s;
        }
    }
    NO_SERVICE_NAME.into()
}

/// Go `zipkinEndpointFromTags`.
fn endpoint(
    tags: &BTreeMap<String, String>,
    local_service: &str,
    remote: bool,
    redundant: &mut Vec<&'static str>,
) -> Option<Endpoint> {
    let mut service = local_service.to_string();
    if remote {
        for key in [PEER_SERVICE, "peer.service"] {
            if let Some(p) = tags.get(key) {
                service = p.clone();
                redundant.push(key);
                break;
            }
        }
    }
    let (ip_keys, port_key) = if remote {
        ([PEER_ADDRESS, "net.peer.ip"], "net.peer.port")
    } else {
        ([LOCAL_ADDRESS, "net.host.ip"], "net.host.port")
    };
    let mut ip = None;
    for key in ip_keys {
        if let Some(s) = tags.get(key) {
            ip = s.parse::<IpAddr>().ok();
            redundant.push(key);
            break;
        }
    }
    let mut port = 0;
    if let Some(p) = tags.get(port_key) {
        port = p.parse::<u16>().unwrap_or(0);
        redundant.push(port_key);
    }
    if service.is_empty() && ip.is_none() {
        return None;
    }
    let mut e = Endpoint {
        service_name: service,
        port,
        ..Default::default()
    };
    match ip {
        Some(IpAddr::V4(v4)) => e.ipv4 = Some(v4),
        Some(IpAddr::V6(v6)) => e.ipv6 = Some(v6),
        None => {}
    }
    Some(e)
}

/// Nanoseconds → microseconds, rounded (Go `time.Round(time.Microsecond)`).
fn micros(ns: u64) -> u64 {
    (ns + 500) / 1000
}

fn hex(b: &[u8]) -> String {
    const_hex::encode(b)
}

/// One OTLP request → Zipkin spans (Go `FromTranslator.FromTraces`).
pub fn from_otlp(req: &ExportTraceServiceRequest) -> Result<Vec<ZSpan>, String> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let attrs = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        if attrs.is_empty() && rs.scope_spans.is_empty() {
            continue;
        }
        let mut base: BTreeMap<String, String> = attrs
            .iter()
            .map(|kv| (kv.key.clone(), as_string(kv.value.as_ref())))
            .collect();
        let local_service = if attrs.is_empty() {
            NO_SERVICE_NAME.to_string()
        } else {
            service_name(&mut base)
        };
        for ss in &rs.scope_spans {
            if let Some(scope) = &ss.scope {
                if !scope.name.is_empty() {
                    base.insert(LIBRARY_NAME.into(), scope.name.clone());
                }
                if !scope.version.is_empty() {
                    base.insert(LIBRARY_VERSION.into(), scope.version.clone());
                }
            }
            for s in &ss.spans {
                out.push(span_from_otlp(s, &local_service, &base)?);
            }
        }
    }
    Ok(out)
}

fn span_from_otlp(
    s: &Span,
    local_service: &str,
    base: &BTreeMap<String, String>,
) -> Result<ZSpan, String> {
    let mut tags = base.clone();
    for kv in &s.attributes {
        tags.insert(kv.key.clone(), as_string(kv.value.as_ref()));
    }
    if s.trace_id.len() != 16 || s.trace_id.iter().all(|b| *b == 0) {
        return Err("TraceID is invalid".into());
    }
    if s.span_id.len() != 8 || s.span_id.iter().all(|b| *b == 0) {
        return Err("SpanID is invalid".into());
    }
    let mut z = ZSpan {
        name: s.name.clone(),
        ..Default::default()
    };
    z.trace_id.copy_from_slice(&s.trace_id);
    z.id.copy_from_slice(&s.span_id);
    if !s.trace_state.is_empty() {
        tags.insert(TRACE_STATE.into(), s.trace_state.clone());
    }
    if s.parent_span_id.len() == 8 && s.parent_span_id.iter().any(|b| *b != 0) {
        let mut p = [0u8; 8];
        p.copy_from_slice(&s.parent_span_id);
        z.parent_id = Some(p);
    }
    // Go: a start time before one second after the epoch is "absent".
    if s.start_time_unix_nano >= 1_000_000_000 {
        z.timestamp = Some(micros(s.start_time_unix_nano));
    }
    if s.end_time_unix_nano != 0 {
        let d = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
        // zipkin-go writes a duration under a microsecond as 1.
        z.duration = if d > 0 && d < 1000 { 1 } else { micros(d) };
    }
    z.kind = match s.kind {
        2 => Some(Kind::Server),
        3 => Some(Kind::Client),
        4 => Some(Kind::Producer),
        5 => Some(Kind::Consumer),
        _ => None,
    };
    if s.kind == span::SpanKind::Internal as i32 {
        tags.insert(SPAN_KIND.into(), "internal".into());
    }
    let mut redundant = Vec::new();
    z.local_endpoint = endpoint(&tags, local_service, false, &mut redundant);
    z.remote_endpoint = endpoint(&tags, "", true, &mut redundant);
    for k in redundant {
        tags.remove(k);
    }
    let status = s.status.clone().unwrap_or_default();
    if status.code == 2 {
        tags.insert(ERROR.into(), "true".into());
    } else {
        tags.remove(ERROR);
    }
    if status.code != 0 {
        let code = if status.code == 1 { "Ok" } else { "Error" };
        tags.insert(STATUS_CODE.into(), code.into());
        if !status.message.is_empty() {
            tags.insert(STATUS_DESCRIPTION.into(), status.message.clone());
        }
    }
    for ev in &s.events {
        let value = if ev.attributes.is_empty() && ev.dropped_attributes_count == 0 {
            ev.name.clone()
        } else {
            format!(
                "{}|{}|{}",
                ev.name,
                attrs_json(&ev.attributes),
                ev.dropped_attributes_count
            )
        };
        z.annotations.push(Annotation {
            timestamp: micros(ev.time_unix_nano),
            value,
        });
    }
    for (i, l) in s.links.iter().enumerate() {
        let tid = if l.trace_id.iter().all(|b| *b == 0) {
            String::new()
        } else {
            hex(&l.trace_id)
        };
        let sid = if l.span_id.iter().all(|b| *b == 0) {
            String::new()
        } else {
            hex(&l.span_id)
        };
        tags.insert(
            format!("otlp.link.{i}"),
            format!(
                "{tid}|{sid}|{}|{}|{}",
                l.trace_state,
                attrs_json(&l.attributes),
                l.dropped_attributes_count
            ),
        );
    }
    z.tags = tags;
    Ok(z)
}
