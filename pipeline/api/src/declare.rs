//! Components declared once. A component states its [`Meta`] (type name, aliases, stability
//! per signal or signal pair), its config type
//! (`Default` = Go's `createDefaultConfig()`, parsed with [`crate::config::parse_typed`])
//! and its constructor; [`receiver`], [`processor`], [`exporter`], [`connector`] and
//! [`extension`] turn that into the factory the registry lists. The `components` output, the
//! docs check and the conformance suite read the same declaration.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::component::{
    config_as, BuildContext, ComponentConfig, ConnectorFactory, ConnectorNext, Exporter,
    ExporterFactory, Extension, ExtensionFactory, Factory, Processor, ProcessorFactory, Receiver,
    ReceiverFactory, SharedConsumer, SignalConsumers,
};
use crate::config::{parse_typed, ConfigError, ConfigValue, Validate};
use crate::error::BuildError;
use crate::ids::Signal;

/// Go's component stability levels (`component.StabilityLevel`); `Undefined` marks a signal
/// the component does not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stability {
    Undefined,
    Unmaintained,
    Deprecated,
    Development,
    Alpha,
    Beta,
    Stable,
}

impl Stability {
    /// As Go prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Undefined => "Undefined",
            Stability::Unmaintained => "Unmaintained",
            Stability::Deprecated => "Deprecated",
            Stability::Development => "Development",
            Stability::Alpha => "Alpha",
            Stability::Beta => "Beta",
            Stability::Stable => "Stable",
        }
    }
}

/// What a component declares besides its config type and constructor.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub name: &'static str,
    /// Other type names, each with whether using it is deprecated (and warns).
    pub aliases: &'static [(&'static str, bool)],
    /// Receivers, processors, exporters: the stability per signal; `Undefined` = not
    /// supported.
    pub traces: Stability,
    pub metrics: Stability,
    pub logs: Stability,
    /// Connectors: each (taken, emitted) signal pair with its stability.
    pub pairs: &'static [(Signal, Signal, Stability)],
    /// Extensions: their one level.
    pub extension: Stability,
}

/// Every subset of the signals, in [`Signal::ALL`] order, indexed by a bit per signal.
const SUBSETS: [&[Signal]; 8] = [
    &[],
    &[Signal::Traces],
    &[Signal::Metrics],
    &[Signal::Traces, Signal::Metrics],
    &[Signal::Logs],
    &[Signal::Traces, Signal::Logs],
    &[Signal::Metrics, Signal::Logs],
    &[Signal::Traces, Signal::Metrics, Signal::Logs],
];

impl Meta {
    pub const fn new(name: &'static str) -> Meta {
        Meta {
            name,
            aliases: &[],
            traces: Stability::Undefined,
            metrics: Stability::Undefined,
            logs: Stability::Undefined,
            pairs: &[],
            extension: Stability::Undefined,
        }
    }

    pub const fn aliases(mut self, aliases: &'static [(&'static str, bool)]) -> Meta {
        self.aliases = aliases;
        self
    }

    pub const fn traces(mut self, s: Stability) -> Meta {
        self.traces = s;
        self
    }

    pub const fn metrics(mut self, s: Stability) -> Meta {
        self.metrics = s;
        self
    }

    pub const fn logs(mut self, s: Stability) -> Meta {
        self.logs = s;
        self
    }

    pub const fn pairs(mut self, pairs: &'static [(Signal, Signal, Stability)]) -> Meta {
        self.pairs = pairs;
        self
    }

    pub const fn extension(mut self, s: Stability) -> Meta {
        self.extension = s;
        self
    }

    /// The stability of one signal.
    pub fn stability_of(&self, signal: Signal) -> Stability {
        match signal {
            Signal::Traces => self.traces,
            Signal::Metrics => self.metrics,
            Signal::Logs => self.logs,
        }
    }

    /// The signals with a defined stability, in [`Signal::ALL`] order.
    pub fn signals(&self) -> &'static [Signal] {
        let bit = |s: Stability, b: usize| if s == Stability::Undefined { 0 } else { b };
        SUBSETS[bit(self.traces, 1) | bit(self.metrics, 2) | bit(self.logs, 4)]
    }
}

/// A config type a declared component can use.
pub trait Declarable: ComponentConfig + DeserializeOwned + Validate {}
impl<T: ComponentConfig + DeserializeOwned + Validate> Declarable for T {}

fn parse<C: Declarable>(value: &ConfigValue) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
    parse_typed::<C>(value).map(|c| Box::new(c) as Box<dyn ComponentConfig>)
}

macro_rules! factory_basics {
    () => {
        fn type_name(&self) -> &'static str {
            self.meta.name
        }
        fn aliases(&self) -> &'static [(&'static str, bool)] {
            self.meta.aliases
        }
        fn signals(&self) -> &'static [Signal] {
            self.meta.signals()
        }
        fn meta(&self) -> Option<&Meta> {
            Some(&self.meta)
        }
        fn parse_config(
            &self,
            value: &ConfigValue,
        ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
            parse::<C>(value)
        }
    };
}

type ReceiverBuild<C> = dyn Fn(BuildContext, &C, SignalConsumers) -> Result<Box<dyn Receiver>, BuildError>
    + Send
    + Sync;

/// A declared receiver's factory.
pub struct DeclaredReceiver<C> {
    meta: Meta,
    build: Box<ReceiverBuild<C>>,
}

/// Declare a receiver: its meta and its constructor (may bind sockets, spawns nothing).
pub fn receiver<C: Declarable>(
    meta: Meta,
    build: impl Fn(BuildContext, &C, SignalConsumers) -> Result<Box<dyn Receiver>, BuildError>
        + Send
        + Sync
        + 'static,
) -> Arc<dyn ReceiverFactory> {
    Arc::new(DeclaredReceiver {
        meta,
        build: Box::new(build),
    })
}

impl<C: Declarable> Factory for DeclaredReceiver<C> {
    factory_basics!();
}

impl<C: Declarable> ReceiverFactory for DeclaredReceiver<C> {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        next: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, BuildError> {
        (self.build)(ctx, config_as::<C>(cfg)?, next)
    }
}

type ProcessorBuild<C> = dyn Fn(BuildContext, &C, Signal, SharedConsumer) -> Result<Arc<dyn Processor>, BuildError>
    + Send
    + Sync;

/// A declared processor's factory.
pub struct DeclaredProcessor<C> {
    meta: Meta,
    build: Box<ProcessorBuild<C>>,
}

/// Declare a processor: its meta and its constructor (one instance per pipeline).
pub fn processor<C: Declarable>(
    meta: Meta,
    build: impl Fn(BuildContext, &C, Signal, SharedConsumer) -> Result<Arc<dyn Processor>, BuildError>
        + Send
        + Sync
        + 'static,
) -> Arc<dyn ProcessorFactory> {
    Arc::new(DeclaredProcessor {
        meta,
        build: Box::new(build),
    })
}

impl<C: Declarable> Factory for DeclaredProcessor<C> {
    factory_basics!();
}

impl<C: Declarable> ProcessorFactory for DeclaredProcessor<C> {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, BuildError> {
        (self.build)(ctx, config_as::<C>(cfg)?, signal, next)
    }
}

type ExporterBuild<C> =
    dyn Fn(BuildContext, &C) -> Result<Arc<dyn Exporter>, BuildError> + Send + Sync;

/// A declared exporter's factory.
pub struct DeclaredExporter<C> {
    meta: Meta,
    build: Box<ExporterBuild<C>>,
    timeout: Duration,
    queue_and_retry: bool,
}

impl<C> DeclaredExporter<C> {
    /// The default of the runtime-owned `timeout` key (Go exporterhelper: 5s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `sending_queue` and `retry_on_failure` off unless the config turns them on (Go's
    /// `debug` exporter).
    pub fn without_queue_and_retry(mut self) -> Self {
        self.queue_and_retry = false;
        self
    }
}

/// Declare an exporter: its meta and its constructor (one instance per id, shared by every
/// pipeline that lists it). Chain [`DeclaredExporter::default_timeout`] and the like, then
/// [`DeclaredExporter::into_factory`].
pub fn exporter<C: Declarable>(
    meta: Meta,
    build: impl Fn(BuildContext, &C) -> Result<Arc<dyn Exporter>, BuildError> + Send + Sync + 'static,
) -> DeclaredExporter<C> {
    DeclaredExporter {
        meta,
        build: Box::new(build),
        timeout: Duration::from_secs(5),
        queue_and_retry: true,
    }
}

impl<C: Declarable> DeclaredExporter<C> {
    pub fn into_factory(self) -> Arc<dyn ExporterFactory> {
        Arc::new(self)
    }
}

impl<C: Declarable> Factory for DeclaredExporter<C> {
    factory_basics!();
}

impl<C: Declarable> ExporterFactory for DeclaredExporter<C> {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
    ) -> Result<Arc<dyn Exporter>, BuildError> {
        (self.build)(ctx, config_as::<C>(cfg)?)
    }

    fn default_timeout(&self) -> Duration {
        self.timeout
    }

    fn queue_and_retry_by_default(&self) -> bool {
        self.queue_and_retry
    }
}

type ConnectorBuild<C> = dyn Fn(BuildContext, &C, Signal, Signal, ConnectorNext) -> Result<Arc<dyn Processor>, BuildError>
    + Send
    + Sync;

/// A declared connector's factory.
pub struct DeclaredConnector<C> {
    meta: Meta,
    pairs: Vec<(Signal, Signal)>,
    build: Box<ConnectorBuild<C>>,
}

/// Declare a connector: its meta (with its signal pairs) and its constructor (one instance
/// per connector id and pair).
pub fn connector<C: Declarable>(
    meta: Meta,
    build: impl Fn(
            BuildContext,
            &C,
            Signal,
            Signal,
            ConnectorNext,
        ) -> Result<Arc<dyn Processor>, BuildError>
        + Send
        + Sync
        + 'static,
) -> Arc<dyn ConnectorFactory> {
    Arc::new(DeclaredConnector {
        pairs: meta.pairs.iter().map(|(a, b, _)| (*a, *b)).collect(),
        meta,
        build: Box::new(build),
    })
}

impl<C: Declarable> Factory for DeclaredConnector<C> {
    factory_basics!();
}

impl<C: Declarable> ConnectorFactory for DeclaredConnector<C> {
    fn pairs(&self) -> &[(Signal, Signal)] {
        &self.pairs
    }

    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        from: Signal,
        to: Signal,
        next: ConnectorNext,
    ) -> Result<Arc<dyn Processor>, BuildError> {
        (self.build)(ctx, config_as::<C>(cfg)?, from, to, next)
    }
}

type ExtensionBuild<C> =
    dyn Fn(BuildContext, &C) -> Result<Arc<dyn Extension>, BuildError> + Send + Sync;

/// A declared extension's factory.
pub struct DeclaredExtension<C> {
    meta: Meta,
    build: Box<ExtensionBuild<C>>,
    _config: PhantomData<fn() -> C>,
}

/// Declare an extension: its meta and its constructor.
pub fn extension<C: Declarable>(
    meta: Meta,
    build: impl Fn(BuildContext, &C) -> Result<Arc<dyn Extension>, BuildError> + Send + Sync + 'static,
) -> Arc<dyn ExtensionFactory> {
    Arc::new(DeclaredExtension {
        meta,
        build: Box::new(build),
        _config: PhantomData,
    })
}

impl<C: Declarable> Factory for DeclaredExtension<C> {
    factory_basics!();
}

impl<C: Declarable> ExtensionFactory for DeclaredExtension<C> {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
    ) -> Result<Arc<dyn Extension>, BuildError> {
        (self.build)(ctx, config_as::<C>(cfg)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_follow_the_defined_stabilities_in_order() {
        let m = Meta::new("x")
            .logs(Stability::Beta)
            .traces(Stability::Alpha);
        assert_eq!(m.signals(), &[Signal::Traces, Signal::Logs]);
        assert_eq!(Meta::new("x").signals(), &[] as &[Signal]);
        let all = Meta::new("x")
            .traces(Stability::Stable)
            .metrics(Stability::Stable)
            .logs(Stability::Stable);
        assert_eq!(all.signals(), &Signal::ALL);
        assert_eq!(
            Meta::new("x").metrics(Stability::Beta).signals(),
            &[Signal::Metrics]
        );
    }
}
