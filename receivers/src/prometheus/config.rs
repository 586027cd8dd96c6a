//! The `prometheus` receiver's config: the Go collector's `prometheusreceiver.Config`, whose
//! `config` key holds a Prometheus server config (`global`, `scrape_configs`), read with
//! Prometheus' own rules: its defaults, its duration and size formats, its checks and their
//! wording.
//!
//! Go: `receiver/prometheusreceiver/config.go`; Prometheus `config/config.go`
//! (`GlobalConfig`, `ScrapeConfig`), `common/config/http_config.go` (`HTTPClientConfig`),
//! `model/relabel/relabel.go` ([`super::relabel`]), `discovery/file/file.go`.

use std::collections::BTreeMap;
use std::time::Duration;

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::ComponentConfig;
use serde::{Deserialize, Deserializer};

use super::relabel::RelabelConfig;

/// Prometheus `DefaultGlobalConfig`: scrape every minute with a 10 s timeout.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Prometheus `file.DefaultSDConfig.RefreshInterval`.
pub const DEFAULT_FILE_SD_REFRESH: Duration = Duration::from_secs(300);

/// `receivers: prometheus:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusReceiverConfig {
    /// The Prometheus config: `global`, `scrape_configs`, ….
    pub config: PromConfig,
    /// Trim the type and unit suffixes (`_total`, the `# UNIT`) from metric names.
    pub trim_metric_suffixes: bool,
    /// Go: start times from `process_start_time_seconds`. Accepted; not acted on.
    pub use_start_time_metric: bool,
    pub start_time_metric_regex: String,
    /// The OpenTelemetry Operator's target allocator: refused (see [`Validate`]).
    pub target_allocator: Option<ConfigValue>,
    /// Go's Prometheus API server for the receiver's targets: accepted; not acted on.
    pub api_server: Option<ConfigValue>,
}

/// A Prometheus duration (`model.Duration`): `1m`, `30s`, `1h30m`, `1d`, `1w`, `1y`, `500ms`,
/// `0`; no fractions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    pub fn get(self) -> Duration {
        self.0
    }
}

/// Prometheus `model.ParseDuration`.
pub fn parse_prom_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("not a valid duration string: {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    // units in the only order Prometheus accepts them
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut millis: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let pos = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(invalid)?;
        let (_, mult) = UNITS[next_unit + pos];
        next_unit += pos + 1;
        millis = n
            .checked_mul(mult)
            .and_then(|v| millis.checked_add(v))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(Duration::from_millis(millis))
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = ConfigValue::deserialize(d)?;
        let text = match &v {
            ConfigValue::String(s) => s.clone(),
            ConfigValue::Number(n) => n.to_string(),
            _ => {
                return Err(serde::de::Error::custom(
                    "a duration must be a string such as 30s",
                ))
            }
        };
        parse_prom_duration(&text)
            .map(PromDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// A size in bytes as Prometheus writes `body_size_limit` (`units.Base2Bytes`: `512KB`,
/// `10MB`, `1GiB`, `0` = no limit; every unit is a power of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t == "0" || t.is_empty() {
        return Ok(0);
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match &t[digits..] {
        "B" => 1,
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        "TB" | "TiB" => 1 << 40,
        "PB" | "PiB" => 1 << 50,
        "EB" | "EiB" => 1 << 60,
        _ => {
            return Err(format!(
                "invalid size {s:?}: expected a unit such as B, KB, MB, GB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} out of range"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = ConfigValue::deserialize(d)?;
        let text = match &v {
            ConfigValue::String(s) => s.clone(),
            ConfigValue::Number(n) => n.to_string(),
            _ => {
                return Err(serde::de::Error::custom(
                    "a size must be a string such as 10MB",
                ))
            }
        };
        parse_byte_size(&text)
            .map(ByteSize)
            .map_err(serde::de::Error::custom)
    }
}

/// `config:`: a Prometheus server config. The keys Prometheus has but the receiver does not
/// support are refused by name, as Go does.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PromConfig {
    pub global: GlobalConfig,
    pub scrape_configs: Vec<ScrapeConfig>,
    pub scrape_config_files: Vec<String>,
    pub rule_files: Vec<String>,
    pub remote_write: Vec<ConfigValue>,
    pub remote_read: Vec<ConfigValue>,
    pub alerting: Option<ConfigValue>,
    pub storage: Option<ConfigValue>,
    pub tracing: Option<ConfigValue>,
    pub otlp: Option<ConfigValue>,
    pub runtime: Option<ConfigValue>,
}

/// `config::global`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    pub scrape_interval: Option<PromDuration>,
    pub scrape_timeout: Option<PromDuration>,
    pub evaluation_interval: Option<PromDuration>,
    pub rule_query_offset: Option<PromDuration>,
    pub external_labels: BTreeMap<String, String>,
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub target_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub keep_dropped_targets: u64,
    pub scrape_protocols: Vec<String>,
    pub query_log_file: String,
    pub scrape_failure_log_file: String,
    pub metric_name_validation_scheme: String,
    pub metric_name_escaping_scheme: String,
    pub always_scrape_classic_histograms: bool,
    pub convert_classic_histograms_to_nhcb: bool,
}

impl GlobalConfig {
    /// Prometheus `GlobalConfig.UnmarshalYAML`: the interval defaults to 1m; an unset timeout is
    /// 10s, or the interval when that is shorter.
    pub fn interval(&self) -> Duration {
        self.scrape_interval
            .map(PromDuration::get)
            .unwrap_or(DEFAULT_SCRAPE_INTERVAL)
    }
    pub fn timeout(&self) -> Duration {
        match self.scrape_timeout {
            Some(t) => t.get(),
            None => DEFAULT_SCRAPE_TIMEOUT.min(self.interval()),
        }
    }
}

/// Every service discovery kind Prometheus has besides `static_configs` and
/// `file_sd_configs`: accepted by the parser so the refusal can name them.
pub const UNSUPPORTED_SD: &[&str] = &[
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "dockerswarm_sd_configs",
    "dns_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "http_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

/// One `scrape_configs` entry (Prometheus `ScrapeConfig` with its `HTTPClientConfig` inline).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub honor_labels: bool,
    pub honor_timestamps: Option<bool>,
    pub track_timestamps_staleness: bool,
    pub scrape_interval: Option<PromDuration>,
    pub scrape_timeout: Option<PromDuration>,
    pub scrape_protocols: Vec<String>,
    pub scrape_fallback_protocol: String,
    pub scrape_classic_histograms: bool,
    pub always_scrape_classic_histograms: bool,
    pub convert_classic_histograms_to_nhcb: bool,
    pub metrics_path: Option<String>,
    pub scheme: Option<String>,
    pub params: BTreeMap<String, Vec<String>>,
    pub enable_compression: Option<bool>,
    pub body_size_limit: Option<ByteSize>,
    pub sample_limit: Option<u64>,
    pub target_limit: Option<u64>,
    pub label_limit: Option<u64>,
    pub label_name_length_limit: Option<u64>,
    pub label_value_length_limit: Option<u64>,
    pub native_histogram_bucket_limit: Option<u64>,
    pub native_histogram_min_bucket_factor: Option<f64>,
    pub keep_dropped_targets: Option<u64>,
    pub metric_name_validation_scheme: String,
    pub metric_name_escaping_scheme: String,
    pub scrape_failure_log_file: String,

    pub static_configs: Vec<StaticConfig>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub docker_sd_configs: Vec<super::docker_sd::DockerSdConfig>,
    pub kubernetes_sd_configs: Vec<super::kubernetes_sd::KubernetesSdConfig>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,

    // common/config HTTPClientConfig, inline
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub bearer_token: String,
    pub bearer_token_file: String,
    pub oauth2: Option<ConfigValue>,
    pub tls_config: PromTlsConfig,
    pub proxy_url: String,
    pub no_proxy: String,
    pub proxy_from_environment: bool,
    pub proxy_connect_header: Option<ConfigValue>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub http_headers: Option<ConfigValue>,

    // every other service discovery kind: refused by name
    pub azure_sd_configs: Option<ConfigValue>,
    pub consul_sd_configs: Option<ConfigValue>,
    pub digitalocean_sd_configs: Option<ConfigValue>,
    pub dockerswarm_sd_configs: Option<ConfigValue>,
    pub dns_sd_configs: Option<ConfigValue>,
    pub ec2_sd_configs: Option<ConfigValue>,
    pub eureka_sd_configs: Option<ConfigValue>,
    pub gce_sd_configs: Option<ConfigValue>,
    pub hetzner_sd_configs: Option<ConfigValue>,
    pub http_sd_configs: Option<ConfigValue>,
    pub ionos_sd_configs: Option<ConfigValue>,
    pub kuma_sd_configs: Option<ConfigValue>,
    pub lightsail_sd_configs: Option<ConfigValue>,
    pub linode_sd_configs: Option<ConfigValue>,
    pub marathon_sd_configs: Option<ConfigValue>,
    pub nerve_sd_configs: Option<ConfigValue>,
    pub nomad_sd_configs: Option<ConfigValue>,
    pub openstack_sd_configs: Option<ConfigValue>,
    pub ovhcloud_sd_configs: Option<ConfigValue>,
    pub puppetdb_sd_configs: Option<ConfigValue>,
    pub scaleway_sd_configs: Option<ConfigValue>,
    pub serverset_sd_configs: Option<ConfigValue>,
    pub stackit_sd_configs: Option<ConfigValue>,
    pub triton_sd_configs: Option<ConfigValue>,
    pub uyuni_sd_configs: Option<ConfigValue>,
    pub vultr_sd_configs: Option<ConfigValue>,
}

impl ScrapeConfig {
    /// The service discovery kinds this job sets that Ferrotel does not run.
    pub fn unsupported_sd(&self) -> Vec<&'static str> {
        let set = [
            &self.azure_sd_configs,
            &self.consul_sd_configs,
            &self.digitalocean_sd_configs,
            &self.dockerswarm_sd_configs,
            &self.dns_sd_configs,
            &self.ec2_sd_configs,
            &self.eureka_sd_configs,
            &self.gce_sd_configs,
            &self.hetzner_sd_configs,
            &self.http_sd_configs,
            &self.ionos_sd_configs,
            &self.kuma_sd_configs,
            &self.lightsail_sd_configs,
            &self.linode_sd_configs,
            &self.marathon_sd_configs,
            &self.nerve_sd_configs,
            &self.nomad_sd_configs,
            &self.openstack_sd_configs,
            &self.ovhcloud_sd_configs,
            &self.puppetdb_sd_configs,
            &self.scaleway_sd_configs,
            &self.serverset_sd_configs,
            &self.stackit_sd_configs,
            &self.triton_sd_configs,
            &self.uyuni_sd_configs,
            &self.vultr_sd_configs,
        ];
        UNSUPPORTED_SD
            .iter()
            .zip(set)
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect()
    }

    /// The job's settings with the global ones and Prometheus' defaults filled in.
    pub fn resolved(&self, global: &GlobalConfig) -> ResolvedJob {
        let interval = self
            .scrape_interval
            .map(PromDuration::get)
            .unwrap_or_else(|| global.interval());
        let timeout = match self.scrape_timeout {
            Some(t) => t.get(),
            None => global.timeout().min(interval),
        };
        ResolvedJob {
            interval,
            timeout,
            metrics_path: self
                .metrics_path
                .clone()
                .unwrap_or_else(|| "/metrics".into()),
            scheme: self.scheme.clone().unwrap_or_else(|| "http".into()),
            honor_timestamps: self.honor_timestamps.unwrap_or(true),
            enable_compression: self.enable_compression.unwrap_or(true),
            body_size_limit: self.body_size_limit.unwrap_or(global.body_size_limit).0,
            sample_limit: self.sample_limit.unwrap_or(global.sample_limit),
            label_limit: self.label_limit.unwrap_or(global.label_limit),
            label_name_length_limit: self
                .label_name_length_limit
                .unwrap_or(global.label_name_length_limit),
            label_value_length_limit: self
                .label_value_length_limit
                .unwrap_or(global.label_value_length_limit),
        }
    }
}

/// A job's effective settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedJob {
    pub interval: Duration,
    pub timeout: Duration,
    pub metrics_path: String,
    pub scheme: String,
    pub honor_timestamps: bool,
    pub enable_compression: bool,
    pub body_size_limit: u64,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
}

/// `static_configs` entry, and the shape of a file_sd file's target groups.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    pub refresh_interval: Option<PromDuration>,
}

impl FileSdConfig {
    pub fn refresh(&self) -> Duration {
        self.refresh_interval
            .map(PromDuration::get)
            .unwrap_or(DEFAULT_FILE_SD_REFRESH)
    }
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub username_file: String,
    pub username_ref: String,
    pub password: String,
    pub password_file: String,
    pub password_ref: String,
}

/// `authorization` (type defaults to `Bearer`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: String,
    pub credentials: String,
    pub credentials_file: String,
    pub credentials_ref: String,
}

/// `tls_config` (Prometheus `common/config.TLSConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PromTlsConfig {
    pub ca: String,
    pub ca_file: String,
    pub ca_ref: String,
    pub cert: String,
    pub cert_file: String,
    pub cert_ref: String,
    pub key: String,
    pub key_file: String,
    pub key_ref: String,
    pub server_name: String,
    pub insecure_skip_verify: bool,
    pub min_version: String,
    pub max_version: String,
}

impl PromTlsConfig {
    /// The same settings as the collector's client TLS block.
    pub fn to_client(&self) -> transport::tls::TlsClientConfig {
        let version = |v: &str| match v {
            "TLS10" => "1.0".to_string(),
            "TLS11" => "1.1".to_string(),
            "TLS12" => "1.2".to_string(),
            "TLS13" => "1.3".to_string(),
            other => other.to_string(),
        };
        transport::tls::TlsClientConfig {
            insecure_skip_verify: self.insecure_skip_verify,
            server_name_override: self.server_name.clone(),
            ca_file: self.ca_file.clone(),
            ca_pem: self.ca.clone(),
            cert_file: self.cert_file.clone(),
            cert_pem: self.cert.clone(),
            key_file: self.key_file.clone(),
            key_pem: self.key.clone(),
            min_version: version(&self.min_version),
            max_version: version(&self.max_version),
            ..Default::default()
        }
    }
}

/// Prometheus `model.LabelName.IsValid` (legacy scheme).
pub fn is_valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn file_missing(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    std::fs::metadata(path).err().map(|e| e.to_string())
}

impl Validate for PrometheusReceiverConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let prom = &self.config;
        if self.target_allocator.is_some() {
            errors.push(ConfigError::new(
                &["target_allocator"],
                "the OpenTelemetry Operator's target allocator is not supported by Ferrotel; list the targets in config::scrape_configs (static_configs or file_sd_configs)",
            ));
        }
        if prom.scrape_configs.is_empty() && self.target_allocator.is_none() {
            errors.push(ConfigError::new(
                &["config"],
                "no Prometheus scrape_configs or target_allocator set",
            ));
        }
        // Go: "unsupported features", sorted
        let mut unsupported = Vec::new();
        if !prom.remote_write.is_empty() {
            unsupported.push("remote_write");
        }
        if !prom.remote_read.is_empty() {
            unsupported.push("remote_read");
        }
        if !prom.rule_files.is_empty() {
            unsupported.push("rule_files");
        }
        if let Some(alerting) = &prom.alerting {
            if alerting.get("alert_relabel_configs").is_some() {
                unsupported.push("alert_config.relabel_configs");
            }
            if alerting.get("alertmanagers").is_some() {
                unsupported.push("alert_config.alertmanagers");
            }
        }
        if !unsupported.is_empty() {
            unsupported.sort_unstable();
            errors.push(ConfigError::new(
                &["config"],
                format!("unsupported features:\n\t{}", unsupported.join("\n\t")),
            ));
        }
        if !prom.scrape_config_files.is_empty() {
            errors.push(ConfigError::new(
                &["config", "scrape_config_files"],
                "not supported by Ferrotel; put the scrape configs in config::scrape_configs",
            ));
        }
        let g = &prom.global;
        if g.timeout() > g.interval() {
            errors.push(ConfigError::new(
                &["config", "global"],
                "global scrape timeout greater than scrape interval",
            ));
        }
        for name in g.external_labels.keys() {
            if !is_valid_label_name(name) {
                errors.push(ConfigError::new(
                    &["config", "global", "external_labels"],
                    format!("{name:?} is not a valid label name"),
                ));
            }
        }
        let mut jobs = std::collections::BTreeSet::new();
        for (i, sc) in prom.scrape_configs.iter().enumerate() {
            let idx = i.to_string();
            let at = |rest: &[&str]| {
                let mut p = vec!["config", "scrape_configs", idx.as_str()];
                p.extend_from_slice(rest);
                p.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            };
            let err = |rest: &[&str], m: String| ConfigError {
                path: at(rest),
                message: m,
            };
            let job = &sc.job_name;
            if job.is_empty() {
                errors.push(err(&["job_name"], "job_name is empty".into()));
            } else if !jobs.insert(job.clone()) {
                errors.push(err(
                    &["job_name"],
                    format!("found multiple scrape configs with job name {job:?}"),
                ));
            }
            let r = sc.resolved(g);
            if r.interval.is_zero() {
                errors.push(err(
                    &["scrape_interval"],
                    format!("scrape interval must be greater than zero for scrape config with job name {job:?}"),
                ));
            }
            if r.timeout > r.interval {
                errors.push(err(
                    &["scrape_timeout"],
                    format!("scrape timeout greater than scrape interval for scrape config with job name {job:?}"),
                ));
            }
            if r.scheme != "http" && r.scheme != "https" {
                errors.push(err(
                    &["scheme"],
                    format!(
                        "unknown scheme {:?} (http and https are supported)",
                        r.scheme
                    ),
                ));
            }
            let sds = sc.unsupported_sd();
            if !sds.is_empty() {
                errors.push(err(
                    &[sds[0]],
                    format!(
                        "{} not supported by Ferrotel's prometheus receiver (static_configs, file_sd_configs, docker_sd_configs and kubernetes_sd_configs are); list the targets in static_configs or write them to a file_sd_configs file",
                        sds.join(", ")
                    ),
                ));
            }
            if sc.oauth2.is_some() {
                errors.push(err(
                    &["oauth2"],
                    "oauth2 is not supported by Ferrotel's prometheus receiver".into(),
                ));
            }
            if !sc.proxy_url.is_empty() || sc.proxy_from_environment {
                errors.push(err(
                    &["proxy_url"],
                    "proxies are not supported by Ferrotel's prometheus receiver".into(),
                ));
            }
            // common/config HTTPClientConfig.Validate
            let auth_count = [
                sc.basic_auth.is_some(),
                sc.authorization.is_some(),
                !sc.bearer_token.is_empty() || !sc.bearer_token_file.is_empty(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if auth_count > 1 {
                errors.push(err(
                    &[],
                    "at most one of basic_auth, authorization, bearer_token & bearer_token_file must be configured".into(),
                ));
            }
            if !sc.bearer_token.is_empty() && !sc.bearer_token_file.is_empty() {
                errors.push(err(
                    &["bearer_token"],
                    "at most one of bearer_token & bearer_token_file must be configured".into(),
                ));
            }
            if let Some(b) = &sc.basic_auth {
                if !b.username.is_empty() && !b.username_file.is_empty() {
                    errors.push(err(
                        &["basic_auth"],
                        "at most one of basic_auth username & username_file must be configured"
                            .into(),
                    ));
                }
                if !b.password.is_empty() && !b.password_file.is_empty() {
                    errors.push(err(
                        &["basic_auth"],
                        "at most one of basic_auth password & password_file must be configured"
                            .into(),
                    ));
                }
                if !b.username_ref.is_empty() || !b.password_ref.is_empty() {
                    errors.push(err(
                        &["basic_auth"],
                        "secret references (_ref) are not supported by Ferrotel".into(),
                    ));
                }
            }
            if let Some(a) = &sc.authorization {
                if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                    errors.push(err(
                        &["authorization"],
                        "at most one of authorization credentials & credentials_file must be configured".into(),
                    ));
                }
                if a.kind.eq_ignore_ascii_case("basic") {
                    errors.push(err(
                        &["authorization", "type"],
                        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                            .into(),
                    ));
                }
                if !a.credentials_ref.is_empty() {
                    errors.push(err(
                        &["authorization"],
                        "secret references (_ref) are not supported by Ferrotel".into(),
                    ));
                }
                if let Some(m) = file_missing(&a.credentials_file) {
                    errors.push(err(
                        &["authorization", "credentials_file"],
                        format!(
                            "error checking authorization credentials file {:?}: {m}",
                            a.credentials_file
                        ),
                    ));
                }
            }
            // Prometheus turns bearer_token_file into authorization's credentials_file, which
            // the Go receiver checks the same way
            if let Some(m) = file_missing(&sc.bearer_token_file) {
                errors.push(err(
                    &["bearer_token_file"],
                    format!(
                        "error checking authorization credentials file {:?}: {m}",
                        sc.bearer_token_file
                    ),
                ));
            }
            let tls = &sc.tls_config;
            if let Some(m) = file_missing(&tls.cert_file) {
                errors.push(err(
                    &["tls_config", "cert_file"],
                    format!("error checking client cert file {:?}: {m}", tls.cert_file),
                ));
            }
            if let Some(m) = file_missing(&tls.key_file) {
                errors.push(err(
                    &["tls_config", "key_file"],
                    format!("error checking client key file {:?}: {m}", tls.key_file),
                ));
            }
            let has_cert = !tls.cert.is_empty() || !tls.cert_file.is_empty();
            let has_key = !tls.key.is_empty() || !tls.key_file.is_empty();
            if has_cert != has_key {
                errors.push(err(
                    &["tls_config"],
                    "exactly one of key or key_file must be configured when a client certificate is configured (and the reverse)".into(),
                ));
            }
            if !tls.ca_ref.is_empty() || !tls.cert_ref.is_empty() || !tls.key_ref.is_empty() {
                errors.push(err(
                    &["tls_config"],
                    "secret references (_ref) are not supported by Ferrotel".into(),
                ));
            }
            for (j, st) in sc.static_configs.iter().enumerate() {
                for t in &st.targets {
                    if t.contains('/') {
                        errors.push(err(
                            &["static_configs", &j.to_string(), "targets"],
                            format!("{t:?} is not a valid hostname"),
                        ));
                    }
                }
            }
            for (j, f) in sc.file_sd_configs.iter().enumerate() {
                for file in &f.files {
                    let base = std::path::Path::new(file)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("");
                    let ok = [".json", ".yml", ".yaml"].iter().any(|e| base.ends_with(e));
                    if !ok {
                        errors.push(err(
                            &["file_sd_configs", &j.to_string(), "files"],
                            format!("path name {file:?} is not valid for file discovery"),
                        ));
                    }
                }
                if f.files.is_empty() {
                    errors.push(err(
                        &["file_sd_configs", &j.to_string()],
                        "file service discovery config must contain at least one path name".into(),
                    ));
                }
            }
            for (j, d) in sc.docker_sd_configs.iter().enumerate() {
                for (key, message) in d.problems() {
                    errors.push(err(&["docker_sd_configs", &j.to_string(), key], message));
                }
            }
            for (j, k) in sc.kubernetes_sd_configs.iter().enumerate() {
                let jj = j.to_string();
                for (key, message) in k.problems() {
                    let path: Vec<&str> = ["kubernetes_sd_configs", jj.as_str()]
                        .into_iter()
                        .chain(key.split("::"))
                        .collect();
                    errors.push(err(&path, message));
                }
            }
            for (key, list) in [
                ("relabel_configs", &sc.relabel_configs),
                ("metric_relabel_configs", &sc.metric_relabel_configs),
            ] {
                for (j, rc) in list.iter().enumerate() {
                    let jj = j.to_string();
                    for m in rc.validate() {
                        errors.push(err(&[key, &jj], m));
                    }
                    if key == "metric_relabel_configs" && rc.target_label == "__name__" {
                        errors.push(err(
                            &[key, &jj, "target_label"],
                            format!("error validating scrapeconfig for job {job}: renaming metrics is not supported"),
                        ));
                    }
                }
            }
        }
        errors
    }
}

impl ComponentConfig for PrometheusReceiverConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.use_start_time_metric {
            out.push((
                "use_start_time_metric".into(),
                "start times come from the first scrape of a series (or _created)".into(),
            ));
        }
        if !self.start_time_metric_regex.is_empty() {
            out.push((
                "start_time_metric_regex".into(),
                "use_start_time_metric is not supported".into(),
            ));
        }
        if self.api_server.is_some() {
            out.push((
                "api_server".into(),
                "Ferrotel serves no Prometheus API for the receiver".into(),
            ));
        }
        let g = &self.config.global;
        let p = &self.config;
        let mut note = |key: String, set: bool, why: &str| {
            if set {
                out.push((key, why.to_string()));
            }
        };
        for (key, set) in [
            ("storage", p.storage.is_some()),
            ("tracing", p.tracing.is_some()),
            ("otlp", p.otlp.is_some()),
            ("runtime", p.runtime.is_some()),
        ] {
            note(
                format!("config::{key}"),
                set,
                "a Prometheus server setting; the receiver has no use for it",
            );
        }
        for (key, set) in [
            ("evaluation_interval", g.evaluation_interval.is_some()),
            ("rule_query_offset", g.rule_query_offset.is_some()),
            ("query_log_file", !g.query_log_file.is_empty()),
        ] {
            note(
                format!("config::global::{key}"),
                set,
                "the receiver evaluates no rules and answers no queries",
            );
        }
        for (key, set) in [
            ("scrape_protocols", !g.scrape_protocols.is_empty()),
            ("target_limit", g.target_limit != 0),
            ("keep_dropped_targets", g.keep_dropped_targets != 0),
            (
                "scrape_failure_log_file",
                !g.scrape_failure_log_file.is_empty(),
            ),
            (
                "metric_name_validation_scheme",
                !g.metric_name_validation_scheme.is_empty(),
            ),
            (
                "metric_name_escaping_scheme",
                !g.metric_name_escaping_scheme.is_empty(),
            ),
            (
                "always_scrape_classic_histograms",
                g.always_scrape_classic_histograms,
            ),
            (
                "convert_classic_histograms_to_nhcb",
                g.convert_classic_histograms_to_nhcb,
            ),
        ] {
            note(
                format!("config::global::{key}"),
                set,
                "not supported by Ferrotel's prometheus receiver yet",
            );
        }
        for (i, sc) in self.config.scrape_configs.iter().enumerate() {
            for (key, set) in [
                ("http_headers", sc.http_headers.is_some()),
                ("track_timestamps_staleness", sc.track_timestamps_staleness),
                ("scrape_protocols", !sc.scrape_protocols.is_empty()),
                (
                    "scrape_fallback_protocol",
                    !sc.scrape_fallback_protocol.is_empty(),
                ),
                ("scrape_classic_histograms", sc.scrape_classic_histograms),
                (
                    "always_scrape_classic_histograms",
                    sc.always_scrape_classic_histograms,
                ),
                (
                    "convert_classic_histograms_to_nhcb",
                    sc.convert_classic_histograms_to_nhcb,
                ),
                ("target_limit", sc.target_limit.is_some()),
                ("keep_dropped_targets", sc.keep_dropped_targets.is_some()),
                (
                    "native_histogram_bucket_limit",
                    sc.native_histogram_bucket_limit.is_some(),
                ),
                (
                    "native_histogram_min_bucket_factor",
                    sc.native_histogram_min_bucket_factor.is_some(),
                ),
                (
                    "metric_name_validation_scheme",
                    !sc.metric_name_validation_scheme.is_empty(),
                ),
                (
                    "metric_name_escaping_scheme",
                    !sc.metric_name_escaping_scheme.is_empty(),
                ),
                (
                    "scrape_failure_log_file",
                    !sc.scrape_failure_log_file.is_empty(),
                ),
                ("no_proxy", !sc.no_proxy.is_empty()),
                ("proxy_connect_header", sc.proxy_connect_header.is_some()),
                ("enable_http2", sc.enable_http2.is_some()),
            ] {
                note(
                    format!("config::scrape_configs::{i}::{key}"),
                    set,
                    "not supported by Ferrotel's prometheus receiver yet",
                );
            }
        }
        out
    }
}
