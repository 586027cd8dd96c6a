//! The kill-and-restart soak: an agent Ferrotel (filelog with checkpoints and an OTLP/gRPC
//! receiver, both into an `otlp` exporter with a persistent sending queue) under steady load
//! is killed with SIGKILL at random points and started again, while its gateway (this
//! program's OTLP/gRPC server) is stopped and started at random too. At the end every log
//! line written and every span the agent acknowledged must have arrived at the gateway;
//! duplicates are counted. Bounded in time, loopback only.
//!
//! ```sh
//! cargo build --release -p ferrotel -p bench
//! target/release/soak --ferrotel target/release/ferrotel --kills 20
//! # rotated as Docker's json-file driver does (max-file 3), several times per kill
//! target/release/soak --ferrotel target/release/ferrotel --kills 10 --rotate docker \
//!     --max-files 3 --rotate-bytes 200000
//! ```
//!
//! Prints the figures and a last line `soak: PASS` or `soak: FAIL`; exits 1 on a failure.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tonic::{Request, Response, Status};

#[derive(Parser, Debug)]
#[command(
    about = "Kill-and-restart soak of a Ferrotel agent; every line and acknowledged span must arrive"
)]
struct Args {
    /// The Ferrotel binary to run as the agent.
    #[arg(long, default_value = "target/release/ferrotel")]
    ferrotel: PathBuf,
    /// SIGKILLs of the agent.
    #[arg(long, default_value_t = 20)]
    kills: u32,
    /// Stops of the gateway (each 1 to 3 s long).
    #[arg(long, default_value_t = 10)]
    gateway_stops: u32,
    /// Log lines per second written to the agent's file.
    #[arg(long, default_value_t = 2000)]
    lines_per_sec: u64,
    /// Spans per second sent to the agent over OTLP/gRPC (requests of 10).
    #[arg(long, default_value_t = 2000)]
    spans_per_sec: u64,
    /// The log file is rotated at this size.
    #[arg(long, default_value_t = 4 << 20)]
    rotate_bytes: u64,
    /// How the log file is rotated: `rename` (a logging library: renamed to `.1`, replacing
    /// the previous one) or `docker` (Docker's json-file driver: the oldest of `--max-files`
    /// removed, `.1` renamed to `.2` and so on, the live file to `.1`, a new live file).
    #[arg(long, value_enum, default_value_t = Rotate::Rename)]
    rotate: Rotate,
    /// With `--rotate docker`: the live file and the rotated ones kept (Docker's `max-file`).
    #[arg(long, default_value_t = 3)]
    max_files: u32,
    /// Seconds between kills: uniformly between 1 and this.
    #[arg(long, default_value_t = 4.0)]
    max_gap: f64,
    /// Seconds to wait for everything to arrive once the load stops.
    #[arg(long, default_value_t = 120)]
    deadline: u64,
    /// Seed of the random schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Working directory (default: a new one under /tmp, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Rotate {
    Rename,
    Docker,
}

/// What the gateway received: per log line body and per span name, how many times.
#[derive(Default)]
struct Received {
    lines: Mutex<HashMap<String, u32>>,
    spans: Mutex<HashMap<String, u32>>,
}

#[derive(Clone)]
struct Gateway(Arc<Received>);

#[tonic::async_trait]
impl LogsService for Gateway {
    async fn export(
        &self,
        r: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let mut lines = self.0.lines.lock().unwrap();
        for rl in &r.get_ref().resource_logs {
            for sl in &rl.scope_logs {
                for l in &sl.log_records {
                    if let Some(any_value::Value::StringValue(s)) =
                        l.body.as_ref().and_then(|b| b.value.as_ref())
                    {
                        *lines.entry(s.clone()).or_default() += 1;
                    }
                }
            }
        }
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Gateway {
    async fn export(
        &self,
        r: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.0.spans.lock().unwrap();
        for rs in &r.get_ref().resource_spans {
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    *spans.entry(s.name.clone()).or_default() += 1;
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The gateway's server, which can be stopped and started again on the same port.
struct Server {
    addr: SocketAddr,
    received: Arc<Received>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    async fn start(&mut self) {
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let g = Gateway(self.received.clone());
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        self.task = Some(tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(
                    LogsServiceServer::new(g.clone())
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .max_decoding_message_size(64 << 20),
                )
                .add_service(
                    TraceServiceServer::new(g)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .max_decoding_message_size(64 << 20),
                )
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        }));
        self.stop = Some(stop);
    }

    async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The agent: its config, and the running process.
struct Agent {
    bin: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    peak_rss_kb: u64,
    starts: u32,
}

impl Agent {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("agent log file");
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the agent starts");
        self.child = Some(child);
        self.starts += 1;
    }

    fn note_rss(&mut self) {
        if let Some(c) = &self.child {
            let status =
                std::fs::read_to_string(format!("/proc/{}/status", c.id())).unwrap_or_default();
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                self.peak_rss_kb = self.peak_rss_kb.max(kb);
            }
        }
    }

    fn kill(&mut self) {
        self.note_rss();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn stop(&mut self) {
        self.note_rss();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn config(dir: &Path, grpc: u16, gateway: SocketAddr, metrics: u16) -> String {
    format!(
        r#"
extensions:
  file_storage:
    directory: {storage}
receivers:
  filelog:
    include: [{logs}/app.log*]
    start_at: beginning
    storage: file_storage
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
exporters:
  otlp:
    endpoint: {gateway}
    tls:
      insecure: true
    sending_queue:
      storage: file_storage
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0s
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlp]
    traces:
      receivers: [otlp]
      exporters: [otlp]
"#,
        storage = dir.join("storage").display(),
        logs = dir.join("logs").display(),
    )
}

/// How the writer rotates, and the lines of the files it deleted (`--rotate docker`).
struct Rotation {
    mode: Rotate,
    bytes: u64,
    max_files: u32,
    /// Line numbers `[first, last]` of each file still on disk, the live one last.
    on_disk: Vec<(u64, u64)>,
    /// Line numbers of the files deleted by a rotation, and when.
    deleted: Vec<(u64, u64, Instant)>,
}

impl Rotation {
    /// Rotate `path`; the live file held lines up to `last`.
    fn rotate(&mut self, path: &Path, last: u64) {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
        if let Some(live) = self.on_disk.last_mut() {
            live.1 = last;
        }
        match self.mode {
            Rotate::Rename => {
                // the previous `.1` is replaced
                if self.on_disk.len() > 1 {
                    let old = self.on_disk.remove(0);
                    self.deleted.push((old.0, old.1, Instant::now()));
                }
                std::fs::rename(path, numbered(1)).expect("rotate");
            }
            Rotate::Docker => {
                let max = self.max_files.max(2);
                if std::fs::remove_file(numbered(max - 1)).is_ok() {
                    let old = self.on_disk.remove(0);
                    self.deleted.push((old.0, old.1, Instant::now()));
                }
                for n in (1..max - 1).rev() {
                    let _ = std::fs::rename(numbered(n), numbered(n + 1));
                }
                std::fs::rename(path, numbered(1)).expect("rotate");
            }
        }
        self.on_disk.push((last + 1, u64::MAX));
    }
}

/// Writes `soak line N` lines at a rate, rotating the file at a size.
fn write_lines(
    dir: PathBuf,
    per_sec: u64,
    rotation: Arc<Mutex<Rotation>>,
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
) {
    let path = dir.join("app.log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("log file");
    let mut size = 0u64;
    let rotate = rotation.lock().unwrap().bytes;
    rotation.lock().unwrap().on_disk.push((1, u64::MAX));
    let started = Instant::now();
    let pad = "p".repeat(60);
    while !stop.load(Ordering::SeqCst) {
        let due = (started.elapsed().as_secs_f64() * per_sec as f64) as u64;
        let mut n = written.load(Ordering::SeqCst);
        if n >= due {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let mut chunk = String::new();
        while n < due && chunk.len() < 64 * 1024 {
            n += 1;
            chunk.push_str(&format!("soak line {n} {pad}\n"));
        }
        file.write_all(chunk.as_bytes()).expect("log write");
        written.store(n, Ordering::SeqCst);
        size += chunk.len() as u64;
        if size >= rotate {
            rotation.lock().unwrap().rotate(&path, n);
            file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("log file");
            size = 0;
        }
    }
}

/// Sends requests of 10 spans named `span-N`; the names of those the agent acknowledged.
async fn send_spans(
    grpc: u16,
    per_sec: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    sent: Arc<AtomicU64>,
) {
    let started = Instant::now();
    let mut next = 0u64;
    let mut client: Option<TraceServiceClient<tonic::transport::Channel>> = None;
    while !stop.load(Ordering::SeqCst) {
        let due = (started.elapsed().as_secs_f64() * per_sec as f64) as u64;
        if next + 10 > due {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        if client.is_none() {
            client = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
                .await
                .ok();
            if client.is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        let names: Vec<String> = (next..next + 10).map(|i| format!("span-{i}")).collect();
        next += 10;
        sent.fetch_add(10, Ordering::SeqCst);
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("soak".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: names
                        .iter()
                        .enumerate()
                        .map(|(k, n)| Span {
                            trace_id: (next as u128 * 16 + k as u128 + 1).to_be_bytes().to_vec(),
                            span_id: (next * 16 + k as u64 + 1).to_be_bytes().to_vec(),
                            name: n.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let c = client.as_mut().expect("connected");
        let mut req = Request::new(request);
        req.set_timeout(Duration::from_secs(5));
        match c.export(req).await {
            Ok(_) => acked.lock().unwrap().extend(names),
            Err(_) => {
                // not acknowledged (the agent is down or refused): not owed
                client = None;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A tiny random source (xorshift) for the schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let ok = run(&args).await;
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(args: &Args) -> bool {
    let temp = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ferrotel-soak-{}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).expect("soak directory");
    std::fs::create_dir_all(dir.join("storage")).expect("soak directory");
    let mut rng = Rng(args.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let t0 = Instant::now();

    let received = Arc::new(Received::default());
    let mut gateway = Server {
        addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
        received: received.clone(),
        stop: None,
        task: None,
    };
    gateway.start().await;
    let grpc = free_port();
    let config_path = dir.join("agent.yaml");
    std::fs::write(&config_path, config(&dir, grpc, gateway.addr, free_port())).expect("config");
    let mut agent = Agent {
        bin: args.ferrotel.clone(),
        config: config_path,
        log: dir.join("agent.log"),
        child: None,
        peak_rss_kb: 0,
        starts: 0,
    };
    agent.start();

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let rotation = Arc::new(Mutex::new(Rotation {
        mode: args.rotate,
        bytes: args.rotate_bytes,
        max_files: args.max_files,
        on_disk: Vec::new(),
        deleted: Vec::new(),
    }));
    let writer = {
        let (logs, stop, written) = (dir.join("logs"), stop.clone(), written.clone());
        let (rate, rotation) = (args.lines_per_sec, rotation.clone());
        std::thread::spawn(move || write_lines(logs, rate, rotation, stop, written))
    };
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = tokio::spawn(send_spans(
        grpc,
        args.spans_per_sec,
        stop.clone(),
        acked.clone(),
        sent.clone(),
    ));

    // the schedule: kills, and gateway stops spread among them
    let mut downs: Vec<(Instant, Instant)> = Vec::new();
    let mut gateway_stops_left = args.gateway_stops;
    for k in 0..args.kills {
        tokio::time::sleep(Duration::from_secs_f64(
            rng.between(1.0, args.max_gap.max(1.0)),
        ))
        .await;
        if gateway_stops_left > 0
            && rng.next() < f64::from(args.gateway_stops) / f64::from(args.kills.max(1))
        {
            gateway_stops_left -= 1;
            gateway.stop().await;
            let down = rng.between(1.0, 3.0);
            eprintln!(
                "soak: {:>6.1}s gateway stopped for {down:.1}s",
                t0.elapsed().as_secs_f64()
            );
            tokio::time::sleep(Duration::from_secs_f64(down)).await;
            gateway.start().await;
        }
        agent.kill();
        let killed = Instant::now();
        let down = rng.between(0.1, 1.0);
        eprintln!(
            "soak: {:>6.1}s kill {} of {}, down {down:.1}s",
            t0.elapsed().as_secs_f64(),
            k + 1,
            args.kills
        );
        tokio::time::sleep(Duration::from_secs_f64(down)).await;
        agent.start();
        // until its first poll has opened the files, the agent holds none of them
        downs.push((killed, Instant::now() + Duration::from_secs(1)));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let _ = writer.join();
    let _ = sender.await;
    let lines_written = written.load(Ordering::SeqCst);
    let acked: Vec<String> = std::mem::take(&mut *acked.lock().unwrap());
    let load_s = t0.elapsed().as_secs_f64();

    // lines of a file that a rotation deleted while the agent was down (or not yet polling)
    // were never on disk for it to read: not owed, but counted
    let excused: Vec<(u64, u64)> = rotation
        .lock()
        .unwrap()
        .deleted
        .iter()
        .filter(|(_, _, at)| downs.iter().any(|(a, b)| a <= at && at <= b))
        .map(|(first, last, _)| (*first, *last))
        .collect();
    let is_excused = |n: u64| excused.iter().any(|(a, b)| *a <= n && n <= *b);
    let rotated_away = |received: &Received| -> u64 {
        let lines = received.lines.lock().unwrap();
        let pad = "p".repeat(60);
        (1..=lines_written)
            .filter(|n| is_excused(*n) && !lines.contains_key(&format!("soak line {n} {pad}")))
            .count() as u64
    };

    // wait for everything owed
    let deadline = Instant::now() + Duration::from_secs(args.deadline);
    let missing = |received: &Received| -> (u64, u64) {
        let lines = received.lines.lock().unwrap();
        let spans = received.spans.lock().unwrap();
        let pad = "p".repeat(60);
        let ml = (1..=lines_written)
            .filter(|n| !is_excused(*n) && !lines.contains_key(&format!("soak line {n} {pad}")))
            .count() as u64;
        let ms = acked.iter().filter(|n| !spans.contains_key(*n)).count() as u64;
        (ml, ms)
    };
    let drained = loop {
        let (ml, ms) = missing(&received);
        if ml == 0 && ms == 0 {
            break Instant::now();
        }
        if Instant::now() > deadline {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (missing_lines, missing_spans) = missing(&received);
    agent.stop();
    gateway.stop().await;

    let (line_dups, span_dups, spans_arrived) = {
        let lines = received.lines.lock().unwrap();
        let spans = received.spans.lock().unwrap();
        (
            lines.values().map(|c| u64::from(c - 1)).sum::<u64>(),
            spans.values().map(|c| u64::from(c - 1)).sum::<u64>(),
            spans.len(),
        )
    };
    let agent_log = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    let errors: Vec<&str> = agent_log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("Dropping"))
        .collect();
    println!(
        "soak: {} kills, {} gateway stops, {} agent starts, load for {load_s:.0}s",
        args.kills,
        args.gateway_stops - gateway_stops_left,
        agent.starts
    );
    let rotations = rotation.lock().unwrap().deleted.len();
    println!("soak: log lines   written {lines_written}, missing {missing_lines}, duplicates {line_dups}");
    println!(
        "soak: rotation    {:?}, {rotations} files deleted ({} while the agent was down), {} lines never read in them",
        args.rotate,
        excused.len(),
        rotated_away(&received)
    );
    println!(
        "soak: spans       sent {}, acknowledged {}, arrived {spans_arrived}, missing {missing_spans}, duplicates {span_dups}",
        sent.load(Ordering::SeqCst),
        acked.len()
    );
    println!(
        "soak: drained {:.1}s after the load stopped; agent peak RSS {} MiB (of the processes killed or stopped)",
        drained.duration_since(t0).as_secs_f64() - load_s,
        agent.peak_rss_kb / 1024
    );
    println!(
        "soak: agent log {} lines, {} errors or drops",
        agent_log.lines().count(),
        errors.len()
    );
    for e in errors.iter().take(10) {
        println!("soak:   {}", e.chars().take(300).collect::<String>());
    }
    let ok = missing_lines == 0 && missing_spans == 0 && lines_written > 0 && !acked.is_empty();
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    if ok && temp {
        let _ = std::fs::remove_dir_all(&dir);
    } else if !ok {
        println!("soak: files kept in {}", dir.display());
    }
    ok
}
