//! Every fuzz target's seed inputs and stored regressions, replayed through its check on
//! stable (so the README's test command keeps every crash ever found fixed).
//!
//! The seeds are built here from real inputs: the OTLP specification's example payloads
//! (`../shared/testdata/otlp-examples`), in JSON, protobuf and every compression; the configs
//! users start from (`config-examples/`) and the public configs of the oracle's corpus
//! (`compat/corpus/`); a `prometheus_client` target's exposition in both formats, Docker
//! json-file lines, a kubelet's summary and pods, and Kubernetes watch lines of every kind (`fuzz/seeds/`).
//! With `FERROTEL_FUZZ_CORPUS=DIR` set, the seeds are also written to `DIR/<target>/` for
//! `cargo fuzz run` to start from (fuzz/run.sh does that).
//! Regressions are files under `fuzz/regressions/<target>/`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use pipeline_api::Signal;
use prost::Message;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(ext))
        .collect();
    out.sort();
    out
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn with_prefix(b: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![b];
    v.extend_from_slice(data);
    v
}

/// The OTLP examples as (signal index in the targets' order, JSON body).
fn otlp_examples() -> Vec<(u8, Vec<u8>)> {
    let dir = repo().join("../shared/testdata/otlp-examples");
    files(&dir, ".json")
        .into_iter()
        .map(|p| {
            let body = read(&p);
            let text = String::from_utf8_lossy(&body);
            let signal = if text.contains("resourceSpans") {
                0
            } else if text.contains("resourceMetrics") {
                1
            } else {
                2
            };
            (signal, body)
        })
        .collect()
}

fn protobuf(signal: u8, json: &[u8]) -> Vec<u8> {
    let signal = [Signal::Traces, Signal::Metrics, Signal::Logs][signal as usize];
    match receivers::otlp::json::decode(signal, json).expect("the examples decode") {
        pipeline_api::BatchData::Traces(r) => r.encode_to_vec(),
        pipeline_api::BatchData::Metrics(r) => r.encode_to_vec(),
        pipeline_api::BatchData::Logs(r) => r.encode_to_vec(),
    }
}

fn compressed(encoding: &str, data: &[u8]) -> Vec<u8> {
    use flate2::write::{GzEncoder, ZlibEncoder};
    match encoding {
        "gzip" => {
            let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        "deflate" | "zlib" => {
            let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("zlib");
            e.finish().expect("zlib")
        }
        "zstd" => zstd::encode_all(data, 3).expect("zstd"),
        "snappy" => snap::raw::Encoder::new()
            .compress_vec(data)
            .expect("snappy"),
        "x-snappy-framed" => {
            let mut e = snap::write::FrameEncoder::new(Vec::new());
            e.write_all(data).expect("snappy framed");
            e.into_inner().expect("snappy framed")
        }
        other => panic!("no seed for {other}"),
    }
}

/// `if:` and `expr:` values and timestamp layouts found in the example configs.
fn config_strings(key: &str) -> Vec<String> {
    fn walk(v: &serde_yaml_ng::Value, key: &str, out: &mut Vec<String>) {
        match v {
            serde_yaml_ng::Value::Mapping(m) => {
                for (k, v) in m {
                    if k.as_str() == Some(key) {
                        if let Some(s) = v.as_str() {
                            out.push(s.to_string());
                        }
                    }
                    walk(v, key, out);
                }
            }
            serde_yaml_ng::Value::Sequence(s) => s.iter().for_each(|v| walk(v, key, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for p in files(&repo().join("config-examples"), ".yaml") {
        if let Ok(v) = serde_yaml_ng::from_slice::<serde_yaml_ng::Value>(&read(&p)) {
            walk(&v, key, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

fn seeds() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut s: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    let examples = otlp_examples();
    for (signal, json) in &examples {
        s.entry("otlp_json")
            .or_default()
            .push(with_prefix(*signal, json));
        let pb = protobuf(*signal, json);
        s.entry("otlp_wire")
            .or_default()
            .push(with_prefix(*signal, &pb));
        for (i, enc) in ferrotel_fuzz::ENCODINGS.iter().enumerate() {
            s.entry("decompress")
                .or_default()
                .push(with_prefix(i as u8, &compressed(enc, &pb)));
        }
    }
    // random requests of each signal (pipeline-api's generator: every kind of data point,
    // exemplars, integer values, repeated keys), with roots of both kinds among the spans,
    // so the item walks' checks replay what they compare
    let mut rng = pipeline_api::testing::random::Rng(0xf22);
    for (i, signal) in [Signal::Traces, Signal::Metrics, Signal::Logs]
        .into_iter()
        .enumerate()
    {
        for _ in 0..8 {
            let mut data = pipeline_api::testing::random::request(signal, &mut rng);
            for (k, span) in pipeline_api::testing::random::spans_mut(&mut data).enumerate() {
                match k % 3 {
                    0 => span.parent_span_id = vec![0; 8],
                    1 => span.parent_span_id.clear(),
                    _ => {}
                }
            }
            let bytes = pipeline_api::Batch::new(data, Default::default()).encode();
            s.entry("otlp_wire")
                .or_default()
                .push(with_prefix(i as u8, &bytes));
        }
    }
    let seeds = repo().join("fuzz/seeds");
    for (i, name) in ["prometheus_client.prom.txt", "prometheus_client.om.txt"]
        .iter()
        .enumerate()
    {
        s.entry("prometheus_text")
            .or_default()
            .push(with_prefix(i as u8, &read(&seeds.join(name))));
    }
    // Zipkin v2: the zipkin-api example span, and the round-trip fixture in both encodings.
    s.entry("zipkin_v2").or_default().push(with_prefix(
        0,
        br#"[{"id":"352bff9a74ca9ad2","traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","name":"get /api","timestamp":1556604172355737,"duration":1431,"kind":"SERVER","localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},"remoteEndpoint":{"ipv4":"172.19.0.2","port":58648},"tags":{"http.method":"GET","http.path":"/api"}}]"#,
    ));
    let zspans = exporters::zipkin::translate::from_otlp(&exporters::zipkin::fixture::request(3))
        .expect("the fixture translates");
    s.entry("zipkin_v2")
        .or_default()
        .push(with_prefix(0, &exporters::zipkin::model::to_json(&zspans)));
    s.entry("zipkin_v2")
        .or_default()
        .push(with_prefix(1, &exporters::zipkin::model::to_proto(&zspans)));
    // Loki: a promtail-style JSON push and a snappy protobuf push.
    s.entry("loki_push").or_default().push(with_prefix(
        0,
        br#"{"streams":[{"stream":{"job":"varlogs","filename":"/var/log/syslog"},"values":[["1700000000000000000","Dec  1 10:00:00 host app[1]: started"],["1700000000000000001","second",{"trace_id":"abc"}]]}]}"#,
    ));
    let push = exporters::loki::push::PushRequest {
        streams: vec![exporters::loki::push::StreamAdapter {
            labels: r#"{job="docker", container="web", level="error"}"#.into(),
            entries: vec![exporters::loki::push::EntryAdapter {
                timestamp: Some(exporters::loki::push::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 5,
                }),
                line: "GET / 500".into(),
                ..Default::default()
            }],
            hash: 0,
        }],
        format: String::new(),
    };
    let snappy = snap::raw::Encoder::new()
        .compress_vec(&push.encode_to_vec())
        .expect("snappy");
    s.entry("loki_push")
        .or_default()
        .push(with_prefix(1, &snappy));
    // Jaeger: what Ferrotel's jaeger exporter sends for the zipkin fixture's spans.
    for b in exporters::jaeger::translate::batches(&exporters::zipkin::fixture::request(2)) {
        s.entry("jaeger_api_v2")
            .or_default()
            .push(exporters::jaeger::model::PostSpansRequest { batch: Some(b) }.encode_to_vec());
    }
    // Zipkin v1: a JSON span and the receiver's Thrift test body (Apache Thrift's writer).
    let v1_json = br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get","timestamp":1556604172355737,"duration":10,"annotations":[{"timestamp":1556604172355737,"value":"sr","endpoint":{"serviceName":"backend","ipv4":"10.0.0.1","port":80}}],"binaryAnnotations":[{"key":"lc","value":"x"},{"key":"http.status_code","value":"503"}]}]"#;
    s.entry("zipkin_v1")
        .or_default()
        .push(with_prefix(0, v1_json));
    s.entry("zipkin_v1")
        .or_default()
        .push(with_prefix(1, v1_json));
    let v1_thrift = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../receivers/src/zipkin/testdata/v1.thrift.bin");
    s.entry("zipkin_v1")
        .or_default()
        .push(with_prefix(2, &read(&v1_thrift)));
    // Jaeger Thrift: the receiver's test payloads (Apache Thrift's Python writers).
    let jaeger =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../receivers/src/jaeger/testdata");
    for (i, name) in ["http.bin", "binary.bin", "compact.bin"].iter().enumerate() {
        s.entry("jaeger_thrift")
            .or_default()
            .push(with_prefix(i as u8, &read(&jaeger.join(name))));
    }
    let summary = read(&seeds.join("kubelet-summary.json"));
    let mut both = summary.clone();
    both.push(0);
    both.extend(read(&seeds.join("kubelet-pods.json")));
    s.entry("kubelet_summary")
        .or_default()
        .extend([summary, both]);
    let watch = read(&seeds.join("kube-watch.jsonl"));
    for line in watch.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        s.entry("kube_watch").or_default().push(line.to_vec());
    }
    // every kind at once (the roles join them), and each line alone
    let sd = read(&seeds.join("kubernetes-sd.jsonl"));
    let lines = sd.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let lines: Vec<Vec<u8>> = lines.map(<[u8]>::to_vec).collect();
    s.entry("kubernetes_sd").or_default().push(sd);
    s.entry("kubernetes_sd").or_default().extend(lines);
    // syslog: the RFC examples and Go's test messages
    for line in [
        &b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"[..],
        b"<13>Feb  5 17:32:18 host app[123]: hi there",
        b"<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserHostAddress=\"192.168.2.132\" Realm=\"SecureAuth0\"] Found the user",
        b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time",
        b"45 <14>1 2024-01-01T00:00:00Z host app - - - hi",
        b"<14>1 - - - - - [a@1 k=\"v\\\"q\\]\"]\x00",
    ] {
        s.entry("syslog").or_default().push(line.to_vec());
    }
    // basic_auth: an Authorization value, NUL, an htpasswd table (openssl passwd -apr1)
    for input in [
        &b"Basic YXByMXVzZXI6cGFzcy0x\0apr1user:$apr1$Xy1zAb9q$Cgm1teZlXT4CAnNqiGym90\nplain:pw"[..],
        b"basic cGxhaW46cHc=\0plain:pw\nnginx:{PLAIN}pw",
        b"Basic !!!",
        b"Bearer x\0{SHA}/ozplU/TiyRJNKG7FNutub4d9wE=",
    ] {
        s.entry("basic_auth").or_default().push(input.to_vec());
    }
    let docker = read(&seeds.join("docker-json.log"));
    for line in docker.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        s.entry("docker_log_line").or_default().push(line.to_vec());
    }
    for i in 0..3 {
        s.entry("filelog_split")
            .or_default()
            .push(with_prefix(i, &docker));
    }
    let mut exprs = config_strings("if");
    exprs.extend(config_strings("expr"));
    exprs.extend(
        [
            r#"attributes.level in ["ERROR", "WARN"] and body contains "timeout""#,
            r#"body matches "^\\s*\\{" || attributes["n"] > 2"#,
            r#"resource["service.name"] == "api" ? "a" : "b""#,
        ]
        .map(String::from),
    );
    for e in exprs {
        s.entry("stanza_expr").or_default().push(e.into_bytes());
    }
    let layouts = config_strings("layout");
    for l in &layouts {
        for value in [
            "2026-12-01T10:00:00.123456789Z",
            "2026-12-01T10:00:00Z",
            "Dec  1 10:00:00",
        ] {
            s.entry("time_layout")
                .or_default()
                .push(format!("{l}\n{value}").into_bytes());
        }
    }
    s.entry("time_layout")
        .or_default()
        .push(b"%d/%b/%Y:%H:%M:%S %z\n01/Dec/2026:10:00:00 +0100".to_vec());
    for statement in [
        r#"set(attributes["http.route"], "/items") where name == "GET /items""#,
        r#"delete_key(attributes, "body") where attributes["http.status_code"] >= 500"#,
        r#"merge_maps(attributes, ParseJSON(attributes["body"]), "upsert")"#,
        r#"replace_pattern(name, "\d+", "{id}")"#,
        r#"truncate_all(attributes, 64)"#,
        r#"set(span.status.code, STATUS_CODE_ERROR) where span.attributes["http.status_code"] > 499"#,
        r#"IsMatch(name, "^GET ") and resource.attributes["service.name"] == "api""#,
        r#"keep_keys(attributes, ["http.status_code"]) where Len(attributes) > 1 or kind == SPAN_KIND_SERVER"#,
        r#"set(attributes["sum"], 1 + 2 * 3) where SHA256(name) != nil"#,
    ] {
        s.entry("ottl_statement")
            .or_default()
            .push(statement.as_bytes().to_vec());
    }
    for dir in ["config-examples", "compat/corpus"] {
        for p in files(&repo().join(dir), ".yaml") {
            s.entry("config_yaml").or_default().push(read(&p));
        }
    }
    s
}

fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo().join("fuzz/regressions").join(target);
    if !dir.is_dir() {
        return Vec::new();
    }
    files(&dir, "")
        .into_iter()
        .map(|p| {
            let b = read(&p);
            (p, b)
        })
        .collect()
}

#[test]
fn every_target_has_seeds_and_they_pass_their_check() {
    let seeds = seeds();
    let out = std::env::var_os("FERROTEL_FUZZ_CORPUS").map(PathBuf::from);
    for (name, check) in ferrotel_fuzz::TARGETS {
        let inputs = seeds.get(name).map(Vec::as_slice).unwrap_or(&[]);
        assert!(inputs.len() >= 2, "{name}: {} seeds", inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let r = std::panic::catch_unwind(|| check(input));
            assert!(r.is_ok(), "{name}: seed {i} fails its check");
        }
        if let Some(out) = &out {
            let dir = out.join(name);
            std::fs::create_dir_all(&dir).expect("corpus dir");
            for (i, input) in inputs.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i:03}")), input).expect("write seed");
            }
        }
    }
}

#[test]
fn stored_regressions_pass_their_check() {
    for (name, check) in ferrotel_fuzz::TARGETS {
        for (path, input) in regressions(name) {
            let r = std::panic::catch_unwind(|| check(&input));
            assert!(r.is_ok(), "{name}: {} fails its check", path.display());
        }
    }
}

/// The seeds reach the interesting paths, not only the error exits: the OTLP seeds scan, the
/// compressed ones decompress, the configs load.
#[test]
fn the_seeds_are_valid_inputs() {
    let seeds = seeds();
    for input in &seeds["otlp_wire"] {
        let signal = [Signal::Traces, Signal::Metrics, Signal::Logs][input[0] as usize];
        pipeline_api::wire::scan(signal, &input[1..]).expect("an OTLP seed scans");
    }
    for input in &seeds["decompress"] {
        let enc = ferrotel_fuzz::ENCODINGS[input[0] as usize];
        let enabled: Vec<String> = ferrotel_fuzz::ENCODINGS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = receivers::otlp::compression::decompress(enc, &input[1..], &enabled, 1 << 20);
        assert!(matches!(out, Ok(Some(_))), "{enc} seed decompresses");
    }
    for input in &seeds["prometheus_text"] {
        let format = [
            receivers::prometheus::textparse::Format::Text,
            receivers::prometheus::textparse::Format::OpenMetrics,
        ][input[0] as usize];
        receivers::prometheus::textparse::parse(&input[1..], format)
            .expect("a real exposition parses");
    }
    for input in &seeds["ottl_statement"] {
        let text = std::str::from_utf8(input).expect("utf-8");
        let style = ottl::PathStyle::Contextual;
        assert!(
            ottl::Statement::compile(text, ottl::ContextKind::Span, style).is_ok()
                || ottl::Condition::compile(text, ottl::ContextKind::Span, style).is_ok(),
            "{text}"
        );
    }
    let config = read(&repo().join("config-examples/otlp-debug-two-pipelines-config.yaml"));
    assert_eq!(ferrotel_fuzz::load_config(&config), Ok(()));
    let loaded = seeds["config_yaml"]
        .iter()
        .filter(|c| ferrotel_fuzz::load_config(c).is_ok())
        .count();
    assert!(
        loaded * 2 >= seeds["config_yaml"].len(),
        "{loaded} configs load"
    );
}
