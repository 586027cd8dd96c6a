//! From the resolved YAML tree to a validated [`Plan`]: every component parsed by its
//! factory, the service section typed, and the graph checked. Every problem is collected
//! with its key path; nothing is built or bound here. [`plan`] runs one function per check.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use pipeline_api::config::{nearest, parse_typed, ConfigError, ConfigValue};
use pipeline_api::{
    ComponentConfig, ComponentId, ComponentKind, ConnectorFactory, ExporterFactory,
    ExtensionFactory, Factory, PipelineId, ProcessorFactory, ReceiverFactory, Signal,
};

use super::service::{ExporterCommon, ServiceConfig};
use crate::registry::{find, known_names, Registry};

pub struct Planned<F: ?Sized> {
    pub factory: Arc<F>,
    pub config: Box<dyn ComponentConfig>,
    /// The component's section as written (after env expansion): what a reload compares.
    pub raw: ConfigValue,
}

pub struct PlannedExporter {
    pub factory: Arc<dyn ExporterFactory>,
    pub config: Box<dyn ComponentConfig>,
    pub common: ExporterCommon,
    pub raw: ConfigValue,
}

/// One pipeline's component ids in config order. `receivers` and `exporters` may name
/// connectors (look them up in [`Plan::connectors`]).
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
    pub connectors: BTreeMap<ComponentId, Planned<dyn ConnectorFactory>>,
    pub extensions: BTreeMap<ComponentId, Planned<dyn ExtensionFactory>>,
    pub service: ServiceConfig,
    /// The extensions listed in `service.extensions`, in order.
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: BTreeMap<PipelineId, PipelinePlan>,
    /// Every pipeline, upstream first: a pipeline that feeds a connector comes before the
    /// pipelines that connector feeds.
    pub order: Vec<PipelineId>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// The connector instances a pipeline's data enters: for each connector among its
    /// exporters, one per signal the connector emits into a pipeline that receives from it.
    pub fn connector_edges(&self, pid: &PipelineId) -> Vec<(ComponentId, Signal, Signal)> {
        let Some(p) = self.pipelines.get(pid) else {
            return Vec::new();
        };
        let from = pid.signal();
        let mut out = Vec::new();
        for c in p
            .exporters
            .iter()
            .filter(|c| self.connectors.contains_key(*c))
        {
            let pairs = self.connectors[c].factory.pairs();
            for to in Signal::ALL {
                let feeds = self
                    .pipelines
                    .iter()
                    .any(|(q, qp)| q.signal() == to && qp.receivers.contains(c));
                if feeds && pairs.contains(&(from, to)) {
                    out.push((c.clone(), from, to));
                }
            }
        }
        out
    }

    /// The pipelines a connector instance feeds: those of its emitted signal that list it
    /// among their receivers.
    pub fn connector_targets(&self, id: &ComponentId, to: Signal) -> Vec<PipelineId> {
        self.pipelines
            .iter()
            .filter(|(q, qp)| q.signal() == to && qp.receivers.contains(id))
            .map(|(q, _)| q.clone())
            .collect()
    }
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

/// What the checks share: the top-level map and the problems found so far.
struct Check<'a> {
    top: &'a serde_yaml_ng::Mapping,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Check<'_> {
    /// Whether a section names a component id. A component that failed to parse is still
    /// "defined": its own error says why.
    fn defined(&self, kind: ComponentKind, id: &ComponentId) -> bool {
        section(self.top, kind.section(), &mut Vec::new())
            .iter()
            .any(|(k, _)| ComponentId::parse(k).ok().as_ref() == Some(id))
    }

    fn error(&mut self, path: &[&str], message: impl Into<String>) {
        self.errors.push(ConfigError::new(path, message));
    }

    fn top_level_keys(&mut self) {
        let valid: Vec<String> = TOP_LEVEL.iter().map(|s| s.to_string()).collect();
        for k in self.top.keys() {
            let k = key_str(k);
            if !TOP_LEVEL.contains(&k.as_str()) {
                let mut msg = format!("unknown top-level key {k:?}");
                match nearest(&k, &valid) {
                    Some(n) => msg.push_str(&format!("; did you mean {n:?}?")),
                    None => msg.push_str(&format!("; valid keys: {}", valid.join(", "))),
                }
                self.error(&[&k], msg);
            }
        }
    }

    /// Parse one section's components with their factories; `parse` gets the factory, id and
    /// value and pushes errors relative to the component.
    fn components<F: ?Sized + Factory>(
        &mut self,
        kind: ComponentKind,
        factories: &[Arc<F>],
        mut parse: impl FnMut(
            &Arc<F>,
            &ComponentId,
            &ConfigValue,
            &mut Vec<ConfigError>,
        ) -> Option<Box<dyn ComponentConfig>>,
    ) -> BTreeMap<ComponentId, Planned<F>> {
        let name = kind.section();
        let mut out = BTreeMap::new();
        for (key, value) in section(self.top, name, &mut self.errors) {
            let id = match ComponentId::parse(&key) {
                Ok(id) => id,
                Err(e) => {
                    self.error(&[name, &key], e.0);
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
                if let Some(m) = removed_from_go(kind, id.type_name()) {
                    msg.push_str("; ");
                    msg.push_str(m);
                } else if let Some(n) = nearest(id.type_name(), &known) {
                    msg.push_str(&format!("; did you mean {n:?}?"));
                }
                self.error(&[name, &key], msg);
                continue;
            };
            if found.deprecated_alias {
                self.warnings.push(format!(
                    "{name}::{key}: the {kind} type {:?} is deprecated; use {:?}",
                    id.type_name(),
                    found.factory.type_name()
                ));
            }
            let mut local = Vec::new();
            if let Some(config) = parse(found.factory, &id, value, &mut local) {
                for (path, why) in config.not_acted_on() {
                    self.warnings.push(format!(
                        "{name}::{key}::{path} is accepted but not acted on: {why}"
                    ));
                }
                out.insert(
                    id,
                    Planned {
                        factory: found.factory.clone(),
                        config,
                        raw: value.clone(),
                    },
                );
            }
            self.errors
                .extend(local.into_iter().map(|e| e.prefixed(&[name, &key])));
        }
        out
    }

    /// Exporters: the runtime-owned keys (`timeout`, `sending_queue`, `retry_on_failure`)
    /// split off and typed here, the rest parsed by the factory.
    fn exporters(&mut self, registry: &Registry) -> BTreeMap<ComponentId, PlannedExporter> {
        let mut commons: HashMap<ComponentId, ExporterCommon> = HashMap::new();
        let planned = self.components(
            ComponentKind::Exporter,
            &registry.exporters,
            |f, id, v, e| {
                let (own, common) = split_exporter_common(v);
                match parse_typed::<ExporterCommon>(&common) {
                    Ok(mut c) => {
                        if common.get("timeout").is_none() {
                            c.timeout = pipeline_api::config::GoDuration(f.default_timeout());
                        }
                        if !f.queue_and_retry_by_default() {
                            let set = |key: &str| {
                                common.get(key).and_then(|q| q.get("enabled")).is_some()
                            };
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
        planned
            .into_iter()
            .filter_map(|(id, p)| {
                let common = commons.remove(&id)?;
                Some((
                    id,
                    PlannedExporter {
                        factory: p.factory,
                        config: p.config,
                        common,
                        raw: p.raw,
                    },
                ))
            })
            .collect()
    }

    /// A connector id may not also be a receiver or exporter id: a pipeline could not tell
    /// which one it names (Go: "ambiguous ID").
    fn ambiguous_connector_ids(&mut self) {
        for (key, _) in section(self.top, "connectors", &mut Vec::new()) {
            let Ok(id) = ComponentId::parse(&key) else {
                continue;
            };
            for kind in [ComponentKind::Exporter, ComponentKind::Receiver] {
                if self.defined(kind, &id) {
                    self.error(
                        &["connectors", &key],
                        format!(
                            "ambiguous ID: Found both {key:?} {kind} and {key:?} connector. Change one of the components' IDs to eliminate ambiguity (e.g. rename {key:?} connector to \"{key}/connector\")"
                        ),
                    );
                }
            }
        }
    }

    /// The service section typed; `None` when it is missing or does not parse (its errors
    /// say why, and its pipelines are then unknown rather than "missing").
    fn service(&mut self) -> Option<ServiceConfig> {
        let service: ServiceConfig = match self.top.get("service") {
            Some(v) => match parse_typed(v) {
                Ok(s) => s,
                Err(errs) => {
                    self.errors
                        .extend(errs.into_iter().map(|e| e.prefixed(&["service"])));
                    return None;
                }
            },
            None => {
                self.error(
                    &["service"],
                    "missing: the config needs a service section with pipelines",
                );
                return None;
            }
        };
        if let Err(errs) = crate::own_traces::parse(&service.telemetry.traces) {
            self.errors.extend(
                errs.into_iter()
                    .map(|e| e.prefixed(&["service", "telemetry", "traces"])),
            );
        }
        if service.pipelines.is_empty()
            && !crate::feature_gates::enabled("service.AllowNoPipelines")
        {
            self.error(&["service", "pipelines"], "must have at least one pipeline");
        }
        Some(service)
    }

    /// `service.extensions`: each configured, each once.
    fn service_extensions(&mut self, service: &ServiceConfig) -> Vec<ComponentId> {
        let mut out = Vec::new();
        for (i, name) in service.extensions.iter().enumerate() {
            let path = ["service", "extensions", &i.to_string()].map(str::to_string);
            match ComponentId::parse(name) {
                Ok(id) if self.defined(ComponentKind::Extension, &id) => {
                    if out.contains(&id) {
                        self.errors.push(ConfigError {
                            path: path.to_vec(),
                            message: format!("references extension {name:?} multiple times"),
                        });
                    } else {
                        out.push(id);
                    }
                }
                _ => self.errors.push(ConfigError {
                    path: path.to_vec(),
                    message: format!("references extension {name:?} which is not configured"),
                }),
            }
        }
        out
    }

    /// A persistent queue names a storage extension that runs.
    fn queue_storage(
        &mut self,
        exporters: &BTreeMap<ComponentId, PlannedExporter>,
        service_extensions: &[ComponentId],
    ) {
        for (id, e) in exporters {
            let q = &e.common.sending_queue;
            if let (true, Some(storage)) = (q.enabled, &q.storage) {
                let listed =
                    ComponentId::parse(storage).is_ok_and(|sid| service_extensions.contains(&sid));
                if !listed {
                    self.error(
                        &["exporters", &id.to_string(), "sending_queue", "storage"],
                        format!("references extension {storage:?}, which is not configured and listed in service::extensions"),
                    );
                }
            }
        }
    }

    /// One pipeline's list of receivers, processors or exporters: each id configured (as
    /// `kind`, or as a connector where `connectors_too`), listed once, and supporting the
    /// pipeline's signal.
    #[allow(clippy::too_many_arguments)]
    fn pipeline_list(
        &mut self,
        base: &[&str],
        field: &str,
        list: &[String],
        kind: ComponentKind,
        connectors_too: bool,
        signal: Signal,
        supports: &dyn Fn(&ComponentId) -> Option<&'static [Signal]>,
    ) -> Vec<ComponentId> {
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
                    self.errors.push(ConfigError { path, message: e.0 });
                    continue;
                }
            };
            let connector = connectors_too && self.defined(ComponentKind::Connector, &id);
            if !self.defined(kind, &id) && !connector {
                self.errors.push(ConfigError {
                    path,
                    message: format!("references {kind} {name:?} which is not configured"),
                });
                continue;
            }
            if ids.contains(&id) {
                self.errors.push(ConfigError {
                    path,
                    message: format!("references {kind} {name:?} multiple times"),
                });
                continue;
            }
            if let Some(signals) = supports(&id).filter(|_| !connector) {
                if !signals.contains(&signal) {
                    let s: Vec<&str> = signals.iter().map(|s| s.as_str()).collect();
                    self.errors.push(ConfigError {
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
    }

    /// The components a section defines whose type is known, each with its factory,
    /// whether or not its config parsed: the pipeline checks need only the type, so a
    /// pipeline's problems are reported beside the component's own.
    fn factories<F: ?Sized + Factory>(
        &self,
        kind: ComponentKind,
        list: &[Arc<F>],
    ) -> BTreeMap<ComponentId, Arc<F>> {
        section(self.top, kind.section(), &mut Vec::new())
            .into_iter()
            .filter_map(|(key, _)| {
                let id = ComponentId::parse(&key).ok()?;
                let found = find(list, id.type_name())?;
                Some((id, found.factory.clone()))
            })
            .collect()
    }

    fn pipelines(
        &mut self,
        service: &ServiceConfig,
        registry: &Registry,
    ) -> BTreeMap<PipelineId, PipelinePlan> {
        let receivers = self.factories(ComponentKind::Receiver, &registry.receivers);
        let processors = self.factories(ComponentKind::Processor, &registry.processors);
        let exporters = self.factories(ComponentKind::Exporter, &registry.exporters);
        let mut pipelines = BTreeMap::new();
        for (key, p) in &service.pipelines {
            let base = ["service", "pipelines", key.as_str()];
            let pid = match PipelineId::parse(key) {
                Ok(pid) => pid,
                Err(e) => {
                    self.error(&base, e.0);
                    continue;
                }
            };
            let signal = pid.signal();
            let r = self.pipeline_list(
                &base,
                "receivers",
                &p.receivers,
                ComponentKind::Receiver,
                true,
                signal,
                &|id| receivers.get(id).map(|f| f.signals()),
            );
            let pr = self.pipeline_list(
                &base,
                "processors",
                &p.processors,
                ComponentKind::Processor,
                false,
                signal,
                &|id| processors.get(id).map(|f| f.signals()),
            );
            let ex = self.pipeline_list(
                &base,
                "exporters",
                &p.exporters,
                ComponentKind::Exporter,
                true,
                signal,
                &|id| exporters.get(id).map(|f| f.signals()),
            );
            if p.receivers.is_empty() {
                self.error(&base, "must have at least one receiver");
            }
            if p.exporters.is_empty() {
                self.error(&base, "must have at least one exporter");
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
        pipelines
    }

    /// Every connector is used as an exporter and as a receiver, with a signal pair its
    /// factory supports (Go's rules and messages).
    fn connector_uses(
        &mut self,
        connectors: &BTreeMap<ComponentId, Arc<dyn ConnectorFactory>>,
        pipelines: &BTreeMap<PipelineId, PipelinePlan>,
    ) {
        for (id, factory) in connectors {
            let pairs = factory.pairs();
            let as_exporter: Vec<&PipelineId> = pipelines
                .iter()
                .filter(|(_, p)| p.exporters.contains(id))
                .map(|(pid, _)| pid)
                .collect();
            let as_receiver: Vec<&PipelineId> = pipelines
                .iter()
                .filter(|(_, p)| p.receivers.contains(id))
                .map(|(pid, _)| pid)
                .collect();
            let signals = |list: &[&PipelineId]| -> BTreeSet<Signal> {
                list.iter().map(|p| p.signal()).collect()
            };
            let (exp_types, rec_types) = (signals(&as_exporter), signals(&as_receiver));
            let named = |list: &[&PipelineId], s: Signal| {
                let names: Vec<String> = list
                    .iter()
                    .filter(|p| p.signal() == s)
                    .map(|p| p.to_string())
                    .collect();
                format!("[{}]", names.join(" "))
            };
            let path = ["connectors", &id.to_string()].map(str::to_string);
            for &e in &exp_types {
                if !rec_types.iter().any(|&r| pairs.contains(&(e, r))) {
                    self.errors.push(ConfigError {
                        path: path.to_vec(),
                        message: format!(
                            "connector \"{id}\" used as exporter in {} pipeline but not used in any supported receiver pipeline",
                            named(&as_exporter, e)
                        ),
                    });
                }
            }
            for &r in &rec_types {
                if !exp_types.iter().any(|&e| pairs.contains(&(e, r))) {
                    self.errors.push(ConfigError {
                        path: path.to_vec(),
                        message: format!(
                            "connector \"{id}\" used as receiver in {} pipeline but not used in any supported exporter pipeline",
                            named(&as_receiver, r)
                        ),
                    });
                }
            }
        }
    }

    /// The pipelines ordered upstream first; a cycle through connectors is an error naming
    /// it.
    fn pipeline_order(
        &mut self,
        connectors: &BTreeMap<ComponentId, Arc<dyn ConnectorFactory>>,
        pipelines: &BTreeMap<PipelineId, PipelinePlan>,
    ) -> Vec<PipelineId> {
        // edges: pipeline → the pipelines a connector among its exporters feeds
        let mut edges: BTreeMap<&PipelineId, Vec<(&PipelineId, &ComponentId)>> = BTreeMap::new();
        for (pid, p) in pipelines {
            let out = edges.entry(pid).or_default();
            for c in p.exporters.iter().filter(|c| connectors.contains_key(*c)) {
                let pairs = connectors[c].pairs();
                for (qid, q) in pipelines {
                    if q.receivers.contains(c) && pairs.contains(&(pid.signal(), qid.signal())) {
                        out.push((qid, c));
                    }
                }
            }
        }
        let mut incoming: BTreeMap<&PipelineId, usize> = pipelines.keys().map(|p| (p, 0)).collect();
        for targets in edges.values() {
            for (q, _) in targets {
                *incoming.get_mut(q).expect("a known pipeline") += 1;
            }
        }
        let mut ready: Vec<&PipelineId> = incoming
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(p, _)| *p)
            .collect();
        ready.reverse();
        let mut order = Vec::new();
        while let Some(p) = ready.pop() {
            order.push(p.clone());
            for (q, _) in edges[p].iter().rev() {
                let n = incoming.get_mut(q).expect("a known pipeline");
                *n -= 1;
                if *n == 0 {
                    ready.push(q);
                }
            }
        }
        if order.len() < pipelines.len() {
            // walk from a pipeline left over until one repeats: that is a cycle
            let left: BTreeSet<&PipelineId> = incoming
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(p, _)| *p)
                .collect();
            let mut walk: Vec<(&PipelineId, Option<&ComponentId>)> =
                vec![(*left.iter().next().expect("a pipeline left"), None)];
            loop {
                let (at, _) = *walk.last().expect("a step");
                let Some(&(next, via)) = edges[at].iter().find(|(q, _)| left.contains(q)) else {
                    break;
                };
                if let Some(start) = walk.iter().position(|(p, _)| *p == next) {
                    let mut text = format!("pipeline {:?}", walk[start].0.to_string());
                    for (p, c) in walk[start + 1..]
                        .iter()
                        .map(|(p, c)| (*p, *c))
                        .chain([(next, Some(via))])
                    {
                        text.push_str(&format!(
                            " -> connector {:?} -> pipeline {:?}",
                            c.map(|c| c.to_string()).unwrap_or_default(),
                            p.to_string()
                        ));
                    }
                    self.error(&["service", "pipelines"], format!("cycle detected: {text}"));
                    break;
                }
                walk.push((next, Some(via)));
            }
        }
        order
    }

    /// The checks Go makes when it builds a component, for the components pipelines use
    /// (`ComponentConfig::check_when_used`).
    fn checks_when_used(
        &mut self,
        receivers: &BTreeMap<ComponentId, Planned<dyn ReceiverFactory>>,
        processors: &BTreeMap<ComponentId, Planned<dyn ProcessorFactory>>,
        exporters: &BTreeMap<ComponentId, PlannedExporter>,
        connectors: &BTreeMap<ComponentId, Planned<dyn ConnectorFactory>>,
        pipelines: &BTreeMap<PipelineId, PipelinePlan>,
    ) {
        let used: BTreeSet<&ComponentId> = pipelines
            .values()
            .flat_map(|p| p.receivers.iter().chain(&p.processors).chain(&p.exporters))
            .collect();
        let configs = receivers
            .iter()
            .map(|(id, p)| ("receivers", id, &p.config))
            .chain(
                processors
                    .iter()
                    .map(|(id, p)| ("processors", id, &p.config)),
            )
            .chain(exporters.iter().map(|(id, p)| ("exporters", id, &p.config)))
            .chain(
                connectors
                    .iter()
                    .map(|(id, p)| ("connectors", id, &p.config)),
            );
        for (section, id, config) in configs {
            if !used.contains(id) {
                continue;
            }
            let key = id.to_string();
            self.errors.extend(
                config
                    .check_when_used()
                    .into_iter()
                    .map(|e| e.prefixed(&[section, &key])),
            );
        }
    }

    /// Two components on one listen address (receivers and exporters in use, listed
    /// extensions, the own metrics).
    fn listen_addresses(
        &mut self,
        receivers: &BTreeMap<ComponentId, Planned<dyn ReceiverFactory>>,
        exporters: &BTreeMap<ComponentId, PlannedExporter>,
        extensions: &BTreeMap<ComponentId, Planned<dyn ExtensionFactory>>,
        service: &ServiceConfig,
        service_extensions: &[ComponentId],
        pipelines: &BTreeMap<PipelineId, PipelinePlan>,
    ) {
        let mut listeners: Vec<(String, String)> = Vec::new();
        let used_exporters: BTreeSet<&ComponentId> = pipelines
            .values()
            .flat_map(|p| p.exporters.iter())
            .collect();
        for id in &used_exporters {
            if let Some(e) = exporters.get(*id) {
                for (path, addr) in e.config.listen_addresses() {
                    listeners.push((format!("exporters::{id}::{path}"), addr));
                }
            }
        }
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
        for id in service_extensions {
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
                    self.errors.push(ConfigError {
                        path: path_a.split("::").map(str::to_string).collect(),
                        message: format!(
                            "listen address {addr_a:?} is also used by {path_b} ({addr_b:?})"
                        ),
                    });
                }
            }
        }
    }
}

/// Components defined but not used by any pipeline (or extensions not listed): warnings.
fn unused(plan: &Plan) -> Vec<String> {
    let used = |id: &ComponentId, pick: fn(&PipelinePlan) -> &Vec<ComponentId>| {
        plan.pipelines.values().any(|p| pick(p).contains(id))
    };
    let mut out = Vec::new();
    for id in plan
        .receivers
        .keys()
        .filter(|id| !used(id, |p| &p.receivers))
    {
        out.push(format!(
            "receiver {id} is defined but not used by any pipeline"
        ));
    }
    for id in plan
        .processors
        .keys()
        .filter(|id| !used(id, |p| &p.processors))
    {
        out.push(format!(
            "processor {id} is defined but not used by any pipeline"
        ));
    }
    for id in plan
        .exporters
        .keys()
        .filter(|id| !used(id, |p| &p.exporters))
    {
        out.push(format!(
            "exporter {id} is defined but not used by any pipeline"
        ));
    }
    for id in plan
        .connectors
        .keys()
        .filter(|id| !used(id, |p| &p.exporters) && !used(id, |p| &p.receivers))
    {
        out.push(format!(
            "connector {id} is defined but not used by any pipeline"
        ));
    }
    for id in plan
        .extensions
        .keys()
        .filter(|id| !plan.service_extensions.contains(id))
    {
        out.push(format!(
            "extension {id} is defined but not listed in service::extensions"
        ));
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

/// Validate a resolved tree against the registry: every check runs, and every problem is
/// returned at once.
pub fn plan(tree: &ConfigValue, registry: &Registry) -> Result<Plan, Vec<ConfigError>> {
    let empty = serde_yaml_ng::Mapping::new();
    let top = match tree {
        ConfigValue::Mapping(m) => m,
        ConfigValue::Null => &empty,
        _ => return Err(vec![ConfigError::new(&[], "the config must be a map")]),
    };
    let mut c = Check {
        top,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    c.top_level_keys();
    let receivers = c.components(
        ComponentKind::Receiver,
        &registry.receivers,
        |f, _, v, e| parse_with(f, v, e),
    );
    let processors = c.components(
        ComponentKind::Processor,
        &registry.processors,
        |f, _, v, e| parse_with(f, v, e),
    );
    let extensions = c.components(
        ComponentKind::Extension,
        &registry.extensions,
        |f, _, v, e| parse_with(f, v, e),
    );
    let exporters = c.exporters(registry);
    let connectors = c.components(
        ComponentKind::Connector,
        &registry.connectors,
        |f, _, v, e| parse_with(f, v, e),
    );
    c.ambiguous_connector_ids();

    let service = c.service();
    let service_parsed = service.is_some();
    let service = service.unwrap_or_default();
    let service_extensions = c.service_extensions(&service);
    c.queue_storage(&exporters, &service_extensions);
    let pipelines = c.pipelines(&service, registry);
    // every connector defined with a known type, its config parsed or not
    let connector_types = c.factories(ComponentKind::Connector, &registry.connectors);
    if service_parsed {
        c.connector_uses(&connector_types, &pipelines);
    }
    let order = c.pipeline_order(&connector_types, &pipelines);
    c.checks_when_used(&receivers, &processors, &exporters, &connectors, &pipelines);
    c.listen_addresses(
        &receivers,
        &exporters,
        &extensions,
        &service,
        &service_extensions,
        &pipelines,
    );

    let Check {
        errors,
        mut warnings,
        ..
    } = c;
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut plan = Plan {
        receivers,
        processors,
        exporters,
        connectors,
        extensions,
        service,
        service_extensions,
        pipelines,
        order,
        warnings: Vec::new(),
    };
    warnings.extend(unused(&plan));
    plan.warnings = warnings;
    Ok(plan)
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

/// Components the Go collector removed, with what replaced them: the message a config that
/// still names one gets (Go v0.155 refuses them as unknown types too).
fn removed_from_go(kind: ComponentKind, type_name: &str) -> Option<&'static str> {
    match (kind, type_name) {
        (ComponentKind::Processor, "spanmetrics") => Some(
            "the spanmetrics processor was removed from the Go collector (contrib v0.89.0) in favour of the spanmetrics connector: move its settings under `connectors: {spanmetrics: ...}` (metrics_exporter goes away), list spanmetrics among the exporters of the traces pipeline and among the receivers of a metrics pipeline that exports where metrics_exporter pointed",
        ),
        (ComponentKind::Processor, "servicegraph") => Some(
            "the servicegraph processor was removed from the Go collector in favour of the servicegraph connector: move its settings under `connectors: {servicegraph: ...}`, list servicegraph among the exporters of the traces pipeline and among the receivers of a metrics pipeline",
        ),
        _ => None,
    }
}
