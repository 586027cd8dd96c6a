//! Operators in the running receiver: a Docker file through the operators to OTLP, Docker
//! metadata from `config.v2.json`. The operators themselves are tested in the `stanza` crate.

use std::sync::Arc;

use super::*;

const T: u64 = 1_704_110_400_000_000_000; // 2024-01-01T12:00:00Z

const STRUCTLOG_OPS: &str = r#"
- type: container
- type: key_value_parser
  timestamp:
    parse_from: attributes.timestamp
    layout: '%Y-%m-%dT%H:%M:%SZ'
  severity:
    parse_from: attributes.level
  trace:
    trace_id:
      parse_from: attributes.trace_id
"#;

#[tokio::test]
async fn structlog_end_to_end_from_a_docker_file_to_otlp() {
    let dir = TempDir::new("structlog");
    let f = dir.path("abc-json.log");
    let log = "timestamp='2024-01-01T12:00:00Z' level='error' event='Request failed' status_code=500 trace_id='4bf92f3577b34da6a3ce929d0e0e4736'";
    append(
        &f,
        &format!(
            "{}\n",
            serde_json::json!({"log": format!("{log}\n"), "stream": "stderr", "time": "2024-01-01T12:00:00.1Z"})
        ),
    );
    let ops: String = STRUCTLOG_OPS.lines().map(|l| format!("  {l}\n")).collect();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*-json.log"),
            &format!("start_at: beginning\noperators:\n{ops}"),
        ),
        &sink,
        None,
    );
    wait_records(&sink, 1).await;
    let rec = &sink.records()[0];
    assert_eq!(rec.severity_number, 17);
    assert_eq!(rec.severity_text, "error");
    assert_eq!(rec.time_unix_nano, T);
    assert_eq!(rec.trace_id.len(), 16);
    assert_eq!(attr(rec, "event").as_deref(), Some("Request failed"));
    assert_eq!(attr(rec, "log.iostream").as_deref(), Some("stderr"));
    r.stop().await;
}

#[tokio::test]
async fn docker_metadata_from_config_v2_json_without_the_socket() {
    docker_metadata(true).await;
}

/// Without `include_file_path` (the Go default) the metadata comes from the path the reader
/// knows, and no `log.file.path` attribute appears.
#[tokio::test]
async fn docker_metadata_without_include_file_path() {
    docker_metadata(false).await;
}

async fn docker_metadata(include_file_path: bool) {
    let dir = TempDir::new("dockermeta");
    let id = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    let cdir = dir.path(&format!("containers/{id}"));
    std::fs::create_dir_all(&cdir).unwrap();
    let config = |name: &str| {
        serde_json::json!({
            "ID": id,
            "Name": format!("/{name}"),
            "Config": {
                "Image": "ghcr.io/acme/shop-api:1.4.2",
                "Labels": {
                    "com.docker.compose.service": "api",
                    "com.docker.compose.project": "shop"
                }
            }
        })
        .to_string()
    };
    std::fs::write(cdir.join("config.v2.json"), config("shop-api-1")).unwrap();
    let log = cdir.join(format!("{id}-json.log"));
    let line = |msg: &str| {
        format!(
            "{}\n",
            serde_json::json!({"log": format!("{msg}\n"), "stream": "stdout", "time": "2024-01-01T12:00:00Z"})
        )
    };
    append(&log, &line("first"));
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("containers/*/*-json.log"),
            &format!("start_at: beginning\ninclude_file_path: {include_file_path}\noperators:\n  - type: container\n    docker_metadata: true\n"),
        ),
        &sink,
        None,
    );
    wait_records(&sink, 1).await;
    assert_eq!(
        attr(&sink.records()[0], "log.file.path").is_some(),
        include_file_path
    );
    let res = |b: &pipeline_api::Batch| -> BTreeMap<String, String> {
        b.as_logs().unwrap().resource_logs[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(
                        pipeline_api::proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) => s.clone(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), v)
            })
            .collect()
    };
    let attrs = res(&sink.batches()[0]);
    assert_eq!(attrs["container.id"], id);
    assert_eq!(attrs["container.name"], "shop-api-1");
    assert_eq!(attrs["container.image.name"], "ghcr.io/acme/shop-api");
    assert_eq!(attrs["service.name"], "api");
    assert_eq!(attrs["docker.compose.service"], "api");
    assert_eq!(attrs["docker.compose.project"], "shop");
    // the container is recreated under another name: the cache notices the change
    std::fs::write(cdir.join("config.v2.json"), config("shop-api-2")).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    let f = std::fs::File::options()
        .write(true)
        .open(cdir.join("config.v2.json"))
        .unwrap();
    f.set_modified(later).unwrap();
    wait_for("renamed container", || {
        append(&log, &line("again"));
        sink.batches()
            .iter()
            .any(|b| res(b).get("container.name").map(String::as_str) == Some("shop-api-2"))
    })
    .await;
    r.stop().await;
}
