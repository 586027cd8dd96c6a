//! The `prometheus` receiver: scrapes Prometheus endpoints as the Go collector's
//! `receiver/prometheusreceiver` does, from a Prometheus config under `config:`.
//!
//! `build` checks and builds each job's HTTP client (spawning nothing); `run` starts, per
//! job, a manager that keeps its targets (from `static_configs`, `docker_sd_configs` (the Docker
//! Engine API, `docker_sd.rs`), `kubernetes_sd_configs` (the Kubernetes API's list and watch,
//! `kubernetes_sd/`) and `file_sd_configs` files
//! re-read when they change or every `refresh_interval`) and one scrape loop per target
//! ([`scrape::Loop`]). A target that goes away has its series marked stale.

pub mod config;
pub mod docker_sd;
pub mod kubernetes_sd;
pub mod relabel;
pub mod scrape;
pub mod targets;
pub mod textparse;
pub mod translate;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentId, Meta, Receiver,
    ReceiverFactory, Signal, SignalConsumers, Stability,
};

pub use config::PrometheusReceiverConfig;
use scrape::JobContext;
use targets::{Target, TargetGroup};

/// The factory of the `prometheus` receiver.
pub const META: Meta = Meta::new("prometheus").metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<PrometheusReceiverConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(PrometheusReceiver::build(ctx, cfg, next)?))
    })
}

/// A built receiver: every job's client ready, nothing running.
pub struct PrometheusReceiver {
    id: ComponentId,
    jobs: Vec<Arc<JobContext>>,
}

impl std::fmt::Debug for PrometheusReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusReceiver")
            .field("id", &self.id)
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

fn client(job: &config::ScrapeConfig, what: &str) -> Result<reqwest::Client, BuildError> {
    // scrapes are HTTP/1.1 (`enable_http2` is reported as not acted on)
    let alpn: &[&[u8]] = &[b"http/1.1"];
    let tls = job
        .tls_config
        .to_client()
        .client_config(alpn, true)
        .map_err(|e| BuildError::new(format!("{what}: tls_config: {e}")))?
        .ok_or_else(|| BuildError::new(format!("{what}: no TLS config")))?;
    let redirect = if job.follow_redirects.unwrap_or(true) {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent(format!("Ferrotel/{}", env!("CARGO_PKG_VERSION")))
        .redirect(redirect)
        .http1_only()
        .build()
        .map_err(|e| {
            BuildError::new(format!(
                "{what}: HTTP client: {}",
                transport::http::error_chain(&e)
            ))
        })
}

impl PrometheusReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &PrometheusReceiverConfig,
        next: SignalConsumers,
    ) -> Result<PrometheusReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the prometheus receiver produces metrics only"))?;
        let obs = ctx.telemetry.receiver_obs("http");
        let global = &cfg.config.global;
        let external_labels: Vec<(String, String)> = global
            .external_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut jobs = Vec::new();
        for sc in &cfg.config.scrape_configs {
            let what = format!("{}: job {:?}", ctx.id, sc.job_name);
            jobs.push(Arc::new(JobContext {
                receiver: ctx.id.clone(),
                config: sc.clone(),
                resolved: sc.resolved(global),
                client: client(sc, &what)?,
                next: next.clone(),
                obs: obs.clone(),
                trim_suffixes: cfg.trim_metric_suffixes,
                external_labels: external_labels.clone(),
            }));
        }
        Ok(PrometheusReceiver { id: ctx.id, jobs })
    }
}

#[async_trait]
impl Receiver for PrometheusReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let mut tasks = tokio::task::JoinSet::new();
        for job in self.jobs {
            tasks.spawn(manage_job(job, shutdown.clone()));
        }
        while tasks.join_next().await.is_some() {}
        tracing::debug!(receiver = %self.id, "Prometheus receiver stopped.");
        Ok(())
    }
}

/// How often file_sd files are checked for a change (their content is read again when
/// their modification time or size changed, and every `refresh_interval` regardless).
const FILE_CHECK: Duration = Duration::from_secs(1);

/// Keep one job's targets and their scrape loops until shutdown.
async fn manage_job(job: Arc<JobContext>, shutdown: CancellationToken) {
    let cfg = &job.config;
    let static_groups: Vec<TargetGroup> = cfg.static_configs.iter().map(Into::into).collect();
    // file_sd: per config, the last good groups of each file
    let mut file_state: Vec<FileSdState> = cfg
        .file_sd_configs
        .iter()
        .map(|f| FileSdState {
            patterns: f.files.clone(),
            refresh: f.refresh(),
            seen: Vec::new(),
            last_read: None,
            groups: BTreeMap::new(),
        })
        .collect();
    let mut docker_state: Vec<docker_sd::DockerSdState> = cfg
        .docker_sd_configs
        .iter()
        .cloned()
        .map(docker_sd::DockerSdState::new)
        .collect();
    let mut kube_state: Vec<kubernetes_sd::KubernetesSdState> = cfg
        .kubernetes_sd_configs
        .iter()
        .map(|k| {
            kubernetes_sd::KubernetesSdState::start(k, &job.receiver, &cfg.job_name, &shutdown)
        })
        .collect();
    let mut running: HashMap<Target, (CancellationToken, tokio::task::JoinHandle<()>)> =
        HashMap::new();
    let mut logged_errors: Vec<String> = Vec::new();
    loop {
        let mut changed = running.is_empty() && logged_errors.is_empty();
        for fs in &mut file_state {
            changed |= fs.poll(&job.receiver, &cfg.job_name);
        }
        for ds in &mut docker_state {
            tokio::select! {
                c = ds.poll(&job.receiver, &cfg.job_name) => changed |= c,
                _ = shutdown.cancelled() => break,
            }
        }
        for ks in &mut kube_state {
            changed |= ks.poll();
        }
        if changed {
            let mut groups = static_groups.clone();
            for fs in &file_state {
                groups.extend(fs.groups.values().flatten().cloned());
            }
            for ds in &docker_state {
                groups.extend(ds.groups.iter().cloned());
            }
            for ks in &kube_state {
                groups.extend(ks.groups.iter().cloned());
            }
            let mut wanted = Vec::new();
            let mut errors = Vec::new();
            for g in &groups {
                let (t, e) = targets::targets_from_group(cfg, &job.resolved, g);
                wanted.extend(t);
                errors.extend(e);
            }
            if errors != logged_errors {
                for e in &errors {
                    tracing::warn!(receiver = %job.receiver, scrape_pool = %cfg.job_name, error = %e, "Creating target failed");
                }
                logged_errors = errors;
            }
            wanted.sort();
            wanted.dedup();
            // stop the loops of targets that went away; their series go stale
            let gone: Vec<Target> = running
                .keys()
                .filter(|t| !wanted.contains(t))
                .cloned()
                .collect();
            for t in gone {
                if let Some((token, _)) = running.remove(&t) {
                    token.cancel();
                }
            }
            for t in wanted {
                if running.contains_key(&t) {
                    continue;
                }
                let gone = CancellationToken::new();
                let l = scrape::Loop::new(job.clone(), t.clone());
                let handle = tokio::spawn(l.run(shutdown.clone(), gone.clone()));
                running.insert(t, (gone, handle));
            }
            running.retain(|_, (_, h)| !h.is_finished());
        }
        if file_state.is_empty() && docker_state.is_empty() && kube_state.is_empty() {
            shutdown.cancelled().await;
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(FILE_CHECK) => {}
        }
    }
    for (_, (_, handle)) in running {
        let _ = handle.await;
    }
}

/// One file_sd config's files as last read.
struct FileSdState {
    patterns: Vec<String>,
    refresh: Duration,
    seen: Vec<(std::path::PathBuf, Option<std::time::SystemTime>, u64)>,
    last_read: Option<Instant>,
    groups: BTreeMap<std::path::PathBuf, Vec<TargetGroup>>,
}

impl FileSdState {
    /// Read the files again if they changed or the refresh interval passed; `true` if the
    /// groups changed.
    fn poll(&mut self, receiver: &ComponentId, job: &str) -> bool {
        let now = targets::sd_files(&self.patterns);
        let due = self.last_read.is_none_or(|t| t.elapsed() >= self.refresh);
        if now == self.seen && !due {
            return false;
        }
        self.seen = now.clone();
        self.last_read = Some(Instant::now());
        let mut groups = BTreeMap::new();
        for (path, _, _) in &now {
            match targets::read_sd_file(path) {
                Ok(g) => {
                    groups.insert(path.clone(), g);
                }
                Err(e) => {
                    tracing::error!(receiver = %receiver, scrape_pool = %job, error = %e, "Error reading file");
                    // keep what the file held when it last read well
                    if let Some(old) = self.groups.get(path) {
                        groups.insert(path.clone(), old.clone());
                    }
                }
            }
        }
        if groups == self.groups {
            return false;
        }
        self.groups = groups;
        true
    }
}
