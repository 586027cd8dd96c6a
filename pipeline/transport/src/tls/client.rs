//! `tls` of a client (Go `configtls.ClientConfig`), built into a rustls client config.
//!
//! Go facts relied on (`config/configtls/configtls.go`):
//! - `LoadTLSConfig` returns no TLS config (plaintext) when `insecure` is true and no CA is
//!   set (`ca_file`/`ca_pem`); with a CA, `insecure` does not turn TLS off.
//! - Without a CA the system roots verify the server; `include_system_ca_certs_pool` adds
//!   the system roots to a configured CA.
//! - The default minimum version is TLS 1.2; the maximum is the newest.
//! - Setting only one of certificate and key, or both a file and a PEM of one thing, is an
//!   error (`Config.Validate`).
//! - `server_name_override` sets the name sent (SNI) and verified; `insecure_skip_verify`
//!   skips verification of the server's certificate. Where the connection is not made here
//!   (the HTTP client names the server by the URL's host), the override is the name the
//!   certificate is verified against, and the URL's host is still the name sent.
//! - With `reload_interval`, the client certificate and key are read again once the
//!   interval has passed (`certReloader`).

use std::sync::{Arc, OnceLock};

use super::{read_certs, KeySource, ReloadingKey};
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;

/// `tls` of a client.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsClientConfig {
    /// Plaintext (gRPC) when true and no CA is set. Default false: TLS on.
    pub insecure: bool,
    /// Do not verify the server's certificate.
    pub insecure_skip_verify: bool,
    /// The server name sent and verified instead of the endpoint's host.
    pub server_name_override: String,
    /// CA certificates (PEM file) that verify the server; default: the system roots.
    pub ca_file: String,
    pub ca_pem: String,
    /// Add the system roots to `ca_file`/`ca_pem`.
    pub include_system_ca_certs_pool: bool,
    /// Client certificate and key (mutual TLS).
    pub cert_file: String,
    pub cert_pem: String,
    pub key_file: String,
    pub key_pem: String,
    /// `1.2` (default) or `1.3`; `1.0`/`1.1` are taken as `1.2` with a warning (rustls
    /// speaks nothing older).
    pub min_version: String,
    pub max_version: String,
    /// Go cipher suite names (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`...); TLS 1.3 suites
    /// are always on, as in Go.
    pub cipher_suites: Vec<String>,
    /// `X25519`, `P256`, `P384` (rustls with ring has no `P521`).
    pub curve_preferences: Vec<String>,
    /// Re-read the client certificate and key this often (0: never).
    pub reload_interval: GoDuration,
    /// Go `configtls.TPMConfig`: accepted; enabling it fails the build.
    pub tpm: Option<ConfigValue>,
}

impl TlsClientConfig {
    pub fn has_ca(&self) -> bool {
        !self.ca_file.is_empty() || !self.ca_pem.is_empty()
    }

    fn has_cert(&self) -> bool {
        !self.cert_file.is_empty() || !self.cert_pem.is_empty()
    }

    fn has_key(&self) -> bool {
        !self.key_file.is_empty() || !self.key_pem.is_empty()
    }

    /// Whether TLS is used when the endpoint does not force it (Go: not `insecure`, or a CA).
    pub fn enabled(&self) -> bool {
        !self.insecure || self.has_ca()
    }

    /// Pure checks, Go `configtls.Config.Validate`.
    pub fn validate(&self, path: &[&str]) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let at = |key: &str| {
            let mut p = path.to_vec();
            p.push(key);
            p.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        };
        let err = |p: Vec<String>, m: &str| ConfigError {
            path: p,
            message: m.to_string(),
        };
        if !self.ca_file.is_empty() && !self.ca_pem.is_empty() {
            errors.push(err(
                at("ca_file"),
                "provide either a CA file or the PEM-encoded string, but not both",
            ));
        }
        if !self.cert_file.is_empty() && !self.cert_pem.is_empty() {
            errors.push(err(
                at("cert_file"),
                "provide either certificate file or PEM, but not both",
            ));
        }
        if !self.key_file.is_empty() && !self.key_pem.is_empty() {
            errors.push(err(
                at("key_file"),
                "provide either key file or PEM, but not both",
            ));
        }
        if self.has_cert() != self.has_key() {
            errors.push(ConfigError::new(
                path,
                "TLS configuration must include both certificate and key (cert_file/cert_pem and key_file/key_pem)",
            ));
        }
        let min = version_rank(&self.min_version);
        let max = version_rank(&self.max_version);
        if min.is_none() {
            errors.push(err(
                at("min_version"),
                &format!(
                    "invalid TLS min_version {:?}; expected 1.0, 1.1, 1.2 or 1.3",
                    self.min_version
                ),
            ));
        }
        match max {
            None => errors.push(err(
                at("max_version"),
                &format!(
                    "invalid TLS max_version {:?}; expected 1.2 or 1.3",
                    self.max_version
                ),
            )),
            Some(1 | 2) => errors.push(err(
                at("max_version"),
                "TLS versions below 1.2 are not supported",
            )),
            _ => {}
        }
        if let (Some(min), Some(max)) = (min, max) {
            if max != 0 && max < min {
                errors.push(ConfigError::new(
                    path,
                    "invalid TLS configuration: min_version cannot be greater than max_version",
                ));
            }
        }
        for s in &self.cipher_suites {
            if cipher_suite(s).is_none() {
                errors.push(err(
                    at("cipher_suites"),
                    &format!("invalid TLS cipher suite: {s:?}"),
                ));
            }
        }
        for c in &self.curve_preferences {
            if kx_group(c).is_none() {
                errors.push(err(
                    at("curve_preferences"),
                    &format!("invalid curve type: {c}; expected X25519, P256 or P384"),
                ));
            }
        }
        errors
    }

    /// The rustls config for a connection offering `alpn`: `None` means plaintext. `https`
    /// says the endpoint's scheme demands TLS: then Go uses TLS with system roots even when
    /// `insecure` turned the configured TLS off.
    pub fn client_config(
        &self,
        alpn: &[&[u8]],
        https: bool,
    ) -> Result<Option<ClientConfig>, String> {
        if !self.enabled() {
            if !https {
                return Ok(None);
            }
            let config = TlsClientConfig::default().build(alpn)?;
            return Ok(Some(config));
        }
        self.build(alpn).map(Some)
    }

    fn build(&self, alpn: &[&[u8]]) -> Result<ClientConfig, String> {
        if self
            .tpm
            .as_ref()
            .and_then(|t| t.get("enabled"))
            .and_then(|e| e.as_bool())
            .unwrap_or(false)
        {
            return Err("tls::tpm: TPM keys are not supported by Ferrotel".into());
        }
        let provider = Arc::new(self.provider()?);
        let versions = self.versions();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = if self.insecure_skip_verify || !self.server_name_override.is_empty() {
            let verify_as = if self.insecure_skip_verify {
                None
            } else {
                let verifier = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.roots()?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("TLS: {e}"))?;
                Some((verifier, server_name(self, "")?))
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ServerCheck {
                    verify_as,
                    provider: provider.clone(),
                }))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = if self.has_cert() || self.has_key() {
            builder.with_client_cert_resolver(Arc::new(ClientKey::new(self)?))
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// The versions spoken: `min_version`/`max_version` within what rustls has.
    fn versions(&self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        match (
            version_rank(&self.min_version).unwrap_or(0),
            version_rank(&self.max_version).unwrap_or(0),
        ) {
            (_, 3) => vec![&rustls::version::TLS12],
            (4, _) => vec![&rustls::version::TLS13],
            (min, _) => {
                if min == 1 || min == 2 {
                    tracing::warn!(
                        min_version = %self.min_version,
                        "TLS versions below 1.2 are not supported; using 1.2 as the minimum"
                    );
                }
                vec![&rustls::version::TLS13, &rustls::version::TLS12]
            }
        }
    }

    /// ring's provider with the configured cipher suites and curves.
    fn provider(&self) -> Result<CryptoProvider, String> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let wanted: Vec<rustls::CipherSuite> = self
                .cipher_suites
                .iter()
                .map(|s| cipher_suite(s).ok_or_else(|| format!("invalid TLS cipher suite: {s:?}")))
                .collect::<Result<_, _>>()?;
            // Go: the list applies to TLS 1.2; TLS 1.3 suites are not configurable.
            provider
                .cipher_suites
                .retain(|s| s.version() == &rustls::version::TLS13 || wanted.contains(&s.suite()));
        }
        if !self.curve_preferences.is_empty() {
            let mut groups = Vec::new();
            for c in &self.curve_preferences {
                let name = kx_group(c).ok_or_else(|| format!("invalid curve type: {c}"))?;
                if let Some(g) = provider.kx_groups.iter().find(|g| g.name() == name) {
                    groups.push(*g);
                }
            }
            provider.kx_groups = groups;
        }
        Ok(provider)
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        if !self.has_ca() || self.include_system_ca_certs_pool {
            roots.extend(system_roots().roots.iter().cloned());
        }
        if self.has_ca() {
            let (file, pem) = (&self.ca_file, &self.ca_pem);
            let what = if file.is_empty() { "ca_pem" } else { "ca_file" };
            for cert in read_certs(file, pem, what)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("failed to load CA CertPool: {what}: {e}"))?;
            }
        }
        Ok(roots)
    }
}

/// The system's root certificates, read once per process (as Go's `x509.SystemCertPool`).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "Reading a system root certificate failed.");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                ignored,
                "No system root certificates found; TLS servers can only be verified with tls::ca_file."
            );
        }
        roots
    })
}

/// Ordinal of a TLS version string; `Some(0)` for empty (the default).
fn version_rank(v: &str) -> Option<u8> {
    match v {
        "" => Some(0),
        "1.0" => Some(1),
        "1.1" => Some(2),
        "1.2" => Some(3),
        "1.3" => Some(4),
        _ => None,
    }
}

/// A Go cipher suite name as rustls knows it (the IANA names, which Go uses too).
fn cipher_suite(name: &str) -> Option<rustls::CipherSuite> {
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .iter()
        .map(|s| s.suite())
        .find(|s| format!("{s:?}") == name)
}

/// Go curve names (`configtls` `tlsCurveTypes`) to rustls groups.
fn kx_group(name: &str) -> Option<rustls::NamedGroup> {
    Some(match name {
        "X25519" => rustls::NamedGroup::X25519,
        "P256" => rustls::NamedGroup::secp256r1,
        "P384" => rustls::NamedGroup::secp384r1,
        _ => return None,
    })
}

/// The client certificate (read again when `reload_interval` has passed).
#[derive(Debug)]
struct ClientKey(ReloadingKey);

impl ClientKey {
    fn new(cfg: &TlsClientConfig) -> Result<ClientKey, String> {
        ReloadingKey::new(KeySource {
            cert_file: cfg.cert_file.clone(),
            cert_pem: cfg.cert_pem.clone(),
            key_file: cfg.key_file.clone(),
            key_pem: cfg.key_pem.clone(),
            reload_interval: cfg.reload_interval.get(),
        })
        .map(ClientKey)
    }
}

impl ResolvesClientCert for ClientKey {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The server check when the default one will not do. `insecure_skip_verify` (`verify_as`
/// `None`): any certificate is accepted. `server_name_override`: the certificate is verified
/// against the override, whatever name the connection was made for. Either way the
/// handshake signatures are checked (so the session keys belong to whoever holds the
/// certificate's key).
#[derive(Debug)]
struct ServerCheck {
    verify_as: Option<(Arc<WebPkiServerVerifier>, ServerName<'static>)>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.verify_as {
            None => Ok(ServerCertVerified::assertion()),
            Some((verifier, name)) => {
                verifier.verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The name to send and verify for `host`: `server_name_override` when set.
pub fn server_name(cfg: &TlsClientConfig, host: &str) -> Result<ServerName<'static>, String> {
    let name = if cfg.server_name_override.is_empty() {
        host.trim_start_matches('[').trim_end_matches(']')
    } else {
        cfg.server_name_override.as_str()
    };
    ServerName::try_from(name.to_string()).map_err(|e| format!("server name {name:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> TlsClientConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn messages(cfg: &TlsClientConfig) -> Vec<String> {
        cfg.validate(&["tls"])
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn defaults_are_gos() {
        let cfg = parse("{}");
        assert_eq!(cfg, TlsClientConfig::default());
        assert!(cfg.enabled(), "TLS is on unless insecure");
        assert!(!cfg.insecure_skip_verify && !cfg.include_system_ca_certs_pool);
        assert!(cfg.reload_interval.is_zero());
        assert!(messages(&cfg).is_empty());
    }

    #[test]
    fn insecure_turns_tls_off_only_without_a_ca_and_without_https() {
        let h2: &[&[u8]] = &[b"h2"];
        let insecure = parse("insecure: true");
        assert!(!insecure.enabled());
        assert!(insecure.client_config(h2, false).unwrap().is_none());
        assert!(insecure.client_config(h2, true).unwrap().is_some());
        let with_ca = parse("insecure: true\nca_pem: x");
        assert!(with_ca.enabled());
        let tls = parse("{}").client_config(h2, false).unwrap().unwrap();
        assert_eq!(tls.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn keys_are_checked_as_go_does() {
        assert_eq!(
            messages(&parse("ca_file: a\nca_pem: b")),
            ["tls::ca_file: provide either a CA file or the PEM-encoded string, but not both"]
        );
        assert_eq!(
            messages(&parse("key_file: k")),
            ["tls: TLS configuration must include both certificate and key (cert_file/cert_pem and key_file/key_pem)"]
        );
        assert_eq!(
            messages(&parse("min_version: \"1.3\"\nmax_version: \"1.2\"")),
            ["tls: invalid TLS configuration: min_version cannot be greater than max_version"]
        );
        assert_eq!(
            messages(&parse("max_version: \"1.1\"")),
            ["tls::max_version: TLS versions below 1.2 are not supported"]
        );
        assert_eq!(
            messages(&parse(
                "cipher_suites: [TLS_NOPE]\ncurve_preferences: [P521]"
            )),
            [
                "tls::cipher_suites: invalid TLS cipher suite: \"TLS_NOPE\"",
                "tls::curve_preferences: invalid curve type: P521; expected X25519, P256 or P384"
            ]
        );
    }

    #[test]
    fn versions_suites_and_curves_shape_the_config() {
        let alpn: &[&[u8]] = &[b"http/1.1"];
        let names = |yaml: &str| -> Vec<rustls::ProtocolVersion> {
            parse(yaml).versions().iter().map(|v| v.version).collect()
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(names("{}"), [TLSv1_3, TLSv1_2]);
        assert_eq!(names("min_version: \"1.1\""), [TLSv1_3, TLSv1_2]);
        assert_eq!(names("min_version: \"1.3\""), [TLSv1_3]);
        assert_eq!(names("max_version: \"1.2\""), [TLSv1_2]);
        let provider = parse(
            "cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\ncurve_preferences: [P384]",
        )
        .provider()
        .unwrap();
        let tls12: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            [rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
        );
        let groups: Vec<_> = provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [rustls::NamedGroup::secp384r1]);
        let err = parse("tpm: {enabled: true}")
            .client_config(alpn, true)
            .unwrap_err();
        assert_eq!(err, "tls::tpm: TPM keys are not supported by Ferrotel");
    }

    #[test]
    fn server_name_override_names_the_server() {
        let cfg = parse("server_name_override: collector.internal");
        assert_eq!(
            server_name(&cfg, "10.0.0.1").unwrap(),
            ServerName::try_from("collector.internal").unwrap()
        );
        assert_eq!(
            server_name(&parse("{}"), "[::1]").unwrap(),
            ServerName::try_from("::1").unwrap()
        );
        let built = cfg.client_config(&[b"h2"], true).unwrap().unwrap();
        assert!(
            format!("{built:?}").contains("verify_as: Some"),
            "{built:?}"
        );
        let skip = parse("insecure_skip_verify: true\nserver_name_override: x");
        let built = skip.client_config(&[b"h2"], true).unwrap().unwrap();
        assert!(
            format!("{built:?}").contains("verify_as: None"),
            "{built:?}"
        );
        let plain = parse("{}").client_config(&[b"h2"], true).unwrap().unwrap();
        assert!(!format!("{plain:?}").contains("verify_as"));
    }
}
