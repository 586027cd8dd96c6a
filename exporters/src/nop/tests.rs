use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{Batch, BuildContext, ComponentId, ComponentKind, Signal};

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn context() -> BuildContext {
    let id = ComponentId::parse("nop").unwrap();
    BuildContext {
        telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
        id,
        signals: Signal::ALL.to_vec(),
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    }
}

fn spans(n: usize) -> Batch {
    pipeline_api::testing::spans("span-", n)
}

#[test]
fn defaults_validate_and_match_go_factory() {
    let cfg: NopExporterConfig = parse_typed(&ConfigValue::Null).unwrap();
    assert_eq!(cfg, NopExporterConfig::default());
    assert!(factory().parse_config(&yaml("{}")).is_ok());
    assert_eq!(factory().type_name(), "nop");
    assert_eq!(factory().signals(), &Signal::ALL);
    assert_eq!(factory().default_timeout(), Duration::ZERO);
    assert!(!factory().queue_and_retry_by_default());
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
async fn build_start_export_shutdown_twice() {
    let cfg = factory().parse_config(&ConfigValue::Null).unwrap();
    for _ in 0..2 {
        let e = factory().build(context(), cfg.as_ref()).unwrap();
        for _ in 0..2 {
            e.start().await.unwrap();
            let batch = spans(3);
            assert_eq!(batch.items(), 3);
            e.export(batch).await.unwrap();
            e.export(Batch::empty(Signal::Logs)).await.unwrap();
            e.shutdown().await;
        }
    }
}
