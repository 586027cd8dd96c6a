//! `k8s_attributes` (alias `k8sattributes`): Go's `processor/k8sattributesprocessor`. It
//! watches the cluster's pods through the Kubernetes API and adds the metadata of the pod a
//! resource came from: found by the association rules (a resource attribute such as
//! `k8s.pod.ip` or `k8s.pod.uid`, or the address of the connection the data came on), as
//! Go does. Attributes already on the resource are kept.
//!
//! Go facts relied on (contrib `processor/k8sattributesprocessor` and `internal/k8sconfig`
//! near v0.155.0; the Go module proxy here does not serve it, so it is built from its source
//! and tested against a loopback server speaking the Kubernetes API's list and watch):
//! - Defaults: `auth_type: serviceAccount`, `extract.metadata` = `k8s.namespace.name`,
//!   `k8s.pod.name`, `k8s.pod.uid`, `k8s.pod.start_time`, `k8s.deployment.name`,
//!   `k8s.node.name`, `container.image.name`, `container.image.tag`; pods named
//!   `jaeger-agent`/`jaeger-collector` excluded; `wait_for_metadata_timeout` 10s.
//! - With no `pod_association`, a pod is found by the resource's `k8s.pod.ip`, `ip`, the
//!   connection's address, or a `host.name` that is an IP, in that order. With rules, the
//!   first rule whose sources the resource all has decides, found or not.
//! - `k8s.pod.ip` is set from the connection only in `passthrough` or when extracted.
//! - Label and annotation attributes: `k8s.pod.labels.<key>` (the legacy plural of Go's
//!   default gates) unless `tag_name` says otherwise; `key_regex` matches whole keys.
//! - A deleted pod is still found for `pod_delete_grace_period`.
//! - An API server that cannot be reached does not stop the start (unless
//!   `wait_for_metadata`); missing in-cluster settings do.

mod config;
pub mod pods;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::{
    async_trait, declare, Batch, BuildError, CancellationToken, ComponentConfig, ConsumeError,
    Consumer, Meta, Processor, ProcessorFactory, SharedConsumer, Signal, Stability,
};
use regex::Regex;

pub use config::Config;
use pods::{part, Cache, FieldRule, Pod, PodInfo, Value};
use transport::kube::{self, Api, Event, Meta as ObjMeta, Watch};

pub const META: Meta = Meta::new("k8s_attributes")
    .aliases(&[("k8sattributes", true)])
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |_ctx, cfg, signal, next| {
        Ok(Arc::new(K8sAttributes::new(
            cfg,
            signal,
            next,
            PathBuf::from(kube::SERVICE_ACCOUNT_DIR),
        )?))
    })
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.kube_api_qps != 0.0 || self.kube_api_burst != 0 {
            out.push((
                "kube_api_qps".into(),
                "the API is read with one list and one watch per kind; no request rate to limit"
                    .into(),
            ));
        }
        out
    }

    /// Go fails the start on these: said before anything starts.
    fn check_when_used(&self) -> Vec<pipeline_api::config::ConfigError> {
        if self.auth_type == "tls" && !self.passthrough {
            return vec![pipeline_api::config::ConfigError::new(
                &["auth_type"],
                "auth_type tls is not supported (Go's processor has no settings for it either); use serviceAccount or kubeConfig",
            )];
        }
        Vec::new()
    }
}

/// The config, compiled.
struct Settings {
    cfg: Config,
    rules: Vec<FieldRule>,
    exclude: Vec<Regex>,
    /// The association rules as (from, name) lists.
    associations: Vec<Vec<(String, String)>>,
    metadata: HashSet<String>,
    sa_dir: PathBuf,
}

/// One `k8s_attributes` instance (one per pipeline).
pub struct K8sAttributes {
    settings: Arc<Settings>,
    cache: Arc<RwLock<Cache>>,
    stop: CancellationToken,
    started: Mutex<bool>,
    signal: Signal,
    next: SharedConsumer,
}

impl K8sAttributes {
    pub fn new(
        cfg: &Config,
        signal: Signal,
        next: SharedConsumer,
        sa_dir: PathBuf,
    ) -> Result<K8sAttributes, BuildError> {
        let exclude = cfg
            .exclude
            .pods
            .iter()
            .map(|p| Regex::new(&p.name).map_err(|e| BuildError::new(format!("exclude: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let exclude = if exclude.is_empty() {
            config::Exclude::default()
                .pods
                .iter()
                .map(|p| Regex::new(&p.name).unwrap())
                .collect()
        } else {
            exclude
        };
        let associations = cfg
            .pod_association
            .iter()
            .map(|a| {
                a.sources
                    .iter()
                    .map(|s| {
                        let name = if s.from == "connection" {
                            String::new()
                        } else {
                            s.name.clone()
                        };
                        (s.from.clone(), name)
                    })
                    .collect()
            })
            .collect();
        Ok(K8sAttributes {
            settings: Arc::new(Settings {
                rules: FieldRule::compile(cfg),
                exclude,
                associations,
                metadata: cfg.extract.metadata.iter().cloned().collect(),
                cfg: cfg.clone(),
                sa_dir,
            }),
            cache: Arc::new(RwLock::new(Cache::default())),
            stop: CancellationToken::new(),
            started: Mutex::new(false),
            signal,
            next,
        })
    }

    /// Start watching with `api` (tests give a loopback server).
    pub async fn start_with(&self, api: Api) -> Result<(), BuildError> {
        let s = &self.settings;
        let cfg = &s.cfg;
        let api = Arc::new(api);
        let resync = cfg.watch_sync_period.get();
        let ns_path = |group: &str, kind: &str| {
            if cfg.filter.namespace.is_empty() {
                format!("{group}/{kind}")
            } else {
                format!("{group}/namespaces/{}/{kind}", cfg.filter.namespace)
            }
        };
        // pods: the selectors of `filter`
        let mut fields: Vec<String> = cfg
            .filter
            .fields
            .iter()
            .map(|f| {
                let op = if f.op == "not-equals" { "!=" } else { "=" };
                format!("{}{op}{}", f.key, f.value)
            })
            .collect();
        let node = cfg.node();
        if !node.is_empty() {
            fields.push(format!("spec.nodeName={node}"));
        }
        let labels: Vec<String> = cfg
            .filter
            .labels
            .iter()
            .map(|l| match l.op.as_str() {
                "not-equals" => format!("{}!={}", l.key, l.value),
                "exists" => l.key.clone(),
                "does-not-exist" => format!("!{}", l.key),
                _ => format!("{}={}", l.key, l.value),
            })
            .collect();
        let (synced_tx, mut synced_rx) = tokio::sync::watch::channel(false);
        {
            let cache = self.cache.clone();
            let settings = self.settings.clone();
            let watch = Watch {
                path: ns_path("/api/v1", "pods"),
                label_selector: labels.join(","),
                field_selector: fields.join(","),
                resync,
            };
            let grace = cfg.pod_delete_grace_period.get();
            tokio::spawn(kube::reflect::<Pod>(
                api.clone(),
                watch,
                move |ev| {
                    let s = &settings;
                    let info = |p: &Pod| PodInfo::from_pod(p, &s.cfg, &s.rules, &s.exclude);
                    let mut c = cache.write().unwrap_or_else(|e| e.into_inner());
                    match ev {
                        Event::Replace(pods) => {
                            c.replace_pods(pods.iter().map(info).collect(), &s.associations, grace)
                        }
                        Event::Upsert(p) => c.upsert_pod(info(&p), &s.associations),
                        Event::Delete(p) => c.delete_pod(&p.metadata.uid, grace),
                    }
                },
                move || {
                    let _ = synced_tx.send(true);
                },
                self.stop.clone(),
            ));
        }
        // the deleted pods' clock, as Go's every 30 s
        {
            let cache = self.cache.clone();
            let stop = self.stop.clone();
            let every = Duration::from_secs(30).min(
                cfg.pod_delete_grace_period
                    .get()
                    .max(Duration::from_millis(100)),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    cache
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .expire(Instant::now());
                }
            });
        }
        // the other kinds, metadata only, when the config needs them
        let wants = |m: &str| s.metadata.contains(m);
        if cfg.rules_from("namespace") || wants("k8s.cluster.uid") {
            let field_selector = if cfg.rules_from("namespace") {
                String::new()
            } else {
                "metadata.name=kube-system".into()
            };
            self.keep(
                "/api/v1/namespaces".into(),
                field_selector,
                resync,
                api.clone(),
                Kind::Namespace,
            );
        }
        if cfg.rules_from("node") || wants("k8s.node.uid") {
            let field_selector = if node.is_empty() {
                String::new()
            } else {
                format!("metadata.name={node}")
            };
            self.keep(
                "/api/v1/nodes".into(),
                field_selector,
                resync,
                api.clone(),
                Kind::Node,
            );
        }
        if (wants("k8s.deployment.name") && !cfg.extract.deployment_name_from_replicaset)
            || wants("k8s.deployment.uid")
            || cfg.rules_from("deployment")
        {
            self.keep(
                ns_path("/apis/apps/v1", "replicasets"),
                String::new(),
                resync,
                api.clone(),
                Kind::Workload,
            );
        }
        for (from, group, kind) in [
            ("deployment", "/apis/apps/v1", "deployments"),
            ("statefulset", "/apis/apps/v1", "statefulsets"),
            ("daemonset", "/apis/apps/v1", "daemonsets"),
        ] {
            if cfg.rules_from(from) {
                self.keep(
                    ns_path(group, kind),
                    String::new(),
                    resync,
                    api.clone(),
                    Kind::Workload,
                );
            }
        }
        if cfg.rules_from("job") || wants("k8s.cronjob.uid") {
            self.keep(
                ns_path("/apis/batch/v1", "jobs"),
                String::new(),
                resync,
                api.clone(),
                Kind::Workload,
            );
        }
        if cfg.wait_for_metadata {
            let timeout = cfg.wait_for_metadata_timeout.get();
            let waited = tokio::time::timeout(timeout, synced_rx.wait_for(|s| *s)).await;
            if !matches!(waited, Ok(Ok(_))) {
                self.stop.cancel();
                return Err(BuildError::new("failed to wait for caches to sync"));
            }
        }
        Ok(())
    }

    /// Keep a cache of one other kind.
    fn keep(
        &self,
        path: String,
        field_selector: String,
        resync: Duration,
        api: Arc<Api>,
        kind: Kind,
    ) {
        let cache = self.cache.clone();
        let watch = Watch {
            path,
            label_selector: String::new(),
            field_selector,
            resync,
        };
        tokio::spawn(kube::reflect::<ObjMeta>(
            api,
            watch,
            move |ev| {
                let mut c = cache.write().unwrap_or_else(|e| e.into_inner());
                let map = match kind {
                    Kind::Namespace => &mut c.namespaces,
                    Kind::Node => &mut c.nodes,
                    Kind::Workload => &mut c.workloads,
                };
                let key = |m: &kube::ObjectMeta| match kind {
                    Kind::Namespace | Kind::Node => m.name.clone(),
                    Kind::Workload => m.uid.clone(),
                };
                match ev {
                    Event::Replace(items) => {
                        // one map holds several workload kinds: keep the others' entries
                        if !matches!(kind, Kind::Workload) {
                            map.clear();
                        }
                        for o in items {
                            map.insert(key(&o.metadata), o.metadata);
                        }
                    }
                    Event::Upsert(o) => {
                        map.insert(key(&o.metadata), o.metadata);
                    }
                    Event::Delete(o) => {
                        map.remove(&key(&o.metadata));
                    }
                }
            },
            || {},
            self.stop.clone(),
        ));
    }

    /// Add what is known to one resource, the data having come from `client_ip`.
    fn process_resource(&self, res: &mut Resource, client_ip: Option<&str>, cache: &Cache) {
        let s = &self.settings;
        let get = |res: &Resource, name: &str| -> Option<String> {
            res.attributes
                .iter()
                .find(|kv| kv.key == name)
                .and_then(
                    |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(v)) if !v.is_empty() => Some(v.clone()),
                        _ => None,
                    },
                )
        };
        let is_ip = |v: &str| v.parse::<std::net::IpAddr>().is_ok();
        // the identifier: its key, and the connection-typed value in it
        let mut key: Option<String> = None;
        let mut connection_value: Option<String> = None;
        if s.associations.is_empty() {
            let found = get(res, "k8s.pod.ip")
                .or_else(|| get(res, "ip"))
                .or_else(|| client_ip.map(str::to_string))
                .or_else(|| get(res, "host.name").filter(|v| is_ip(v)));
            if let Some(v) = found {
                key = Some(part("connection", "", &v));
                connection_value = Some(v);
            }
        } else {
            for rule in &s.associations {
                let mut parts = Vec::new();
                let mut conn = None;
                for (from, name) in rule {
                    let v = if from == "connection" {
                        client_ip.map(str::to_string)
                    } else if name == "host.name" {
                        get(res, name).filter(|v| is_ip(v))
                    } else {
                        get(res, name)
                    };
                    let Some(v) = v else {
                        parts.clear();
                        break;
                    };
                    if from == "connection" {
                        conn = Some(v.clone());
                    }
                    parts.push(part(from, name, &v));
                }
                if !parts.is_empty() {
                    key = Some(parts.join("\u{1}"));
                    connection_value = conn;
                    break;
                }
            }
        }
        if let Some(ip) = &connection_value {
            if s.cfg.passthrough || s.metadata.contains("k8s.pod.ip") {
                set_if_absent(res, "k8s.pod.ip", &Value::Str(ip.clone()));
            }
        }
        if s.cfg.passthrough {
            return;
        }
        let pod = key
            .as_ref()
            .and_then(|k| cache.pods.get(k))
            .filter(|p| !p.ignore)
            .cloned();
        let mut namespace = get(res, "k8s.namespace.name");
        let mut node = get(res, "k8s.node.name");
        let mut owners: Vec<(String, String)> = ["deployment", "statefulset", "daemonset", "job"]
            .iter()
            .filter_map(|k| get(res, &format!("k8s.{k}.uid")).map(|u| (k.to_string(), u)))
            .collect();
        if let Some(pod) = &pod {
            for (k, v) in &pod.attributes {
                set_if_absent(res, k, v);
            }
            self.derived(res, pod, cache);
            self.container(res, pod);
            namespace = Some(pod.namespace.clone());
            node = Some(pod.node.clone());
            owners = self.pod_owners(pod, cache);
        }
        let mut extra = Vec::new();
        if let Some(ns) = namespace.and_then(|n| cache.namespaces.get(&n)) {
            for r in s.rules.iter().filter(|r| r.from == "namespace") {
                r.extract(ns, &mut extra);
            }
        }
        if let Some(n) = node.and_then(|n| cache.nodes.get(&n)) {
            for r in s.rules.iter().filter(|r| r.from == "node") {
                r.extract(n, &mut extra);
            }
            if s.metadata.contains("k8s.node.uid") {
                extra.push(("k8s.node.uid".into(), Value::Str(n.uid.clone())));
            }
        }
        for (kind, uid) in owners {
            if let Some(o) = cache.workloads.get(&uid) {
                for r in s.rules.iter().filter(|r| r.from == kind) {
                    r.extract(o, &mut extra);
                }
            }
        }
        for (k, v) in &extra {
            set_if_absent(res, k, v);
        }
    }

    /// The owners of a pod for workload label rules: (kind, uid).
    fn pod_owners(&self, pod: &PodInfo, cache: &Cache) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some((_, rs_uid)) = pod.owners.get("ReplicaSet") {
            if let Some(d) = cache
                .workloads
                .get(rs_uid)
                .and_then(|rs| rs.owner_references.iter().find(|o| o.kind == "Deployment"))
            {
                out.push(("deployment".into(), d.uid.clone()));
            }
        }
        for (kind, attr) in [
            ("StatefulSet", "statefulset"),
            ("DaemonSet", "daemonset"),
            ("Job", "job"),
        ] {
            if let Some((_, uid)) = pod.owners.get(kind) {
                out.push((attr.into(), uid.clone()));
            }
        }
        out
    }

    /// The attributes that depend on other objects: deployment, cronjob, cluster, service.
    fn derived(&self, res: &mut Resource, pod: &PodInfo, cache: &Cache) {
        let s = &self.settings;
        let wants = |m: &str| s.metadata.contains(m);
        let mut deployment = None;
        if let Some((rs_name, rs_uid)) = pod.owners.get("ReplicaSet") {
            let from_cache = cache.workloads.get(rs_uid).and_then(|rs| {
                rs.owner_references
                    .iter()
                    .find(|o| o.kind == "Deployment" && o.controller.unwrap_or(false))
            });
            match from_cache {
                Some(d) => {
                    deployment = Some(d.name.clone());
                    if wants("k8s.deployment.uid") {
                        set_if_absent(res, "k8s.deployment.uid", &Value::Str(d.uid.clone()));
                    }
                }
                None if !pod.template_hash.is_empty() => {
                    deployment = rs_name
                        .strip_suffix(&format!("-{}", pod.template_hash))
                        .map(str::to_string);
                }
                None => {}
            }
        }
        if let (Some(d), true) = (&deployment, wants("k8s.deployment.name")) {
            set_if_absent(res, "k8s.deployment.name", &Value::Str(d.clone()));
        }
        let mut cronjob = None;
        if let Some((job_name, job_uid)) = pod.owners.get("Job") {
            match cache.workloads.get(job_uid).and_then(|j| {
                j.owner_references
                    .iter()
                    .find(|o| o.kind == "CronJob" && o.controller.unwrap_or(false))
            }) {
                Some(c) => {
                    cronjob = Some(c.name.clone());
                    if wants("k8s.cronjob.uid") {
                        set_if_absent(res, "k8s.cronjob.uid", &Value::Str(c.uid.clone()));
                    }
                }
                None => cronjob = cronjob_from_job_name(job_name, &pod.creation),
            }
        }
        if let (Some(c), true) = (&cronjob, wants("k8s.cronjob.name")) {
            set_if_absent(res, "k8s.cronjob.name", &Value::Str(c.clone()));
        }
        if wants("k8s.cluster.uid") {
            if let Some(ns) = cache.namespaces.get("kube-system") {
                set_if_absent(res, "k8s.cluster.uid", &Value::Str(ns.uid.clone()));
            }
        }
        if wants("service.name") {
            // lowest to highest: the pod's name, its owner's, then the app labels
            let owner = deployment.clone().or(cronjob.clone()).or_else(|| {
                ["DaemonSet", "StatefulSet", "Job"]
                    .iter()
                    .find_map(|k| pod.owners.get(*k).map(|(n, _)| n.clone()))
            });
            let name = pod.app_labels[1]
                .clone()
                .or(pod.app_labels[0].clone())
                .or(owner)
                .unwrap_or_else(|| pod.name.clone());
            set_if_absent(res, "service.name", &Value::Str(name));
        }
        if wants("service.version") {
            if let Some(v) = &pod.app_labels[2] {
                set_if_absent(res, "service.version", &Value::Str(v.clone()));
            }
        }
    }

    /// The container's attributes, when the resource names it (`k8s.container.name`,
    /// `container.id`) or the pod has one.
    fn container(&self, res: &mut Resource, pod: &PodInfo) {
        let s = &self.settings;
        let wants = |m: &str| s.metadata.contains(m);
        let attr = |name: &str| {
            res.attributes
                .iter()
                .find(|kv| kv.key == name)
                .and_then(|kv| kv.value.as_ref().and_then(|v| v.value.clone()))
        };
        let by_name = match attr("k8s.container.name") {
            Some(any_value::Value::StringValue(n)) if !n.is_empty() => Some(n),
            _ => None,
        };
        let by_id = match attr("container.id") {
            Some(any_value::Value::StringValue(n)) if !n.is_empty() => Some(n),
            _ => None,
        };
        let restarts = match attr("k8s.container.restart_count") {
            Some(any_value::Value::IntValue(i)) => Some(i),
            Some(any_value::Value::StringValue(s)) => s.parse().ok(),
            _ => None,
        };
        let c = if let Some(n) = &by_name {
            pod.containers.iter().find(|c| &c.name == n)
        } else if let Some(id) = &by_id {
            pod.containers
                .iter()
                .find(|c| c.ids.iter().any(|(_, i)| i == id))
        } else if pod.containers.len() == 1 {
            pod.containers.first()
        } else {
            None
        };
        let Some(c) = c else { return };
        if wants("k8s.container.name") {
            set_if_absent(res, "k8s.container.name", &Value::Str(c.name.clone()));
        }
        if wants("container.image.name") && !c.image_name.is_empty() {
            set_if_absent(
                res,
                "container.image.name",
                &Value::Str(c.image_name.clone()),
            );
        }
        if wants("container.image.tag") && !c.image_tag.is_empty() {
            set_if_absent(res, "container.image.tag", &Value::Str(c.image_tag.clone()));
        }
        if wants("container.image.tags") && !c.image_tag.is_empty() {
            set(
                res,
                "container.image.tags",
                &Value::List(vec![c.image_tag.clone()]),
            );
        }
        if wants("container.id") {
            let id = match restarts {
                Some(n) => c.ids.iter().find(|(r, _)| *r == n),
                None => c.ids.iter().max_by_key(|(r, _)| *r),
            };
            if let Some((_, id)) = id {
                set_if_absent(res, "container.id", &Value::Str(id.clone()));
            }
        }
        if wants("container.image.repo_digests") && !c.repo_digest.is_empty() {
            set_if_absent(
                res,
                "container.image.repo_digests",
                &Value::List(vec![c.repo_digest.clone()]),
            );
        }
        if wants("service.instance.id") {
            let id = format!("{}.{}.{}", pod.namespace, pod.name, c.name);
            set_if_absent(res, "service.instance.id", &Value::Str(id));
        }
        if wants("service.version") && !c.image_version.is_empty() {
            set_if_absent(res, "service.version", &Value::Str(c.image_version.clone()));
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Namespace,
    Node,
    Workload,
}

/// A CronJob's Job is named `<cronjob>-<minutes since the epoch>`; taken when those minutes
/// are within a day of the pod's creation (Go's check).
fn cronjob_from_job_name(job: &str, creation: &str) -> Option<String> {
    let (name, minutes) = job.rsplit_once('-')?;
    if minutes.len() != 8 || !minutes.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes: i64 = minutes.parse().ok()?;
    let created = jiff_seconds(creation)?;
    ((minutes * 60 - created).abs() <= 86_400).then(|| name.to_string())
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2024-05-01T10:00:00Z`).
fn jiff_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    // days from civil (Howard Hinnant's algorithm)
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

fn any(v: &Value) -> AnyValue {
    AnyValue {
        value: Some(match v {
            Value::Str(s) => any_value::Value::StringValue(s.clone()),
            Value::List(l) => any_value::Value::ArrayValue(ArrayValue {
                values: l
                    .iter()
                    .map(|s| AnyValue {
                        value: Some(any_value::Value::StringValue(s.clone())),
                    })
                    .collect(),
            }),
        }),
    }
}

/// Set `key` unless the resource has it with a value that is not empty (Go keeps what is
/// there).
fn set_if_absent(res: &mut Resource, key: &str, v: &Value) {
    match res.attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => {
            let empty = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                None => true,
                Some(any_value::Value::StringValue(s)) => s.is_empty(),
                Some(_) => false,
            };
            if empty {
                kv.value = Some(any(v));
            }
        }
        None => res.attributes.push(KeyValue {
            key: key.to_string(),
            value: Some(any(v)),
            ..Default::default()
        }),
    }
}

/// Set `key`, replacing what is there.
fn set(res: &mut Resource, key: &str, v: &Value) {
    match res.attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(any(v)),
        None => res.attributes.push(KeyValue {
            key: key.to_string(),
            value: Some(any(v)),
            ..Default::default()
        }),
    }
}

#[async_trait]
impl Consumer for K8sAttributes {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "k8s_attributes processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        if !batch.is_empty() {
            let client_ip = batch
                .context()
                .client_address
                .map(|a| a.ip().to_canonical().to_string());
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            // only the resources change: a batch still in its wire form stays in it
            batch.edit_resources(|r| self.process_resource(r, client_ip.as_deref(), &cache));
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for K8sAttributes {
    async fn start(&self) -> Result<(), BuildError> {
        {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            if *started {
                return Ok(());
            }
            *started = true;
        }
        if self.settings.cfg.passthrough {
            return Ok(());
        }
        let s = &self.settings;
        let api = Api::new(&s.cfg.auth_type, &s.cfg.context, &s.sa_dir).map_err(BuildError::new)?;
        self.start_with(api).await
    }

    async fn shutdown(&self) {
        self.stop.cancel();
    }
}

impl Drop for K8sAttributes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
