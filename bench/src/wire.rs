//! Counting items in an OTLP export request without decoding it into structs: a validating
//! walk of the protobuf wire format down to the spans, log records and data points, which
//! also yields a key per item for duplicate detection. It keeps the sink cheap, so the sink
//! is not what limits a benchmark.

use std::hash::{DefaultHasher, Hasher};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric;
use prost::Message;

use crate::payload::Encoding;
use crate::Signal;

/// What a request holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Spans, log records or data points.
    pub items: u64,
    /// One key per span (trace and span id) or log record (its content but the observed
    /// time); none for metrics.
    pub keys: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

fn err(msg: &str) -> WireError {
    WireError(msg.to_string())
}

#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    I64(u64),
    Len(&'a [u8]),
    I32(u32),
}

struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, pos: 0 }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| err("truncated varint"))?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(err("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| err("truncated field"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 {
            return Err(err("field number 0"));
        }
        let value = match tag & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Value::I64(u64::from_le_bytes(b.try_into().map_err(|_| err("i64"))?))
            }
            2 => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| err("length too large"))?;
                Value::Len(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::I32(u32::from_le_bytes(b.try_into().map_err(|_| err("i32"))?))
            }
            _ => return Err(err("unsupported wire type")),
        };
        Ok(Some((number, value)))
    }

    /// Call `f` with every length-delimited field `number`.
    fn each_len(
        buf: &'a [u8],
        number: u64,
        mut f: impl FnMut(&'a [u8]) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let mut it = fields(buf);
        while let Some((n, v)) = it.next_field()? {
            if n == number {
                match v {
                    Value::Len(b) => f(b)?,
                    _ => return Err(err("wrong wire type for a message field")),
                }
            }
        }
        Ok(())
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    w[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(w)
}

/// The duplicate-detection key of a span.
pub fn span_key(trace_id: &[u8], span_id: &[u8]) -> u64 {
    let t = splitmix(word(trace_id) ^ splitmix(word(trace_id.get(8..).unwrap_or(&[]))));
    splitmix(word(span_id) ^ t)
}

/// Keys of a different stream (the `x-bench-branch` header) never collide with another's.
pub fn branch_key(key: u64, branch: u64) -> u64 {
    if branch == 0 {
        key
    } else {
        splitmix(key ^ branch)
    }
}

fn hash_value(h: &mut DefaultHasher, number: u64, v: Value<'_>) {
    h.write_u64(number);
    match v {
        Value::Varint(x) | Value::I64(x) => h.write_u64(x),
        Value::I32(x) => h.write_u32(x),
        Value::Len(b) => h.write(b),
    }
}

/// Count the items of a protobuf-encoded export request (and their keys if `keys`).
pub fn scan_proto(signal: Signal, body: &[u8], keys: bool) -> Result<Scan, WireError> {
    let mut scan = Scan::default();
    match signal {
        Signal::Traces => Fields::each_len(body, 1, |rs| {
            Fields::each_len(rs, 2, |ss| {
                Fields::each_len(ss, 2, |span| {
                    scan.items += 1;
                    let mut trace: &[u8] = &[];
                    let mut id: &[u8] = &[];
                    let mut it = fields(span);
                    while let Some((n, v)) = it.next_field()? {
                        match (n, v) {
                            (1, Value::Len(b)) => trace = b,
                            (2, Value::Len(b)) => id = b,
                            _ => {}
                        }
                    }
                    if keys {
                        scan.keys.push(span_key(trace, id));
                    }
                    Ok(())
                })
            })
        })?,
        Signal::Logs => Fields::each_len(body, 1, |rl| {
            Fields::each_len(rl, 2, |sl| {
                Fields::each_len(sl, 2, |rec| {
                    scan.items += 1;
                    let mut h = DefaultHasher::new();
                    let mut it = fields(rec);
                    while let Some((n, v)) = it.next_field()? {
                        // observed_time_unix_nano (11) differs between two deliveries of
                        // the same record.
                        if n != 11 && keys {
                            hash_value(&mut h, n, v);
                        }
                    }
                    if keys {
                        scan.keys.push(h.finish());
                    }
                    Ok(())
                })
            })
        })?,
        Signal::Metrics => Fields::each_len(body, 1, |rm| {
            Fields::each_len(rm, 2, |sm| {
                Fields::each_len(sm, 2, |m| {
                    let mut it = fields(m);
                    while let Some((n, v)) = it.next_field()? {
                        // gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11:
                        // each holds its data points in field 1.
                        if matches!(n, 5 | 7 | 9 | 10 | 11) {
                            let Value::Len(data) = v else {
                                return Err(err("wrong wire type for metric data"));
                            };
                            Fields::each_len(data, 1, |_| {
                                scan.items += 1;
                                Ok(())
                            })?;
                        }
                    }
                    Ok(())
                })
            })
        })?,
    }
    Ok(scan)
}

/// Count the items of an OTLP/JSON export request (decoded with `opentelemetry-proto`'s
/// serde impls; the keys are those of its protobuf form).
pub fn scan_json(signal: Signal, body: &[u8], keys: bool) -> Result<Scan, WireError> {
    let bad = |e: serde_json::Error| WireError(format!("invalid OTLP/JSON: {e}"));
    let proto = match signal {
        Signal::Traces => serde_json::from_slice::<ExportTraceServiceRequest>(body)
            .map_err(bad)?
            .encode_to_vec(),
        Signal::Logs => serde_json::from_slice::<ExportLogsServiceRequest>(body)
            .map_err(bad)?
            .encode_to_vec(),
        Signal::Metrics => {
            let req = serde_json::from_slice::<ExportMetricsServiceRequest>(body).map_err(bad)?;
            let mut items = 0u64;
            for rm in &req.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        items += match &m.data {
                            Some(metric::Data::Gauge(g)) => g.data_points.len(),
                            Some(metric::Data::Sum(s)) => s.data_points.len(),
                            Some(metric::Data::Histogram(h)) => h.data_points.len(),
                            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
                            Some(metric::Data::Summary(s)) => s.data_points.len(),
                            None => 0,
                        } as u64;
                    }
                }
            }
            return Ok(Scan {
                items,
                keys: Vec::new(),
            });
        }
    };
    scan_proto(signal, &proto, keys)
}

/// What a request's (decompressed) body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// An OTLP export request.
    Otlp(Encoding),
    /// Loki's push request (`logproto.PushRequest`, protobuf): its entries are the items.
    LokiPush,
    /// Prometheus remote write 1.0 (`prometheus.WriteRequest`): its samples and native
    /// histogram samples are the items, but those of `target_info` series (the resource,
    /// one per resource and request, which no OTLP item stands for).
    RemoteWrite,
}

/// Count the items of a request.
pub fn count(signal: Signal, body: Body, bytes: &[u8], keys: bool) -> Result<Scan, WireError> {
    match body {
        Body::Otlp(Encoding::Proto) => scan_proto(signal, bytes, keys),
        Body::Otlp(Encoding::Json) => scan_json(signal, bytes, keys),
        Body::LokiPush => scan_loki_push(bytes, keys),
        Body::RemoteWrite => scan_remote_write(bytes),
    }
}

/// The entries of a Loki push request (streams 1 { labels 1, entries 2 }), each keyed by
/// its stream's labels and its own bytes.
pub fn scan_loki_push(body: &[u8], keys: bool) -> Result<Scan, WireError> {
    let mut scan = Scan::default();
    Fields::each_len(body, 1, |stream| {
        let mut labels: &[u8] = &[];
        let mut it = fields(stream);
        while let Some((n, v)) = it.next_field()? {
            match (n, v) {
                (1, Value::Len(b)) => labels = b,
                (2, Value::Len(entry)) => {
                    scan.items += 1;
                    if keys {
                        let mut h = DefaultHasher::new();
                        h.write(labels);
                        h.write(entry);
                        scan.keys.push(h.finish());
                    }
                }
                (1 | 2, _) => return Err(err("wrong wire type in a stream")),
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(scan)
}

/// The samples of a remote write request (timeseries 1 { labels 1 { name 1, value 2 },
/// samples 2, histograms 4 }) but those of `target_info`.
pub fn scan_remote_write(body: &[u8]) -> Result<Scan, WireError> {
    let mut scan = Scan::default();
    Fields::each_len(body, 1, |series| {
        let (mut samples, mut target_info) = (0, false);
        let mut it = fields(series);
        while let Some((n, v)) = it.next_field()? {
            match (n, v) {
                (1, Value::Len(label)) => {
                    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
                    let mut it = fields(label);
                    while let Some((n, v)) = it.next_field()? {
                        match (n, v) {
                            (1, Value::Len(b)) => name = b,
                            (2, Value::Len(b)) => value = b,
                            _ => {}
                        }
                    }
                    target_info |= name == b"__name__" && value == b"target_info";
                }
                (2 | 4, Value::Len(_)) => samples += 1,
                (1 | 2 | 4, _) => return Err(err("wrong wire type in a time series")),
                _ => {}
            }
        }
        if !target_info {
            scan.items += samples;
        }
        Ok(())
    })?;
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_bodies_are_errors_not_panics() {
        let t = crate::payload::Template::new(&Default::default(), Encoding::Proto).unwrap();
        let mut body = Vec::new();
        t.render(0, 0, &mut body);
        assert_eq!(scan_proto(Signal::Traces, &body, true).unwrap().items, 100);
        for cut in [1, 2, 10, body.len() / 2, body.len() - 1] {
            assert!(
                scan_proto(Signal::Traces, &body[..cut], true).is_err(),
                "{cut}"
            );
        }
        assert!(scan_proto(Signal::Traces, &[0xff; 20], true).is_err());
        assert_eq!(
            scan_proto(Signal::Logs, &[], true).unwrap(),
            Scan::default()
        );
    }

    #[test]
    fn log_key_ignores_observed_time() {
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        let req = |observed: u64| {
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![LogRecord {
                            time_unix_nano: 5,
                            observed_time_unix_nano: observed,
                            severity_text: "INFO".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec()
        };
        let a = scan_proto(Signal::Logs, &req(1), true).unwrap();
        let b = scan_proto(Signal::Logs, &req(2), true).unwrap();
        assert_eq!(a.items, 1);
        assert_eq!(a.keys, b.keys);
    }

    /// A length-delimited field `number` holding `payload`.
    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_key(
            number as u32,
            prost::encoding::WireType::LengthDelimited,
            &mut out,
        );
        prost::encoding::encode_varint(payload.len() as u64, &mut out);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn loki_entries_are_counted_and_keyed_by_stream() {
        let entry = |line: &str| field(2, &field(2, line.as_bytes()));
        let stream = |labels: &str, lines: &[&str]| {
            let mut s = field(1, labels.as_bytes());
            lines.iter().for_each(|l| s.extend(entry(l)));
            field(1, &s)
        };
        let mut body = stream("{level=\"info\"}", &["a", "b", "c"]);
        body.extend(stream("{level=\"error\"}", &["a"]));
        let scan = scan_loki_push(&body, true).unwrap();
        assert_eq!(scan.items, 4);
        assert_eq!(scan.keys.len(), 4);
        assert_ne!(scan.keys[0], scan.keys[3], "the same line in two streams");
        assert!(scan_loki_push(&body[..body.len() - 1], false).is_err());
    }

    #[test]
    fn remote_write_samples_are_counted_but_target_info_s() {
        let label = |n: &str, v: &str| {
            let mut l = field(1, n.as_bytes());
            l.extend(field(2, v.as_bytes()));
            field(1, &l)
        };
        let series = |name: &str, samples: usize, histograms: usize| {
            let mut s = label("__name__", name);
            s.extend(label("job", "api"));
            (0..samples).for_each(|_| s.extend(field(2, &[9, 0, 0, 0, 0, 0, 0, 240, 63])));
            (0..histograms).for_each(|_| s.extend(field(4, &[])));
            field(1, &s)
        };
        let mut body = series("http_requests_total", 3, 0);
        body.extend(series("target_info", 1, 0));
        body.extend(series("latency", 0, 2));
        body.extend(field(3, b"metadata"));
        assert_eq!(scan_remote_write(&body).unwrap().items, 5);
        assert!(scan_remote_write(&body[..body.len() - 3]).is_err());
    }
}
