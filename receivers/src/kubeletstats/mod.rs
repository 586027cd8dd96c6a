//! The `kubelet_stats` receiver (alias `kubeletstats`, Go's `receiver/kubeletstatsreceiver`):
//! every `collection_interval` it reads the kubelet's `/stats/summary` (and `/pods` when
//! the config needs the pods' specs) and records Go's node, pod, container and volume
//! metrics, one resource per node, system container, pod, container and volume.
//!
//! Go facts relied on (contrib `receiver/kubeletstatsreceiver` and `internal/kubelet` near
//! v0.155.0; the Go module proxy here does not serve it, so it is built from its source and
//! tested against a loopback server answering the kubelet's documented `/stats/summary` and
//! `/pods`):
//! - `auth_type` `tls` by default; `serviceAccount` sends the pod's token (read again at
//!   each request) and trusts the service account's CA; `none` reads the read-only port over
//!   HTTP; `kubeConfig` goes through the API server's proxy to the node named by `endpoint`.
//! - `endpoint`: `host:port` gets `https://` (`http://` with `none`); empty: this machine's
//!   name with port 10250 (10255 with `none`).
//! - `metric_groups` `[container, pod, node]` unless set (`volume` too when asked).
//! - Start times: each node's, pod's and container's `startTime`; volumes the receiver's.
//! - A field the kubelet leaves out is not recorded (never a zero).

pub mod metadata;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, SharedConsumer, Signal, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use transport::kube::{Api, SERVICE_ACCOUNT_DIR};
use transport::tls::TlsClientConfig;

use crate::hostmetrics::builder::{kv, resource_metrics_scoped, AttrValue, MetricsBuilder};
use crate::hostmetrics::config::{
    check_metrics, check_resource_attributes, resource_on, toggles, MetricToggles, ResourceToggles,
};
use crate::hostmetrics::scrapers::now_nanos;
use crate::scraping::{self, Rounds};

pub const META: Meta = Meta::new("kubelet_stats")
    .aliases(&[("kubeletstats", true)])
    .metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<KubeletStatsConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(KubeletStats::build(
            ctx,
            cfg,
            next,
            PathBuf::from(SERVICE_ACCOUNT_DIR),
        )?))
    })
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver";

const GROUPS: &[&str] = &["container", "pod", "node", "volume"];

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeletStatsConfig {
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// Each scrape's deadline; 0: 10s.
    pub timeout: GoDuration,
    pub endpoint: String,
    /// Go `confignet.DialerConfig`: accepted.
    pub dialer: Option<ConfigValue>,
    /// `tls`, `serviceAccount`, `none`, `kubeConfig`.
    pub auth_type: String,
    pub context: String,
    pub kube_api_qps: f64,
    pub kube_api_burst: i64,
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub insecure_skip_verify: bool,
    /// `container.id`, `k8s.volume.type`.
    pub extra_metadata_labels: Vec<String>,
    pub metric_groups: Vec<String>,
    /// The API server, for Go's node-capacity ratios and volume claims: accepted.
    pub k8s_api_config: Option<ConfigValue>,
    pub node: String,
    pub collect_all_network_interfaces: NetworkInterfaces,
    pub metrics: MetricToggles,
    pub resource_attributes: ResourceToggles,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkInterfaces {
    pub pod: bool,
    pub node: bool,
}

impl Default for KubeletStatsConfig {
    fn default() -> Self {
        KubeletStatsConfig {
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            endpoint: String::new(),
            dialer: None,
            auth_type: "tls".into(),
            context: String::new(),
            kube_api_qps: 0.0,
            kube_api_burst: 0,
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            insecure_skip_verify: false,
            extra_metadata_labels: Vec::new(),
            metric_groups: ["container", "pod", "node"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            k8s_api_config: None,
            node: String::new(),
            collect_all_network_interfaces: NetworkInterfaces::default(),
            metrics: MetricToggles::new(),
            resource_attributes: BTreeMap::new(),
        }
    }
}

impl Validate for KubeletStatsConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.node.is_empty() {
            // Go: the first one turned on
            for name in [
                "k8s.container.cpu.node.utilization",
                "k8s.pod.cpu.node.utilization",
                "k8s.container.memory.node.utilization",
                "k8s.pod.memory.node.utilization",
            ] {
                if self.metrics.get(name).and_then(|t| t.enabled) == Some(true) {
                    errors.push(ConfigError::new(
                        &["node"],
                        format!("for {name} node setting is required. Check the readme on how to set the required setting"),
                    ));
                    break;
                }
            }
        }
        if !matches!(
            self.auth_type.as_str(),
            "none" | "tls" | "serviceAccount" | "kubeConfig"
        ) {
            errors.push(ConfigError::new(
                &["auth_type"],
                format!("invalid authType for kubernetes: {}", self.auth_type),
            ));
        }
        if self.collection_interval.is_zero() {
            errors.push(ConfigError::new(
                &["collection_interval"],
                "requires positive value",
            ));
        }
        let mut seen = Vec::new();
        for l in &self.extra_metadata_labels {
            if !matches!(l.as_str(), "container.id" | "k8s.volume.type") {
                errors.push(ConfigError::new(
                    &["extra_metadata_labels"],
                    format!("label {l:?} is not supported"),
                ));
            } else if seen.contains(&l) {
                errors.push(ConfigError::new(
                    &["extra_metadata_labels"],
                    format!("duplicate metadata label: {l:?}"),
                ));
            }
            seen.push(l);
        }
        if self
            .metric_groups
            .iter()
            .any(|g| !GROUPS.contains(&g.as_str()))
        {
            errors.push(ConfigError::new(
                &["metric_groups"],
                "invalid entry in metric_groups",
            ));
        }
        check_metrics(&self.metrics, metadata::DEFS, &[], &[], &mut errors);
        check_resource_attributes(&self.resource_attributes, metadata::RESOURCE, &mut errors);
        errors
    }
}

impl ComponentConfig for KubeletStatsConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, t) in &self.metrics {
            if metadata::NOT_PRODUCED.contains(&name.as_str()) && t.enabled == Some(true) {
                out.push((
                    format!("metrics::{name}"),
                    "Ferrotel does not read the Node's capacity from the API".into(),
                ));
            }
        }
        if self.k8s_api_config.is_some() {
            out.push((
                "k8s_api_config".into(),
                "volume claims are not looked up in the API (k8s.volume.type stays persistentVolumeClaim)".into(),
            ));
        }
        out
    }

    /// Go fails the start on these.
    fn check_when_used(&self) -> Vec<ConfigError> {
        if self.auth_type == "tls"
            && (self.ca_file.is_empty() || self.cert_file.is_empty() || self.key_file.is_empty())
        {
            return vec![ConfigError::new(
                &["auth_type"],
                "auth_type tls needs ca_file, cert_file and key_file (the kubelet's CA and this client's certificate)",
            )];
        }
        Vec::new()
    }
}

/// The machine's name (Go `os.Hostname`).
fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The kubelet's address for `cfg`, and how to reach it.
fn kubelet(cfg: &KubeletStatsConfig, sa_dir: &std::path::Path) -> Result<Api, String> {
    if cfg.auth_type == "kubeConfig" {
        let api = Api::new("kubeConfig", &cfg.context, sa_dir)?;
        let node = if cfg.endpoint.is_empty() {
            hostname()
        } else {
            cfg.endpoint.clone()
        };
        return Ok(api.under(&format!("/api/v1/nodes/{node}/proxy")));
    }
    let secure = cfg.auth_type != "none";
    let base = if cfg.endpoint.is_empty() {
        let url = if secure {
            format!("https://{}:10250", hostname())
        } else {
            format!("http://{}:10255", hostname())
        };
        tracing::warn!(endpoint = %url, "Kubelet endpoint not defined, using default endpoint");
        url
    } else if cfg.endpoint.starts_with("http://") || cfg.endpoint.starts_with("https://") {
        cfg.endpoint.clone()
    } else if secure {
        format!("https://{}", cfg.endpoint)
    } else {
        format!("http://{}", cfg.endpoint)
    };
    let mut tls = TlsClientConfig {
        insecure_skip_verify: cfg.insecure_skip_verify,
        include_system_ca_certs_pool: true,
        ..Default::default()
    };
    let mut token = None;
    match cfg.auth_type.as_str() {
        "serviceAccount" => {
            tls.ca_file = if cfg.ca_file.is_empty() {
                sa_dir.join("ca.crt").to_string_lossy().into_owned()
            } else {
                cfg.ca_file.clone()
            };
            let t = sa_dir.join("token");
            std::fs::metadata(&t)
                .map_err(|e| format!("unable to read token file {}: {e}", t.display()))?;
            token = Some(t);
        }
        "tls" => {
            tls.ca_file = cfg.ca_file.clone();
            tls.cert_file = cfg.cert_file.clone();
            tls.key_file = cfg.key_file.clone();
        }
        _ => {}
    }
    Api::with(base, &tls, token)
}

// The kubelet's summary (`k8s.io/kubelet/pkg/apis/stats/v1alpha1`), the fields read.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Summary {
    node: NodeStats,
    pods: Vec<PodStats>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct NodeStats {
    node_name: String,
    start_time: Option<String>,
    cpu: Option<Cpu>,
    memory: Option<Memory>,
    fs: Option<Fs>,
    network: Option<Network>,
    system_containers: Vec<ContainerStats>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Cpu {
    usage_nano_cores: Option<u64>,
    usage_core_nano_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Memory {
    available_bytes: Option<u64>,
    usage_bytes: Option<u64>,
    working_set_bytes: Option<u64>,
    rss_bytes: Option<u64>,
    page_faults: Option<u64>,
    major_page_faults: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Fs {
    available_bytes: Option<u64>,
    capacity_bytes: Option<u64>,
    used_bytes: Option<u64>,
    inodes: Option<u64>,
    inodes_free: Option<u64>,
    inodes_used: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Interface {
    name: String,
    rx_bytes: Option<u64>,
    rx_errors: Option<u64>,
    tx_bytes: Option<u64>,
    tx_errors: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Network {
    #[serde(flatten)]
    default: Interface,
    interfaces: Vec<Interface>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodRef {
    name: String,
    namespace: String,
    uid: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodStats {
    pod_ref: PodRef,
    start_time: Option<String>,
    containers: Vec<ContainerStats>,
    cpu: Option<Cpu>,
    memory: Option<Memory>,
    network: Option<Network>,
    volume: Vec<VolumeStats>,
    #[serde(rename = "ephemeral-storage")]
    ephemeral_storage: Option<Fs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ContainerStats {
    name: String,
    start_time: Option<String>,
    cpu: Option<Cpu>,
    memory: Option<Memory>,
    rootfs: Option<Fs>,
    logs: Option<Fs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VolumeStats {
    name: String,
    #[serde(flatten)]
    fs: Fs,
}

// `/pods`: the specs' resources and volumes, the statuses' container ids.

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PodList {
    items: Vec<transport::kube::Pod>,
}

/// A Kubernetes quantity (`500m`, `2`, `128Mi`, `1G`, `1e3`) as a number (cores, bytes).
pub fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let suffixes: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (s, f) in suffixes {
        if let Some(n) = q.strip_suffix(s) {
            // `1E` is exa, `1e3` an exponent: a digit must come before the suffix
            if n.ends_with(|c: char| c.is_ascii_digit() || c == '.') {
                return n.parse::<f64>().ok().map(|v| v * f);
            }
        }
    }
    q.parse::<f64>().ok()
}

/// What `/pods` says of one pod.
#[derive(Default)]
struct PodMeta {
    /// Container name → id (the runtime's prefix removed).
    ids: HashMap<String, String>,
    /// Container name → (cpu limit, cpu request, memory limit, memory request).
    resources: Vec<(String, [Option<f64>; 4])>,
    /// Volume name → its type and attributes.
    volumes: HashMap<String, Vec<(&'static str, String)>>,
}

fn pod_meta(item: &transport::kube::Pod) -> PodMeta {
    let mut meta = PodMeta::default();
    for s in item
        .status
        .container_statuses
        .iter()
        .chain(&item.status.init_container_statuses)
    {
        let id = s
            .container_id
            .split_once("://")
            .map(|(_, id)| id)
            .unwrap_or(&s.container_id);
        meta.ids.insert(s.name.clone(), id.to_string());
    }
    for c in &item.spec.containers {
        let r = &c.resources;
        let q = |m: &BTreeMap<String, String>, k: &str| m.get(k).and_then(|v| quantity(v));
        meta.resources.push((
            c.name.clone(),
            [
                q(&r.limits, "cpu"),
                q(&r.requests, "cpu"),
                q(&r.limits, "memory"),
                q(&r.requests, "memory"),
            ],
        ));
    }
    for v in &item.spec.volumes {
        let name = v
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        let s = |o: &serde_json::Value, k: &str| {
            o.get(k)
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        let mut attrs: Vec<(&'static str, String)> = Vec::new();
        for (key, kind) in [
            ("persistentVolumeClaim", "persistentVolumeClaim"),
            ("configMap", "configMap"),
            ("downwardAPI", "downwardAPI"),
            ("emptyDir", "emptyDir"),
            ("secret", "secret"),
            ("hostPath", "hostPath"),
            ("awsElasticBlockStore", "awsElasticBlockStore"),
            ("gcePersistentDisk", "gcePersistentDisk"),
            ("glusterfs", "glusterfs"),
        ] {
            let Some(o) = v.get(key) else { continue };
            attrs.push(("k8s.volume.type", kind.to_string()));
            match key {
                "persistentVolumeClaim" => {
                    attrs.push(("k8s.persistentvolumeclaim.name", s(o, "claimName")))
                }
                "awsElasticBlockStore" => {
                    attrs.push(("aws.volume.id", s(o, "volumeID")));
                    attrs.push(("fs.type", s(o, "fsType")));
                    attrs.push(("partition", s(o, "partition")));
                }
                "gcePersistentDisk" => {
                    attrs.push(("gce.pd.name", s(o, "pdName")));
                    attrs.push(("fs.type", s(o, "fsType")));
                    attrs.push(("partition", s(o, "partition")));
                }
                "glusterfs" => {
                    attrs.push(("glusterfs.endpoints.name", s(o, "endpoints")));
                    attrs.push(("glusterfs.path", s(o, "path")));
                }
                _ => {}
            }
            break;
        }
        meta.volumes.insert(name, attrs);
    }
    meta
}

fn pod_metas(list: PodList) -> HashMap<String, PodMeta> {
    list.items
        .iter()
        .map(|p| (p.metadata.uid.clone(), pod_meta(p)))
        .collect()
}

/// RFC 3339 as nanoseconds since the epoch.
fn nanos(t: &Option<String>) -> Option<u64> {
    let ts: jiff::Timestamp = t.as_deref()?.parse().ok()?;
    u64::try_from(ts.as_nanosecond()).ok()
}

/// A built receiver.
pub struct KubeletStats {
    id: ComponentId,
    cfg: KubeletStatsConfig,
    api: Api,
    next: SharedConsumer,
    obs: ReceiverObs,
    /// The receiver's start, the volumes' start time.
    start: u64,
    /// Whether a round reads `/pods` too (`extra_metadata_labels`, or a limit or request
    /// ratio turned on).
    needs_pods: bool,
}

const LIMIT_METRICS: &[&str] = &[
    "k8s.container.cpu_limit_utilization",
    "k8s.container.cpu_request_utilization",
    "k8s.container.memory_limit_utilization",
    "k8s.container.memory_request_utilization",
    "k8s.pod.cpu_limit_utilization",
    "k8s.pod.cpu_request_utilization",
    "k8s.pod.memory_limit_utilization",
    "k8s.pod.memory_request_utilization",
];

impl KubeletStats {
    pub fn build(
        ctx: BuildContext,
        cfg: &KubeletStatsConfig,
        next: SignalConsumers,
        sa_dir: PathBuf,
    ) -> Result<KubeletStats, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the kubelet_stats receiver produces metrics only"))?;
        let api = kubelet(cfg, &sa_dir).map_err(|e| BuildError::new(format!("{}: {e}", ctx.id)))?;
        Ok(KubeletStats::with_api(ctx, cfg, next, api))
    }

    fn with_api(
        ctx: BuildContext,
        cfg: &KubeletStatsConfig,
        next: SharedConsumer,
        api: Api,
    ) -> KubeletStats {
        KubeletStats {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            cfg: cfg.clone(),
            api,
            next,
            start: now_nanos(),
            needs_pods: !cfg.extra_metadata_labels.is_empty() || {
                let mb = MetricsBuilder::new(metadata::DEFS, &toggles(&cfg.metrics));
                LIMIT_METRICS.iter().any(|m| mb.enabled(m))
            },
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let resp = self
            .api
            .get(path)?
            .header("Content-Type", "application/json")
            .send()
            .await
            .map_err(|e| transport::http::error_chain(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport::http::error_chain(&e))?;
        if !status.is_success() {
            return Err(format!(
                "kubelet request GET {path} failed - {:?}, response: {:?}",
                status.to_string(),
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{path}: {e}"))
    }

    /// One round: the node, its system containers, then each pod with its containers and
    /// volumes.
    async fn scrape(&self) -> Result<(Vec<ResourceMetrics>, Vec<String>), String> {
        let summary: Summary = self
            .get("/stats/summary")
            .await
            .map_err(|e| format!("call to /stats/summary endpoint failed: {e}"))?;
        let pods: HashMap<String, PodMeta> = if self.needs_pods {
            let list: PodList = self
                .get("/pods")
                .await
                .map_err(|e| format!("call to /pods endpoint failed: {e}"))?;
            pod_metas(list)
        } else {
            HashMap::new()
        };
        let convert = Convert {
            cfg: &self.cfg,
            start: self.start,
        };
        Ok(convert.metrics(&summary, &pods, now_nanos()))
    }
}

/// The turning of the kubelet's answers into metrics.
pub struct Convert<'a> {
    pub cfg: &'a KubeletStatsConfig,
    /// The receiver's start, the volumes' start time.
    pub start: u64,
}

impl Convert<'_> {
    fn group(&self, g: &str) -> bool {
        self.cfg.metric_groups.iter().any(|x| x == g)
    }

    fn resource_on(&self, name: &str) -> bool {
        resource_on(&self.cfg.resource_attributes, metadata::RESOURCE, name)
    }

    fn emit(
        &self,
        mb: &mut MetricsBuilder,
        pairs: &[(&str, String)],
        out: &mut Vec<ResourceMetrics>,
    ) {
        let metrics = mb.take_metrics();
        if metrics.is_empty() {
            return;
        }
        let attrs: Vec<KeyValue> = pairs
            .iter()
            .filter(|(k, _)| self.resource_on(k))
            .map(|(k, v)| kv(k, AttrValue::Str(v.clone())))
            .collect();
        out.push(resource_metrics_scoped(SCOPE, attrs, metrics));
    }

    /// The bodies of `/stats/summary` and `/pods` (when read) as one round's resources and
    /// its warnings; what does not decode is an error.
    pub fn from_bodies(
        &self,
        summary: &[u8],
        pods: Option<&[u8]>,
        now: u64,
    ) -> Result<(Vec<ResourceMetrics>, Vec<String>), String> {
        let summary: Summary = serde_json::from_slice(summary).map_err(|e| e.to_string())?;
        let pods = match pods {
            Some(b) => pod_metas(serde_json::from_slice(b).map_err(|e| e.to_string())?),
            None => HashMap::new(),
        };
        Ok(self.metrics(&summary, &pods, now))
    }

    /// One round: the node, its system containers, then each pod with its containers and
    /// volumes.
    fn metrics(
        &self,
        summary: &Summary,
        pods: &HashMap<String, PodMeta>,
        now: u64,
    ) -> (Vec<ResourceMetrics>, Vec<String>) {
        let mut mb = MetricsBuilder::new(metadata::DEFS, &toggles(&self.cfg.metrics));
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        let node = &summary.node;
        let since = |t: &Option<String>| nanos(t).map(|s| now.saturating_sub(s) / 1_000_000_000);
        if self.group("node") {
            mb.begin(nanos(&node.start_time).unwrap_or(self.start), now);
            record_cpu(&mut mb, "k8s.node", &node.cpu);
            record_memory(&mut mb, "k8s.node", &node.memory);
            record_fs(&mut mb, "k8s.node.filesystem", &node.fs);
            self.record_network(
                &mut mb,
                "k8s.node",
                &node.network,
                self.cfg.collect_all_network_interfaces.node,
            );
            if let Some(s) = since(&node.start_time) {
                mb.record("k8s.node.uptime", s as f64, &[]);
            }
            self.emit(
                &mut mb,
                &[("k8s.node.name", node.node_name.clone())],
                &mut out,
            );
            for sc in &node.system_containers {
                mb.begin(nanos(&sc.start_time).unwrap_or(self.start), now);
                let p = "k8s.node.system_container";
                if let Some(cpu) = &sc.cpu {
                    opt(
                        &mut mb,
                        &format!("{p}.cpu.usage"),
                        cpu.usage_nano_cores.map(|n| n as f64 / 1e9),
                    );
                    opt(
                        &mut mb,
                        &format!("{p}.cpu.time"),
                        cpu.usage_core_nano_seconds.map(|n| n as f64 / 1e9),
                    );
                }
                if let Some(m) = &sc.memory {
                    opt(
                        &mut mb,
                        &format!("{p}.memory.usage"),
                        m.usage_bytes.map(|n| n as f64),
                    );
                    opt(
                        &mut mb,
                        &format!("{p}.memory.working_set"),
                        m.working_set_bytes.map(|n| n as f64),
                    );
                }
                self.emit(
                    &mut mb,
                    &[
                        ("k8s.node.name", node.node_name.clone()),
                        ("k8s.node.system_container.name", sc.name.clone()),
                    ],
                    &mut out,
                );
            }
        }
        for pod in &summary.pods {
            let r = &pod.pod_ref;
            let pod_attrs = vec![
                ("k8s.pod.uid", r.uid.clone()),
                ("k8s.pod.name", r.name.clone()),
                ("k8s.namespace.name", r.namespace.clone()),
            ];
            let meta = pods.get(&r.uid);
            if self.group("pod") {
                mb.begin(nanos(&pod.start_time).unwrap_or(self.start), now);
                record_cpu(&mut mb, "k8s.pod", &pod.cpu);
                record_memory(&mut mb, "k8s.pod", &pod.memory);
                record_fs(&mut mb, "k8s.pod.filesystem", &pod.ephemeral_storage);
                self.record_network(
                    &mut mb,
                    "k8s.pod",
                    &pod.network,
                    self.cfg.collect_all_network_interfaces.pod,
                );
                if let Some(s) = since(&pod.start_time) {
                    mb.record("k8s.pod.uptime", s as f64, &[]);
                }
                if let Some(meta) = meta {
                    // the pod's total of its containers' limits and requests; none when
                    // one container has none
                    let cores = pod
                        .cpu
                        .as_ref()
                        .and_then(|c| c.usage_nano_cores)
                        .map(|n| n as f64 / 1e9);
                    let bytes = pod
                        .memory
                        .as_ref()
                        .and_then(|m| m.usage_bytes)
                        .map(|n| n as f64);
                    for (i, (name, usage)) in [
                        ("k8s.pod.cpu_limit_utilization", cores),
                        ("k8s.pod.cpu_request_utilization", cores),
                        ("k8s.pod.memory_limit_utilization", bytes),
                        ("k8s.pod.memory_request_utilization", bytes),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        let total: Option<f64> = meta.resources.iter().map(|(_, r)| r[i]).sum();
                        if let (Some(u), Some(t)) = (usage, total) {
                            if t > 0.0 {
                                mb.record(name, u / t, &[]);
                            }
                        }
                    }
                }
                self.emit(&mut mb, &pod_attrs, &mut out);
            }
            if self.group("container") {
                for c in &pod.containers {
                    let mut attrs = pod_attrs.clone();
                    attrs.push(("k8s.container.name", c.name.clone()));
                    if self
                        .cfg
                        .extra_metadata_labels
                        .iter()
                        .any(|l| l == "container.id")
                    {
                        match meta.and_then(|m| m.ids.get(&c.name)) {
                            Some(id) if !id.is_empty() => attrs.push(("container.id", id.clone())),
                            Some(_) => {
                                warnings.push(format!("failed to fetch container metrics: pod {:?} with container {:?} has an empty containerID", r.uid, c.name));
                                continue;
                            }
                            None => {
                                warnings.push(format!("failed to fetch container metrics: pod {:?} with container {:?} not found in the fetched metadata", r.uid, c.name));
                                continue;
                            }
                        }
                    }
                    mb.begin(nanos(&c.start_time).unwrap_or(self.start), now);
                    record_cpu(&mut mb, "container", &c.cpu);
                    record_memory(&mut mb, "container", &c.memory);
                    record_fs(&mut mb, "container.filesystem", &c.rootfs);
                    if let Some(s) = since(&c.start_time) {
                        mb.record("container.uptime", s as f64, &[]);
                    }
                    for (fs, part) in [(&c.rootfs, "rootfs"), (&c.logs, "logs")] {
                        if let Some(used) = fs.as_ref().and_then(|f| f.used_bytes) {
                            mb.record(
                                "k8s.container.ephemeral_storage.usage",
                                used as f64,
                                &[part],
                            );
                        }
                    }
                    if let Some(res) =
                        meta.and_then(|m| m.resources.iter().find(|(n, _)| n == &c.name))
                    {
                        let cores = c
                            .cpu
                            .as_ref()
                            .and_then(|c| c.usage_nano_cores)
                            .map(|n| n as f64 / 1e9);
                        let bytes = c
                            .memory
                            .as_ref()
                            .and_then(|m| m.usage_bytes)
                            .map(|n| n as f64);
                        for (i, (name, usage)) in [
                            ("k8s.container.cpu_limit_utilization", cores),
                            ("k8s.container.cpu_request_utilization", cores),
                            ("k8s.container.memory_limit_utilization", bytes),
                            ("k8s.container.memory_request_utilization", bytes),
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            if let (Some(u), Some(t)) = (usage, res.1[i]) {
                                if t > 0.0 {
                                    mb.record(name, u / t, &[]);
                                }
                            }
                        }
                    }
                    self.emit(&mut mb, &attrs, &mut out);
                }
            }
            if self.group("volume") {
                for v in &pod.volume {
                    let mut attrs = pod_attrs.clone();
                    attrs.push(("k8s.volume.name", v.name.clone()));
                    if self
                        .cfg
                        .extra_metadata_labels
                        .iter()
                        .any(|l| l == "k8s.volume.type")
                    {
                        match meta.and_then(|m| m.volumes.get(&v.name)) {
                            Some(extra) => attrs.extend(extra.iter().cloned()),
                            None => {
                                warnings.push(format!("Failed to gather additional volume metadata. Skipping metric collection: pod {:?} with volume {:?} not found in the fetched metadata", r.uid, v.name));
                                continue;
                            }
                        }
                    }
                    mb.begin(self.start, now);
                    let f = &v.fs;
                    opt(
                        &mut mb,
                        "k8s.volume.available",
                        f.available_bytes.map(|n| n as f64),
                    );
                    opt(
                        &mut mb,
                        "k8s.volume.capacity",
                        f.capacity_bytes.map(|n| n as f64),
                    );
                    opt(&mut mb, "k8s.volume.inodes", f.inodes.map(|n| n as f64));
                    opt(
                        &mut mb,
                        "k8s.volume.inodes.free",
                        f.inodes_free.map(|n| n as f64),
                    );
                    opt(
                        &mut mb,
                        "k8s.volume.inodes.used",
                        f.inodes_used.map(|n| n as f64),
                    );
                    opt(
                        &mut mb,
                        "k8s.pod.volume.usage",
                        f.used_bytes.map(|n| n as f64),
                    );
                    self.emit(&mut mb, &attrs, &mut out);
                }
            }
        }
        (out, warnings)
    }

    fn record_network(
        &self,
        mb: &mut MetricsBuilder,
        prefix: &str,
        net: &Option<Network>,
        all: bool,
    ) {
        let Some(net) = net else { return };
        let ifaces: Vec<&Interface> = if all {
            net.interfaces.iter().collect()
        } else {
            vec![&net.default]
        };
        for i in ifaces {
            let io = format!("{prefix}.network.io");
            let errors = format!("{prefix}.network.errors");
            for (metric, v, dir) in [
                (&io, i.rx_bytes, "receive"),
                (&io, i.tx_bytes, "transmit"),
                (&errors, i.rx_errors, "receive"),
                (&errors, i.tx_errors, "transmit"),
            ] {
                if let Some(v) = v {
                    mb.record(metric, v as f64, &[&i.name, dir]);
                }
            }
        }
    }
}

fn opt(mb: &mut MetricsBuilder, name: &str, v: Option<f64>) {
    if let Some(v) = v {
        mb.record(name, v, &[]);
    }
}

fn record_cpu(mb: &mut MetricsBuilder, prefix: &str, cpu: &Option<Cpu>) {
    let Some(cpu) = cpu else { return };
    opt(
        mb,
        &format!("{prefix}.cpu.usage"),
        cpu.usage_nano_cores.map(|n| n as f64 / 1e9),
    );
    opt(
        mb,
        &format!("{prefix}.cpu.time"),
        cpu.usage_core_nano_seconds.map(|n| n as f64 / 1e9),
    );
}

fn record_memory(mb: &mut MetricsBuilder, prefix: &str, m: &Option<Memory>) {
    let Some(m) = m else { return };
    for (name, v) in [
        ("available", m.available_bytes),
        ("usage", m.usage_bytes),
        ("rss", m.rss_bytes),
        ("working_set", m.working_set_bytes),
        ("page_faults", m.page_faults),
        ("major_page_faults", m.major_page_faults),
    ] {
        opt(mb, &format!("{prefix}.memory.{name}"), v.map(|n| n as f64));
    }
}

fn record_fs(mb: &mut MetricsBuilder, prefix: &str, fs: &Option<Fs>) {
    let Some(fs) = fs else { return };
    opt(
        mb,
        &format!("{prefix}.available"),
        fs.available_bytes.map(|n| n as f64),
    );
    opt(
        mb,
        &format!("{prefix}.capacity"),
        fs.capacity_bytes.map(|n| n as f64),
    );
    opt(
        mb,
        &format!("{prefix}.usage"),
        fs.used_bytes.map(|n| n as f64),
    );
}

#[async_trait]
impl Receiver for KubeletStats {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let cfg = &self.cfg;
        let deadline = match cfg.timeout.get() {
            t if t.is_zero() => Duration::from_secs(10),
            t => t,
        };
        let mut rounds = Rounds::new(cfg.initial_delay.get(), cfg.collection_interval.get());
        while rounds.next(&shutdown).await {
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(deadline, self.scrape()) => {
                    r.unwrap_or_else(|_| Err(format!("no answer within {}", GoDuration(deadline))))
                }
            };
            match result {
                Ok((resources, warnings)) => {
                    for w in warnings {
                        tracing::warn!(receiver = %self.id, "{w}");
                    }
                    scraping::send(&self.id, &self.next, &self.obs, resources).await;
                }
                Err(e) => {
                    tracing::error!(receiver = %self.id, error = %e, "Error scraping the kubelet; trying again at the next interval.");
                }
            }
        }
        Ok(())
    }
}
