use std::fmt;

/// The three OTLP signals a pipeline carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// The name used in pipeline ids and the `otel_signal` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// The item name in the Go collector's metric names (`otelcol_receiver_accepted_spans`).
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        match s {
            "traces" => Some(Signal::Traces),
            "metrics" => Some(Signal::Metrics),
            "logs" => Some(Signal::Logs),
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    Receiver,
    Processor,
    Exporter,
    Extension,
    Connector,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Receiver => "receiver",
            ComponentKind::Processor => "processor",
            ComponentKind::Exporter => "exporter",
            ComponentKind::Extension => "extension",
            ComponentKind::Connector => "connector",
        }
    }
    /// The top-level config section of this kind.
    pub fn section(self) -> &'static str {
        match self {
            ComponentKind::Receiver => "receivers",
            ComponentKind::Processor => "processors",
            ComponentKind::Exporter => "exporters",
            ComponentKind::Extension => "extensions",
            ComponentKind::Connector => "connectors",
        }
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// `type[/name]`, with the Go collector's character rules: the type matches
/// `^[a-zA-Z][0-9a-zA-Z_]{0,62}$`; the name is non-empty and holds no whitespace,
/// control or symbol characters (Go `component.ID` `nameRegexp = ^[^\pZ\pC\pS]+$`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    type_: String,
    name: Option<String>,
}

impl ComponentId {
    pub fn new(type_: &str, name: Option<&str>) -> Result<Self, IdError> {
        validate_type(type_)?;
        if let Some(n) = name {
            validate_name(n)?;
        }
        Ok(ComponentId {
            type_: type_.to_string(),
            name: name.map(str::to_string),
        })
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        match s.split_once('/') {
            None => Self::new(s, None),
            Some((t, n)) => {
                if n.is_empty() {
                    return Err(IdError(format!(
                        "id {s:?}: the part after '/' must not be empty in type/name"
                    )));
                }
                Self::new(t, Some(n))
            }
        }
    }

    pub fn type_name(&self) -> &str {
        &self.type_
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The same id with another type (used when an alias resolves to its canonical type).
    pub fn with_type(&self, type_: &str) -> ComponentId {
        ComponentId {
            type_: type_.to_string(),
            name: self.name.clone(),
        }
    }
}

fn validate_type(t: &str) -> Result<(), IdError> {
    if t.is_empty() {
        return Err(IdError("id must not be empty".into()));
    }
    let mut chars = t.chars();
    let first = chars.next().unwrap_or('0');
    if !first.is_ascii_alphabetic()
        || t.len() > 63
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(IdError(format!(
            "invalid character(s) in type {t:?}: a type starts with a letter and holds only letters, digits and '_' (at most 63)"
        )));
    }
    Ok(())
}

fn validate_name(n: &str) -> Result<(), IdError> {
    if n.chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_symbol(c))
    {
        return Err(IdError(format!(
            "invalid character(s) in name {n:?}: a name holds no whitespace, control or symbol characters"
        )));
    }
    Ok(())
}

/// Unicode category S (symbols) for the ASCII range, where config names live in practice;
/// `- _ . / :` and other punctuation stay allowed as in Go.
fn is_symbol(c: char) -> bool {
    matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => f.write_str(&self.type_),
            Some(n) => write!(f, "{}/{}", self.type_, n),
        }
    }
}

/// `signal[/name]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    signal: Signal,
    name: Option<String>,
}

impl PipelineId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (t, n) = match s.split_once('/') {
            None => (s, None),
            Some((t, n)) => (t, Some(n)),
        };
        let signal = Signal::parse(t).ok_or_else(|| {
            IdError(format!(
                "pipeline id {s:?}: unknown signal {t:?}, expected one of traces, metrics, logs"
            ))
        })?;
        if let Some(n) = n {
            if n.is_empty() {
                return Err(IdError(format!(
                    "pipeline id {s:?}: the part after '/' must not be empty"
                )));
            }
            validate_name(n)?;
        }
        Ok(PipelineId {
            signal,
            name: n.map(str::to_string),
        })
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => f.write_str(self.signal.as_str()),
            Some(n) => write!(f, "{}/{}", self.signal, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_ids_follow_go_rules() {
        let id = ComponentId::parse("otlp/tempo").unwrap();
        assert_eq!(id.type_name(), "otlp");
        assert_eq!(id.name(), Some("tempo"));
        assert_eq!(id.to_string(), "otlp/tempo");
        assert!(ComponentId::parse("otlp/").is_err());
        assert!(ComponentId::parse("").is_err());
        assert!(ComponentId::parse("1otlp").is_err());
        assert!(ComponentId::parse("ot-lp").is_err());
        assert!(ComponentId::parse("otlp/a b").is_err());
        assert!(ComponentId::parse("otlp/my-backend.v2").is_ok());
        assert!(
            ComponentId::parse("otlp/a/b").is_ok(),
            "Go allows '/' in the name part"
        );
    }

    #[test]
    fn pipeline_ids() {
        let p = PipelineId::parse("traces/2").unwrap();
        assert_eq!(p.signal(), Signal::Traces);
        assert_eq!(p.to_string(), "traces/2");
        assert!(PipelineId::parse("spans").is_err());
        assert!(PipelineId::parse("logs/").is_err());
    }
}
