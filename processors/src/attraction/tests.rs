use std::net::SocketAddr;

use pipeline_api::proto::tonic::common::v1::any_value::Value;
use pipeline_api::proto::tonic::common::v1::{AnyValue, KeyValue};
use pipeline_api::RequestContext;

use super::*;
use crate::testutil::{attr, b, d, i, kv, s, yaml};

fn actions(y: &str) -> Vec<ActionKeyValue> {
    serde_yaml_ng::from_value(yaml(y)).expect("actions")
}

fn proc(y: &str) -> AttrProc {
    AttrProc::new(&actions(y)).expect("valid actions")
}

fn errors(y: &str) -> Vec<String> {
    match AttrProc::new(&actions(y)) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn run(p: &AttrProc, mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    p.process(&RequestContext::default(), &mut attrs);
    attrs
}

fn keys(attrs: &[KeyValue]) -> Vec<&str> {
    attrs.iter().map(|kv| kv.key.as_str()).collect()
}

#[test]
fn insert_only_adds_missing_keys_with_any_yaml_type() {
    // Go INSERT: no-op where the key exists; the value type is inferred from the config.
    let p = proc(
        "- {key: attribute1, value: 123, action: insert}\n\
         - {key: existing, value: new, action: insert}\n\
         - {key: list, value: [a, 1, true], action: INSERT}\n\
         - {key: map, value: {x: 1.5, y: null}, action: insert}\n",
    );
    let out = run(&p, vec![kv("existing", s("old"))]);
    assert_eq!(attr(&out, "attribute1"), Some(&i(123)));
    assert_eq!(attr(&out, "existing"), Some(&s("old")));
    match &attr(&out, "list").unwrap().value {
        Some(Value::ArrayValue(a)) => assert_eq!(a.values, vec![s("a"), i(1), b(true)]),
        other => panic!("not a slice: {other:?}"),
    }
    match &attr(&out, "map").unwrap().value {
        Some(Value::KvlistValue(m)) => {
            assert_eq!(m.values[0].key, "x");
            assert_eq!(m.values[0].value, Some(d(1.5)));
            assert_eq!(m.values[1].value, Some(AnyValue::default()));
        }
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn update_only_changes_existing_keys() {
    let p = proc(
        "- {key: db.secret, value: redacted, action: update}\n\
         - {key: boo, from_attribute: foo, action: update}\n",
    );
    let out = run(&p, vec![kv("db.secret", s("pw")), kv("foo", i(7))]);
    assert_eq!(attr(&out, "db.secret"), Some(&s("redacted")));
    assert_eq!(attr(&out, "boo"), None, "update never inserts");
    let out = run(&p, vec![kv("boo", s("x")), kv("foo", i(7))]);
    assert_eq!(attr(&out, "boo"), Some(&i(7)));
}

#[test]
fn upsert_inserts_or_updates_and_missing_source_is_a_no_op() {
    let p = proc(
        "- {key: region, value: planet-earth, action: upsert}\n\
         - {key: new_user_key, from_attribute: user_key, action: upsert}\n",
    );
    let out = run(&p, vec![kv("region", s("mars"))]);
    assert_eq!(attr(&out, "region"), Some(&s("planet-earth")));
    assert_eq!(attr(&out, "new_user_key"), None);
    let out = run(&p, vec![kv("user_key", s("u1"))]);
    assert_eq!(attr(&out, "new_user_key"), Some(&s("u1")));
}

#[test]
fn delete_by_key_and_by_pattern() {
    // The stack's use case: Python log correlation adds otelSpanID / otelTraceID.
    let p = proc(
        "- {key: otelSpanID, action: delete}\n\
         - {key: otelTraceID, action: delete}\n\
         - {pattern: '^otel(TraceSampled|ServiceName)$', action: delete}\n",
    );
    let out = run(
        &p,
        vec![
            kv("otelSpanID", s("a")),
            kv("otelTraceID", s("b")),
            kv("otelTraceSampled", b(true)),
            kv("otelServiceName", s("svc")),
            kv("keep", s("k")),
        ],
    );
    assert_eq!(keys(&out), vec!["keep"]);
}

#[test]
fn hash_is_sha256_hex_of_go_value_bytes() {
    // Go sha2Hasher: strings as bytes, bool 1/0, int and double as 8 little-endian bytes;
    // other types and the empty string become "".
    let p = proc("- {key: user.email, action: hash}\n- {pattern: '^n_', action: hash}\n");
    let out = run(
        &p,
        vec![
            kv("user.email", s("foo")),
            kv("n_int", i(24)),
            kv("n_bool", b(true)),
            kv("n_double", d(2.4)),
            kv("n_empty", s("")),
            kv(
                "n_bytes",
                AnyValue {
                    value: Some(Value::BytesValue(vec![1, 2, 3])),
                },
            ),
        ],
    );
    // sha256("foo"), a published test vector.
    assert_eq!(
        attr(&out, "user.email"),
        Some(&s(
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        ))
    );
    assert_eq!(
        attr(&out, "n_int"),
        Some(&s(&sha256_hex(&24i64.to_le_bytes())))
    );
    assert_eq!(attr(&out, "n_bool"), Some(&s(&sha256_hex(&[1]))));
    assert_eq!(
        attr(&out, "n_double"),
        Some(&s(&sha256_hex(&2.4f64.to_bits().to_le_bytes())))
    );
    assert_eq!(attr(&out, "n_empty"), Some(&s("")));
    assert_eq!(attr(&out, "n_bytes"), Some(&s("")));
}

#[test]
fn extract_named_groups_from_strings_only() {
    // An unnamed group (Go testdata's `(\?|\&)`) is refused, as in Go.
    assert!(AttrProc::new(&actions(
        "- key: http.url\n  action: extract\n  pattern: '^(?P<a>x)(y)'\n"
    ))
    .is_err());
    let p = proc("- {key: http.url, action: extract, pattern: '^(?P<scheme>\\w+)://(?P<host>[^/]+)(?P<port>:\\d+)?'}\n");
    let out = run(
        &p,
        vec![
            kv("http.url", s("http://example.com/path")),
            kv("host", s("old")),
        ],
    );
    assert_eq!(attr(&out, "scheme"), Some(&s("http")));
    assert_eq!(
        attr(&out, "host"),
        Some(&s("example.com")),
        "existing target keys are overwritten"
    );
    assert_eq!(
        attr(&out, "port"),
        Some(&s("")),
        "an unmatched group is written as \"\""
    );
    assert_eq!(attr(&out, "http.url"), Some(&s("http://example.com/path")));
    let out = run(&p, vec![kv("http.url", i(5))]);
    assert_eq!(out.len(), 1, "non-string values are not extracted");
}

#[test]
fn convert_follows_go_type_converter() {
    let p = proc(
        "- {key: a, action: convert, converted_type: int}\n\
         - {key: b, action: convert, converted_type: int}\n\
         - {key: c, action: convert, converted_type: double}\n\
         - {key: e, action: convert, converted_type: string}\n\
         - {key: f, action: convert, converted_type: int}\n\
         - {key: g, action: convert, converted_type: double}\n\
         - {key: h, action: convert, converted_type: string}\n",
    );
    let out = run(
        &p,
        vec![
            kv("a", s("200")),
            kv("b", d(3.9)),
            kv("c", b(true)),
            kv("e", d(1e21)),
            kv("f", s("not a number")),
            kv("g", s("1e400")),
            kv("h", i(-4)),
        ],
    );
    assert_eq!(attr(&out, "a"), Some(&i(200)));
    assert_eq!(attr(&out, "b"), Some(&i(3)), "double to int truncates");
    assert_eq!(attr(&out, "c"), Some(&d(1.0)));
    assert_eq!(
        attr(&out, "e"),
        Some(&s("1e+21")),
        "AsString of a double is ES6-formatted"
    );
    assert_eq!(
        attr(&out, "f"),
        Some(&s("not a number")),
        "unconvertible values stay as they are"
    );
    assert_eq!(
        attr(&out, "g"),
        Some(&s("1e400")),
        "out-of-range floats are a ParseFloat error"
    );
    assert_eq!(attr(&out, "h"), Some(&s("-4")));
}

#[test]
fn from_context_metadata_client_address_and_fallback() {
    let p = proc(
        "- {key: origin, from_context: metadata.X-Origin, action: insert}\n\
         - {key: tenant, from_context: x-tenant, action: upsert}\n\
         - {key: client, from_context: client.address, action: upsert}\n\
         - {key: subject, from_context: auth.subject, action: insert}\n\
         - {key: missing, from_context: metadata.nope, action: insert}\n",
    );
    assert!(p.uses_context());
    let ctx = RequestContext {
        metadata: vec![
            ("x-origin".into(), "a".into()),
            ("x-origin".into(), "b".into()),
            ("x-tenant".into(), "t1".into()),
        ],
        client_address: Some("10.1.2.3:4567".parse::<SocketAddr>().unwrap()),
        receiver: None,
    };
    let mut attrs = vec![];
    p.process(&ctx, &mut attrs);
    // Go: several values joined with ";"; the address without its port.
    assert_eq!(attr(&attrs, "origin"), Some(&s("a;b")));
    assert_eq!(attr(&attrs, "tenant"), Some(&s("t1")));
    assert_eq!(attr(&attrs, "client"), Some(&s("10.1.2.3")));
    assert_eq!(attr(&attrs, "subject"), None, "no auth data: not found");
    assert_eq!(attr(&attrs, "missing"), None);
    // Go clientutil.Address returns "" without an address, which still counts as found.
    let mut attrs = vec![];
    p.process(&RequestContext::default(), &mut attrs);
    assert_eq!(attr(&attrs, "client"), Some(&s("")));
}

#[test]
fn actions_apply_in_order() {
    // Go testdata attributes/complex.
    let p = proc(
        "- {key: operation, value: default, action: insert}\n\
         - {key: svc.operation, from_attribute: operation, action: upsert}\n\
         - {key: operation, action: delete}\n",
    );
    let out = run(
        &p,
        vec![kv("operation", s("subtract")), kv("math_value", i(123))],
    );
    // pdata Map.Remove: the last entry takes the removed one's place
    assert_eq!(keys(&out), vec!["svc.operation", "math_value"]);
    assert_eq!(attr(&out, "svc.operation"), Some(&s("subtract")));
    let out = run(&p, vec![kv("timeout", i(10))]);
    assert_eq!(attr(&out, "svc.operation"), Some(&s("default")));
}

#[test]
fn invalid_actions_are_config_errors_with_their_index() {
    assert_eq!(
        errors("- {key: a, action: insert}"),
        vec!["0: error creating AttrProc. Either field \"value\", \"from_attribute\" or \"from_context\" setting must be specified for 0-th action"]
    );
    assert_eq!(
        errors("- {key: a, value: 1, from_attribute: b, action: upsert}"),
        vec!["0: error creating AttrProc due to multiple value sources being set at the 0-th actions"]
    );
    let e = errors("- {key: a, action: delete}\n- {key: a, action: delete}\n- {pattern: '(unclosed', action: delete}");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(
            "2::pattern: error creating AttrProc. Field \"pattern\" has invalid pattern"
        ),
        "{e:?}"
    );
    assert!(errors("- {action: delete}")[0].contains("at least one of \"key\" and \"pattern\""));
    assert!(errors("- {key: a, action: explode}")[0]
        .starts_with("0::action: error creating AttrProc due to unsupported action"));
    assert!(errors("- {key: a, action: convert}")[0].starts_with("0::converted_type:"));
    assert!(
        errors("- {key: a, action: convert, converted_type: bool}")[0]
            .contains("invalid value \"bool\"")
    );
    assert!(
        errors("- {key: a, action: extract, pattern: '^(?P<x>a)(b)$'}")[0]
            .contains("unnamed matcher group")
    );
    assert!(errors("- {key: a, action: extract, pattern: 'abc'}")[0]
        .contains("no named matcher groups"));
    assert!(errors("- {key: a, value: 1, action: hash}")[0]
        .contains("does not use \"value\" or \"from_attribute\""));
    assert!(
        errors("- {key: a, value: 1, pattern: x, action: insert}")[0].starts_with("0::pattern:")
    );
    assert!(errors("- {value: 1, action: insert}")[0].starts_with("0::key:"));
}

/// Every action, on random requests of every signal, in the wire form and decoded: the
/// encodings are byte for byte the same.
#[test]
fn every_action_edits_the_wire_form_as_the_decoded_form() {
    use pipeline_api::testing::random::{request, Rng};
    use pipeline_api::{Batch, Signal};
    let p = proc(
        "- {key: a, value: inserted, action: insert}\n\
         - {key: b, from_attribute: a, action: update}\n\
         - {key: c, value: 3, action: upsert}\n\
         - {key: dup, action: delete}\n\
         - {pattern: ^http\\., action: delete}\n\
         - {key: service.name, action: hash}\n\
         - {key: a, pattern: ^v(?P<digit>\\d)$, action: extract}\n\
         - {key: b, converted_type: string, action: convert}\n\
         - {key: copy, from_context: client.address, action: upsert}\n",
    );
    let ctx = RequestContext {
        client_address: Some("10.1.2.3:4567".parse::<SocketAddr>().unwrap()),
        ..Default::default()
    };
    let mut changed = 0;
    for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
        for seed in 0..200 {
            let data = request(signal, &mut Rng(seed));
            let mut decoded = Batch::new(data, ctx.clone());
            let bytes = decoded.encode();
            let mut wire = Batch::from_wire(signal, bytes.clone().into(), ctx.clone()).unwrap();
            wire.edit_item_attributes(|m| p.process(&ctx, m));
            decoded.edit_item_attributes(|m| p.process(&ctx, m));
            assert!(wire.is_wire());
            assert_eq!(wire.encode(), decoded.encode(), "{signal} seed {seed}");
            changed += usize::from(wire.encode() != bytes);
        }
    }
    assert!(changed > 300, "{changed}");
}
