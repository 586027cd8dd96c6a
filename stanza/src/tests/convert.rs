//! Entries to OTLP requests: the size limit that cuts a poll's records into requests.

use prost::Message;

use crate::convert::Logs;
use crate::entry::{Entry, EntryData, Map, Value};

fn entry(i: usize, service: &str) -> Entry {
    let mut e = EntryData::new(Value::Str(format!("record {i} {}", "y".repeat(300))), 1);
    let mut resource = Map::default();
    resource.insert("service.name".into(), Value::Str(service.into()));
    e.resource = resource;
    e.attributes.insert("seq".into(), Value::Int(i as i64));
    e
}

fn bodies(
    reqs: &[pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest],
) -> Vec<String> {
    let mut out = Vec::new();
    for r in reqs {
        for rl in &r.resource_logs {
            for sl in &rl.scope_logs {
                for l in &sl.log_records {
                    if let Some(
                        pipeline_api::proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) = l.body.as_ref().and_then(|b| b.value.as_ref())
                    {
                        out.push(s.clone());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn a_size_limit_cuts_requests_that_keep_every_record_in_order() {
    let limit = 64 * 1024;
    let mut logs = Logs::expecting(100).with_max_request_bytes(limit);
    let mut unlimited = Logs::default();
    for i in 0..2000 {
        let service = if i % 3 == 0 { "a" } else { "b" };
        logs.push(entry(i, service));
        unlimited.push(entry(i, service));
    }
    assert_eq!(logs.len(), 2000);
    let reqs = logs.into_requests();
    let whole = unlimited.into_request();
    assert!(whole.encoded_len() > 10 * limit);
    assert!(reqs.len() >= 10, "{} requests", reqs.len());
    for (i, r) in reqs.iter().enumerate() {
        // the estimate leaves out only a few bytes of framing per resource and scope
        assert!(r.encoded_len() <= limit + 256, "{} bytes", r.encoded_len());
        if i + 1 < reqs.len() {
            assert!(r.encoded_len() >= limit / 2, "{} bytes", r.encoded_len());
        }
    }
    // every record once; within each request grouped by resource, as without the limit
    let got = bodies(&reqs);
    assert_eq!(got.len(), 2000);
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 2000);
    // the requests follow one another: every record of request k was pushed before every
    // record of request k + 1
    let index = |b: &String| b.split(' ').nth(1).unwrap().parse::<usize>().unwrap();
    for pair in reqs.windows(2) {
        let last = bodies(&pair[..1]).iter().map(index).max().unwrap();
        let first = bodies(&pair[1..]).iter().map(index).min().unwrap();
        assert!(last < first, "{last} then {first}");
    }
}

#[test]
fn without_a_limit_there_is_one_request_and_a_big_record_stands_alone_with_one() {
    let mut logs = Logs::default();
    for i in 0..50 {
        logs.push(entry(i, "a"));
    }
    assert_eq!(logs.into_requests().len(), 1);
    assert!(Logs::default().into_requests().is_empty());

    let mut logs = Logs::default().with_max_request_bytes(1000);
    logs.push(entry(0, "a"));
    let mut big = entry(1, "a");
    big.body = Some(Value::Str("z".repeat(5000)));
    logs.push(big);
    logs.push(entry(2, "a"));
    let reqs = logs.into_requests();
    assert_eq!(reqs.len(), 3, "the big record is cut off on both sides");
    assert_eq!(bodies(&reqs[1..2]), vec!["z".repeat(5000)]);
}

/// The grouping and cutting as it was done with decoded structs before the records were
/// encoded directly: the reference the encoding is compared with.
mod reference {
    use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use pipeline_api::proto::tonic::logs::v1::LogRecord;
    use prost::Message;

    use crate::convert::{into_key_values, into_record, request};
    use crate::entry::{Entry, Map};

    type Scopes = Vec<(String, Vec<LogRecord>)>;

    #[derive(Default)]
    pub struct Logs {
        resources: Vec<(Map, Scopes)>,
        last: Option<(usize, usize)>,
        max_bytes: usize,
        bytes: usize,
        pub sealed: Vec<ExportLogsServiceRequest>,
    }

    impl Logs {
        pub fn new(max_bytes: usize) -> Logs {
            Logs {
                max_bytes,
                ..Default::default()
            }
        }

        fn seal(&mut self) {
            let resources = std::mem::take(&mut self.resources);
            self.sealed.push(request(resources));
            self.last = None;
            self.bytes = 0;
        }

        pub fn push(&mut self, mut e: Entry) {
            let mut resource = std::mem::take(&mut e.resource);
            let mut scope_name = std::mem::take(&mut e.scope_name);
            let record = into_record(e);
            if self.max_bytes > 0 {
                let len = record.encoded_len();
                let size = len + prost::length_delimiter_len(len) + 1;
                if self.bytes > 0 && self.bytes + size > self.max_bytes {
                    self.seal();
                }
                self.bytes += size;
            }
            let r = match self.last {
                Some((r, _)) if self.resources[r].0 == resource => r,
                _ => match self.resources.iter().position(|(m, _)| *m == resource) {
                    Some(r) => r,
                    None => {
                        if self.max_bytes > 0 {
                            self.bytes += into_key_values(resource.clone())
                                .iter()
                                .map(|kv| {
                                    let len = kv.encoded_len();
                                    len + prost::length_delimiter_len(len) + 1
                                })
                                .sum::<usize>();
                        }
                        self.resources
                            .push((std::mem::take(&mut resource), Vec::new()));
                        self.resources.len() - 1
                    }
                },
            };
            let scopes = &mut self.resources[r].1;
            let s = match self.last {
                Some((lr, ls)) if lr == r && scopes[ls].0 == scope_name => ls,
                _ => match scopes.iter().position(|(n, _)| *n == scope_name) {
                    Some(s) => s,
                    None => {
                        scopes.push((std::mem::take(&mut scope_name), Vec::new()));
                        scopes.len() - 1
                    }
                },
            };
            scopes[s].1.push(record);
            self.last = Some((r, s));
        }

        pub fn into_requests(mut self) -> Vec<ExportLogsServiceRequest> {
            if !self.resources.is_empty() {
                self.seal();
            }
            self.sealed
        }
    }
}

/// Random values, hostile ones among them: empty strings and keys, characters of several
/// bytes, strings whose length needs a varint of 2 or 3 bytes, negative and extreme numbers,
/// NaN, nulls in arrays and maps, nested maps and arrays.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn text(&mut self) -> String {
        match self.below(8) {
            0 => String::new(),
            1 => "é\u{1F600}\"'\\=\0".to_string(),
            2 => "x".repeat(127 + self.below(3) as usize),
            3 => "y".repeat(16_383 + self.below(3) as usize),
            4 => "k".to_string(),
            _ => format!("v{}", self.below(1000)),
        }
    }

    fn value(&mut self, depth: usize) -> Value {
        let kinds = if depth == 0 { 6 } else { 8 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 1),
            2 => Value::Int(match self.below(4) {
                0 => i64::MIN,
                1 => -1,
                2 => 0,
                _ => self.next() as i64,
            }),
            3 => Value::Double(match self.below(5) {
                0 => f64::NAN,
                1 => -0.0,
                2 => f64::INFINITY,
                3 => 0.0,
                _ => self.next() as f64 / 7.0,
            }),
            4 => {
                if self.below(4) == 0 {
                    Value::Bytes(vec![0xff; self.below(3) as usize])
                } else {
                    Value::Str(self.text())
                }
            }
            5 => Value::Str(self.text()),
            6 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Map(self.map(depth - 1)),
        }
    }

    fn map(&mut self, depth: usize) -> Map {
        (0..self.below(5))
            .map(|_| (self.text(), self.value(depth)))
            .collect()
    }

    fn id(&mut self) -> Option<Vec<u8>> {
        match self.below(4) {
            0 => None,
            1 => Some(Vec::new()),
            _ => Some((0..self.below(24)).map(|i| i as u8 + 1).collect()),
        }
    }

    fn entry(&mut self) -> Entry {
        let body = self.value(2);
        let mut e = EntryData::new(body, [0, 1, u64::MAX][self.below(3) as usize]);
        if self.below(4) == 0 {
            e.body = None;
        }
        e.timestamp = [None, Some(0), Some(1_700_000_000_123_456_789)][self.below(3) as usize];
        e.attributes = self.map(2);
        e.resource = match self.below(4) {
            0 => Map::new(),
            1 => self.map(1),
            _ => [("service.name".to_string(), Value::Str("a".into()))]
                .into_iter()
                .collect(),
        };
        e.severity = [0, 1, 9, 24, -1, 200][self.below(6) as usize];
        e.severity_text = ["", "warning", "é"][self.below(3) as usize].to_string();
        e.trace_id = self.id();
        e.span_id = self.id();
        e.trace_flags = self.id();
        e.scope_name = ["", "", "scope"][self.below(3) as usize].to_string();
        e
    }
}

/// The encoded requests are byte for byte what prost writes for the requests the structs
/// made, cut at the same records, for random entries and size limits.
#[test]
fn encoded_requests_are_the_decoded_requests_encoded_by_prost() {
    let mut g = Gen(0x2545_F491_4F6C_DD1D);
    let mut compared = 0;
    for case in 0..400 {
        let limit = [0, 300, 2_000, 64 * 1024][case % 4];
        let mut logs = Logs::expecting(10).with_max_request_bytes(limit);
        let mut reference = reference::Logs::new(limit);
        for _ in 0..g.below(40) {
            let e = g.entry();
            logs.push(e.clone());
            reference.push(e);
        }
        let got = logs.into_encoded();
        let want = reference.into_requests();
        assert_eq!(got.len(), want.len(), "case {case}: requests");
        for (got, want) in got.iter().zip(&want) {
            let crate::convert::LogsRequest::Wire { bytes, .. } = got else {
                panic!("case {case}: a shallow entry went decoded");
            };
            assert_eq!(*bytes, want.encode_to_vec(), "case {case}");
            compared += 1;
        }
    }
    assert!(compared > 300, "{compared}");
}

/// Every encoded request passes the wire check that turns it into a batch, with its records
/// counted, values nested as deep as the wire form takes included; deeper ones go decoded, in
/// order.
#[test]
fn encoded_requests_pass_the_wire_check_and_deep_records_go_decoded() {
    use crate::convert::{LogsRequest, MAX_WIRE_NESTING};
    use pipeline_api::{Batch, RequestContext, Signal};

    fn nested(levels: usize, array: bool) -> Value {
        let mut v = Value::Str("leaf".into());
        for _ in 0..levels {
            v = if array {
                Value::Array(vec![Value::Null, v])
            } else {
                Value::Map([("k".to_string(), v)].into_iter().collect())
            };
        }
        v
    }
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut logs = Logs::default().with_max_request_bytes(4096);
    let mut pushed = 0;
    for i in 0..600 {
        let mut e = g.entry();
        let levels = [1, MAX_WIRE_NESTING, MAX_WIRE_NESTING + 1][i % 3];
        let v = nested(levels, i % 2 == 0);
        match i % 9 {
            0..=2 => e.body = Some(v),
            3..=5 => {
                e.attributes.insert("deep".into(), v);
            }
            _ => {
                e.resource.insert("deep".into(), v);
            }
        }
        e.attributes.insert("seq".into(), Value::Int(i as i64));
        logs.push(e);
        pushed += 1;
    }
    let (mut wire, mut decoded, mut seqs) = (0, 0, Vec::new());
    for req in logs.into_encoded() {
        let batch = match req {
            LogsRequest::Wire { bytes, records } => {
                wire += 1;
                let batch = Batch::from_wire(Signal::Logs, bytes, RequestContext::default())
                    .expect("the wire check accepts what was encoded");
                assert_eq!(batch.items(), records, "the encoder's count is the scan's");
                batch
            }
            LogsRequest::Decoded(r) => {
                decoded += 1;
                Batch::from_logs(r)
            }
        };
        let records: Vec<_> = batch
            .as_logs()
            .unwrap()
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| &sl.log_records)
            .collect();
        assert_eq!(batch.items(), records.len());
        for r in records {
            let seq = r.attributes.iter().find(|kv| kv.key == "seq").unwrap();
            seqs.push(seq.value.clone().unwrap());
        }
    }
    assert_eq!(seqs.len(), pushed);
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(
            s.value,
            Some(pipeline_api::proto::tonic::common::v1::any_value::Value::IntValue(i as i64)),
            "records in order"
        );
    }
    assert_eq!(
        decoded, 200,
        "one decoded request per record nested too deep"
    );
    assert!(wire > 10, "{wire}");
}
