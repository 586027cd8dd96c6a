use pipeline_api::config::ConfigValue;
use pipeline_api::testing::{context, spans, Collect};
use pipeline_api::{ComponentKind, ConnectorNext, PipelineId, SharedConsumer};

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).expect("test yaml")
}

fn build(
    from: Signal,
    to: Signal,
    targets: &[Arc<Collect>],
) -> Result<Arc<dyn Processor>, BuildError> {
    let pipelines: Vec<(PipelineId, SharedConsumer)> = targets
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id = PipelineId::parse(&format!("{to}/{i}")).unwrap();
            (id, c.clone() as SharedConsumer)
        })
        .collect();
    let next = ConnectorNext {
        all: pipelines[0].1.clone(),
        pipelines,
    };
    let f = factory();
    let cfg = f.parse_config(&ConfigValue::Null).unwrap();
    f.build(
        context(ComponentKind::Connector, "forward", vec![from, to]),
        cfg.as_ref(),
        from,
        to,
        next,
    )
}

#[test]
fn has_no_settings() {
    let f = factory();
    assert!(f.parse_config(&ConfigValue::Null).is_ok());
    assert!(f.parse_config(&yaml("{}")).is_ok());
    let errs = f.parse_config(&yaml("foo: 1")).unwrap_err();
    assert!(errs[0].to_string().contains("foo"), "{errs:?}");
}

#[test]
fn connects_each_signal_to_itself_only() {
    let f = factory();
    for s in Signal::ALL {
        assert!(f.pairs().contains(&(s, s)));
    }
    assert_eq!(f.pairs().len(), 3);
    let target = Collect::new();
    assert!(build(Signal::Traces, Signal::Logs, &[target]).is_err());
}

#[tokio::test]
async fn hands_the_batch_on_unchanged() {
    let target = Collect::new();
    let fwd = build(
        Signal::Traces,
        Signal::Traces,
        std::slice::from_ref(&target),
    )
    .unwrap();
    let batch = spans("s", 3);
    fwd.consume(batch.clone()).await.unwrap();
    let got = target.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].items(), 3);
    assert_eq!(got[0].as_traces(), batch.as_traces());
}

#[tokio::test]
async fn a_refusal_downstream_reaches_the_caller() {
    let target = Collect::new();
    *target.fail.lock().unwrap() = Some(ConsumeError::retryable("full"));
    let fwd = build(
        Signal::Traces,
        Signal::Traces,
        std::slice::from_ref(&target),
    )
    .unwrap();
    assert!(fwd.consume(spans("s", 1)).await.is_err());
}
