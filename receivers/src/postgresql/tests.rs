//! The receiver against a real PostgreSQL server of its own on loopback (Debian's
//! `postgresql`, which `.ci/run` installs): a password user, a database with tables, an
//! index and a function, with and without TLS; and Go's config checks.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::testing::{context, Collect};
use pipeline_api::{ComponentConfig, ComponentKind, Signal};

use super::{PostgresqlConfig, PostgresqlReceiver, State};
use crate::testing::{metrics_to, one, points, resource_text as resource, rounds};

fn parse(s: &str) -> Result<PostgresqlConfig, String> {
    pipeline_api::testing::parse_config(s)
}

/// A PostgreSQL server of its own on a free loopback port (Debian's `postgresql`, which
/// `.ci/run` installs), with a password user; stopped and removed when dropped.
struct Server {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

const USER: &str = "otelu";
const PASSWORD: &str = "pg-s3cret";
/// The `application_name` of the test's own clients.
const TEST_CLIENT: &str = "ferrotel-test";

/// `initdb` and `postgres`: on the `PATH`, else Debian's versioned directory.
fn pg_bin(name: &str) -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }) {
        return p;
    }
    let mut found: Vec<_> = glob::glob(&format!("/usr/lib/postgresql/*/bin/{name}"))
        .unwrap()
        .flatten()
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("{name} is not installed (Debian package postgresql; .ci/run installs it)")
    })
}

/// Whether the tests run as root (the owner of this process's `/proc` entry).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A command run as the `postgres` user when this is root (the server refuses root).
fn as_owner(bin: std::path::PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

impl Server {
    /// `tls`: serve TLS with a self-signed certificate (made with `openssl`).
    async fn start(tls: bool) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "ferrotel-pg-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let owner = is_root();
        let chown = |p: &std::path::Path| {
            if owner {
                let st = Command::new("chown")
                    .arg("-R")
                    .arg("postgres")
                    .arg(p)
                    .status()
                    .unwrap();
                assert!(st.success());
            }
        };
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        chown(&dir);
        let out = as_owner(pg_bin("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_string(),
            "fsync=off".into(),
            "max_connections=37".into(),
            "track_functions=all".into(),
        ];
        if tls {
            let st = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args(["-subj", "/CN=127.0.0.1"])
                .arg("-keyout")
                .arg(dir.join("server.key"))
                .arg("-out")
                .arg(dir.join("server.crt"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is not installed (.ci/run installs it)");
            assert!(st.success());
            chown(&dir);
            std::fs::set_permissions(
                dir.join("server.key"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            settings.push("ssl=on".into());
            settings.push(format!(
                "ssl_cert_file={}",
                dir.join("server.crt").display()
            ));
            settings.push(format!("ssl_key_file={}", dir.join("server.key").display()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = as_owner(pg_bin("postgres"));
        cmd.arg("-D")
            .arg(dir.join("data"))
            .args(["-p", &port.to_string()])
            .arg("-k")
            .arg(&dir);
        for s in &settings {
            cmd.args(["-c", s]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, dir, port };
        for _ in 0..200 {
            if server.sql("postgres", "SELECT 1").await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("postgres did not answer on {port} within 10 s");
    }

    /// A client of the test's own (named apart from the receiver's) to `db`, its connection
    /// run in a task.
    async fn client(
        &self,
        db: &str,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
        ),
        String,
    > {
        let (client, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(USER)
            .password(PASSWORD)
            .dbname(db)
            .application_name(TEST_CLIENT)
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| super::error_text(&e))?;
        Ok((client, tokio::spawn(conn)))
    }

    /// Run `sql` as the test's own client, on a connection closed after it (so the
    /// server's statistics of what it did are flushed).
    async fn sql(&self, db: &str, sql: &str) -> Result<(), String> {
        let (client, task) = self.client(db).await?;
        let result = client
            .batch_execute(sql)
            .await
            .map_err(|e| super::error_text(&e));
        drop(client);
        let _ = task.await;
        result
    }

    /// One number the server answers.
    async fn value(&self, db: &str, sql: &str) -> f64 {
        let (client, _task) = self.client(db).await.unwrap();
        let rows = client.simple_query(sql).await.unwrap();
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
                _ => None,
            })
            .unwrap()
    }

    /// The receiver's config for this server: Go's integration tests' settings (TLS off).
    fn config(&self, extra: &str) -> PostgresqlConfig {
        parse(&format!(
            "endpoint: 127.0.0.1:{}\nusername: {USER}\npassword: {PASSWORD}\ncollection_interval: 100ms\ninitial_delay: 0s\ntls: {{insecure: true}}\n{extra}",
            self.port
        ))
        .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: a smart shutdown would wait for clients; SIGKILL leaves nothing behind
        // that matters for a throw-away directory
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Run the receiver until it has sent `n` rounds.
async fn scrapes(cfg: &PostgresqlConfig, n: usize) -> Vec<ResourceMetrics> {
    let next = Collect::new();
    let ctx = context(ComponentKind::Receiver, "postgresql", vec![Signal::Metrics]);
    let r = PostgresqlReceiver::build(ctx, cfg, metrics_to(&next)).unwrap();
    rounds(Box::new(r), &next, n).await
}

/// The error of one round with `cfg` (which must fail).
async fn one_round_err(cfg: &PostgresqlConfig) -> String {
    let ctx = context(ComponentKind::Receiver, "postgresql", vec![Signal::Metrics]);
    let r = PostgresqlReceiver::build(ctx, cfg, metrics_to(&Collect::new())).unwrap();
    let mut state = State {
        clients: Default::default(),
        start: 1,
    };
    r.scrape(&mut state, Duration::from_secs(5))
        .await
        .unwrap_err()
}

/// The resource of one round whose attributes are exactly `attrs` (and
/// `service.instance.id`).
fn find<'a>(round: &'a [ResourceMetrics], attrs: &[&str]) -> &'a ResourceMetrics {
    round
        .iter()
        .find(|rm| {
            let r = resource(rm);
            r.len() == attrs.len() + 1 && attrs.iter().all(|a| r.contains(&a.to_string()))
        })
        .unwrap_or_else(|| {
            panic!(
                "no resource {attrs:?} in {:?}",
                round.iter().map(resource).collect::<Vec<_>>()
            )
        })
}

const SETUP: &str = "CREATE TABLE table1 (id serial PRIMARY KEY, v text);
CREATE TABLE table2 (v int);
INSERT INTO table1 (v) VALUES ('a'), ('b'), ('c'), ('d');
UPDATE table1 SET v = 'x' WHERE id = 1;
DELETE FROM table1 WHERE id = 4;
INSERT INTO table2 VALUES (1), (2);
CREATE FUNCTION twice(n int) RETURNS int AS $$ BEGIN RETURN n * 2; END $$ LANGUAGE plpgsql;
SELECT twice(1); SELECT twice(2);";

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = parse("username: u\npassword: p").unwrap();
    assert_eq!(cfg.endpoint, "localhost:5432");
    assert_eq!(cfg.transport, "tcp");
    assert!(!cfg.tls.insecure, "TLS is on by default (sslmode=require)");
    assert!(cfg.tls.insecure_skip_verify, "without verifying the server");
    assert_eq!(cfg.collection_interval.get(), Duration::from_secs(10));
    assert_eq!(cfg.top_query_collection.top_n_query, 200);
    let errs = parse(
        "transport: udp\ntls: {server_name_override: x, min_version: '1.3'}\n\
         metrics: {postgresql.nope: {enabled: true}}\nevents: {db.server.nope: {enabled: true}}",
    )
    .unwrap_err();
    assert_eq!(
        errs,
        "username: invalid config: missing username\n\
         password: invalid config: missing password\n\
         tls: invalid config: field 'ServerName' not supported\n\
         tls: invalid config: field 'MinVersion' not supported\n\
         transport: invalid config: 'transport' must be 'tcp' or 'unix'\n\
         metrics: has invalid keys: postgresql.nope\n\
         events: has invalid keys: db.server.nope"
    );
    let errs = parse("username: u\npassword: p\nendpoint: /var/run/postgresql\ntransport: unix")
        .unwrap_err();
    assert_eq!(
        errs,
        "endpoint: invalid config: 'endpoint' must be in the form <host>:<port> no matter what 'transport' is configured"
    );
    // what Ferrotel takes without producing it is said at start
    let cfg = parse(
        "username: u\npassword: p\nevents: {db.server.top_query: {enabled: true}}\n\
         metrics: {postgresql.wal.lag: {enabled: true}}",
    )
    .unwrap();
    let warned: Vec<String> = cfg.not_acted_on().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        warned,
        ["events::db.server.top_query", "metrics::postgresql.wal.lag"]
    );
}

#[test]
fn service_instance_id_names_the_machine_for_loopback() {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    assert_eq!(super::instance_id("localhost:5432"), format!("{host}:5432"));
    assert_eq!(super::instance_id("127.0.0.1:6000"), format!("{host}:6000"));
    assert_eq!(super::instance_id("db.internal:5433"), "db.internal:5433");
    assert_eq!(super::instance_id("nonsense"), "unknown:5432");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_gives_gos_resources_and_metrics() {
    let server = Server::start(false).await;
    server
        .sql("postgres", "CREATE DATABASE otel")
        .await
        .unwrap();
    server
        .sql("postgres", "CREATE DATABASE skipped")
        .await
        .unwrap();
    server.sql("otel", SETUP).await.unwrap();
    server.sql("otel", "VACUUM table1;").await.unwrap();
    let cfg = server.config(
        "exclude_databases: [skipped]\n\
         metrics: {postgresql.tup_inserted: {enabled: true}, postgresql.function.calls: {enabled: true}, \
         postgresql.sequential_scans: {enabled: true}, postgresql.database.locks: {enabled: true}}",
    );
    let all = scrapes(&cfg, 2).await;
    // a round ends with the instance's resource: split the rounds there
    let instance_at = all
        .iter()
        .position(|rm| resource(rm).len() == 1)
        .expect("an instance resource");
    let second = &all[instance_at + 1..];
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let id = format!("service.instance.id={host}:{}", server.port);
    assert!(all.iter().all(|rm| resource(rm).contains(&id)), "{id}");

    // the instance: every database but the excluded one and the templates
    let instance = find(second, &[]);
    assert_eq!(one(instance, "postgresql.database.count"), 2.0);
    assert_eq!(one(instance, "postgresql.connection.max"), 37.0);
    let writes: Vec<String> = points(instance, "postgresql.bgwriter.buffers.writes")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        writes,
        [
            "source=backend",
            "source=backend_fsync",
            "source=checkpoints",
            "source=bgwriter"
        ]
    );
    assert_eq!(
        points(instance, "postgresql.bgwriter.checkpoint.count").len(),
        2
    );
    // no replica and no archived WAL here: nothing of them, as in Go
    assert!(points(instance, "postgresql.replication.data_delay").is_empty());
    assert!(points(instance, "postgresql.wal.age").is_empty());

    // the database: its tables counted, its own statistics
    let db = find(second, &["postgresql.database.name=otel"]);
    assert_eq!(one(db, "postgresql.table.count"), 2.0);
    assert!(one(db, "postgresql.db_size") > 1_000_000.0);
    assert!(one(db, "postgresql.commits") > 0.0);
    // the server's own count (catalog rows included), read after the rounds
    let inserted = server
        .value(
            "otel",
            "SELECT tup_inserted FROM pg_stat_database WHERE datname = 'otel'",
        )
        .await;
    assert_eq!(one(db, "postgresql.tup_inserted"), inserted);
    // the receiver's own kept connection to it, in the second round
    assert_eq!(one(db, "postgresql.backends"), 1.0);
    assert!(
        points(db, "postgresql.tup_deleted").is_empty(),
        "off by default"
    );

    // a table: named schema.table, rows, operations, vacuums, blocks by source
    let t1 = find(
        second,
        &[
            "postgresql.database.name=otel",
            "postgresql.table.name=public.table1",
        ],
    );
    assert_eq!(
        points(t1, "postgresql.rows"),
        [
            ("state=live".to_string(), 3.0),
            ("state=dead".to_string(), 0.0)
        ]
    );
    assert_eq!(
        points(t1, "postgresql.operations"),
        [
            ("operation=ins".to_string(), 4.0),
            ("operation=upd".to_string(), 1.0),
            ("operation=del".to_string(), 1.0),
            ("operation=hot_upd".to_string(), 1.0)
        ]
    );
    assert_eq!(one(t1, "postgresql.table.vacuum.count"), 1.0);
    assert!(one(t1, "postgresql.table.size") > 0.0);
    let sources: Vec<String> = points(t1, "postgresql.blocks_read")
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(sources.len(), 8, "{sources:?}");
    assert_eq!(sources[0], "source=heap_read");
    let t2 = find(
        second,
        &[
            "postgresql.database.name=otel",
            "postgresql.table.name=public.table2",
        ],
    );
    assert_eq!(points(t2, "postgresql.rows")[0].1, 2.0);
    // an index: its table without the schema, as Go names it
    let idx = find(
        second,
        &[
            "postgresql.database.name=otel",
            "postgresql.table.name=table1",
            "postgresql.index.name=table1_pkey",
        ],
    );
    assert!(one(idx, "postgresql.index.size") > 0.0);
    assert!(
        one(idx, "postgresql.index.scans") >= 2.0,
        "the UPDATE and DELETE found their rows by it"
    );
    // a function, on a resource of its own
    let calls: Vec<(String, f64)> = second
        .iter()
        .flat_map(|rm| points(rm, "postgresql.function.calls"))
        .collect();
    assert_eq!(calls, [("function=twice".to_string(), 2.0)]);
    // nothing of the excluded database
    assert!(!second
        .iter()
        .any(|rm| resource(rm).contains(&"postgresql.database.name=skipped".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_kept_between_rounds() {
    let server = Server::start(false).await;
    server
        .sql("postgres", "CREATE DATABASE otel;")
        .await
        .unwrap();
    let cfg = server.config("databases: [otel]");
    let ctx = context(ComponentKind::Receiver, "postgresql", vec![Signal::Metrics]);
    let receiver = PostgresqlReceiver::build(ctx, &cfg, metrics_to(&Collect::new())).unwrap();
    let mut state = State {
        clients: Default::default(),
        start: 1,
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        receiver
            .scrape(&mut state, Duration::from_secs(5))
            .await
            .unwrap();
        // the server's backends of the receiver (the test's own clients named apart)
        let (client, _task) = server.client("postgres").await.unwrap();
        let rows = client
            .query(
                "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND application_name <> $2 AND backend_type = 'client backend' ORDER BY pid",
                &[&USER, &TEST_CLIENT],
            )
            .await
            .unwrap();
        let pids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(pids.len(), 2, "one to postgres, one to otel: {pids:?}");
        seen.push(pids);
    }
    assert_eq!(seen[0], seen[2], "the same two connections every round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_on_by_default_and_a_plain_server_is_refused() {
    let server = Server::start(true).await;
    // Go's defaults: TLS (sslmode=require), the server's certificate not verified
    let mut cfg = server.config("");
    cfg.tls = parse("username: u\npassword: p").unwrap().tls;
    let rounds = scrapes(&cfg, 1).await;
    assert!(!rounds.is_empty(), "metrics over TLS");
    let instance = rounds.iter().find(|rm| resource(rm).len() == 1).unwrap();
    assert_eq!(one(instance, "postgresql.connection.max"), 37.0);

    // verifying the self-signed certificate fails the round
    let mut verify = cfg.clone();
    verify.tls.insecure_skip_verify = false;
    let err = one_round_err(&verify).await;
    assert!(err.contains("certificate"), "{err}");

    // a server without TLS and the default config: refused, saying why
    let plain = Server::start(false).await;
    let mut cfg = plain.config("");
    cfg.tls = parse("username: u\npassword: p").unwrap().tls;
    let err = one_round_err(&cfg).await;
    assert!(err.contains("TLS"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_no_server_sends_nothing_and_keeps_trying() {
    let server = Server::start(false).await;
    let mut cfg = server.config("");
    cfg.password = "wrong".into();
    let err = one_round_err(&cfg).await;
    assert!(err.contains("password authentication failed"), "{err}");
    // through the run loop: no rounds sent, and it stops when told
    assert!(scrapes(&cfg, 1).await.is_empty());
    let mut cfg = server.config("");
    cfg.endpoint = "127.0.0.1:1".into();
    assert!(scrapes(&cfg, 1).await.is_empty());
}

/// The `postgresql` sections of public configs, pointed at the test server (endpoint,
/// user and password replaced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_configs_run() {
    let server = Server::start(false).await;
    for db in ["uptrace", "prefect"] {
        server
            .sql("postgres", &format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
    }
    let configs = [
        // origin: https://github.com/uptrace/uptrace/blob/08db7a1d0b03824ac3aca2c8f63e6a605f1307d5/example/docker/otel-collector.yaml
        ("uptrace", "endpoint: postgres:5432\ntransport: tcp\nusername: uptrace\npassword: uptrace\ndatabases:\n  - uptrace\ntls:\n  insecure: true\n"),
        // origin: https://github.com/SigNoz/signoz/blob/08007be45913a782b67c60e0c42b267f68c83b73/deploy/docker/otel-collector-config.yaml
        ("prefect", "endpoint: host.docker.internal:5434\ntransport: tcp\nusername: prefect\npassword: prefect\ndatabases:\n  - prefect\ncollection_interval: 10s\ntls:\n  insecure: true\n"),
        // origin: https://github.com/open-telemetry/opentelemetry-demo/blob/036e04eddd8f4f5a4dc89baf6f3722777a988673/src/otel-collector/otelcol-config.yml
        ("postgres", "endpoint: ${POSTGRES_HOST}:${POSTGRES_PORT}\nusername: root\npassword: ${POSTGRES_PASSWORD}\nmetrics:\n  postgresql.blks_hit:\n    enabled: true\n  postgresql.blks_read:\n    enabled: true\n  postgresql.tup_fetched:\n    enabled: true\n  postgresql.tup_returned:\n    enabled: true\n  postgresql.tup_inserted:\n    enabled: true\n  postgresql.tup_updated:\n    enabled: true\n  postgresql.tup_deleted:\n    enabled: true\n  postgresql.deadlocks:\n    enabled: true\ntls:\n  insecure: true\n"),
    ];
    for (db, yaml) in configs {
        let yaml = yaml
            .replace("${POSTGRES_HOST}:${POSTGRES_PORT}", "x:1")
            .replace("${POSTGRES_PASSWORD}", "x");
        let mut cfg = parse(&yaml).unwrap_or_else(|e| panic!("{db}: {e}"));
        cfg.endpoint = format!("127.0.0.1:{}", server.port);
        cfg.username = USER.into();
        cfg.password = PASSWORD.into();
        cfg.collection_interval = pipeline_api::config::GoDuration::from_millis(100);
        cfg.initial_delay = pipeline_api::config::GoDuration::default();
        let round = scrapes(&cfg, 1).await;
        let name = format!("postgresql.database.name={db}");
        let d = find(&round, &[&name]);
        assert_eq!(one(d, "postgresql.table.count"), 0.0, "{db}");
        if db == "postgres" {
            // the demo turns on the optional database counters
            assert!(one(d, "postgresql.tup_fetched") > 0.0);
            assert_eq!(points(d, "postgresql.deadlocks").len(), 1);
        }
    }
}
