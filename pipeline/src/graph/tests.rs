use std::time::Duration;

use pipeline_api::telemetry::{MetricsLevel, Telemetry};
use pipeline_api::{Batch, Signal};

use super::Graph;
use crate::config::{load, Environment};
use crate::testing::{registry, Recorder};

struct Env(String);
impl Environment for Env {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, _: &str) -> std::io::Result<String> {
        Ok(self.0.clone())
    }
}

fn spans(n: usize) -> Batch {
    pipeline_api::testing::spans("s", n)
}

async fn build(yaml: &str, recorder: &Recorder) -> (Graph, std::sync::Arc<Telemetry>) {
    let loaded = load(
        &["c.yaml".into()],
        &[],
        &Env(yaml.into()),
        &registry(recorder),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let telemetry = Telemetry::new(MetricsLevel::Normal);
    let mut graph = Graph::build(&loaded.plan, &telemetry, &Default::default()).unwrap();
    graph.start().await.unwrap();
    (graph, telemetry)
}

fn metric(telemetry: &Telemetry, name: &str, label: (&str, &str)) -> u64 {
    telemetry
        .registry()
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == label.0 && l.value() == label.1)
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

const SHARED: &str = r#"
receivers:
  fakerecv:
processors:
  fakeproc:
exporters:
  fakeexp/a:
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
  fakeexp/b:
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
service:
  pipelines:
    traces:
      receivers: [fakerecv]
      processors: [fakeproc]
      exporters: [fakeexp/a, fakeexp/b]
    traces/2:
      receivers: [fakerecv]
      exporters: [fakeexp/a]
    logs:
      receivers: [fakerecv]
      exporters: [fakeexp/b]
"#;

#[tokio::test]
async fn one_receiver_instance_feeds_every_pipeline_and_fan_out_copies_nothing() {
    let recorder = Recorder::default();
    let (graph, telemetry) = build(SHARED, &recorder).await;
    assert_eq!(
        recorder.receivers.lock().unwrap().len(),
        1,
        "one instance however many pipelines use it"
    );
    let consumers = recorder.consumers("fakerecv");
    assert!(consumers.traces.is_some() && consumers.logs.is_some());
    assert!(
        consumers.metrics.is_none(),
        "no metrics pipeline lists the receiver"
    );

    let batch = spans(3);
    consumers
        .traces
        .as_ref()
        .unwrap()
        .consume(batch.clone())
        .await
        .unwrap();
    let a = recorder.exported_by("fakeexp/a");
    let b = recorder.exported_by("fakeexp/b");
    assert_eq!(a.len(), 2, "traces and traces/2 both reach fakeexp/a");
    assert_eq!(b.len(), 1);
    for got in a.iter().chain(b.iter()) {
        assert!(
            got.shares_data_with(&batch),
            "fan-out hands on the same allocation"
        );
    }
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_sent_spans",
            ("exporter", "fakeexp/a")
        ),
        6
    );
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_sent_spans",
            ("exporter", "fakeexp/b")
        ),
        3
    );
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_processor_incoming_items",
            ("processor", "fakeproc")
        ),
        3
    );
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_processor_outgoing_items",
            ("processor", "fakeproc")
        ),
        3
    );
    assert!(graph.shutdown(Duration::from_secs(5)).await.is_empty());
}

#[tokio::test]
async fn a_slow_exporter_does_not_stall_its_sibling() {
    let recorder = Recorder::default();
    let yaml = r#"
receivers:
  fakerecv:
exporters:
  fakeexp/slow:
    delay: 3s
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
  fakeexp/fast:
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
service:
  pipelines:
    traces:
      receivers: [fakerecv]
      exporters: [fakeexp/slow, fakeexp/fast]
"#;
    let (graph, _) = build(yaml, &recorder).await;
    let consumer = recorder.consumers("fakerecv").traces.unwrap();
    let pending = tokio::spawn(async move { consumer.consume(spans(1)).await });
    let mut waited = Duration::ZERO;
    while recorder.exported_by("fakeexp/fast").is_empty() && waited < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    assert_eq!(
        recorder.exported_by("fakeexp/fast").len(),
        1,
        "the fast branch got the data while the slow one waits"
    );
    assert!(recorder.exported_by("fakeexp/slow").is_empty());
    assert!(
        !pending.is_finished(),
        "the sender is answered only when every branch is done"
    );
    pending.await.unwrap().unwrap();
    assert_eq!(recorder.exported_by("fakeexp/slow").len(), 1);
    graph.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_failing_branch_fails_the_consume_and_is_counted() {
    let recorder = Recorder::default();
    let yaml = r#"
receivers:
  fakerecv:
exporters:
  fakeexp/down:
    fail: true
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
  fakeexp/up:
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
service:
  pipelines:
    traces:
      receivers: [fakerecv]
      exporters: [fakeexp/down, fakeexp/up]
"#;
    let (graph, telemetry) = build(yaml, &recorder).await;
    let consumer = recorder.consumers("fakerecv").traces.unwrap();
    let err = consumer.consume(spans(2)).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(recorder.exported_by("fakeexp/up").len(), 1);
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_send_failed_spans",
            ("exporter", "fakeexp/down")
        ),
        2
    );
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_sent_spans",
            ("exporter", "fakeexp/up")
        ),
        2
    );
    graph.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_exporter_timeout_bounds_an_attempt() {
    let recorder = Recorder::default();
    let yaml = r#"
receivers:
  fakerecv:
exporters:
  fakeexp:
    delay: 10s
    timeout: 50ms
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
service:
  pipelines:
    logs:
      receivers: [fakerecv]
      exporters: [fakeexp]
"#;
    let (graph, _) = build(yaml, &recorder).await;
    let consumer = recorder.consumers("fakerecv").logs.unwrap();
    let err = consumer
        .consume(Batch::empty(Signal::Logs))
        .await
        .unwrap_err();
    assert!(err.message().contains("timed out after 50ms"), "{err}");
    graph.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_reports_components_that_miss_the_deadline() {
    let recorder = Recorder::default();
    let (graph, _) = build(SHARED, &recorder).await;
    // nothing is slow here: every component finishes well within the deadline
    assert!(graph.shutdown(Duration::from_millis(500)).await.is_empty());
}

#[tokio::test]
async fn a_branch_refusing_for_now_is_retried_alone_without_duplicating_the_others() {
    let recorder = Recorder::default();
    let yaml = r#"
receivers:
  fakerecv:
exporters:
  fakeexp/slow:
    delay: 300ms
    sending_queue: {queue_size: 1, num_consumers: 1}
    retry_on_failure: {enabled: false}
  fakeexp/fast:
    retry_on_failure: {enabled: false}
service:
  pipelines:
    traces:
      receivers: [fakerecv]
      exporters: [fakeexp/slow, fakeexp/fast]
"#;
    let (graph, _) = build(yaml, &recorder).await;
    let consumer = recorder.consumers("fakerecv").traces.unwrap();
    consumer.consume(spans(1)).await.unwrap();
    // the slow branch's queue is full for ~300 ms: the fan-out tries it again, alone
    consumer.consume(spans(1)).await.unwrap();
    let mut waited = Duration::ZERO;
    while recorder.exported_by("fakeexp/slow").len() < 2 && waited < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    assert_eq!(recorder.exported_by("fakeexp/slow").len(), 2);
    assert_eq!(
        recorder.exported_by("fakeexp/fast").len(),
        2,
        "the branch that took the batch got it once"
    );
    graph.shutdown(Duration::from_secs(5)).await;
}
