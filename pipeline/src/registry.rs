//! The explicit list of every component factory in this build.

use std::sync::Arc;

use pipeline_api::{
    ComponentKind, ConnectorFactory, ExporterFactory, ExtensionFactory, Factory, Meta,
    ProcessorFactory, ReceiverFactory, Signal, Stability,
};

#[derive(Default, Clone)]
pub struct Registry {
    pub receivers: Vec<Arc<dyn ReceiverFactory>>,
    pub processors: Vec<Arc<dyn ProcessorFactory>>,
    pub exporters: Vec<Arc<dyn ExporterFactory>>,
    pub connectors: Vec<Arc<dyn ConnectorFactory>>,
    pub extensions: Vec<Arc<dyn ExtensionFactory>>,
}

/// A factory found by type name, and whether the name was a deprecated alias.
pub struct Found<'a, F: ?Sized> {
    pub factory: &'a Arc<F>,
    pub deprecated_alias: bool,
}

/// Look a type name up among factories, by canonical name or alias.
pub fn find<'a, F: ?Sized + Factory>(list: &'a [Arc<F>], type_name: &str) -> Option<Found<'a, F>> {
    list.iter().find_map(|f| {
        if f.type_name() == type_name {
            return Some(Found {
                factory: f,
                deprecated_alias: false,
            });
        }
        f.aliases()
            .iter()
            .find(|(a, _)| *a == type_name)
            .map(|(_, deprecated)| Found {
                factory: f,
                deprecated_alias: *deprecated,
            })
    })
}

/// Every type name (canonical and aliases) of a list, sorted.
pub fn known_names<F: ?Sized + Factory>(list: &[Arc<F>]) -> Vec<String> {
    let mut names: Vec<String> = list
        .iter()
        .flat_map(|f| std::iter::once(f.type_name()).chain(f.aliases().iter().map(|(a, _)| *a)))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// Go's `components` stability map of a factory: every signal (or signal pair, or
/// `extension`), sorted, with `Undefined` where the component does not support it.
fn stability_map(kind: ComponentKind, meta: Option<&Meta>) -> Vec<(String, &'static str)> {
    let level = |s: Option<Stability>| s.unwrap_or(Stability::Undefined).as_str();
    let mut out: Vec<(String, &'static str)> = match kind {
        ComponentKind::Extension => vec![("extension".into(), level(meta.map(|m| m.extension)))],
        ComponentKind::Connector => {
            let mut v = Vec::new();
            for from in Signal::ALL {
                for to in Signal::ALL {
                    let s = meta.and_then(|m| {
                        m.pairs
                            .iter()
                            .find(|(a, b, _)| *a == from && *b == to)
                            .map(|(_, _, s)| *s)
                    });
                    v.push((format!("{from}-to-{to}"), level(s)));
                }
            }
            v
        }
        _ => Signal::ALL
            .iter()
            .map(|s| (s.to_string(), level(meta.map(|m| m.stability_of(*s)))))
            .collect(),
    };
    out.sort();
    out
}

impl Registry {
    /// Every factory of every kind, seen as a [`Factory`].
    pub fn all(&self) -> Vec<(ComponentKind, &dyn Factory)> {
        let mut out: Vec<(ComponentKind, &dyn Factory)> = Vec::new();
        out.extend(
            self.receivers
                .iter()
                .map(|f| (ComponentKind::Receiver, &**f as &dyn Factory)),
        );
        out.extend(
            self.processors
                .iter()
                .map(|f| (ComponentKind::Processor, &**f as &dyn Factory)),
        );
        out.extend(
            self.exporters
                .iter()
                .map(|f| (ComponentKind::Exporter, &**f as &dyn Factory)),
        );
        out.extend(
            self.connectors
                .iter()
                .map(|f| (ComponentKind::Connector, &**f as &dyn Factory)),
        );
        out.extend(
            self.extensions
                .iter()
                .map(|f| (ComponentKind::Extension, &**f as &dyn Factory)),
        );
        out
    }

    /// The `components` subcommand's YAML, in Go's shape: build info, then each kind's
    /// components sorted by name with their stability per signal (Ferrotel adds the
    /// aliases).
    pub fn components_yaml(&self, version: &str) -> String {
        let mut out = format!(
            "buildinfo:\n    command: ferrotel\n    description: Ferrotel, an OpenTelemetry Collector distribution in Rust\n    version: {version}\n"
        );
        for kind in [
            ComponentKind::Receiver,
            ComponentKind::Processor,
            ComponentKind::Exporter,
            ComponentKind::Connector,
            ComponentKind::Extension,
        ] {
            let mut list: Vec<&dyn Factory> = self
                .all()
                .into_iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, f)| f)
                .collect();
            list.sort_by_key(|f| f.type_name());
            if list.is_empty() {
                out.push_str(&format!("{}: []\n", kind.section()));
                continue;
            }
            out.push_str(&format!("{}:\n", kind.section()));
            for f in list {
                out.push_str(&format!("    - name: {}\n", f.type_name()));
                if !f.aliases().is_empty() {
                    out.push_str("      aliases:\n");
                    for (a, deprecated) in f.aliases() {
                        out.push_str(&format!(
                            "        - name: {a}\n          deprecated: {deprecated}\n"
                        ));
                    }
                }
                out.push_str("      stability:\n");
                for (key, level) in stability_map(kind, f.meta()) {
                    out.push_str(&format!("        {key}: {level}\n"));
                }
            }
        }
        out
    }
}
