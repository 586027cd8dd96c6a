//! The detectors: each returns the attributes it found (`Ok(vec![])` when it is not on its
//! platform, as Go's cloud detectors do), or an error the processor retries until its
//! timeout. Attribute names, values and which are on by default are Go's (v0.155.0 generated
//! metadata of each detector).

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use serde_json::Value;

use super::config::{on, Config, Toggles};

/// (attribute, on by default) of each detector.
pub const SYSTEM_ATTRS: &[(&str, bool)] = &[
    ("host.arch", false),
    ("host.cpu.cache.l2.size", false),
    ("host.cpu.family", false),
    ("host.cpu.model.id", false),
    ("host.cpu.model.name", false),
    ("host.cpu.stepping", false),
    ("host.cpu.vendor.id", false),
    ("host.id", false),
    ("host.interface", false),
    ("host.ip", false),
    ("host.mac", false),
    ("host.name", true),
    ("os.build.id", false),
    ("os.description", false),
    ("os.name", false),
    ("os.type", true),
    ("os.version", false),
];
pub const DOCKER_ATTRS: &[(&str, bool)] = &[
    ("container.image.name", false),
    ("container.name", false),
    ("host.name", true),
    ("os.type", true),
];
pub const EC2_ATTRS: &[(&str, bool)] = &[
    ("cloud.account.id", true),
    ("cloud.availability_zone", true),
    ("cloud.platform", true),
    ("cloud.provider", true),
    ("cloud.region", true),
    ("host.id", true),
    ("host.image.id", true),
    ("host.name", true),
    ("host.type", true),
];
pub const GCP_ATTRS: &[(&str, bool)] = &[
    ("cloud.account.id", true),
    ("cloud.availability_zone", true),
    ("cloud.platform", true),
    ("cloud.provider", true),
    ("cloud.region", true),
    ("faas.instance", true),
    ("faas.name", true),
    ("faas.version", true),
    ("gcp.cloud_run.job.execution", true),
    ("gcp.cloud_run.job.task_index", true),
    ("gcp.gce.instance.hostname", false),
    ("gcp.gce.instance.name", false),
    ("gcp.gce.instance_group_manager.name", true),
    ("gcp.gce.instance_group_manager.region", true),
    ("gcp.gce.instance_group_manager.zone", true),
    ("host.id", true),
    ("host.name", true),
    ("host.type", true),
    ("k8s.cluster.name", true),
];
pub const AZURE_ATTRS: &[(&str, bool)] = &[
    ("azure.resourcegroup.name", true),
    ("azure.vm.name", true),
    ("azure.vm.scaleset.name", true),
    ("azure.vm.size", true),
    ("cloud.account.id", true),
    ("cloud.availability_zone", false),
    ("cloud.platform", true),
    ("cloud.provider", true),
    ("cloud.region", true),
    ("host.id", true),
    ("host.name", true),
];
pub const ECS_ATTRS: &[(&str, bool)] = &[
    ("aws.ecs.cluster.arn", true),
    ("aws.ecs.launchtype", true),
    ("aws.ecs.task.arn", true),
    ("aws.ecs.task.family", true),
    ("aws.ecs.task.id", true),
    ("aws.ecs.task.revision", true),
    ("aws.log.group.arns", true),
    ("aws.log.group.names", true),
    ("aws.log.stream.arns", true),
    ("aws.log.stream.names", true),
    ("cloud.account.id", true),
    ("cloud.availability_zone", true),
    ("cloud.platform", true),
    ("cloud.provider", true),
    ("cloud.region", true),
];

/// Where the detectors look. The cloud bases are the documented metadata endpoints; tests
/// point them at loopback fakes through the `FERROTEL_TEST_*` variables (test-only: not a
/// configuration key, not documented for users).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub ec2: String,
    pub gcp: String,
    pub azure: String,
    /// `ECS_CONTAINER_METADATA_URI_V4` (or `_URI`): absent off ECS.
    pub ecs: Option<String>,
    /// `DOCKER_HOST` (`unix://` path), default `/var/run/docker.sock`.
    pub docker_socket: String,
    /// `OTEL_RESOURCE_ATTRIBUTES` (or the deprecated `OTEL_RESOURCE`).
    pub env_attributes: String,
    /// Root of `/etc` files read by `system` (`/`).
    pub root: String,
}

impl Endpoints {
    pub fn from_env() -> Endpoints {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let docker = var("DOCKER_HOST")
            .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
            .unwrap_or_else(|| "/var/run/docker.sock".into());
        Endpoints {
            ec2: var("FERROTEL_TEST_EC2_ENDPOINT")
                .unwrap_or_else(|| "http://169.254.169.254".into()),
            gcp: var("FERROTEL_TEST_GCP_ENDPOINT")
                .unwrap_or_else(|| "http://metadata.google.internal".into()),
            azure: var("FERROTEL_TEST_AZURE_ENDPOINT")
                .unwrap_or_else(|| "http://169.254.169.254".into()),
            ecs: var("ECS_CONTAINER_METADATA_URI_V4").or_else(|| var("ECS_CONTAINER_METADATA_URI")),
            docker_socket: docker,
            env_attributes: var("OTEL_RESOURCE_ATTRIBUTES")
                .or_else(|| var("OTEL_RESOURCE"))
                .unwrap_or_default(),
            root: "/".into(),
        }
    }
}

pub fn s(k: &str, v: impl Into<String>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn list(k: &str, vs: Vec<String>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vs
                    .into_iter()
                    .map(|v| AnyValue {
                        value: Some(any_value::Value::StringValue(v)),
                    })
                    .collect(),
            })),
        }),
        ..Default::default()
    }
}

/// Collects a detector's attributes, keeping the enabled ones.
struct Rb<'a> {
    toggles: &'a Toggles,
    defaults: &'static [(&'static str, bool)],
    out: Vec<KeyValue>,
}

impl<'a> Rb<'a> {
    fn new(toggles: &'a Toggles, defaults: &'static [(&'static str, bool)]) -> Self {
        Rb {
            toggles,
            defaults,
            out: Vec::new(),
        }
    }
    fn on(&self, k: &str) -> bool {
        on(self.toggles, self.defaults, k)
    }
    fn put(&mut self, kv: KeyValue) {
        if self.on(&kv.key) {
            self.out.push(kv);
        }
    }
    fn str(&mut self, k: &str, v: impl Into<String>) {
        self.put(s(k, v));
    }
}

// ------------------------------------------------------------------ env

/// Go's `OTEL_RESOURCE_ATTRIBUTES` grammar: `key=value` pairs separated by commas, blanks
/// around them trimmed, values URL-unescaped (`+` is a space, as Go's `QueryUnescape`).
pub fn parse_env(s: &str) -> Result<Vec<KeyValue>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("invalid resource format, invalid text: {part:?}"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || !k.is_ascii() || !v.is_ascii() {
            return Err(format!("invalid resource format: {s:?}"));
        }
        let v = unescape(v)
            .map_err(|e| format!("invalid resource format in attribute: {part:?}, err: {e}"))?;
        out.push(s_kv(k, v));
    }
    Ok(out)
}

fn s_kv(k: &str, v: String) -> KeyValue {
    s(k, v)
}

fn unescape(v: &str) -> Result<String, String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!("invalid URL escape {:?}", &v[i..(i + 3).min(v.len())])
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

// ------------------------------------------------------------------ system

fn read(root: &str, path: &str) -> Option<String> {
    std::fs::read_to_string(std::path::Path::new(root).join(path.trim_start_matches('/'))).ok()
}

/// Go's `GOARCHtoHostArch` over Rust's architecture names.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

fn os_release(root: &str) -> BTreeMap<String, String> {
    read(root, "etc/os-release")
        .or_else(|| read(root, "usr/lib/os-release"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// The OpenTelemetry Go SDK's `os.description` on Linux: the os-release pretty name and
/// `uname` (sysname, nodename, release, version, machine).
fn os_description(root: &str) -> String {
    let u = rustix::system::uname();
    let uname = format!(
        "{} {} {} {} {}",
        u.sysname().to_string_lossy(),
        u.nodename().to_string_lossy(),
        u.release().to_string_lossy(),
        u.version().to_string_lossy(),
        u.machine().to_string_lossy()
    );
    let rel = os_release(root);
    let pretty = rel.get("PRETTY_NAME").cloned().or_else(|| {
        rel.get("NAME").map(|n| {
            format!("{n} {}", rel.get("VERSION").cloned().unwrap_or_default())
                .trim()
                .to_string()
        })
    });
    match pretty {
        Some(p) if !p.is_empty() => format!("{p} ({uname})"),
        _ => uname,
    }
}

fn os_hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The FQDN as the resolver's hosts file gives it: the canonical name of the line naming
/// this host in `/etc/hosts` (DNS is not queried).
fn fqdn(root: &str) -> Result<String, String> {
    let host = os_hostname();
    let hosts = read(root, "etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 2
            && f[1..]
                .iter()
                .any(|n| *n == host || n.split('.').next() == Some(&host))
        {
            return Ok(f[1].to_string());
        }
    }
    Err(format!(
        "could not resolve the FQDN of {host:?} from /etc/hosts"
    ))
}

/// Go's `lookup` source: the host name's addresses, then the first name of the first
/// address that has one — from `/etc/hosts` both ways (as the `dns` source, no DNS query is
/// made).
fn reverse_lookup(root: &str) -> Result<String, String> {
    let host = os_hostname();
    let hosts = read(root, "etc/hosts").unwrap_or_default();
    let entries: Vec<(std::net::IpAddr, Vec<&str>)> = hosts
        .lines()
        .filter_map(|line| {
            let mut f = line.split('#').next().unwrap_or("").split_whitespace();
            let ip = f.next()?.parse().ok()?;
            Some((ip, f.collect()))
        })
        .collect();
    let addresses = entries
        .iter()
        .filter(|(_, names)| names.iter().any(|n| *n == host))
        .map(|(ip, _)| *ip);
    for ip in addresses {
        let name = entries
            .iter()
            .find(|(other, names)| *other == ip && !names.is_empty())
            .map(|(_, names)| names[0].trim_end_matches('.'));
        if let Some(name) = name {
            return Ok(name.to_string());
        }
    }
    Err(format!(
        "reverseLookup failed to convert the addresses of {host:?} to a name (/etc/hosts)"
    ))
}

pub fn detect_system(cfg: &Config, ep: &Endpoints) -> Result<Vec<KeyValue>, String> {
    let c = &cfg.system;
    let sources: Vec<&str> = if c.hostname_sources.is_empty() {
        vec!["dns", "os"]
    } else {
        c.hostname_sources.iter().map(String::as_str).collect()
    };
    let mut hostname = None;
    for src in sources {
        let r = match src {
            "os" => Ok(os_hostname()),
            "dns" | "cname" => fqdn(&ep.root),
            "lookup" => reverse_lookup(&ep.root),
            _ => Err(format!("unknown hostname source {src}")),
        };
        match r {
            Ok(h) if !h.is_empty() => {
                hostname = Some(h);
                break;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(source = src, error = %e, "Hostname source failed."),
        }
    }
    let Some(hostname) = hostname else {
        return Err("all hostname sources failed to get hostname".into());
    };
    let mut rb = Rb::new(&c.resource_attributes, SYSTEM_ATTRS);
    rb.str("host.name", hostname);
    rb.str("os.type", "linux");
    let rel = os_release(&ep.root);
    if let Some(v) = rel.get("VERSION_ID") {
        rb.str("os.version", v.clone());
    }
    if rb.on("host.id") {
        match read(&ep.root, "etc/machine-id").or_else(|| read(&ep.root, "var/lib/dbus/machine-id"))
        {
            Some(id) => rb.str("host.id", id.trim()),
            None => tracing::warn!("failed to get host ID"),
        }
    }
    rb.str("host.arch", host_arch());
    if rb.on("os.description") {
        rb.str("os.description", os_description(&ep.root));
    }
    if let Some(v) = rel.get("ID") {
        rb.str("os.name", v.clone());
    }
    if rb.on("os.build.id") {
        if let Some(v) = rel.get("BUILD_ID") {
            rb.str("os.build.id", v.clone());
        }
    }
    let cpu_keys = [
        "host.cpu.vendor.id",
        "host.cpu.family",
        "host.cpu.model.id",
        "host.cpu.model.name",
        "host.cpu.stepping",
        "host.cpu.cache.l2.size",
    ];
    if ["host.ip", "host.mac", "host.interface"]
        .iter()
        .any(|k| rb.on(k))
    {
        let interfaces =
            host_interfaces().map_err(|e| format!("failed to get host network interfaces: {e}"))?;
        for kv in network_attributes(&interfaces) {
            rb.put(kv);
        }
    }
    if cpu_keys.iter().any(|k| rb.on(k)) {
        let info = read(&ep.root, "proc/cpuinfo").unwrap_or_default();
        let first: BTreeMap<String, String> = info
            .split("\n\n")
            .next()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let g = |k: &str| first.get(k).cloned().unwrap_or_default();
        rb.str("host.cpu.vendor.id", g("vendor_id"));
        rb.str("host.cpu.family", g("cpu family"));
        rb.str("host.cpu.model.id", g("model"));
        rb.str("host.cpu.model.name", g("model name"));
        if let Ok(st) = g("stepping").parse::<i64>() {
            rb.put(int("host.cpu.stepping", st));
        }
        if let Some(kb) = g("cache size")
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<i64>().ok())
        {
            rb.put(int("host.cpu.cache.l2.size", kb * 1024));
        }
    }
    Ok(rb.out)
}

/// One network interface as Go's `net.Interfaces` and `Interface.Addrs` give it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetInterface {
    pub index: u32,
    pub name: String,
    pub up: bool,
    pub loopback: bool,
    pub mac: Option<[u8; 6]>,
    /// IPv4 then IPv6, each in the kernel's order.
    pub ips: Vec<std::net::IpAddr>,
}

/// The host's interfaces by index (getifaddrs(3)).
pub fn host_interfaces() -> std::io::Result<Vec<NetInterface>> {
    let mut by_index: BTreeMap<u32, NetInterface> = BTreeMap::new();
    for i in getifaddrs::getifaddrs()? {
        let Some(index) = i.index else { continue };
        let e = by_index.entry(index).or_insert_with(|| NetInterface {
            index,
            name: i.name.clone(),
            ..Default::default()
        });
        e.up |= i.flags.contains(getifaddrs::InterfaceFlags::UP);
        e.loopback |= i.flags.contains(getifaddrs::InterfaceFlags::LOOPBACK);
        if let Some(mac) = i.address.mac_addr() {
            e.mac = Some(mac);
        } else if let Some(ip) = i.address.ip_addr() {
            e.ips.push(ip);
        }
    }
    let mut out: Vec<NetInterface> = by_index.into_values().collect();
    for i in &mut out {
        // v4 first, each family in the order the kernel gave (a stable sort keeps it)
        i.ips.sort_by_key(|ip| ip.is_ipv6());
    }
    Ok(out)
}

/// Go's system detector: `host.ip` (the addresses of the interfaces that are up and not
/// loopback, loopback addresses left out), `host.mac` (their hardware addresses in IEEE RA
/// form, `AA-BB-CC-DD-EE-FF`; empty for an interface without one) and `host.interface`
/// (every interface's name).
pub fn network_attributes(interfaces: &[NetInterface]) -> Vec<KeyValue> {
    let live = || interfaces.iter().filter(|i| i.up && !i.loopback);
    let ips = live()
        .flat_map(|i| i.ips.iter().filter(|ip| !ip.is_loopback()))
        .map(|ip| ip.to_string())
        .collect();
    let macs = live()
        .map(|i| {
            i.mac
                .map(|m| {
                    m.iter()
                        .map(|b| format!("{b:02X}"))
                        .collect::<Vec<_>>()
                        .join("-")
                })
                .unwrap_or_default()
        })
        .collect();
    let names = interfaces.iter().map(|i| i.name.clone()).collect();
    vec![
        list("host.ip", ips),
        list("host.mac", macs),
        list("host.interface", names),
    ]
}

// ------------------------------------------------------------------ HTTP

async fn get(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<reqwest::Response, String> {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", transport::http::error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: status {}", resp.status()));
    }
    Ok(resp)
}

async fn get_text(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    get(client, url, headers)
        .await?
        .text()
        .await
        .map_err(|e| format!("GET {url}: {e}"))
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Value, String> {
    let text = get_text(client, url, headers).await?;
    serde_json::from_str(&text).map_err(|e| format!("GET {url}: invalid JSON: {e}"))
}

fn js(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------ ec2

/// IMDSv2: a session token, then the instance identity document and the hostname. Off EC2
/// (no answer) the detector finds nothing, as Go's.
pub async fn detect_ec2(
    cfg: &Config,
    ep: &Endpoints,
    client: &reqwest::Client,
) -> Result<Vec<KeyValue>, String> {
    let base = ep.ec2.trim_end_matches('/');
    let token = client
        .put(format!("{base}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send()
        .await;
    let token = match token {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            tracing::debug!(status = %r.status(), "EC2 metadata token refused; trying IMDSv1.");
            String::new()
        }
        Err(e) => {
            if cfg.ec2.fail_on_missing_metadata {
                return Err(format!("EC2 metadata endpoint unavailable: {e}"));
            }
            tracing::debug!(error = %e, "EC2 metadata unavailable.");
            return Ok(vec![]);
        }
    };
    let h: Vec<(&str, &str)> = if token.is_empty() {
        vec![]
    } else {
        vec![("X-aws-ec2-metadata-token", token.as_str())]
    };
    let doc = get_json(
        client,
        &format!("{base}/latest/dynamic/instance-identity/document"),
        &h,
    )
    .await?;
    let hostname = get_text(client, &format!("{base}/latest/meta-data/hostname"), &h).await?;
    let mut rb = Rb::new(&cfg.ec2.resource_attributes, EC2_ATTRS);
    rb.str("cloud.provider", "aws");
    rb.str("cloud.platform", "aws_ec2");
    rb.str("cloud.region", js(&doc, "region"));
    rb.str("cloud.account.id", js(&doc, "accountId"));
    rb.str("cloud.availability_zone", js(&doc, "availabilityZone"));
    rb.str("host.id", js(&doc, "instanceId"));
    rb.str("host.image.id", js(&doc, "imageId"));
    rb.str("host.type", js(&doc, "instanceType"));
    rb.str("host.name", hostname.trim());
    Ok(rb.out)
}

// ------------------------------------------------------------------ gcp

/// Compute Engine through its metadata server (`Metadata-Flavor: Google`). Off GCP the
/// detector finds nothing.
pub async fn detect_gcp(
    cfg: &Config,
    ep: &Endpoints,
    client: &reqwest::Client,
) -> Result<Vec<KeyValue>, String> {
    let base = format!("{}/computeMetadata/v1", ep.gcp.trim_end_matches('/'));
    let h = [("Metadata-Flavor", "Google")];
    let project = match get_text(client, &format!("{base}/project/project-id"), &h).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, "GCP metadata unavailable.");
            return Ok(vec![]);
        }
    };
    let zone_path = get_text(client, &format!("{base}/instance/zone"), &h).await?;
    let zone = zone_path.rsplit('/').next().unwrap_or("").to_string();
    let region = zone
        .rsplit_once('-')
        .map(|(r, _)| r.to_string())
        .unwrap_or_default();
    let id = get_text(client, &format!("{base}/instance/id"), &h).await?;
    let name = get_text(client, &format!("{base}/instance/name"), &h).await?;
    let mtype = get_text(client, &format!("{base}/instance/machine-type"), &h).await?;
    let mut rb = Rb::new(&cfg.gcp.resource_attributes, GCP_ATTRS);
    rb.str("cloud.provider", "gcp");
    rb.str("cloud.platform", "gcp_compute_engine");
    rb.str("cloud.account.id", project.trim());
    rb.str("cloud.availability_zone", zone);
    rb.str("cloud.region", region);
    rb.str("host.id", id.trim());
    rb.str("host.name", name.trim());
    rb.str("host.type", mtype.rsplit('/').next().unwrap_or("").trim());
    rb.str("gcp.gce.instance.name", name.trim());
    if rb.on("gcp.gce.instance.hostname") {
        if let Ok(hn) = get_text(client, &format!("{base}/instance/hostname"), &h).await {
            rb.str("gcp.gce.instance.hostname", hn.trim());
        }
    }
    Ok(rb.out)
}

// ------------------------------------------------------------------ azure

/// The Azure Instance Metadata Service (`Metadata: true`, api-version 2020-09-01). Off
/// Azure the detector finds nothing.
pub async fn detect_azure(
    cfg: &Config,
    ep: &Endpoints,
    client: &reqwest::Client,
) -> Result<Vec<KeyValue>, String> {
    let url = format!(
        "{}/metadata/instance/compute?api-version=2020-09-01&format=json",
        ep.azure.trim_end_matches('/')
    );
    let m = match get_json(client, &url, &[("Metadata", "true")]).await {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(error = %e, "Azure detector metadata retrieval failed.");
            return Ok(vec![]);
        }
    };
    let mut rb = Rb::new(&cfg.azure.resource_attributes, AZURE_ATTRS);
    rb.str("cloud.provider", "azure");
    rb.str("cloud.platform", "azure_vm");
    rb.str("host.name", js(&m, "name"));
    rb.str("cloud.region", js(&m, "location"));
    rb.str("host.id", js(&m, "vmId"));
    rb.str("cloud.account.id", js(&m, "subscriptionId"));
    rb.str("azure.vm.name", js(&m, "name"));
    rb.str("azure.vm.size", js(&m, "vmSize"));
    rb.str("azure.resourcegroup.name", js(&m, "resourceGroupName"));
    let ss = js(&m, "vmScaleSetName");
    if !ss.is_empty() {
        rb.str("azure.vm.scaleset.name", ss);
    }
    let zone = js(&m, "zone");
    if !zone.is_empty() {
        rb.str("cloud.availability_zone", zone);
    }
    Ok(rb.out)
}

// ------------------------------------------------------------------ ecs

/// The ECS task metadata endpoint v4 named by `ECS_CONTAINER_METADATA_URI_V4`; off ECS (no
/// variable) the detector finds nothing.
pub async fn detect_ecs(
    cfg: &Config,
    ep: &Endpoints,
    client: &reqwest::Client,
) -> Result<Vec<KeyValue>, String> {
    let Some(base) = &ep.ecs else {
        return Ok(vec![]);
    };
    let base = base.trim_end_matches('/');
    let task = get_json(client, &format!("{base}/task"), &[]).await?;
    let container = get_json(client, base, &[]).await?;
    let task_arn = js(&task, "TaskARN");
    // arn:aws:ecs:<region>:<account>:task/<cluster>/<id>
    let parts: Vec<&str> = task_arn.split(':').collect();
    let (region, account) = (
        parts.get(3).copied().unwrap_or(""),
        parts.get(4).copied().unwrap_or(""),
    );
    let mut cluster = js(&task, "Cluster");
    if !cluster.starts_with("arn:") && !cluster.is_empty() {
        cluster = format!("arn:aws:ecs:{region}:{account}:cluster/{cluster}");
    }
    let mut rb = Rb::new(&cfg.ecs.resource_attributes, ECS_ATTRS);
    rb.str("cloud.provider", "aws");
    rb.str("cloud.platform", "aws_ecs");
    rb.str("aws.ecs.task.arn", task_arn.clone());
    rb.str("aws.ecs.task.family", js(&task, "Family"));
    rb.str("aws.ecs.task.id", task_arn.rsplit('/').next().unwrap_or(""));
    rb.str("aws.ecs.task.revision", js(&task, "Revision"));
    rb.str("cloud.region", region);
    rb.str("cloud.account.id", account);
    rb.str("aws.ecs.cluster.arn", cluster);
    let az = js(&task, "AvailabilityZone");
    if !az.is_empty() {
        rb.str("cloud.availability_zone", az);
    }
    let lt = js(&task, "LaunchType").to_lowercase();
    if !lt.is_empty() {
        rb.str("aws.ecs.launchtype", lt);
    }
    if js(&container, "LogDriver") == "awslogs" {
        let opts = &container["LogOptions"];
        let group = js(opts, "awslogs-group");
        let stream = js(opts, "awslogs-stream");
        let lregion = {
            let r = js(opts, "awslogs-region");
            if r.is_empty() {
                region.to_string()
            } else {
                r
            }
        };
        rb.put(list("aws.log.group.names", vec![group.clone()]));
        rb.put(list("aws.log.stream.names", vec![stream.clone()]));
        rb.put(list(
            "aws.log.group.arns",
            vec![format!(
                "arn:aws:logs:{lregion}:{account}:log-group:{group}"
            )],
        ));
        rb.put(list(
            "aws.log.stream.arns",
            vec![format!(
                "arn:aws:logs:{lregion}:{account}:log-group:{group}:log-stream:{stream}"
            )],
        ));
    }
    Ok(rb.out)
}

// ------------------------------------------------------------------ docker

/// GET `path` from the Docker Engine API over its Unix socket.
pub async fn docker_get(socket: &str, path: &str, timeout: Duration) -> Result<Value, String> {
    let fut = async {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| format!("connect {socket}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("{socket}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = http::Request::get(path)
            .header("host", "docker")
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "GET {path}: status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(256)])
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {path}: invalid JSON: {e}"))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("GET {path}: no answer within {timeout:?}"))?
}

/// The engine's host name and OS type (`/info`), and this container's name and image
/// (`/containers/<hostname>/json`) — Go asks for the latter always, so outside a container
/// the detector fails, as Go's does.
pub async fn detect_docker(
    cfg: &Config,
    ep: &Endpoints,
    timeout: Duration,
) -> Result<Vec<KeyValue>, String> {
    let info = docker_get(&ep.docker_socket, "/info", timeout).await?;
    let os_type = js(&info, "OSType");
    let name = js(&info, "Name");
    let me = os_hostname();
    let container = docker_get(
        &ep.docker_socket,
        &format!("/containers/{me}/json"),
        timeout,
    )
    .await
    .map_err(|e| {
        format!("failed getting container info: failed to fetch container information: {e}")
    })?;
    let mut rb = Rb::new(&cfg.docker.resource_attributes, DOCKER_ATTRS);
    rb.str("host.name", name);
    rb.str("os.type", os_type);
    // the engine's name as it gives it (`/web`), as Go passes it on
    rb.str("container.name", js(&container, "Name"));
    rb.str("container.image.name", js(&container["Config"], "Image"));
    Ok(rb.out)
}
