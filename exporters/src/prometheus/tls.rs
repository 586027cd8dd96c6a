//! TLS for the scrape endpoint (Go `configtls.ServerConfig.LoadTLSConfig`), with rustls: the
//! certificate and key from files or PEM, TLS 1.2 minimum unless 1.3 is asked for, and client
//! certificates required and verified when `client_ca_file` is set (Go
//! `tls.RequireAndVerifyClientCert`). The certificate is read once, at build.

use std::sync::Arc;

use pipeline_api::BuildError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use super::config::TlsServerConfig;

fn certs(file: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = if file.is_empty() {
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect()
    } else {
        CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("{file:?}: {e}"))?
            .collect()
    };
    let what = if file.is_empty() { "cert_pem" } else { file };
    let certs = certs.map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate found"));
    }
    Ok(certs)
}

pub fn acceptor(cfg: &TlsServerConfig) -> Result<TlsAcceptor, BuildError> {
    let err = |e: String| BuildError::new(format!("tls: failed to load TLS config: {e}"));
    if cfg
        .tpm
        .as_ref()
        .and_then(|t| t.get("enabled"))
        .and_then(|e| e.as_bool())
        .unwrap_or(false)
    {
        return Err(err("TPM keys are not supported by Ferrotel".into()));
    }
    if !cfg.reload_interval.is_zero() {
        tracing::warn!("tls::reload_interval is not supported by the prometheus exporter; the certificate is read once");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        match (cfg.min_version.as_str(), cfg.max_version.as_str()) {
            (_, "1.2") => vec![&rustls::version::TLS12],
            ("1.3", _) => vec![&rustls::version::TLS13],
            _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
        };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err(e.to_string()))?;
    let builder = if cfg.client_ca_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for cert in certs(&cfg.client_ca_file, "").map_err(err)? {
            roots
                .add(cert)
                .map_err(|e| err(format!("client_ca_file {:?}: {e}", cfg.client_ca_file)))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| err(format!("client_ca_file {:?}: {e}", cfg.client_ca_file)))?;
        builder.with_client_cert_verifier(verifier)
    };
    let chain = certs(&cfg.cert_file, &cfg.cert_pem).map_err(err)?;
    let key = if cfg.key_file.is_empty() {
        PrivateKeyDer::from_pem_slice(cfg.key_pem.as_bytes())
            .map_err(|e| err(format!("key_pem: {e}")))?
    } else {
        PrivateKeyDer::from_pem_file(&cfg.key_file)
            .map_err(|e| err(format!("{:?}: {e}", cfg.key_file)))?
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| err(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
