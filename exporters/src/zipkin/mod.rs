//! `zipkin` exporter: traces to a Zipkin v2 collector (`POST` of a JSON or protobuf span
//! list), as Go's `exporter/zipkinexporter`.
//!
//! Go facts relied on (`config.go`, `factory.go`, `zipkin.go`): the config squashes
//! `confighttp.ClientConfig` and adds `format` (`json` default, or `proto`) and
//! `default_service_name` (`<missing service name>`; stored by Go and never used, so here
//! too); the client timeout is 5s and the exporterhelper timeout is off; sending queue and
//! retries on by default. A request that cannot be translated (a span without trace or span
//! id) is a permanent error; a non-2xx answer is an error (retried), as is a failed request.

#[doc(hidden)]
pub mod fixture;
pub mod model;
#[cfg(test)]
mod tests;
pub mod translate;

use std::sync::Arc;
use std::time::Duration;

use http::header::CONTENT_TYPE;
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::{
    async_trait, Batch, BatchData, BuildError, ComponentConfig, ComponentId, ConsumeError,
    Exporter, ExporterFactory,
};
use pipeline_api::{declare, Meta, Stability};
use serde::Deserialize;
use transport::compression::Compression;
use transport::http::{check_url, error_chain, ClientOptions, HttpClientConfig};

pub const TYPE_NAME: &str = "zipkin";

pub const META: Meta = Meta::new(TYPE_NAME).traces(Stability::Beta);

/// How this exporter uses the HTTP client: bodies are not compressed (Go's zipkin exporter
/// sends them as they are serialized).
pub const CLIENT: ClientOptions = ClientOptions {
    http1_only: false,
    compresses_bodies: false,
};

/// `exporters: zipkin:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Config {
    #[serde(skip)]
    pub http: HttpClientConfig,
    /// `json` or `proto`.
    pub format: String,
    /// Accepted and not used (as in Go).
    pub default_service_name: String,
}

pipeline_api::squashed!(Config, http);

impl Default for Config {
    fn default() -> Self {
        Config {
            http: HttpClientConfig::default(),
            format: "json".into(),
            default_service_name: "<missing service name>".into(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.http.endpoint.is_empty() {
            errors.push(ConfigError::new(&["endpoint"], "endpoint required"));
        } else if let Err(e) = check_url(&self.http.endpoint) {
            errors.push(ConfigError::new(&["endpoint"], e));
        }
        if self.format != "json" && self.format != "proto" {
            errors.push(ConfigError::new(
                &["format"],
                format!("{} is not one of json or proto", self.format),
            ));
        }
        errors.extend(self.http.validate(Compression::None));
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        self.http.keys_not_acted_on(CLIENT)
    }
}

/// Go's client timeout, 5s, is the export timeout here.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(ZipkinExporter::new(ctx.id, cfg, &ctx.extensions)?))
    })
    .default_timeout(Duration::from_secs(5))
    .into_factory()
}

pub struct ZipkinExporter {
    client: transport::http::HttpClient,
    url: String,
    proto: bool,
}

impl ZipkinExporter {
    /// `extensions`: the running ones, for `auth::authenticator`.
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<ZipkinExporter, BuildError> {
        Ok(ZipkinExporter {
            client: cfg.http.client(&id.to_string(), CLIENT, extensions)?,
            url: cfg.http.endpoint.clone(),
            proto: cfg.format == "proto",
        })
    }
}

#[async_trait]
impl Exporter for ZipkinExporter {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        let BatchData::Traces(req) = batch.data() else {
            return Ok(());
        };
        let spans = translate::from_otlp(req).map_err(|e| {
            ConsumeError::permanent(format!(
                "failed to push trace data via Zipkin exporter: {e}"
            ))
        })?;
        let (body, content_type) = if self.proto {
            (model::to_proto(&spans), "application/x-protobuf")
        } else {
            (model::to_json(&spans), "application/json")
        };
        let request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        let response = self.client.send(request).await.map_err(|e| {
            ConsumeError::retryable(format!(
                "failed to push trace data via Zipkin exporter: {}",
                error_chain(&e)
            ))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ConsumeError::retryable(format!(
                "failed the request with status code {}",
                status.as_u16()
            )));
        }
        Ok(())
    }
}
