//! The detectors against loopback fakes of the documented metadata endpoints (EC2 IMDSv2,
//! GCE metadata server, Azure IMDS, ECS task metadata v4, the Docker Engine API on a Unix
//! socket), and the processor's merge and override on real batches.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::testing::Collect;
use pipeline_api::{Batch, Consumer, Processor, Signal};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::config::Config;
use super::detectors::{self, Endpoints};
use super::ResourceDetectionProcessor;

fn parse(s: &str) -> Result<Config, String> {
    pipeline_api::testing::parse_config(s)
}

fn endpoints() -> Endpoints {
    Endpoints {
        ec2: "http://127.0.0.1:1".into(),
        gcp: "http://127.0.0.1:1".into(),
        azure: "http://127.0.0.1:1".into(),
        ecs: None,
        docker_socket: "/nonexistent/docker.sock".into(),
        env_attributes: String::new(),
        root: "/".into(),
    }
}

fn map(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::ArrayValue(a)) => a
                    .values
                    .iter()
                    .filter_map(|v| match &v.value {
                        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => String::new(),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

/// A request the fake saw: method, path, headers (lower-case names).
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
}

type Routes = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    routes: Routes,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.lines();
    let first: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let seen = Seen {
        method: first.first().unwrap_or(&"").to_string(),
        path: first.get(1).unwrap_or(&"").to_string(),
        headers,
    };
    log.lock().unwrap().push(seen.clone());
    let (status, body) = routes(&seen);
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A loopback HTTP fake; returns its base URL and the requests it saw.
async fn fake_http(routes: Routes) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_one(s, routes.clone(), log2.clone()));
        }
    });
    (base, log)
}

async fn fake_unix(path: &std::path::Path, routes: Routes) -> Arc<Mutex<Vec<Seen>>> {
    let l = tokio::net::UnixListener::bind(path).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_one(s, routes.clone(), log2.clone()));
        }
    });
    log
}

fn processor(cfg: &Config, ep: Endpoints, next: Arc<Collect>) -> ResourceDetectionProcessor {
    ResourceDetectionProcessor::new("resourcedetection", cfg, ep, Signal::Metrics, next).unwrap()
}

fn batch(attrs: Vec<KeyValue>) -> Batch {
    Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: attrs,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(number_data_point::Value::AsInt(1)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

// ---------- config ----------

#[test]
fn defaults_are_gos() {
    let c = Config::default();
    assert_eq!(c.detectors, ["env"]);
    assert!(c.override_);
    assert_eq!(c.timeout.get(), Duration::from_secs(5));
    assert_eq!(c.ec2.max_attempts, 3);
}

#[test]
fn invalid_configs_are_refused() {
    let e = parse("detectors: [env, nope]").unwrap_err();
    assert!(
        e.contains("detectors::1") && e.contains("invalid detector key: nope"),
        "{e}"
    );
    let e = parse("detectors: [eks]").unwrap_err();
    assert!(e.contains("not supported"), "{e}");
    let e = parse("detectors: [system]\nsystem: {hostname_sources: [dns, bogus]}").unwrap_err();
    assert!(
        e.contains("hostname_sources contains invalid value: \"bogus\""),
        "{e}"
    );
    let e = parse("system: {resource_attributes: {host.nme: {enabled: true}}}").unwrap_err();
    assert!(e.contains("host.nme"), "{e}");
    // Go's keys for detectors Ferrotel does not run are accepted
    parse("detectors: [env]\neks: {resource_attributes: {}}\ntimeout: 2s").unwrap();
}

// ---------- env ----------

#[test]
fn env_attributes_are_parsed_as_go_parses_them() {
    let kvs = detectors::parse_env(" service.name = shop , team=a%2Cb,note=hello+world ").unwrap();
    assert_eq!(
        map(&kvs),
        BTreeMap::from([
            ("service.name".into(), "shop".into()),
            ("team".into(), "a,b".into()),
            ("note".into(), "hello world".into()),
        ])
    );
    assert!(detectors::parse_env("novalue").is_err());
    assert!(detectors::parse_env("k=%zz").is_err());
    assert!(detectors::parse_env("").unwrap().is_empty());
}

#[tokio::test]
async fn env_attributes_reach_items_with_and_without_override() {
    for (override_, want) in [(true, "detected"), (false, "own")] {
        let cfg = parse(&format!("detectors: [env]\noverride: {override_}")).unwrap();
        let mut ep = endpoints();
        ep.env_attributes = "deployment.environment=detected,k8s.namespace.name=shop".into();
        let next = Collect::new();
        let p = processor(&cfg, ep, next.clone());
        p.start().await.unwrap();
        p.consume(batch(vec![detectors::s("deployment.environment", "own")]))
            .await
            .unwrap();
        let out = next.take();
        let rm = &out[0].as_metrics().unwrap().resource_metrics[0];
        let attrs = map(&rm.resource.as_ref().unwrap().attributes);
        assert_eq!(
            attrs["deployment.environment"], want,
            "override {override_}"
        );
        assert_eq!(attrs["k8s.namespace.name"], "shop");
    }
}

// ---------- system ----------

#[tokio::test]
async fn system_detector_names_this_host() {
    let cfg = parse(
        "detectors: [system]\nsystem:\n  hostname_sources: [os]\n  resource_attributes:\n    host.arch: {enabled: true}\n    host.id: {enabled: true}\n    os.description: {enabled: true}\n    os.type: {enabled: true}",
    )
    .unwrap();
    let kvs = detectors::detect_system(&cfg, &endpoints()).unwrap();
    let m = map(&kvs);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(m["host.name"], hostname.trim());
    assert_eq!(m["os.type"], "linux");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(m["host.arch"], "amd64");
    }
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
        assert_eq!(m["host.id"], id.trim());
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(
        m["os.description"].contains(release.trim()),
        "{}",
        m["os.description"]
    );
    // off by default
    let plain =
        detectors::detect_system(&parse("detectors: [system]").unwrap(), &endpoints()).unwrap();
    assert_eq!(
        map(&plain).keys().cloned().collect::<Vec<_>>(),
        ["host.name", "os.type"]
    );
}

/// A root directory for the detector whose `etc/hosts` is `hosts(host name)`; the
/// endpoints reading it, and the host name.
fn hosts_root(
    name: &str,
    hosts: impl Fn(&str) -> String,
) -> (std::path::PathBuf, Endpoints, String) {
    let dir = std::env::temp_dir().join(format!("rd-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    std::fs::write(dir.join("etc/hosts"), hosts(&host)).unwrap();
    let mut ep = endpoints();
    ep.root = dir.display().to_string();
    (dir, ep, host)
}

#[test]
fn system_dns_source_reads_the_hosts_file() {
    let (dir, ep, host) = hosts_root("hosts", |host| {
        format!("127.0.0.1 localhost\n10.0.0.5 {host}.corp.example {host}\n")
    });
    let cfg = parse("detectors: [system]\nsystem: {hostname_sources: [dns, os]}").unwrap();
    let m = map(&detectors::detect_system(&cfg, &ep).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(m["host.name"], format!("{host}.corp.example"));
}

/// Go's `lookup`: the host name's addresses, then the first name of the first of them that
/// has one (here from the hosts file: the address's first line, not the host's own line).
#[test]
fn system_lookup_source_reverses_the_hosts_address() {
    let (dir, ep, _) = hosts_root("lookup", |host| {
        format!("127.0.0.1 localhost\n10.0.0.7 web-7.internal.example. web-7\n10.0.0.7 {host}\n")
    });
    let cfg = parse("detectors: [system]\nsystem: {hostname_sources: [lookup]}").unwrap();
    let m = map(&detectors::detect_system(&cfg, &ep).unwrap());
    // no line for the host: the next source, none here
    std::fs::write(dir.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    let none = detectors::detect_system(&cfg, &ep);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(m["host.name"], "web-7.internal.example");
    assert!(none.is_err(), "{none:?}");
}

// ---------- clouds ----------

#[tokio::test]
async fn ec2_detector_reads_imdsv2() {
    let routes: Routes = Arc::new(|r: &Seen| {
        match (r.method.as_str(), r.path.as_str()) {
        ("PUT", "/latest/api/token") => (200, "tok123".into()),
        (_, _) if r.headers.get("x-aws-ec2-metadata-token").map(String::as_str) != Some("tok123") => {
            (401, String::new())
        }
        ("GET", "/latest/dynamic/instance-identity/document") => (
            200,
            r#"{"accountId":"123456789012","availabilityZone":"eu-west-1b","region":"eu-west-1","instanceId":"i-0abc","imageId":"ami-9","instanceType":"t3.micro"}"#.into(),
        ),
        ("GET", "/latest/meta-data/hostname") => (200, "ip-10-0-0-1.eu-west-1.compute.internal".into()),
        _ => (404, String::new()),
    }
    });
    let (base, log) = fake_http(routes).await;
    let mut ep = endpoints();
    ep.ec2 = base;
    let cfg = parse("detectors: [ec2]").unwrap();
    let client = reqwest::Client::new();
    let m = map(&detectors::detect_ec2(&cfg, &ep, &client).await.unwrap());
    assert_eq!(
        m,
        BTreeMap::from([
            ("cloud.provider".into(), "aws".into()),
            ("cloud.platform".into(), "aws_ec2".into()),
            ("cloud.region".into(), "eu-west-1".into()),
            ("cloud.account.id".into(), "123456789012".into()),
            ("cloud.availability_zone".into(), "eu-west-1b".into()),
            ("host.id".into(), "i-0abc".into()),
            ("host.image.id".into(), "ami-9".into()),
            ("host.type".into(), "t3.micro".into()),
            (
                "host.name".into(),
                "ip-10-0-0-1.eu-west-1.compute.internal".into()
            ),
        ])
    );
    let seen = log.lock().unwrap().clone();
    assert_eq!(
        seen[0].headers["x-aws-ec2-metadata-token-ttl-seconds"],
        "21600"
    );
}

#[tokio::test]
async fn gcp_detector_reads_the_metadata_server() {
    let routes: Routes = Arc::new(|r: &Seen| {
        if r.headers.get("metadata-flavor").map(String::as_str) != Some("Google") {
            return (403, String::new());
        }
        let b = match r.path.as_str() {
            "/computeMetadata/v1/project/project-id" => "my-proj",
            "/computeMetadata/v1/instance/zone" => "projects/42/zones/us-central1-a",
            "/computeMetadata/v1/instance/id" => "4520031799277581759",
            "/computeMetadata/v1/instance/name" => "vm-1",
            "/computeMetadata/v1/instance/machine-type" => "projects/42/machineTypes/e2-medium",
            _ => return (404, String::new()),
        };
        (200, b.into())
    });
    let (base, _) = fake_http(routes).await;
    let mut ep = endpoints();
    ep.gcp = base;
    let m = map(&detectors::detect_gcp(
        &parse("detectors: [gcp]").unwrap(),
        &ep,
        &reqwest::Client::new(),
    )
    .await
    .unwrap());
    assert_eq!(m["cloud.provider"], "gcp");
    assert_eq!(m["cloud.platform"], "gcp_compute_engine");
    assert_eq!(m["cloud.account.id"], "my-proj");
    assert_eq!(m["cloud.availability_zone"], "us-central1-a");
    assert_eq!(m["cloud.region"], "us-central1");
    assert_eq!(m["host.id"], "4520031799277581759");
    assert_eq!(m["host.name"], "vm-1");
    assert_eq!(m["host.type"], "e2-medium");
    assert!(!m.contains_key("gcp.gce.instance.name"), "off by default");
}

#[tokio::test]
async fn azure_detector_reads_imds() {
    let routes: Routes = Arc::new(|r: &Seen| {
        if r.headers.get("metadata").map(String::as_str) != Some("true")
            || r.path != "/metadata/instance/compute?api-version=2020-09-01&format=json"
        {
            return (400, String::new());
        }
        (200, r#"{"location":"westeurope","name":"vm2","vmId":"02aab8a4","vmSize":"Standard_D2s_v3","subscriptionId":"sub-1","resourceGroupName":"rg","vmScaleSetName":"","zone":"1"}"#.into())
    });
    let (base, _) = fake_http(routes).await;
    let mut ep = endpoints();
    ep.azure = base;
    let cfg = parse("detectors: [azure]\nazure: {resource_attributes: {cloud.availability_zone: {enabled: true}}}").unwrap();
    let m = map(&detectors::detect_azure(&cfg, &ep, &reqwest::Client::new())
        .await
        .unwrap());
    assert_eq!(
        m,
        BTreeMap::from([
            ("cloud.provider".into(), "azure".into()),
            ("cloud.platform".into(), "azure_vm".into()),
            ("host.name".into(), "vm2".into()),
            ("cloud.region".into(), "westeurope".into()),
            ("host.id".into(), "02aab8a4".into()),
            ("cloud.account.id".into(), "sub-1".into()),
            ("azure.vm.name".into(), "vm2".into()),
            ("azure.vm.size".into(), "Standard_D2s_v3".into()),
            ("azure.resourcegroup.name".into(), "rg".into()),
            ("cloud.availability_zone".into(), "1".into()),
        ])
    );
}

#[tokio::test]
async fn ecs_detector_reads_task_metadata_v4() {
    let routes: Routes = Arc::new(|r: &Seen| {
        match r.path.as_str() {
        "/v4/abc/task" => (200, r#"{"Cluster":"arn:aws:ecs:us-west-2:111122223333:cluster/default","TaskARN":"arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c","Family":"curltest","Revision":"26","AvailabilityZone":"us-west-2d","LaunchType":"FARGATE"}"#.into()),
        "/v4/abc" => (200, r#"{"LogDriver":"awslogs","LogOptions":{"awslogs-group":"/ecs/app","awslogs-region":"us-west-2","awslogs-stream":"ecs/app/158d"}}"#.into()),
        _ => (404, String::new()),
    }
    });
    let (base, _) = fake_http(routes).await;
    let mut ep = endpoints();
    ep.ecs = Some(format!("{base}/v4/abc"));
    let m = map(&detectors::detect_ecs(
        &parse("detectors: [ecs]").unwrap(),
        &ep,
        &reqwest::Client::new(),
    )
    .await
    .unwrap());
    assert_eq!(m["cloud.platform"], "aws_ecs");
    assert_eq!(m["cloud.region"], "us-west-2");
    assert_eq!(m["cloud.account.id"], "111122223333");
    assert_eq!(m["aws.ecs.task.id"], "158d1c8083dd49d6b527399fd6414f5c");
    assert_eq!(m["aws.ecs.task.family"], "curltest");
    assert_eq!(m["aws.ecs.task.revision"], "26");
    assert_eq!(m["aws.ecs.launchtype"], "fargate");
    assert_eq!(
        m["aws.ecs.cluster.arn"],
        "arn:aws:ecs:us-west-2:111122223333:cluster/default"
    );
    assert_eq!(m["aws.log.group.names"], "/ecs/app");
    assert_eq!(
        m["aws.log.stream.arns"],
        "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/app:log-stream:ecs/app/158d"
    );
}

#[tokio::test]
async fn off_their_cloud_the_detectors_find_nothing() {
    let cfg = parse("detectors: [ec2, gcp, azure, ecs, env]").unwrap();
    let next = Collect::new();
    // nothing listens on port 1; no ECS variable
    let p = processor(&cfg, endpoints(), next.clone());
    let t = Instant::now();
    p.start().await.unwrap();
    assert!(p.detected().is_empty());
    assert!(t.elapsed() < Duration::from_secs(3));
}

// ---------- docker ----------

#[tokio::test]
async fn docker_detector_asks_the_engine_over_its_socket() {
    let dir = std::env::temp_dir().join(format!("rd-docker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("docker.sock");
    let me = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let want = format!("/containers/{me}/json");
    let routes: Routes = Arc::new(move |r: &Seen| {
        if r.path == "/info" {
            (200, r#"{"Name":"docker-host-1","OSType":"linux"}"#.into())
        } else if r.path == want {
            (
                200,
                r#"{"Name":"/web","Config":{"Image":"shop:1.2"}}"#.into(),
            )
        } else {
            (404, r#"{"message":"no such container"}"#.into())
        }
    });
    let _log = fake_unix(&sock, routes).await;
    let mut ep = endpoints();
    ep.docker_socket = sock.display().to_string();
    let cfg = parse("detectors: [docker]\ndocker: {resource_attributes: {container.image.name: {enabled: true}}}").unwrap();
    let m = map(&detectors::detect_docker(&cfg, &ep, Duration::from_secs(2))
        .await
        .unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        m,
        BTreeMap::from([
            ("host.name".into(), "docker-host-1".into()),
            ("os.type".into(), "linux".into()),
            ("container.image.name".into(), "shop:1.2".into()),
        ])
    );
}

#[tokio::test]
async fn an_engine_that_is_down_fails_the_start_after_retrying_until_the_timeout() {
    let cfg = parse("detectors: [docker]\ntimeout: 2500ms").unwrap();
    let p = processor(&cfg, endpoints(), Collect::new());
    let t = Instant::now();
    let e = p.start().await.unwrap_err().to_string();
    let took = t.elapsed();
    assert!(
        e.contains("docker") && e.contains("/nonexistent/docker.sock"),
        "{e}"
    );
    // retried after 1s (and not after the next 2s pause, which would pass the deadline)
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn override_key_parses() {
    assert!(parse("override: true").unwrap().override_);
    assert!(!parse("override: false").unwrap().override_);
}

fn strings(kv: &KeyValue) -> Vec<String> {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .map(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{}: not a list: {other:?}", kv.key),
    }
}

/// Go's rules: addresses and MACs of interfaces that are up and not loopback (a loopback
/// address on another interface left out, an interface without a MAC as ""), every
/// interface's name.
#[test]
fn host_ip_mac_and_interface_follow_gos_rules() {
    use detectors::NetInterface;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let interfaces = vec![
        NetInterface {
            index: 1,
            name: "lo".into(),
            up: true,
            loopback: true,
            mac: None,
            ips: vec![ip("127.0.0.1"), ip("::1")],
        },
        NetInterface {
            index: 2,
            name: "eth0".into(),
            up: true,
            loopback: false,
            mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x0a]),
            ips: vec![
                ip("172.17.0.10"),
                ip("127.0.0.5"),
                ip("fe80::42:acff:fe11:a"),
            ],
        },
        NetInterface {
            index: 3,
            name: "docker0".into(),
            up: false,
            loopback: false,
            mac: Some([1, 2, 3, 4, 5, 6]),
            ips: vec![ip("172.18.0.1")],
        },
        NetInterface {
            index: 4,
            name: "tun0".into(),
            up: true,
            loopback: false,
            mac: None,
            ips: vec![ip("10.8.0.2")],
        },
    ];
    let kvs = detectors::network_attributes(&interfaces);
    assert_eq!(
        strings(&kvs[0]),
        ["172.17.0.10", "fe80::42:acff:fe11:a", "10.8.0.2"]
    );
    assert_eq!(strings(&kvs[1]), ["02-42-AC-11-00-0A", ""]);
    assert_eq!(strings(&kvs[2]), ["lo", "eth0", "docker0", "tun0"]);
}

/// This machine's interfaces as the system detector reports them, against `/sys/class/net`
/// (names by index, the up and loopback flags, hardware addresses) and `/proc/net/if_inet6`
/// read here independently.
#[test]
fn the_system_detector_reports_this_hosts_interfaces() {
    let cfg = parse(
        "detectors: [system]\nsystem:\n  resource_attributes:\n    host.ip: {enabled: true}\n    host.mac: {enabled: true}\n    host.interface: {enabled: true}\n",
    )
    .unwrap();
    let kvs = detectors::detect_system(&cfg, &Endpoints::from_env()).unwrap();
    let get = |k: &str| strings(kvs.iter().find(|kv| kv.key == k).unwrap());
    let mut sys: Vec<(u32, String, u32, String)> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let read = |f: &str| {
                std::fs::read_to_string(format!("/sys/class/net/{name}/{f}"))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            let index = read("ifindex").parse().unwrap();
            let flags = u32::from_str_radix(read("flags").trim_start_matches("0x"), 16).unwrap();
            let address = read("address");
            (index, name, flags, address)
        })
        .collect();
    sys.sort();
    assert_eq!(
        get("host.interface"),
        sys.iter().map(|s| s.1.clone()).collect::<Vec<_>>()
    );
    let live: Vec<&(u32, String, u32, String)> = sys
        .iter()
        .filter(|s| s.2 & 1 != 0 && s.2 & 8 == 0)
        .collect();
    let macs: Vec<String> = live
        .iter()
        .map(|s| s.3.to_uppercase().replace(':', "-"))
        .collect();
    assert_eq!(get("host.mac"), macs);
    // every global IPv6 address of a live interface is listed
    let ips = get("host.ip");
    let if_inet6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    for line in if_inet6.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || !live.iter().any(|s| s.1 == f[5]) {
            continue;
        }
        let hex = f[0];
        let segments: Vec<u16> = (0..8)
            .map(|i| u16::from_str_radix(&hex[i * 4..i * 4 + 4], 16).unwrap())
            .collect();
        let addr = std::net::Ipv6Addr::new(
            segments[0],
            segments[1],
            segments[2],
            segments[3],
            segments[4],
            segments[5],
            segments[6],
            segments[7],
        );
        assert!(
            ips.contains(&addr.to_string()),
            "{addr} of {} in {ips:?}",
            f[5]
        );
    }
    assert!(
        ips.iter().all(|ip| ip != "127.0.0.1" && ip != "::1"),
        "{ips:?}"
    );
}
