//! The `k8s_attributes` config: Go's `Config` of `processor/k8sattributesprocessor` with its
//! `createDefaultConfig()` and `Validate()` (messages as Go's).

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use serde::Deserialize;

/// Every `extract.metadata` name Go accepts.
pub const METADATA: &[&str] = &[
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.hostname",
    "k8s.pod.uid",
    "k8s.pod.ip",
    "k8s.pod.start_time",
    "k8s.deployment.name",
    "k8s.deployment.uid",
    "k8s.replicaset.name",
    "k8s.replicaset.uid",
    "k8s.daemonset.name",
    "k8s.daemonset.uid",
    "k8s.statefulset.name",
    "k8s.statefulset.uid",
    "k8s.cronjob.name",
    "k8s.cronjob.uid",
    "k8s.job.name",
    "k8s.job.uid",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.container.name",
    "k8s.cluster.uid",
    "container.id",
    "container.image.name",
    "container.image.tag",
    "container.image.tags",
    "container.image.repo_digests",
    "service.namespace",
    "service.name",
    "service.version",
    "service.instance.id",
];

/// Go's default `extract.metadata` (its metadata's attributes on by default, with the
/// legacy `container.image.tag` of its default feature gates).
pub const DEFAULT_METADATA: &[&str] = &[
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.pod.start_time",
    "k8s.deployment.name",
    "k8s.node.name",
    "container.image.name",
    "container.image.tag",
];

/// The kinds a label or annotation rule may read (`from`).
pub const FROM: &[&str] = &[
    "pod",
    "namespace",
    "deployment",
    "statefulset",
    "daemonset",
    "job",
    "node",
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `serviceAccount`, `kubeConfig`, `none` (or `tls`, which Go accepts and cannot use).
    pub auth_type: String,
    /// The kubeconfig context for `kubeConfig` (default: its current context).
    pub context: String,
    pub kube_api_qps: f64,
    pub kube_api_burst: i64,
    /// Only `k8s.pod.ip` from the connection; no API access.
    pub passthrough: bool,
    pub extract: Extract,
    pub filter: Filter,
    pub pod_association: Vec<Association>,
    pub exclude: Exclude,
    pub wait_for_metadata: bool,
    pub wait_for_metadata_timeout: GoDuration,
    /// How often the caches are listed again besides the watch (0: never).
    pub watch_sync_period: GoDuration,
    /// How long a deleted pod stays found.
    pub pod_delete_grace_period: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            auth_type: "serviceAccount".into(),
            context: String::new(),
            kube_api_qps: 0.0,
            kube_api_burst: 0,
            passthrough: false,
            extract: Extract::default(),
            filter: Filter::default(),
            pod_association: Vec::new(),
            exclude: Exclude::default(),
            wait_for_metadata: false,
            wait_for_metadata_timeout: GoDuration::from_secs(10),
            watch_sync_period: GoDuration::from_secs(300),
            pod_delete_grace_period: GoDuration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Extract {
    pub metadata: Vec<String>,
    pub annotations: Vec<FieldRule>,
    pub labels: Vec<FieldRule>,
    /// The pod annotations `resource.opentelemetry.io/<key>` as `<key>`.
    pub otel_annotations: bool,
    /// Deprecated in Go (true since v0.153): the deployment's name from the ReplicaSet's
    /// name, without watching ReplicaSets.
    pub deployment_name_from_replicaset: bool,
}

impl Default for Extract {
    fn default() -> Self {
        Extract {
            metadata: DEFAULT_METADATA.iter().map(|s| s.to_string()).collect(),
            annotations: Vec::new(),
            labels: Vec::new(),
            otel_annotations: false,
            deployment_name_from_replicaset: true,
        }
    }
}

/// One label or annotation rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldRule {
    pub tag_name: String,
    pub key: String,
    pub key_regex: String,
    pub from: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    pub node: String,
    pub node_from_env_var: String,
    pub namespace: String,
    pub fields: Vec<SelectorRule>,
    pub labels: Vec<SelectorRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectorRule {
    pub key: String,
    pub value: String,
    pub op: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Association {
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Source {
    /// `connection` or `resource_attribute`.
    pub from: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exclude {
    pub pods: Vec<ExcludePod>,
}

impl Default for Exclude {
    fn default() -> Self {
        Exclude {
            pods: vec![
                ExcludePod {
                    name: "jaeger-agent".into(),
                },
                ExcludePod {
                    name: "jaeger-collector".into(),
                },
            ],
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExcludePod {
    /// A regular expression found anywhere in the pod's name.
    pub name: String,
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if !matches!(
            self.auth_type.as_str(),
            "none" | "serviceAccount" | "kubeConfig" | "tls"
        ) {
            errors.push(ConfigError::new(
                &["auth_type"],
                format!("invalid authType for kubernetes: {}", self.auth_type),
            ));
        }
        if self.kube_api_qps < 0.0 {
            errors.push(ConfigError::new(
                &["kube_api_qps"],
                "kube_api_qps must be greater than 0",
            ));
        }
        if self.kube_api_burst < 0 {
            errors.push(ConfigError::new(
                &["kube_api_burst"],
                "kube_api_burst must be greater than 0",
            ));
        }
        for (i, a) in self.pod_association.iter().enumerate() {
            if a.sources.len() > 4 {
                errors.push(ConfigError::new(
                    &["pod_association", &i.to_string(), "sources"],
                    "too many association sources. limit is 4",
                ));
            }
            for (j, s) in a.sources.iter().enumerate() {
                if !matches!(s.from.as_str(), "connection" | "resource_attribute") {
                    errors.push(ConfigError::new(
                        &[
                            "pod_association",
                            &i.to_string(),
                            "sources",
                            &j.to_string(),
                            "from",
                        ],
                        format!(
                            "{:?} is not a valid source; use connection or resource_attribute",
                            s.from
                        ),
                    ));
                }
            }
        }
        for (what, rules) in [
            ("labels", &self.extract.labels),
            ("annotations", &self.extract.annotations),
        ] {
            for (i, r) in rules.iter().enumerate() {
                let at =
                    |k: &str| vec!["extract".to_string(), what.into(), i.to_string(), k.into()];
                if !r.key.is_empty() && !r.key_regex.is_empty() {
                    errors.push(ConfigError {
                        path: at("key_regex"),
                        message: format!(
                            "Out of Key or KeyRegex only one option is expected to be configured at a time, currently Key:{} and KeyRegex:{}",
                            r.key, r.key_regex
                        ),
                    });
                }
                if !r.from.is_empty() && !FROM.contains(&r.from.as_str()) {
                    errors.push(ConfigError {
                        path: at("from"),
                        message: format!(
                            "{} is not a valid choice for From. Must be one of: pod, namespace, deployment, statefulset, daemonset, job, node",
                            r.from
                        ),
                    });
                }
                if !r.key_regex.is_empty() {
                    if let Err(e) = regex::Regex::new(&format!("^(?:{})$", r.key_regex)) {
                        errors.push(ConfigError {
                            path: at("key_regex"),
                            message: format!("error parsing regexp: {e}"),
                        });
                    }
                }
            }
        }
        for m in &self.extract.metadata {
            if !METADATA.contains(&m.as_str()) {
                errors.push(ConfigError::new(
                    &["extract", "metadata"],
                    format!("{m:?} is not a supported metadata field"),
                ));
            }
        }
        for (what, rules) in [
            ("labels", &self.filter.labels),
            ("fields", &self.filter.fields),
        ] {
            let ok: &[&str] = if what == "labels" {
                &["", "equals", "not-equals", "exists", "does-not-exist"]
            } else {
                &["", "equals", "not-equals"]
            };
            for (i, r) in rules.iter().enumerate() {
                if !ok.contains(&r.op.as_str()) {
                    errors.push(ConfigError::new(
                        &["filter", what, &i.to_string(), "op"],
                        format!(
                            "'{}' is not a valid label filter operation for key={}, value={}",
                            r.op, r.key, r.value
                        ),
                    ));
                }
            }
        }
        if !self.filter.node_from_env_var.is_empty()
            && std::env::var_os(&self.filter.node_from_env_var).is_none()
        {
            errors.push(ConfigError::new(
                &["filter", "node_from_env_var"],
                format!(
                    "`node_from_env_var` is configured but envvar {:?} is not set",
                    self.filter.node_from_env_var
                ),
            ));
        }
        for (i, p) in self.exclude.pods.iter().enumerate() {
            if let Err(e) = regex::Regex::new(&p.name) {
                // Go panics on it; a config error is what it should be
                errors.push(ConfigError::new(
                    &["exclude", "pods", &i.to_string(), "name"],
                    format!("error parsing regexp: {e}"),
                ));
            }
        }
        errors
    }
}

impl Config {
    /// The node whose pods are watched (`node_from_env_var` over `node`).
    pub fn node(&self) -> String {
        if self.filter.node_from_env_var.is_empty() {
            self.filter.node.clone()
        } else {
            std::env::var(&self.filter.node_from_env_var).unwrap_or_default()
        }
    }

    pub fn wants(&self, metadata: &str) -> bool {
        self.extract.metadata.iter().any(|m| m == metadata)
    }

    /// Whether any label or annotation rule reads `from` (empty `from` is `pod`).
    pub fn rules_from(&self, from: &str) -> bool {
        self.extract
            .labels
            .iter()
            .chain(&self.extract.annotations)
            .any(|r| r.from == from || (from == "pod" && r.from.is_empty()))
    }
}
