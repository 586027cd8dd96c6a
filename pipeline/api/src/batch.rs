//! [`Batch`]: one signal's data as it flows through a pipeline.
//!
//! A batch is cheap to clone (the data is shared behind an `Arc`), and copy-on-write when a
//! processor edits it, so fan-out to several branches copies nothing unless a branch mutates.
//!
//! Components use its methods, never its representation. A batch holds one of two forms and
//! hides which:
//! - the wire form: the OTLP protobuf bytes of the export request as received, checked by
//!   [`crate::wire::scan`] (which guarantees they decode) and counted, but not decoded;
//! - the decoded form: `opentelemetry-proto` structs.
//!
//! Data that only passes through (receiver → batch → OTLP exporter) stays in the wire form:
//! batching joins the requests' bytes as a list of chunks without copying them (a
//! concatenation of `Export*ServiceRequest` encodings is the encoding of one request holding
//! all their resources) and the exporter writes them out as they came. The first reader of the fields ([`Batch::data`]) decodes once, and the
//! decoded form is shared by every clone; an edit drops the wire form.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

use crate::attrs::AttrMap;
use crate::encode;
use crate::heap::HeapSize;
use crate::ids::{ComponentId, Signal};
use crate::memory::{MemoryBudget, MemoryPermit};
use crate::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use crate::proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics, ScopeMetrics};
use crate::proto::tonic::resource::v1::Resource;
use crate::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use crate::wire::{self, WireError};
use crate::wire_edit::WireAttrs;

/// Where a request came from: client metadata (headers, lower-case keys) when the receiver
/// has `include_metadata`, the peer address, and the receiver that accepted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub metadata: Vec<(String, String)>,
    pub client_address: Option<SocketAddr>,
    pub receiver: Option<ComponentId>,
}

impl RequestContext {
    /// Every value of metadata key `key` (case-insensitive).
    pub fn metadata_values(&self, key: &str) -> Vec<&str> {
        self.metadata
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The data of one batch, one variant per signal.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchData {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

/// A mutable view handed to [`Batch::edit`].
pub type BatchDataMut<'a> = &'a mut BatchData;

impl BatchData {
    pub fn signal(&self) -> Signal {
        match self {
            BatchData::Traces(_) => Signal::Traces,
            BatchData::Metrics(_) => Signal::Metrics,
            BatchData::Logs(_) => Signal::Logs,
        }
    }

    /// Spans, metric data points or log records, as the Go collector counts them.
    pub fn count_items(&self) -> usize {
        match self {
            BatchData::Traces(r) => r.resource_spans.iter().map(Splittable::count).sum(),
            BatchData::Metrics(r) => r.resource_metrics.iter().map(Splittable::count).sum(),
            BatchData::Logs(r) => r.resource_logs.iter().map(Splittable::count).sum(),
        }
    }

    pub fn empty(signal: Signal) -> BatchData {
        match signal {
            Signal::Traces => BatchData::Traces(Default::default()),
            Signal::Metrics => BatchData::Metrics(Default::default()),
            Signal::Logs => BatchData::Logs(Default::default()),
        }
    }

    /// The same bytes as prost's `encode`, with each item's lengths computed once
    /// ([`crate::encode`]).
    fn encode_to(&self, buf: &mut impl BufMut) {
        match self {
            BatchData::Traces(r) => encode::encode_request(&r.resource_spans, buf),
            BatchData::Metrics(r) => encode::encode_request(&r.resource_metrics, buf),
            BatchData::Logs(r) => encode::encode_request(&r.resource_logs, buf),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            BatchData::Traces(r) => encode::encoded_len_request(&r.resource_spans),
            BatchData::Metrics(r) => encode::encoded_len_request(&r.resource_metrics),
            BatchData::Logs(r) => encode::encoded_len_request(&r.resource_logs),
        }
    }

    /// Decode chunks that [`wire::scan`] accepted, each an export request, into one request.
    fn decode_chunks(signal: Signal, chunks: &[Bytes]) -> BatchData {
        let mut data = BatchData::empty(signal);
        for chunk in chunks {
            match (&mut data, BatchData::decode_scanned(signal, chunk)) {
                (BatchData::Traces(a), BatchData::Traces(b)) if a.resource_spans.is_empty() => {
                    *a = b
                }
                (BatchData::Traces(a), BatchData::Traces(b)) => {
                    a.resource_spans.extend(b.resource_spans)
                }
                (BatchData::Metrics(a), BatchData::Metrics(b)) => {
                    a.resource_metrics.extend(b.resource_metrics)
                }
                (BatchData::Logs(a), BatchData::Logs(b)) => a.resource_logs.extend(b.resource_logs),
                _ => {}
            }
        }
        data
    }

    /// Decode bytes that [`wire::scan`] accepted.
    fn decode_scanned(signal: Signal, bytes: &[u8]) -> BatchData {
        let decoded = match signal {
            Signal::Traces => ExportTraceServiceRequest::decode(bytes).map(BatchData::Traces),
            Signal::Metrics => ExportMetricsServiceRequest::decode(bytes).map(BatchData::Metrics),
            Signal::Logs => ExportLogsServiceRequest::decode(bytes).map(BatchData::Logs),
        };
        decoded.unwrap_or_else(|e| {
            // The scan accepts only what decodes (tested against prost with mutated
            // requests); should the two ever disagree, the batch reads as empty and says so.
            tracing::error!(%signal, bytes = bytes.len(), error = %e, "Checked OTLP bytes failed to decode; their items are lost. This is a bug.");
            BatchData::empty(signal)
        })
    }
}

/// What a batch shares between its clones: the wire bytes and/or the decoded structs.
#[derive(Debug, Clone)]
struct Payload {
    signal: Signal,
    /// The encoded export request, while nothing has edited the data: chunks that are each
    /// an encoded request, whose concatenation is the encoding of the whole.
    wire: Option<Vec<Bytes>>,
    /// The decoded request, made on first read when the batch arrived as bytes.
    decoded: OnceLock<BatchData>,
    /// The encoded length of the decoded form, computed once (every queue of a fan-out and
    /// the exporter ask for it); reset by `edit`.
    decoded_len: OnceLock<usize>,
    /// The heap the decoded form takes (the memory budget's charge), computed once; reset
    /// with `decoded_len`.
    heap_len: OnceLock<usize>,
    /// What this data holds against the memory budget, shared by every queue that keeps it
    /// (a fan-out to three exporters holds the data once, so it is counted once).
    charge: Charge,
}

/// Recognizes the data of one batch and its clones, as [`Batch::shares_data_with`] does,
/// without keeping it: the data is freed with its last batch, and while this handle lives
/// the address cannot be reused, so no later batch is ever taken for that one.
#[derive(Debug, Clone)]
pub struct DataIdentity(Weak<Payload>);

impl DataIdentity {
    /// Whether `batch` holds that data.
    pub fn is(&self, batch: &Batch) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&batch.data))
    }

    /// Whether a batch still holds that data.
    pub fn is_live(&self) -> bool {
        self.0.strong_count() > 0
    }
}

/// A payload's memory charge. A copy of the payload (copy-on-write) is new data with no
/// charge of its own yet.
#[derive(Debug, Default)]
struct Charge(Mutex<Weak<MemoryPermit>>);

impl Clone for Charge {
    fn clone(&self) -> Self {
        Charge::default()
    }
}

impl Payload {
    /// New data in the wire form: nothing decoded, its own length and memory charge.
    fn wire(signal: Signal, chunks: Vec<Bytes>) -> Payload {
        Payload {
            signal,
            wire: Some(chunks),
            decoded: OnceLock::new(),
            decoded_len: OnceLock::new(),
            heap_len: OnceLock::new(),
            charge: Charge::default(),
        }
    }

    fn decoded(data: BatchData) -> Payload {
        Payload {
            signal: data.signal(),
            wire: None,
            decoded: OnceLock::from(data),
            decoded_len: OnceLock::new(),
            heap_len: OnceLock::new(),
            charge: Charge::default(),
        }
    }

    fn get(&self) -> &BatchData {
        self.decoded.get_or_init(|| match &self.wire {
            Some(w) => BatchData::decode_chunks(self.signal, w),
            None => BatchData::empty(self.signal),
        })
    }

    fn into_data(mut self) -> BatchData {
        match self.decoded.take() {
            Some(d) => d,
            None => match &self.wire {
                Some(w) => BatchData::decode_chunks(self.signal, w),
                None => BatchData::empty(self.signal),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Batch {
    data: Arc<Payload>,
    items: usize,
    context: Arc<RequestContext>,
}

impl PartialEq for Batch {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
    }
}

/// Received requests shorter than this are copied by [`Batch::from_wire`] rather than kept
/// as a slice of the receive buffer they arrived in. Longer ones fill most of their buffer
/// (the transports size it to the message), and copying them would cost CPU for nothing.
pub const COPY_WIRE_BELOW: usize = 32 * 1024;

impl Batch {
    pub fn new(data: BatchData, context: RequestContext) -> Batch {
        Batch::with_context(data, Arc::new(context))
    }

    fn with_context(data: BatchData, context: Arc<RequestContext>) -> Batch {
        let items = data.count_items();
        Batch {
            data: Arc::new(Payload::decoded(data)),
            items,
            context,
        }
    }

    pub fn from_traces(req: ExportTraceServiceRequest) -> Batch {
        Batch::new(BatchData::Traces(req), RequestContext::default())
    }

    pub fn from_metrics(req: ExportMetricsServiceRequest) -> Batch {
        Batch::new(BatchData::Metrics(req), RequestContext::default())
    }

    pub fn from_logs(req: ExportLogsServiceRequest) -> Batch {
        Batch::new(BatchData::Logs(req), RequestContext::default())
    }

    /// An empty batch of a signal.
    pub fn empty(signal: Signal) -> Batch {
        Batch::new(BatchData::empty(signal), RequestContext::default())
    }

    /// Keep OTLP protobuf bytes of an export request of `signal` as they are, after checking
    /// that they decode (and that trace and span ids have their lengths) and counting items.
    ///
    /// A request shorter than [`COPY_WIRE_BELOW`] is kept as a copy of its own: received
    /// bytes are a slice of the transport's receive buffer (the gRPC receiver's decode
    /// buffer, up to twice a message that came in one frame; an HTTP read buffer), and a
    /// slice keeps its whole buffer alive for as long as the batch lives, which for small
    /// requests waiting in `batch` is up to several times their size.
    ///
    /// A request with an unknown field that is a group (no OpenTelemetry SDK writes one) is
    /// decoded at once, dropping its unknown fields as prost and Go's pdata do: the walks of
    /// the wire form (`wire_edit`, `wire_items`) do not read groups, and a walk that stopped
    /// halfway would have run its callbacks, with their counts, on part of the request.
    pub fn from_wire(
        signal: Signal,
        bytes: Bytes,
        context: RequestContext,
    ) -> Result<Batch, WireError> {
        let scanned = wire::scan_detail(signal, &bytes)?;
        if scanned.groups {
            let data = BatchData::decode_chunks(signal, &[bytes]);
            return Ok(Batch::new(data, context));
        }
        let items = scanned.items;
        let bytes = if bytes.len() < COPY_WIRE_BELOW {
            Bytes::copy_from_slice(&bytes)
        } else {
            bytes
        };
        Ok(Batch::wire(signal, bytes, items, context))
    }

    /// OTLP protobuf bytes of an export request of `signal` that this process encoded, with
    /// the `items` it encoded counted, kept as they are without the scan of
    /// [`Batch::from_wire`]. Only for an encoder whose output is tested (and fuzzed) to be
    /// prost's encoding of the request and to pass that scan with `items` items: debug
    /// builds still scan, and check the count.
    pub fn from_encoded(signal: Signal, bytes: Bytes, items: usize) -> Batch {
        debug_assert_eq!(
            wire::scan(signal, &bytes).ok(),
            Some(items),
            "encoded {signal} bytes fail the wire scan or hold another count"
        );
        Batch::wire(signal, bytes, items, RequestContext::default())
    }

    fn wire(signal: Signal, bytes: Bytes, items: usize, context: RequestContext) -> Batch {
        Batch {
            data: Arc::new(Payload::wire(signal, vec![bytes])),
            items,
            context: Arc::new(context),
        }
    }

    /// [`Batch::from_wire`] with a copy of `bytes`.
    pub fn decode(
        signal: Signal,
        bytes: &[u8],
        context: RequestContext,
    ) -> Result<Batch, WireError> {
        Batch::from_wire(signal, Bytes::copy_from_slice(bytes), context)
    }

    /// The OTLP protobuf encoding of the export request.
    pub fn encode(&self) -> Vec<u8> {
        match &self.data.wire {
            Some(w) => w.concat(),
            None => {
                let d = self.get_decoded();
                let mut v = Vec::with_capacity(d.encoded_len());
                d.encode_to(&mut v);
                v
            }
        }
    }

    /// The OTLP protobuf encoding of the export request, without a copy when the batch
    /// still holds the bytes it was received as.
    pub fn encode_bytes(&self) -> Bytes {
        match self.data.wire.as_deref() {
            Some([one]) => one.clone(),
            Some(chunks) => {
                let mut buf = BytesMut::with_capacity(self.encoded_len());
                for c in chunks {
                    buf.put_slice(c);
                }
                buf.freeze()
            }
            None => {
                let d = self.get_decoded();
                let mut buf = BytesMut::with_capacity(d.encoded_len());
                d.encode_to(&mut buf);
                buf.freeze()
            }
        }
    }

    /// Write the OTLP protobuf encoding of the export request into `buf`.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        match &self.data.wire {
            Some(w) => {
                for c in w {
                    buf.put_slice(c);
                }
            }
            None => self.get_decoded().encode_to(buf),
        }
    }

    /// The memory the batch's data takes, what the memory budget charges for it: the bytes
    /// of its wire form, plus the heap of its decoded form once it has one (computed once).
    /// A decoded batch takes several times its encoded length (`heap`).
    pub fn memory_size(&self) -> usize {
        let wire = self
            .data
            .wire
            .as_ref()
            .map_or(0, |w| w.iter().map(Bytes::len).sum());
        let decoded = self.data.decoded.get().map_or(0, |d| {
            *self.data.heap_len.get_or_init(|| {
                std::mem::size_of::<BatchData>()
                    + match d {
                        BatchData::Traces(r) => r.heap_size(),
                        BatchData::Metrics(r) => r.heap_size(),
                        BatchData::Logs(r) => r.heap_size(),
                    }
            })
        });
        wire + decoded
    }

    /// Size of the protobuf encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        match &self.data.wire {
            Some(w) => w.iter().map(Bytes::len).sum(),
            None => *self
                .data
                .decoded_len
                .get_or_init(|| self.get_decoded().encoded_len()),
        }
    }

    /// The memory this batch's data holds against `budget`, shared by every holder of the same
    /// data (clones of one batch): reserved by `reserve` only when no holder has it yet.
    /// `None` when `reserve` finds no room.
    pub fn memory_charge(
        &self,
        budget: &MemoryBudget,
        reserve: impl FnOnce() -> Option<MemoryPermit>,
    ) -> Option<Arc<MemoryPermit>> {
        self.charge_or(budget.id(), || reserve().map(Arc::new))
    }

    /// Make `permit` the memory charge of this batch's data, unless a holder already has one
    /// from the same budget: the previous holder (the `batch` processor) hands its reservation
    /// over, and the next one (a sending queue, through [`Batch::memory_charge`]) keeps it
    /// instead of reserving the same bytes again. The caller keeps `permit` alive until the
    /// next holder has taken the batch; an edited copy is new data and is charged anew.
    pub fn hand_over_memory_charge(&self, permit: &Arc<MemoryPermit>) {
        self.charge_or(permit.budget_id(), || Some(permit.clone()));
    }

    /// The live charge of this batch's data from budget `budget_id`, else the one `make`
    /// gives, which becomes the data's charge.
    fn charge_or(
        &self,
        budget_id: usize,
        make: impl FnOnce() -> Option<Arc<MemoryPermit>>,
    ) -> Option<Arc<MemoryPermit>> {
        let mut slot = self.data.charge.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = slot.upgrade() {
            if p.budget_id() == budget_id {
                return Some(p);
            }
        }
        let p = make()?;
        *slot = Arc::downgrade(&p);
        Some(p)
    }

    /// True while the batch holds the bytes it was received as (nothing has edited it).
    pub fn is_wire(&self) -> bool {
        self.data.wire.is_some()
    }

    /// The pieces of the wire form, in order (their concatenation is the encoded request),
    /// for a transport that sends them as they are; `None` for a decoded batch.
    pub fn wire_pieces(&self) -> Option<&[Bytes]> {
        self.data.wire.as_deref()
    }

    /// True once the batch holds decoded structs (decoded on first read, or built so).
    pub fn is_decoded(&self) -> bool {
        self.data.decoded.get().is_some()
    }

    fn get_decoded(&self) -> &BatchData {
        self.data.get()
    }

    pub fn signal(&self) -> Signal {
        self.data.signal
    }

    /// Spans, metric data points or log records in this batch (computed once).
    pub fn items(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The decoded data (decoded now, once, if the batch still holds only bytes).
    pub fn data(&self) -> &BatchData {
        self.data.get()
    }

    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// Replace the request context (a receiver attaches it; tests set it).
    pub fn set_context(&mut self, context: RequestContext) {
        self.context = Arc::new(context);
    }

    pub fn as_traces(&self) -> Option<&ExportTraceServiceRequest> {
        match self.data() {
            BatchData::Traces(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_metrics(&self) -> Option<&ExportMetricsServiceRequest> {
        match self.data() {
            BatchData::Metrics(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_logs(&self) -> Option<&ExportLogsServiceRequest> {
        match self.data() {
            BatchData::Logs(r) => Some(r),
            _ => None,
        }
    }

    /// Take the data out, copying only if it is still shared.
    pub fn into_data(self) -> BatchData {
        Arc::try_unwrap(self.data).map_or_else(|shared| shared.get().clone(), Payload::into_data)
    }

    /// Mutate the data (copy-on-write: copies only if another branch still holds it), then
    /// recount the items. The wire form is dropped: the bytes no longer match.
    pub fn edit<R>(&mut self, f: impl FnOnce(BatchDataMut<'_>) -> R) -> R {
        // Decode in the shared payload first, so branches that only read share the result.
        self.data.get();
        let payload = Arc::make_mut(&mut self.data);
        payload.wire = None;
        // new data: its length and its memory charge are its own
        payload.decoded_len = OnceLock::new();
        payload.heap_len = OnceLock::new();
        payload.charge = Charge::default();
        let data = payload
            .decoded
            .get_mut()
            .expect("decoded just above; make_mut clones the decoded form");
        let r = f(data);
        self.items = data.count_items();
        r
    }

    /// Apply `f` to every resource (an empty one where a resource entry has none). A batch
    /// still in its wire form stays in it: only the resource messages are decoded and
    /// re-encoded, every span, data point and log record is copied as bytes
    /// ([`crate::wire_edit`]). Otherwise as [`Batch::edit`].
    pub fn edit_resources(&mut self, mut f: impl FnMut(&mut Resource)) {
        if self.data.decoded.get().is_none() {
            if let Some(chunks) = &self.data.wire {
                let edited: Option<Vec<Bytes>> = chunks
                    .iter()
                    .map(|c| crate::wire_edit::edit_resources(c, &mut f).map(Bytes::from))
                    .collect();
                if let Some(edited) = edited {
                    let signal = self.data.signal;
                    // new data: nothing decoded, its own length and memory charge
                    self.data = Arc::new(Payload::wire(signal, edited));
                    return;
                }
            }
        }
        self.edit(|data| match data {
            BatchData::Traces(r) => r
                .resource_spans
                .iter_mut()
                .for_each(|e| f(e.resource.get_or_insert_with(Resource::default))),
            BatchData::Metrics(r) => r
                .resource_metrics
                .iter_mut()
                .for_each(|e| f(e.resource.get_or_insert_with(Resource::default))),
            BatchData::Logs(r) => r
                .resource_logs
                .iter_mut()
                .for_each(|e| f(e.resource.get_or_insert_with(Resource::default))),
        })
    }

    /// Apply `f` to the attributes of every span, log record or data point. A batch still in
    /// its wire form stays in it: only the attributes `f` touches are decoded, and only the
    /// messages holding a changed list are re-encoded ([`crate::wire_edit`]); when nothing
    /// changes, the batch keeps its bytes and its memory charge. Otherwise as
    /// [`Batch::edit`].
    pub fn edit_item_attributes(&mut self, mut f: impl FnMut(&mut dyn AttrMap)) {
        if self.data.decoded.get().is_none() {
            if let Some(chunks) = &self.data.wire {
                let signal = self.data.signal;
                let mut g = |a: &mut WireAttrs<'_>| f(a);
                let edited: Option<Vec<Option<Vec<u8>>>> = chunks
                    .iter()
                    .map(|c| crate::wire_edit::edit_item_attributes(c, signal, &mut g))
                    .collect();
                if let Some(edited) = edited {
                    self.replace_chunks(edited);
                    return;
                }
            }
        }
        self.edit(|data| match data {
            BatchData::Traces(r) => r
                .resource_spans
                .iter_mut()
                .flat_map(|e| &mut e.scope_spans)
                .flat_map(|s| &mut s.spans)
                .for_each(|s| f(&mut s.attributes)),
            BatchData::Logs(r) => r
                .resource_logs
                .iter_mut()
                .flat_map(|e| &mut e.scope_logs)
                .flat_map(|s| &mut s.log_records)
                .for_each(|l| f(&mut l.attributes)),
            BatchData::Metrics(r) => r
                .resource_metrics
                .iter_mut()
                .flat_map(|e| &mut e.scope_metrics)
                .flat_map(|s| &mut s.metrics)
                .for_each(|m| crate::metric::for_each_point_attributes(m, |a| f(a))),
        })
    }

    /// Run `f` over the resources, scopes or items (by `level`) of a trace batch (`T` a
    /// span) or logs batch (a log record) still in its wire form, keeping it in that form
    /// ([`crate::wire_items`]). `None` when the batch is not of `T`'s signal or not in the
    /// wire form, or its bytes cannot be walked: then nothing was changed and the caller
    /// edits the decoded form instead.
    pub fn edit_items_wire<T: crate::wire_items::WireItem>(
        &mut self,
        level: crate::wire_items::Level,
        f: &mut crate::wire_items::Callback<'_, T>,
    ) -> Option<Result<(), String>> {
        self.filter_items_wire(level, false, f).map(|r| r.map(drop))
    }

    /// As [`Batch::edit_items_wire`], and what the callback drops is left out, with the
    /// entries left empty as [`crate::wire_items::filter_items`] says (`prune`); the number
    /// of items dropped.
    pub fn filter_items_wire<T: crate::wire_items::WireItem>(
        &mut self,
        level: crate::wire_items::Level,
        prune: bool,
        f: &mut crate::wire_items::Callback<'_, T>,
    ) -> Option<Result<usize, String>> {
        use crate::wire_items::{filter_items, ItemEditError};
        if self.data.signal != T::SIGNAL || self.data.decoded.get().is_some() {
            return None;
        }
        let chunks = self.data.wire.as_ref()?;
        let mut edited = Vec::with_capacity(chunks.len());
        let mut dropped = 0;
        for c in chunks {
            match filter_items(c, level, prune, f) {
                Ok((e, n)) => {
                    edited.push(e);
                    dropped += n;
                }
                Err(ItemEditError::Walk) => return None,
                Err(ItemEditError::Callback(e)) => return Some(Err(e)),
            }
        }
        self.replace_chunks(edited);
        self.items -= dropped;
        Some(Ok(dropped))
    }

    /// Replace the wire chunks an edit changed (`None`: the chunk stands). When any did,
    /// the batch holds new data: nothing decoded, its own length and memory charge; when
    /// none did, it keeps its bytes and its charge.
    fn replace_chunks(&mut self, edited: Vec<Option<Vec<u8>>>) {
        if edited.iter().all(Option::is_none) {
            return;
        }
        let Some(chunks) = &self.data.wire else {
            return;
        };
        let mut wire: Vec<Bytes> = chunks
            .iter()
            .zip(edited)
            .map(|(c, e)| e.map_or_else(|| c.clone(), Bytes::from))
            .filter(|c| !c.is_empty())
            .collect();
        if wire.is_empty() {
            // every item filtered out: an empty request
            wire.push(Bytes::new());
        }
        self.data = Arc::new(Payload::wire(self.data.signal, wire));
    }

    /// True when both batches share the same data allocation (no copy was made).
    pub fn shares_data_with(&self, other: &Batch) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// A handle that recognizes this batch's data later, without keeping the data alive.
    pub fn identity(&self) -> DataIdentity {
        DataIdentity(Arc::downgrade(&self.data))
    }

    /// Append batches of the same signal into one; the context of the first is kept.
    /// Batches of another signal are ignored. Batches that all still hold their wire bytes
    /// are joined as bytes, without decoding.
    pub fn merge(batches: Vec<Batch>) -> Option<Batch> {
        let first = batches.first()?;
        let signal = first.signal();
        let context = first.context.clone();
        let same: Vec<Batch> = batches
            .into_iter()
            .filter(|b| b.signal() == signal)
            .collect();
        if same.len() == 1 {
            return same.into_iter().next();
        }
        if same.iter().all(Batch::is_wire) {
            let mut chunks = Vec::with_capacity(same.len());
            let mut items = 0;
            for b in &same {
                chunks.extend(b.data.wire.iter().flatten().cloned());
                items += b.items;
            }
            return Some(Batch {
                data: Arc::new(Payload::wire(signal, chunks)),
                items,
                context,
            });
        }
        let mut iter = same.into_iter();
        let mut data = iter.next()?.into_data();
        for b in iter {
            match (&mut data, b.into_data()) {
                (BatchData::Traces(a), BatchData::Traces(b)) => {
                    a.resource_spans.extend(b.resource_spans)
                }
                (BatchData::Metrics(a), BatchData::Metrics(b)) => {
                    a.resource_metrics.extend(b.resource_metrics)
                }
                (BatchData::Logs(a), BatchData::Logs(b)) => a.resource_logs.extend(b.resource_logs),
                _ => {}
            }
        }
        Some(Batch::with_context(data, context))
    }

    /// Remove and return the first `n` items (at item granularity: a resource or scope is
    /// repeated in both halves where the cut falls inside it). `self` keeps the rest. A
    /// batch in its wire form is cut in it, both halves staying in it
    /// ([`crate::wire_split`]).
    pub fn split_front(&mut self, n: usize) -> Batch {
        if n >= self.items {
            let rest = Batch::with_context(BatchData::empty(self.signal()), self.context.clone());
            return std::mem::replace(self, rest);
        }
        let signal = self.signal();
        if let Some((head, rest)) = self
            .data
            .wire
            .as_deref()
            .and_then(|chunks| crate::wire_split::split_front(signal, chunks, n))
        {
            self.data = Arc::new(Payload::wire(signal, rest));
            self.items -= n;
            return Batch {
                data: Arc::new(Payload::wire(signal, head)),
                items: n,
                context: self.context.clone(),
            };
        }
        let head = self.edit(|data| match data {
            BatchData::Traces(r) => BatchData::Traces(ExportTraceServiceRequest {
                resource_spans: take_front(&mut r.resource_spans, n),
            }),
            BatchData::Metrics(r) => BatchData::Metrics(ExportMetricsServiceRequest {
                resource_metrics: take_front(&mut r.resource_metrics, n),
            }),
            BatchData::Logs(r) => BatchData::Logs(ExportLogsServiceRequest {
                resource_logs: take_front(&mut r.resource_logs, n),
            }),
        });
        Batch::with_context(head, self.context.clone())
    }

    /// Split into batches of at most `max` items each (`max == 0`: no limit).
    pub fn split(mut self, max: usize) -> Vec<Batch> {
        if max == 0 || self.items <= max {
            return vec![self];
        }
        let mut out = Vec::with_capacity(self.items.div_ceil(max));
        while self.items > max {
            out.push(self.split_front(max));
        }
        if !self.is_empty() {
            out.push(self);
        }
        out
    }
}

/// A level of the OTLP tree that holds items and can give up its first `n` of them.
trait Splittable: Sized {
    fn count(&self) -> usize;
    fn take_front(&mut self, n: usize) -> Self;
}

/// Move the first `n` items of a list of nodes into a new list.
fn take_front<T: Splittable>(nodes: &mut Vec<T>, n: usize) -> Vec<T> {
    let mut remaining = n;
    let mut whole = 0;
    for node in nodes.iter() {
        let c = node.count();
        if c > remaining {
            break;
        }
        remaining -= c;
        whole += 1;
    }
    let mut out: Vec<T> = nodes.drain(..whole).collect();
    if remaining > 0 {
        if let Some(first) = nodes.first_mut() {
            out.push(first.take_front(remaining));
        }
    }
    out
}

macro_rules! splittable_node {
    ($ty:ty, $children:ident, $($keep:ident),*) => {
        impl Splittable for $ty {
            fn count(&self) -> usize {
                self.$children.iter().map(Splittable::count).sum()
            }
            fn take_front(&mut self, n: usize) -> Self {
                Self { $children: take_front(&mut self.$children, n), $($keep: self.$keep.clone()),* }
            }
        }
    };
}

macro_rules! splittable_leaf {
    ($ty:ty, $items:ident, $($keep:ident),*) => {
        impl Splittable for $ty {
            fn count(&self) -> usize {
                self.$items.len()
            }
            fn take_front(&mut self, n: usize) -> Self {
                let n = n.min(self.$items.len());
                Self { $items: self.$items.drain(..n).collect(), $($keep: self.$keep.clone()),* }
            }
        }
    };
}

splittable_node!(ResourceSpans, scope_spans, resource, schema_url);
splittable_leaf!(ScopeSpans, spans, scope, schema_url);
splittable_node!(ResourceLogs, scope_logs, resource, schema_url);
splittable_leaf!(ScopeLogs, log_records, scope, schema_url);
splittable_node!(ResourceMetrics, scope_metrics, resource, schema_url);
splittable_node!(ScopeMetrics, metrics, scope, schema_url);

fn drain_front<T>(v: &mut Vec<T>, n: usize) -> Vec<T> {
    let n = n.min(v.len());
    v.drain(..n).collect()
}

impl Splittable for Metric {
    fn count(&self) -> usize {
        match &self.data {
            Some(metric::Data::Gauge(g)) => g.data_points.len(),
            Some(metric::Data::Sum(s)) => s.data_points.len(),
            Some(metric::Data::Histogram(h)) => h.data_points.len(),
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(metric::Data::Summary(s)) => s.data_points.len(),
            None => 0,
        }
    }

    fn take_front(&mut self, n: usize) -> Self {
        let data = match &mut self.data {
            Some(metric::Data::Gauge(g)) => Some(metric::Data::Gauge(
                crate::proto::tonic::metrics::v1::Gauge {
                    data_points: drain_front(&mut g.data_points, n),
                },
            )),
            Some(metric::Data::Sum(s)) => {
                Some(metric::Data::Sum(crate::proto::tonic::metrics::v1::Sum {
                    data_points: drain_front(&mut s.data_points, n),
                    aggregation_temporality: s.aggregation_temporality,
                    is_monotonic: s.is_monotonic,
                }))
            }
            Some(metric::Data::Histogram(h)) => Some(metric::Data::Histogram(
                crate::proto::tonic::metrics::v1::Histogram {
                    data_points: drain_front(&mut h.data_points, n),
                    aggregation_temporality: h.aggregation_temporality,
                },
            )),
            Some(metric::Data::ExponentialHistogram(h)) => {
                Some(metric::Data::ExponentialHistogram(
                    crate::proto::tonic::metrics::v1::ExponentialHistogram {
                        data_points: drain_front(&mut h.data_points, n),
                        aggregation_temporality: h.aggregation_temporality,
                    },
                ))
            }
            Some(metric::Data::Summary(s)) => Some(metric::Data::Summary(
                crate::proto::tonic::metrics::v1::Summary {
                    data_points: drain_front(&mut s.data_points, n),
                },
            )),
            None => None,
        };
        Metric {
            name: self.name.clone(),
            description: self.description.clone(),
            unit: self.unit.clone(),
            metadata: self.metadata.clone(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl BatchData {
        fn encode_bytes_for_test(&self) -> Vec<u8> {
            let mut v = Vec::new();
            self.encode_to(&mut v);
            v
        }
    }
    use crate::proto::tonic::common::v1::InstrumentationScope;
    use crate::proto::tonic::metrics::v1::{Gauge, NumberDataPoint};
    use crate::proto::tonic::trace::v1::Span;

    pub(crate) fn traces(resources: usize, scopes: usize, spans: usize) -> Batch {
        let mut req = ExportTraceServiceRequest::default();
        for r in 0..resources {
            let mut rs = ResourceSpans {
                schema_url: format!("r{r}"),
                ..Default::default()
            };
            for s in 0..scopes {
                let mut ss = ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: format!("s{s}"),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                for i in 0..spans {
                    ss.spans.push(Span {
                        name: format!("{r}-{s}-{i}"),
                        ..Default::default()
                    });
                }
                rs.scope_spans.push(ss);
            }
            req.resource_spans.push(rs);
        }
        Batch::from_traces(req)
    }

    fn span_names(b: &Batch) -> Vec<String> {
        b.as_traces()
            .unwrap()
            .resource_spans
            .iter()
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter().map(|sp| sp.name.clone()))
            .collect()
    }

    #[test]
    fn a_request_with_an_unknown_group_is_decoded_on_arrival() {
        let plain = traces(2, 2, 3).encode();
        // an unknown field 99 as a group (start, a varint inside, end) after the request's
        // fields: prost skips it
        let mut grouped = plain.clone();
        grouped.extend_from_slice(&[0x9b, 0x06, 0x08, 0x01, 0x9c, 0x06]);
        let b = Batch::from_wire(Signal::Traces, Bytes::from(grouped), Default::default())
            .expect("prost accepts a group");
        assert!(b.is_decoded(), "kept in the wire form, which no walk reads");
        assert_eq!(b.items(), 12);
        // the unknown field goes, as prost and Go's pdata drop it
        assert_eq!(b.encode(), plain);
        // without a group the request stays as it came
        let b = Batch::from_wire(Signal::Traces, Bytes::from(plain), Default::default()).unwrap();
        assert!(!b.is_decoded());
        assert_eq!(b.items(), 12);
    }

    #[test]
    fn counts_items() {
        assert_eq!(traces(2, 3, 4).items(), 24);
        assert_eq!(Batch::empty(Signal::Logs).items(), 0);
    }

    #[test]
    fn split_keeps_order_and_every_item() {
        let b = traces(2, 2, 5);
        let all = span_names(&b);
        let parts = b.split(3);
        assert_eq!(
            parts.iter().map(Batch::items).collect::<Vec<_>>(),
            vec![3, 3, 3, 3, 3, 3, 2]
        );
        let rejoined: Vec<String> = parts.iter().flat_map(span_names).collect();
        assert_eq!(rejoined, all);
        // a scope cut in two keeps its scope and resource in both halves
        let p = &parts[0].as_traces().unwrap().resource_spans;
        assert_eq!(p[0].schema_url, "r0");
        assert_eq!(p[0].scope_spans[0].scope.as_ref().unwrap().name, "s0");
        let p1 = &parts[1].as_traces().unwrap().resource_spans[0];
        assert_eq!(p1.scope_spans[0].scope.as_ref().unwrap().name, "s0");
        assert_eq!(p1.scope_spans[1].scope.as_ref().unwrap().name, "s1");
    }

    #[test]
    fn split_metrics_at_data_points() {
        let metric = Metric {
            name: "m".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: (0..5)
                    .map(|i| NumberDataPoint {
                        time_unix_nano: i,
                        ..Default::default()
                    })
                    .collect(),
            })),
            ..Default::default()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![metric],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let b = Batch::from_metrics(req);
        assert_eq!(b.items(), 5);
        let parts = b.split(2);
        assert_eq!(
            parts.iter().map(Batch::items).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert_eq!(
            parts[2].as_metrics().unwrap().resource_metrics[0].scope_metrics[0].metrics[0].name,
            "m"
        );
    }

    #[test]
    fn the_encoded_length_is_computed_once_and_follows_an_edit() {
        let mut b = traces(1, 1, 3);
        let before = b.encoded_len();
        assert_eq!(before, b.encode().len());
        let shared = b.clone();
        b.edit(|d| match d {
            BatchData::Traces(r) => {
                r.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(100)
            }
            _ => unreachable!(),
        });
        assert_eq!(
            b.encoded_len(),
            b.encode().len(),
            "recomputed after the edit"
        );
        assert!(b.encoded_len() > before);
        assert_eq!(
            shared.encoded_len(),
            before,
            "the unedited copy keeps its own"
        );
        // an edit in place (nobody else holds the data) resets it too
        let mut only = traces(1, 1, 2);
        let _ = only.encoded_len();
        only.edit(|d| match d {
            BatchData::Traces(r) => r.resource_spans[0].scope_spans[0].spans.clear(),
            _ => unreachable!(),
        });
        assert_eq!(only.encoded_len(), only.encode().len());
    }

    #[test]
    fn merge_and_copy_on_write() {
        let a = traces(1, 1, 2);
        let b = traces(1, 1, 3);
        let merged = Batch::merge(vec![a.clone(), b]).unwrap();
        assert_eq!(merged.items(), 5);
        let mut c = a.clone();
        assert!(c.shares_data_with(&a));
        c.edit(|d| {
            if let BatchData::Traces(r) = d {
                r.resource_spans.clear();
            }
        });
        assert!(!c.shares_data_with(&a));
        assert_eq!(c.items(), 0);
        assert_eq!(a.items(), 2);
    }

    fn wire(b: &Batch) -> Batch {
        Batch::from_wire(
            b.signal(),
            Bytes::from(b.encode()),
            RequestContext::default(),
        )
        .unwrap()
    }

    #[test]
    fn wire_batches_are_counted_and_decoded_only_when_read() {
        let decoded = traces(2, 2, 3);
        let w = wire(&decoded);
        assert!(w.is_wire() && !w.is_decoded());
        assert_eq!(w.items(), 12);
        assert_eq!(w.encoded_len(), decoded.encoded_len());
        // the bytes go out as they came: no copy, no re-encoding
        let out = w.encode_bytes();
        assert_eq!(out.as_ptr(), w.encode_bytes().as_ptr());
        assert!(!w.is_decoded());
        // a clone shares the payload; the first read decodes once for both
        let sibling = w.clone();
        assert_eq!(span_names(&w), span_names(&decoded));
        assert!(sibling.is_decoded() && sibling.shares_data_with(&w));
        assert_eq!(sibling, decoded);
    }

    #[test]
    fn merging_wire_batches_joins_their_bytes() {
        let (a, b) = (traces(1, 1, 2), traces(2, 1, 3));
        let merged = Batch::merge(vec![wire(&a), wire(&b)]).unwrap();
        assert!(merged.is_wire() && !merged.is_decoded());
        assert_eq!(merged.items(), 8);
        assert_eq!(merged.encode(), [a.encode(), b.encode()].concat());
        assert_eq!(merged, Batch::merge(vec![a.clone(), b.clone()]).unwrap());
        // one decoded input: the structs are merged
        let mixed = Batch::merge(vec![wire(&a), b.clone()]).unwrap();
        assert!(!mixed.is_wire());
        assert_eq!(span_names(&mixed), span_names(&merged));
        // another signal is left out
        let logs = Batch::from_logs(Default::default());
        assert_eq!(Batch::merge(vec![wire(&a), logs]).unwrap().items(), 2);
    }

    #[test]
    fn editing_a_wire_batch_drops_the_bytes_and_leaves_siblings_alone() {
        let original = wire(&traces(1, 1, 4));
        let mut edited = original.clone();
        edited.edit(|d| {
            if let BatchData::Traces(r) = d {
                r.resource_spans[0].scope_spans[0].spans.truncate(1);
            }
        });
        assert!(!edited.is_wire());
        assert_eq!(edited.items(), 1);
        assert_eq!(
            edited.encode(),
            edited.data().clone().encode_bytes_for_test()
        );
        assert!(original.is_wire());
        assert_eq!(original.items(), 4);
        assert_eq!(span_names(&original).len(), 4);
        // splitting a wire batch decodes it and keeps every item in order
        let parts = original.clone().split(3);
        assert_eq!(parts.iter().map(Batch::items).collect::<Vec<_>>(), [3, 1]);
        let names: Vec<String> = parts.iter().flat_map(span_names).collect();
        assert_eq!(names, span_names(&original));
        assert_eq!(original.clone().into_data(), original.data().clone());
    }

    /// A small request is kept in an allocation of its own, not as a slice that would keep
    /// the receive buffer it came in alive; a large one is kept where it lies.
    #[test]
    fn small_requests_are_copied_out_of_their_receive_buffer() {
        let kept_at = |request: &[u8]| {
            // the request as a slice of a larger buffer, as a transport hands it over
            let mut buffer = request.to_vec();
            buffer.resize(request.len() + 64 * 1024, 0);
            let received = Bytes::from(buffer).slice(..request.len());
            let batch =
                Batch::from_wire(Signal::Traces, received.clone(), RequestContext::default())
                    .unwrap();
            let kept = batch.data.wire.as_ref().unwrap()[0].clone();
            assert_eq!(kept, received);
            (kept.as_ptr() == received.as_ptr(), batch.items())
        };
        let small = traces(1, 1, 2).encode();
        assert!(small.len() < COPY_WIRE_BELOW);
        assert_eq!(kept_at(&small), (false, 2));
        let large = traces(1, 2, 2_000).encode();
        assert!(large.len() >= COPY_WIRE_BELOW, "{}", large.len());
        assert_eq!(kept_at(&large), (true, 4_000));
    }

    #[test]
    fn bytes_that_do_not_decode_are_refused() {
        assert!(Batch::from_wire(
            Signal::Traces,
            Bytes::from_static(&[0x0a, 0x05, 0x01]),
            RequestContext::default()
        )
        .is_err());
    }

    #[test]
    fn encode_decode_round_trip() {
        let b = traces(1, 2, 2);
        let back = Batch::decode(Signal::Traces, &b.encode(), RequestContext::default()).unwrap();
        assert_eq!(back, b);
        assert!(Batch::decode(
            Signal::Traces,
            &[0xff, 0xff, 0xff],
            RequestContext::default()
        )
        .is_err());
    }
}
