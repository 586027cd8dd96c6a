//! The receiver against a real `redis-server` on loopback (Debian's `redis-server`, which
//! `.ci/run` installs), with a password, keys in two databases and commands to count; and
//! the parsing of the fields Go reads, on answers made up for the cases a server rarely
//! gives.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, ResourceMetrics};
use pipeline_api::testing::{context, Collect};
use pipeline_api::{ComponentConfig, ComponentKind, Signal};
use tokio::io::BufReader;

use super::{connect, metadata, parse_info, record, reply, send, Conn, RedisConfig, RedisReceiver};
use crate::hostmetrics::builder::MetricsBuilder;
use crate::testing::{metrics_to, one, points, rounds};

fn parse(s: &str) -> Result<RedisConfig, String> {
    pipeline_api::testing::parse_config(s)
}

/// A `redis-server` on a free loopback port with a password; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

const PASSWORD: &str = "s3cret-pw";

impl Server {
    async fn start() -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                PASSWORD,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server is not installed (Debian package redis-server; .ci/run installs it)",
            );
        let server = Server { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {port} within 5 s");
    }

    fn config(&self) -> RedisConfig {
        let mut cfg = parse(&format!(
            "endpoint: 127.0.0.1:{}\npassword: {PASSWORD}\ncollection_interval: 100ms\ninitial_delay: 0s",
            self.port
        ))
        .unwrap();
        cfg.metrics = serde_yaml_ng::from_str(
            "{redis.cmd.calls: {enabled: true}, redis.role: {enabled: true}, redis.maxmemory: {enabled: true}}",
        )
        .unwrap();
        cfg
    }

    /// Run commands as a client.
    async fn run(&self, commands: &[&[&str]]) {
        let mut conn: Conn = connect(&self.config()).await.unwrap();
        for c in commands {
            send(&mut conn, c).await.unwrap();
            reply(&mut conn).await.unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the receiver until it has sent `n` rounds.
async fn scrapes(cfg: &RedisConfig, n: usize) -> Vec<ResourceMetrics> {
    let next = Collect::new();
    let ctx = context(ComponentKind::Receiver, "redis", vec![Signal::Metrics]);
    let r = RedisReceiver::build(ctx, cfg, metrics_to(&next)).unwrap();
    rounds(Box::new(r), &next, n).await
}

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = parse("endpoint: localhost:6379").unwrap();
    assert_eq!(cfg.transport, "tcp");
    assert!(cfg.tls.insecure, "TLS is off by default");
    assert_eq!(cfg.collection_interval.get(), Duration::from_secs(10));
    assert!(cfg.check_when_used().is_empty());
    // no endpoint: Go refuses it when it builds the receiver
    let cfg = parse("{}").unwrap();
    assert_eq!(
        cfg.check_when_used()[0].to_string(),
        "endpoint: invalid endpoint \"\": address : missing port in address"
    );
    let errs = parse(
        "endpoint: a:1\ntransport: udp\nmetrics: {redis.nope: {enabled: true}}\nresource_attributes: {host.name: {enabled: true}}\ncollection_interval: 0s",
    )
    .unwrap_err();
    assert_eq!(
        errs,
        "transport: unsupported transport \"udp\"; use tcp or unix\n\
         collection_interval: requires positive value\n\
         metrics: has invalid keys: redis.nope\n\
         resource_attributes: has invalid keys: host.name"
    );
    // Go's cluster metrics are taken and reported as not produced
    let cfg = parse("endpoint: a:1\nmetrics: {redis.cluster.state: {enabled: true}}").unwrap();
    assert_eq!(cfg.not_acted_on()[0].0, "metrics::redis.cluster.state");
}

#[test]
fn fields_are_read_as_go_reads_them() {
    let info = parse_info(
        "# Server\r\nredis_version:7.2.4\r\nexecutable:/usr/bin/redis-server\r\nconfig_file:\r\nweird:a:b\r\n\
         uptime_in_seconds:42\r\nconnected_clients:3\r\nmem_fragmentation_ratio:1.25\r\nused_memory:x12\r\n\
         used_cpu_sys:0.5\r\nrole:slave\r\ndb0:keys=5,expires=1,avg_ttl=200\r\ndb2:keys=1,bogus\r\n\
         db16:keys=9,expires=0,avg_ttl=0\r\ncmdstat_get:calls=7,usec=30,usec_per_call=4.29,rejected_calls=0\r\n\
         latency_percentiles_usec_get:p50=1.003,p99=2.5,p99.9=4.001\r\n",
    );
    // a line with two colons is left out, as Go's split does
    assert!(!info.contains_key("weird"));
    assert_eq!(info["config_file"], "");
    let all: std::collections::BTreeMap<String, bool> = metadata::DEFS
        .iter()
        .map(|d| (d.name.to_string(), true))
        .collect();
    let mut mb = MetricsBuilder::new(metadata::DEFS, &all);
    mb.begin(1, 2);
    let mut warnings = Vec::new();
    record(&mut mb, &info, &mut warnings);
    let rm = super::resource_metrics_scoped("s", vec![], mb.take_metrics());
    assert_eq!(one(&rm, "redis.uptime"), 42.0);
    assert_eq!(one(&rm, "redis.clients.connected"), 3.0);
    assert_eq!(one(&rm, "redis.memory.fragmentation_ratio"), 1.25);
    assert_eq!(
        points(&rm, "redis.cpu.time"),
        vec![("state=sys".into(), 0.5)]
    );
    assert_eq!(
        points(&rm, "redis.role"),
        vec![("role=replica".into(), 1.0)]
    );
    // db0..db15 only; a keyspace line that does not parse is skipped with a warning
    assert_eq!(points(&rm, "redis.db.keys"), vec![("db=0".into(), 5.0)]);
    assert_eq!(
        points(&rm, "redis.db.avg_ttl"),
        vec![("db=0".into(), 200.0)]
    );
    assert_eq!(
        points(&rm, "redis.cmd.calls"),
        vec![("cmd=get".into(), 7.0)]
    );
    assert_eq!(
        points(&rm, "redis.cmd.usec"),
        vec![("cmd=get".into(), 30.0)]
    );
    // microseconds to seconds, the receiver's one conversion
    assert_eq!(
        points(&rm, "redis.cmd.latency"),
        vec![
            ("cmd=get,percentile=p50".into(), 1.003e-6),
            ("cmd=get,percentile=p99".into(), 2.5e-6),
            ("cmd=get,percentile=p99.9".into(), 4.001e-6),
        ]
    );
    assert!(points(&rm, "redis.memory.used").is_empty());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("used_memory"), "{warnings:?}");
    assert!(
        warnings[1].contains("unexpected keyspace pair 'bogus'"),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn a_real_server_gives_gos_metrics_on_one_kept_connection() {
    let server = Server::start().await;
    server
        .run(&[
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["GET", "a"],
            &["SELECT", "3"],
            &["SET", "c", "3", "EX", "600"],
        ])
        .await;
    let rms = scrapes(&server.config(), 3).await;
    assert!(rms.len() >= 3, "{} scrapes", rms.len());
    let rm = &rms[0];
    let resource: HashMap<String, String> = rm
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|a| match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => (a.key.clone(), s.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(resource.len(), 1, "{resource:?}");
    assert!(
        resource["redis.version"].starts_with(char::is_numeric),
        "{resource:?}"
    );
    assert_eq!(
        rm.scope_metrics[0].scope.as_ref().unwrap().name,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver"
    );
    let mut keys = points(rm, "redis.db.keys");
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(keys, vec![("db=0".into(), 2.0), ("db=3".into(), 1.0)]);
    let mut expires = points(rm, "redis.db.expires");
    expires.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(expires, vec![("db=0".into(), 0.0), ("db=3".into(), 1.0)]);
    let set_calls: Vec<f64> = points(rm, "redis.cmd.calls")
        .into_iter()
        .filter(|(a, _)| a == "cmd=set")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(set_calls, vec![3.0]);
    assert_eq!(points(rm, "redis.role"), vec![("role=primary".into(), 1.0)]);
    assert_eq!(one(rm, "redis.maxmemory"), 0.0);
    assert!(one(rm, "redis.clients.connected") >= 1.0);
    assert!(one(rm, "redis.memory.used") > 0.0);
    let states: Vec<String> = points(rm, "redis.cpu.time")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert!(states.contains(&"state=user".to_string()), "{states:?}");
    // the start of the cumulative points is the server's start: now − uptime
    let uptime = rm.scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == "redis.uptime")
        .unwrap();
    let Some(metric::Data::Sum(sum)) = &uptime.data else {
        panic!("{uptime:?}")
    };
    assert!(sum.is_monotonic);
    let dp = &sum.data_points[0];
    let up = match dp.value {
        Some(number_data_point::Value::AsInt(i)) => i as u64,
        _ => panic!(),
    };
    let since = dp.time_unix_nano - dp.start_time_unix_nano;
    assert!(
        since.abs_diff(up * 1_000_000_000) < 2_000_000_000,
        "{since} ns, uptime {up} s"
    );
    // one connection for every round: the server counted it once
    let received: Vec<f64> = rms
        .iter()
        .map(|rm| one(rm, "redis.connections.received"))
        .collect();
    assert!(received.windows(2).all(|w| w[0] == w[1]), "{received:?}");
}

#[tokio::test]
async fn a_wrong_password_or_no_server_sends_nothing_and_keeps_trying() {
    let server = Server::start().await;
    let mut cfg = server.config();
    cfg.password = "wrong".into();
    assert!(scrapes(&cfg, 1).await.is_empty());
    let mut conn = BufReader::new(Box::new(
        tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap(),
    ) as Box<dyn super::Io>);
    // without AUTH the server refuses INFO: the error is the server's
    send(&mut conn, &["INFO", "all"]).await.unwrap();
    let err = reply(&mut conn).await.unwrap_err();
    assert!(err.starts_with("NOAUTH"), "{err}");
    let port = server.port;
    drop(server);
    let cfg = parse(&format!(
        "endpoint: 127.0.0.1:{port}\ncollection_interval: 100ms\ninitial_delay: 0s"
    ))
    .unwrap();
    assert!(scrapes(&cfg, 1).await.is_empty());
}

#[tokio::test]
async fn the_public_configs_run() {
    let server = Server::start().await;
    server.run(&[&["SET", "k", "v"]]).await;
    // origin: https://github.com/signalfx/splunk-otel-collector/blob/892f7df89079ca764bcea70b9748a2c5d575ff90/examples/redis/otel-collector-config.yaml
    // (its `redis` receiver; `redis_db` and ${REDIS_PASSWORD} are this test's server)
    let text = format!(
        "endpoint: \"127.0.0.1:{}\"\ncollection_interval: 10s\npassword: {PASSWORD}\nmetrics:\n  redis.role:\n    enabled: true\n  redis.cmd.calls:\n    enabled: true\n",
        server.port
    );
    let mut cfg = parse(&text).unwrap();
    cfg.initial_delay = pipeline_api::config::GoDuration::default();
    let rms = scrapes(&cfg, 1).await;
    assert_eq!(
        points(&rms[0], "redis.role"),
        vec![("role=primary".into(), 1.0)]
    );
    assert!(points(&rms[0], "redis.cmd.calls").contains(&("cmd=set".into(), 1.0)));
    // origin: https://github.com/open-telemetry/opentelemetry-demo/blob/036e04eddd8f4f5a4dc89baf6f3722777a988673/src/otel-collector/otelcol-config.yml
    // (`redis`: a username and no password, so no AUTH; this server wants one and refuses
    // INFO, which the receiver logs and tries again)
    let cfg = parse(&format!(
        "endpoint: \"127.0.0.1:{}\"\nusername: \"valkey\"\ncollection_interval: 10s\ninitial_delay: 0s",
        server.port
    ))
    .unwrap();
    assert!(cfg.password.is_empty());
    assert!(scrapes(&cfg, 1).await.is_empty());
}
