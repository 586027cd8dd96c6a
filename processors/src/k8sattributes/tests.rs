//! The processor against a loopback server speaking the Kubernetes API's list and watch
//! (JSON lists; watches as chunked streams of JSON events, as the API server sends them),
//! with the pods, namespaces and ReplicaSets a test puts there.

use std::sync::Arc;
use std::time::Duration;

use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::testing::kube::FakeApi;
use pipeline_api::testing::Collect;
use pipeline_api::{Batch, Consumer, Processor, RequestContext, Signal};
use serde_json::json;

use super::{Config, K8sAttributes};
use transport::kube::Api;

fn parse(s: &str) -> Result<Config, String> {
    pipeline_api::testing::parse_config(s)
}

/// A pod as the API gives it, owned by ReplicaSet `web-5d8f9c7b6`.
fn pod(name: &str, uid: &str, ip: &str) -> serde_json::Value {
    json!({
        "metadata": {
            "name": name, "namespace": "shop", "uid": uid, "resourceVersion": "7",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "5d8f9c7b6", "tier": "front"},
            "annotations": {"team": "payments", "resource.opentelemetry.io/service.name": "checkout"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d8f9c7b6", "uid": "rs-1", "controller": true}]
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "registry.local:5000/shop/web:1.4.2"}]},
        "status": {"podIP": ip, "startTime": "2026-12-01T10:00:01Z",
                   "containerStatuses": [{"name": "app", "containerID": "containerd://abc123", "restartCount": 0,
                                          "imageID": "registry.local:5000/shop/web@sha256:feed"}]}
    })
}

fn traces(resource: Vec<(&str, &str)>) -> Batch {
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource
                    .into_iter()
                    .map(|(k, v)| KeyValue {
                        key: k.into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(v.into())),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "s".into(),
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// Run one batch through, from `client`; the resource's attributes as `key=value`.
async fn through(
    p: &K8sAttributes,
    next: &Collect,
    mut batch: Batch,
    client: Option<&str>,
) -> Vec<String> {
    batch.set_context(RequestContext {
        client_address: client.map(|c| c.parse().unwrap()),
        ..Default::default()
    });
    p.consume(batch).await.unwrap();
    let out = next.take().pop().unwrap();
    let rs = &out.as_traces().unwrap().resource_spans[0];
    let mut attrs: Vec<String> = rs
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => format!("{}={s}", kv.key),
                Some(any_value::Value::ArrayValue(a)) => format!("{}={:?}", kv.key, a.values.len()),
                _ => kv.key.clone(),
            },
        )
        .collect();
    attrs.sort();
    attrs
}

/// A processor started against `api`, its pods listed.
async fn started(cfg: &Config, api: &FakeApi) -> (K8sAttributes, Arc<Collect>) {
    let next = Collect::new();
    let p = K8sAttributes::new(cfg, Signal::Traces, next.clone(), "/nonexistent".into()).unwrap();
    p.start_with(Api::plain(&api.base())).await.unwrap();
    for _ in 0..100 {
        if p.cache.read().unwrap().pods_synced {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(p.cache.read().unwrap().pods_synced, "pods listed");
    (p, next)
}

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = parse("{}").unwrap();
    assert_eq!(cfg.auth_type, "serviceAccount");
    assert_eq!(
        cfg.extract.metadata,
        [
            "k8s.namespace.name",
            "k8s.pod.name",
            "k8s.pod.uid",
            "k8s.pod.start_time",
            "k8s.deployment.name",
            "k8s.node.name",
            "container.image.name",
            "container.image.tag"
        ]
    );
    assert_eq!(cfg.exclude.pods.len(), 2);
    assert_eq!(cfg.wait_for_metadata_timeout.get(), Duration::from_secs(10));
    let errs = parse(
        "auth_type: magic\nextract: {metadata: [k8s.pod.name, k8s.pod.colour], labels: [{key: a, key_regex: b}, {key: c, from: cluster}]}\n\
         filter: {labels: [{key: a, value: b, op: near}]}\n\
         pod_association: [{sources: [{from: connection}, {from: connection}, {from: connection}, {from: connection}, {from: connection}]}]",
    )
    .unwrap_err();
    assert_eq!(
        errs,
        "auth_type: invalid authType for kubernetes: magic\n\
         pod_association::0::sources: too many association sources. limit is 4\n\
         extract::labels::0::key_regex: Out of Key or KeyRegex only one option is expected to be configured at a time, currently Key:a and KeyRegex:b\n\
         extract::labels::1::from: cluster is not a valid choice for From. Must be one of: pod, namespace, deployment, statefulset, daemonset, job, node\n\
         extract::metadata: \"k8s.pod.colour\" is not a supported metadata field\n\
         filter::labels::0::op: 'near' is not a valid label filter operation for key=a, value=b"
    );
    let errs = parse("filter: {node_from_env_var: FERROTEL_TEST_SURELY_UNSET_VAR}").unwrap_err();
    assert_eq!(
        errs,
        "filter::node_from_env_var: `node_from_env_var` is configured but envvar \"FERROTEL_TEST_SURELY_UNSET_VAR\" is not set"
    );
}

/// Public configs (their `k8sattributes` sections) parse and validate unchanged.
#[test]
fn public_configs_validate() {
    // origin: https://github.com/open-telemetry/opentelemetry-helm-charts/blob/2bd24b40bf1450378315d859b47f9847b6819bef/charts/opentelemetry-collector/templates/_config.tpl
    // (the kubernetesAttributes preset, rendered for a deployment with extractAllPodLabels;
    // `$$1` is `$1` after the collector's `$$` escape)
    let helm = r#"
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
    - tag_name: $1
      key_regex: (.*)
      from: pod
"#;
    // origin: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/107756e8a4378731d21085ba920e24eca9304978/processor/k8sattributesprocessor/testdata/e2e/clusterrbac/collector/configmap.yaml
    let contrib = r#"
extract:
  annotations:
  - from: pod
    key: workload
    tag_name: k8s.annotations.workload
  labels:
  - from: pod
    key: app
    tag_name: k8s.labels.app
  - from: node
    key: foo
  - from: namespace
    key: foons
  metadata:
  - k8s.pod.name
  - k8s.pod.start_time
  - k8s.pod.uid
  - k8s.namespace.name
  - k8s.deployment.name
  - k8s.deployment.uid
  - k8s.replicaset.name
  - k8s.replicaset.uid
  - k8s.statefulset.name
  - k8s.statefulset.uid
  - k8s.daemonset.name
  - k8s.daemonset.uid
  - k8s.cronjob.name
  - k8s.job.name
  - k8s.job.uid
  - k8s.node.name
  - k8s.cluster.uid
  - container.id
  - container.image.name
  - container.image.tag
pod_association:
- sources:
  - from: connection
"#;
    for (name, yaml) in [("helm", helm), ("contrib", contrib)] {
        parse(yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn a_pod_is_found_by_the_connection_and_its_metadata_added() {
    let api = FakeApi::start().await;
    api.put(
        "/api/v1/pods",
        vec![
            pod("web-5d8f9c7b6-x2x9q", "uid-1", "10.1.2.3"),
            pod("other", "uid-2", "10.1.2.4"),
        ],
    );
    let cfg = parse("{}").unwrap();
    let (p, next) = started(&cfg, &api).await;
    let attrs = through(
        &p,
        &next,
        traces(vec![("service.name", "web")]),
        Some("10.1.2.3:40000"),
    )
    .await;
    assert_eq!(
        attrs,
        [
            "container.image.name=registry.local:5000/shop/web",
            "container.image.tag=1.4.2",
            "k8s.deployment.name=web",
            "k8s.namespace.name=shop",
            "k8s.node.name=node-a",
            "k8s.pod.name=web-5d8f9c7b6-x2x9q",
            "k8s.pod.start_time=2026-12-01T10:00:00Z",
            "k8s.pod.uid=uid-1",
            "service.name=web",
        ]
    );
    // the k8s.pod.ip attribute comes before the connection; not extracted, so not added
    let attrs = through(
        &p,
        &next,
        traces(vec![("k8s.pod.ip", "10.1.2.4")]),
        Some("10.1.2.3:1"),
    )
    .await;
    assert!(
        attrs.contains(&"k8s.pod.name=other".to_string()),
        "{attrs:?}"
    );
    // an unknown address: nothing added
    let attrs = through(&p, &next, traces(vec![]), Some("10.9.9.9:1")).await;
    assert!(attrs.is_empty(), "{attrs:?}");
    // the API was asked for every pod of the cluster
    assert!(api.requests()[0].0.starts_with("GET /api/v1/pods HTTP"));
}

#[tokio::test]
async fn rules_labels_annotations_and_what_is_there_is_kept() {
    let api = FakeApi::start().await;
    api.put(
        "/api/v1/pods",
        vec![pod("web-5d8f9c7b6-x2x9q", "uid-1", "10.1.2.3")],
    );
    api.put(
        "/api/v1/namespaces",
        vec![
            json!({"metadata": {"name": "shop", "uid": "ns-1", "labels": {"env": "prod"}}}),
            json!({"metadata": {"name": "kube-system", "uid": "cluster-9"}}),
        ],
    );
    let cfg = parse(
        "pod_association: [{sources: [{from: resource_attribute, name: k8s.pod.uid}]}]\n\
         extract:\n  metadata: [k8s.pod.name, k8s.namespace.name, k8s.cluster.uid, container.id, k8s.pod.ip]\n  \
         labels: [{key: tier}, {tag_name: 'app.$1', key_regex: 'ap(p)'}, {key: env, from: namespace}]\n  \
         annotations: [{key: team, tag_name: owner}]\n  otel_annotations: true",
    )
    .unwrap();
    let (p, next) = started(&cfg, &api).await;
    let attrs = through(
        &p,
        &next,
        traces(vec![
            ("k8s.pod.uid", "uid-1"),
            ("k8s.namespace.name", "mine"),
            ("service.name", ""),
        ]),
        Some("10.7.7.7:1"),
    )
    .await;
    assert_eq!(
        attrs,
        [
            "app.p=web",
            "container.id=abc123",
            "k8s.cluster.uid=cluster-9",
            // what the resource had is kept; the namespace's labels are those of the
            // pod's namespace
            "k8s.namespace.labels.env=prod",
            "k8s.namespace.name=mine",
            // extracted, so from the pod
            "k8s.pod.ip=10.1.2.3",
            "k8s.pod.labels.tier=front",
            "k8s.pod.name=web-5d8f9c7b6-x2x9q",
            "k8s.pod.uid=uid-1",
            "owner=payments",
            // an empty value is filled (Go: set if absent or empty)
            "service.name=checkout",
        ]
    );
    // the first rule the resource has decides: no k8s.pod.uid, no rule, nothing
    let attrs = through(&p, &next, traces(vec![]), Some("10.1.2.3:1")).await;
    assert!(attrs.is_empty(), "{attrs:?}");
}

#[tokio::test]
async fn pods_come_and_go_by_the_watch_with_a_grace_period() {
    let api = FakeApi::start().await;
    api.put("/api/v1/pods", vec![]);
    let cfg = parse("pod_delete_grace_period: 300ms").unwrap();
    let (p, next) = started(&cfg, &api).await;
    assert!(through(&p, &next, traces(vec![]), Some("10.1.2.3:1"))
        .await
        .is_empty());
    // the watch may not be open yet: send until the pod is seen
    let mut seen = false;
    for _ in 0..100 {
        api.event("/api/v1/pods", "ADDED", pod("late", "uid-3", "10.1.2.3"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        if p.cache.read().unwrap().by_uid.contains_key("uid-3") {
            seen = true;
            break;
        }
    }
    assert!(seen, "the ADDED pod reached the cache");
    let attrs = through(&p, &next, traces(vec![]), Some("10.1.2.3:1")).await;
    assert!(
        attrs.contains(&"k8s.pod.name=late".to_string()),
        "{attrs:?}"
    );
    api.event("/api/v1/pods", "DELETED", pod("late", "uid-3", "10.1.2.3"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    // still found within the grace period, gone after it
    let attrs = through(&p, &next, traces(vec![]), Some("10.1.2.3:1")).await;
    assert!(
        attrs.contains(&"k8s.pod.name=late".to_string()),
        "{attrs:?}"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(through(&p, &next, traces(vec![]), Some("10.1.2.3:1"))
        .await
        .is_empty());
    p.shutdown().await;
}

#[tokio::test]
async fn ignored_excluded_and_host_network_pods_are_not_found() {
    let api = FakeApi::start().await;
    let mut ignored = pod("quiet", "uid-4", "10.0.0.4");
    ignored["metadata"]["annotations"]["opentelemetry.io/k8s-processor/ignore"] = json!(" True ");
    let mut host = pod("host", "uid-5", "10.0.0.5");
    host["spec"]["hostNetwork"] = json!(true);
    api.put(
        "/api/v1/pods",
        vec![ignored, pod("my-jaeger-agent-1", "uid-6", "10.0.0.6"), host],
    );
    let (p, next) = started(&parse("{}").unwrap(), &api).await;
    for ip in ["10.0.0.4", "10.0.0.5", "10.0.0.6"] {
        let attrs = through(&p, &next, traces(vec![]), Some(&format!("{ip}:1"))).await;
        assert!(attrs.is_empty(), "{ip}: {attrs:?}");
    }
    // a host-network pod is still found by its uid
    let cfg =
        parse("pod_association: [{sources: [{from: resource_attribute, name: k8s.pod.uid}]}]")
            .unwrap();
    let (p, next) = started(&cfg, &api).await;
    let attrs = through(&p, &next, traces(vec![("k8s.pod.uid", "uid-5")]), None).await;
    assert!(
        attrs.contains(&"k8s.pod.name=host".to_string()),
        "{attrs:?}"
    );
}

#[tokio::test]
async fn passthrough_adds_only_the_pod_ip_and_asks_no_api() {
    let cfg = parse("passthrough: true").unwrap();
    let next = Collect::new();
    let p = K8sAttributes::new(&cfg, Signal::Traces, next.clone(), "/nonexistent".into()).unwrap();
    // no API settings at all: passthrough starts anyway
    p.start().await.unwrap();
    let attrs = through(&p, &next, traces(vec![]), Some("[::ffff:10.1.2.3]:9")).await;
    assert_eq!(attrs, ["k8s.pod.ip=10.1.2.3"]);
}

#[tokio::test]
async fn selectors_credentials_and_kubeconfig() {
    let api = FakeApi::start().await;
    api.put(
        "/api/v1/namespaces/shop/pods",
        vec![pod("web-1", "uid-1", "10.1.2.3")],
    );
    api.put(
        "/apis/apps/v1/namespaces/shop/replicasets",
        vec![json!({"metadata": {"name": "web-5d8f9c7b6", "uid": "rs-1",
            "ownerReferences": [{"kind": "Deployment", "name": "web-deploy", "uid": "dep-1", "controller": true}]}})],
    );
    let dir = std::env::temp_dir().join(format!("ferrotel-kubeconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: other\nclusters:\n- name: c1\n  cluster:\n    server: {}\n\
             contexts:\n- name: ctx\n  context: {{cluster: c1, user: u1}}\n- name: other\n  context: {{cluster: nowhere, user: u1}}\n\
             users:\n- name: u1\n  user:\n    token: s3cret-token\n",
            api.base()
        ),
    )
    .unwrap();
    let cfg = parse(
        "auth_type: kubeConfig\ncontext: ctx\nfilter: {namespace: shop, node: node-a, labels: [{key: app, value: web}, {key: canary, op: does-not-exist}], fields: [{key: status.phase, value: Failed, op: not-equals}]}\n\
         extract: {metadata: [k8s.deployment.name, k8s.deployment.uid]}",
    )
    .unwrap();
    let next = Collect::new();
    let p = K8sAttributes::new(&cfg, Signal::Traces, next.clone(), "/nonexistent".into()).unwrap();
    p.start_with(Api::from_kubeconfig(&path, "ctx").unwrap())
        .await
        .unwrap();
    let mut attrs = Vec::new();
    for _ in 0..100 {
        attrs = through(&p, &next, traces(vec![]), Some("10.1.2.3:1")).await;
        if attrs.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the deployment from the ReplicaSet, as the ReplicaSets are watched for its uid
    assert_eq!(
        attrs,
        ["k8s.deployment.name=web-deploy", "k8s.deployment.uid=dep-1"]
    );
    let requests = api.requests();
    let pods = requests
        .iter()
        .find(|(l, _)| l.contains("/pods") && !l.contains("watch=true"))
        .unwrap();
    assert_eq!(
        pods.0,
        "GET /api/v1/namespaces/shop/pods?labelSelector=app%3Dweb%2C%21canary&fieldSelector=status.phase%21%3DFailed%2Cspec.nodeName%3Dnode-a HTTP/1.1"
    );
    assert_eq!(pods.1, "Bearer s3cret-token");
    // the kubeconfig's current context names a cluster it lacks
    let err = Api::from_kubeconfig(&path, "").err().unwrap();
    assert_eq!(err, "cluster \"nowhere\" does not exist");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn no_api_server_fails_the_start_only_when_waiting_for_metadata() {
    let cfg = parse("wait_for_metadata: true\nwait_for_metadata_timeout: 300ms").unwrap();
    let next = Collect::new();
    let p = K8sAttributes::new(&cfg, Signal::Traces, next.clone(), "/nonexistent".into()).unwrap();
    let err = p
        .start_with(Api::plain("http://127.0.0.1:1"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "failed to wait for caches to sync");
    let p = K8sAttributes::new(
        &parse("{}").unwrap(),
        Signal::Traces,
        next.clone(),
        "/nonexistent".into(),
    )
    .unwrap();
    p.start_with(Api::plain("http://127.0.0.1:1"))
        .await
        .unwrap();
    // data flows on, unchanged
    assert_eq!(
        through(&p, &next, traces(vec![("a", "b")]), Some("10.0.0.1:1")).await,
        ["a=b"]
    );
    p.shutdown().await;
    // in-cluster settings missing: the start fails, saying what is missing
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
        let err = p_start_err(&parse("{}").unwrap()).await;
        assert_eq!(err, "unable to load k8s config, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined");
    }
}

async fn p_start_err(cfg: &Config) -> String {
    let p = K8sAttributes::new(cfg, Signal::Traces, Collect::new(), "/nonexistent".into()).unwrap();
    p.start().await.unwrap_err().to_string()
}

#[test]
fn images_and_cronjob_names_read_as_go_reads_them() {
    use super::pods::parse_image;
    let p = |s: &str| parse_image(s);
    assert_eq!(p("nginx"), ("nginx".into(), "latest".into(), "".into()));
    assert_eq!(p("nginx:1.25"), ("nginx".into(), "1.25".into(), "".into()));
    assert_eq!(
        p("localhost:5000/a/b:2"),
        ("localhost:5000/a/b".into(), "2".into(), "".into())
    );
    assert_eq!(
        p("localhost:5000/a/b"),
        ("localhost:5000/a/b".into(), "latest".into(), "".into())
    );
    assert_eq!(p("b@sha256:abc"), ("b".into(), "".into(), "abc".into()));
    // minutes since the epoch within a day of the pod's creation
    let created = "2026-12-01T10:00:00Z";
    let minutes = super::jiff_seconds(created).unwrap() / 60;
    assert_eq!(super::jiff_seconds("1970-01-02T00:00:01Z"), Some(86_401));
    assert_eq!(
        super::cronjob_from_job_name(&format!("nightly-report-{minutes}"), created).as_deref(),
        Some("nightly-report")
    );
    assert_eq!(
        super::cronjob_from_job_name("batch-12345678", created),
        None
    );
}
