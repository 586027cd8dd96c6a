//! `resourcedetection` config (Go `resourcedetectionprocessor.Config`, v0.155.0).

use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;
use transport::http::{ClientOptions, HttpClientConfig};

/// Every detector Go's processor knows; the ones Ferrotel runs are [`SUPPORTED`].
pub const GO_DETECTORS: &[&str] = &[
    "akamai",
    "aks",
    "alibaba_ecs",
    "azure",
    "consul",
    "digitalocean",
    "docker",
    "dynatrace",
    "ec2",
    "ecs",
    "eks",
    "elastic_beanstalk",
    "env",
    "gcp",
    "heroku",
    "hetzner",
    "ibmcloud_classic",
    "ibmcloud_vpc",
    "k8s_api",
    "kubeadm",
    "lambda",
    "nova",
    "openshift",
    "oraclecloud",
    "scaleway",
    "system",
    "tencent_cvm",
    "upcloud",
    "vultr",
];

pub const SUPPORTED: &[&str] = &["env", "system", "docker", "ec2", "ecs", "gcp", "azure"];

/// `resource_attributes: {<name>: {enabled: bool}}` of one detector.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    pub enabled: Option<bool>,
}

pub type Toggles = BTreeMap<String, Toggle>;

/// Whether `attr` is on: the user's toggle, else the default of Go's metadata.
pub fn on(t: &Toggles, defaults: &[(&str, bool)], attr: &str) -> bool {
    t.get(attr)
        .and_then(|x| x.enabled)
        .or_else(|| defaults.iter().find(|(n, _)| *n == attr).map(|(_, d)| *d))
        .unwrap_or(false)
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    /// In order; the first that answers names the host. Default `[dns, os]`.
    pub hostname_sources: Vec<String>,
    pub resource_attributes: Toggles,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlainDetector {
    pub resource_attributes: Toggles,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ec2Config {
    /// Regexes of instance tags to add (`ec2.tag.<key>`): accepted, not fetched (needs
    /// the EC2 API with credentials).
    pub tags: Vec<String>,
    pub tags_from_imds: bool,
    pub max_attempts: i64,
    pub max_backoff: GoDuration,
    pub fail_on_missing_metadata: bool,
    pub resource_attributes: Toggles,
}

impl Default for Ec2Config {
    fn default() -> Self {
        Ec2Config {
            tags: Vec::new(),
            tags_from_imds: false,
            max_attempts: 3,
            max_backoff: GoDuration::from_secs(20),
            fail_on_missing_metadata: false,
            resource_attributes: Toggles::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaggedDetector {
    /// Go: regexes of tags (Azure) or labels (GCP) to add; accepted, not acted on.
    pub tags: Vec<String>,
    pub labels: Vec<String>,
    pub resource_attributes: Toggles,
}

/// The processor's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP client of the cloud detectors (Go squashes `confighttp.ClientConfig`).
    #[serde(skip)]
    pub http: HttpClientConfig,
    /// Detectors in priority order: an attribute found by an earlier one wins.
    pub detectors: Vec<String>,
    /// Detected attributes replace the item's own (default true).
    #[serde(rename = "override")]
    pub override_: bool,
    /// Go `confighttp.ClientConfig.Timeout`: the budget of one detection, retries included
    /// (default 5s).
    pub timeout: GoDuration,
    /// 0 (default): detect once at start.
    pub refresh_interval: GoDuration,
    /// Go's deprecated top-level `attributes` list (keep only these): accepted, applied.
    pub attributes: Option<Vec<String>>,
    pub system: SystemConfig,
    pub docker: PlainDetector,
    pub ec2: Ec2Config,
    pub ecs: PlainDetector,
    pub gcp: TaggedDetector,
    pub azure: TaggedDetector,
    // Detectors Go has and Ferrotel does not run: their sections are accepted.
    pub alibaba_ecs: Option<ConfigValue>,
    pub eks: Option<ConfigValue>,
    pub elasticbeanstalk: Option<ConfigValue>,
    pub lambda: Option<ConfigValue>,
    pub aks: Option<ConfigValue>,
    pub consul: Option<ConfigValue>,
    pub digitalocean: Option<ConfigValue>,
    pub heroku: Option<ConfigValue>,
    pub hetzner: Option<ConfigValue>,
    pub ibmcloud_classic: Option<ConfigValue>,
    pub ibmcloud_vpc: Option<ConfigValue>,
    pub openshift: Option<ConfigValue>,
    pub nova: Option<ConfigValue>,
    pub oraclecloud: Option<ConfigValue>,
    pub k8s_api: Option<ConfigValue>,
    pub k8snode: Option<ConfigValue>,
    pub kubeadm: Option<ConfigValue>,
    pub akamai: Option<ConfigValue>,
    pub scaleway: Option<ConfigValue>,
    pub tencent_cvm: Option<ConfigValue>,
    pub upcloud: Option<ConfigValue>,
    pub vultr: Option<ConfigValue>,
    pub dynatrace: Option<ConfigValue>,
}

pipeline_api::squashed!(Config, http);

impl Default for Config {
    fn default() -> Self {
        Config {
            http: HttpClientConfig::default(),
            detectors: vec!["env".into()],
            override_: true,
            timeout: GoDuration::from_secs(5),
            refresh_interval: GoDuration::default(),
            attributes: None,
            system: SystemConfig::default(),
            docker: PlainDetector::default(),
            ec2: Ec2Config::default(),
            ecs: PlainDetector::default(),
            gcp: TaggedDetector::default(),
            azure: TaggedDetector::default(),
            alibaba_ecs: None,
            eks: None,
            elasticbeanstalk: None,
            lambda: None,
            aks: None,
            consul: None,
            digitalocean: None,
            heroku: None,
            hetzner: None,
            ibmcloud_classic: None,
            ibmcloud_vpc: None,
            openshift: None,
            nova: None,
            oraclecloud: None,
            k8s_api: None,
            k8snode: None,
            kubeadm: None,
            akamai: None,
            scaleway: None,
            tencent_cvm: None,
            upcloud: None,
            vultr: None,
            dynatrace: None,
        }
    }
}

const HOSTNAME_SOURCES: &[&str] = &["dns", "os", "cname", "lookup"];

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = self
            .http
            .validate(transport::compression::Compression::None);
        for (i, d) in self.detectors.iter().enumerate() {
            if !GO_DETECTORS.contains(&d.as_str()) {
                errors.push(ConfigError::new(
                    &["detectors", &i.to_string()],
                    format!("invalid detector key: {d}"),
                ));
            } else if !SUPPORTED.contains(&d.as_str()) {
                errors.push(ConfigError::new(
                    &["detectors", &i.to_string()],
                    format!(
                        "detector {d} is not supported by Ferrotel (supported: {})",
                        SUPPORTED.join(", ")
                    ),
                ));
            }
        }
        for s in &self.system.hostname_sources {
            if !HOSTNAME_SOURCES.contains(&s.as_str()) {
                // Go system.Config.Validate
                errors.push(ConfigError::new(
                    &["system"],
                    format!("hostname_sources contains invalid value: {s:?}"),
                ));
            }
        }
        use super::detectors as d;
        type Check<'a> = (&'a str, &'a Toggles, &'a [(&'a str, bool)]);
        let checks: [Check; 6] = [
            ("system", &self.system.resource_attributes, d::SYSTEM_ATTRS),
            ("docker", &self.docker.resource_attributes, d::DOCKER_ATTRS),
            ("ec2", &self.ec2.resource_attributes, d::EC2_ATTRS),
            ("ecs", &self.ecs.resource_attributes, d::ECS_ATTRS),
            ("gcp", &self.gcp.resource_attributes, d::GCP_ATTRS),
            ("azure", &self.azure.resource_attributes, d::AZURE_ATTRS),
        ];
        for (name, t, defaults) in checks {
            for k in t.keys() {
                if !defaults.iter().any(|(n, _)| n == k) {
                    errors.push(ConfigError::new(
                        &[name, "resource_attributes"],
                        format!("has invalid keys: {k}"),
                    ));
                }
            }
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = self.http.keys_not_acted_on(ClientOptions {
            http1_only: true,
            compresses_bodies: false,
        });
        if !self.refresh_interval.is_zero() {
            out.push((
                "refresh_interval".into(),
                "resources are detected once, at start".into(),
            ));
        }
        if !self.ec2.tags.is_empty() || self.ec2.tags_from_imds {
            out.push((
                "ec2::tags".into(),
                "EC2 instance tags are not fetched".into(),
            ));
        }
        if !self.gcp.labels.is_empty() || !self.gcp.tags.is_empty() {
            out.push(("gcp::labels".into(), "GCE labels are not fetched".into()));
        }
        if !self.azure.tags.is_empty() || !self.azure.labels.is_empty() {
            out.push(("azure::tags".into(), "Azure tags are not added".into()));
        }
        out
    }
}
