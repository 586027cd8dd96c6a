//! The explicit list of every component factory in this build.

use std::sync::Arc;

use pipeline_api::{ExporterFactory, ExtensionFactory, Factory, ProcessorFactory, ReceiverFactory};

#[derive(Default, Clone)]
pub struct Registry {
    pub receivers: Vec<Arc<dyn ReceiverFactory>>,
    pub processors: Vec<Arc<dyn ProcessorFactory>>,
    pub exporters: Vec<Arc<dyn ExporterFactory>>,
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

impl Registry {
    /// The `components` subcommand's YAML: each kind's components with their aliases and
    /// signals.
    pub fn components_yaml(&self, version: &str) -> String {
        fn section<F: ?Sized + Factory>(
            out: &mut String,
            title: &str,
            list: &[Arc<F>],
            signals: bool,
        ) {
            out.push_str(&format!("{title}:\n"));
            let mut sorted: Vec<&Arc<F>> = list.iter().collect();
            sorted.sort_by_key(|f| f.type_name());
            for f in sorted {
                out.push_str(&format!("    - name: {}\n", f.type_name()));
                if !f.aliases().is_empty() {
                    out.push_str("      aliases:\n");
                    for (a, deprecated) in f.aliases() {
                        out.push_str(&format!(
                            "        - name: {a}\n          deprecated: {deprecated}\n"
                        ));
                    }
                }
                if signals {
                    let s: Vec<&str> = f.signals().iter().map(|s| s.as_str()).collect();
                    out.push_str(&format!("      signals: [{}]\n", s.join(", ")));
                }
            }
        }
        let mut out = format!(
            "buildinfo:\n    command: ferrotel\n    description: Ferrotel, an OpenTelemetry Collector distribution in Rust\n    version: {version}\n"
        );
        section(&mut out, "receivers", &self.receivers, true);
        section(&mut out, "processors", &self.processors, true);
        section(&mut out, "exporters", &self.exporters, true);
        out.push_str("connectors: []\n");
        section(&mut out, "extensions", &self.extensions, false);
        out
    }
}
