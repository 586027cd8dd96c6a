use std::path::PathBuf;

use pipeline_api::config::ConfigValue;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::{Batch, ComponentId};

use super::*;
use crate::common::testutil::{logs, metrics, str_kv, traces};

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Config {
    let any = factory().parse_config(&yaml(s)).expect("valid config");
    let any: &dyn std::any::Any = &*any;
    any.downcast_ref::<Config>().unwrap().clone()
}

fn errors(s: &str) -> Vec<String> {
    match factory().parse_config(&yaml(s)) {
        Ok(_) => Vec::new(),
        Err(es) => es.iter().map(|e| e.to_string()).collect(),
    }
}

/// A directory removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "ferrotel-file-{name}-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn path(&self, f: &str) -> String {
        self.0.join(f).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn build(cfg: &Config) -> FileExporter {
    FileExporter::new(ComponentId::parse("file").unwrap(), cfg)
}

#[test]
fn defaults_match_go_factory() {
    let cfg = Config::default();
    assert_eq!(cfg.format, "json");
    assert_eq!(cfg.rotation, None);
    assert_eq!(cfg.group_by.resource_attribute, "fileexporter.path_segment");
    assert_eq!(cfg.group_by.max_open_files, 100);
    assert!(!cfg.group_by.enabled);
    assert_eq!(cfg.flush_interval(), std::time::Duration::from_secs(1));
    assert!(!factory().queue_and_retry_by_default());
    // `rotation:` present with one key keeps Go's pre-filled max_backups.
    let c = parse("path: ./x.json\nrotation:\n  max_megabytes: 10\n");
    assert_eq!(
        c.rotation,
        Some(Rotation {
            max_megabytes: 10,
            max_days: 0,
            max_backups: 100,
            localtime: false
        })
    );
    assert_eq!(factory().type_name(), "file");
}

/// Go's testdata/config.yaml shapes (exporter/fileexporter/testdata/config.yaml).
#[test]
fn go_testdata_configs_parse() {
    let c = parse(
        "path: ./filename.json\nrotation:\n  max_megabytes: 10\n  max_days: 3\n  max_backups: 3\n  localtime: true\nformat: json\ncompression: zstd\nflush_interval: 5s\n",
    );
    assert_eq!(c.flush_interval(), std::time::Duration::from_secs(5));
    assert!(c.zstd());
    let c = parse(
        "path: ./group/*.json\ngroup_by:\n  enabled: true\n  resource_attribute: dummy\n  max_open_files: 10\n",
    );
    assert!(c.group_by.enabled);
    let c = parse("path: ./x\nappend: true\n");
    assert!(c.append);
}

#[test]
fn invalid_configs_are_refused_with_go_messages() {
    assert!(errors("{}")
        .iter()
        .any(|e| e.contains("path must be non-empty")));
    assert!(errors("path: x\nformat: text")
        .iter()
        .any(|e| e.contains("format type is not supported")));
    assert!(errors("path: x\ncompression: gzip")
        .iter()
        .any(|e| e.contains("compression is not supported")));
    assert!(errors("path: x\nappend: true\ncompression: zstd")
        .iter()
        .any(|e| e.contains("append and compression")));
    assert!(
        errors("path: x\nappend: true\nrotation: {max_megabytes: 1}")
            .iter()
            .any(|e| e.contains("append and rotation"))
    );
    assert!(errors("path: x\ngroup_by: {enabled: true}")
        .iter()
        .any(|e| e.contains("exactly one *")));
    assert!(errors("path: '*x'\ngroup_by: {enabled: true}")
        .iter()
        .any(|e| e.contains("must not start with *")));
    assert!(errors("path: x\ndirectory_permissions: '0755'")
        .iter()
        .any(|e| e.contains("requires create_directory")));
    assert!(
        errors("path: x\ncreate_directory: true\ndirectory_permissions: '9'")
            .iter()
            .any(|e| e.contains("valid octal"))
    );
    assert!(errors("path: x\nencoding: otlp_encoding")
        .iter()
        .any(|e| e.contains("encoding extensions are not supported")));
    assert!(errors("path: x\nbogus: 1")
        .iter()
        .any(|e| e.contains("bogus")));
    assert!(
        errors("path: x\ncompression: zstd\ncompression_params: {level: 30}")
            .iter()
            .any(|e| e.contains("compression_params"))
    );
}

#[tokio::test]
async fn json_lines_one_request_per_line_flushed_at_shutdown() {
    let dir = Dir::new("json");
    let path = dir.path("out.json");
    let e = build(&parse(&format!("path: {path}\n")));
    e.start().await.unwrap();
    e.export(Batch::from_traces(traces(3))).await.unwrap();
    e.export(Batch::from_metrics(metrics(2))).await.unwrap();
    e.export(Batch::from_logs(logs(4))).await.unwrap();
    e.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let t: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let spans = t["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap();
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[1]["name"], "span-1");
    assert_eq!(spans[0]["traceId"], "abababababababababababababababab");
    let m: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["name"],
        "test.gauge"
    );
    let l: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(
        l["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn truncates_unless_append() {
    let dir = Dir::new("append");
    let path = dir.path("out.json");
    std::fs::write(&path, "old line\n").unwrap();
    let e = build(&parse(&format!("path: {path}\n")));
    e.start().await.unwrap();
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    e.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("old line"));
    assert_eq!(text.lines().count(), 1);

    let e = build(&parse(&format!("path: {path}\nappend: true\n")));
    e.start().await.unwrap();
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    e.shutdown().await;
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn flush_interval_writes_without_shutdown() {
    let dir = Dir::new("flush");
    let path = dir.path("out.json");
    let e = build(&parse(&format!("path: {path}\nflush_interval: 50ms\n")));
    e.start().await.unwrap();
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    // Buffered: nothing on disk before the flush.
    assert_eq!(std::fs::read(&path).unwrap().len(), 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if !std::fs::read(&path).unwrap().is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never flushed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    e.shutdown().await;
}

#[tokio::test]
async fn proto_and_zstd_records_decode_to_what_went_in() {
    for (fmt, comp) in [("proto", ""), ("proto", "zstd"), ("json", "zstd")] {
        let dir = Dir::new("proto");
        let path = dir.path("out.bin");
        let cfg = parse(&format!(
            "path: {path}\nformat: {fmt}\ncompression: '{comp}'\n"
        ));
        let e = build(&cfg);
        e.start().await.unwrap();
        e.export(Batch::from_traces(traces(2))).await.unwrap();
        e.export(Batch::from_traces(traces(5))).await.unwrap();
        e.shutdown().await;
        let bytes = std::fs::read(&path).unwrap();
        // The 4-byte big-endian length comes first.
        let first_len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert!(first_len > 0 && first_len + 4 < bytes.len());
        let payloads = Framing::of(&cfg).payloads(&bytes).unwrap();
        assert_eq!(payloads.len(), 2, "{fmt} {comp}");
        if fmt == "proto" {
            let got = ExportTraceServiceRequest::decode(payloads[1].as_slice()).unwrap();
            assert_eq!(got, traces(5));
        } else {
            let v: serde_json::Value = serde_json::from_slice(&payloads[1]).unwrap();
            assert_eq!(
                v["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .unwrap()
                    .len(),
                5
            );
        }
        if comp == "zstd" {
            // A zstd frame starts with its magic number.
            assert_eq!(&bytes[4..8], &[0x28, 0xb5, 0x2f, 0xfd]);
        }
    }
}

#[tokio::test]
async fn rotation_keeps_at_most_max_backups() {
    let dir = Dir::new("rotate");
    let path = dir.path("data.json");
    let cfg = parse(&format!(
        "path: {path}\nrotation:\n  max_megabytes: 1\n  max_backups: 2\n"
    ));
    let e = build(&cfg);
    e.start().await.unwrap();
    // ~200 KiB per request: about 5 per file, 30 requests rotate several times.
    let mut big = logs(1);
    big.resource_logs[0].scope_logs[0].log_records[0].body =
        Some(pipeline_api::proto::tonic::common::v1::AnyValue {
            value: Some(any_value::Value::StringValue("x".repeat(200 * 1024))),
        });
    for _ in 0..30 {
        e.export(Batch::from_logs(big.clone())).await.unwrap();
    }
    e.shutdown().await;
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let backups: Vec<&String> = names.iter().filter(|n| *n != "data.json").collect();
    assert_eq!(backups.len(), 2, "{names:?}");
    for b in &backups {
        assert!(b.starts_with("data-") && b.ends_with("-size.json"), "{b}");
        let size = std::fs::metadata(dir.0.join(b)).unwrap().len();
        assert!(size <= 1024 * 1024, "{b}: {size}");
    }
    // Every line of the current file and the backups is a whole request.
    let mut lines = 0;
    for n in &names {
        for l in std::fs::read_to_string(dir.0.join(n)).unwrap().lines() {
            let _: serde_json::Value = serde_json::from_str(l).unwrap();
            lines += 1;
        }
    }
    assert!((10..30).contains(&lines), "{lines}");
}

#[tokio::test]
async fn a_write_larger_than_the_rotation_size_is_refused() {
    let dir = Dir::new("toolarge");
    let path = dir.path("data.json");
    let e = build(&parse(&format!(
        "path: {path}\nrotation:\n  max_megabytes: 1\n"
    )));
    e.start().await.unwrap();
    let mut big = logs(1);
    big.resource_logs[0].scope_logs[0].log_records[0].body =
        Some(pipeline_api::proto::tonic::common::v1::AnyValue {
            value: Some(any_value::Value::StringValue("x".repeat(2 * 1024 * 1024))),
        });
    let err = e.export(Batch::from_logs(big)).await.unwrap_err();
    assert!(
        err.to_string().contains("exceeds maximum file size"),
        "{err}"
    );
    e.shutdown().await;
}

fn with_segment(mut r: ExportLogsServiceRequest, seg: Option<&str>) -> ExportLogsServiceRequest {
    let res = r.resource_logs[0].resource.as_mut().unwrap();
    if let Some(s) = seg {
        res.attributes.push(str_kv("fileexporter.path_segment", s));
    }
    r
}

#[tokio::test]
async fn group_by_writes_one_file_per_attribute_value() {
    let dir = Dir::new("group");
    let pattern = dir.path("out/*/data.json");
    let e = build(&parse(&format!(
        "path: {pattern}\ngroup_by:\n  enabled: true\n  max_open_files: 1\n"
    )));
    e.start().await.unwrap();
    let mut req = with_segment(logs(1), Some("a"));
    req.resource_logs
        .extend(with_segment(logs(2), Some("b")).resource_logs);
    req.resource_logs
        .extend(with_segment(logs(3), None).resource_logs);
    req.resource_logs
        .extend(with_segment(logs(4), Some("../../escape")).resource_logs);
    e.export(Batch::from_logs(req)).await.unwrap();
    e.export(Batch::from_logs(with_segment(logs(5), Some("a"))))
        .await
        .unwrap();
    e.shutdown().await;
    let read = |seg: &str| -> Vec<ExportLogsServiceRequest> {
        let p = dir.0.join("out").join(seg).join("data.json");
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|_| ExportLogsServiceRequest::default())
            .collect()
    };
    assert_eq!(read("a").len(), 2);
    assert_eq!(read("b").len(), 1);
    // `../../escape` stays under the prefix directory.
    assert_eq!(read("escape").len(), 1);
    assert!(!dir.0.join("escape").exists());
}

#[test]
fn clean_path_matches_go() {
    assert_eq!(clean_path("a/b/../c"), "a/c");
    assert_eq!(clean_path("/a/../../b"), "/b");
    assert_eq!(clean_path("./x//y/"), "x/y");
    assert_eq!(clean_path("../a"), "../a");
    assert_eq!(clean_path(""), ".");
}

#[test]
fn truncated_framed_file_is_an_error_not_a_panic() {
    let f = Framing {
        format: Format::Proto,
        zstd: None,
    };
    assert!(f.payloads(&[0, 0, 0, 9, 1, 2]).is_err());
    assert!(f.payloads(&[0, 0]).is_err());
    let _ = ExportMetricsServiceRequest::default();
}
