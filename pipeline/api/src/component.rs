//! Component traits and factories.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, ConfigValue};
use crate::error::{BuildError, ConsumeError};
use crate::ids::{ComponentId, Signal};
use crate::telemetry::ComponentTelemetry;
use crate::Batch;

/// The only edge in the pipeline graph.
///
/// `consume` resolves when the batch was accepted by everything downstream (handed to an
/// exporter's queue or sent), or with the reason it was not. A receiver acknowledges its
/// client only after `consume` returned.
#[async_trait]
pub trait Consumer: Send + Sync {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError>;
}

pub type SharedConsumer = Arc<dyn Consumer>;

/// The next consumer of each signal a receiver feeds; `None` where no pipeline takes that
/// signal from this receiver (the OTLP receiver then answers UNIMPLEMENTED / 404).
#[derive(Clone, Default)]
pub struct SignalConsumers {
    pub traces: Option<SharedConsumer>,
    pub metrics: Option<SharedConsumer>,
    pub logs: Option<SharedConsumer>,
}

impl SignalConsumers {
    pub fn get(&self, signal: Signal) -> Option<&SharedConsumer> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
        }
    }

    pub fn set(&mut self, signal: Signal, consumer: SharedConsumer) {
        match signal {
            Signal::Traces => self.traces = Some(consumer),
            Signal::Metrics => self.metrics = Some(consumer),
            Signal::Logs => self.logs = Some(consumer),
        }
    }
}

/// A receiver serves until its shutdown token fires, then stops accepting, finishes the
/// requests in flight, and returns.
#[async_trait]
pub trait Receiver: Send {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError>;
}

/// A processor is a consumer placed before the next one. Stateless processors transform in
/// `consume`; stateful ones (batch) own a task started in `start` and keep backpressure:
/// `consume` resolves when the data was handed on.
#[async_trait]
pub trait Processor: Consumer {
    async fn start(&self) -> Result<(), BuildError> {
        Ok(())
    }

    /// Flush what is held. Called once, when the receivers have stopped accepting but may
    /// still finish requests in flight: a `consume` that arrives after `shutdown` must be
    /// handed straight on (not held, not refused), so those requests drain too.
    async fn shutdown(&self) {}
}

/// An exporter makes one attempt to send; the runtime adds queue, retry, timeout and
/// the standard metrics.
#[async_trait]
pub trait Exporter: Send + Sync {
    async fn start(&self) -> Result<(), BuildError> {
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ConsumeError>;

    async fn shutdown(&self) {}

    /// Labels Go's exporterhelper puts on this exporter's `otelcol_exporter_sent_*` and
    /// `otelcol_exporter_send_failed_*` series for `signal` (`WithAttrs`: the endpoint's
    /// `server_address`, `server_port` and, over HTTP, `url_path`); none by default.
    fn metric_labels(&self, _signal: Signal) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// Extensions run beside the pipelines (health_check, storage...).
#[async_trait]
pub trait Extension: Send + Sync {
    async fn start(&self) -> Result<(), BuildError> {
        Ok(())
    }

    /// Every pipeline is running (Go `extensioncapabilities.PipelineWatcher.Ready`).
    fn ready(&self) {}

    /// The pipelines are about to stop.
    fn not_ready(&self) {}

    /// The graph that was just started, handed over right before `ready` (zpages draws it).
    fn graph_ready(&self, _graph: &GraphInfo) {}

    async fn shutdown(&self) {}

    /// For extensions other components look up by id.
    fn as_any(&self) -> &dyn Any;

    /// `Some` for storage extensions (`file_storage`).
    fn as_storage(&self) -> Option<&dyn crate::storage::StorageExtension> {
        None
    }

    /// `Some` for client authenticators (`basicauth` with `client_auth`, `bearertokenauth`).
    fn client_auth(&self) -> Option<Arc<dyn crate::auth::ClientAuth>> {
        None
    }

    /// `Some` for server authenticators (`basicauth` with `htpasswd`, `bearertokenauth`).
    fn server_auth(&self) -> Option<Arc<dyn crate::auth::ServerAuth>> {
        None
    }
}

/// The running graph as extensions see it: every pipeline (sorted by id) with its component
/// ids in config order, and the extensions in `service::extensions` order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphInfo {
    pub pipelines: Vec<PipelineInfo>,
    pub extensions: Vec<ComponentId>,
}

/// One pipeline of a [`GraphInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineInfo {
    pub id: crate::ids::PipelineId,
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// Look up the storage extension `id` among the built extensions, with a clear error when
/// it is missing or is not a storage extension.
pub fn storage_client(
    ctx: &BuildContext,
    id: &ComponentId,
    name: &str,
) -> Result<Arc<dyn crate::storage::StorageClient>, BuildError> {
    let ext = ctx.extensions.get(id).ok_or_else(|| {
        BuildError::new(format!(
            "storage extension \"{id}\" is not configured or not listed in service::extensions"
        ))
    })?;
    let storage = ext
        .as_storage()
        .ok_or_else(|| BuildError::new(format!("extension \"{id}\" is not a storage extension")))?;
    storage
        .client(ctx.telemetry.kind(), &ctx.id, name)
        .map_err(|e| BuildError::new(e.to_string()))
}

/// A component's parsed config.
pub trait ComponentConfig: Any + Send + Sync + Debug {
    /// Addresses this component will listen on, each with its key path relative to the
    /// component, so the runtime can report two components on one address.
    fn listen_addresses(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Keys set in this config that Ferrotel accepts (a Go config carries them) but does not
    /// act on, each with its path relative to the component and the reason. The loader
    /// warns once per key; this is the only place such keys are reported.
    fn not_acted_on(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Checks the Go collector makes only when it builds the component, so only for a
    /// component some pipeline uses (an unused one with these problems is accepted, as in
    /// Go). Paths are relative to the component.
    fn check_when_used(&self) -> Vec<ConfigError> {
        Vec::new()
    }
}

/// Downcast a config handed to `build` back to the factory's own type.
pub fn config_as<T: ComponentConfig>(cfg: &dyn ComponentConfig) -> Result<&T, BuildError> {
    (cfg as &dyn Any)
        .downcast_ref::<T>()
        .ok_or_else(|| BuildError::new("config of another component type"))
}

/// What every factory declares.
pub trait Factory: Send + Sync {
    /// The canonical type name (`otlp`, `batch`).
    fn type_name(&self) -> &'static str;

    /// Other type names accepted for this component, each with whether using it logs a
    /// deprecation warning (`logging` for `debug`).
    fn aliases(&self) -> &'static [(&'static str, bool)] {
        &[]
    }

    fn signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }

    /// The component's declaration (stability, keys accepted and not acted on), for factories
    /// made with [`crate::declare`].
    fn meta(&self) -> Option<&crate::declare::Meta> {
        None
    }

    /// Parse and validate (pure, no I/O). Errors carry paths relative to the component.
    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>>;
}

/// What a factory gets at build time.
pub struct BuildContext {
    pub id: ComponentId,
    pub telemetry: ComponentTelemetry,
    /// The signals this instance serves.
    pub signals: Vec<Signal>,
    /// Every started-to-be extension, by id.
    pub extensions: Arc<BTreeMap<ComponentId, Arc<dyn Extension>>>,
    /// The process-wide budget for data held in memory (batch buffers, sending queues).
    pub memory: crate::MemoryBudget,
}

pub trait ReceiverFactory: Factory {
    /// May bind sockets; spawns nothing.
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        next: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, BuildError>;
}

pub trait ProcessorFactory: Factory {
    /// One instance per pipeline, for that pipeline's signal.
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, BuildError>;
}

pub trait ExporterFactory: Factory {
    /// One instance per exporter id, shared by every pipeline and signal that lists it.
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
    ) -> Result<Arc<dyn Exporter>, BuildError>;

    /// The default of the runtime-owned `timeout` key for this exporter (per attempt); Go's
    /// `exporterhelper` default is 5s, `otlphttp` sets 30s.
    fn default_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    /// Whether `sending_queue` and `retry_on_failure` are enabled when the config does not
    /// say (true in Go's exporterhelper; the `debug` exporter turns both off).
    fn queue_and_retry_by_default(&self) -> bool {
        true
    }
}

/// Where a connector instance sends what it emits: one consumer per pipeline that lists the
/// connector among its receivers (sorted by pipeline id), and their fan-out. Most connectors
/// send to `all`; routing connectors pick pipelines by id.
#[derive(Clone)]
pub struct ConnectorNext {
    pub pipelines: Vec<(crate::ids::PipelineId, SharedConsumer)>,
    pub all: SharedConsumer,
}

impl ConnectorNext {
    /// The consumer of one pipeline, if the connector feeds it.
    pub fn pipeline(&self, id: &crate::ids::PipelineId) -> Option<&SharedConsumer> {
        self.pipelines.iter().find(|(p, _)| p == id).map(|(_, c)| c)
    }
}

/// A connector is an exporter at the end of some pipelines and a receiver at the start of
/// others (Go `connector`): one instance per connector id and (exporting signal, receiving
/// signal) pair. It has the processor lifecycle: `consume` resolves when what it emitted was
/// accepted downstream, `shutdown` flushes what it holds, and a `consume` after `shutdown`
/// is handed straight on.
pub trait ConnectorFactory: Factory {
    /// The (signal it takes, signal it emits) pairs this connector supports.
    fn pairs(&self) -> &[(Signal, Signal)];

    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        from: Signal,
        to: Signal,
        next: ConnectorNext,
    ) -> Result<Arc<dyn Processor>, BuildError>;
}

pub trait ExtensionFactory: Factory {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
    ) -> Result<Arc<dyn Extension>, BuildError>;
}

/// Implement [`Factory::parse_config`] for a config type with `parse_typed`.
pub fn parse_component_config<T>(
    value: &ConfigValue,
) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>>
where
    T: ComponentConfig + serde::de::DeserializeOwned + crate::config::Validate,
{
    crate::config::parse_typed::<T>(value).map(|c| Box::new(c) as Box<dyn ComponentConfig>)
}
