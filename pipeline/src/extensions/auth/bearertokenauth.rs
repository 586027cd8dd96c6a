//! `bearertokenauth` extension (Go contrib `extension/bearertokenauthextension`, v0.155.0):
//! a token in a header, put on every request a client sends and checked on every request a
//! server gets.
//!
//! Go facts relied on (`config.go`, `factory.go`, `bearertokenauth.go`):
//! - `header` (default `Authorization`), `scheme` (default `Bearer`; empty: the token
//!   alone), `token`, `tokens`, `filename`; "no bearer token provided" without any of the
//!   three, "either tokens or token should be provided, not both";
//! - `tokens` win over `filename`, which wins over `token` (with a warning); a file holds a
//!   token per line, the first word of each, and is followed as it changes;
//! - a client sends `<scheme> <first token>`; a server takes any of the tokens, compared in
//!   constant time with the header's first value, and answers "missing or empty
//!   authorization header: <header>" or "provided authorization does not match expected
//!   scheme or token".

use std::sync::Arc;

use pipeline_api::auth::{ClientAuth, ServerAuth};
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::{
    async_trait, declare, BuildError, ComponentConfig, Extension, ExtensionFactory, Meta, Stability,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::Credential;

pub const META: Meta = Meta::new("bearertokenauth").extension(Stability::Beta);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<BearerTokenAuthConfig>(META, |ctx, cfg| {
        let header = http::HeaderName::from_bytes(cfg.header.as_bytes()).map_err(|e| {
            BuildError::new(format!(
                "extensions::{}::header: {:?}: {e}",
                ctx.id, cfg.header
            ))
        })?;
        let fixed = |tokens: &[String]| {
            Tokens::Fixed(tokens.iter().map(|t| with_scheme(&cfg.scheme, t)).collect())
        };
        let tokens = if !cfg.tokens.is_empty() {
            fixed(&cfg.tokens)
        } else if !cfg.filename.is_empty() {
            if !cfg.token.is_empty() {
                tracing::warn!(extension = %ctx.id, "a filename is specified. Configured token(s) is ignored!");
            }
            Tokens::File(Credential::new("", &cfg.filename))
        } else {
            fixed(std::slice::from_ref(&cfg.token))
        };
        Ok(Arc::new(BearerTokenAuth(Arc::new(Inner {
            header,
            header_text: cfg.header.clone(),
            scheme: cfg.scheme.clone(),
            tokens,
        }))))
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BearerTokenAuthConfig {
    pub header: String,
    pub scheme: String,
    pub token: String,
    pub tokens: Vec<String>,
    pub filename: String,
}

impl Default for BearerTokenAuthConfig {
    fn default() -> Self {
        BearerTokenAuthConfig {
            header: "Authorization".into(),
            scheme: "Bearer".into(),
            token: String::new(),
            tokens: Vec::new(),
            filename: String::new(),
        }
    }
}

impl Validate for BearerTokenAuthConfig {
    fn validate(&self) -> Vec<ConfigError> {
        if self.token.is_empty() && self.tokens.is_empty() && self.filename.is_empty() {
            return vec![ConfigError::new(&[], "no bearer token provided")];
        }
        if !self.token.is_empty() && !self.tokens.is_empty() {
            return vec![ConfigError::new(
                &[],
                "either tokens or token should be provided, not both",
            )];
        }
        Vec::new()
    }
}

impl ComponentConfig for BearerTokenAuthConfig {}

/// The header values a server takes, the first one what a client sends.
enum Tokens {
    /// From `tokens` or `token`, made once.
    Fixed(Vec<String>),
    /// From the file's lines, made again from what the file holds now.
    File(Credential),
}

/// A header value: `<scheme> <token>`, or the token alone without a scheme.
fn with_scheme(scheme: &str, token: &str) -> String {
    if scheme.is_empty() {
        token.to_string()
    } else {
        format!("{scheme} {token}")
    }
}

struct Inner {
    header: http::HeaderName,
    header_text: String,
    scheme: String,
    tokens: Tokens,
}

struct BearerTokenAuth(Arc<Inner>);

impl Inner {
    /// Call `f` with the header values as they stand.
    fn with_values<R>(&self, f: impl FnOnce(&[String]) -> R) -> R {
        match &self.tokens {
            Tokens::Fixed(values) => f(values),
            Tokens::File(c) => {
                let text = c.value();
                let values: Vec<String> = text
                    .lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(|t| with_scheme(&self.scheme, t))
                    .collect();
                f(&values)
            }
        }
    }
}

#[async_trait]
impl Extension for BearerTokenAuth {
    async fn start(&self) -> Result<(), BuildError> {
        match &self.0.tokens {
            Tokens::File(c) => c.start(),
            Tokens::Fixed(_) => Ok(()),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn client_auth(&self) -> Option<Arc<dyn ClientAuth>> {
        Some(self.0.clone())
    }

    fn server_auth(&self) -> Option<Arc<dyn ServerAuth>> {
        Some(self.0.clone())
    }
}

impl ClientAuth for Inner {
    fn headers(&self) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, String> {
        let first = self.with_values(|v| v.first().cloned().unwrap_or_default());
        let mut value = http::HeaderValue::from_str(&first).map_err(|e| e.to_string())?;
        value.set_sensitive(true);
        Ok(vec![(self.header.clone(), value)])
    }
}

impl ServerAuth for Inner {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String> {
        let Some(got) = headers.get(&self.header).filter(|v| !v.is_empty()) else {
            return Err(format!(
                "missing or empty authorization header: {}",
                self.header_text
            ));
        };
        let got = got.as_bytes();
        if self.with_values(|v| v.iter().any(|want| bool::from(want.as_bytes().ct_eq(got)))) {
            Ok(())
        } else {
            Err("provided authorization does not match expected scheme or token".into())
        }
    }
}
