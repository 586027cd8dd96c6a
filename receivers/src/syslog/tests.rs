//! `syslog` with real sockets on loopback, util-linux `logger` as the sender: RFC 5424 over
//! TCP in octet-counted frames and in lines, RFC 3164 over UDP; Go's config messages; the
//! receiver's README configs.

use std::sync::Arc;
use std::time::Duration;

use pipeline_api::testing::{context, Collect};
use pipeline_api::{CancellationToken, ComponentKind, Receiver, Signal, SignalConsumers};
use tokio::io::AsyncWriteExt;

use super::{build, SyslogConfig};

fn parse(s: &str) -> Result<SyslogConfig, String> {
    pipeline_api::testing::parse_config(s)
}

async fn start(yaml: &str) -> (std::net::SocketAddr, Arc<Collect>, CancellationToken) {
    let cfg = parse(yaml).unwrap();
    let next = Collect::new();
    let ctx = context(ComponentKind::Receiver, "syslog", vec![Signal::Logs]);
    let r = build(
        ctx,
        &cfg,
        SignalConsumers {
            logs: Some(next.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let addr = r.local_addr().unwrap();
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move { Box::new(r).run(s).await.unwrap() });
    (addr, next, stop)
}

/// Each record: body, `key=value` attributes (sorted), severity text, whether timed.
fn records(next: &Collect) -> Vec<(String, Vec<String>, String, bool)> {
    crate::testing::log_records(next)
        .into_iter()
        .map(|(body, attrs, r)| (body, attrs, r.severity_text, r.time_unix_nano > 0))
        .collect()
}

async fn wait_for(next: &Collect, items: usize) {
    for _ in 0..300 {
        if next.items() >= items {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn logger(args: &[&str], message: &str) {
    let status = std::process::Command::new("logger")
        .args(args)
        .arg(message)
        .status()
        .expect("util-linux logger");
    assert!(status.success(), "logger {args:?}");
}

#[tokio::test]
async fn logger_over_tcp_in_octet_counted_frames() {
    let (addr, next, stop) = start(
        "tcp: {listen_address: '127.0.0.1:0', add_attributes: true}\nprotocol: rfc5424\nenable_octet_counting: true\nattributes: {site: lab}",
    )
    .await;
    let port = addr.port().to_string();
    let common = [
        "--tcp",
        "--octet-count",
        "--rfc5424",
        "-n",
        "127.0.0.1",
        "-P",
        &port,
    ];
    let mut args = common.to_vec();
    args.extend([
        "-t",
        "checkout",
        "--msgid",
        "ORD42",
        "--sd-id",
        "order@32473",
        "--sd-param",
        "id=\"7\"",
        "-p",
        "local3.warning",
    ]);
    logger(&args, "payment declined");
    // two frames in one write and a frame cut across two writes
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let f = |m: &str| format!("{} {m}", m.len());
    let a = "<14>1 2024-01-01T00:00:00Z web app 1 - - first";
    let b = "<14>1 2024-01-01T00:00:01Z web app 1 - - second";
    let c = "<11>1 2024-01-01T00:00:02Z web app 1 - - third";
    conn.write_all(format!("{}{}", f(a), f(b)).as_bytes())
        .await
        .unwrap();
    let third = f(c);
    conn.write_all(&third.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.write_all(&third.as_bytes()[10..]).await.unwrap();
    drop(conn);
    wait_for(&next, 4).await;
    let r = records(&next);
    assert_eq!(r.len(), 4, "{r:?}");
    let declined = r
        .iter()
        .find(|r| r.0.ends_with("payment declined"))
        .unwrap();
    for want in [
        "appname=checkout",
        "msg_id=ORD42",
        "message=payment declined",
        "facility=19",
        "facility_text=local3",
        "priority=156",
        "structured_data={..}",
        "version=1",
        "site=lab",
        "net.transport=IP.TCP",
        "net.peer.ip=127.0.0.1",
    ] {
        assert!(declined.1.iter().any(|a| a == want), "{want}: {declined:?}");
    }
    assert_eq!(declined.2, "warning");
    assert!(declined.3, "the message's timestamp");
    // the length prefix stays in the body
    let bodies: Vec<&str> = r.iter().map(|r| r.0.as_str()).collect();
    assert!(bodies.contains(&f(a).as_str()), "{bodies:?}");
    let third = r.iter().find(|r| r.0.ends_with("third")).unwrap();
    assert_eq!(third.2, "err");
    stop.cancel();
}

#[tokio::test]
async fn logger_over_udp_in_rfc3164_and_lines_over_tcp() {
    let (addr, next, stop) = start("udp: {listen_address: '127.0.0.1:0'}\nprotocol: rfc3164").await;
    let port = addr.port().to_string();
    logger(
        &[
            "--udp",
            "--rfc3164",
            "-n",
            "127.0.0.1",
            "-P",
            &port,
            "-t",
            "cron",
            "--id=4242",
            "-p",
            "cron.info",
        ],
        "job finished",
    );
    wait_for(&next, 1).await;
    let r = records(&next);
    assert_eq!(r.len(), 1, "{r:?}");
    for want in [
        "appname=cron",
        "proc_id=4242",
        "message=job finished",
        "facility=9",
        "facility_text=cron",
        "priority=78",
    ] {
        assert!(r[0].1.iter().any(|a| a == want), "{want}: {r:?}");
    }
    assert!(r[0].1.iter().any(|a| a.starts_with("hostname=")), "{r:?}");
    assert_eq!(r[0].2, "info");
    stop.cancel();
    // RFC 5424 in lines over TCP; a line that does not parse goes on unchanged
    let (addr, next, stop) = start("tcp: {listen_address: '127.0.0.1:0'}\nprotocol: rfc5424").await;
    let port = addr.port().to_string();
    logger(
        &[
            "--tcp",
            "--rfc5424",
            "-n",
            "127.0.0.1",
            "-P",
            &port,
            "-t",
            "api",
        ],
        "ready",
    );
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"not syslog at all\n").await.unwrap();
    drop(conn);
    wait_for(&next, 2).await;
    let r = records(&next);
    assert_eq!(r.len(), 2, "{r:?}");
    let ready = r.iter().find(|r| r.0.ends_with("ready")).unwrap();
    assert!(ready.1.contains(&"appname=api".to_string()), "{ready:?}");
    let bad = r.iter().find(|r| r.0 == "not syslog at all").unwrap();
    assert!(bad.1.is_empty() && !bad.3, "{bad:?}");
    stop.cancel();
}

#[test]
fn configs_are_checked_as_go_checks_them() {
    assert_eq!(
        parse("protocol: rfc5424").unwrap_err(),
        "need tcp config or udp config"
    );
    assert_eq!(
        parse(
            "udp: {listen_address: '127.0.0.1:0'}\nprotocol: rfc5424\nenable_octet_counting: true"
        )
        .unwrap_err(),
        "udp: octet_counting and non_transparent_framing is not compatible with UDP"
    );
    assert_eq!(
        parse("tcp: {listen_address: '127.0.0.1:0'}").unwrap_err(),
        "failed to resolve syslog config: missing field 'protocol'"
    );
    assert_eq!(
        parse("tcp: {max_log_size: 1KiB}\nprotocol: rfc3164\noperators: [{type: nonsense}]")
            .unwrap_err()
            .lines()
            .map(|l| l.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        ["tcp", "tcp", "operators"]
    );
    // an operator key the tcp block does not have
    assert!(
        parse("tcp: {listen_address: '127.0.0.1:0', operators: []}\nprotocol: rfc3164").is_err()
    );
    // origin: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/receiver/syslogreceiver/README.md
    parse("tcp:\n  listen_address: \"0.0.0.0:54526\"\nprotocol: rfc5424").unwrap();
    parse("udp:\n  listen_address: \"0.0.0.0:54526\"\nprotocol: rfc3164\nlocation: UTC").unwrap();
    // origin: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/receiver/syslogreceiver/testdata/config.yaml
    parse("tcp:\n  listen_address: \"127.0.0.1:29018\"\nprotocol: rfc5424").unwrap();
    // origin: https://github.com/SigNoz/signoz/blob/a8b7e9582afc501547087b28496546c63d2f6a28/frontend/src/container/OnboardingContainer/Modules/LogsManagement/SysLogs/syslogs.md
    parse("tcp:\n listen_address: '0.0.0.0:54527'\nprotocol: rfc3164\nlocation: UTC\noperators:\n - type: move\n   from: attributes.message\n   to: body").unwrap();
}
