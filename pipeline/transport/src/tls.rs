//! TLS for every server (Go `configtls.ServerConfig` and `LoadTLSConfig`), with rustls: the
//! config keys with Go's defaults, their checks, and the acceptor. The client side (Go
//! `configtls.ClientConfig`) is in `client.rs`.
//!
//! The certificate and key come from files or inline PEM; with `reload_interval` they are
//! read again, at the first handshake after the interval (as Go's `certReloader` does).
//! `client_ca_file` makes client certificates required and verified (Go:
//! `tls.RequireAndVerifyClientCert`).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_api::BuildError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration};
use serde::Deserialize;

mod client;
pub use client::{server_name, TlsClientConfig};

/// `tls` of a server (Go `configtls.ServerConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsServerConfig {
    pub ca_file: String,
    pub ca_pem: String,
    pub include_system_ca_certs_pool: bool,
    pub cert_file: String,
    pub cert_pem: String,
    pub key_file: String,
    pub key_pem: String,
    /// `1.2` (Go's default) or `1.3`; `1.0` and `1.1` are taken as `1.2` with a warning:
    /// rustls speaks no older version.
    pub min_version: String,
    pub max_version: String,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub include_insecure_cipher_suites: bool,
    /// Re-read the certificate and key this often (0: never).
    pub reload_interval: GoDuration,
    /// Require and verify client certificates signed by this CA.
    pub client_ca_file: String,
    pub client_ca_file_reload: bool,
    pub tpm: Option<ConfigValue>,
}

/// Go `configtls.ServerConfig` checks that need no file: errors under `path` (the `tls` key).
pub fn check_server(tls: &TlsServerConfig, path: &[&str], errors: &mut Vec<ConfigError>) {
    let has_cert = !tls.cert_file.is_empty() || !tls.cert_pem.is_empty();
    let has_key = !tls.key_file.is_empty() || !tls.key_pem.is_empty();
    if !has_cert || !has_key {
        errors.push(ConfigError::new(
            path,
            "a TLS server needs a certificate and its key: set cert_file (or cert_pem) and key_file (or key_pem)",
        ));
    }
    if !tls.cert_file.is_empty() && !tls.cert_pem.is_empty() {
        errors.push(ConfigError::new(
            path,
            "set only one of cert_file and cert_pem",
        ));
    }
    if !tls.key_file.is_empty() && !tls.key_pem.is_empty() {
        errors.push(ConfigError::new(
            path,
            "set only one of key_file and key_pem",
        ));
    }
    for (key, v) in [
        ("min_version", &tls.min_version),
        ("max_version", &tls.max_version),
    ] {
        if !matches!(v.as_str(), "" | "1.0" | "1.1" | "1.2" | "1.3") {
            let mut p = path.to_vec();
            p.push(key);
            errors.push(ConfigError::new(
                &p,
                format!("invalid TLS version {v:?}; expected 1.0, 1.1, 1.2 or 1.3"),
            ));
        }
    }
    if tls.max_version == "1.0" || tls.max_version == "1.1" {
        let mut p = path.to_vec();
        p.push("max_version");
        errors.push(ConfigError::new(
            &p,
            "TLS versions below 1.2 are not supported",
        ));
    }
}

/// Build the acceptor for one server; `alpn` lists the application protocols offered
/// (`h2` for gRPC; `h2` and `http/1.1` for OTLP/HTTP, as Go's confighttp does).
pub fn server_acceptor(
    cfg: &TlsServerConfig,
    alpn: &[&[u8]],
    what: &str,
) -> Result<TlsAcceptor, BuildError> {
    let err = |e: String| BuildError::new(format!("{what}: failed to load TLS config: {e}"));
    let tpm = cfg
        .tpm
        .as_ref()
        .and_then(|t| t.get("enabled"))
        .and_then(|e| e.as_bool())
        .unwrap_or(false);
    if tpm {
        return Err(err("TPM keys are not supported by Ferrotel".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        match (cfg.min_version.as_str(), cfg.max_version.as_str()) {
            (_, "1.2") => vec![&rustls::version::TLS12],
            ("1.3", _) => vec![&rustls::version::TLS13],
            (min, _) => {
                if min == "1.0" || min == "1.1" {
                    tracing::warn!(
                        min_version = min,
                        "TLS versions below 1.2 are not supported; using 1.2 as the minimum"
                    );
                }
                vec![&rustls::version::TLS13, &rustls::version::TLS12]
            }
        };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err(e.to_string()))?;
    let builder = if cfg.client_ca_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for cert in read_certs(&cfg.client_ca_file, "", "client_ca_file").map_err(err)? {
            roots
                .add(cert)
                .map_err(|e| err(format!("client_ca_file {:?}: {e}", cfg.client_ca_file)))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| err(format!("client_ca_file {:?}: {e}", cfg.client_ca_file)))?;
        builder.with_client_cert_verifier(verifier)
    };
    let key = ReloadingKey::new(cfg.key_source()).map_err(err)?;
    let mut config = builder.with_cert_resolver(Arc::new(ServerKey(key)));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Certificates from a file or inline PEM; `what` names the key in errors (`cert_file`,
/// `ca_pem`, …).
pub fn read_certs(
    file: &str,
    pem: &str,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = if file.is_empty() {
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect()
    } else {
        CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("{what} {file:?}: {e}"))?
            .collect()
    };
    let certs = certs.map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate found"));
    }
    Ok(certs)
}

/// Where a certificate and its key come from (files or inline PEM), and how often they are
/// read again (0: never). A server's certificate and an exporter's client certificate alike.
#[derive(Debug, Clone)]
pub struct KeySource {
    pub cert_file: String,
    pub cert_pem: String,
    pub key_file: String,
    pub key_pem: String,
    pub reload_interval: Duration,
}

impl KeySource {
    fn load(&self) -> Result<Arc<CertifiedKey>, String> {
        let what = if self.cert_file.is_empty() {
            "cert_pem"
        } else {
            "cert_file"
        };
        let certs = read_certs(&self.cert_file, &self.cert_pem, what)?;
        let key = if self.key_file.is_empty() {
            PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
                .map_err(|e| format!("key_pem: {e}"))?
        } else {
            PrivateKeyDer::from_pem_file(&self.key_file)
                .map_err(|e| format!("key_file {:?}: {e}", self.key_file))?
        };
        let signing = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("private key: {e}"))?;
        Ok(Arc::new(CertifiedKey::new(certs, signing)))
    }
}

/// The current certificate and key, read again at the first use after `reload_interval` (as
/// Go's `certReloader`); a failed reload keeps the previous one and says so.
pub struct ReloadingKey {
    source: KeySource,
    state: Mutex<(Arc<CertifiedKey>, Instant)>,
}

impl fmt::Debug for ReloadingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingKey")
            .field("cert_file", &self.source.cert_file)
            .finish()
    }
}

impl ReloadingKey {
    /// Read the certificate and key now (errors name the key at fault).
    pub fn new(source: KeySource) -> Result<ReloadingKey, String> {
        let key = source.load()?;
        Ok(ReloadingKey {
            source,
            state: Mutex::new((key, Instant::now())),
        })
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let interval = self.source.reload_interval;
        if !interval.is_zero() && state.1.elapsed() >= interval {
            state.1 = Instant::now();
            match self.source.load() {
                Ok(key) => state.0 = key,
                Err(e) => {
                    tracing::warn!(error = %e, "Reloading the TLS certificate failed; keeping the previous one.")
                }
            }
        }
        state.0.clone()
    }
}

impl TlsServerConfig {
    fn key_source(&self) -> KeySource {
        KeySource {
            cert_file: self.cert_file.clone(),
            cert_pem: self.cert_pem.clone(),
            key_file: self.key_file.clone(),
            key_pem: self.key_pem.clone(),
            reload_interval: self.reload_interval.get(),
        }
    }
}

#[derive(Debug)]
struct ServerKey(ReloadingKey);

impl ResolvesServerCert for ServerKey {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}
