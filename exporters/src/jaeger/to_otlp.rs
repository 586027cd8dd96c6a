//! Jaeger `api_v2` batches → OTLP traces (the `jaeger` receiver's mapping), as Go's
//! `pkg/translator/jaeger` `ProtoToTraces` does it.
//!
//! Go facts relied on: spans with their own process are regrouped under that process; a
//! process named `OTLPResourceNoServiceName` (or with no name and no tags) gives an empty
//! resource, else `service.name` and the process tags typed, `hostname` → `host.name` and
//! `jaeger.version` → `opencensus.exporterversion: Jaeger-<v>` unless those are set; one
//! scope per `otel.scope.name`/`otel.scope.version` tag pair; the parent is the first
//! CHILD_OF reference in the span's trace; other references → links with
//! `opentracing.ref_type` (`child_of`/`follows_from`); `span.kind` → kind; status from
//! `error: true` (then `otel.status_description`, else `http.status_message`), else
//! `otel.status_code` (`OK`/`ERROR`, any case) with `otel.status_description`, else an
//! `http.status_code` (5xx and unknown codes error; 4xx error for clients, unset for
//! servers); `w3c.tracestate` → trace state; logs → events (`event` field → name); an
//! all-default span is skipped.

use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

use super::model::{self, SpanRefType, ValueType};
use super::translate::NO_SERVICE_NAME;

fn value(kv: &model::KeyValue) -> any_value::Value {
    match ValueType::try_from(kv.v_type) {
        Ok(ValueType::String) => any_value::Value::StringValue(kv.v_str.clone()),
        Ok(ValueType::Bool) => any_value::Value::BoolValue(kv.v_bool),
        Ok(ValueType::Int64) => any_value::Value::IntValue(kv.v_int64),
        Ok(ValueType::Float64) => any_value::Value::DoubleValue(kv.v_float64),
        Ok(ValueType::Binary) => any_value::Value::BytesValue(kv.v_binary.clone()),
        Err(_) => {
            any_value::Value::StringValue(format!("<Unknown Jaeger TagType \"{}\">", kv.v_type))
        }
    }
}

/// Go `jSpanKindToInternal`: a `span.kind` tag's value as an OTLP kind.
pub fn span_kind(kind: &str) -> i32 {
    match kind {
        "client" => span::SpanKind::Client as i32,
        "server" => span::SpanKind::Server as i32,
        "producer" => span::SpanKind::Producer as i32,
        "consumer" => span::SpanKind::Consumer as i32,
        "internal" => span::SpanKind::Internal as i32,
        _ => 0,
    }
}

/// Go `pcommon.Map.Put*`: a key already present is overwritten in place.
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, v: any_value::Value) {
    let v = Some(AnyValue { value: Some(v) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = v,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: v,
            ..Default::default()
        }),
    }
}

fn tags(tags: &[model::KeyValue], attrs: &mut Vec<KeyValue>) {
    for t in tags {
        put(attrs, &t.key, value(t));
    }
}

pub fn take(attrs: &mut Vec<KeyValue>, key: &str) -> Option<any_value::Value> {
    let i = attrs.iter().position(|kv| kv.key == key)?;
    attrs.remove(i).value.and_then(|v| v.value)
}

pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

pub fn as_str(v: Option<any_value::Value>) -> String {
    match v {
        Some(any_value::Value::StringValue(s)) => s,
        _ => String::new(),
    }
}

fn resource(p: Option<&model::Process>) -> Resource {
    let mut r = Resource::default();
    let Some(p) = p else { return r };
    if p.service_name == NO_SERVICE_NAME || (p.service_name.is_empty() && p.tags.is_empty()) {
        return r;
    }
    if !p.service_name.is_empty() {
        put(
            &mut r.attributes,
            "service.name",
            any_value::Value::StringValue(p.service_name.clone()),
        );
    }
    tags(&p.tags, &mut r.attributes);
    process_attributes(&mut r.attributes);
    r
}

/// Go `translateHostnameAttr` and `translateJaegerVersionAttr`: a process's `hostname` →
/// `host.name` and `jaeger.version` → `opencensus.exporterversion: Jaeger-<v>`, unless those
/// are set already.
pub fn process_attributes(attrs: &mut Vec<KeyValue>) {
    if get(attrs, "hostname").is_some() && get(attrs, "host.name").is_none() {
        let v = take(attrs, "hostname").unwrap_or(any_value::Value::StringValue(String::new()));
        put(attrs, "host.name", v);
    }
    if get(attrs, "jaeger.version").is_some() && get(attrs, "opencensus.exporterversion").is_none()
    {
        let v = as_str(take(attrs, "jaeger.version"));
        put(
            attrs,
            "opencensus.exporterversion",
            any_value::Value::StringValue(format!("Jaeger-{v}")),
        );
    }
}

fn nanos(t: Option<&model::Timestamp>) -> u64 {
    t.map(|t| {
        (t.seconds as i128 * 1_000_000_000 + t.nanos as i128).clamp(0, u64::MAX as i128) as u64
    })
    .unwrap_or(0)
}

fn id<const N: usize>(b: &[u8]) -> Vec<u8> {
    let mut out = [0u8; N];
    let n = b.len().min(N);
    out[N - n..].copy_from_slice(&b[b.len() - n..]);
    out.to_vec()
}

fn http_status(v: &any_value::Value, kind: i32) -> Option<i32> {
    let code = match v {
        any_value::Value::IntValue(i) => *i,
        any_value::Value::StringValue(s) => s.parse().ok()?,
        _ => return None,
    };
    if (400..500).contains(&code) {
        if kind == span::SpanKind::Client as i32 {
            return Some(2);
        }
        if kind == span::SpanKind::Server as i32 {
            return Some(0);
        }
    }
    // Go `tracetranslator.StatusCodeFromHTTP`: 1xx–3xx unset, everything else error.
    Some(if (100..400).contains(&code) { 0 } else { 2 })
}

pub fn status(attrs: &mut Vec<KeyValue>, kind: i32) -> Option<Status> {
    let mut code = 0;
    let mut message = String::new();
    let mut exists = false;
    if let Some(any_value::Value::BoolValue(true)) = get(attrs, "error") {
        code = 2;
        take(attrs, "error");
        exists = true;
        if let Some(d) = take(attrs, "otel.status_description") {
            message = as_str(Some(d));
        } else if let Some(m) = get(attrs, "http.status_message") {
            message = as_str(Some(m.clone()));
        }
    }
    if get(attrs, "otel.status_code").is_some() {
        if !exists {
            exists = true;
            match as_str(get(attrs, "otel.status_code").cloned())
                .to_uppercase()
                .as_str()
            {
                "OK" => code = 1,
                "ERROR" => code = 2,
                _ => {}
            }
            if let Some(d) = take(attrs, "otel.status_description") {
                message = as_str(Some(d));
            }
        }
        take(attrs, "otel.status_code");
    } else if !exists {
        if let Some(c) = get(attrs, "http.status_code").and_then(|v| http_status(v, kind)) {
            if c != 0 {
                exists = true;
                code = c;
            }
            if let Some(m) = get(attrs, "http.status_message") {
                message = as_str(Some(m.clone()));
            }
        }
    }
    exists.then_some(Status { message, code })
}

fn to_span(s: &model::Span) -> Span {
    let mut out = Span {
        trace_id: id::<16>(&s.trace_id),
        span_id: id::<8>(&s.span_id),
        name: s.operation_name.clone(),
        ..Default::default()
    };
    out.start_time_unix_nano = nanos(s.start_time.as_ref());
    let d = s
        .duration
        .as_ref()
        .map(|d| d.seconds as i128 * 1_000_000_000 + d.nanos as i128)
        .unwrap_or(0);
    out.end_time_unix_nano =
        (out.start_time_unix_nano as i128 + d).clamp(0, u64::MAX as i128) as u64;
    let parent = s
        .references
        .iter()
        .find(|r| {
            r.ref_type == SpanRefType::ChildOf as i32 && id::<16>(&r.trace_id) == out.trace_id
        })
        .map(|r| id::<8>(&r.span_id))
        .filter(|p| p.iter().any(|b| *b != 0));
    if let Some(p) = &parent {
        out.parent_span_id = p.clone();
    }
    let mut attrs = Vec::new();
    tags(&s.tags, &mut attrs);
    if let Some(k) = take(&mut attrs, "span.kind") {
        out.kind = span_kind(&as_str(Some(k)));
    }
    out.status = status(&mut attrs, out.kind);
    if let Some(ts) = take(&mut attrs, "w3c.tracestate") {
        out.trace_state = as_str(Some(ts));
    }
    out.attributes = attrs;
    for l in &s.logs {
        let mut ev = span::Event {
            time_unix_nano: nanos(l.timestamp.as_ref()),
            ..Default::default()
        };
        tags(&l.fields, &mut ev.attributes);
        if let Some(n) = take(&mut ev.attributes, "event") {
            ev.name = as_str(Some(n));
        }
        out.events.push(ev);
    }
    let parent_id = parent.unwrap_or_else(|| vec![0; 8]);
    for r in &s.references {
        let child_of = r.ref_type == SpanRefType::ChildOf as i32;
        if child_of && id::<8>(&r.span_id) == parent_id {
            continue;
        }
        let mut link = span::Link {
            trace_id: id::<16>(&r.trace_id),
            span_id: id::<8>(&r.span_id),
            ..Default::default()
        };
        put(
            &mut link.attributes,
            "opentracing.ref_type",
            any_value::Value::StringValue(
                if child_of { "child_of" } else { "follows_from" }.into(),
            ),
        );
        out.links.push(link);
    }
    out
}

/// The scope tags, removed from the span's tags (Go `getScope`).
fn scope_of(s: &mut model::Span) -> (String, String) {
    let mut take_tag = |key: &str| {
        let i = s.tags.iter().position(|t| t.key == key)?;
        Some(s.tags.remove(i).v_str)
    };
    match take_tag("otel.scope.name") {
        Some(name) => {
            let version = take_tag("otel.scope.version").unwrap_or_default();
            (name, version)
        }
        None => (String::new(), String::new()),
    }
}

/// Go `ProtoToTraces` (regrouped by process in first-seen order, where Go's map order is
/// random).
pub fn to_otlp(batches: &[model::Batch]) -> ExportTraceServiceRequest {
    let mut groups: Vec<(Option<model::Process>, Vec<model::Span>)> = Vec::new();
    let mut group_for = |p: Option<&model::Process>| -> usize {
        match groups.iter().position(|(q, _)| q.as_ref() == p) {
            Some(i) => i,
            None => {
                groups.push((p.cloned(), Vec::new()));
                groups.len() - 1
            }
        }
    };
    let mut placed: Vec<(usize, model::Span)> = Vec::new();
    for b in batches {
        let g = group_for(b.process.as_ref());
        for s in &b.spans {
            let g = match &s.process {
                None => g,
                Some(p) => group_for(Some(p)),
            };
            placed.push((g, s.clone()));
        }
    }
    for (g, s) in placed {
        groups[g].1.push(s);
    }
    let mut out = ExportTraceServiceRequest::default();
    for (process, spans) in groups {
        if process.is_none() && spans.is_empty() {
            continue;
        }
        let mut rs = ResourceSpans {
            resource: Some(resource(process.as_ref())),
            ..Default::default()
        };
        for mut s in spans {
            if s == model::Span::default() {
                continue;
            }
            let (name, version) = scope_of(&mut s);
            let span = to_span(&s);
            let i = match rs.scope_spans.iter().position(|ss| {
                let sc = ss.scope.as_ref();
                sc.map(|x| x.name.as_str()) == Some(&name)
                    && sc.map(|x| x.version.as_str()) == Some(&version)
            }) {
                Some(i) => i,
                None => {
                    rs.scope_spans.push(ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name,
                            version,
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                    rs.scope_spans.len() - 1
                }
            };
            rs.scope_spans[i].spans.push(span);
        }
        out.resource_spans.push(rs);
    }
    out
}
