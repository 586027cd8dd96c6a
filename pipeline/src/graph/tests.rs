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
    let (graph, telemetry, _) = build_plan(yaml, recorder).await;
    (graph, telemetry)
}

/// Build and start a config, and give its plan back too (a reload starts from it).
async fn build_plan(
    yaml: &str,
    recorder: &Recorder,
) -> (Graph, std::sync::Arc<Telemetry>, crate::config::Plan) {
    let plan = plan_of(yaml, recorder);
    let telemetry = Telemetry::new(MetricsLevel::Normal);
    let mut graph = Graph::build(&plan, &telemetry, &Default::default()).unwrap();
    graph.start().await.unwrap();
    (graph, telemetry, plan)
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

/// traces/in → fakeconn → traces/out and traces/out2; logs straight through.
const CONNECTED: &str = r#"
receivers:
  fakerecv:
processors:
  fakeproc:
exporters:
  fakeexp/in:
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
  fakeexp/out:
    sending_queue: {enabled: false}
    retry_on_failure: {enabled: false}
connectors:
  fakeconn:
    hold: HOLD
service:
  pipelines:
    traces/in:
      receivers: [fakerecv]
      processors: [fakeproc]
      exporters: [fakeconn, fakeexp/in]
    traces/out:
      receivers: [fakeconn]
      processors: [fakeproc]
      exporters: [fakeexp/out]
    traces/out2:
      receivers: [fakeconn]
      exporters: [fakeexp/out]
"#;

#[tokio::test]
async fn a_connector_carries_data_from_one_pipeline_into_the_pipelines_it_feeds() {
    let recorder = Recorder::default();
    let (graph, _telemetry) = build(&CONNECTED.replace("HOLD", "false"), &recorder).await;
    assert_eq!(
        recorder.receivers.lock().unwrap().len(),
        1,
        "a connector is not built as a receiver"
    );
    let batch = spans(2);
    let traces = recorder.consumers("fakerecv").traces.unwrap();
    traces.consume(batch.clone()).await.unwrap();
    assert_eq!(recorder.exported_by("fakeexp/in").len(), 1);
    let out = recorder.exported_by("fakeexp/out");
    assert_eq!(out.len(), 2, "both pipelines the connector feeds");
    assert!(out.iter().all(|b| b.shares_data_with(&batch)));
    assert!(graph.shutdown(Duration::from_secs(5)).await.is_empty());
}

#[tokio::test]
async fn what_a_connector_holds_is_drained_into_its_pipelines_at_shutdown() {
    let recorder = Recorder::default();
    let (graph, _telemetry) = build(&CONNECTED.replace("HOLD", "true"), &recorder).await;
    let traces = recorder.consumers("fakerecv").traces.unwrap();
    traces.consume(spans(4)).await.unwrap();
    assert!(recorder.exported_by("fakeexp/out").is_empty(), "held");
    let missed = graph.shutdown(Duration::from_secs(5)).await;
    assert!(missed.is_empty(), "{missed:?}");
    // the connector was drained before the pipelines it feeds and their exporter stopped
    let out = recorder.exported_by("fakeexp/out");
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.iter().all(|b| b.items() == 4));
}

fn plan_of(yaml: &str, recorder: &Recorder) -> crate::config::Plan {
    load(
        &["c.yaml".into()],
        &[],
        &Env(yaml.into()),
        &registry(recorder),
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
    .plan
}

#[tokio::test]
async fn a_reload_keeps_unchanged_receivers_and_exporters_and_rebuilds_the_rest() {
    use super::Reloaded;
    let recorder = Recorder::default();
    let (graph, _telemetry, old) = build_plan(SHARED, &recorder).await;
    let entry = recorder.consumers("fakerecv").traces.unwrap();

    // fakeexp/b changes, fakeproc changes; the receiver and fakeexp/a do not
    let changed = SHARED.replace(
        "  fakeexp/b:\n    sending_queue: {enabled: false}",
        "  fakeexp/b:\n    delay: 1ms\n    sending_queue: {enabled: false}",
    );
    let changed = changed.replace("  fakeproc:\n", "  fakeproc:\n    label: new\n");
    let new = plan_of(&changed, &recorder);
    let graph = match graph.reload(&old, &new, Duration::from_secs(5)).await {
        Reloaded::New(g, summary) => {
            assert_eq!(
                summary,
                "kept receivers: fakerecv; kept exporters: fakeexp/a"
            );
            g
        }
        _ => panic!("the reload failed"),
    };
    assert_eq!(
        recorder.receivers.lock().unwrap().len(),
        1,
        "the unchanged receiver was not built again"
    );
    // the receiver's consumer from before the reload leads into the new graph
    entry.consume(spans(2)).await.unwrap();
    assert_eq!(recorder.exported_by("fakeexp/a").len(), 2);
    assert_eq!(recorder.exported_by("fakeexp/b").len(), 1);

    // a receiver whose config changes is built again
    let moved = changed.replace(
        "  fakerecv:\n",
        "  fakerecv:\n    endpoint: localhost:5557\n",
    );
    let newer = plan_of(&moved, &recorder);
    let graph = match graph.reload(&new, &newer, Duration::from_secs(5)).await {
        Reloaded::New(g, summary) => {
            assert!(summary.starts_with("kept receivers: none;"), "{summary}");
            g
        }
        _ => panic!("the reload failed"),
    };
    assert_eq!(recorder.receivers.lock().unwrap().len(), 2);
    assert!(graph.shutdown(Duration::from_secs(5)).await.is_empty());
}

#[tokio::test]
async fn a_reload_that_cannot_build_goes_back_to_the_previous_config() {
    use super::Reloaded;
    let recorder = Recorder::default();
    let (graph, _telemetry, old) = build_plan(SHARED, &recorder).await;
    let entry = recorder.consumers("fakerecv").traces.unwrap();
    let broken = SHARED.replace(
        "receivers:\n  fakerecv:\n",
        "receivers:\n  fakerecv:\n  fakerecv/2:\n    endpoint: unbuildable\n",
    );
    let broken = broken.replace(
        "receivers: [fakerecv]\n      exporters: [fakeexp/b]",
        "receivers: [fakerecv, fakerecv/2]\n      exporters: [fakeexp/b]",
    );
    let new = plan_of(&broken, &recorder);
    let graph = match graph.reload(&old, &new, Duration::from_secs(5)).await {
        Reloaded::Previous(g, e) => {
            assert!(e.contains("cannot bind unbuildable"), "{e}");
            g
        }
        _ => panic!("the reload should have gone back"),
    };
    // the kept receiver still leads into a running graph
    entry.consume(spans(1)).await.unwrap();
    assert_eq!(
        recorder.exported_by("fakeexp/a").len(),
        2,
        "traces and traces/2"
    );
    assert_eq!(recorder.receivers.lock().unwrap().len(), 1);
    assert!(graph.shutdown(Duration::from_secs(5)).await.is_empty());
}
