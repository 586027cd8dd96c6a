//! `tcp_log` and `udp_log` with real sockets on loopback: what a sender writes, as records.

use std::sync::Arc;
use std::time::Duration;

use pipeline_api::testing::{context, Collect};
use pipeline_api::{CancellationToken, ComponentKind, Receiver, Signal, SignalConsumers};
use tokio::io::AsyncWriteExt;

use super::{NetLog, Proto, TcpLogConfig, UdpLogConfig};

fn tcp(s: &str) -> Result<TcpLogConfig, String> {
    pipeline_api::testing::parse_config(s)
}

fn udp(s: &str) -> Result<UdpLogConfig, String> {
    pipeline_api::testing::parse_config(s)
}

/// A started receiver: its address, what it sent, and how to stop it.
async fn start(
    proto: Proto,
) -> (
    std::net::SocketAddr,
    Arc<Collect>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let next = Collect::new();
    let name = match proto {
        Proto::Tcp(_) => "tcp_log",
        Proto::Udp(_) => "udp_log",
    };
    let ctx = context(ComponentKind::Receiver, name, vec![Signal::Logs]);
    let r = NetLog::build(
        ctx,
        proto,
        SignalConsumers {
            logs: Some(next.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let addr = r.local_addr().unwrap();
    let stop = CancellationToken::new();
    let s = stop.clone();
    let task = tokio::spawn(async move {
        Box::new(r).run(s).await.unwrap();
    });
    (addr, next, stop, task)
}

/// Each record: its body and its attributes (`key=value`, sorted).
fn records(next: &Collect, want: usize) -> Vec<(String, Vec<String>)> {
    let out: Vec<(String, Vec<String>)> = crate::testing::log_records(next)
        .into_iter()
        .map(|(body, attrs, r)| {
            assert!(
                r.time_unix_nano == 0 && r.observed_time_unix_nano > 0,
                "only the observed time"
            );
            (body, attrs)
        })
        .collect();
    assert_eq!(out.len(), want, "{out:?}");
    out
}

async fn wait_for(next: &Collect, items: usize) {
    for _ in 0..200 {
        if next.items() >= items {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = tcp("listen_address: 127.0.0.1:0").unwrap();
    assert_eq!(cfg.encoding, "utf-8");
    assert_eq!(cfg.max_log_size.0, 0, "1 MiB when built");
    let errs = tcp("max_log_size: 1KiB\nencoding: ebcdic\nmultiline: {line_start_pattern: a, line_end_pattern: b}").unwrap_err();
    assert_eq!(
        errs,
        "max_log_size: invalid value for parameter 'max_log_size', must be equal to or greater than 65536 bytes\n\
         listen_address: missing required parameter 'listen_address'\n\
         encoding: unsupported encoding \"ebcdic\": use utf-8, utf-16le, utf-16be, utf-16, ascii or nop\n\
         multiline: only one of line_start_pattern or line_end_pattern can be set"
    );
    let errs = udp("listen_address: 127.0.0.1:0\nencoding: nop\nmultiline: {line_end_pattern: x}\noperators: [{type: nonsense}]").unwrap_err();
    assert!(
        errs.starts_with(
            "multiline: line_end_pattern should not be set when using nop encoding\noperators::0"
        ),
        "{errs}"
    );
    // public configs
    // origin: https://github.com/SumoLogic/sumologic-otel-collector/blob/8c5b96ba15d346928e54c0f960bd5fe13558408b/docs/migration.md
    tcp("listen_address: 0.0.0.0:514\nadd_attributes: true").unwrap();
    udp("listen_address: 0.0.0.0:514\nadd_attributes: true").unwrap();
}

#[tokio::test]
async fn tcp_lines_become_records_with_the_connection_s_attributes() {
    let cfg = tcp(
        "listen_address: 127.0.0.1:0\nadd_attributes: true\nattributes: {source: netlog}\n\
         operators: [{type: regex_parser, regex: '^(?P<level>[A-Z]+) ', if: 'body matches \"^[A-Z]+ \"'}]",
    )
    .unwrap();
    let (addr, next, stop, task) = start(Proto::Tcp(Box::new(cfg))).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let local = conn.local_addr().unwrap();
    conn.write_all(b"INFO started\r\n").await.unwrap();
    conn.write_all(b"  padded line \n\npartial ").await.unwrap();
    conn.write_all(b"last").await.unwrap();
    conn.shutdown().await.unwrap();
    drop(conn);
    wait_for(&next, 3).await;
    let got = records(&next, 3);
    let base = vec![
        "net.host.ip=127.0.0.1".to_string(),
        format!("net.host.name=127.0.0.1"),
        format!("net.host.port={}", addr.port()),
        "net.peer.ip=127.0.0.1".to_string(),
        "net.peer.name=127.0.0.1".to_string(),
        format!("net.peer.port={}", local.port()),
        "net.transport=IP.TCP".to_string(),
        "source=netlog".to_string(),
    ];
    let with = |extra: &[&str]| {
        let mut v = base.clone();
        v.extend(extra.iter().map(|s| s.to_string()));
        v.sort();
        v
    };
    assert_eq!(
        got,
        [
            ("INFO started".to_string(), with(&["level=INFO"])),
            ("padded line".to_string(), with(&[])),
            // what is left when the connection closes is the last record
            ("partial last".to_string(), with(&[])),
        ]
    );
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn tcp_multiline_and_one_record_a_connection() {
    let cfg =
        tcp("listen_address: 127.0.0.1:0\nmultiline: {line_start_pattern: '^\\d{4}-'}").unwrap();
    let (addr, next, stop, task) = start(Proto::Tcp(Box::new(cfg))).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"2026-12-07 boom\nTraceback:\n  at x\n2026-12-07 next\n")
        .await
        .unwrap();
    conn.shutdown().await.unwrap();
    wait_for(&next, 2).await;
    let bodies: Vec<String> = records(&next, 2).into_iter().map(|(b, _)| b).collect();
    assert_eq!(
        bodies,
        ["2026-12-07 boom\nTraceback:\n  at x", "2026-12-07 next"]
    );
    stop.cancel();
    task.await.unwrap();

    // a line longer than max_log_size is cut at it
    let cfg = tcp("listen_address: 127.0.0.1:0\nmax_log_size: 64KiB").unwrap();
    let (addr, next, stop, task) = start(Proto::Tcp(Box::new(cfg))).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(&vec![b'x'; 70_000]).await.unwrap();
    conn.write_all(b"\nend\n").await.unwrap();
    conn.shutdown().await.unwrap();
    wait_for(&next, 3).await;
    let lens: Vec<usize> = records(&next, 3)
        .into_iter()
        .map(|(b, _)| b.len())
        .collect();
    assert_eq!(lens, [65536, 70_000 - 65536, 3]);
    stop.cancel();
    task.await.unwrap();

    let cfg = tcp("listen_address: 127.0.0.1:0\none_log_per_packet: true").unwrap();
    let (addr, next, stop, task) = start(Proto::Tcp(Box::new(cfg))).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b" a\nb\n").await.unwrap();
    conn.shutdown().await.unwrap();
    wait_for(&next, 1).await;
    assert_eq!(
        records(&next, 1)[0].0,
        " a\nb\n",
        "neither split nor trimmed"
    );
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn udp_datagrams_are_records() {
    let cfg = udp("listen_address: 127.0.0.1:0\nadd_attributes: true").unwrap();
    let (addr, next, stop, task) = start(Proto::Udp(Box::new(cfg))).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"message1\nmessage2\n\0\0", addr)
        .await
        .unwrap();
    sock.send_to(b"  second  ", addr).await.unwrap();
    wait_for(&next, 2).await;
    let got = records(&next, 2);
    // one datagram, one record: its trailing control bytes dropped, trimmed
    assert_eq!(got[0].0, "message1\nmessage2");
    assert_eq!(got[1].0, "second");
    assert!(got[0].1.contains(&"net.transport=IP.UDP".to_string()));
    assert!(got[0].1.contains(&format!(
        "net.peer.port={}",
        sock.local_addr().unwrap().port()
    )));
    stop.cancel();
    task.await.unwrap();

    let cfg = udp("listen_address: 127.0.0.1:0\nmultiline: {line_end_pattern: '\\n'}").unwrap();
    let (addr, next, stop, task) = start(Proto::Udp(Box::new(cfg))).await;
    sock.send_to(b"a\nb\n", addr).await.unwrap();
    wait_for(&next, 2).await;
    let bodies: Vec<String> = records(&next, 2).into_iter().map(|(b, _)| b).collect();
    assert_eq!(bodies, ["a", "b"], "split within the datagram");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_taken_port_fails_the_build() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = tcp(&format!("listen_address: {}", taken.local_addr().unwrap())).unwrap();
    let ctx = context(ComponentKind::Receiver, "tcp_log", vec![Signal::Logs]);
    let err = NetLog::build(
        ctx,
        Proto::Tcp(Box::new(cfg)),
        SignalConsumers {
            logs: Some(Collect::new()),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("failed to listen"), "{err}");
}

/// A consumer that refuses (retryably) its first `n` batches, then keeps them.
struct RefuseFirst {
    left: std::sync::atomic::AtomicUsize,
    kept: Arc<Collect>,
}

#[pipeline_api::async_trait]
impl pipeline_api::Consumer for RefuseFirst {
    async fn consume(&self, batch: pipeline_api::Batch) -> Result<(), pipeline_api::ConsumeError> {
        use std::sync::atomic::Ordering;
        if self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(pipeline_api::ConsumeError::retryable("not now"));
        }
        self.kept.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

/// `retry_on_failure`: a refused batch is tried again (and nothing is lost); without it,
/// it is dropped and counted, as Go's default.
#[tokio::test]
async fn retry_on_failure_tries_again() {
    for (retry, want) in [(true, 1), (false, 0)] {
        let kept = Collect::new();
        let next = Arc::new(RefuseFirst {
            left: 2.into(),
            kept: kept.clone(),
        });
        let cfg = tcp(&format!(
            "listen_address: 127.0.0.1:0\nretry_on_failure: {{enabled: {retry}, initial_interval: 10ms, max_interval: 20ms}}"
        ))
        .unwrap();
        let ctx = context(ComponentKind::Receiver, "tcp_log", vec![Signal::Logs]);
        let r = NetLog::build(
            ctx,
            Proto::Tcp(Box::new(cfg)),
            SignalConsumers {
                logs: Some(next),
                ..Default::default()
            },
        )
        .unwrap();
        let addr = r.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(Box::new(r).run(stop.clone()));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"only line\n").await.unwrap();
        conn.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(kept.items(), want, "retry {retry}");
        stop.cancel();
        task.await.unwrap().unwrap();
    }
}
