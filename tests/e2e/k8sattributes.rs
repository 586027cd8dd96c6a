//! `k8sattributes` through the binary, with the real OpenTelemetry Python SDK as the
//! client: the SDK's spans come from 127.0.0.1, the pod a loopback Kubernetes API server
//! lists has that IP, and the spans leave with the pod's metadata. The config is the
//! opentelemetry-helm-charts `kubernetesAttributes` preset (origin below) with
//! `auth_type: kubeConfig` and a kubeconfig naming the loopback server (no cluster runs
//! here).

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;

use crate::harness::{temp_dir, Collector, Ports};
use crate::python_sdk::run_sdk;
use crate::sink::{self, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_spans_get_the_metadata_of_the_pod_they_came_from() {
    let pod = r#"{"metadata":{"name":"checkout-7c9d8b6f5-q4z2n","namespace":"shop","uid":"0f1e2d3c",
        "creationTimestamp":"2026-12-01T10:00:00Z","labels":{"app":"checkout","pod-template-hash":"7c9d8b6f5"},
        "ownerReferences":[{"kind":"ReplicaSet","name":"checkout-7c9d8b6f5","uid":"rs-1","controller":true}]},
        "spec":{"nodeName":"node-a","containers":[{"name":"app","image":"shop/checkout:2.1"}]},
        "status":{"podIP":"127.0.0.1"}}"#
        .replace('\n', "");
    let fake = pipeline_api::testing::kube::FakeApi::start().await;
    fake.put("/api/v1/pods", vec![serde_json::from_str(&pod).unwrap()]);
    let api = fake.addr;
    let dir = temp_dir("k8sattributes-kubeconfig");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: c\n  cluster: {{server: 'http://{api}'}}\n\
             contexts:\n- name: test\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    // origin: https://github.com/open-telemetry/opentelemetry-helm-charts/blob/2bd24b40bf1450378315d859b47f9847b6819bef/charts/opentelemetry-collector/templates/_config.tpl
    // (the kubernetesAttributes preset with extractAllPodLabels; auth_type and
    // wait_for_metadata added for the test)
    let preset = r#"  k8sattributes:
    auth_type: kubeConfig
    wait_for_metadata: true
    passthrough: false
    pod_association:
    - sources:
      - from: resource_attribute
        name: k8s.pod.ip
    - sources:
      - from: resource_attribute
        name: k8s.pod.uid
    - sources:
      - from: connection
    extract:
      metadata:
        - "k8s.namespace.name"
        - "k8s.deployment.name"
        - "k8s.statefulset.name"
        - "k8s.daemonset.name"
        - "k8s.cronjob.name"
        - "k8s.job.name"
        - "k8s.node.name"
        - "k8s.pod.name"
        - "k8s.pod.uid"
        - "k8s.pod.start_time"
      labels:
        - tag_name: $$1
          key_regex: (.*)
          from: pod
"#;
    let config = ports.fill(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT\nprocessors:\n{preset}\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlp], processors: [k8sattributes], exporters: [otlp]}}\n"
    ));
    let kc = kubeconfig.to_string_lossy().to_string();
    let collector =
        Collector::start_with_env("k8sattributes", &config, &[], &[("KUBECONFIG", &kc)]);
    let endpoint = format!("127.0.0.1:{}", ports.grpc);
    let report =
        tokio::task::spawn_blocking(move || run_sdk(&["--endpoint", &endpoint, "--spans", "200"]))
            .await
            .unwrap();
    assert_eq!(report.exported, 200, "{report:?}");
    let arrived = eventually(Duration::from_secs(10), || {
        recorded
            .traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .map(|rs| rs.scope_spans.iter().map(|s| s.spans.len()).sum::<usize>())
            .sum::<usize>()
            >= 200
    })
    .await;
    assert!(arrived, "{}", collector.stderr_text());
    let traces = recorded.traces.lock().unwrap().clone();
    for rs in traces.iter().flat_map(|r| &r.resource_spans) {
        let mut attrs: Vec<String> = rs
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(format!("{}={s}", kv.key)),
                _ => None,
            })
            .filter(|a| {
                a.starts_with("k8s.") || a.starts_with("app=") || a.starts_with("service.name=")
            })
            .collect();
        attrs.sort();
        assert_eq!(
            attrs,
            [
                // the pod's labels by the preset's `tag_name: $$1`
                "app=checkout",
                "k8s.deployment.name=checkout",
                "k8s.namespace.name=shop",
                "k8s.node.name=node-a",
                "k8s.pod.name=checkout-7c9d8b6f5-q4z2n",
                "k8s.pod.start_time=2026-12-01T10:00:00Z",
                "k8s.pod.uid=0f1e2d3c",
                // the SDK's own is kept
                "service.name=sdk-client",
            ]
        );
    }
    let (_, _, stderr) = collector.stop();
    assert!(
        stderr.contains("k8sattributes") && stderr.contains("deprecated"),
        "the old name is warned about as in Go: {stderr}"
    );
}
