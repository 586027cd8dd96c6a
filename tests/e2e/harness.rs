//! Start the `ferrotel` binary on free loopback ports, read its output, stop it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrotel");

/// A free TCP port on 127.0.0.1 for a collector or server to bind a moment later.
///
/// Taken below the kernel's ephemeral range (`ip_local_port_range`), where neither `bind` to
/// port 0 nor an outgoing connection's local port can land: a port released from `bind(0)`
/// can be handed to one of the many client connections the tests open in parallel before
/// the collector binds it, which then fails to start ("address already in use"). Ports are
/// handed out in turn from an offset drawn from the process id, and each is checked free
/// (TCP and UDP) first; where the range cannot be read, `bind(0)` as before. The range
/// starts above the fixed ports the bench scenarios listen on (14317 to 25417), which the
/// bench tests bind while other tests run.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    const LOW: u32 = 26_000;
    let ephemeral_low = ephemeral_range_start().map_or(0, u32::from);
    if ephemeral_low > LOW + 1_000 {
        let size = ephemeral_low - LOW;
        let start = std::process::id().wrapping_mul(7_919) % size;
        let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::Relaxed, Ordering::Relaxed);
        for _ in 0..size {
            let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % size) as u16;
            let free = TcpListener::bind(("127.0.0.1", port)).is_ok()
                && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
            if free {
                return port;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first port of the kernel's ephemeral range (`ip_local_port_range`), read once.
fn ephemeral_range_start() -> Option<u16> {
    static START: std::sync::OnceLock<Option<u16>> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// A directory of this run's own, emptied. A run's directories stay after it (to look at
/// what a failed test left); the first call of a run removes those of earlier runs whose
/// process is gone.
pub fn temp_dir(name: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_earlier_runs);
    let dir = std::env::temp_dir().join(format!("ferrotel-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Remove the `ferrotel-e2e-<pid>-*` directories of runs whose process no longer exists.
fn sweep_earlier_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ferrotel-e2e-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub struct Ports {
    pub grpc: u16,
    pub http: u16,
    pub metrics: u16,
    pub health: u16,
}

impl Ports {
    pub fn new() -> Ports {
        Ports {
            grpc: free_port(),
            http: free_port(),
            metrics: free_port(),
            health: free_port(),
        }
    }

    /// Replace `GRPC_PORT`, `HTTP_PORT`, `METRICS_PORT`, `HEALTH_PORT` in a config template.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("GRPC_PORT", &self.grpc.to_string())
            .replace("HTTP_PORT", &self.http.to_string())
            .replace("METRICS_PORT", &self.metrics.to_string())
            .replace("HEALTH_PORT", &self.health.to_string())
    }
}

/// A running collector whose stdout and stderr are collected line by line.
pub struct Collector {
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub config_path: PathBuf,
}

fn collect(reader: impl std::io::Read + Send + 'static, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
}

impl Collector {
    /// Write `config` to a file and start the binary with it; wait for "Everything is ready".
    pub fn start(name: &str, config: &str) -> Collector {
        Self::start_with(name, config, &[])
    }

    pub fn start_with(name: &str, config: &str, extra_args: &[&str]) -> Collector {
        Self::start_with_env(name, config, extra_args, &[])
    }

    /// As [`Collector::start_with`], with environment variables set for the collector.
    pub fn start_with_env(
        name: &str,
        config: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Collector {
        Self::start_program_env(std::path::Path::new(BIN), name, config, extra_args, env)
    }

    /// As `start_with`, running `program` (a collector binary taking Go's command line: the
    /// Go collector built by compat/build.sh, or Ferrotel).
    pub fn start_program(
        program: &std::path::Path,
        name: &str,
        config: &str,
        extra_args: &[&str],
    ) -> Collector {
        Self::start_program_env(program, name, config, extra_args, &[])
    }

    fn start_program_env(
        program: &std::path::Path,
        name: &str,
        config: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Collector {
        let dir = temp_dir(name);
        let config_path = dir.join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(program)
            .arg("--config")
            .arg(&config_path)
            .args(extra_args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program:?}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), stdout.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        let mut c = Collector {
            child,
            stdout,
            stderr,
            config_path,
        };
        c.wait_until_ready(Duration::from_secs(30));
        c
    }

    /// Wait for "Everything is ready" on stderr; panics with the whole stderr when the
    /// process exits first (at once, not at the timeout) or the time runs out.
    fn wait_until_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.stderr_has("Everything is ready") {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // the reader threads take the last lines after the exit
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "{status} before \"Everything is ready\":\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no \"Everything is ready\" on stderr within {timeout:?}:\n{}",
            self.stderr_text()
        );
    }

    fn stderr_has(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Wait until a stderr line contains `needle`; panics with the whole stderr otherwise.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.stderr_has(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no {needle:?} on stderr within {timeout:?}:\n{}",
            self.stderr_text()
        );
    }

    /// Wait until stdout contains `needle`.
    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM and wait for the exit (bounded); returns the exit code.
    pub fn stop(mut self) -> (i32, String, String) {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                return (
                    status.code().unwrap_or(-1),
                    self.stdout_text(),
                    self.stderr_text(),
                );
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                panic!(
                    "ferrotel did not stop after SIGTERM:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP/1.1 GET over loopback, returning (status, body).
pub fn http_get(url: &str) -> (u16, String) {
    try_http_get(url).unwrap_or_else(|| panic!("GET {url} failed"))
}

/// As `http_get`, `None` when the server cannot be reached or answers garbage.
pub fn try_http_get(url: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match end {
        Some(i) => (&buf[..i], &buf[i + 4..]),
        None => (&buf[..], &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    // a body without a length (Go's `/metrics`, for one) comes in chunks, whose size lines
    // would otherwise cut lines of the text in two
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The content of an HTTP/1.1 chunked body; `None` when it is malformed or cut short.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&raw[..line_end]).ok()?;
        // the size, in hex, before any chunk extension
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// The value of one series in a Prometheus text exposition (`name{a="b",...}` where every
/// given label matches), or None.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, rest) = match series.split_once('{') {
            Some((n, r)) => (n, r.trim_end_matches('}')),
            None => (series, ""),
        };
        if n != name {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| rest.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
        if all {
            value.parse().ok()
        } else {
            None
        }
    })
}

/// Run the binary to completion with arguments; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A chunked body is read joined, whatever its chunk extensions; a cut one is refused; and
/// `try_http_get` reads one from a real server without the size lines in the text.
#[test]
fn chunked_bodies_are_read_joined() {
    assert_eq!(
        dechunk(b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n").as_deref(),
        Some(&b"hello, world"[..])
    );
    assert_eq!(dechunk(b"5\r\nhel"), None);
    assert_eq!(dechunk(b"zz\r\nhello\r\n0\r\n\r\n"), None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = listener.accept().unwrap();
        // the whole request first: closing with some of it unread would reset the connection
        let (mut req, mut chunk) = (Vec::new(), [0u8; 1024]);
        while !req.ends_with(b"\r\n\r\n") {
            let n = c.read(&mut chunk).unwrap();
            assert!(n > 0, "the request ended early: {req:?}");
            req.extend_from_slice(&chunk[..n]);
        }
        c.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              10\r\notelcol_process_\r\nb\r\nuptime 1.5\n\r\n0\r\n\r\n",
        )
        .unwrap();
    });
    let (status, body) = try_http_get(&format!("http://{addr}/metrics")).unwrap();
    server.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "otelcol_process_uptime 1.5\n")
    );
}

/// `free_port` hands out distinct ports below the kernel's ephemeral range, each bindable.
#[test]
fn free_ports_are_distinct_bindable_and_below_the_ephemeral_range() {
    let low = ephemeral_range_start().expect("the kernel's ephemeral port range");
    let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
    let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    for port in ports {
        assert!(port < low, "{port} is in the ephemeral range from {low}");
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
