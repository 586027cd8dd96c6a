//! Test components for the runtime's own tests: a receiver that hands its consumers to the
//! test, a pass-through processor, and an exporter that records what it gets.

use std::sync::{Arc, Mutex};

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::{
    async_trait, config_as, parse_component_config, Batch, BuildContext, BuildError,
    ComponentConfig, ComponentId, ConnectorFactory, ConnectorNext, ConsumeError, Consumer,
    Exporter, ExporterFactory, Factory, Processor, ProcessorFactory, Receiver, ReceiverFactory,
    SharedConsumer, Signal, SignalConsumers,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecvConfig {
    pub endpoint: String,
}

impl Default for RecvConfig {
    fn default() -> Self {
        RecvConfig {
            endpoint: "localhost:5555".into(),
        }
    }
}

impl Validate for RecvConfig {}
impl ComponentConfig for RecvConfig {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        vec![("endpoint".into(), self.endpoint.clone())]
    }
}

/// Built receivers, with the consumers the runtime gave them.
#[derive(Default, Clone)]
pub struct Recorder {
    pub receivers: Arc<Mutex<Vec<(ComponentId, SignalConsumers)>>>,
    pub exported: Arc<Mutex<Vec<(ComponentId, Batch)>>>,
}

impl Recorder {
    pub fn consumers(&self, id: &str) -> SignalConsumers {
        let list = self.receivers.lock().unwrap();
        list.iter()
            .find(|(r, _)| r.to_string() == id)
            .map(|(_, c)| c.clone())
            .expect("receiver built")
    }
    pub fn exported_by(&self, id: &str) -> Vec<Batch> {
        self.exported
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| e.to_string() == id)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

pub struct FakeReceiverFactory(pub Recorder);

impl Factory for FakeReceiverFactory {
    fn type_name(&self) -> &'static str {
        "fakerecv"
    }
    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<RecvConfig>(value)
    }
}

struct FakeReceiver;

#[async_trait]
impl Receiver for FakeReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        shutdown.cancelled().await;
        Ok(())
    }
}

impl ReceiverFactory for FakeReceiverFactory {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        next: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, BuildError> {
        if config_as::<RecvConfig>(cfg)?.endpoint == "unbuildable" {
            return Err(BuildError::new("cannot bind unbuildable"));
        }
        self.0.receivers.lock().unwrap().push((ctx.id, next));
        Ok(Box::new(FakeReceiver))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcConfig {
    pub label: String,
}
impl Validate for ProcConfig {}
impl ComponentConfig for ProcConfig {}

pub struct FakeProcessorFactory;

struct PassThrough(SharedConsumer);

#[async_trait]
impl Consumer for PassThrough {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.0.consume(batch).await
    }
}
impl Processor for PassThrough {}

impl Factory for FakeProcessorFactory {
    fn type_name(&self) -> &'static str {
        "fakeproc"
    }
    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<ProcConfig>(value)
    }
}

impl ProcessorFactory for FakeProcessorFactory {
    fn build(
        &self,
        _: BuildContext,
        _: &dyn ComponentConfig,
        _: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, BuildError> {
        Ok(Arc::new(PassThrough(next)))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpConfig {
    pub delay: GoDuration,
    pub fail: bool,
    pub endpoint: String,
}
impl Validate for ExpConfig {
    fn validate(&self) -> Vec<ConfigError> {
        if self.endpoint == "invalid" {
            vec![ConfigError::new(&["endpoint"], "must not be \"invalid\"")]
        } else {
            vec![]
        }
    }
}
impl ComponentConfig for ExpConfig {}

pub struct FakeExporterFactory {
    pub recorder: Recorder,
    pub name: &'static str,
    pub signals: &'static [Signal],
}

struct FakeExporter {
    id: ComponentId,
    cfg: ExpConfig,
    recorder: Recorder,
}

#[async_trait]
impl Exporter for FakeExporter {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        if !self.cfg.delay.is_zero() {
            tokio::time::sleep(self.cfg.delay.get()).await;
        }
        if self.cfg.fail {
            return Err(ConsumeError::retryable("backend down"));
        }
        self.recorder
            .exported
            .lock()
            .unwrap()
            .push((self.id.clone(), batch));
        Ok(())
    }
}

impl Factory for FakeExporterFactory {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn aliases(&self) -> &'static [(&'static str, bool)] {
        if self.name == "fakeexp" {
            &[("oldexp", true)]
        } else {
            &[]
        }
    }
    fn signals(&self) -> &'static [Signal] {
        self.signals
    }
    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<ExpConfig>(value)
    }
}

impl ExporterFactory for FakeExporterFactory {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
    ) -> Result<Arc<dyn Exporter>, BuildError> {
        Ok(Arc::new(FakeExporter {
            id: ctx.id,
            cfg: config_as::<ExpConfig>(cfg)?.clone(),
            recorder: self.recorder.clone(),
        }))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnConfig {
    /// Hold every batch until shutdown (as a connector that aggregates does), then hand
    /// them on.
    pub hold: bool,
}
impl Validate for ConnConfig {}
impl ComponentConfig for ConnConfig {}

/// `fakeconn`: connects each signal to itself, passing batches on or holding them until
/// shutdown.
pub struct FakeConnectorFactory;

struct FakeConnector {
    hold: bool,
    held: Mutex<Option<Vec<Batch>>>,
    next: SharedConsumer,
}

#[async_trait]
impl Consumer for FakeConnector {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if self.hold {
            if let Some(held) = self.held.lock().unwrap().as_mut() {
                held.push(batch);
                return Ok(());
            }
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for FakeConnector {
    async fn shutdown(&self) {
        let held = self.held.lock().unwrap().take().unwrap_or_default();
        for b in held {
            let _ = self.next.consume(b).await;
        }
    }
}

impl Factory for FakeConnectorFactory {
    fn type_name(&self) -> &'static str {
        "fakeconn"
    }
    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<ConnConfig>(value)
    }
}

impl ConnectorFactory for FakeConnectorFactory {
    fn pairs(&self) -> &'static [(Signal, Signal)] {
        &[
            (Signal::Traces, Signal::Traces),
            (Signal::Metrics, Signal::Metrics),
            (Signal::Logs, Signal::Logs),
        ]
    }
    fn build(
        &self,
        _: BuildContext,
        cfg: &dyn ComponentConfig,
        _: Signal,
        _: Signal,
        next: ConnectorNext,
    ) -> Result<Arc<dyn Processor>, BuildError> {
        Ok(Arc::new(FakeConnector {
            hold: config_as::<ConnConfig>(cfg)?.hold,
            held: Mutex::new(Some(Vec::new())),
            next: next.all,
        }))
    }
}

/// A registry of the fakes plus the runtime's health_check.
pub fn registry(recorder: &Recorder) -> Registry {
    Registry {
        receivers: vec![Arc::new(FakeReceiverFactory(recorder.clone()))],
        processors: vec![Arc::new(FakeProcessorFactory)],
        exporters: vec![
            Arc::new(FakeExporterFactory {
                recorder: recorder.clone(),
                name: "fakeexp",
                signals: &Signal::ALL,
            }),
            Arc::new(FakeExporterFactory {
                recorder: recorder.clone(),
                name: "tracesonly",
                signals: &[Signal::Traces],
            }),
        ],
        connectors: vec![Arc::new(FakeConnectorFactory)],
        extensions: vec![crate::extensions::health_check::factory()],
    }
}
