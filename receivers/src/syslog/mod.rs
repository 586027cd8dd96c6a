//! The `syslog` receiver (Go's `receiver/syslogreceiver` over stanza's `syslog_input`):
//! syslog messages over TCP or UDP, parsed by `syslog_parser` (stanza) before the receiver's
//! `operators`.
//!
//! Go facts relied on (contrib `pkg/stanza/operator/input/syslog` at v0.155.0, read from the
//! module the Go collector oracle is built with):
//! - `tcp` (stanza's TCP input keys) or `udp` (the UDP input's); with both, TCP is used;
//!   neither: "need tcp config or udp config";
//! - the parser keys (`protocol`, `location`, `enable_octet_counting`, `max_octets`,
//!   `allow_skip_pri_header`, `non_transparent_framing_trailer`) and `on_error` configure
//!   the internal parser (`syslog_input_internal_parser`), whose errors are
//!   "failed to resolve syslog config: ...";
//! - with octet counting, TCP is cut into `LEN SP MSG` frames (the length prefix stays in the
//!   body), else into lines; octet counting and a framing trailer are refused with UDP;
//! - `attributes` and `resource` are set before parsing; `add_attributes` as `tcp_log`.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::{
    declare, BuildContext, BuildError, ComponentConfig, Meta, ReceiverFactory, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use stanza::operators::Pipeline;
use stanza::ByteSize;
use transport::tls::TlsServerConfig;

use crate::filelog::config::{MultilineConfig, RetryConfig};
use crate::netlog::{AsyncConfig, NetLog, Proto, TcpLogConfig, UdpLogConfig};

pub const META: Meta = Meta::new("syslog").logs(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<SyslogConfig>(META, |ctx, cfg, next| Ok(Box::new(build(ctx, cfg, next)?)))
}

/// `syslog`. `Default` = Go's.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    pub tcp: Option<TcpBlock>,
    pub udp: Option<UdpBlock>,
    pub protocol: String,
    pub location: String,
    pub enable_octet_counting: bool,
    pub max_octets: i64,
    pub allow_skip_pri_header: bool,
    pub non_transparent_framing_trailer: Option<String>,
    pub on_error: String,
    pub attributes: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
    pub operators: Vec<ConfigValue>,
    pub storage: Option<ConfigValue>,
    pub retry_on_failure: RetryConfig,
}

/// `tcp`: stanza's TCP input keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpBlock {
    pub listen_address: String,
    pub max_log_size: ByteSize,
    pub tls: Option<TlsServerConfig>,
    pub add_attributes: bool,
    pub one_log_per_packet: bool,
    pub encoding: String,
    pub multiline: Option<MultilineConfig>,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
}

impl Default for TcpBlock {
    fn default() -> Self {
        let d = TcpLogConfig::default();
        TcpBlock {
            listen_address: d.listen_address,
            max_log_size: d.max_log_size,
            tls: d.tls,
            add_attributes: d.add_attributes,
            one_log_per_packet: d.one_log_per_packet,
            encoding: d.encoding,
            multiline: d.multiline,
            preserve_leading_whitespaces: d.preserve_leading_whitespaces,
            preserve_trailing_whitespaces: d.preserve_trailing_whitespaces,
        }
    }
}

/// `udp`: stanza's UDP input keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpBlock {
    pub listen_address: String,
    pub one_log_per_packet: bool,
    pub add_attributes: bool,
    pub encoding: String,
    pub multiline: Option<MultilineConfig>,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    #[serde(rename = "async")]
    pub async_config: Option<AsyncConfig>,
}

impl Default for UdpBlock {
    fn default() -> Self {
        let d = UdpLogConfig::default();
        UdpBlock {
            listen_address: d.listen_address,
            one_log_per_packet: d.one_log_per_packet,
            add_attributes: d.add_attributes,
            encoding: d.encoding,
            multiline: d.multiline,
            preserve_leading_whitespaces: d.preserve_leading_whitespaces,
            preserve_trailing_whitespaces: d.preserve_trailing_whitespaces,
            async_config: d.async_config,
        }
    }
}

impl SyslogConfig {
    /// The internal parser (Go's `syslog_input_internal_parser`), from the parser keys.
    fn parser(&self) -> ConfigValue {
        let mut parser = serde_json::json!({
            "type": "syslog_parser",
            "id": "syslog_input_internal_parser",
            "protocol": self.protocol,
            "location": self.location,
            "enable_octet_counting": self.enable_octet_counting,
            "allow_skip_pri_header": self.allow_skip_pri_header,
            "max_octets": self.max_octets,
        });
        if let Some(t) = &self.non_transparent_framing_trailer {
            parser["non_transparent_framing_trailer"] = t.as_str().into();
        }
        if !self.on_error.is_empty() {
            parser["on_error"] = self.on_error.as_str().into();
        }
        serde_yaml_ng::to_string(&parser)
            .ok()
            .and_then(|y| serde_yaml_ng::from_str(&y).ok())
            .unwrap_or(ConfigValue::Null)
    }

    /// The input as `tcp_log` or `udp_log` would have it (TCP when both are set), with the
    /// internal parser in front of the operators when `with_parser`.
    fn input(&self, with_parser: bool) -> Option<Proto> {
        let mut operators = self.operators.clone();
        if with_parser {
            operators.insert(0, self.parser());
        }
        if let Some(t) = &self.tcp {
            return Some(Proto::Tcp(Box::new(TcpLogConfig {
                listen_address: t.listen_address.clone(),
                max_log_size: t.max_log_size,
                tls: t.tls.clone(),
                add_attributes: t.add_attributes,
                one_log_per_packet: t.one_log_per_packet,
                encoding: t.encoding.clone(),
                multiline: t.multiline.clone(),
                preserve_leading_whitespaces: t.preserve_leading_whitespaces,
                preserve_trailing_whitespaces: t.preserve_trailing_whitespaces,
                attributes: self.attributes.clone(),
                resource: self.resource.clone(),
                operators,
                storage: self.storage.clone(),
                retry_on_failure: self.retry_on_failure.clone(),
            })));
        }
        self.udp.as_ref().map(|u| {
            Proto::Udp(Box::new(UdpLogConfig {
                listen_address: u.listen_address.clone(),
                one_log_per_packet: u.one_log_per_packet,
                add_attributes: u.add_attributes,
                encoding: u.encoding.clone(),
                multiline: u.multiline.clone(),
                preserve_leading_whitespaces: u.preserve_leading_whitespaces,
                preserve_trailing_whitespaces: u.preserve_trailing_whitespaces,
                async_config: u.async_config.clone(),
                attributes: self.attributes.clone(),
                resource: self.resource.clone(),
                operators,
                storage: self.storage.clone(),
                retry_on_failure: self.retry_on_failure.clone(),
            }))
        })
    }
}

impl Validate for SyslogConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        // the internal parser first, as Go builds it
        if let Err(es) = Pipeline::validate(&[self.parser()]) {
            for e in es {
                errors.push(ConfigError::new(
                    &[],
                    format!("failed to resolve syslog config: {}", e.message),
                ));
            }
        }
        let framed = self.enable_octet_counting || self.non_transparent_framing_trailer.is_some();
        // the input's own keys under `tcp`/`udp`; the shared ones (operators, attributes,
        // resource, retry_on_failure) at the top
        let place = |e: ConfigError, block: &str| {
            let shared = ["operators", "attributes", "resource", "retry_on_failure"];
            if e.path.first().is_some_and(|k| shared.contains(&k.as_str())) {
                e
            } else {
                e.prefixed(&[block])
            }
        };
        match self.input(false) {
            None => errors.push(ConfigError::new(&[], "need tcp config or udp config")),
            Some(Proto::Udp(_)) if framed => errors.push(ConfigError::new(
                &["udp"],
                "octet_counting and non_transparent_framing is not compatible with UDP",
            )),
            Some(Proto::Tcp(t)) => errors.extend(t.validate().into_iter().map(|e| place(e, "tcp"))),
            Some(Proto::Udp(u)) => errors.extend(u.validate().into_iter().map(|e| place(e, "udp"))),
        }
        errors
    }
}

impl ComponentConfig for SyslogConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        match &self.storage {
            Some(_) => vec![(
                "storage".into(),
                "nothing of a network input is kept across restarts".into(),
            )],
            None => Vec::new(),
        }
    }
}

fn build(
    ctx: BuildContext,
    cfg: &SyslogConfig,
    next: SignalConsumers,
) -> Result<NetLog, BuildError> {
    let proto = cfg
        .input(true)
        .ok_or_else(|| BuildError::new("need tcp config or udp config"))?;
    NetLog::build_framed(ctx, proto, next, cfg.enable_octet_counting)
}
