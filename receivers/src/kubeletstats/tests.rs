//! The receiver against a loopback server answering the kubelet's `/stats/summary` and
//! `/pods` (the JSON of `k8s.io/kubelet/pkg/apis/stats/v1alpha1` and of a `v1.PodList`, as
//! a kubelet serves them), and Go's config checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::testing::{context, Collect};
use pipeline_api::{ComponentConfig, ComponentKind, Signal};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use transport::kube::Api;

use super::{quantity, KubeletStats, KubeletStatsConfig};
use crate::testing::{one, points, resource_text as resource, rounds};

fn parse(s: &str) -> Result<KubeletStatsConfig, String> {
    pipeline_api::testing::parse_config(s)
}

/// A kubelet on loopback: JSON by path; every request line and `Authorization` kept.
struct FakeKubelet {
    base: String,
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

async fn fake_kubelet(routes: HashMap<String, String>) -> FakeKubelet {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let log = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let routes = routes.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Some(text) = pipeline_api::testing::read_request_head(&mut conn).await else {
                    return;
                };
                let line = text.lines().next().unwrap_or("").to_string();
                let auth = text
                    .lines()
                    .find_map(|l| l.strip_prefix("authorization: "))
                    .unwrap_or("")
                    .to_string();
                log.lock().unwrap().push((line.clone(), auth));
                let path = line.split(' ').nth(1).unwrap_or("");
                let (status, body) = match routes.get(path) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", "404 page not found".to_string()),
                };
                let _ = conn
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    FakeKubelet { base, requests }
}

/// A node with one system container and one pod of two containers and two volumes, in
/// the summary's shape (one interface, some fields left out as a kubelet does).
fn summary() -> String {
    json!({
        "node": {
            "nodeName": "node-a",
            "systemContainers": [{"name": "kubelet", "startTime": "2026-12-01T09:00:00Z",
                "cpu": {"time": "2026-12-07T05:00:00Z", "usageNanoCores": 25000000, "usageCoreNanoSeconds": 90000000000u64},
                "memory": {"usageBytes": 60000000, "workingSetBytes": 50000000}}],
            "startTime": "2026-12-01T08:00:00Z",
            "cpu": {"time": "2026-12-07T05:00:00Z", "usageNanoCores": 1500000000, "usageCoreNanoSeconds": 7200000000000u64},
            "memory": {"availableBytes": 4000000000u64, "usageBytes": 3000000000u64, "workingSetBytes": 2500000000u64,
                       "rssBytes": 1500000000u64, "pageFaults": 1000, "majorPageFaults": 3},
            "network": {"name": "eth0", "rxBytes": 1000, "rxErrors": 0, "txBytes": 2000, "txErrors": 1,
                        "interfaces": [{"name": "eth0", "rxBytes": 1000, "rxErrors": 0, "txBytes": 2000, "txErrors": 1},
                                       {"name": "cni0", "rxBytes": 10, "txBytes": 20}]},
            "fs": {"availableBytes": 50000000000u64, "capacityBytes": 100000000000u64, "usedBytes": 50000000000u64}
        },
        "pods": [{
            "podRef": {"name": "web-7d4b9c-x2x9q", "namespace": "shop", "uid": "uid-1"},
            "startTime": "2026-12-06T10:00:00Z",
            "containers": [
                {"name": "app", "startTime": "2026-12-06T10:00:05Z",
                 "cpu": {"usageNanoCores": 250000000, "usageCoreNanoSeconds": 3000000000000u64},
                 "memory": {"availableBytes": 100, "usageBytes": 134217728, "workingSetBytes": 100000000, "rssBytes": 90000000, "pageFaults": 10, "majorPageFaults": 0},
                 "rootfs": {"availableBytes": 40000000000u64, "capacityBytes": 100000000000u64, "usedBytes": 40960},
                 "logs": {"usedBytes": 8192}},
                {"name": "sidecar", "startTime": "2026-12-06T10:00:06Z",
                 "cpu": {"usageNanoCores": 5000000},
                 "memory": {"usageBytes": 10000000}}
            ],
            "cpu": {"usageNanoCores": 255000000, "usageCoreNanoSeconds": 3100000000000u64},
            "memory": {"usageBytes": 144217728, "workingSetBytes": 110000000},
            "network": {"name": "eth0", "rxBytes": 500, "rxErrors": 0, "txBytes": 700, "txErrors": 0},
            "volume": [
                {"name": "data", "availableBytes": 900, "capacityBytes": 1000, "usedBytes": 100, "inodesFree": 90, "inodes": 100, "inodesUsed": 10},
                {"name": "kube-api-access-abcde"}
            ],
            "ephemeral-storage": {"availableBytes": 40000000000u64, "capacityBytes": 100000000000u64, "usedBytes": 49152}
        }]
    })
    .to_string()
}

fn pods() -> String {
    json!({"kind": "PodList", "items": [{
        "metadata": {"name": "web-7d4b9c-x2x9q", "namespace": "shop", "uid": "uid-1"},
        "spec": {
            "containers": [
                {"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}}},
                {"name": "sidecar", "resources": {"requests": {"cpu": "10m"}}}
            ],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                {"name": "kube-api-access-abcde", "projected": {"sources": []}}
            ]
        },
        "status": {"containerStatuses": [
            {"name": "app", "containerID": "containerd://aaa111"},
            {"name": "sidecar", "containerID": "containerd://bbb222"}
        ]}
    }]})
    .to_string()
}

async fn scrapes(cfg: &KubeletStatsConfig, api: Api, n: usize) -> Vec<ResourceMetrics> {
    let next = Collect::new();
    let ctx = context(
        ComponentKind::Receiver,
        "kubelet_stats",
        vec![Signal::Metrics],
    );
    let r = KubeletStats::with_api(ctx, cfg, next.clone(), Api::plain("http://unused")).with(api);
    rounds(Box::new(r), &next, n).await
}

impl KubeletStats {
    fn with(mut self, api: Api) -> KubeletStats {
        self.api = api;
        self
    }
}

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = parse("{}").unwrap();
    assert_eq!(cfg.auth_type, "tls");
    assert_eq!(cfg.metric_groups, ["container", "pod", "node"]);
    assert_eq!(cfg.collection_interval.get(), Duration::from_secs(10));
    // Go's tls needs the three files
    assert!(!cfg.check_when_used().is_empty());
    let errs = parse(
        "auth_type: token\nextra_metadata_labels: [container.id, container.id, k8s.pod.ip]\nmetric_groups: [pod, disk]\n\
         metrics: {k8s.pod.memory.node.utilization: {enabled: true}, k8s.node.cpu.utilization: {enabled: false}}",
    )
    .unwrap_err();
    assert_eq!(
        errs,
        "node: for k8s.pod.memory.node.utilization node setting is required. Check the readme on how to set the required setting\n\
         auth_type: invalid authType for kubernetes: token\n\
         extra_metadata_labels: duplicate metadata label: \"container.id\"\n\
         extra_metadata_labels: label \"k8s.pod.ip\" is not supported\n\
         metric_groups: invalid entry in metric_groups\n\
         metrics: has invalid keys: k8s.node.cpu.utilization"
    );
    assert_eq!(quantity("500m"), Some(0.5));
    assert_eq!(quantity("2"), Some(2.0));
    assert_eq!(quantity("128Mi"), Some(134_217_728.0));
    assert_eq!(quantity("1G"), Some(1e9));
    assert_eq!(quantity("1e3"), Some(1000.0));
    assert_eq!(quantity("lots"), None);
}

/// Public configs (their kubeletstats sections) parse and validate unchanged.
#[test]
fn public_configs_validate() {
    // origin: https://github.com/open-telemetry/opentelemetry-helm-charts/blob/2bd24b40bf1450378315d859b47f9847b6819bef/charts/opentelemetry-collector/templates/_config.tpl
    let helm = "collection_interval: 20s\nauth_type: \"serviceAccount\"\nendpoint: \"${env:K8S_NODE_IP}:10250\"\n";
    // origin: https://github.com/elastic/elastic-agent/blob/1ae017816da3b6d916b064ce1bfaa48c2319f882/deploy/helm/edot-collector/kube-stack/values.yaml
    let edot = r#"
auth_type: serviceAccount
collection_interval: 20s
endpoint: ${env:OTEL_K8S_NODE_NAME}:10250
node: '${env:OTEL_K8S_NODE_NAME}'
insecure_skip_verify: true
k8s_api_config:
  auth_type: serviceAccount
metrics:
  k8s.pod.memory.node.utilization:
    enabled: true
  k8s.pod.cpu.node.utilization:
    enabled: true
  k8s.container.cpu_limit_utilization:
    enabled: true
  k8s.pod.cpu_limit_utilization:
    enabled: true
  k8s.container.cpu_request_utilization:
    enabled: true
  k8s.container.memory_limit_utilization:
    enabled: true
  k8s.pod.memory_limit_utilization:
    enabled: true
  k8s.container.memory_request_utilization:
    enabled: true
  k8s.node.uptime:
    enabled: true
  k8s.node.cpu.usage:
    enabled: true
  k8s.pod.cpu.usage:
    enabled: true
extra_metadata_labels:
  - container.id
"#;
    // origin: https://github.com/signalfx/splunk-otel-collector-chart/blob/8e45274eee2b0669afd49eef25548e45cc4acbbb/helm-charts/splunk-otel-collector/templates/config/_otel-agent.tpl
    let splunk = "collection_interval: 10s\nauth_type: serviceAccount\nendpoint: ${K8S_NODE_IP}:10250\nmetric_groups:\n  - container\n  - pod\n  - node\nextra_metadata_labels:\n  - container.id\n";
    for (name, yaml) in [("helm", helm), ("edot", edot), ("splunk", splunk)] {
        let yaml = yaml
            .replace("${env:K8S_NODE_IP}", "10.0.0.1")
            .replace("${env:OTEL_K8S_NODE_NAME}", "node-a")
            .replace("${K8S_NODE_IP}", "10.0.0.1");
        let cfg = parse(&yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(cfg.check_when_used().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn the_summary_as_gos_resources_and_metrics() {
    let kubelet = fake_kubelet(HashMap::from([
        ("/stats/summary".to_string(), summary()),
        ("/pods".to_string(), pods()),
    ]))
    .await;
    let cfg = parse(
        "auth_type: none\ncollection_interval: 100ms\ninitial_delay: 0s\nmetric_groups: [node, pod, container, volume]\n\
         extra_metadata_labels: [container.id, k8s.volume.type]\n\
         metrics: {k8s.node.uptime: {enabled: true}, k8s.container.cpu_limit_utilization: {enabled: true}, \
         k8s.pod.memory_request_utilization: {enabled: true}, k8s.container.ephemeral_storage.usage: {enabled: true}, \
         k8s.node.system_container.cpu.usage: {enabled: true}}",
    )
    .unwrap();
    let all = scrapes(&cfg, Api::plain(&kubelet.base), 1).await;
    let resources: Vec<Vec<String>> = all.iter().map(resource).collect();
    assert_eq!(
        resources,
        [
            vec!["k8s.node.name=node-a"],
            vec![
                "k8s.node.name=node-a",
                "k8s.node.system_container.name=kubelet"
            ],
            vec![
                "k8s.pod.uid=uid-1",
                "k8s.pod.name=web-7d4b9c-x2x9q",
                "k8s.namespace.name=shop"
            ],
            vec![
                "k8s.pod.uid=uid-1",
                "k8s.pod.name=web-7d4b9c-x2x9q",
                "k8s.namespace.name=shop",
                "k8s.container.name=app",
                "container.id=aaa111"
            ],
            vec![
                "k8s.pod.uid=uid-1",
                "k8s.pod.name=web-7d4b9c-x2x9q",
                "k8s.namespace.name=shop",
                "k8s.container.name=sidecar",
                "container.id=bbb222"
            ],
            vec![
                "k8s.pod.uid=uid-1",
                "k8s.pod.name=web-7d4b9c-x2x9q",
                "k8s.namespace.name=shop",
                "k8s.volume.name=data",
                "k8s.volume.type=persistentVolumeClaim",
                "k8s.persistentvolumeclaim.name=web-data"
            ],
        ]
        .iter()
        .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    let (node, sys, pod, app, sidecar, volume) =
        (&all[0], &all[1], &all[2], &all[3], &all[4], &all[5]);
    // nanocores as cores, core-nanoseconds as seconds
    assert_eq!(one(node, "k8s.node.cpu.usage"), 1.5);
    assert_eq!(one(node, "k8s.node.cpu.time"), 7200.0);
    assert_eq!(one(node, "k8s.node.memory.working_set"), 2.5e9);
    assert_eq!(one(node, "k8s.node.filesystem.capacity"), 1e11);
    // the default interface only
    assert_eq!(
        points(node, "k8s.node.network.io"),
        [
            ("interface=eth0,direction=receive".to_string(), 1000.0),
            ("interface=eth0,direction=transmit".to_string(), 2000.0)
        ]
    );
    assert!(one(node, "k8s.node.uptime") > 5.0 * 86400.0);
    assert_eq!(one(sys, "k8s.node.system_container.cpu.usage"), 0.025);
    assert_eq!(
        one(pod, "k8s.pod.filesystem.usage"),
        49152.0,
        "from ephemeral-storage"
    );
    // the pod's memory requests: 128Mi and none: no ratio; its cpu usage is recorded
    assert!(points(pod, "k8s.pod.memory_request_utilization").is_empty());
    assert_eq!(one(pod, "k8s.pod.cpu.usage"), 0.255);
    assert_eq!(one(app, "container.cpu.usage"), 0.25);
    assert_eq!(one(app, "k8s.container.cpu_limit_utilization"), 0.5);
    assert_eq!(
        points(app, "k8s.container.ephemeral_storage.usage"),
        [
            ("fs.type=rootfs".to_string(), 40960.0),
            ("fs.type=logs".to_string(), 8192.0)
        ]
    );
    assert_eq!(one(app, "container.filesystem.usage"), 40960.0);
    // left out by the kubelet: not recorded (no zero)
    assert!(points(sidecar, "container.cpu.time").is_empty());
    assert!(
        points(sidecar, "k8s.container.cpu_limit_utilization").is_empty(),
        "no limit"
    );
    assert_eq!(one(volume, "k8s.volume.inodes.used"), 10.0);
    assert!(
        points(volume, "k8s.pod.volume.usage").is_empty(),
        "off by default"
    );
    // the start times: the node's, the container's, the receiver's for volumes
    let start = |rm: &ResourceMetrics, name: &str| {
        rm.scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| match &m.data {
                Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g)) => {
                    g.data_points[0].start_time_unix_nano
                }
                Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(s)) => {
                    s.data_points[0].start_time_unix_nano
                }
                _ => 0,
            })
            .unwrap()
    };
    let ts = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_nanosecond() as u64;
    assert_eq!(start(node, "k8s.node.cpu.time"), ts("2026-12-01T08:00:00Z"));
    assert_eq!(
        start(app, "container.cpu.usage"),
        ts("2026-12-06T10:00:05Z")
    );
    assert!(start(volume, "k8s.volume.available") > ts("2026-12-07T00:00:00Z"));
    // the default groups: no volumes, and no /pods without a reason to read it
    let kubelet2 = fake_kubelet(HashMap::from([("/stats/summary".to_string(), summary())])).await;
    let cfg = parse("auth_type: none\ncollection_interval: 100ms\ninitial_delay: 0s").unwrap();
    let all = scrapes(&cfg, Api::plain(&kubelet2.base), 1).await;
    assert_eq!(all.len(), 4, "node, pod, two containers");
    assert!(kubelet2
        .requests
        .lock()
        .unwrap()
        .iter()
        .all(|(l, _)| l.starts_with("GET /stats/summary ")));
}

#[tokio::test]
async fn a_container_without_an_id_is_left_out_and_a_failing_kubelet_sends_nothing() {
    let mut pods: serde_json::Value = serde_json::from_str(&pods()).unwrap();
    pods["items"][0]["status"]["containerStatuses"][1]["containerID"] = json!("");
    let kubelet = fake_kubelet(HashMap::from([
        ("/stats/summary".to_string(), summary()),
        ("/pods".to_string(), pods.to_string()),
    ]))
    .await;
    let cfg = parse("auth_type: none\ncollection_interval: 100ms\ninitial_delay: 0s\nextra_metadata_labels: [container.id]").unwrap();
    let all = scrapes(&cfg, Api::plain(&kubelet.base), 1).await;
    let containers: Vec<Vec<String>> = all.iter().map(resource).filter(|r| r.len() == 5).collect();
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert!(containers[0].contains(&"container.id=aaa111".to_string()));
    // no summary: nothing sent, and the receiver stops when told
    let empty = fake_kubelet(HashMap::new()).await;
    assert!(scrapes(&cfg, Api::plain(&empty.base), 1).await.is_empty());
}

#[tokio::test]
async fn service_account_and_kubeconfig_reach_the_kubelet_as_go_does() {
    let kubelet = fake_kubelet(HashMap::from([
        ("/stats/summary".to_string(), summary()),
        (
            "/api/v1/nodes/node-a/proxy/stats/summary".to_string(),
            summary(),
        ),
    ]))
    .await;
    // the service account's token (read at each request), over a plain endpoint given with
    // its scheme
    let dir = std::env::temp_dir().join(format!("ferrotel-kubelet-sa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "sa-token-1\n").unwrap();
    // a CA (the otlp receiver's test CA): the kubelet here speaks plain HTTP
    std::fs::write(dir.join("ca.crt"), include_str!("../otlp/testdata/ca.crt")).unwrap();
    let cfg = parse(&format!(
        "auth_type: serviceAccount\nendpoint: {}\ncollection_interval: 100ms\ninitial_delay: 0s",
        kubelet.base
    ))
    .unwrap();
    let api = super::kubelet(&cfg, &dir).unwrap();
    assert_eq!(scrapes(&cfg, api, 1).await.len(), 4);
    // through the API server's proxy to the node named by `endpoint`
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "current-context: c\nclusters: [{{name: k, cluster: {{server: '{}'}}}}]\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nusers: [{{name: u, user: {{token: kc-token}}}}]\n",
            kubelet.base
        ),
    )
    .unwrap();
    let api = Api::from_kubeconfig(&kc, "")
        .unwrap()
        .under("/api/v1/nodes/node-a/proxy");
    assert_eq!(scrapes(&cfg, api, 1).await.len(), 4);
    let requests = kubelet.requests.lock().unwrap().clone();
    assert_eq!(
        requests[0],
        (
            "GET /stats/summary HTTP/1.1".to_string(),
            "Bearer sa-token-1".to_string()
        )
    );
    assert!(requests.iter().any(|r| r
        == &(
            "GET /api/v1/nodes/node-a/proxy/stats/summary HTTP/1.1".to_string(),
            "Bearer kc-token".to_string()
        )));
    // a service account without its token: the build fails, saying which file
    std::fs::remove_file(dir.join("token")).unwrap();
    let err = super::kubelet(&cfg, &dir).err().unwrap();
    assert!(err.starts_with("unable to read token file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
