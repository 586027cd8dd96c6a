//! The pods and other objects the processor keeps, what it extracts from each (Go's
//! `kube.Client` extraction), and the keys a pod is found by (Go's pod identifiers).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use regex::Regex;

use super::config::Config;
use transport::kube::ObjectMeta;

use transport::kube::ContainerStatus;
pub use transport::kube::Pod;

/// A label or annotation rule, compiled.
#[derive(Debug, Clone)]
pub struct FieldRule {
    pub annotation: bool,
    /// `pod`, `namespace`, `node`, `deployment`, `statefulset`, `daemonset`, `job`.
    pub from: String,
    pub key: Key,
    pub tag_name: String,
}

#[derive(Debug, Clone)]
pub enum Key {
    Exact(String),
    Regex(Regex),
}

impl FieldRule {
    pub fn compile(cfg: &Config) -> Vec<FieldRule> {
        let mut out = Vec::new();
        for (annotation, rules) in [
            (false, &cfg.extract.labels),
            (true, &cfg.extract.annotations),
        ] {
            for r in rules {
                let key = if r.key_regex.is_empty() {
                    Key::Exact(r.key.clone())
                } else {
                    match Regex::new(&format!("^(?:{})$", r.key_regex)) {
                        Ok(re) => Key::Regex(re),
                        Err(_) => continue, // refused by validation
                    }
                };
                out.push(FieldRule {
                    annotation,
                    from: if r.from.is_empty() {
                        "pod".into()
                    } else {
                        r.from.clone()
                    },
                    key,
                    tag_name: r.tag_name.clone(),
                });
            }
        }
        if cfg.extract.otel_annotations {
            out.push(FieldRule {
                annotation: true,
                from: "pod".into(),
                key: Key::Regex(Regex::new(r"^(?:resource\.opentelemetry\.io/(.+))$").unwrap()),
                tag_name: "$1".into(),
            });
        }
        out
    }

    /// The attributes this rule takes from an object's labels or annotations.
    pub fn extract(&self, meta: &ObjectMeta, out: &mut Vec<(String, Value)>) {
        let map = if self.annotation {
            &meta.annotations
        } else {
            &meta.labels
        };
        let what = if self.annotation {
            "annotation"
        } else {
            "label"
        };
        let default_name = |key: &str| match self.from.as_str() {
            // the legacy plural names (Go's default feature gates)
            "pod" | "namespace" | "node" => format!("k8s.{}.{what}s.{key}", self.from),
            kind => format!("k8s.{kind}.{what}.{key}"),
        };
        match &self.key {
            Key::Exact(k) => {
                if let Some(v) = map.get(k) {
                    let name = if self.tag_name.is_empty() {
                        default_name(k)
                    } else {
                        self.tag_name.clone()
                    };
                    out.push((name, Value::Str(v.clone())));
                }
            }
            Key::Regex(re) => {
                for (k, v) in map {
                    if v.is_empty() {
                        continue;
                    }
                    let Some(caps) = re.captures(k) else { continue };
                    let name = if !self.tag_name.is_empty() && caps.len() > 1 {
                        let mut name = String::new();
                        caps.expand(&self.tag_name, &mut name);
                        name
                    } else {
                        default_name(k)
                    };
                    out.push((name, Value::Str(v.clone())));
                }
            }
        }
    }
}

/// An attribute value the processor sets.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    List(Vec<String>),
}

/// A container of a pod, as the processor describes it.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub name: String,
    pub image_name: String,
    pub image_tag: String,
    /// `tag@digest`, the digest or the tag: `service.version` from the image.
    pub image_version: String,
    /// (restart count, container id) of each run seen.
    pub ids: Vec<(i64, String)>,
    pub repo_digest: String,
}

/// What the processor keeps of one pod.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub node: String,
    pub ip: String,
    pub host_network: bool,
    pub start_time: String,
    pub ignore: bool,
    /// Pod-level attributes (labels and annotations included).
    pub attributes: Vec<(String, Value)>,
    pub containers: Vec<Container>,
    /// The owners: `ReplicaSet`, `DaemonSet`, `StatefulSet`, `Job` by kind (name, uid).
    pub owners: BTreeMap<String, (String, String)>,
    /// `pod-template-hash`, to name a deployment from its ReplicaSet's name.
    pub template_hash: String,
    pub creation: String,
    pub app_labels: [Option<String>; 3],
}

/// `repository[:tag][@digest]` of an image (Go's docker reference parse, unnormalised); the
/// tag is `latest` when there is neither.
pub fn parse_image(image: &str) -> (String, String, String) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, d.to_string()),
        None => (image, String::new()),
    };
    let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], rest[slash + i + 1..].to_string()),
        None => (rest, String::new()),
    };
    let digest = digest
        .split_once(':')
        .map(|(_, d)| d.to_string())
        .unwrap_or(digest);
    let tag = if tag.is_empty() && digest.is_empty() {
        "latest".to_string()
    } else {
        tag
    };
    (name.to_string(), tag, digest)
}

impl PodInfo {
    pub fn from_pod(pod: &Pod, cfg: &Config, rules: &[FieldRule], exclude: &[Regex]) -> PodInfo {
        let m = &pod.metadata;
        let ignore = m
            .annotations
            .get("opentelemetry.io/k8s-processor/ignore")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || exclude.iter().any(|re| re.is_match(&m.name));
        let mut info = PodInfo {
            uid: m.uid.clone(),
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            node: pod.spec.node_name.clone(),
            ip: pod.status.pod_ip.clone(),
            host_network: pod.spec.host_network,
            start_time: pod.status.start_time.clone(),
            ignore,
            template_hash: m
                .labels
                .get("pod-template-hash")
                .cloned()
                .unwrap_or_default(),
            creation: m.creation_timestamp.clone(),
            app_labels: [
                m.labels.get("app.kubernetes.io/name").cloned(),
                m.labels.get("app.kubernetes.io/instance").cloned(),
                m.labels.get("app.kubernetes.io/version").cloned(),
            ],
            ..Default::default()
        };
        for o in &m.owner_references {
            if matches!(
                o.kind.as_str(),
                "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job"
            ) {
                info.owners
                    .insert(o.kind.clone(), (o.name.clone(), o.uid.clone()));
            }
        }
        let mut put = |k: &str, v: &str| {
            if cfg.wants(k) && !v.is_empty() {
                info.attributes
                    .push((k.to_string(), Value::Str(v.to_string())));
            }
        };
        put("k8s.namespace.name", &m.namespace);
        put("k8s.pod.name", &m.name);
        put("k8s.pod.uid", &m.uid);
        put("k8s.pod.start_time", &m.creation_timestamp);
        put("k8s.pod.hostname", &pod.spec.hostname);
        put("k8s.pod.ip", &pod.status.pod_ip);
        put("k8s.node.name", &pod.spec.node_name);
        put("service.namespace", &m.namespace);
        for (kind, attr) in [
            ("ReplicaSet", "replicaset"),
            ("DaemonSet", "daemonset"),
            ("StatefulSet", "statefulset"),
            ("Job", "job"),
        ] {
            if let Some((name, uid)) = m
                .owner_references
                .iter()
                .find(|o| o.kind == kind)
                .map(|o| (o.name.clone(), o.uid.clone()))
            {
                put(&format!("k8s.{attr}.name"), &name);
                put(&format!("k8s.{attr}.uid"), &uid);
            }
        }
        for r in rules.iter().filter(|r| r.from == "pod") {
            r.extract(m, &mut info.attributes);
        }
        let statuses: Vec<&ContainerStatus> = pod
            .status
            .container_statuses
            .iter()
            .chain(&pod.status.init_container_statuses)
            .collect();
        for c in pod.spec.containers.iter().chain(&pod.spec.init_containers) {
            let (image_name, image_tag, digest) = parse_image(&c.image);
            let image_version = match (image_tag.as_str(), digest.as_str()) {
                (t, "") => t.to_string(),
                ("latest", d) if !c.image.contains(":latest") => d.to_string(),
                (t, d) => format!("{t}@{d}"),
            };
            let mut container = Container {
                name: c.name.clone(),
                image_name,
                image_tag,
                image_version,
                ..Default::default()
            };
            for s in statuses.iter().filter(|s| s.name == c.name) {
                let id = s
                    .container_id
                    .split_once("://")
                    .map(|(_, id)| id)
                    .unwrap_or(&s.container_id);
                if !id.is_empty() {
                    container.ids.push((s.restart_count, id.to_string()));
                }
                if let Some((_, digest)) = s.image_id.rsplit_once('@') {
                    container.repo_digest = format!("{}@{digest}", container.image_name);
                }
            }
            info.containers.push(container);
        }
        info
    }

    /// The keys this pod is found by: one per association rule whose sources it has, and
    /// Go's always-present ones (uid; the IP unless the pod uses the host's network).
    pub fn keys(&self, rules: &[Vec<(String, String)>]) -> Vec<String> {
        let mut keys = Vec::new();
        let pod_ip = (!self.ip.is_empty()).then_some(self.ip.as_str());
        for rule in rules {
            let mut parts: Vec<Vec<String>> = vec![Vec::new()];
            let mut complete = true;
            for (from, name) in rule {
                let values: Vec<String> = if from == "connection" {
                    match pod_ip {
                        Some(ip) if !self.host_network => vec![ip.to_string()],
                        _ => vec![],
                    }
                } else {
                    match name.as_str() {
                        "k8s.namespace.name" => vec![self.namespace.clone()],
                        "k8s.pod.name" => vec![self.name.clone()],
                        "k8s.pod.uid" => vec![self.uid.clone()],
                        "host.name" | "k8s.pod.ip" => {
                            pod_ip.map(str::to_string).into_iter().collect()
                        }
                        "container.id" => self
                            .containers
                            .iter()
                            .flat_map(|c| c.ids.iter().map(|(_, id)| id.clone()))
                            .collect(),
                        other => self
                            .attributes
                            .iter()
                            .filter(|(k, _)| k == other)
                            .filter_map(|(_, v)| match v {
                                Value::Str(s) => Some(s.clone()),
                                Value::List(_) => None,
                            })
                            .collect(),
                    }
                };
                let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
                if values.is_empty() {
                    complete = false;
                    break;
                }
                let mut next = Vec::new();
                for p in &parts {
                    for v in &values {
                        let mut p = p.clone();
                        p.push(part(from, name, v));
                        next.push(p);
                    }
                }
                parts = next;
            }
            if complete {
                keys.extend(parts.into_iter().map(|p| p.join("\u{1}")));
            }
        }
        keys.push(part("resource_attribute", "k8s.pod.uid", &self.uid));
        if let Some(ip) = pod_ip {
            if !self.host_network {
                keys.push(part("connection", "", ip));
                keys.push(part("resource_attribute", "k8s.pod.ip", ip));
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// One source's part of a key.
pub fn part(from: &str, name: &str, value: &str) -> String {
    if from == "connection" {
        format!("connection/={value}")
    } else {
        format!("{from}/{name}={value}")
    }
}

/// Everything the processor knows of the cluster.
#[derive(Default)]
pub struct Cache {
    pub pods: HashMap<String, Arc<PodInfo>>,
    /// Pods by uid, with their keys (to remove them).
    pub by_uid: HashMap<String, (Arc<PodInfo>, Vec<String>)>,
    /// Deleted pods still found until their time is up.
    pub deleted: Vec<(Instant, String)>,
    pub namespaces: HashMap<String, ObjectMeta>,
    pub nodes: HashMap<String, ObjectMeta>,
    /// ReplicaSets, Deployments, StatefulSets, DaemonSets and Jobs by uid.
    pub workloads: HashMap<String, ObjectMeta>,
    pub pods_synced: bool,
}

impl Cache {
    pub fn upsert_pod(&mut self, info: PodInfo, rules: &[Vec<(String, String)>]) {
        let info = Arc::new(info);
        let keys = info.keys(rules);
        if let Some((_, old)) = self.by_uid.remove(&info.uid) {
            for k in old {
                if self.pods.get(&k).is_some_and(|p| p.uid == info.uid) {
                    self.pods.remove(&k);
                }
            }
        }
        for k in &keys {
            // an IP reused by a newer pod: the newer one wins (Go compares start times)
            let keep_old = self.pods.get(k).is_some_and(|old| {
                old.uid != info.uid
                    && !old.start_time.is_empty()
                    && !info.start_time.is_empty()
                    && old.start_time > info.start_time
            });
            if !keep_old {
                self.pods.insert(k.clone(), info.clone());
            }
        }
        self.deleted.retain(|(_, uid)| uid != &info.uid);
        self.by_uid.insert(info.uid.clone(), (info, keys));
    }

    /// Forget the pod after the grace period.
    pub fn delete_pod(&mut self, uid: &str, grace: std::time::Duration) {
        if self.by_uid.contains_key(uid) && !self.deleted.iter().any(|(_, u)| u == uid) {
            self.deleted.push((Instant::now() + grace, uid.to_string()));
        }
    }

    /// Remove the deleted pods whose time is up.
    pub fn expire(&mut self, now: Instant) {
        let (due, keep): (Vec<_>, Vec<_>) = self.deleted.drain(..).partition(|(at, _)| *at <= now);
        self.deleted = keep;
        for (_, uid) in due {
            if let Some((_, keys)) = self.by_uid.remove(&uid) {
                for k in keys {
                    if self.pods.get(&k).is_some_and(|p| p.uid == uid) {
                        self.pods.remove(&k);
                    }
                }
            }
        }
    }

    /// A new full list of pods: those gone are deleted (with the grace period).
    pub fn replace_pods(
        &mut self,
        pods: Vec<PodInfo>,
        rules: &[Vec<(String, String)>],
        grace: std::time::Duration,
    ) {
        let present: std::collections::HashSet<String> =
            pods.iter().map(|p| p.uid.clone()).collect();
        let gone: Vec<String> = self
            .by_uid
            .keys()
            .filter(|u| !present.contains(*u))
            .cloned()
            .collect();
        for uid in gone {
            self.delete_pod(&uid, grace);
        }
        for p in pods {
            self.upsert_pod(p, rules);
        }
        self.pods_synced = true;
    }
}
