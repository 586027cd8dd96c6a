//! A small Kubernetes API client: the connection settings of Go's `auth_type` (in-cluster
//! service account, a kubeconfig file, none), and the list-then-watch loop that keeps a
//! cache of one kind of object (client-go's reflector, as the processor's informers use it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::CancellationToken;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Where a pod's service account token and CA are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// How to reach the API server.
#[derive(Clone)]
pub struct Api {
    /// `https://host:port` (no trailing slash).
    base: String,
    client: reqwest::Client,
    credentials: Credentials,
}

#[derive(Clone)]
enum Credentials {
    None,
    Token(String),
    /// A token file read again at each request (service account tokens are rotated).
    TokenFile(PathBuf),
    /// The caller's own (an HTTP client config's `basic_auth`, `authorization`, ...).
    Custom(Authorize),
}

/// Adds a caller's credentials to each request; an error (a secret file that cannot be
/// read) fails the request.
pub type Authorize =
    Arc<dyn Fn(reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, String> + Send + Sync>;

impl Api {
    /// Go `k8sconfig.CreateRestConfig` for `auth_type`, with `context` for `kubeConfig`.
    pub fn new(auth_type: &str, context: &str, sa_dir: &Path) -> Result<Api, String> {
        match auth_type {
            "kubeConfig" => {
                let path = match std::env::var_os("KUBECONFIG") {
                    Some(p) if !p.is_empty() => {
                        // a list of files: the first that exists (client-go merges them)
                        std::env::split_paths(&p)
                            .find(|p| p.is_file())
                            .unwrap_or_else(|| PathBuf::from(&p))
                    }
                    _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".kube/config"),
                };
                Api::from_kubeconfig(&path, context)
                    .map_err(|e| format!("error connecting to k8s with auth_type=kubeConfig: {e}"))
            }
            "serviceAccount" | "none" | "tls" => {
                let (Ok(host), Ok(port)) = (
                    std::env::var("KUBERNETES_SERVICE_HOST"),
                    std::env::var("KUBERNETES_SERVICE_PORT"),
                ) else {
                    return Err("unable to load k8s config, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined".into());
                };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                let base = format!("https://{host}:{port}");
                match auth_type {
                    "none" => Api::build(base, None, true, None, Credentials::None),
                    "tls" => Err("auth_type tls is not supported (Go's processor has no settings for it either); use serviceAccount or kubeConfig".into()),
                    _ => {
                        let token = sa_dir.join("token");
                        let ca = std::fs::read(sa_dir.join("ca.crt"))
                            .map_err(|e| format!("unable to load in-cluster configuration: {}: {e}", sa_dir.join("ca.crt").display()))?;
                        std::fs::metadata(&token).map_err(|e| {
                            format!("unable to load in-cluster configuration: {}: {e}", token.display())
                        })?;
                        Api::build(base, Some(ca), false, None, Credentials::TokenFile(token))
                    }
                }
            }
            other => Err(format!("invalid authType for kubernetes: {other}")),
        }
    }

    /// The cluster and user of a kubeconfig file's context (`context`, else its
    /// `current-context`).
    pub fn from_kubeconfig(path: &Path, context: &str) -> Result<Api, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let kc: KubeConfig =
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = if context.is_empty() {
            kc.current_context.as_str()
        } else {
            context
        };
        let ctx = &kc
            .contexts
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("context {name:?} does not exist"))?
            .inner;
        let cluster = &kc
            .clusters
            .iter()
            .find(|c| c.name == ctx.cluster)
            .ok_or_else(|| format!("cluster {:?} does not exist", ctx.cluster))?
            .inner;
        let user = kc
            .users
            .iter()
            .find(|u| u.name == ctx.user)
            .map(|u| u.inner.clone())
            .unwrap_or_default();
        let read = |data: &str, file: &str, what: &str| -> Result<Option<Vec<u8>>, String> {
            if !data.is_empty() {
                use base64::Engine;
                return base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map(Some)
                    .map_err(|e| format!("{what}-data: {e}"));
            }
            if file.is_empty() {
                return Ok(None);
            }
            let p = dir.join(file);
            std::fs::read(&p)
                .map(Some)
                .map_err(|e| format!("{what}: {}: {e}", p.display()))
        };
        let ca = read(
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
            "certificate-authority",
        )?;
        let cert = read(
            &user.client_certificate_data,
            &user.client_certificate,
            "client-certificate",
        )?;
        let key = read(&user.client_key_data, &user.client_key, "client-key")?;
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err("a client certificate needs its key, and a key its certificate".into())
            }
        };
        let credentials = if !user.token.is_empty() {
            Credentials::Token(user.token.clone())
        } else if !user.token_file.is_empty() {
            Credentials::TokenFile(dir.join(&user.token_file))
        } else {
            Credentials::None
        };
        let base = cluster.server.trim_end_matches('/').to_string();
        if base.is_empty() {
            return Err(format!("cluster {:?} has no server", ctx.cluster));
        }
        Api::build(
            base,
            ca,
            cluster.insecure_skip_tls_verify,
            identity,
            credentials,
        )
    }

    fn build(
        base: String,
        ca: Option<Vec<u8>>,
        insecure: bool,
        identity: Option<(Vec<u8>, Vec<u8>)>,
        credentials: Credentials,
    ) -> Result<Api, String> {
        let mut tls = crate::tls::TlsClientConfig {
            insecure_skip_verify: insecure,
            ..Default::default()
        };
        if let Some(ca) = ca {
            tls.ca_pem = String::from_utf8(ca).map_err(|_| "the CA is not PEM text")?;
        }
        if let Some((cert, key)) = identity {
            tls.cert_pem =
                String::from_utf8(cert).map_err(|_| "the client certificate is not PEM text")?;
            tls.key_pem = String::from_utf8(key).map_err(|_| "the client key is not PEM text")?;
        }
        Api::from_tls(base, &tls, credentials)
    }

    /// A server at `base` (`https://host:port`, or `http://` for none) with `tls` and,
    /// when given, a bearer token read from `token_file` at each request (the kubelet
    /// client's settings).
    pub fn with(
        base: String,
        tls: &crate::tls::TlsClientConfig,
        token_file: Option<PathBuf>,
    ) -> Result<Api, String> {
        let credentials = match token_file {
            Some(p) => Credentials::TokenFile(p),
            None => Credentials::None,
        };
        Api::from_tls(base, tls, credentials)
    }

    fn from_tls(
        base: String,
        tls: &crate::tls::TlsClientConfig,
        credentials: Credentials,
    ) -> Result<Api, String> {
        let rustls = tls
            .client_config(&[b"http/1.1"], true)?
            .ok_or("no TLS config")?;
        // as Go: no proxy from the environment
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(rustls)
            .no_proxy()
            .http1_only()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| crate::http::error_chain(&e))?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            client,
            credentials,
        })
    }

    /// A server at `base` with `tls` and the caller's credentials (an `api_server` with an
    /// HTTP client config).
    pub fn with_authorize(
        base: String,
        tls: &crate::tls::TlsClientConfig,
        authorize: Authorize,
    ) -> Result<Api, String> {
        Api::from_tls(base, tls, Credentials::Custom(authorize))
    }

    /// An API server at `base` without credentials (tests).
    pub fn plain(base: &str) -> Api {
        Api::build(base.into(), None, false, None, Credentials::None).unwrap()
    }

    /// The same server and credentials with `prefix` added to every path (the API
    /// server's proxy to a node: `/api/v1/nodes/<node>/proxy`).
    pub fn under(&self, prefix: &str) -> Api {
        Api {
            base: format!("{}{}", self.base, prefix.trim_end_matches('/')),
            ..self.clone()
        }
    }

    /// A GET of `path_and_query` with the credentials.
    pub fn get(&self, path_and_query: &str) -> Result<reqwest::RequestBuilder, String> {
        let req = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .header("Accept", "application/json");
        Ok(match &self.credentials {
            Credentials::None => req,
            Credentials::Token(t) => req.bearer_auth(t),
            Credentials::TokenFile(p) => {
                let t = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                req.bearer_auth(t.trim())
            }
            Credentials::Custom(authorize) => authorize(req)?,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct KubeConfig {
    current_context: String,
    clusters: Vec<Named<Cluster>>,
    contexts: Vec<Named<Context>>,
    users: Vec<Named<User>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named<T: Default> {
    name: String,
    #[serde(alias = "cluster", alias = "context", alias = "user")]
    inner: T,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    token: String,
    #[serde(rename = "tokenFile")]
    token_file: String,
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
}

/// An object's metadata, as every kind has it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub creation_timestamp: String,
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub controller: Option<bool>,
}

/// An object of which only the metadata is read.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub metadata: ObjectMeta,
}

pub trait Object: DeserializeOwned + Send + 'static {
    fn meta(&self) -> &ObjectMeta;
}

impl Object for Meta {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// A Pod: the parts `k8s_attributes`, `kubelet_stats` and the prometheus receiver's
/// Kubernetes discovery read (every field optional: what the API leaves out reads as
/// empty).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Pod {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    pub status: PodStatus,
}

impl Object for Pod {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    pub node_name: String,
    pub hostname: String,
    pub host_network: bool,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    pub volumes: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    pub ports: Vec<ContainerPort>,
    pub resources: Resources,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: String,
    pub container_port: i64,
    pub protocol: String,
}

/// A container's resource limits and requests (Kubernetes quantities).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Resources {
    pub limits: BTreeMap<String, String>,
    pub requests: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: String,
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    pub start_time: String,
    pub conditions: Vec<PodCondition>,
    pub container_statuses: Vec<ContainerStatus>,
    pub init_container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct PodCondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
    #[serde(rename = "imageID")]
    pub image_id: String,
    pub restart_count: i64,
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
}

/// What the cache of one kind is told.
pub enum Event<T> {
    /// The whole collection, after a list.
    Replace(Vec<T>),
    Upsert(T),
    Delete(T),
}

/// One collection to keep: its path (`/api/v1/pods`, `/apis/apps/v1/namespaces/x/replicasets`)
/// and selectors.
#[derive(Debug, Clone)]
pub struct Watch {
    pub path: String,
    pub label_selector: String,
    pub field_selector: String,
    /// List again this often besides the watch (0: only when the watch ends badly).
    pub resync: Duration,
}

impl Watch {
    fn query(&self, extra: &str) -> String {
        let mut q = Vec::new();
        let enc = |s: &str| percent_encode(s);
        if !self.label_selector.is_empty() {
            q.push(format!("labelSelector={}", enc(&self.label_selector)));
        }
        if !self.field_selector.is_empty() {
            q.push(format!("fieldSelector={}", enc(&self.field_selector)));
        }
        if !extra.is_empty() {
            q.push(extra.to_string());
        }
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, q.join("&"))
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Keep a collection: list it (handing the whole of it over), then watch from the list's
/// version, handing each change over; list again after `resync`, after a watch that ends
/// badly, or when the version is gone (410). Errors are logged and retried with backoff up
/// to 30 s. `synced` is called after the first list.
pub async fn reflect<T: Object>(
    api: Arc<Api>,
    watch: Watch,
    mut handle: impl FnMut(Event<T>) + Send,
    mut synced: impl FnMut() + Send,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    loop {
        let listed = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = list::<T>(&api, &watch) => r,
        };
        let version = match listed {
            Ok((items, version)) => {
                handle(Event::Replace(items));
                if first {
                    synced();
                    first = false;
                }
                backoff = Duration::from_millis(200);
                version
            }
            Err(e) => {
                tracing::warn!(path = %watch.path, error = %e, "Failed to list Kubernetes objects; retrying.");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let until = (!watch.resync.is_zero()).then(|| tokio::time::Instant::now() + watch.resync);
        let mut version = version;
        // watch until the resync is due, the version is gone, or an error
        loop {
            let r = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = sleep_until(until) => break,
                r = watch_once::<T>(&api, &watch, &mut version, &mut handle) => r,
            };
            match r {
                // the server ended the watch (its timeout): go on from the version seen
                Ok(()) => continue,
                Err(e) => {
                    tracing::debug!(path = %watch.path, error = %e, "Kubernetes watch ended; listing again.");
                    break;
                }
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn list<T: Object>(api: &Api, watch: &Watch) -> Result<(Vec<T>, String), String> {
    let resp = api
        .get(&watch.query(""))?
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| crate::http::error_chain(&e))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| crate::http::error_chain(&e))?;
    if !status.is_success() {
        return Err(format!(
            "{} {}: {}",
            status.as_u16(),
            watch.path,
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    let list: List<T> =
        serde_json::from_slice(&body).map_err(|e| format!("{}: {e}", watch.path))?;
    Ok((list.items, list.metadata.resource_version))
}

#[derive(Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    object: serde_json::Value,
}

/// One watch request, its events handed over as they come; `Ok` when the server ended it.
async fn watch_once<T: Object>(
    api: &Api,
    watch: &Watch,
    version: &mut String,
    handle: &mut (impl FnMut(Event<T>) + Send),
) -> Result<(), String> {
    let extra = format!(
        "watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion={}",
        percent_encode(version)
    );
    let mut resp = api
        .get(&watch.query(&extra))?
        .send()
        .await
        .map_err(|e| crate::http::error_chain(&e))?;
    if !resp.status().is_success() {
        return Err(format!("watch {}: {}", watch.path, resp.status()));
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| crate::http::error_chain(&e))?
    {
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let (rv, event) = watch_event::<T>(line)?;
            if !rv.is_empty() {
                *version = rv;
            }
            if let Some(event) = event {
                handle(event);
            }
        }
        if buf.len() > 64 << 20 {
            return Err("a watch event over 64 MiB".into());
        }
    }
    Ok(())
}

/// One line of a watch: the object's version and the change (none for a bookmark or an
/// unknown type); an `ERROR` event (a `Status`, 410 when the version is too old) or a line
/// that does not decode is an error.
pub fn watch_event<T: Object>(line: &[u8]) -> Result<(String, Option<Event<T>>), String> {
    let ev: WatchEvent = serde_json::from_slice(line).map_err(|e| format!("watch event: {e}"))?;
    if ev.kind == "ERROR" {
        return Err(format!("watch error: {}", ev.object));
    }
    let object: T = serde_json::from_value(ev.object).map_err(|e| format!("watch object: {e}"))?;
    let rv = object.meta().resource_version.clone();
    let event = match ev.kind.as_str() {
        "ADDED" | "MODIFIED" => Some(Event::Upsert(object)),
        "DELETED" => Some(Event::Delete(object)),
        _ => None,
    };
    Ok((rv, event))
}
