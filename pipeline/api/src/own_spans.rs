//! The collector's own spans (`service.telemetry.traces`): what Go's collector traces about
//! itself, made the same way. A receiver's operation (`receiver/<id>/TraceDataReceived`), the
//! HTTP or gRPC request around it, the exporter's enqueue and send
//! (`exporter/enqueue`, `exporter/<id>/<signal>`) become spans, exported by the runtime's
//! own-traces exporter. When no traces exporter is configured every call here is a load of
//! one atomic and nothing else.
//!
//! The current span travels in a task-local ([`in_span`]), so an exporter called inside a
//! receiver's `consume` (no queue in between) becomes a child of the receiver's span, as a Go
//! `context.Context` would carry it; a queue carries the enqueue span's context with the item.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, Span, Status};

/// `SpanFlags`: the W3C sampled flag, and whether the parent is known to be remote.
const FLAG_SAMPLED: u32 = 0x01;
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// The identity of a span, as a child or a link needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// From another process (a `traceparent` header).
    pub remote: bool,
}

impl SpanContext {
    /// A W3C `traceparent` header (`00-<trace>-<span>-<flags>`); only sampled parents are
    /// returned, since Go's default sampler (parent-based, always on) drops the rest.
    pub fn from_traceparent(header: &str) -> Option<SpanContext> {
        let parts: Vec<&str> = header.trim().split('-').collect();
        if parts.len() < 4 || parts[0].len() != 2 || parts[0] == "ff" {
            return None;
        }
        if parts[0] == "00" && parts.len() != 4 {
            return None;
        }
        let trace_id: [u8; 16] = hex_bytes(parts[1])?;
        let span_id: [u8; 8] = hex_bytes(parts[2])?;
        let flags: [u8; 1] = hex_bytes(parts[3])?;
        if trace_id == [0; 16] || span_id == [0; 8] || flags[0] & 1 == 0 {
            return None;
        }
        Some(SpanContext {
            trace_id,
            span_id,
            remote: true,
        })
    }

    /// A B3 single header (`b3: <trace>-<span>[-<sampled>[-<parent>]]`) or the multi-header
    /// form's trace and span id, as Go's `b3` propagator reads them; a 64-bit trace id is
    /// padded on the left.
    pub fn from_b3(
        single: Option<&str>,
        multi: Option<(&str, &str, Option<&str>)>,
    ) -> Option<Self> {
        let (trace, span, sampled) = match (single, multi) {
            (Some(s), _) => {
                let p: Vec<&str> = s.trim().split('-').collect();
                if p.len() < 2 {
                    return None;
                }
                (p[0], p[1], p.get(2).copied())
            }
            (None, Some((t, s, sampled))) => (t, s, sampled),
            _ => return None,
        };
        if matches!(sampled, Some("0") | Some("false")) {
            return None;
        }
        let trace_id: [u8; 16] = if trace.len() == 16 {
            let low: [u8; 8] = hex_bytes(trace)?;
            let mut id = [0u8; 16];
            id[8..].copy_from_slice(&low);
            id
        } else {
            hex_bytes(trace)?
        };
        let span_id: [u8; 8] = hex_bytes(span)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(SpanContext {
            trace_id,
            span_id,
            remote: true,
        })
    }
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// Where finished spans go: the runtime's own-traces exporter.
pub trait SpanSink: Send + Sync {
    fn emit(&self, scope: &Arc<InstrumentationScope>, span: Span);
}

/// Which propagation headers a server reads (`service.telemetry.traces.propagators`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Propagators {
    pub tracecontext: bool,
    pub b3: bool,
}

/// The process-wide switch and sink; every tracer holds it.
#[derive(Default)]
pub struct SpanHub {
    enabled: AtomicBool,
    sink: RwLock<Option<Arc<dyn SpanSink>>>,
    propagators: RwLock<Propagators>,
}

impl SpanHub {
    /// Send spans to `sink` from now on (`None`: stop tracing).
    pub fn set_sink(&self, sink: Option<Arc<dyn SpanSink>>, propagators: Propagators) {
        let on = sink.is_some();
        *self.sink.write().unwrap_or_else(|p| p.into_inner()) = sink;
        *self.propagators.write().unwrap_or_else(|p| p.into_inner()) = propagators;
        self.enabled.store(on, Ordering::Release);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The headers servers read a parent from; none while tracing is off.
    pub fn propagators(&self) -> Propagators {
        if !self.enabled() {
            return Propagators::default();
        }
        *self.propagators.read().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, scope: &Arc<InstrumentationScope>, span: Span) {
        let sink = self.sink.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            sink.emit(scope, span);
        }
    }
}

/// Spans of one instrumentation scope (a component, or a server library in it).
#[derive(Clone)]
pub struct Tracer {
    hub: Arc<SpanHub>,
    scope: Arc<InstrumentationScope>,
}

impl Tracer {
    pub fn new(hub: Arc<SpanHub>, scope: InstrumentationScope) -> Tracer {
        Tracer {
            hub,
            scope: Arc::new(scope),
        }
    }

    pub fn hub(&self) -> &Arc<SpanHub> {
        &self.hub
    }

    /// Start a span, child of `parent` (or of the task's current span with
    /// [`Tracer::start_in_current`]); `None` while tracing is off.
    pub fn start(
        &self,
        name: &str,
        kind: span::SpanKind,
        parent: Option<SpanContext>,
    ) -> Option<ActiveSpan> {
        if !self.hub.enabled() {
            return None;
        }
        let (trace_id, parent) = match parent {
            Some(p) => (p.trace_id, Some(p)),
            None => (new_trace_id(), None),
        };
        let flags = FLAG_SAMPLED
            | FLAG_HAS_IS_REMOTE
            | if parent.is_some_and(|p| p.remote) {
                FLAG_IS_REMOTE
            } else {
                0
            };
        Some(ActiveSpan {
            tracer: self.clone(),
            span: Span {
                trace_id: trace_id.to_vec(),
                span_id: new_span_id().to_vec(),
                parent_span_id: parent.map(|p| p.span_id.to_vec()).unwrap_or_default(),
                flags,
                name: name.to_string(),
                kind: kind as i32,
                start_time_unix_nano: now_nanos(),
                // unset, written as Go's SDK writes it
                status: Some(Status::default()),
                ..Default::default()
            },
            events: Arc::default(),
        })
    }

    pub fn start_in_current(&self, name: &str, kind: span::SpanKind) -> Option<ActiveSpan> {
        self.start(name, kind, current())
    }
}

/// A span being recorded; [`ActiveSpan::end`] sends it (dropping it unended sends nothing).
pub struct ActiveSpan {
    tracer: Tracer,
    span: Span,
    /// Events added by code running inside it ([`add_event`]).
    events: Arc<Mutex<Vec<span::Event>>>,
}

/// The span a task runs inside of: its identity, and where events added to it go.
#[derive(Clone)]
pub struct Current {
    pub context: SpanContext,
    events: Arc<Mutex<Vec<span::Event>>>,
}

impl ActiveSpan {
    /// What [`in_span`] makes current.
    pub fn current(&self) -> Current {
        Current {
            context: self.context(),
            events: self.events.clone(),
        }
    }

    pub fn context(&self) -> SpanContext {
        let mut trace_id = [0u8; 16];
        trace_id.copy_from_slice(&self.span.trace_id);
        let mut span_id = [0u8; 8];
        span_id.copy_from_slice(&self.span.span_id);
        SpanContext {
            trace_id,
            span_id,
            remote: false,
        }
    }

    /// Mark the parent as remote even without one, as Go's gRPC server spans are (its
    /// instrumentation starts every server span from a context marked remote).
    pub fn mark_parent_remote(&mut self) {
        self.span.flags |= FLAG_IS_REMOTE;
    }

    pub fn set_str(&mut self, key: &str, value: impl Into<String>) {
        self.span
            .attributes
            .push(kv(key, any_value::Value::StringValue(value.into())));
    }

    pub fn set_int(&mut self, key: &str, value: i64) {
        self.span
            .attributes
            .push(kv(key, any_value::Value::IntValue(value)));
    }

    /// An event now, with string or integer attributes.
    pub fn event(&mut self, name: &str, attributes: Vec<KeyValue>) {
        self.span.events.push(span::Event {
            time_unix_nano: now_nanos(),
            name: name.to_string(),
            attributes,
            dropped_attributes_count: 0,
        });
    }

    pub fn link(&mut self, to: SpanContext) {
        self.span.links.push(span::Link {
            trace_id: to.trace_id.to_vec(),
            span_id: to.span_id.to_vec(),
            flags: FLAG_SAMPLED | FLAG_HAS_IS_REMOTE,
            ..Default::default()
        });
    }

    /// Status `Error` with a message (Go `span.SetStatus(codes.Error, msg)`).
    pub fn error(&mut self, message: impl Into<String>) {
        self.span.status = Some(Status {
            message: message.into(),
            code: 2,
        });
    }

    pub fn end(mut self) {
        self.span.end_time_unix_nano = now_nanos();
        let added = std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()));
        self.span.events.extend(added);
        self.span.events.sort_by_key(|e| e.time_unix_nano);
        let ActiveSpan { tracer, span, .. } = self;
        tracer.hub.emit(&tracer.scope, span);
    }
}

/// A string attribute.
pub fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// An integer attribute.
pub fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

tokio::task_local! {
    static CURRENT: Current;
}

/// The span the running task is inside of, if any.
pub fn current() -> Option<SpanContext> {
    CURRENT.try_with(|c| c.context).ok()
}

/// An event on the task's current span (Go `trace.SpanFromContext(ctx).AddEvent`); nothing
/// outside a span.
pub fn add_event(name: &str, attributes: Vec<KeyValue>) {
    let _ = CURRENT.try_with(|c| {
        c.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(span::Event {
                time_unix_nano: now_nanos(),
                name: name.to_string(),
                attributes,
                dropped_attributes_count: 0,
            })
    });
}

/// Run `fut` with `ctx` as the current span (a no-op wrapper when `ctx` is `None`).
pub async fn in_span<F: Future>(ctx: Option<Current>, fut: F) -> F::Output {
    match ctx {
        Some(c) => CURRENT.scope(c, fut).await,
        None => fut.await,
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// 64 random bits: a per-process random hasher over a counter (no id repeats within a
/// process, none predictable across processes).
fn random_u64() -> u64 {
    static STATE: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let mut h = STATE.get_or_init(Default::default).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

fn new_span_id() -> [u8; 8] {
    loop {
        let v = random_u64();
        if v != 0 {
            return v.to_be_bytes();
        }
    }
}

fn new_trace_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&random_u64().to_be_bytes());
    id[8..].copy_from_slice(&new_span_id());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(String, Span)>>);
    impl SpanSink for Collect {
        fn emit(&self, scope: &Arc<InstrumentationScope>, span: Span) {
            self.0.lock().unwrap().push((scope.name.clone(), span));
        }
    }

    #[tokio::test]
    async fn a_span_started_inside_another_is_its_child_and_nothing_is_recorded_when_off() {
        let hub = Arc::new(SpanHub::default());
        let t = Tracer::new(
            hub.clone(),
            InstrumentationScope {
                name: "otlp".into(),
                ..Default::default()
            },
        );
        assert!(t.start("x", span::SpanKind::Internal, None).is_none());
        let sink = Arc::new(Collect::default());
        hub.set_sink(Some(sink.clone()), Propagators::default());
        let outer = t.start("outer", span::SpanKind::Server, None).unwrap();
        in_span(Some(outer.current()), async {
            let mut inner = t
                .start_in_current("inner", span::SpanKind::Internal)
                .unwrap();
            inner.set_int("n", 3);
            inner.end();
            add_event("Sending request.", vec![kv_int("retry_num", 0)]);
        })
        .await;
        add_event("outside every span", Vec::new());
        outer.end();
        let spans = sink.0.lock().unwrap();
        assert_eq!(spans.len(), 2);
        let (inner, outer) = (&spans[0].1, &spans[1].1);
        assert_eq!(inner.name, "inner");
        assert_eq!(inner.trace_id, outer.trace_id);
        assert_eq!(inner.parent_span_id, outer.span_id);
        assert!(outer.parent_span_id.is_empty());
        assert_ne!(inner.span_id, outer.span_id);
        assert_eq!(inner.flags, 0x101);
        assert!(inner.end_time_unix_nano >= inner.start_time_unix_nano);
        assert!(inner.events.is_empty());
        assert_eq!(outer.events.len(), 1);
        assert_eq!(outer.events[0].name, "Sending request.");
    }

    #[test]
    fn traceparent_and_b3_headers_are_read_as_go_reads_them() {
        let c = SpanContext::from_traceparent(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .unwrap();
        assert_eq!(c.trace_id[0], 0x0a);
        assert_eq!(c.span_id[7], 0x31);
        assert!(c.remote);
        // not sampled, bad lengths, zero ids
        for bad in [
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
        ] {
            assert!(SpanContext::from_traceparent(bad).is_none(), "{bad}");
        }
        let b = SpanContext::from_b3(Some("a3ce929d0e0e4736-00f067aa0ba902b7-1"), None).unwrap();
        assert_eq!(&b.trace_id[..8], &[0; 8]);
        assert_eq!(b.span_id[0], 0x00);
        assert_eq!(b.span_id[1], 0xf0);
        assert!(SpanContext::from_b3(Some("a3ce929d0e0e4736-00f067aa0ba902b7-0"), None).is_none());
        assert!(SpanContext::from_b3(
            None,
            Some((
                "80f198ee56343ba864fe8b2a57d3eff7",
                "e457b5a2e4d86bd1",
                Some("1")
            ))
        )
        .is_some());
    }
}
