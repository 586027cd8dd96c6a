//! The Zipkin v2 span model and its two wire forms: JSON (the `zipkin2` JSON API, as
//! `zipkin-go`'s `model.SpanModel` reads and writes it) and protobuf (`zipkin.proto3`'s
//! `ListOfSpans`, hand-declared here).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "CLIENT",
            Kind::Server => "SERVER",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        }
    }
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "CLIENT" => Some(Kind::Client),
            "SERVER" => Some(Kind::Server),
            "PRODUCER" => Some(Kind::Producer),
            "CONSUMER" => Some(Kind::Consumer),
            _ => None,
        }
    }
    fn proto(self) -> i32 {
        match self {
            Kind::Client => 1,
            Kind::Server => 2,
            Kind::Producer => 3,
            Kind::Consumer => 4,
        }
    }
    fn from_proto(v: i32) -> Option<Kind> {
        match v {
            1 => Some(Kind::Client),
            2 => Some(Kind::Server),
            3 => Some(Kind::Producer),
            4 => Some(Kind::Consumer),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub service_name: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Microseconds since the epoch.
    pub timestamp: u64,
    pub value: String,
}

/// One span, whichever wire form it came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZSpan {
    pub trace_id: [u8; 16],
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: Option<Kind>,
    /// Microseconds since the epoch; `None` when absent.
    pub timestamp: Option<u64>,
    /// Microseconds.
    pub duration: u64,
    pub local_endpoint: Option<Endpoint>,
    pub remote_endpoint: Option<Endpoint>,
    pub annotations: Vec<Annotation>,
    pub tags: BTreeMap<String, String>,
    pub debug: bool,
    pub shared: bool,
}

// ---------------------------------------------------------------- JSON

#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
struct JsonAnnotation {
    timestamp: u64,
    value: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local_endpoint: Option<JsonEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remote_endpoint: Option<JsonEndpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<JsonAnnotation>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    debug: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shared: Option<bool>,
}

fn hex_lower(b: &[u8]) -> String {
    const_hex::encode(b)
}

fn parse_hex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    // zipkin-go: an id shorter than its width is left-padded (a 64-bit trace id).
    if s.is_empty() || s.len() > 2 * N || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("invalid {what} {s:?}"));
    }
    let padded = format!("{s:0>width$}", width = 2 * N);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&padded[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("invalid {what} {s:?}"))?;
    }
    Ok(out)
}

fn endpoint_from_json(e: Option<JsonEndpoint>) -> Result<Option<Endpoint>, String> {
    let Some(e) = e else { return Ok(None) };
    let ipv4 = match e.ipv4.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse().map_err(|_| format!("invalid ipv4 {s:?}"))?),
        None => None,
    };
    let ipv6 = match e.ipv6.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse().map_err(|_| format!("invalid ipv6 {s:?}"))?),
        None => None,
    };
    let port = match e.port {
        None => 0,
        Some(p) => u16::try_from(p).map_err(|_| format!("invalid port {p}"))?,
    };
    Ok(Some(Endpoint {
        service_name: e.service_name.unwrap_or_default(),
        ipv4,
        ipv6,
        port,
    }))
}

fn endpoint_to_json(e: &Option<Endpoint>) -> Option<JsonEndpoint> {
    let e = e.as_ref()?;
    Some(JsonEndpoint {
        service_name: Some(e.service_name.clone()).filter(|s| !s.is_empty()),
        ipv4: e.ipv4.map(|ip| ip.to_string()),
        ipv6: e.ipv6.map(|ip| ip.to_string()),
        port: (e.port != 0).then_some(e.port as i64),
    })
}

/// Decode a v2 JSON array of spans.
pub fn from_json(body: &[u8]) -> Result<Vec<ZSpan>, String> {
    let spans: Vec<JsonSpan> =
        serde_json::from_slice(body).map_err(|e| format!("invalid Zipkin v2 JSON: {e}"))?;
    spans
        .into_iter()
        .map(|s| {
            Ok(ZSpan {
                trace_id: parse_hex::<16>(&s.trace_id, "traceId")?,
                id: parse_hex::<8>(&s.id, "id")?,
                parent_id: match s.parent_id.as_deref().filter(|p| !p.is_empty()) {
                    Some(p) => Some(parse_hex::<8>(p, "parentId")?),
                    None => None,
                },
                name: s.name.unwrap_or_default(),
                kind: s.kind.as_deref().and_then(Kind::parse),
                timestamp: s.timestamp.filter(|t| *t != 0),
                duration: s.duration.unwrap_or(0),
                local_endpoint: endpoint_from_json(s.local_endpoint)?,
                remote_endpoint: endpoint_from_json(s.remote_endpoint)?,
                annotations: s
                    .annotations
                    .into_iter()
                    .map(|a| Annotation {
                        timestamp: a.timestamp,
                        value: a.value,
                    })
                    .collect(),
                tags: s.tags,
                debug: s.debug.unwrap_or(false),
                shared: s.shared.unwrap_or(false),
            })
        })
        .collect()
}

/// Encode spans as a v2 JSON array.
pub fn to_json(spans: &[ZSpan]) -> Vec<u8> {
    let out: Vec<JsonSpan> = spans
        .iter()
        .map(|s| JsonSpan {
            trace_id: hex_lower(&s.trace_id),
            id: hex_lower(&s.id),
            parent_id: s.parent_id.map(|p| hex_lower(&p)),
            name: Some(s.name.clone()).filter(|n| !n.is_empty()),
            kind: s.kind.map(|k| k.as_str().to_string()),
            timestamp: s.timestamp,
            duration: (s.duration != 0).then_some(s.duration),
            local_endpoint: endpoint_to_json(&s.local_endpoint),
            remote_endpoint: endpoint_to_json(&s.remote_endpoint),
            annotations: s
                .annotations
                .iter()
                .map(|a| JsonAnnotation {
                    timestamp: a.timestamp,
                    value: a.value.clone(),
                })
                .collect(),
            tags: s.tags.clone(),
            debug: s.debug.then_some(true),
            shared: s.shared.then_some(true),
        })
        .collect();
    serde_json::to_vec(&out).unwrap_or_else(|_| b"[]".to_vec())
}

// ---------------------------------------------------------------- protobuf

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbEndpoint {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbAnnotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub kind: i32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<PbEndpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<PbEndpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<PbAnnotation>,
    #[prost(map = "string, string", tag = "11")]
    pub tags: std::collections::HashMap<String, String>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<PbSpan>,
}

fn id_bytes<const N: usize>(b: &[u8], what: &str) -> Result<[u8; N], String> {
    if b.is_empty() || b.len() > N {
        return Err(format!("invalid {what} of {} bytes", b.len()));
    }
    let mut out = [0u8; N];
    out[N - b.len()..].copy_from_slice(b);
    Ok(out)
}

fn endpoint_from_pb(e: Option<PbEndpoint>) -> Result<Option<Endpoint>, String> {
    let Some(e) = e else { return Ok(None) };
    let ipv4 = match e.ipv4.len() {
        0 => None,
        4 => Some(Ipv4Addr::new(e.ipv4[0], e.ipv4[1], e.ipv4[2], e.ipv4[3])),
        n => return Err(format!("invalid ipv4 of {n} bytes")),
    };
    let ipv6 = match e.ipv6.len() {
        0 => None,
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&e.ipv6);
            Some(Ipv6Addr::from(a))
        }
        n => return Err(format!("invalid ipv6 of {n} bytes")),
    };
    Ok(Some(Endpoint {
        service_name: e.service_name,
        ipv4,
        ipv6,
        port: u16::try_from(e.port).map_err(|_| format!("invalid port {}", e.port))?,
    }))
}

fn endpoint_to_pb(e: &Option<Endpoint>) -> Option<PbEndpoint> {
    let e = e.as_ref()?;
    Some(PbEndpoint {
        service_name: e.service_name.clone(),
        ipv4: e.ipv4.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
        ipv6: e.ipv6.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
        port: e.port as i32,
    })
}

/// Decode a protobuf `ListOfSpans`; `debug` marks every span (Go: the `X-B3-Flags: 1`
/// header).
pub fn from_proto(body: &[u8], debug: bool) -> Result<Vec<ZSpan>, String> {
    use prost::Message;
    let list = ListOfSpans::decode(body).map_err(|e| format!("invalid Zipkin v2 protobuf: {e}"))?;
    list.spans
        .into_iter()
        .map(|s| {
            Ok(ZSpan {
                trace_id: id_bytes::<16>(&s.trace_id, "trace_id")?,
                id: id_bytes::<8>(&s.id, "id")?,
                parent_id: if s.parent_id.is_empty() {
                    None
                } else {
                    Some(id_bytes::<8>(&s.parent_id, "parent_id")?)
                },
                name: s.name,
                kind: Kind::from_proto(s.kind),
                timestamp: Some(s.timestamp).filter(|t| *t != 0),
                duration: s.duration,
                local_endpoint: endpoint_from_pb(s.local_endpoint)?,
                remote_endpoint: endpoint_from_pb(s.remote_endpoint)?,
                annotations: s
                    .annotations
                    .into_iter()
                    .map(|a| Annotation {
                        timestamp: a.timestamp,
                        value: a.value,
                    })
                    .collect(),
                tags: s.tags.into_iter().collect(),
                debug: s.debug || debug,
                shared: s.shared,
            })
        })
        .collect()
}

/// Encode spans as a protobuf `ListOfSpans`.
pub fn to_proto(spans: &[ZSpan]) -> Vec<u8> {
    use prost::Message;
    ListOfSpans {
        spans: spans
            .iter()
            .map(|s| PbSpan {
                trace_id: s.trace_id.to_vec(),
                parent_id: s.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
                id: s.id.to_vec(),
                kind: s.kind.map(Kind::proto).unwrap_or(0),
                name: s.name.clone(),
                timestamp: s.timestamp.unwrap_or(0),
                duration: s.duration,
                local_endpoint: endpoint_to_pb(&s.local_endpoint),
                remote_endpoint: endpoint_to_pb(&s.remote_endpoint),
                annotations: s
                    .annotations
                    .iter()
                    .map(|a| PbAnnotation {
                        timestamp: a.timestamp,
                        value: a.value.clone(),
                    })
                    .collect(),
                tags: s.tags.clone().into_iter().collect(),
                debug: s.debug,
                shared: s.shared,
            })
            .collect(),
    }
    .encode_to_vec()
}
