//! TLS for every server (Go `configtls.ServerConfig` and `LoadTLSConfig`), with rustls: the
//! config keys with Go's defaults, their checks, and the acceptor.
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
        for cert in read_certs(&cfg.client_ca_file, "").map_err(err)? {
            roots
                .add(cert)
                .map_err(|e| err(format!("client_ca_file {:?}: {e}", cfg.client_ca_file)))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| err(format!("client_ca_file {:?}: {e}", cfg.client_ca_file)))?;
        builder.with_client_cert_verifier(verifier)
    };
    let resolver = Reloader::new(cfg.clone()).map_err(err)?;
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_certs(file: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = if file.is_empty() {
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect()
    } else {
        CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("{file:?}: {e}"))?
            .collect()
    };
    let certs =
        certs.map_err(|e| format!("{}: {e}", if file.is_empty() { "cert_pem" } else { file }))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate found",
            if file.is_empty() { "cert_pem" } else { file }
        ));
    }
    Ok(certs)
}

fn load_key(cfg: &TlsServerConfig) -> Result<Arc<CertifiedKey>, String> {
    let certs = read_certs(&cfg.cert_file, &cfg.cert_pem)?;
    let key = if cfg.key_file.is_empty() {
        PrivateKeyDer::from_pem_slice(cfg.key_pem.as_bytes())
            .map_err(|e| format!("key_pem: {e}"))?
    } else {
        PrivateKeyDer::from_pem_file(&cfg.key_file)
            .map_err(|e| format!("{:?}: {e}", cfg.key_file))?
    };
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("private key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

/// Serves the current certificate; re-reads it when `reload_interval` has passed.
struct Reloader {
    cfg: TlsServerConfig,
    interval: Duration,
    state: Mutex<(Arc<CertifiedKey>, Instant)>,
}

impl fmt::Debug for Reloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloader")
            .field("cert_file", &self.cfg.cert_file)
            .finish()
    }
}

impl Reloader {
    fn new(cfg: TlsServerConfig) -> Result<Reloader, String> {
        let key = load_key(&cfg)?;
        let interval = cfg.reload_interval.get();
        Ok(Reloader {
            cfg,
            interval,
            state: Mutex::new((key, Instant::now())),
        })
    }
}

impl ResolvesServerCert for Reloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !self.interval.is_zero() && state.1.elapsed() >= self.interval {
            state.1 = Instant::now();
            match load_key(&self.cfg) {
                Ok(key) => state.0 = key,
                Err(e) => {
                    tracing::warn!(error = %e, "Reloading the TLS certificate failed; keeping the previous one.")
                }
            }
        }
        Some(state.0.clone())
    }
}
