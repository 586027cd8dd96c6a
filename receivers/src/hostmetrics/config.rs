//! The `hostmetrics` receiver's config (Go `hostmetricsreceiver.Config` and each scraper's
//! `Config`, v0.155.0).

use pipeline_api::config::present;
use std::collections::BTreeMap;
use std::time::Duration;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use super::builder::Def;
use super::metadata;

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostMetricsConfig {
    /// Go `scraperhelper.ControllerConfig`: default 1m.
    pub collection_interval: GoDuration,
    /// Default 1s.
    pub initial_delay: GoDuration,
    /// Default 0 (no timeout).
    pub timeout: GoDuration,
    /// The host's root when `/proc` and `/sys` are mounted elsewhere (a container
    /// watching its host): `<root_path>/proc`, `<root_path>/sys`, `<root_path>/etc`.
    pub root_path: String,
    /// Go: interval of the host entity event logs (logs signal, development); accepted.
    pub metadata_collection_interval: GoDuration,
    pub scrapers: Scrapers,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        HostMetricsConfig {
            collection_interval: GoDuration::from_secs(60),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            root_path: String::new(),
            metadata_collection_interval: GoDuration::from_secs(300),
            scrapers: Scrapers::default(),
        }
    }
}

/// `scrapers`: a scraper runs iff its key is present (`cpu:` with no value = defaults).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scrapers {
    #[serde(deserialize_with = "present")]
    pub cpu: Option<Plain>,
    #[serde(deserialize_with = "present")]
    pub disk: Option<DiskConfig>,
    #[serde(deserialize_with = "present")]
    pub filesystem: Option<FilesystemConfig>,
    #[serde(deserialize_with = "present")]
    pub load: Option<LoadConfig>,
    #[serde(deserialize_with = "present")]
    pub memory: Option<Plain>,
    #[serde(deserialize_with = "present")]
    pub network: Option<NetworkConfig>,
    #[serde(deserialize_with = "present")]
    pub paging: Option<Plain>,
    #[serde(deserialize_with = "present")]
    pub processes: Option<Plain>,
    #[serde(deserialize_with = "present")]
    pub process: Option<ProcessConfig>,
    #[serde(deserialize_with = "present")]
    pub system: Option<Plain>,
    /// Go's `nfs` scraper (Linux, NFS client statistics): accepted, not run.
    #[serde(deserialize_with = "present")]
    pub nfs: Option<ConfigValue>,
}

impl Scrapers {
    pub fn count(&self) -> usize {
        [
            self.cpu.is_some(),
            self.disk.is_some(),
            self.filesystem.is_some(),
            self.load.is_some(),
            self.memory.is_some(),
            self.network.is_some(),
            self.paging.is_some(),
            self.processes.is_some(),
            self.process.is_some(),
            self.system.is_some(),
            self.nfs.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

/// One entry of `metrics:` (Go's generated `MetricConfig`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricToggle {
    pub enabled: Option<bool>,
    /// Go's attribute re-aggregation (experimental): accepted, not acted on.
    pub aggregation_strategy: Option<String>,
    pub attributes: Option<Vec<String>>,
}

/// One entry of `resource_attributes:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceToggle {
    pub enabled: Option<bool>,
    /// Go (experimental): filters on the attribute's value; accepted, not acted on.
    pub metrics_include: Option<ConfigValue>,
    pub metrics_exclude: Option<ConfigValue>,
}

/// `resource_attributes:` by name.
pub type ResourceToggles = BTreeMap<String, ResourceToggle>;

/// Go's generated check of `resource_attributes:`: every name one of `known` (name, on by
/// default).
pub(crate) fn check_resource_attributes(
    m: &ResourceToggles,
    known: &[(&str, bool)],
    errors: &mut Vec<ConfigError>,
) {
    for name in m.keys() {
        if !known.iter().any(|(n, _)| n == name) {
            errors.push(ConfigError::new(
                &["resource_attributes"],
                format!("has invalid keys: {name}"),
            ));
        }
    }
}

/// Whether resource attribute `name` is on: the user's `enabled`, else its default in
/// `known`.
pub(crate) fn resource_on(m: &ResourceToggles, known: &[(&str, bool)], name: &str) -> bool {
    m.get(name)
        .and_then(|t| t.enabled)
        .or_else(|| known.iter().find(|(n, _)| *n == name).map(|(_, d)| *d))
        .unwrap_or(false)
}

pub type MetricToggles = BTreeMap<String, MetricToggle>;

/// The enabled flags the user set, by metric name.
pub fn toggles(m: &MetricToggles) -> BTreeMap<String, bool> {
    m.iter()
        .filter_map(|(k, v)| v.enabled.map(|e| (k.clone(), e)))
        .collect()
}

/// Go's checks of a `metrics:` section (its generated config's): every name one of `defs`
/// (or of `accepted`, names taken without being produced), its `attributes` the metric's,
/// its `aggregation_strategy` one Go knows. Errors under `path`.
pub(crate) fn check_metrics(
    m: &MetricToggles,
    defs: &[Def],
    accepted: &[&str],
    path: &[&str],
    errors: &mut Vec<ConfigError>,
) {
    for (name, t) in m {
        if accepted.contains(&name.as_str()) {
            continue;
        }
        let Some(def) = defs.iter().find(|d| d.name == name) else {
            let mut p = path.to_vec();
            p.push("metrics");
            errors.push(ConfigError::new(&p, format!("has invalid keys: {name}")));
            continue;
        };
        if let Some(attrs) = &t.attributes {
            for a in attrs {
                if !def.attributes.contains(&a.as_str()) {
                    let mut p = path.to_vec();
                    p.extend(["metrics", name.as_str(), "attributes"]);
                    errors.push(ConfigError::new(
                        &p,
                        format!(
                            "metric {name} doesn't have an attribute {a}, valid attributes: [{}]",
                            def.attributes.join(" ")
                        ),
                    ));
                }
            }
        }
        if let Some(s) = &t.aggregation_strategy {
            if !matches!(s.as_str(), "sum" | "avg" | "min" | "max") {
                let mut p = path.to_vec();
                p.extend(["metrics", name.as_str(), "aggregation_strategy"]);
                errors.push(ConfigError::new(
                    &p,
                    format!("invalid aggregation strategy {s:?}, valid strategies: [sum, avg, min, max]"),
                ));
            }
        }
    }
}

fn unacted_metrics(m: &MetricToggles, path: &str, out: &mut Vec<(String, String)>) {
    for (name, t) in m {
        if t.aggregation_strategy.is_some() || t.attributes.is_some() {
            out.push((
                format!("{path}::metrics::{name}"),
                "attribute re-aggregation (`attributes`, `aggregation_strategy`) is not implemented; every attribute is kept".into(),
            ));
        }
    }
}

/// A scraper whose only key is `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plain {
    pub metrics: MetricToggles,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Divide the load averages by the number of logical CPUs.
    pub cpu_average: bool,
    pub metrics: MetricToggles,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    Strict,
    Regexp,
}

/// Go `filterset.Config`'s `regexp` (a match cache): accepted, matching needs no cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegexpConfig {
    pub cacheenabled: bool,
    pub cachemaxnumentries: i64,
}

macro_rules! match_config {
    ($name:ident, $field:ident) => {
        /// Go `filterset.Config` with its item list.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub match_type: Option<MatchType>,
            pub regexp: Option<RegexpConfig>,
            pub $field: Vec<String>,
        }

        impl $name {
            pub fn filter(&self) -> Result<Option<Filter>, String> {
                Filter::new(&self.$field, self.match_type)
            }
        }
    };
}

match_config!(DeviceMatch, devices);
match_config!(FsTypeMatch, fs_types);
match_config!(MountPointMatch, mount_points);
match_config!(InterfaceMatch, interfaces);
match_config!(NameMatch, names);

/// A compiled include or exclude list: `None` when the list is empty (Go: no filter).
#[derive(Debug, Clone)]
pub enum Filter {
    Strict(Vec<String>),
    /// Unanchored, as Go's `regexp.MatchString`.
    Regexp(Vec<regex::Regex>),
}

impl Filter {
    pub fn new(items: &[String], mt: Option<MatchType>) -> Result<Option<Filter>, String> {
        if items.is_empty() {
            return Ok(None);
        }
        match mt {
            Some(MatchType::Strict) => Ok(Some(Filter::Strict(items.to_vec()))),
            Some(MatchType::Regexp) => {
                let mut rs = Vec::new();
                for i in items {
                    rs.push(
                        regex::Regex::new(i)
                            .map_err(|e| format!("error parsing regexp: {i:?}: {e}"))?,
                    );
                }
                Ok(Some(Filter::Regexp(rs)))
            }
            // Go filterset.CreateFilterSet
            None => Err("unrecognized match_type: '', valid types are: [regexp strict]".into()),
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Filter::Strict(items) => items.iter().any(|i| i == s),
            Filter::Regexp(rs) => rs.iter().any(|r| r.is_match(s)),
        }
    }
}

fn check_filter(r: Result<Option<Filter>, String>, path: &[&str], errors: &mut Vec<ConfigError>) {
    if let Err(e) = r {
        errors.push(ConfigError::new(path, e));
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskConfig {
    pub include: DeviceMatch,
    pub exclude: DeviceMatch,
    pub metrics: MetricToggles,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub include: InterfaceMatch,
    pub exclude: InterfaceMatch,
    pub metrics: MetricToggles,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesystemConfig {
    /// Also report virtual filesystems (those with no device: proc, sysfs, tmpfs …).
    pub include_virtual_filesystems: bool,
    pub include_devices: DeviceMatch,
    pub exclude_devices: DeviceMatch,
    pub include_fs_types: FsTypeMatch,
    pub exclude_fs_types: FsTypeMatch,
    pub include_mount_points: MountPointMatch,
    pub exclude_mount_points: MountPointMatch,
    pub metrics: MetricToggles,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessConfig {
    pub include: NameMatch,
    pub exclude: NameMatch,
    pub mute_process_all_errors: bool,
    pub mute_process_name_error: bool,
    pub mute_process_io_error: bool,
    pub mute_process_cgroup_error: bool,
    pub mute_process_exe_error: bool,
    pub mute_process_user_error: bool,
    /// Skip processes younger than this (default 0).
    pub scrape_process_delay: GoDuration,
    pub metrics: MetricToggles,
    pub resource_attributes: BTreeMap<String, ResourceToggle>,
}

impl ComponentConfig for HostMetricsConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !self.timeout.is_zero() {
            out.push((
                "timeout".into(),
                "a scrape is not cut short; reads of /proc and /sys do not block".into(),
            ));
        }
        if self.metadata_collection_interval.get() != Duration::from_secs(300) {
            out.push((
                "metadata_collection_interval".into(),
                "the host entity events (logs signal) are not produced".into(),
            ));
        }
        let s = &self.scrapers;
        if s.nfs.is_some() {
            out.push((
                "scrapers::nfs".into(),
                "the nfs scraper is not implemented; it produces nothing".into(),
            ));
        }
        let plain = [
            ("cpu", s.cpu.as_ref().map(|c| &c.metrics)),
            ("memory", s.memory.as_ref().map(|c| &c.metrics)),
            ("paging", s.paging.as_ref().map(|c| &c.metrics)),
            ("processes", s.processes.as_ref().map(|c| &c.metrics)),
            ("system", s.system.as_ref().map(|c| &c.metrics)),
            ("load", s.load.as_ref().map(|c| &c.metrics)),
            ("disk", s.disk.as_ref().map(|c| &c.metrics)),
            ("filesystem", s.filesystem.as_ref().map(|c| &c.metrics)),
            ("network", s.network.as_ref().map(|c| &c.metrics)),
            ("process", s.process.as_ref().map(|c| &c.metrics)),
        ];
        for (name, m) in plain {
            if let Some(m) = m {
                unacted_metrics(m, &format!("scrapers::{name}"), &mut out);
            }
        }
        if let Some(p) = &s.process {
            for (k, v) in &p.resource_attributes {
                if v.metrics_include.is_some() || v.metrics_exclude.is_some() {
                    out.push((
                        format!("scrapers::process::resource_attributes::{k}"),
                        "metrics_include / metrics_exclude are not implemented".into(),
                    ));
                }
            }
        }
        out
    }
}

impl Validate for HostMetricsConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.collection_interval.get() == Duration::ZERO {
            errors.push(ConfigError::new(
                &["collection_interval"],
                "requires positive value",
            ));
        }
        if self.scrapers.count() == 0 {
            // Go hostmetricsreceiver Config.Validate
            errors.push(ConfigError::new(
                &[],
                "must specify at least one scraper when using host_metrics receiver",
            ));
        }
        if !self.root_path.is_empty() && !std::path::Path::new(&self.root_path).exists() {
            errors.push(ConfigError::new(
                &["root_path"],
                format!(
                    "invalid root_path: stat {}: no such file or directory",
                    self.root_path
                ),
            ));
        }
        let s = &self.scrapers;
        let mut m = |c: Option<&MetricToggles>, defs: &[Def], name: &str| {
            if let Some(c) = c {
                check_metrics(c, defs, &[], &["scrapers", name], &mut errors);
            }
        };
        m(s.cpu.as_ref().map(|c| &c.metrics), metadata::CPU, "cpu");
        m(
            s.memory.as_ref().map(|c| &c.metrics),
            metadata::MEMORY,
            "memory",
        );
        m(
            s.paging.as_ref().map(|c| &c.metrics),
            metadata::PAGING,
            "paging",
        );
        m(
            s.processes.as_ref().map(|c| &c.metrics),
            metadata::PROCESSES,
            "processes",
        );
        m(
            s.system.as_ref().map(|c| &c.metrics),
            metadata::SYSTEM,
            "system",
        );
        m(s.load.as_ref().map(|c| &c.metrics), metadata::LOAD, "load");
        m(s.disk.as_ref().map(|c| &c.metrics), metadata::DISK, "disk");
        m(
            s.filesystem.as_ref().map(|c| &c.metrics),
            metadata::FILESYSTEM,
            "filesystem",
        );
        m(
            s.network.as_ref().map(|c| &c.metrics),
            metadata::NETWORK,
            "network",
        );
        m(
            s.process.as_ref().map(|c| &c.metrics),
            metadata::PROCESS,
            "process",
        );
        if let Some(d) = &s.disk {
            check_filter(
                d.include.filter(),
                &["scrapers", "disk", "include"],
                &mut errors,
            );
            check_filter(
                d.exclude.filter(),
                &["scrapers", "disk", "exclude"],
                &mut errors,
            );
        }
        if let Some(n) = &s.network {
            check_filter(
                n.include.filter(),
                &["scrapers", "network", "include"],
                &mut errors,
            );
            check_filter(
                n.exclude.filter(),
                &["scrapers", "network", "exclude"],
                &mut errors,
            );
        }
        if let Some(f) = &s.filesystem {
            let p = |k: &'static str| ["scrapers", "filesystem", k];
            check_filter(
                f.include_devices.filter(),
                &p("include_devices"),
                &mut errors,
            );
            check_filter(
                f.exclude_devices.filter(),
                &p("exclude_devices"),
                &mut errors,
            );
            check_filter(
                f.include_fs_types.filter(),
                &p("include_fs_types"),
                &mut errors,
            );
            check_filter(
                f.exclude_fs_types.filter(),
                &p("exclude_fs_types"),
                &mut errors,
            );
            check_filter(
                f.include_mount_points.filter(),
                &p("include_mount_points"),
                &mut errors,
            );
            check_filter(
                f.exclude_mount_points.filter(),
                &p("exclude_mount_points"),
                &mut errors,
            );
        }
        if let Some(pr) = &s.process {
            check_filter(
                pr.include.filter(),
                &["scrapers", "process", "include"],
                &mut errors,
            );
            check_filter(
                pr.exclude.filter(),
                &["scrapers", "process", "exclude"],
                &mut errors,
            );
            for k in pr.resource_attributes.keys() {
                if !metadata::PROCESS_RESOURCE.iter().any(|(n, _)| n == k) {
                    errors.push(ConfigError::new(
                        &["scrapers", "process", "resource_attributes"],
                        format!("has invalid keys: {k}"),
                    ));
                }
            }
        }
        errors
    }
}
