//! Authenticator extensions as the components that name them use them (Go
//! `extensionauth` and `configauth`): an exporter's or scraper's `auth::authenticator` puts
//! the extension's credentials on every request it sends; a receiver's checks every request
//! it gets before anything else is done with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::component::Extension;
use crate::error::BuildError;
use crate::ids::ComponentId;

/// What a client authenticator puts on each outgoing request.
pub trait ClientAuth: Send + Sync {
    /// The headers for the request about to be sent, read now: credentials kept in files
    /// follow the files.
    fn headers(&self) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, String>;
}

/// What a server authenticator checks on each incoming request.
pub trait ServerAuth: Send + Sync {
    /// `Err` holds what the client is told (Go's error text).
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String>;
}

/// `auth` of a client or a gRPC server (Go `configauth.Config`): the id of an authenticator
/// extension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub authenticator: String,
}

impl AuthConfig {
    /// The extension's client side; `what` names the component in messages.
    pub fn client(
        &self,
        extensions: &Extensions,
        kind: ClientKind,
        what: &str,
    ) -> Result<Arc<dyn ClientAuth>, BuildError> {
        client_auth(extensions, &self.authenticator, kind, "auth")
            .map_err(|e| BuildError::new(format!("{what}: {e}")))
    }
}

/// `auth` of an HTTP server (Go `confighttp.AuthConfig`): the authenticator, and query
/// parameters it also reads as headers (`request_params`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct HttpServerAuthConfig {
    pub authenticator: String,
    pub request_params: Vec<String>,
}

/// A server's authenticator, and the query parameters it also reads.
#[derive(Clone)]
pub struct Guard {
    server: Arc<dyn ServerAuth>,
    params: Vec<String>,
}

impl Guard {
    /// The authenticator `id` of a server's `auth` section (`key` leads to it, for
    /// messages).
    pub fn new(
        extensions: &Extensions,
        id: &str,
        params: &[String],
        key: &str,
    ) -> Result<Guard, BuildError> {
        Ok(Guard {
            server: server_auth(extensions, id, key)?,
            params: params.to_vec(),
        })
    }

    /// What the authenticator says of a request with these headers and query.
    pub fn check(&self, headers: &http::HeaderMap, query: Option<&str>) -> Result<(), String> {
        let with_params = with_request_params(headers, query, &self.params);
        self.server
            .authenticate(with_params.as_ref().unwrap_or(headers))
    }
}

/// Which kind of client asks, for Go's message when the extension is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Http,
    Grpc,
}

/// The extensions of a running graph, by id.
pub type Extensions = BTreeMap<ComponentId, Arc<dyn Extension>>;

fn find<'e>(extensions: &'e Extensions, id: &str) -> Result<&'e Arc<dyn Extension>, BuildError> {
    ComponentId::parse(id)
        .ok()
        .and_then(|id| extensions.get(&id))
        .ok_or_else(|| {
            BuildError::new(format!(
                "failed to resolve authenticator {id:?}: authenticator not found"
            ))
        })
}

/// The client authenticator `id` (Go `configauth.Config.GetHTTPClientAuthenticator` and
/// `GetGRPCClientAuthenticator`, with their messages). `what` prefixes the message with the
/// key that names it.
fn client_auth(
    extensions: &Extensions,
    id: &str,
    kind: ClientKind,
    what: &str,
) -> Result<Arc<dyn ClientAuth>, BuildError> {
    let ext = find(extensions, id).map_err(|e| BuildError::new(format!("{what}: {e}")))?;
    ext.client_auth().ok_or_else(|| {
        let which = match kind {
            ClientKind::Http => "HTTP",
            ClientKind::Grpc => "gRPC",
        };
        BuildError::new(format!(
            "{what}: requested authenticator is not a {which} client authenticator"
        ))
    })
}

/// The server authenticator `id` (Go `configauth.Config.GetServerAuthenticator`).
fn server_auth(
    extensions: &Extensions,
    id: &str,
    what: &str,
) -> Result<Arc<dyn ServerAuth>, BuildError> {
    let ext = find(extensions, id).map_err(|e| BuildError::new(format!("{what}: {e}")))?;
    ext.server_auth().ok_or_else(|| {
        BuildError::new(format!(
            "{what}: requested authenticator is not a server authenticator"
        ))
    })
}

/// The headers a server authenticator reads from an HTTP request: its headers, and each
/// of `params` found in its query where no header of that name came (Go confighttp's
/// `auth::request_params`).
fn with_request_params(
    headers: &http::HeaderMap,
    query: Option<&str>,
    params: &[String],
) -> Option<http::HeaderMap> {
    let query = query.filter(|_| !params.is_empty())?;
    let mut out = headers.clone();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if !params.iter().any(|p| *p == k) {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) else {
            continue;
        };
        if !headers.contains_key(&name) {
            out.append(name, value);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_params_fill_in_missing_headers_only() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Basic a".parse().unwrap());
        let params = vec!["authorization".to_string(), "token".to_string()];
        let out = with_request_params(&h, Some("authorization=x&token=a%20b+c&other=1"), &params)
            .unwrap();
        assert_eq!(out.get("authorization").unwrap(), "Basic a");
        assert_eq!(out.get("token").unwrap(), "a b c");
        assert!(out.get("other").is_none());
        assert!(with_request_params(&h, Some("token=1"), &[]).is_none());
        assert!(with_request_params(&h, None, &params).is_none());
    }
}
