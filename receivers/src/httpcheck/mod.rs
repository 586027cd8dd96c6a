//! The `httpcheck` receiver (Go's `receiver/httpcheckreceiver`, also named `http_check`):
//! every `collection_interval` it sends one request to each endpoint of each target and
//! records Go's `httpcheck.*` metrics: `httpcheck.status` (one point per status class,
//! 1 for the class of the answer's status), `httpcheck.duration` (milliseconds from sending
//! to the end of the body) and `httpcheck.error` (1 with the error's text when no answer
//! came), plus, when turned on, `httpcheck.response.size` and the results of the target's
//! `validations`.
//!
//! Go facts relied on (contrib `receiver/httpcheckreceiver`, `config.go`, `factory.go`,
//! `scraper.go`, `metadata.yaml`; the Go module proxy here does not serve it, so the
//! behaviour is taken from its source, not from an oracle):
//! - `collection_interval` 60s, `initial_delay` 1s; a target's `timeout` 0 is 30s; `method`
//!   empty is `GET`; `endpoints` come before `endpoint`, each checked on its own.
//! - Validation: "no targets configured"; a target needs `endpoint` or `endpoints`; each
//!   must parse as a request URI.
//! - A failed request: `httpcheck.error` 1 with `error.message`, and the five status points
//!   at 0. Points of value 0 carry no `http.status_code`.
//! - A validation entry checks its first rule (`contains`, `not_contains`, `json_path` with
//!   `equals`, `max_size`, `min_size`, `regex`); an invalid `regex` fails the check; an empty
//!   body or no answer checks nothing.
//! - No resource attributes; the start time of every point is when the receiver was built.

pub mod metadata;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, SharedConsumer, Signal, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use transport::http::{error_chain, ClientOptions, HttpClientConfig};

use crate::hostmetrics::builder::{kv, resource_metrics_scoped, AttrValue, MetricsBuilder};
use crate::hostmetrics::config::{check_metrics, toggles, MetricToggles};
use crate::hostmetrics::scrapers::now_nanos;
use crate::scraping::{self, Rounds};

/// Go: `type: http_check`, `deprecated_type: httpcheck`; both are taken without a warning.
pub const META: Meta = Meta::new("httpcheck")
    .aliases(&[("http_check", false)])
    .metrics(Stability::Alpha);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<HttpCheckConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(HttpCheckReceiver::build(ctx, cfg, next)?))
    })
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/httpcheckreceiver";

/// The client keys the targets' requests do not use.
const CLIENT: ClientOptions = ClientOptions {
    http1_only: false,
    compresses_bodies: false,
};

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpCheckConfig {
    pub targets: Vec<TargetConfig>,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// The whole scrape's deadline; 0: none (each request has its target's `timeout`).
    pub timeout: GoDuration,
    pub metrics: MetricToggles,
}

impl Default for HttpCheckConfig {
    fn default() -> Self {
        HttpCheckConfig {
            targets: Vec::new(),
            collection_interval: GoDuration::from_secs(60),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            metrics: MetricToggles::new(),
        }
    }
}

/// One target: the HTTP client keys (squashed) and what to send.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct TargetConfig {
    /// `endpoint` is one URL to check.
    #[serde(skip)]
    pub http: HttpClientConfig,
    /// More URLs to check with the same settings, before `endpoint`.
    pub endpoints: Vec<String>,
    /// Empty: `GET`.
    pub method: String,
    /// Sent with every request; empty: no body.
    pub body: String,
    /// Set `Content-Type` from the body when no header sets it.
    pub auto_content_type: bool,
    /// The request's timeout; 0: 30s.
    pub timeout: GoDuration,
    pub validations: Vec<ValidationConfig>,
}

pipeline_api::squashed!(TargetConfig, http);

/// One response check; its first rule is the one checked.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    pub contains: String,
    pub not_contains: String,
    /// A path into the JSON body (`a.b.0.c`); with `equals`, the value it must have.
    pub json_path: String,
    pub equals: String,
    pub max_size: Option<i64>,
    pub min_size: Option<i64>,
    pub regex: String,
}

/// Go `url.ParseRequestURI`, as far as a check needs: an absolute URL with a scheme, or an
/// absolute path.
fn request_uri(endpoint: &str) -> Result<(), String> {
    if endpoint.starts_with('/') {
        return Ok(());
    }
    match reqwest::Url::parse(endpoint) {
        Ok(_) => Ok(()),
        // Go takes `http://` with no host (the request fails at each round)
        Err(e) if e.to_string() == "empty host" => Ok(()),
        Err(e) => Err(format!(
            "\"endpoint\" must be in the form of <scheme>://<hostname>[:<port>]: parse {endpoint:?}: {e}"
        )),
    }
}

impl Validate for HttpCheckConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.targets.is_empty() {
            errors.push(ConfigError::new(&[], "no targets configured"));
        }
        for (i, t) in self.targets.iter().enumerate() {
            let at = i.to_string();
            if t.http.endpoint.is_empty() && t.endpoints.is_empty() {
                errors.push(ConfigError::new(
                    &["targets", &at],
                    "at least one of 'endpoint' or 'endpoints' must be specified",
                ));
            }
            if !t.http.endpoint.is_empty() {
                if let Err(e) = request_uri(&t.http.endpoint) {
                    errors.push(ConfigError::new(&["targets", &at, "endpoint"], e));
                }
            }
            for (j, e) in t.endpoints.iter().enumerate() {
                if let Err(e) = request_uri(e) {
                    errors.push(ConfigError::new(
                        &["targets", &at, "endpoints", &j.to_string()],
                        e,
                    ));
                }
            }
            if !t.method.is_empty() && http::Method::from_bytes(t.method.as_bytes()).is_err() {
                // Go fails the request at every scrape and records nothing for it
                errors.push(ConfigError::new(
                    &["targets", &at, "method"],
                    format!("invalid method {:?}", t.method),
                ));
            }
            let http = t.http.validate(transport::compression::Compression::None);
            errors.extend(http.into_iter().map(|e| e.prefixed(&["targets", &at])));
        }
        if self.collection_interval.is_zero() {
            errors.push(ConfigError::new(
                &["collection_interval"],
                "requires positive value",
            ));
        }
        check_metrics(&self.metrics, metadata::DEFS, &[], &[], &mut errors);
        errors
    }
}

impl ComponentConfig for HttpCheckConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            for (k, why) in t.http.keys_not_acted_on(CLIENT) {
                out.push((format!("targets::{i}::{k}"), why));
            }
        }
        for (name, t) in &self.metrics {
            if metadata::NOT_MEASURED.contains(&name.as_str()) && t.enabled == Some(true) {
                out.push((
                    format!("metrics::{name}"),
                    "Ferrotel does not measure the phases of a request or read the certificate"
                        .into(),
                ));
            }
        }
        out
    }
}

/// One endpoint to check, with its target's settings.
struct Check {
    url: String,
    method: http::Method,
    target: Arc<TargetConfig>,
    client: transport::http::HttpClient,
    /// The compiled `regex` of each validation (`None`: none, or it does not compile).
    regexes: Arc<Vec<Option<regex::Regex>>>,
}

/// A built receiver.
pub struct HttpCheckReceiver {
    id: ComponentId,
    cfg: HttpCheckConfig,
    checks: Vec<Check>,
    /// Start time of every point: when the receiver was built (Go's metrics builder).
    start: u64,
    next: SharedConsumer,
    obs: ReceiverObs,
}

impl HttpCheckReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &HttpCheckConfig,
        next: SignalConsumers,
    ) -> Result<HttpCheckReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the httpcheck receiver produces metrics only"))?;
        let mut checks = Vec::new();
        for (i, t) in cfg.targets.iter().enumerate() {
            let what = format!("{}: targets::{i}", ctx.id);
            let client = t.http.client(&what, CLIENT, &ctx.extensions)?;
            let method = if t.method.is_empty() {
                http::Method::GET
            } else {
                http::Method::from_bytes(t.method.as_bytes())
                    .map_err(|_| BuildError::new(format!("{what}: invalid method")))?
            };
            let regexes = Arc::new(
                t.validations
                    .iter()
                    .map(|v| (!v.regex.is_empty()).then(|| regex::Regex::new(&v.regex).ok())?)
                    .collect::<Vec<_>>(),
            );
            let target = Arc::new(t.clone());
            let urls = t
                .endpoints
                .iter()
                .chain(std::iter::once(&t.http.endpoint).filter(|e| !e.is_empty()));
            for url in urls {
                checks.push(Check {
                    url: url.clone(),
                    method: method.clone(),
                    target: target.clone(),
                    client: client.clone(),
                    regexes: regexes.clone(),
                });
            }
        }
        Ok(HttpCheckReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            cfg: cfg.clone(),
            checks,
            start: now_nanos(),
            next,
        })
    }
}

/// What one request gave.
struct Outcome {
    /// When it was sent (the points' time).
    at: u64,
    method: String,
    result: Result<(u16, Vec<u8>), String>,
    millis: u64,
}

/// Send one check's request and read the whole answer.
async fn run_check(
    url: String,
    method: http::Method,
    target: Arc<TargetConfig>,
    client: transport::http::HttpClient,
) -> Outcome {
    let at = now_nanos();
    let timeout = match target.timeout.get() {
        t if t.is_zero() => Duration::from_secs(30),
        t => t,
    };
    let mut req = client.request(method.clone(), &url).timeout(timeout);
    if !target.body.is_empty() {
        let typed =
            (target.http.headers.iter()).any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if target.auto_content_type && !typed {
            req = req.header(http::header::CONTENT_TYPE, content_type(&target.body));
        }
        req = req.body(target.body.clone());
    }
    let sent = Instant::now();
    let result = async {
        let resp = client
            .send(req)
            .await
            .map_err(|e| describe(&method, &url, &e))?;
        let status = resp.status().as_u16();
        // a body that breaks off counts as none (Go logs the read error and checks the part
        // it read)
        let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        Ok((status, body))
    }
    .await;
    Outcome {
        at,
        method: method.to_string(),
        result,
        millis: sent.elapsed().as_millis() as u64,
    }
}

/// Go's `Content-Type` guess for `auto_content_type`.
fn content_type(body: &str) -> &'static str {
    let t = body.trim();
    if t.starts_with('{') || t.starts_with('[') {
        "application/json"
    } else if body.contains('=') {
        "application/x-www-form-urlencoded"
    } else {
        "text/plain"
    }
}

/// A failed request's text, in the form of Go's `url.Error`: `Get "url": cause`.
fn describe(method: &http::Method, url: &str, e: &transport::http::SendError) -> String {
    let m = method.as_str();
    let mut verb = m.to_ascii_lowercase();
    if let Some(first) = verb.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let cause = match e {
        transport::http::SendError::Http(e) => match std::error::Error::source(e) {
            Some(s) => error_chain(s),
            None if e.is_timeout() => "context deadline exceeded".into(),
            None => e.to_string(),
        },
        auth => auth.to_string(),
    };
    format!("{verb} {url:?}: {cause}")
}

/// One validation's outcome: (type, expression, expected, passed).
type Checked = (&'static str, String, String, bool);

/// Go `validateResponse`: each entry's first rule.
fn validate_body(
    body: &[u8],
    rules: &[ValidationConfig],
    regexes: &[Option<regex::Regex>],
) -> Vec<Checked> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    for (i, v) in rules.iter().enumerate() {
        if !v.contains.is_empty() {
            out.push((
                "contains",
                v.contains.clone(),
                String::new(),
                text.contains(&v.contains),
            ));
        } else if !v.not_contains.is_empty() {
            let ok = !text.contains(&v.not_contains);
            out.push(("not_contains", v.not_contains.clone(), String::new(), ok));
        } else if !v.json_path.is_empty() {
            let ok = match json_path(body, &v.json_path) {
                None => false,
                Some(found) => v.equals.is_empty() || found == v.equals,
            };
            out.push(("json_path", v.json_path.clone(), v.equals.clone(), ok));
        } else if let Some(max) = v.max_size {
            let ok = i64::try_from(body.len()).is_ok_and(|n| n <= max);
            out.push(("size", "max_size".into(), String::new(), ok));
        } else if let Some(min) = v.min_size {
            let ok = i64::try_from(body.len()).is_ok_and(|n| n >= min);
            out.push(("size", "min_size".into(), String::new(), ok));
        } else if !v.regex.is_empty() {
            let ok = regexes
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|re| re.is_match(&text));
            out.push(("regex", v.regex.clone(), String::new(), ok));
        }
    }
    out
}

/// The value at a dotted path of a JSON body (object keys, array indexes), as text: a
/// string's characters, any other value's JSON. `None` when the body is not JSON or the path
/// leads nowhere. (Go uses gjson; its wildcards, queries and modifiers are not read here.)
fn json_path(body: &[u8], path: &str) -> Option<String> {
    let root: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut at = &root;
    for key in path.split('.') {
        at = match at {
            serde_json::Value::Object(m) => m.get(key)?,
            serde_json::Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match at {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Record one check's points (Go's scraper, per endpoint).
fn record(mb: &mut MetricsBuilder, start: u64, check: &Check, o: &Outcome) {
    mb.begin(start, o.at);
    let url = || kv("http.url", AttrValue::Str(check.url.clone()));
    mb.record_attributes("httpcheck.duration", o.millis as f64, vec![url()]);
    let status = match &o.result {
        Ok((status, body)) => {
            if !body.is_empty() {
                mb.record_attributes("httpcheck.response.size", body.len() as f64, vec![url()]);
                let checked = validate_body(body, &check.target.validations, &check.regexes);
                record_validations(mb, &check.url, &checked);
            }
            *status
        }
        Err(message) => {
            let attrs = vec![url(), kv("error.message", AttrValue::Str(message.clone()))];
            mb.record_attributes("httpcheck.error", 1.0, attrs);
            0
        }
    };
    for (n, class) in CLASSES.iter().enumerate() {
        let hit = status != 0 && usize::from(status / 100) == n + 1;
        let mut attrs = vec![url()];
        // a point of value 0 carries no status code (Go removes it after emitting)
        if hit {
            attrs.push(kv("http.status_code", AttrValue::Int(i64::from(status))));
        }
        attrs.push(kv("http.method", AttrValue::Str(o.method.clone())));
        attrs.push(kv("http.status_class", AttrValue::Str((*class).into())));
        mb.record_attributes("httpcheck.status", if hit { 1.0 } else { 0.0 }, attrs);
    }
}

/// The validation metrics: one `result` point per check, and per type the count that passed
/// and the count that failed (only counts above 0).
fn record_validations(mb: &mut MetricsBuilder, url: &str, checked: &[Checked]) {
    let mut counts: Vec<(&'static str, u64, u64)> = Vec::new();
    for (kind, expression, expected, ok) in checked {
        let attrs = vec![
            kv("http.url", AttrValue::Str(url.into())),
            kv("validation.type", AttrValue::Str((*kind).into())),
            kv("validation.expression", AttrValue::Str(expression.clone())),
            kv("validation.expected", AttrValue::Str(expected.clone())),
            kv(
                "validation.result",
                AttrValue::Str(if *ok { "passed" } else { "failed" }.into()),
            ),
        ];
        mb.record_attributes("httpcheck.validation.result", 1.0, attrs);
        match counts.iter_mut().find(|(k, _, _)| k == kind) {
            Some((_, passed, failed)) => {
                *passed += u64::from(*ok);
                *failed += u64::from(!*ok);
            }
            None => counts.push((kind, u64::from(*ok), u64::from(!*ok))),
        }
    }
    for (kind, passed, failed) in counts {
        let attrs = || {
            vec![
                kv("http.url", AttrValue::Str(url.into())),
                kv("validation.type", AttrValue::Str(kind.into())),
            ]
        };
        if passed > 0 {
            mb.record_attributes("httpcheck.validation.passed", passed as f64, attrs());
        }
        if failed > 0 {
            mb.record_attributes("httpcheck.validation.failed", failed as f64, attrs());
        }
    }
}

/// One scrape: every endpoint checked at once; their points in the order of the config.
async fn scrape(checks: &[Check], cfg: &HttpCheckConfig, start: u64) -> ResourceMetrics {
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in checks.iter().enumerate() {
        let (url, method, target, client) = (
            c.url.clone(),
            c.method.clone(),
            c.target.clone(),
            c.client.clone(),
        );
        set.spawn(async move { (i, run_check(url, method, target, client).await) });
    }
    let mut outcomes: Vec<Option<Outcome>> = (0..checks.len()).map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        if let Ok((i, o)) = done {
            outcomes[i] = Some(o);
        }
    }
    let mut mb = MetricsBuilder::new(metadata::DEFS, &toggles(&cfg.metrics));
    for (c, o) in checks.iter().zip(&outcomes) {
        if let Some(o) = o {
            record(&mut mb, start, c, o);
        }
    }
    resource_metrics_scoped(SCOPE, Vec::<KeyValue>::new(), mb.take_metrics())
}

#[async_trait]
impl Receiver for HttpCheckReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let cfg = &self.cfg;
        let deadline = match cfg.timeout.get() {
            t if t.is_zero() => Duration::MAX,
            t => t,
        };
        let mut rounds = Rounds::new(cfg.initial_delay.get(), cfg.collection_interval.get());
        while rounds.next(&shutdown).await {
            let rm = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(deadline, scrape(&self.checks, cfg, self.start)) => match r {
                    Ok(rm) => rm,
                    Err(_) => {
                        tracing::warn!(receiver = %self.id, timeout = %cfg.timeout, "The HTTP checks did not finish within the scrape timeout; trying again at the next interval.");
                        continue;
                    }
                },
            };
            scraping::send(&self.id, &self.next, &self.obs, vec![rm]).await;
        }
        Ok(())
    }
}
