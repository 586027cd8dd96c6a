//! The scrape of one target, and its loop: a jittered start, one GET per interval with the
//! Prometheus Accept header, gzip and a timeout, the body parsed, target labels attached,
//! metric relabelling, limits, staleness, the report series, translation and hand-off.
//! Prometheus `scrape/scrape.go` (`scrapeLoop`), the Go receiver's `transaction.go`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{Batch, CancellationToken, ComponentId, RequestContext, SharedConsumer, Signal};

use super::config::{Authorization, BasicAuth, ResolvedJob, ScrapeConfig};
use super::relabel::{self, SampleLabels};
use super::targets::Target;
use super::textparse::{self, Format};
use super::translate::{self, Adjuster, FinalSample, Prehashed, TargetInfo};

/// Prometheus' Accept header for its default `scrape_protocols` (OpenMetrics 1.0.0,
/// OpenMetrics 0.0.1, text 0.0.4), weights as `acceptHeader` computes them.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// What every scrape of a job shares.
pub struct JobContext {
    pub receiver: ComponentId,
    pub config: ScrapeConfig,
    pub resolved: ResolvedJob,
    pub client: reqwest::Client,
    pub next: SharedConsumer,
    pub obs: ReceiverObs,
    pub trim_suffixes: bool,
    pub external_labels: Vec<(String, String)>,
}

/// The outcome of one scrape, before the report series.
struct Scraped<'a> {
    samples: Vec<FinalSample<'a>>,
    metadata: textparse::MetadataMap,
    scraped: usize,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Prometheus `target.offset`: where in the interval this target's scrapes fall, spread by a
/// hash of the target so targets do not all scrape at once.
pub fn offset(target: &Target, interval: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.url.hash(&mut h);
    target.labels.hash(&mut h);
    let ns = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(h.finish() % ns)
}

/// Read a `_file` secret as Prometheus does: the file's content without surrounding space.
fn read_secret(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("unable to read {path}: {e}"))
}

async fn fetch(job: &JobContext, target: &Target) -> Result<(Vec<u8>, Format), String> {
    let cfg = &job.config;
    let mut req = job
        .client
        .get(&target.url)
        .header("Accept", ACCEPT_HEADER)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", target.timeout.as_secs_f64()),
        )
        .timeout(target.timeout);
    req = req.header(
        "Accept-Encoding",
        if job.resolved.enable_compression {
            "gzip"
        } else {
            "identity"
        },
    );
    req = authorize(
        req,
        &cfg.basic_auth,
        &cfg.authorization,
        &cfg.bearer_token,
        &cfg.bearer_token_file,
    )?;
    let mut resp = req
        .send()
        .await
        .map_err(|e| transport::http::error_chain(&e))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("server returned HTTP status {status}"));
    }
    let headers = resp.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::from_content_type(ct);
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let limit = job.resolved.body_size_limit;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transport::http::error_chain(&e))?
    {
        body.extend_from_slice(&chunk);
        if !gzip && limit > 0 && body.len() as u64 > limit {
            return Err(format!(
                "body size limit exceeded: the response is larger than {limit} bytes"
            ));
        }
    }
    if gzip {
        let mut out = Vec::new();
        let cap = if limit > 0 { limit + 1 } else { u64::MAX };
        flate2::read::GzDecoder::new(&body[..])
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| format!("invalid gzip body: {e}"))?;
        if limit > 0 && out.len() as u64 > limit {
            return Err(format!(
                "body size limit exceeded: the response is larger than {limit} bytes"
            ));
        }
        body = out;
    }
    Ok((body, format))
}

/// Prometheus `resolveConflictingExposedLabels`: a scraped label that collides with a target
/// label is kept as `exported_<name>` (`exported_exported_<name>` if that is taken too).
pub(super) fn attach_target_labels<'a>(lb: &mut SampleLabels<'a>, target: &'a Target, honor: bool) {
    if honor {
        for (k, v) in &target.labels {
            if lb.get(k).is_none_or(|x| x.is_empty()) {
                lb.insert(k.as_str(), v.as_str());
            }
        }
        return;
    }
    let mut conflicts = Vec::new();
    for (k, v) in &target.labels {
        if let Some(existing) = lb.get(k).filter(|x| !x.is_empty()) {
            conflicts.push((k, existing.to_string()));
        }
        lb.insert(k.as_str(), v.as_str());
    }
    for (k, v) in conflicts {
        let mut name = format!("exported_{k}");
        while lb.get(&name).is_some_and(|x| !x.is_empty()) {
            name = format!("exported_{name}");
        }
        lb.insert(name, v);
    }
}

/// Parse and label one body; errors fail the scrape as in Prometheus.
fn process<'a>(
    job: &JobContext,
    target: &'a Target,
    body: &'a [u8],
    format: Format,
    scrape_ns: u64,
) -> Result<Scraped<'a>, String> {
    let parsed = textparse::parse(body, format).map_err(|e| e.to_string())?;
    let cfg = &job.config;
    let r = &job.resolved;
    let scraped = parsed.samples.len();
    let mut samples = Vec::with_capacity(scraped);
    for s in parsed.samples {
        // the parser refused a name twice; when no scraped name is `__name__` or a target
        // label's, the set is their union, sorted once
        let clash = s
            .labels
            .iter()
            .any(|(k, _)| k == "__name__" || target.labels.iter().any(|(t, _)| t == k));
        // the parser's vector, which has room for the name and the target's labels
        let mut pairs = s.labels;
        pairs.retain(|(_, v)| !v.is_empty());
        pairs.reserve(1 + target.labels.len());
        let mut lb = if clash {
            let mut lb = SampleLabels::from_unique(pairs);
            lb.insert("__name__", s.name);
            attach_target_labels(&mut lb, target, cfg.honor_labels);
            lb
        } else {
            pairs.push((Cow::Borrowed("__name__"), Cow::Borrowed(s.name)));
            pairs.extend(
                target
                    .labels
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()))),
            );
            SampleLabels::from_unique(pairs)
        };
        if !relabel::process(&mut lb, &cfg.metric_relabel_configs) {
            continue;
        }
        if !lb.contains_key("__name__") {
            continue;
        }
        if r.label_limit > 0 && lb.len() as u64 > r.label_limit {
            return Err(format!(
                "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
                &lb["__name__"],
                lb.len(),
                r.label_limit
            ));
        }
        for (k, v) in lb.iter() {
            if r.label_name_length_limit > 0 && k.len() as u64 > r.label_name_length_limit {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {}, label name: {k}, limit: {})",
                    &lb["__name__"], r.label_name_length_limit
                ));
            }
            if r.label_value_length_limit > 0 && v.len() as u64 > r.label_value_length_limit {
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {}, label name: {k}, limit: {})",
                    &lb["__name__"], r.label_value_length_limit
                ));
            }
        }
        let time_ns = match s.timestamp_ms {
            Some(ms) if r.honor_timestamps && ms > 0 => (ms as u64).saturating_mul(1_000_000),
            _ => scrape_ns,
        };
        samples.push(FinalSample {
            labels: lb,
            value: s.value,
            time_ns,
        });
    }
    if r.sample_limit > 0 && samples.len() as u64 > r.sample_limit {
        return Err(format!(
            "sample limit exceeded: {} samples, limit {}",
            samples.len(),
            r.sample_limit
        ));
    }
    Ok(Scraped {
        samples,
        metadata: parsed.metadata,
        scraped,
    })
}

/// A series' labels, hashed: the scrape loop remembers the last scrape's series by this, so
/// a target that serves the same series every time costs no copy of its labels.
fn series_hash(labels: &SampleLabels<'_>) -> u64 {
    translate::hash_labels("", labels.iter()).finish()
}

/// A report series' labels: the target's, and its name.
fn report_labels<'a>(target: &'a Target, name: &'a str) -> SampleLabels<'a> {
    let mut lb: SampleLabels<'_> = target
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    lb.insert("__name__", name);
    lb
}

type HashSetOf = HashSet<u64, BuildHasherDefault<Prehashed>>;

/// One target's scrape loop and its state across scrapes.
pub struct Loop {
    pub job: Arc<JobContext>,
    /// Shared with a scrape's samples, which borrow its labels.
    pub target: Arc<Target>,
    adjuster: Adjuster,
    /// The last scrape's series (report series included), by label hash.
    previous: HashSetOf,
    /// The body the last scrape's scraped series came from: the labels of those that go away
    /// are found again in it for their stale markers. Kept instead of their labels, which
    /// take several times the body's size once split into strings (a target of a thousand
    /// series: 90 kB against 600 kB).
    last_body: Option<(Vec<u8>, Format)>,
    healthy: Option<bool>,
}

impl Loop {
    pub fn new(job: Arc<JobContext>, target: Target) -> Loop {
        Loop {
            job,
            target: Arc::new(target),
            adjuster: Adjuster::default(),
            previous: HashSetOf::default(),
            last_body: None,
            healthy: None,
        }
    }

    /// Scrape on schedule until `stop`; `stale_on_stop` says whether the target went away
    /// (its series are then marked stale) rather than the receiver shutting down.
    pub async fn run(mut self, stop: CancellationToken, gone: CancellationToken) {
        let interval = self.target.interval;
        let first = offset(&self.target, interval);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = gone.cancelled() => return,
            _ = tokio::time::sleep(first) => {}
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = gone.cancelled() => {
                    self.mark_all_stale().await;
                    return;
                }
                _ = ticker.tick() => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.scrape_once() => {}
            }
        }
    }

    pub(super) async fn mark_all_stale(&mut self) {
        let ns = now_ns();
        let samples = self.stale_samples(&HashSetOf::default(), ns);
        self.previous.clear();
        self.last_body = None;
        if !samples.is_empty() {
            self.emit(&samples, &Default::default()).await;
        }
    }

    /// Stale markers for the last scrape's series that are not in `current`.
    fn stale_samples(&self, current: &HashSetOf, ns: u64) -> Vec<FinalSample<'static>> {
        let mut gone: HashSetOf = self.previous.difference(current).copied().collect();
        if gone.is_empty() {
            return Vec::new();
        }
        let marker = |labels: SampleLabels<'static>| FinalSample {
            labels,
            value: translate::stale_nan(),
            time_ns: ns,
        };
        let mut out = Vec::new();
        for name in translate::REPORT_SERIES {
            let labels = report_labels(&self.target, name);
            if gone.remove(&series_hash(&labels)) {
                out.push(marker(labels.into_owned()));
            }
        }
        // the scraped ones: the last body labelled again, as it was (same target, same
        // config), each series once
        if let Some((body, format)) = self.last_body.as_ref().filter(|_| !gone.is_empty()) {
            match process(&self.job, &self.target, body, *format, ns) {
                Ok(last) => {
                    for s in last.samples {
                        if gone.remove(&series_hash(&s.labels)) {
                            out.push(marker(s.labels.into_owned()));
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(receiver = %self.job.receiver, target = %self.target.url, error = %e, "The last scrape's body no longer processes; its series get no stale markers.")
                }
            }
        }
        out
    }

    /// One scrape, its report series and the hand-off to the pipeline.
    pub async fn scrape_once(&mut self) {
        let started = Instant::now();
        let scrape_ns = now_ns();
        let target = Arc::clone(&self.target);
        let fetched = fetch(&self.job, &target).await;
        let result = match &fetched {
            Ok((body, format)) => process(&self.job, &target, body, *format, scrape_ns),
            Err(e) => Err(e.clone()),
        };
        let duration = started.elapsed().as_secs_f64();
        let (mut samples, metadata, scraped, error) = match result {
            Ok(s) => (s.samples, s.metadata, s.scraped, None),
            Err(e) => (Vec::new(), Default::default(), 0, Some(e)),
        };
        self.log_health(error.as_deref());
        let post = samples.len();
        let mut current: HashSetOf = samples.iter().map(|s| series_hash(&s.labels)).collect();
        let added = current.difference(&self.previous).count();
        // in the order of `REPORT_SERIES`
        let values = [
            if error.is_none() { 1.0 } else { 0.0 },
            duration,
            scraped as f64,
            post as f64,
            added as f64,
        ];
        let mut report_samples = Vec::with_capacity(values.len());
        for (name, value) in translate::REPORT_SERIES.into_iter().zip(values) {
            let lb = report_labels(&target, name);
            // the report series are marked stale with the others when the target goes away
            current.insert(series_hash(&lb));
            report_samples.push(FinalSample {
                labels: lb,
                value,
                time_ns: scrape_ns,
            });
        }
        let stale = self.stale_samples(&current, scrape_ns);
        // remember this scrape's series, and the body their labels are in
        self.previous = current;
        samples.extend(stale);
        samples.extend(report_samples);
        self.emit(&samples, &metadata).await;
        drop(samples);
        self.last_body = match (fetched, &error) {
            (Ok(body), None) => Some(body),
            _ => None,
        };
        let keep = self.target.interval.max(Duration::from_secs(60)) * 2;
        self.adjuster.gc(scrape_ns, keep);
    }

    fn log_health(&mut self, error: Option<&str>) {
        let t = &self.target;
        let healthy = error.is_none();
        if self.healthy == Some(healthy) {
            return;
        }
        match error {
            Some(e) => tracing::warn!(
                receiver = %self.job.receiver,
                scrape_pool = %t.job,
                target = %t.url,
                error = %e,
                "Failed to scrape Prometheus endpoint"
            ),
            None if self.healthy.is_some() => tracing::info!(
                receiver = %self.job.receiver,
                scrape_pool = %t.job,
                target = %t.url,
                "Prometheus endpoint scraped again"
            ),
            None => {}
        }
        self.healthy = Some(healthy);
    }

    async fn emit(&mut self, samples: &[FinalSample<'_>], metadata: &textparse::MetadataMap) {
        let t = &self.target;
        let info = TargetInfo {
            job: t.job.clone(),
            instance: t.instance.clone(),
            scheme: t.scheme.clone(),
            scope_version: env!("CARGO_PKG_VERSION").to_string(),
            trim_suffixes: self.job.trim_suffixes,
            external_labels: self.job.external_labels.clone(),
            kubernetes: t.kubernetes.clone(),
        };
        let built = translate::build(&info, samples, metadata, &mut self.adjuster);
        let items = built.items;
        if items == 0 {
            return;
        }
        let mut batch = Batch::from_encoded(Signal::Metrics, built.bytes.into(), items);
        batch.set_context(RequestContext {
            receiver: Some(self.job.receiver.clone()),
            ..Default::default()
        });
        let result = self.job.next.consume(batch).await;
        self.job.obs.record(Signal::Metrics, items, &result);
        if let Err(e) = result {
            tracing::debug!(receiver = %self.job.receiver, target = %t.url, items, error = %e, "The pipeline refused scraped metrics.");
        }
    }
}

#[cfg(test)]
pub(super) fn process_for_test<'a>(
    job: &JobContext,
    target: &'a Target,
    body: &'a [u8],
    format: Format,
) -> Result<(Vec<FinalSample<'a>>, usize), String> {
    process(job, target, body, format, 1_000).map(|s| (s.samples, s.scraped))
}

/// An HTTP client config's credentials on a request (Prometheus `common/config`): basic
/// auth, else `authorization`, else the bearer token or its file; files are read at each
/// request.
pub fn authorize(
    mut req: reqwest::RequestBuilder,
    basic_auth: &Option<BasicAuth>,
    authorization: &Option<Authorization>,
    bearer_token: &str,
    bearer_token_file: &str,
) -> Result<reqwest::RequestBuilder, String> {
    if let Some(b) = basic_auth {
        let user = if b.username_file.is_empty() {
            b.username.clone()
        } else {
            read_secret(&b.username_file)?
        };
        let pass = if b.password_file.is_empty() {
            b.password.clone()
        } else {
            read_secret(&b.password_file)?
        };
        req = req.basic_auth(user, Some(pass));
    } else if let Some(a) = authorization {
        let kind = if a.kind.is_empty() { "Bearer" } else { &a.kind };
        let cred = if a.credentials_file.is_empty() {
            a.credentials.clone()
        } else {
            read_secret(&a.credentials_file)?
        };
        req = req.header("Authorization", format!("{kind} {cred}"));
    } else if !bearer_token.is_empty() {
        req = req.header("Authorization", format!("Bearer {bearer_token}"));
    } else if !bearer_token_file.is_empty() {
        let t = read_secret(bearer_token_file)?;
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    Ok(req)
}
