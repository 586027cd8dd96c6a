//! `kubernetes_sd_configs`: targets from the Kubernetes API, as Prometheus' Kubernetes
//! discovery (`discovery/kubernetes`) makes them. Each config keeps the objects its role
//! needs (pods, nodes, services, endpoints, endpoint slices, ingresses; nodes, namespaces,
//! ReplicaSets and Jobs for `attach_metadata`) by list and watch in each namespace it names, through
//! `transport::kube`; the job's manager asks it for its target groups when they changed
//! (`roles.rs` makes them from the objects, with the `__meta_kubernetes_*` labels).

pub mod objects;
pub mod roles;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pipeline_api::config::ConfigValue;
use pipeline_api::{CancellationToken, ComponentId};
use serde::Deserialize;
use transport::kube::{Api, Event, Meta, Object, Watch};

use super::config::{Authorization, BasicAuth, PromTlsConfig};
use super::targets::TargetGroup;
use objects::{EndpointSlice, Endpoints, Ingress, Node, Pod, Service};

/// A role: what kind of object gives the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Pod,
    Node,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "pod" => Role::Pod,
            "node" => Role::Node,
            "service" => Role::Service,
            "endpoints" => Role::Endpoints,
            "endpointslice" => Role::EndpointSlice,
            "ingress" => Role::Ingress,
            _ => return None,
        })
    }

    /// The selector roles a config of this role takes, in Prometheus' order.
    fn selector_roles(self) -> &'static [&'static str] {
        match self {
            Role::Pod => &["pod", "node"],
            Role::Node => &["node"],
            Role::Service => &["service"],
            Role::Endpoints => &["pod", "service", "endpoints"],
            Role::EndpointSlice => &["pod", "service", "endpointslice"],
            Role::Ingress => &["ingress"],
        }
    }
}

/// A `kubernetes_sd_configs` entry (Prometheus `kubernetes.SDConfig`, its HTTP client config
/// inline).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesSdConfig {
    pub api_server: Option<String>,
    pub role: String,
    pub kubeconfig_file: String,
    pub namespaces: Namespaces,
    pub selectors: Vec<Selector>,
    pub attach_metadata: AttachMetadata,

    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub bearer_token: String,
    pub bearer_token_file: String,
    pub oauth2: Option<ConfigValue>,
    pub tls_config: Option<PromTlsConfig>,
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<ConfigValue>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub http_headers: Option<ConfigValue>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Namespaces {
    pub own_namespace: bool,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Selector {
    pub role: String,
    pub label: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AttachMetadata {
    pub node: bool,
    pub namespace: bool,
    /// A pod's Deployment (through its ReplicaSet), Job, and CronJob (through its Job).
    pub deployment: bool,
    pub job: bool,
    pub cronjob: bool,
}

impl KubernetesSdConfig {
    /// An HTTP client setting other than Prometheus' defaults.
    fn custom_http(&self) -> bool {
        self.basic_auth.is_some()
            || self.authorization.is_some()
            || !self.bearer_token.is_empty()
            || !self.bearer_token_file.is_empty()
            || self.oauth2.is_some()
            || self
                .tls_config
                .as_ref()
                .is_some_and(|t| *t != PromTlsConfig::default())
            || self.proxy_url.as_deref().is_some_and(|p| !p.is_empty())
            || self.no_proxy.as_deref().is_some_and(|p| !p.is_empty())
            || self.proxy_from_environment == Some(true)
            || self.proxy_connect_header.is_some()
            || self.follow_redirects == Some(false)
            || self.enable_http2 == Some(false)
            || self.http_headers.is_some()
    }

    /// What is wrong with it, as `(key, message)`: Prometheus' checks and messages, in its
    /// order, and the HTTP client settings Ferrotel does not act on.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut push = |key: &str, message: String| out.push((key.to_string(), message));
        let role = Role::parse(&self.role);
        if self.role.is_empty() {
            push(
                "role",
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
                    .into(),
            );
        } else if role.is_none() {
            push(
                "role",
                format!("unknown Kubernetes SD role {:?}", self.role),
            );
        }
        // prometheus/common's HTTPClientConfig.Validate
        let bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        if !self.bearer_token.is_empty() && !self.bearer_token_file.is_empty() {
            push(
                "bearer_token",
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if self.basic_auth.is_some() && (self.oauth2.is_some() || bearer) {
            push(
                "basic_auth",
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if self.authorization.is_some() && bearer {
            push(
                "authorization",
                "authorization is not compatible with bearer_token & bearer_token_file".into(),
            );
        }
        if self.authorization.is_some() && (self.basic_auth.is_some() || self.oauth2.is_some()) {
            push(
                "authorization",
                "at most one of basic_auth, oauth2 & authorization must be configured".into(),
            );
        }
        let api_server = self.api_server.as_deref().filter(|s| !s.is_empty());
        if let Some(a) = api_server {
            if let Err(e) = reqwest::Url::parse(&base_url(a)) {
                push("api_server", format!("{a:?}: {e}"));
            }
        }
        let kubeconfig = !self.kubeconfig_file.is_empty();
        if api_server.is_some() && kubeconfig {
            push(
                "kubeconfig_file",
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously".into(),
            );
        }
        if kubeconfig && self.custom_http() {
            push(
                "kubeconfig_file",
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                    .into(),
            );
        }
        if api_server.is_none() && self.custom_http() {
            push(
                "api_server",
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly".into(),
            );
        }
        if api_server.is_some() && self.namespaces.own_namespace {
            push(
                "namespaces",
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if kubeconfig && self.namespaces.own_namespace {
            push(
                "namespaces",
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        let mut seen = Vec::new();
        for (i, s) in self.selectors.iter().enumerate() {
            let key = format!("selectors::{i}");
            if !s.role.is_empty() && Role::parse(&s.role).is_none() {
                push(&key, format!("unknown Kubernetes SD role {:?}", s.role));
                continue;
            }
            if seen.contains(&s.role) {
                push(&key, format!("duplicated selector role: {}", s.role));
            }
            seen.push(s.role.clone());
            if let Some(role) = role {
                let allowed = role.selector_roles();
                if !allowed.contains(&s.role.as_str()) {
                    push(
                        &key,
                        format!(
                            "{} role supports only {} selectors",
                            self.role,
                            allowed.join(", ")
                        ),
                    );
                }
            }
            if let Err(e) = check_field_selector(&s.field) {
                push(&key, e);
            }
            if let Err(e) = check_label_selector(&s.label) {
                push(&key, e);
            }
        }
        // the Go receiver's own check of the files its HTTP client config names
        let missing = |p: &str| -> Option<String> {
            (!p.is_empty())
                .then(|| std::fs::metadata(p).err().map(|e| e.to_string()))
                .flatten()
        };
        // bearer_token_file becomes authorization's credentials_file in Prometheus
        if let Some(e) = missing(&self.bearer_token_file) {
            push(
                "bearer_token_file",
                format!(
                    "error checking authorization credentials file {:?}: {e}",
                    self.bearer_token_file
                ),
            );
        }
        if let Some(a) = &self.authorization {
            if let Some(e) = missing(&a.credentials_file) {
                push(
                    "authorization",
                    format!(
                        "error checking authorization credentials file {:?}: {e}",
                        a.credentials_file
                    ),
                );
            }
        }
        if let Some(t) = &self.tls_config {
            if let Some(e) = missing(&t.cert_file) {
                push(
                    "tls_config",
                    format!("error checking client cert file {:?}: {e}", t.cert_file),
                );
            }
            if let Some(e) = missing(&t.key_file) {
                push(
                    "tls_config",
                    format!("error checking client key file {:?}: {e}", t.key_file),
                );
            }
        }
        for (key, set) in [
            ("oauth2", self.oauth2.is_some()),
            (
                "proxy_url",
                self.proxy_url.as_deref().is_some_and(|p| !p.is_empty())
                    || self.proxy_from_environment == Some(true),
            ),
            ("http_headers", self.http_headers.is_some()),
        ] {
            if set {
                push(
                    key,
                    format!("{key} is not supported by Ferrotel's kubernetes_sd_configs"),
                );
            }
        }
        out
    }

    /// The namespaces to watch (`""`: all), Prometheus `getNamespaces`.
    fn namespaces(&self, sa_dir: &Path) -> Result<Vec<String>, String> {
        let mut names = self.namespaces.names.clone();
        if self.namespaces.own_namespace {
            let path = sa_dir.join("namespace");
            let own = std::fs::read_to_string(&path)
                .map_err(|e| format!("could not determine the pod's namespace: {e}"))?;
            // the file holds the name alone; a stray newline would only make a bad path
            let own = own.trim();
            if own.is_empty() {
                return Err("could not read own namespace name (empty file)".into());
            }
            names.push(own.to_string());
        }
        if names.is_empty() {
            names.push(String::new());
        }
        Ok(names)
    }

    /// The API client: the kubeconfig file's current context, the `api_server` with the
    /// HTTP client config, or the pod's service account (in-cluster).
    fn api(&self, sa_dir: &Path) -> Result<Api, String> {
        if !self.kubeconfig_file.is_empty() {
            return Api::from_kubeconfig(Path::new(&self.kubeconfig_file), "");
        }
        match self.api_server.as_deref().filter(|s| !s.is_empty()) {
            None => Api::new("serviceAccount", "", sa_dir),
            Some(server) => {
                let (basic, authz, token, token_file) = (
                    self.basic_auth.clone(),
                    self.authorization.clone(),
                    self.bearer_token.clone(),
                    self.bearer_token_file.clone(),
                );
                let tls = self.tls_config.clone().unwrap_or_default().to_client();
                Api::with_authorize(
                    base_url(server),
                    &tls,
                    Arc::new(move |req| {
                        super::scrape::authorize(req, &basic, &authz, &token, &token_file)
                    }),
                )
            }
        }
    }

    fn selector(&self, role: &str) -> (String, String) {
        self.selectors
            .iter()
            .find(|s| s.role == role)
            .map(|s| (s.label.clone(), s.field.clone()))
            .unwrap_or_default()
    }
}

/// A server without a scheme is reached over plain HTTP (client-go's default for a config
/// without TLS settings).
fn base_url(server: &str) -> String {
    if server.contains("://") {
        server.trim_end_matches('/').to_string()
    } else {
        format!("http://{}", server.trim_end_matches('/'))
    }
}

/// Kubernetes `fields.ParseSelector`: `key=value`, `key==value` or `key!=value` terms,
/// comma-separated (`\` escapes).
fn check_field_selector(s: &str) -> Result<(), String> {
    for term in split_unescaped(s, ',') {
        if term.is_empty() {
            continue;
        }
        let ok = ["!=", "==", "="].iter().any(|op| term.contains(op));
        if !ok {
            return Err(format!(
                "invalid selector: '{s}'; can't understand '{term}'"
            ));
        }
    }
    Ok(())
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            out.last_mut().unwrap().push(c);
            escaped = false;
        } else if c == '\\' {
            out.last_mut().unwrap().push(c);
            escaped = true;
        } else if c == sep {
            out.push(String::new());
        } else {
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

/// Kubernetes `labels.Parse`, the common forms: `key`, `!key`, `key=value`, `key==value`,
/// `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key>1`, `key<1`; keys are qualified
/// names (an optional DNS prefix and `/`).
fn check_label_selector(s: &str) -> Result<(), String> {
    let mut rest = s.trim();
    while !rest.is_empty() {
        // one requirement: up to a comma outside parentheses
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => return true,
                    _ => {}
                }
                false
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let req = rest[..end].trim();
        check_requirement(req).map_err(|e| format!("unable to parse requirement: {e}"))?;
        rest = rest.get(end + 1..).unwrap_or("").trim();
        if end < s.len() && rest.is_empty() && s.trim_end().ends_with(',') {
            return Err("found '', expected: identifier".into());
        }
    }
    Ok(())
}

fn check_requirement(req: &str) -> Result<(), String> {
    let valid_key = |k: &str| {
        let (prefix, name) = match k.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, k),
        };
        let name_ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        let prefix_ok = prefix.is_none_or(|p| {
            !p.is_empty()
                && p.len() <= 253
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
        });
        name_ok && prefix_ok
    };
    let key_err = |k: &str| format!("invalid label key {k:?}");
    if req.is_empty() {
        return Err("found '', expected: !, identifier, or 'end of string'".into());
    }
    if let Some(k) = req.strip_prefix('!') {
        let k = k.trim();
        return if valid_key(k) {
            Ok(())
        } else {
            Err(key_err(k))
        };
    }
    for op in ["!=", "==", "=", ">", "<"] {
        if let Some((k, _v)) = req.split_once(op) {
            let k = k.trim();
            return if valid_key(k) {
                Ok(())
            } else {
                Err(key_err(k))
            };
        }
    }
    let words: Vec<&str> = req.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim_start();
        for op in ["notin", "in"] {
            if let Some(set) = rest.strip_prefix(op) {
                let set = set.trim();
                if !(set.starts_with('(') && set.ends_with(')')) {
                    return Err(format!("found {set:?}, expected: '('"));
                }
                return if valid_key(words[0]) {
                    Ok(())
                } else {
                    Err(key_err(words[0]))
                };
            }
        }
        return Err(format!(
            "found {rest:?}, expected: in, notin, =, ==, !=, gt, lt"
        ));
    }
    if valid_key(req) {
        Ok(())
    } else {
        Err(key_err(req))
    }
}

/// The objects of one kind, by namespace and name.
pub struct Coll<T> {
    by_key: BTreeMap<(String, String), T>,
}

impl<T> Default for Coll<T> {
    fn default() -> Self {
        Coll {
            by_key: BTreeMap::new(),
        }
    }
}

impl<T: Object> Coll<T> {
    /// A watch's change; `scope` is the namespace watched (`""`: all).
    pub fn apply(&mut self, scope: &str, event: Event<T>) {
        let key = |o: &T| (o.meta().namespace.clone(), o.meta().name.clone());
        match event {
            Event::Replace(items) => {
                self.by_key
                    .retain(|(ns, _), _| !scope.is_empty() && ns != scope);
                for o in items {
                    self.by_key.insert(key(&o), o);
                }
            }
            Event::Upsert(o) => {
                self.by_key.insert(key(&o), o);
            }
            Event::Delete(o) => {
                self.by_key.remove(&key(&o));
            }
        }
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&T> {
        self.by_key.get(&(namespace.to_string(), name.to_string()))
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.by_key.values()
    }
}

/// Every object a config keeps.
#[derive(Default)]
pub struct Store {
    pub pods: Coll<Pod>,
    pub nodes: Coll<Node>,
    pub services: Coll<Service>,
    pub endpoints: Coll<Endpoints>,
    pub endpointslices: Coll<EndpointSlice>,
    pub ingresses: Coll<Ingress>,
    pub namespaces: Coll<Meta>,
    pub replicasets: Coll<Meta>,
    pub jobs: Coll<Meta>,
}

/// One `kubernetes_sd_configs` entry at work: its watches feed `store`, and `poll` makes the
/// target groups again when something changed.
pub struct KubernetesSdState {
    role: Role,
    attach: roles::Attach,
    store: Arc<Mutex<Store>>,
    changed: Arc<AtomicBool>,
    pub groups: Vec<TargetGroup>,
}

impl KubernetesSdState {
    /// Start the watches (a config that cannot reach the API is logged and gives no targets,
    /// as in Prometheus).
    pub fn start(
        config: &KubernetesSdConfig,
        receiver: &ComponentId,
        job: &str,
        shutdown: &CancellationToken,
    ) -> KubernetesSdState {
        KubernetesSdState::start_with(
            config,
            receiver,
            job,
            shutdown,
            Path::new(transport::kube::SERVICE_ACCOUNT_DIR),
        )
    }

    pub fn start_with(
        config: &KubernetesSdConfig,
        receiver: &ComponentId,
        job: &str,
        shutdown: &CancellationToken,
        sa_dir: &Path,
    ) -> KubernetesSdState {
        let role = Role::parse(&config.role).unwrap_or(Role::Pod);
        let state = KubernetesSdState {
            role,
            attach: {
                // what the roles that read pods (pod, endpoints, endpointslice) attach
                let pods = matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice);
                let a = &config.attach_metadata;
                roles::Attach {
                    node: a.node && pods,
                    namespace: a.namespace && role != Role::Node,
                    deployment: a.deployment && pods,
                    job: a.job && pods,
                    cronjob: a.cronjob && pods,
                }
            },
            store: Default::default(),
            changed: Arc::new(AtomicBool::new(false)),
            groups: Vec::new(),
        };
        let started = config.api(sa_dir).and_then(|api| {
            let namespaces = config.namespaces(sa_dir)?;
            Ok((Arc::new(api), namespaces))
        });
        let (api, namespaces) = match started {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(receiver = %receiver, scrape_pool = %job, error = %e, "Cannot create service discovery (kubernetes_sd_configs)");
                return state;
            }
        };
        let collection = |group: &str, resource: &str, ns: &str| {
            let ns = if ns.is_empty() {
                String::new()
            } else {
                format!("/namespaces/{ns}")
            };
            format!("{group}{ns}/{resource}")
        };
        let watch = |path: String, selector_role: &str| {
            let (label_selector, field_selector) = config.selector(selector_role);
            Watch {
                path,
                label_selector,
                field_selector,
                resync: std::time::Duration::ZERO,
            }
        };
        let s = &state;
        for ns in &namespaces {
            let core = |resource: &str| collection("/api/v1", resource, ns);
            match role {
                Role::Pod => s.keep::<Pod>(
                    &api,
                    watch(core("pods"), "pod"),
                    ns,
                    |st| &mut st.pods,
                    shutdown,
                ),
                Role::Service => s.keep::<Service>(
                    &api,
                    watch(core("services"), "service"),
                    ns,
                    |st| &mut st.services,
                    shutdown,
                ),
                Role::Endpoints | Role::EndpointSlice => {
                    if role == Role::Endpoints {
                        s.keep::<Endpoints>(
                            &api,
                            watch(core("endpoints"), "endpoints"),
                            ns,
                            |st| &mut st.endpoints,
                            shutdown,
                        );
                    } else {
                        let path = collection("/apis/discovery.k8s.io/v1", "endpointslices", ns);
                        s.keep::<EndpointSlice>(
                            &api,
                            watch(path, "endpointslice"),
                            ns,
                            |st| &mut st.endpointslices,
                            shutdown,
                        );
                    }
                    s.keep::<Service>(
                        &api,
                        watch(core("services"), "service"),
                        ns,
                        |st| &mut st.services,
                        shutdown,
                    );
                    s.keep::<Pod>(
                        &api,
                        watch(core("pods"), "pod"),
                        ns,
                        |st| &mut st.pods,
                        shutdown,
                    );
                }
                Role::Ingress => {
                    let path = collection("/apis/networking.k8s.io/v1", "ingresses", ns);
                    s.keep::<Ingress>(
                        &api,
                        watch(path, "ingress"),
                        ns,
                        |st| &mut st.ingresses,
                        shutdown,
                    );
                }
                Role::Node => {}
            }
            if s.attach.deployment {
                let path = collection("/apis/apps/v1", "replicasets", ns);
                s.keep::<Meta>(
                    &api,
                    watch(path, ""),
                    ns,
                    |st| &mut st.replicasets,
                    shutdown,
                );
            }
            if s.attach.job || s.attach.cronjob {
                let path = collection("/apis/batch/v1", "jobs", ns);
                s.keep::<Meta>(&api, watch(path, ""), ns, |st| &mut st.jobs, shutdown);
            }
        }
        if role == Role::Node || s.attach.node {
            s.keep::<Node>(
                &api,
                watch("/api/v1/nodes".into(), "node"),
                "",
                |st| &mut st.nodes,
                shutdown,
            );
        }
        if s.attach.namespace {
            s.keep::<Meta>(
                &api,
                watch("/api/v1/namespaces".into(), ""),
                "",
                |st| &mut st.namespaces,
                shutdown,
            );
        }
        state
    }

    /// Keep one collection in the store.
    fn keep<T: Object>(
        &self,
        api: &Arc<Api>,
        watch: Watch,
        scope: &str,
        coll: fn(&mut Store) -> &mut Coll<T>,
        shutdown: &CancellationToken,
    ) {
        let (store, changed, scope) = (self.store.clone(), self.changed.clone(), scope.to_string());
        tokio::spawn(transport::kube::reflect::<T>(
            api.clone(),
            watch,
            move |event| {
                coll(&mut store.lock().unwrap()).apply(&scope, event);
                changed.store(true, Ordering::Release);
            },
            || {},
            shutdown.clone(),
        ));
    }

    /// `true` when the groups changed since the last call.
    pub fn poll(&mut self) -> bool {
        if !self.changed.swap(false, Ordering::AcqRel) {
            return false;
        }
        let groups = roles::groups(self.role, &self.store.lock().unwrap(), &self.attach);
        if groups == self.groups {
            return false;
        }
        self.groups = groups;
        true
    }
}

#[cfg(test)]
mod tests;
