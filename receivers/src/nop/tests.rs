use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{
    BuildContext, CancellationToken, ComponentId, ComponentKind, Signal, SignalConsumers,
};

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn context() -> BuildContext {
    let id = ComponentId::parse("nop").unwrap();
    BuildContext {
        telemetry: ComponentTelemetry::detached(ComponentKind::Receiver, &id),
        id,
        signals: Signal::ALL.to_vec(),
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    }
}

#[test]
fn defaults_validate_and_every_signal_is_supported() {
    let cfg: NopReceiverConfig = parse_typed(&ConfigValue::Null).unwrap();
    assert_eq!(cfg, NopReceiverConfig::default());
    let cfg: NopReceiverConfig = parse_typed(&yaml("{}")).unwrap();
    assert_eq!(cfg, NopReceiverConfig::default());
    assert_eq!(factory().type_name(), "nop");
    assert_eq!(factory().signals(), &Signal::ALL);
    assert!(factory().parse_config(&ConfigValue::Null).is_ok());
}

#[test]
fn unknown_key_is_rejected() {
    let errs = factory()
        .parse_config(&yaml("endpoint: localhost:4317"))
        .err()
        .unwrap();
    let errs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errs,
        vec!["endpoint: unknown key \"endpoint\"; this section takes no keys"]
    );
}

#[test]
fn registered_once_in_the_crate_factories() {
    let names: Vec<&str> = crate::factories().iter().map(|f| f.type_name()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "nop").count(),
        1,
        "{names:?}"
    );
}

#[tokio::test]
async fn build_run_shutdown_twice() {
    for _ in 0..2 {
        let cfg = factory().parse_config(&ConfigValue::Null).unwrap();
        let r = factory()
            .build(context(), cfg.as_ref(), SignalConsumers::default())
            .unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(r.run(shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!task.is_finished(), "runs until shutdown");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops after shutdown")
            .unwrap()
            .unwrap();
    }
}
