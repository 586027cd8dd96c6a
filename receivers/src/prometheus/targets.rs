//! Targets: target groups from `static_configs` and `file_sd_configs`, and each target's
//! labels and URL as Prometheus computes them (`scrape/target.go` `PopulateLabels`,
//! `discovery/file/file.go`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::config::{parse_prom_duration, ResolvedJob, ScrapeConfig, StaticConfig};
use super::relabel::{self, Labels};

/// A group of targets with common labels, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// One target to scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// The labels every sample gets (no `__` labels), including `job` and `instance`.
    pub labels: Vec<(String, String)>,
    pub url: String,
    pub scheme: String,
    pub job: String,
    pub instance: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Resource attributes from the Kubernetes discovery's labels (Go `addKubernetesResource`).
    pub kubernetes: Vec<(String, String)>,
}

/// Prometheus `model.Duration.String`: `1m`, `15s`, `1h30m`, `500ms`, `0s`.
pub fn format_prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, mult) in [
        ("y", 365 * 24 * 3600 * 1000u64),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= mult {
            out.push_str(&format!("{}{unit}", ms / mult));
            ms %= mult;
        }
    }
    out
}

/// The targets of one group (Prometheus `TargetsFromGroup`); errors name the target.
pub fn targets_from_group(
    job: &ScrapeConfig,
    resolved: &ResolvedJob,
    group: &TargetGroup,
) -> (Vec<Target>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for addr in &group.targets {
        let mut lb: Labels = group.labels.clone();
        lb.insert("__address__".into(), addr.clone());
        let defaults = [
            ("job", job.job_name.clone()),
            (
                "__scrape_interval__",
                format_prom_duration(resolved.interval),
            ),
            ("__scrape_timeout__", format_prom_duration(resolved.timeout)),
            ("__metrics_path__", resolved.metrics_path.clone()),
            ("__scheme__", resolved.scheme.clone()),
        ];
        for (k, v) in defaults {
            if lb.get(k).is_none_or(|x| x.is_empty()) {
                lb.insert(k.to_string(), v);
            }
        }
        for (k, v) in &job.params {
            let name = format!("__param_{k}");
            if let Some(first) = v.first() {
                if lb.get(&name).is_none_or(|x| x.is_empty()) {
                    lb.insert(name, first.clone());
                }
            }
        }
        let kubernetes = kubernetes_resource(&lb);
        if !relabel::process(&mut lb, &job.relabel_configs) {
            continue;
        }
        let Some(address) = lb.get("__address__").cloned().filter(|a| !a.is_empty()) else {
            errors.push(format!("target {addr:?}: no address"));
            continue;
        };
        if address.contains('/') {
            errors.push(format!(
                "target {addr:?}: {address:?} is not a valid hostname"
            ));
            continue;
        }
        let interval = match lb
            .get("__scrape_interval__")
            .map(|s| parse_prom_duration(s))
        {
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                errors.push(format!("target {addr:?}: scrape interval cannot be 0"));
                continue;
            }
            Some(Err(e)) => {
                errors.push(format!(
                    "target {addr:?}: error parsing scrape interval: {e}"
                ));
                continue;
            }
            None => resolved.interval,
        };
        let timeout = match lb.get("__scrape_timeout__").map(|s| parse_prom_duration(s)) {
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                errors.push(format!("target {addr:?}: scrape timeout cannot be 0"));
                continue;
            }
            Some(Err(e)) => {
                errors.push(format!(
                    "target {addr:?}: error parsing scrape timeout: {e}"
                ));
                continue;
            }
            None => resolved.timeout,
        };
        if timeout > interval {
            errors.push(format!(
                "target {addr:?}: scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
                format_prom_duration(timeout),
                format_prom_duration(interval)
            ));
            continue;
        }
        lb.retain(|k, _| !k.starts_with("__meta_"));
        if lb.get("instance").is_none_or(|v| v.is_empty()) {
            lb.insert("instance".into(), address.clone());
        }
        let scheme = lb
            .get("__scheme__")
            .cloned()
            .unwrap_or_else(|| resolved.scheme.clone());
        let path = lb
            .get("__metrics_path__")
            .cloned()
            .unwrap_or_else(|| resolved.metrics_path.clone());
        // query: the configured params, each first value replaced by its __param_ label
        let mut params: BTreeMap<String, Vec<String>> = job.params.clone();
        for (k, v) in &lb {
            if let Some(p) = k.strip_prefix("__param_") {
                let e = params.entry(p.to_string()).or_default();
                if e.is_empty() {
                    e.push(v.clone());
                } else {
                    e[0] = v.clone();
                }
            }
        }
        let mut url = format!("{scheme}://{address}{path}");
        let query: Vec<String> = params
            .iter()
            .flat_map(|(k, vs)| {
                vs.iter()
                    .map(move |v| format!("{}={}", query_escape(k), query_escape(v)))
            })
            .collect();
        if !query.is_empty() {
            url.push(if path.contains('?') { '&' } else { '?' });
            url.push_str(&query.join("&"));
        }
        let job_name = lb.get("job").cloned().unwrap_or_default();
        let instance = lb.get("instance").cloned().unwrap_or_default();
        let labels: Vec<(String, String)> = lb
            .into_iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .collect();
        out.push(Target {
            labels,
            url,
            scheme,
            job: job_name,
            instance,
            interval,
            timeout,
            kubernetes,
        });
    }
    (out, errors)
}

/// The resource attributes the Go receiver reads from a target's discovered labels (before
/// relabelling): the pod, its container, namespace and node, and the pod's controller by
/// kind. Of the node names, the last present wins (the endpoint's on an endpoint target).
fn kubernetes_resource(lb: &Labels) -> Vec<(String, String)> {
    let mut out: BTreeMap<&str, String> = BTreeMap::new();
    for (label, attr) in [
        ("__meta_kubernetes_pod_name", "k8s.pod.name"),
        ("__meta_kubernetes_pod_uid", "k8s.pod.uid"),
        ("__meta_kubernetes_pod_container_name", "k8s.container.name"),
        ("__meta_kubernetes_namespace", "k8s.namespace.name"),
        ("__meta_kubernetes_pod_node_name", "k8s.node.name"),
        ("__meta_kubernetes_node_name", "k8s.node.name"),
        ("__meta_kubernetes_endpoint_node_name", "k8s.node.name"),
    ] {
        if let Some(v) = lb.get(label).filter(|v| !v.is_empty()) {
            out.insert(attr, v.clone());
        }
    }
    let get = |k: &str| lb.get(k).filter(|v| !v.is_empty());
    if let (Some(kind), Some(name)) = (
        get("__meta_kubernetes_pod_controller_kind"),
        get("__meta_kubernetes_pod_controller_name"),
    ) {
        let attr = match kind.as_str() {
            "ReplicaSet" => Some("k8s.replicaset.name"),
            "DaemonSet" => Some("k8s.daemonset.name"),
            "StatefulSet" => Some("k8s.statefulset.name"),
            "Job" => Some("k8s.job.name"),
            "CronJob" => Some("k8s.cronjob.name"),
            _ => None,
        };
        if let Some(attr) = attr {
            out.insert(attr, name.clone());
        }
    }
    out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Go `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl From<&StaticConfig> for TargetGroup {
    fn from(s: &StaticConfig) -> Self {
        TargetGroup {
            targets: s.targets.clone(),
            labels: s.labels.clone(),
        }
    }
}

/// Read one file_sd file (Prometheus `discovery/file`): JSON or YAML by extension, a list
/// of `{targets, labels}`; each group gets `__meta_filepath`.
pub fn read_sd_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let content = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    let groups: Vec<StaticConfig> = match ext.as_str() {
        "json" => serde_json::from_slice(&content)
            .map_err(|e| format!("{}: invalid JSON target groups: {e}", path.display()))?,
        "yml" | "yaml" => {
            if content.iter().all(u8::is_ascii_whitespace) {
                Vec::new()
            } else {
                serde_yaml_ng::from_slice(&content)
                    .map_err(|e| format!("{}: invalid YAML target groups: {e}", path.display()))?
            }
        }
        other => {
            return Err(format!(
                "{}: invalid file extension {other:?}",
                path.display()
            ))
        }
    };
    Ok(groups
        .into_iter()
        .map(|g| {
            let mut labels = g.labels;
            labels.insert("__meta_filepath".into(), path.display().to_string());
            TargetGroup {
                targets: g.targets,
                labels,
            }
        })
        .collect())
}

/// The files a file_sd config's patterns match now, with their modification times.
pub fn sd_files(patterns: &[String]) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    let mut out = Vec::new();
    for p in patterns {
        let Ok(paths) = glob::glob(p) else { continue };
        for path in paths.flatten() {
            let meta = std::fs::metadata(&path).ok();
            let mtime = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map(|m| m.len()).unwrap_or(0);
            out.push((path, mtime, len));
        }
    }
    out.sort();
    out.dedup();
    out
}
