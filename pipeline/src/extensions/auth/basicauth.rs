//! `basicauth` extension (Go contrib `extension/basicauthextension`, v0.155.0): HTTP Basic
//! authentication, for clients (`client_auth`: the `Authorization: Basic` header on every
//! request an exporter or scraper sends) or for servers (`htpasswd`: every request a
//! receiver gets is checked against the table).
//!
//! Go facts relied on (`config.go`, `extension.go`, `extension/internal/basicauth`):
//! - exactly one of `htpasswd` and `client_auth` ("only one of `htpasswd` or `client_auth`
//!   can be specified", "no credential source provided"); `htpasswd` with neither `file` nor
//!   `inline` is refused when the extension is made ("no credential source provided");
//! - the htpasswd file is read at start ("open htpasswd file: ..."), then `inline`, whose
//!   lines win; the file is not read again;
//! - `username_file` and `password_file` win over `username` and `password` and follow
//!   their files; a username holding `:` is refused when a client is made ("invalid
//!   authorization format");
//! - the server reads `Authorization` (any case), `Basic ` (any case) then standard base64
//!   of `user:password`, and answers "no basic auth provided", "invalid authorization scheme
//!   prefix", "invalid authorization format" or "invalid credentials".

use std::sync::Arc;

use base64::Engine;
use pipeline_api::auth::{ClientAuth, ServerAuth};
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::{
    async_trait, declare, BuildError, ComponentConfig, Extension, ExtensionFactory, Meta, Stability,
};
use serde::Deserialize;

use super::htpasswd::Htpasswd;
use super::Credential;

pub const META: Meta = Meta::new("basicauth").extension(Stability::Beta);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<BasicAuthConfig>(META, |_ctx, cfg| {
        if let Some(h) = &cfg.htpasswd {
            if h.file.is_empty() && h.inline.is_empty() {
                return Err(BuildError::new("no credential source provided"));
            }
            return Ok(Arc::new(BasicAuth::Server(Arc::new(Server {
                settings: h.clone(),
                table: std::sync::OnceLock::new(),
            }))));
        }
        let c = cfg.client_auth.clone().unwrap_or_default();
        Ok(Arc::new(BasicAuth::Client(Arc::new(Client {
            username: Credential::new(&c.username, &c.username_file),
            password: Credential::new(&c.password, &c.password_file),
        }))))
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuthConfig {
    pub htpasswd: Option<HtpasswdSettings>,
    pub client_auth: Option<ClientAuthSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HtpasswdSettings {
    pub file: String,
    pub inline: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientAuthSettings {
    pub username: String,
    pub username_file: String,
    pub password: String,
    pub password_file: String,
}

impl Validate for BasicAuthConfig {
    fn validate(&self) -> Vec<ConfigError> {
        match (&self.htpasswd, &self.client_auth) {
            (Some(_), Some(_)) => vec![ConfigError::new(
                &[],
                "only one of `htpasswd` or `client_auth` can be specified",
            )],
            (None, None) => vec![ConfigError::new(&[], "no credential source provided")],
            _ => Vec::new(),
        }
    }
}

impl ComponentConfig for BasicAuthConfig {}

enum BasicAuth {
    Client(Arc<Client>),
    Server(Arc<Server>),
}

struct Client {
    username: Credential,
    password: Credential,
}

struct Server {
    settings: HtpasswdSettings,
    table: std::sync::OnceLock<Htpasswd>,
}

#[async_trait]
impl Extension for BasicAuth {
    async fn start(&self) -> Result<(), BuildError> {
        match self {
            BasicAuth::Client(c) => {
                c.username.start()?;
                c.password.start()
            }
            BasicAuth::Server(s) => {
                let mut text = String::new();
                if !s.settings.file.is_empty() {
                    text = std::fs::read_to_string(&s.settings.file)
                        .map_err(|e| BuildError::new(format!("open htpasswd file: {e}")))?;
                    text.push('\n');
                }
                // the inline lines come last, so they win
                text.push_str(&s.settings.inline);
                let _ = s.table.set(Htpasswd::parse(&text));
                Ok(())
            }
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn client_auth(&self) -> Option<Arc<dyn ClientAuth>> {
        match self {
            BasicAuth::Client(c) => Some(c.clone()),
            BasicAuth::Server(_) => None,
        }
    }

    fn server_auth(&self) -> Option<Arc<dyn ServerAuth>> {
        match self {
            BasicAuth::Server(s) => Some(s.clone()),
            BasicAuth::Client(_) => None,
        }
    }
}

impl ClientAuth for Client {
    fn headers(&self) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, String> {
        let (user, password) = (self.username.value(), self.password.value());
        if user.contains(':') {
            return Err("invalid authorization format".into());
        }
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut value =
            http::HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|e| e.to_string())?;
        value.set_sensitive(true);
        Ok(vec![(http::header::AUTHORIZATION, value)])
    }
}

/// The user and password of an `Authorization` value, as Go's `ParseBasicAuth` reads them
/// (`Basic ` in any case, standard base64 of `user:password`), or Go's reason.
pub fn parse_basic(value: &[u8]) -> Result<(String, String), &'static str> {
    const PREFIX: &[u8] = b"Basic ";
    if value.len() < PREFIX.len() || !value[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return Err("invalid authorization scheme prefix");
    }
    let format = "invalid authorization format";
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&value[PREFIX.len()..])
        .map_err(|_| format)?;
    let decoded = String::from_utf8_lossy(&decoded);
    let (user, password) = decoded.split_once(':').ok_or(format)?;
    Ok((user.to_string(), password.to_string()))
}

impl ServerAuth for Server {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String> {
        let Some(auth) = headers
            .get(http::header::AUTHORIZATION)
            .filter(|v| !v.is_empty())
        else {
            return Err("no basic auth provided".into());
        };
        let (user, password) = parse_basic(auth.as_bytes())?;
        match self.table.get() {
            Some(t) if t.matches(&user, &password) => Ok(()),
            _ => Err("invalid credentials".into()),
        }
    }
}
