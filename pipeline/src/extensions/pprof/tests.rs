use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{BuildContext, ComponentId, ComponentKind, Extension};
use pprof::protos::{Message, Profile};

use super::*;

fn parse(yaml: &str) -> Result<PprofConfig, Vec<pipeline_api::config::ConfigError>> {
    let value: ConfigValue = serde_yaml_ng::from_str(yaml).expect("yaml");
    parse_typed::<PprofConfig>(&value)
}

fn build(yaml: &str) -> Arc<dyn Extension> {
    let id = ComponentId::parse("pprof").unwrap();
    let value: ConfigValue = serde_yaml_ng::from_str(yaml).expect("yaml");
    let cfg = factory().parse_config(&value).expect("config");
    let ctx = BuildContext {
        id: id.clone(),
        telemetry: ComponentTelemetry::detached(ComponentKind::Extension, &id),
        signals: vec![],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    };
    factory().build(ctx, &*cfg).expect("build")
}

fn addr(ext: &Arc<dyn Extension>) -> SocketAddr {
    ext.as_any()
        .downcast_ref::<Pprof>()
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A blocking HTTP/1.1 GET: (status, headers, body bytes).
fn get(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, buf[end + 4..].to_vec())
}

async fn get_async(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || get(addr, &path))
        .await
        .unwrap()
}

/// Gunzip and decode a profile as `go tool pprof` would; check it is a CPU profile with
/// samples.
fn decode_cpu_profile(gz: &[u8]) -> Profile {
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .expect("gunzip");
    let p = Profile::decode(raw.as_slice()).expect("pprof protobuf");
    let name = |i: i64| p.string_table[i as usize].clone();
    assert_eq!(p.string_table[0], "", "string table starts with \"\"");
    let types: Vec<(String, String)> = p
        .sample_type
        .iter()
        .map(|t| (name(t.ty), name(t.unit)))
        .collect();
    assert_eq!(
        types,
        vec![
            ("samples".to_string(), "count".to_string()),
            ("cpu".to_string(), "nanoseconds".to_string())
        ]
    );
    assert!(!p.sample.is_empty(), "no samples");
    assert!(p.sample.iter().all(|s| s.value.len() == 2));
    assert!(!p.location.is_empty() && !p.function.is_empty());
    p
}

/// Keep one core busy until dropped.
struct Burn(Arc<AtomicBool>, Option<std::thread::JoinHandle<u64>>);

impl Burn {
    fn start() -> Burn {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let h = std::thread::spawn(move || {
            let mut x = 1u64;
            while !s.load(Ordering::Relaxed) {
                for i in 0..10_000u64 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
                }
            }
            x
        });
        Burn(stop, Some(h))
    }
}

impl Drop for Burn {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(h) = self.1.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn defaults_validate_and_match_go() {
    let cfg = parse("{}").expect("defaults");
    assert_eq!(cfg, PprofConfig::default());
    assert_eq!(cfg.endpoint, "localhost:1777");
    assert_eq!(cfg.block_profile_fraction, 0);
    assert_eq!(cfg.mutex_profile_fraction, 0);
    assert_eq!(cfg.save_to_file, "");
    let cfg = parse(
        "endpoint: 0.0.0.0:1777\nblock_profile_fraction: 3\nmutex_profile_fraction: 5\nsave_to_file: /tmp/cpu.pprof\ndialer:\n  timeout: 1s\n",
    )
    .expect("every Go key");
    assert_eq!(cfg.block_profile_fraction, 3);
    assert_eq!(cfg.save_to_file, "/tmp/cpu.pprof");
}

#[test]
fn unknown_keys_are_rejected() {
    let errors = parse("endpiont: x\n").unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("endpiont") && t.contains("endpoint")),
        "{text:?}"
    );
}

#[test]
fn seconds_param_reads_as_go() {
    assert_eq!(seconds_param(None), 30);
    assert_eq!(seconds_param(Some("seconds=5")), 5);
    assert_eq!(seconds_param(Some("debug=1&seconds=2")), 2);
    assert_eq!(seconds_param(Some("seconds=0")), 30);
    assert_eq!(seconds_param(Some("seconds=-3")), 30);
    assert_eq!(seconds_param(Some("seconds=abc")), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_lists_profiles_and_unknown_ones_are_404() {
    let ext = build("endpoint: 127.0.0.1:0");
    ext.start().await.expect("start");
    let a = addr(&ext);
    let (status, head, body) = get_async(a, "/debug/pprof/").await;
    assert_eq!(status, 200, "{head}");
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("<a href=\"profile\">profile</a>"), "{body}");
    assert!(body.contains("heap") && body.contains("system allocator"));
    let (status, _, body) = get_async(a, "/debug/pprof/heap").await;
    assert_eq!(status, 404);
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("Unknown profile: heap"), "{body}");
    assert!(body.contains("profile, cmdline"), "{body}");
    let (status, _, body) = get_async(a, "/debug/pprof/cmdline").await;
    assert_eq!(status, 200);
    assert!(!body.is_empty());
    ext.shutdown().await;
    ext.shutdown().await;
}

/// Everything that uses the process-wide CPU profiler, in one test so no two overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_profiles_over_http_and_to_a_file() {
    // over HTTP: a 1 s profile of a busy process is a gzipped pprof with CPU samples
    let ext = build("endpoint: 127.0.0.1:0");
    ext.start().await.expect("start");
    let a = addr(&ext);
    let burn = Burn::start();
    let first = tokio::spawn(get_async(a, "/debug/pprof/profile?seconds=1"));
    let (status, head, body) = first.await.unwrap();
    drop(burn);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/octet-stream"),
        "{head}"
    );
    let p = decode_cpu_profile(&body);
    let samples: i64 = p.sample.iter().map(|s| s.value[0]).sum();
    assert!(samples >= 20, "a busy second gave only {samples} samples");
    assert!(p.duration_nanos >= 900_000_000, "{}", p.duration_nanos);
    ext.shutdown().await;

    // save_to_file: profiles from start to shutdown
    let dir = std::env::temp_dir().join(format!("ferrotel-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cpu.pprof");
    let ext = build(&format!(
        "endpoint: 127.0.0.1:0\nsave_to_file: {:?}",
        file.display().to_string()
    ));
    ext.start().await.expect("start with save_to_file");
    let a = addr(&ext);
    {
        let _burn = Burn::start();
        tokio::time::sleep(Duration::from_millis(700)).await;
        // the whole-run profile holds the process-wide profiler: a second one is refused,
        // as Go refuses it
        let (status, _, body) = get_async(a, "/debug/pprof/profile?seconds=1").await;
        assert_eq!(status, 500);
        let body = String::from_utf8_lossy(&body);
        assert!(
            body.contains("Could not enable CPU profiling: cpu profiling already in use"),
            "{body}"
        );
    }
    ext.shutdown().await;
    let bytes = std::fs::read(&file).expect("profile file");
    decode_cpu_profile(&bytes);
    let _ = std::fs::remove_dir_all(&dir);

    // a path that cannot be created fails the start, as in Go
    let ext = build("endpoint: 127.0.0.1:0\nsave_to_file: /nonexistent-dir/x/cpu.pprof");
    let err = ext.start().await.unwrap_err().to_string();
    assert!(err.contains("save_to_file"), "{err}");
    ext.shutdown().await;
}
