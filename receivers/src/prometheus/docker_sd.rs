//! `docker_sd_configs`: targets from the Docker Engine API, as Prometheus' Docker service
//! discovery (`discovery/moby/docker.go`) makes them. Every `refresh_interval` the running
//! containers (with the configured `filters`) and the networks are listed; each container
//! gives one target per network (only the first by name with `match_first_network`) and per
//! TCP port, `<network ip>:<private port>`, or `<network ip>:<port>` when it exposes none
//! (`host_networking_host` for a container on the host network), labelled with the
//! `__meta_docker_*` labels relabelling reads.

use std::collections::BTreeMap;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pipeline_api::config::ConfigValue;
use serde::Deserialize;
use serde_json::Value;

use super::config::PromDuration;
use super::targets::TargetGroup;
use crate::docker_stats::engine::Engine;

/// Prometheus' defaults: port 80, every 60 s, the first network.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// A `docker_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerSdConfig {
    /// The engine: `unix:///var/run/docker.sock`, `tcp://host:port` or `http://host:port`.
    pub host: String,
    pub port: u16,
    pub filters: Vec<DockerFilter>,
    pub host_networking_host: String,
    pub refresh_interval: Option<PromDuration>,
    pub match_first_network: bool,
    // the inline HTTP client settings: an engine over TLS or behind auth is not reached
    pub basic_auth: Option<ConfigValue>,
    pub authorization: Option<ConfigValue>,
    pub oauth2: Option<ConfigValue>,
    pub tls_config: Option<ConfigValue>,
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<String>,
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<ConfigValue>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub http_headers: Option<ConfigValue>,
}

impl Default for DockerSdConfig {
    fn default() -> Self {
        DockerSdConfig {
            host: String::new(),
            port: 80,
            filters: Vec::new(),
            host_networking_host: "localhost".into(),
            refresh_interval: None,
            match_first_network: true,
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: None,
            bearer_token: None,
            bearer_token_file: None,
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: None,
            proxy_connect_header: None,
            follow_redirects: None,
            enable_http2: None,
            http_headers: None,
        }
    }
}

/// One `filters` entry: an Engine API list filter (`label`, `name`, `network`, ...).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DockerFilter {
    pub name: String,
    pub values: Vec<String>,
}

impl DockerSdConfig {
    pub fn refresh(&self) -> Duration {
        self.refresh_interval
            .map(PromDuration::get)
            .unwrap_or(DEFAULT_REFRESH)
    }

    /// What is wrong with it, as `(key, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.host.is_empty() {
            out.push(("host", "host missing".to_string()));
        } else if self.host.starts_with("https://") {
            out.push((
                "host",
                format!(
                    "{:?}: an engine over TLS is not supported by Ferrotel's docker_sd_configs (unix://, tcp:// and http:// are)",
                    self.host
                ),
            ));
        } else if let Err(e) = crate::docker_stats::engine::Target::parse(&self.host) {
            out.push(("host", e));
        }
        let unsupported = [
            ("basic_auth", self.basic_auth.is_some()),
            ("authorization", self.authorization.is_some()),
            ("oauth2", self.oauth2.is_some()),
            ("tls_config", self.tls_config.is_some()),
            ("bearer_token", self.bearer_token.is_some()),
            ("bearer_token_file", self.bearer_token_file.is_some()),
            ("proxy_url", self.proxy_url.is_some()),
            ("http_headers", self.http_headers.is_some()),
        ];
        for (key, set) in unsupported {
            if set {
                out.push((
                    key,
                    format!("{key} is not supported by Ferrotel's docker_sd_configs: reach the engine over its Unix socket or plain TCP"),
                ));
            }
        }
        out
    }

    /// The engine client for this config (`problems` is empty).
    pub fn engine(&self, timeout: Duration) -> Result<Engine, String> {
        Engine::new(&self.host, "", timeout)
    }

    /// The list path with the filters as the Engine API takes them (`filters={"label":[..]}`).
    pub fn containers_path(&self) -> String {
        let mut filters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for f in &self.filters {
            filters
                .entry(f.name.as_str())
                .or_default()
                .extend(f.values.iter().map(String::as_str));
        }
        if filters.is_empty() {
            return "/containers/json".into();
        }
        let json = serde_json::to_string(&filters).unwrap_or_default();
        format!(
            "/containers/json?filters={}",
            utf8_percent_encode(&json, QUERY_VALUE)
        )
    }
}

/// What stays as it is in a query value: RFC 3986's unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Prometheus `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` as `_`.
pub(super) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `host:port`, with brackets around an IPv6 host (Go `net.JoinHostPort`).
pub(super) fn join_host_port(host: &str, port: u64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The target groups (one per target) of an Engine API container list and network list.
pub fn groups(cfg: &DockerSdConfig, containers: &Value, networks: &Value) -> Vec<TargetGroup> {
    const P: &str = "__meta_docker_";
    let mut network_labels: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for n in networks.as_array().into_iter().flatten() {
        let mut l = BTreeMap::new();
        l.insert(format!("{P}network_id"), str_of(n, "Id").to_string());
        l.insert(format!("{P}network_name"), str_of(n, "Name").to_string());
        l.insert(format!("{P}network_scope"), str_of(n, "Scope").to_string());
        let flag = |k: &str| {
            n.get(k)
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string()
        };
        l.insert(format!("{P}network_internal"), flag("Internal"));
        l.insert(format!("{P}network_ingress"), flag("Ingress"));
        for (k, v) in n
            .get("Labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            l.insert(
                format!("{P}network_label_{}", sanitize(k)),
                v.as_str().unwrap_or("").to_string(),
            );
        }
        network_labels.insert(str_of(n, "Id"), l);
    }
    let all: Vec<&Value> = containers.as_array().into_iter().flatten().collect();
    let by_id: BTreeMap<&str, &Value> = all.iter().map(|c| (str_of(c, "Id"), *c)).collect();
    let mode_of = |c: &Value| -> String {
        c.get("HostConfig")
            .map(|h| str_of(h, "NetworkMode").to_string())
            .unwrap_or_default()
    };
    let networks_of = |c: &Value| -> Vec<(String, Value)> {
        c.get("NetworkSettings")
            .and_then(|s| s.get("Networks"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for c in &all {
        let Some(name) = c
            .get("Names")
            .and_then(Value::as_array)
            .and_then(|n| n.first())
            .and_then(Value::as_str)
        else {
            continue;
        };
        let mode = mode_of(c);
        let mut common = BTreeMap::new();
        common.insert(format!("{P}container_id"), str_of(c, "Id").to_string());
        common.insert(format!("{P}container_name"), name.to_string());
        common.insert(format!("{P}container_network_mode"), mode.clone());
        for (k, v) in c
            .get("Labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            common.insert(
                format!("{P}container_label_{}", sanitize(k)),
                v.as_str().unwrap_or("").to_string(),
            );
        }
        let mut networks = networks_of(c);
        if networks.is_empty() {
            // `container:<id>` mode: the networks of the container it shares
            let mut m = mode.clone();
            while let Some(other) = m.strip_prefix("container:") {
                let Some(o) = by_id.get(other) else { break };
                networks = networks_of(o);
                m = mode_of(o);
                if !networks.is_empty() {
                    break;
                }
            }
        }
        if cfg.match_first_network && networks.len() > 1 {
            networks.sort_by(|a, b| a.0.cmp(&b.0));
            networks.truncate(1);
        }
        for (_, n) in &networks {
            let ip = str_of(n, "IPAddress");
            let mut base = common.clone();
            base.insert(format!("{P}network_ip"), ip.to_string());
            if let Some(l) = network_labels.get(str_of(n, "NetworkID")) {
                base.extend(l.clone());
            }
            let mut added = false;
            for p in c
                .get("Ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if str_of(p, "Type") != "tcp" {
                    continue;
                }
                let private = p.get("PrivatePort").and_then(Value::as_u64).unwrap_or(0);
                let mut labels = base.clone();
                labels.insert(format!("{P}port_private"), private.to_string());
                let public = p.get("PublicPort").and_then(Value::as_u64).unwrap_or(0);
                if public > 0 {
                    labels.insert(format!("{P}port_public"), public.to_string());
                    labels.insert(format!("{P}port_public_ip"), str_of(p, "IP").to_string());
                }
                out.push(TargetGroup {
                    targets: vec![join_host_port(ip, private)],
                    labels,
                });
                added = true;
            }
            if !added {
                let address = if mode == "host" {
                    cfg.host_networking_host.clone()
                } else {
                    join_host_port(ip, cfg.port as u64)
                };
                out.push(TargetGroup {
                    targets: vec![address],
                    labels: base,
                });
            }
        }
    }
    out
}

/// One `docker_sd_configs` entry's state: its engine, when it was last listed, what it gave.
pub struct DockerSdState {
    pub config: DockerSdConfig,
    engine: Option<Engine>,
    last: Option<std::time::Instant>,
    pub groups: Vec<TargetGroup>,
    /// The last refresh failed (logged once until it works again).
    failing: bool,
}

impl DockerSdState {
    pub fn new(config: DockerSdConfig) -> DockerSdState {
        // Prometheus bounds a refresh by the interval
        let engine = config.engine(config.refresh()).ok();
        DockerSdState {
            config,
            engine,
            last: None,
            groups: Vec::new(),
            failing: false,
        }
    }

    /// List again when `refresh_interval` passed; `true` when the groups changed. A failed
    /// refresh keeps the last groups (as Prometheus' refresh discovery does) and is logged
    /// once per change of state.
    pub async fn poll(&mut self, receiver: &pipeline_api::ComponentId, job: &str) -> bool {
        if self
            .last
            .is_some_and(|t| t.elapsed() < self.config.refresh())
        {
            return false;
        }
        self.last = Some(std::time::Instant::now());
        let Some(engine) = &self.engine else {
            return false;
        };
        let listed = async {
            let containers = engine.get(&self.config.containers_path()).await?;
            let networks = engine.get("/networks").await?;
            Ok::<_, String>((containers, networks))
        }
        .await;
        match listed {
            Ok((containers, networks)) => {
                if self.failing {
                    tracing::info!(receiver = %receiver, scrape_pool = %job, "Docker service discovery works again");
                    self.failing = false;
                }
                let groups = groups(&self.config, &containers, &networks);
                if groups == self.groups {
                    return false;
                }
                self.groups = groups;
                true
            }
            Err(e) => {
                if !self.failing {
                    tracing::error!(receiver = %receiver, scrape_pool = %job, error = %e, "Unable to refresh target groups (docker_sd_configs); keeping the last targets");
                    self.failing = true;
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> DockerSdConfig {
        DockerSdConfig {
            host: "unix:///var/run/docker.sock".into(),
            ..Default::default()
        }
    }

    fn networks() -> Value {
        json!([
            {"Id": "n1", "Name": "bridge", "Scope": "local", "Internal": false, "Ingress": false, "Labels": {}},
            {"Id": "n2", "Name": "app", "Scope": "local", "Internal": true, "Ingress": false, "Labels": {"com.example.tier": "back"}}
        ])
    }

    /// The shapes Prometheus' tests describe: a target per TCP port, the fallback port,
    /// host networking, a shared network namespace, and the first network only.
    #[test]
    fn containers_become_targets_with_the_meta_labels() {
        let containers = json!([
            {"Id": "c1", "Names": ["/web"], "Labels": {"com.docker.compose.service": "web", "prometheus.io-port": "8080"},
             "HostConfig": {"NetworkMode": "bridge"},
             "NetworkSettings": {"Networks": {"bridge": {"NetworkID": "n1", "IPAddress": "172.17.0.2"}}},
             "Ports": [{"PrivatePort": 8080, "PublicPort": 18080, "IP": "0.0.0.0", "Type": "tcp"},
                       {"PrivatePort": 53, "Type": "udp"}]},
            {"Id": "c2", "Names": ["/worker"], "Labels": {},
             "HostConfig": {"NetworkMode": "app"},
             "NetworkSettings": {"Networks": {"bridge": {"NetworkID": "n1", "IPAddress": "172.17.0.3"},
                                              "app": {"NetworkID": "n2", "IPAddress": "10.0.0.3"}}},
             "Ports": []},
            {"Id": "c3", "Names": ["/host-agent"], "Labels": {},
             "HostConfig": {"NetworkMode": "host"},
             "NetworkSettings": {"Networks": {"host": {"NetworkID": "n3", "IPAddress": ""}}},
             "Ports": []},
            {"Id": "c4", "Names": ["/sidecar"], "Labels": {},
             "HostConfig": {"NetworkMode": "container:c1"},
             "NetworkSettings": {"Networks": {}},
             "Ports": []},
            {"Id": "c5", "Names": [], "Labels": {}}
        ]);
        let g = groups(&cfg(), &containers, &networks());
        let by_target: BTreeMap<&str, &BTreeMap<String, String>> = g
            .iter()
            .map(|g| (g.targets[0].as_str(), &g.labels))
            .collect();
        assert_eq!(g.len(), 4, "{g:#?}");
        let web = by_target["172.17.0.2:8080"];
        assert_eq!(web["__meta_docker_container_name"], "/web");
        assert_eq!(
            web["__meta_docker_container_label_com_docker_compose_service"],
            "web"
        );
        assert_eq!(
            web["__meta_docker_container_label_prometheus_io_port"],
            "8080"
        );
        assert_eq!(web["__meta_docker_port_private"], "8080");
        assert_eq!(web["__meta_docker_port_public"], "18080");
        assert_eq!(web["__meta_docker_port_public_ip"], "0.0.0.0");
        assert_eq!(web["__meta_docker_network_name"], "bridge");
        assert_eq!(web["__meta_docker_network_internal"], "false");
        assert_eq!(web["__meta_docker_container_network_mode"], "bridge");
        // no TCP port: the configured port; two networks: the first by name ("app")
        let worker = by_target["10.0.0.3:80"];
        assert_eq!(
            worker["__meta_docker_network_label_com_example_tier"],
            "back"
        );
        assert!(!worker.contains_key("__meta_docker_port_private"));
        // host networking: host_networking_host
        assert_eq!(by_target["localhost"]["__meta_docker_container_id"], "c3");
        // a shared network namespace: c1's network and ports of its own (none: port 80)
        let sidecar = by_target["172.17.0.2:80"];
        assert_eq!(sidecar["__meta_docker_container_name"], "/sidecar");
        // every network with match_first_network: false
        let all = DockerSdConfig {
            match_first_network: false,
            ..cfg()
        };
        assert_eq!(groups(&all, &containers, &networks()).len(), 5);
    }

    #[test]
    fn filters_go_to_the_engine_as_its_list_filter() {
        let c = DockerSdConfig {
            filters: vec![
                DockerFilter {
                    name: "label".into(),
                    values: vec!["a=b".into(), "c".into()],
                },
                DockerFilter {
                    name: "status".into(),
                    values: vec!["running".into()],
                },
            ],
            ..cfg()
        };
        let path = c.containers_path();
        let query = path.strip_prefix("/containers/json?filters=").unwrap();
        let mut decoded = Vec::new();
        let b = query.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                decoded.push(u8::from_str_radix(&query[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                decoded.push(b[i]);
                i += 1;
            }
        }
        let v: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(v, json!({"label": ["a=b", "c"], "status": ["running"]}));
        assert_eq!(cfg().containers_path(), "/containers/json");
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let p = DockerSdConfig::default().problems();
        assert_eq!(p, vec![("host", "host missing".to_string())]);
        let p = DockerSdConfig {
            host: "https://engine:2376".into(),
            tls_config: Some(ConfigValue::Null),
            ..Default::default()
        }
        .problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].1.contains("TLS"), "{p:?}");
        assert_eq!(p[1].0, "tls_config");
    }
}
