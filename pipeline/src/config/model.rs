//! From the resolved YAML tree to a validated [`Plan`]: every component parsed by its
//! factory, the service section typed, and the graph checked. Every problem is collected
//! with its key path; nothing is built or bound here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use pipeline_api::config::{nearest, parse_typed, ConfigError, ConfigValue};
use pipeline_api::{
    ComponentConfig, ComponentId, ComponentKind, ExporterFactory, ExtensionFactory, Factory,
    PipelineId, ProcessorFactory, ReceiverFactory, Signal,
};

use super::service::{ExporterCommon, ServiceConfig};
use crate::registry::{find, known_names, Registry};

pub struct Planned<F: ?Sized> {
    pub factory: Arc<F>,
    pub config: Box<dyn ComponentConfig>,
}

pub struct PlannedExporter {
    pub factory: Arc<dyn ExporterFactory>,
    pub config: Box<dyn ComponentConfig>,
    pub common: ExporterCommon,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelinePlan {
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// A fully validated config, ready to be built.
pub struct Plan {
    pub receivers: BTreeMap<ComponentId, Planned<dyn ReceiverFactory>>,
    pub processors: BTreeMap<ComponentId, Planned<dyn ProcessorFactory>>,
    pub exporters: BTreeMap<ComponentId, PlannedExporter>,
    pub extensions: BTreeMap<ComponentId, Planned<dyn ExtensionFactory>>,
    pub service: ServiceConfig,
    /// The extensions listed in `service.extensions`, in order.
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: BTreeMap<PipelineId, PipelinePlan>,
    pub warnings: Vec<String>,
}

const TOP_LEVEL: [&str; 6] = [
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
    "service",
];

/// The keys the runtime takes from every exporter's config.
const EXPORTER_COMMON_KEYS: [&str; 3] = ["timeout", "sending_queue", "retry_on_failure"];

fn key_str(k: &ConfigValue) -> String {
    match k {
        ConfigValue::String(s) => s.clone(),
        ConfigValue::Null => String::new(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn section<'a>(
    tree: &'a serde_yaml_ng::Mapping,
    name: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<(String, &'a ConfigValue)> {
    match tree.get(name) {
        None | Some(ConfigValue::Null) => Vec::new(),
        Some(ConfigValue::Mapping(m)) => m.iter().map(|(k, v)| (key_str(k), v)).collect(),
        Some(_) => {
            errors.push(ConfigError::new(
                &[name],
                "must be a map of component ids to their configs",
            ));
            Vec::new()
        }
    }
}

/// Parse one section's components with their factories.
fn components<F: ?Sized + Factory>(
    tree: &serde_yaml_ng::Mapping,
    kind: ComponentKind,
    factories: &[Arc<F>],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
    mut parse: impl FnMut(
        &Arc<F>,
        &ComponentId,
        &ConfigValue,
        &mut Vec<ConfigError>,
    ) -> Option<Box<dyn ComponentConfig>>,
) -> BTreeMap<ComponentId, Planned<F>> {
    let name = kind.section();
    let mut out = BTreeMap::new();
    for (key, value) in section(tree, name, errors) {
        let id = match ComponentId::parse(&key) {
            Ok(id) => id,
            Err(e) => {
                errors.push(ConfigError::new(&[name, &key], e.0));
                continue;
            }
        };
        let Some(found) = find(factories, id.type_name()) else {
            let known = known_names(factories);
            let mut msg = format!(
                "unknown {kind} type {:?} (valid values: [{}])",
                id.type_name(),
                known.join(", ")
            );
            if let Some(n) = nearest(id.type_name(), &known) {
                msg.push_str(&format!("; did you mean {n:?}?"));
            }
            errors.push(ConfigError::new(&[name, &key], msg));
            continue;
        };
        if found.deprecated_alias {
            warnings.push(format!(
                "{name}::{key}: the {kind} type {:?} is deprecated; use {:?}",
                id.type_name(),
                found.factory.type_name()
            ));
        }
        let mut local = Vec::new();
        if let Some(config) = parse(found.factory, &id, value, &mut local) {
            out.insert(
                id,
                Planned {
                    factory: found.factory.clone(),
                    config,
                },
            );
        }
        errors.extend(local.into_iter().map(|e| e.prefixed(&[name, &key])));
    }
    out
}

fn parse_with<F: ?Sized + Factory>(
    factory: &Arc<F>,
    value: &ConfigValue,
    errors: &mut Vec<ConfigError>,
) -> Option<Box<dyn ComponentConfig>> {
    match factory.parse_config(value) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

/// Validate a resolved tree against the registry.
pub fn plan(tree: &ConfigValue, registry: &Registry) -> Result<Plan, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let empty = serde_yaml_ng::Mapping::new();
    let top = match tree {
        ConfigValue::Mapping(m) => m,
        ConfigValue::Null => &empty,
        _ => return Err(vec![ConfigError::new(&[], "the config must be a map")]),
    };
    let valid: Vec<String> = TOP_LEVEL.iter().map(|s| s.to_string()).collect();
    for k in top.keys() {
        let k = key_str(k);
        if !TOP_LEVEL.contains(&k.as_str()) {
            let mut msg = format!("unknown top-level key {k:?}");
            match nearest(&k, &valid) {
                Some(n) => msg.push_str(&format!("; did you mean {n:?}?")),
                None => msg.push_str(&format!("; valid keys: {}", valid.join(", "))),
            }
            errors.push(ConfigError::new(&[&k], msg));
        }
    }

    let receivers = components(
        top,
        ComponentKind::Receiver,
        &registry.receivers,
        &mut errors,
        &mut warnings,
        |f, _, v, e| parse_with(f, v, e),
    );
    let processors = components(
        top,
        ComponentKind::Processor,
        &registry.processors,
        &mut errors,
        &mut warnings,
        |f, _, v, e| parse_with(f, v, e),
    );
    let extensions = components(
        top,
        ComponentKind::Extension,
        &registry.extensions,
        &mut errors,
        &mut warnings,
        |f, _, v, e| parse_with(f, v, e),
    );
    let mut commons: HashMap<ComponentId, ExporterCommon> = HashMap::new();
    let exporters_planned = components(
        top,
        ComponentKind::Exporter,
        &registry.exporters,
        &mut errors,
        &mut warnings,
        |f, id, v, e| {
            let (own, common) = split_exporter_common(v);
            match parse_typed::<ExporterCommon>(&common) {
                Ok(mut c) => {
                    if common.get("timeout").is_none() {
                        c.timeout = pipeline_api::config::GoDuration(f.default_timeout());
                    }
                    if !f.queue_and_retry_by_default() {
                        let set =
                            |key: &str| common.get(key).and_then(|q| q.get("enabled")).is_some();
                        if !set("sending_queue") {
                            c.sending_queue.enabled = false;
                        }
                        if !set("retry_on_failure") {
                            c.retry_on_failure.enabled = false;
                        }
                    }
                    commons.insert(id.clone(), c);
                }
                Err(errs) => e.extend(errs),
            }
            parse_with(f, &own, e)
        },
    );
    let exporters: BTreeMap<ComponentId, PlannedExporter> = exporters_planned
        .into_iter()
        .filter_map(|(id, p)| {
            let common = commons.remove(&id)?;
            Some((
                id,
                PlannedExporter {
                    factory: p.factory,
                    config: p.config,
                    common,
                },
            ))
        })
        .collect();
    for (key, _) in section(top, "connectors", &mut errors) {
        errors.push(ConfigError::new(
            &["connectors", &key],
            "unknown connector type: this build has no connectors",
        ));
    }

    // false when the service section did not parse: its errors say why, and its pipelines
    // are not known (not "missing")
    let mut service_parsed = true;
    let service: ServiceConfig = match top.get("service") {
        Some(v) => match parse_typed(v) {
            Ok(s) => s,
            Err(errs) => {
                errors.extend(errs.into_iter().map(|e| e.prefixed(&["service"])));
                service_parsed = false;
                ServiceConfig::default()
            }
        },
        None => {
            errors.push(ConfigError::new(
                &["service"],
                "missing: the config needs a service section with pipelines",
            ));
            ServiceConfig::default()
        }
    };
    if !service.telemetry.traces.is_null() {
        warnings.push(
            "service::telemetry::traces is accepted but Ferrotel does not trace itself yet".into(),
        );
    }

    // service.extensions
    let mut service_extensions = Vec::new();
    for (i, name) in service.extensions.iter().enumerate() {
        let path = ["service", "extensions", &i.to_string()].map(str::to_string);
        match ComponentId::parse(name) {
            Ok(id)
                if extensions.contains_key(&id)
                    || section(top, "extensions", &mut Vec::new())
                        .iter()
                        .any(|(k, _)| k == name) =>
            {
                if service_extensions.contains(&id) {
                    errors.push(ConfigError {
                        path: path.to_vec(),
                        message: format!("references extension {name:?} multiple times"),
                    });
                } else {
                    service_extensions.push(id);
                }
            }
            _ => errors.push(ConfigError {
                path: path.to_vec(),
                message: format!("references extension {name:?} which is not configured"),
            }),
        }
    }

    // persistent queues name a storage extension that runs
    for (id, e) in &exporters {
        let q = &e.common.sending_queue;
        if let (true, Some(storage)) = (q.enabled, &q.storage) {
            let listed =
                ComponentId::parse(storage).is_ok_and(|sid| service_extensions.contains(&sid));
            if !listed {
                errors.push(ConfigError::new(
                    &["exporters", &id.to_string(), "sending_queue", "storage"],
                    format!("references extension {storage:?}, which is not configured and listed in service::extensions"),
                ));
            }
        }
    }

    // pipelines
    let mut pipelines = BTreeMap::new();
    if service.pipelines.is_empty() && top.contains_key("service") && service_parsed {
        errors.push(ConfigError::new(
            &["service", "pipelines"],
            "must have at least one pipeline",
        ));
    }
    let defined = |kind: ComponentKind, id: &ComponentId| -> bool {
        // a component that failed to parse is still "defined": its own error says why
        section(top, kind.section(), &mut Vec::new())
            .iter()
            .any(|(k, _)| ComponentId::parse(k).ok().as_ref() == Some(id))
    };
    for (key, p) in &service.pipelines {
        let base = ["service", "pipelines", key.as_str()];
        let pid = match PipelineId::parse(key) {
            Ok(pid) => pid,
            Err(e) => {
                errors.push(ConfigError::new(&base, e.0));
                continue;
            }
        };
        let signal = pid.signal();
        let mut check_list =
            |list: &[String],
             kind: ComponentKind,
             field: &str,
             supports: &dyn Fn(&ComponentId) -> Option<&'static [Signal]>| {
                let mut ids = Vec::new();
                for (i, name) in list.iter().enumerate() {
                    let path: Vec<String> = base
                        .iter()
                        .map(|s| s.to_string())
                        .chain([field.to_string(), i.to_string()])
                        .collect();
                    let id = match ComponentId::parse(name) {
                        Ok(id) => id,
                        Err(e) => {
                            errors.push(ConfigError { path, message: e.0 });
                            continue;
                        }
                    };
                    if !defined(kind, &id) {
                        errors.push(ConfigError {
                            path,
                            message: format!("references {kind} {name:?} which is not configured"),
                        });
                        continue;
                    }
                    if ids.contains(&id) {
                        errors.push(ConfigError {
                            path,
                            message: format!("references {kind} {name:?} multiple times"),
                        });
                        continue;
                    }
                    if let Some(signals) = supports(&id) {
                        if !signals.contains(&signal) {
                            let s: Vec<&str> = signals.iter().map(|s| s.as_str()).collect();
                            errors.push(ConfigError {
                                path,
                                message: format!(
                                    "{kind} {name:?} does not support {signal} (it supports: {})",
                                    s.join(", ")
                                ),
                            });
                            continue;
                        }
                    }
                    ids.push(id);
                }
                ids
            };
        let r = check_list(&p.receivers, ComponentKind::Receiver, "receivers", &|id| {
            receivers.get(id).map(|p| p.factory.signals())
        });
        let pr = check_list(
            &p.processors,
            ComponentKind::Processor,
            "processors",
            &|id| processors.get(id).map(|p| p.factory.signals()),
        );
        let ex = check_list(&p.exporters, ComponentKind::Exporter, "exporters", &|id| {
            exporters.get(id).map(|p| p.factory.signals())
        });
        if p.receivers.is_empty() {
            errors.push(ConfigError::new(&base, "must have at least one receiver"));
        }
        if p.exporters.is_empty() {
            errors.push(ConfigError::new(&base, "must have at least one exporter"));
        }
        pipelines.insert(
            pid,
            PipelinePlan {
                receivers: r,
                processors: pr,
                exporters: ex,
            },
        );
    }

    // two components on one listen address
    let mut listeners: Vec<(String, String)> = Vec::new();
    let used_receivers: BTreeSet<&ComponentId> = pipelines
        .values()
        .flat_map(|p| p.receivers.iter())
        .collect();
    for id in &used_receivers {
        if let Some(r) = receivers.get(*id) {
            for (path, addr) in r.config.listen_addresses() {
                listeners.push((format!("receivers::{id}::{path}"), addr));
            }
        }
    }
    for id in &service_extensions {
        if let Some(e) = extensions.get(id) {
            for (path, addr) in e.config.listen_addresses() {
                listeners.push((format!("extensions::{id}::{path}"), addr));
            }
        }
    }
    if let Some(addr) = service.telemetry.metrics.pull_address() {
        let path = if service.telemetry.metrics.address.is_some() {
            "service::telemetry::metrics::address"
        } else {
            "service::telemetry::metrics::readers"
        };
        listeners.push((path.to_string(), addr));
    }
    for (i, (path_a, addr_a)) in listeners.iter().enumerate() {
        for (path_b, addr_b) in &listeners[..i] {
            if addresses_conflict(addr_a, addr_b) {
                errors.push(ConfigError {
                    path: path_a.split("::").map(str::to_string).collect(),
                    message: format!(
                        "listen address {addr_a:?} is also used by {path_b} ({addr_b:?})"
                    ),
                });
            }
        }
    }

    // defined but unused
    let used = |kind: ComponentKind, id: &ComponentId| {
        pipelines.values().any(|p| match kind {
            ComponentKind::Receiver => p.receivers.contains(id),
            ComponentKind::Processor => p.processors.contains(id),
            _ => p.exporters.contains(id),
        })
    };
    for id in receivers
        .keys()
        .filter(|id| !used(ComponentKind::Receiver, id))
    {
        warnings.push(format!(
            "receiver {id} is defined but not used by any pipeline"
        ));
    }
    for id in processors
        .keys()
        .filter(|id| !used(ComponentKind::Processor, id))
    {
        warnings.push(format!(
            "processor {id} is defined but not used by any pipeline"
        ));
    }
    for id in exporters
        .keys()
        .filter(|id| !used(ComponentKind::Exporter, id))
    {
        warnings.push(format!(
            "exporter {id} is defined but not used by any pipeline"
        ));
    }
    for id in extensions
        .keys()
        .filter(|id| !service_extensions.contains(id))
    {
        warnings.push(format!(
            "extension {id} is defined but not listed in service::extensions"
        ));
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Plan {
        receivers,
        processors,
        exporters,
        extensions,
        service,
        service_extensions,
        pipelines,
        warnings,
    })
}

/// Split the exporter-common keys off an exporter's config.
fn split_exporter_common(value: &ConfigValue) -> (ConfigValue, ConfigValue) {
    let mut own = serde_yaml_ng::Mapping::new();
    let mut common = serde_yaml_ng::Mapping::new();
    if let ConfigValue::Mapping(m) = value {
        for (k, v) in m {
            if EXPORTER_COMMON_KEYS.contains(&key_str(k).as_str()) {
                common.insert(k.clone(), v.clone());
            } else {
                own.insert(k.clone(), v.clone());
            }
        }
    } else if !value.is_null() {
        return (value.clone(), ConfigValue::Null);
    }
    (ConfigValue::Mapping(own), ConfigValue::Mapping(common))
}

/// `host:port` pairs conflict when the ports match and either host is a wildcard or both
/// name the same host.
pub fn addresses_conflict(a: &str, b: &str) -> bool {
    fn split(s: &str) -> (String, String) {
        let s = s.trim();
        match s.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_ascii_lowercase(),
                p.to_string(),
            ),
            None => (String::new(), s.to_string()),
        }
    }
    let (ha, pa) = split(a);
    let (hb, pb) = split(b);
    if pa != pb || pa == "0" {
        return false;
    }
    let wildcard = |h: &str| h.is_empty() || h == "0.0.0.0" || h == "::";
    let local = |h: &str| h == "localhost" || h == "127.0.0.1" || h == "::1";
    wildcard(&ha) || wildcard(&hb) || ha == hb || (local(&ha) && local(&hb))
}
