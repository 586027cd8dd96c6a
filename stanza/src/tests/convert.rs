//! Entries to OTLP requests: the size limit that cuts a poll's records into requests.

use prost::Message;

use crate::convert::Logs;
use crate::entry::{Entry, Map, Value};

fn entry(i: usize, service: &str) -> Entry {
    let mut e = Entry::new(Value::Str(format!("record {i} {}", "y".repeat(300))), 1);
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
