//! What every client shares, whatever its protocol: the `headers` map (Go
//! `configopaque.MapList`), `auth` (Go `configauth.Config`), and the `User-Agent`.

use std::fmt;

use pipeline_api::config::ConfigError;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The `User-Agent` every exporter sends. Go sends `<description>/<version> (<GOOS>/<GOARCH>)`
/// (`otlpexporter/otlp.go newExporter`), e.g. `OpenTelemetry Collector Contrib/0.120.0
/// (linux/amd64)`; Ferrotel sends its own name and version in the same shape, with Go's
/// architecture names.
pub fn user_agent() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!(
        "Ferrotel/{} ({}/{arch})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}

/// `headers`: Go `configopaque.MapList`, written either as a map (`{x-token: abc}`) or as a
/// list of `{name, value}` pairs. Scalar values (numbers, booleans) are taken as their text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The headers as HTTP header names and values; any that are not valid (see
    /// [`Headers::validate`]) are left out.
    pub fn to_http(&self) -> Vec<(http::HeaderName, http::HeaderValue)> {
        self.iter()
            .filter_map(|(k, v)| {
                Some((
                    http::HeaderName::from_bytes(k.as_bytes()).ok()?,
                    http::HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect()
    }

    /// Names that are not valid HTTP header names, values that are not valid header values,
    /// and names given twice.
    pub fn validate(&self, path: &[&str]) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            let mut p = path.to_vec();
            p.push(k);
            if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                errors.push(ConfigError::new(
                    &p,
                    format!("{k:?} is not a valid header name"),
                ));
            }
            if http::HeaderValue::from_str(v).is_err() {
                errors.push(ConfigError::new(
                    &p,
                    "the value is not a valid header value (control characters or non-ASCII text)",
                ));
            }
            if self.0[..i]
                .iter()
                .any(|(other, _)| other.eq_ignore_ascii_case(k))
            {
                errors.push(ConfigError::new(&p, "header given more than once"));
            }
        }
        errors
    }
}

/// A scalar taken as its text.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(String::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One `{name, value}` entry of the list form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedHeader {
    name: ScalarText,
    #[serde(default)]
    value: Option<ScalarText>,
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values, or a list of {name, value}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<ScalarText, ScalarText>()? {
                    out.push((k.0, v.0));
                }
                Ok(Headers(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(h) = seq.next_element::<NamedHeader>()? {
                    out.push((h.name.0, h.value.map(|v| v.0).unwrap_or_default()));
                }
                Ok(Headers(out))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }
        }
        d.deserialize_any(V)
    }
}

pub use pipeline_api::auth::AuthConfig;

/// Build error for a configured `auth` where the client cannot carry one.
pub fn auth_unsupported(auth: &AuthConfig) -> pipeline_api::BuildError {
    pipeline_api::BuildError::new(format!(
        "auth: authenticator {:?}: this component does not take authenticator extensions in Ferrotel yet",
        auth.authenticator
    ))
}

pub use pipeline_api::config::present;
