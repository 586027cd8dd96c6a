//! The roles' target groups against the label sets of Prometheus' own discovery tests
//! (`discovery/kubernetes/*_test.go`: the same objects, the same expected labels), the
//! config's checks with Prometheus' messages, and the watches against a loopback Kubernetes
//! API (no cluster runs here).

use std::collections::BTreeMap;
use std::time::Duration;

use pipeline_api::testing::kube::FakeApi;
use pipeline_api::{CancellationToken, ComponentId};
use serde_json::{json, Value};
use transport::kube::Event;

use super::roles::{groups, Attach};
use super::{KubernetesSdConfig, KubernetesSdState, Role, Store};

fn store(objects: Vec<(&str, Value)>) -> Store {
    let mut s = Store::default();
    for (kind, v) in objects {
        match kind {
            "pod" => s
                .pods
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            "node" => s
                .nodes
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            "service" => s
                .services
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            "endpoints" => s
                .endpoints
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            "endpointslice" => s
                .endpointslices
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            "ingress" => s
                .ingresses
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            "namespace" => s
                .namespaces
                .apply("", Event::Upsert(serde_json::from_value(v).unwrap())),
            other => panic!("{other}"),
        }
    }
    s
}

const NONE: Attach = Attach {
    node: false,
    namespace: false,
    deployment: false,
    job: false,
    cronjob: false,
};

/// Each target as `(address, labels without the prefix)`, in the order made.
fn targets(role: Role, s: &Store, attach: &Attach) -> Vec<(String, BTreeMap<String, String>)> {
    groups(role, s, attach)
        .into_iter()
        .map(|g| {
            let labels = g
                .labels
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.strip_prefix("__meta_kubernetes_")
                            .unwrap_or(&k)
                            .to_string(),
                        v,
                    )
                })
                .collect();
            (g.targets[0].clone(), labels)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `TestPodDiscoveryBeforeRun` with `TestPodDiscoveryInitContainer`'s init container.
fn test_pod() -> Value {
    json!({
        "metadata": {"name": "testpod", "namespace": "default", "uid": "abc123",
                     "labels": {"test/label": "testvalue"}, "annotations": {"test/annotation": "testannotationvalue"},
                     "ownerReferences": [{"kind": "testcontrollerkind", "name": "testcontrollername", "controller": true}]},
        "spec": {"nodeName": "testnode",
                 "containers": [
                     {"name": "testcontainer0", "image": "testcontainer0:latest", "ports": [
                         {"name": "testport0", "protocol": "TCP", "containerPort": 9000},
                         {"name": "testport1", "protocol": "UDP", "containerPort": 9001}]},
                     {"name": "testcontainer1", "image": "testcontainer1:latest"}],
                 "initContainers": [{"name": "initcontainer", "image": "initcontainer:latest"}]},
        "status": {"podIP": "1.2.3.4", "hostIP": "2.3.4.5", "phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "testcontainer0", "containerID": "docker://a1b2c3d4e5f6"},
                                         {"name": "testcontainer1", "containerID": "containerd://6f5e4d3c2b1a"}],
                   "initContainerStatuses": [{"name": "initcontainer", "containerID": "containerd://6f5e4d3c2b1a"}]}
    })
}

#[test]
fn pods_give_a_target_per_container_port_with_prometheus_labels() {
    let s = store(vec![("pod", test_pod())]);
    let t = targets(Role::Pod, &s, &NONE);
    let group = labels(&[
        ("namespace", "default"),
        ("pod_name", "testpod"),
        ("pod_label_test_label", "testvalue"),
        ("pod_labelpresent_test_label", "true"),
        ("pod_annotation_test_annotation", "testannotationvalue"),
        ("pod_annotationpresent_test_annotation", "true"),
        ("pod_node_name", "testnode"),
        ("pod_ip", "1.2.3.4"),
        ("pod_host_ip", "2.3.4.5"),
        ("pod_ready", "true"),
        ("pod_phase", "Running"),
        ("pod_uid", "abc123"),
        ("pod_controller_kind", "testcontrollerkind"),
        ("pod_controller_name", "testcontrollername"),
    ]);
    let with = |own: &[(&str, &str)]| {
        let mut l = group.clone();
        l.extend(labels(own));
        l
    };
    assert_eq!(
        t,
        vec![
            (
                "1.2.3.4:9000".into(),
                with(&[
                    ("pod_container_name", "testcontainer0"),
                    ("pod_container_image", "testcontainer0:latest"),
                    ("pod_container_port_name", "testport0"),
                    ("pod_container_port_number", "9000"),
                    ("pod_container_port_protocol", "TCP"),
                    ("pod_container_init", "false"),
                    ("pod_container_id", "docker://a1b2c3d4e5f6"),
                ])
            ),
            (
                "1.2.3.4:9001".into(),
                with(&[
                    ("pod_container_name", "testcontainer0"),
                    ("pod_container_image", "testcontainer0:latest"),
                    ("pod_container_port_name", "testport1"),
                    ("pod_container_port_number", "9001"),
                    ("pod_container_port_protocol", "UDP"),
                    ("pod_container_init", "false"),
                    ("pod_container_id", "docker://a1b2c3d4e5f6"),
                ])
            ),
            (
                "1.2.3.4".into(),
                with(&[
                    ("pod_container_name", "testcontainer1"),
                    ("pod_container_image", "testcontainer1:latest"),
                    ("pod_container_init", "false"),
                    ("pod_container_id", "containerd://6f5e4d3c2b1a"),
                ])
            ),
            (
                "1.2.3.4".into(),
                with(&[
                    ("pod_container_name", "initcontainer"),
                    ("pod_container_image", "initcontainer:latest"),
                    ("pod_container_init", "true"),
                    ("pod_container_id", "containerd://6f5e4d3c2b1a"),
                ])
            ),
        ]
    );
    // an update to no IP: no targets (Prometheus' group goes empty)
    let mut no_ip = test_pod();
    no_ip["status"]["podIP"] = json!("");
    assert!(targets(Role::Pod, &store(vec![("pod", no_ip)]), &NONE).is_empty());
    // no Ready condition: "unknown"; no controller: neither label
    let mut bare = test_pod();
    bare["status"]["conditions"] = json!([]);
    bare["metadata"]["ownerReferences"] = json!([{"kind": "ReplicaSet", "name": "rs"}]);
    let t = targets(Role::Pod, &store(vec![("pod", bare)]), &NONE);
    assert_eq!(t[0].1["pod_ready"], "unknown");
    assert!(!t[0].1.contains_key("pod_controller_kind"));
}

#[test]
fn attach_metadata_adds_the_node_and_namespace_labels() {
    let s = store(vec![
        ("pod", test_pod()),
        (
            "node",
            json!({"metadata": {"name": "testnode", "labels": {"l1": "v1"}}}),
        ),
        (
            "namespace",
            json!({"metadata": {"name": "default", "labels": {"app": "web"}, "annotations": {"maintainer": "devops"}}}),
        ),
    ]);
    let attach = Attach {
        node: true,
        namespace: true,
        ..NONE
    };
    let t = targets(Role::Pod, &s, &attach);
    let l = &t[0].1;
    assert_eq!(l["node_name"], "testnode");
    assert_eq!(l["node_label_l1"], "v1");
    assert_eq!(l["node_labelpresent_l1"], "true");
    assert_eq!(l["namespace_label_app"], "web");
    assert_eq!(l["namespace_labelpresent_app"], "true");
    assert_eq!(l["namespace_annotation_maintainer"], "devops");
    assert_eq!(l["namespace_annotationpresent_maintainer"], "true");
    assert!(!l.contains_key("namespace_name"));
    // not asked for: not there
    assert!(!targets(Role::Pod, &s, &NONE)[0].1.contains_key("node_name"));
}

#[test]
fn nodes_are_reached_at_their_first_address_by_type_and_the_kubelet_port() {
    let s = store(vec![
        (
            "node",
            json!({"metadata": {"name": "test", "labels": {"test-label": "testvalue"}, "annotations": {"test-annotation": "testannotationvalue"}},
                   "status": {"addresses": [{"type": "Hostname", "address": "test"}, {"type": "ExternalIP", "address": "5.6.7.8"},
                                            {"type": "InternalIP", "address": "1.2.3.4"}, {"type": "InternalIP", "address": "1.2.3.5"}],
                              "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}),
        ),
        // no address: no target
        ("node", json!({"metadata": {"name": "bare"}})),
    ]);
    let t = targets(Role::Node, &s, &NONE);
    assert_eq!(
        t,
        vec![(
            "1.2.3.4:10250".into(),
            labels(&[
                ("instance", "test"),
                ("node_address_Hostname", "test"),
                ("node_address_ExternalIP", "5.6.7.8"),
                ("node_address_InternalIP", "1.2.3.4"),
                ("node_name", "test"),
                ("node_provider_id", ""),
                ("node_label_test_label", "testvalue"),
                ("node_labelpresent_test_label", "true"),
                ("node_annotation_test_annotation", "testannotationvalue"),
                ("node_annotationpresent_test_annotation", "true"),
            ])
        )]
    );
}

#[test]
fn services_give_a_target_per_port_by_their_dns_name() {
    let s = store(vec![
        (
            "service",
            json!({"metadata": {"name": "testservice-loadbalancer", "namespace": "default"},
                   "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "loadBalancerIP": "127.0.0.1",
                            "ports": [{"name": "testport", "protocol": "TCP", "port": 31900}]}}),
        ),
        (
            "service",
            json!({"metadata": {"name": "testservice-external", "namespace": "default"},
                   "spec": {"type": "ExternalName", "externalName": "FooExternalName",
                            "ports": [{"name": "testport", "protocol": "TCP", "port": 31900}]}}),
        ),
    ]);
    let t = targets(Role::Service, &s, &NONE);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].0, "testservice-external.default.svc:31900");
    assert_eq!(t[0].1["service_external_name"], "FooExternalName");
    assert!(!t[0].1.contains_key("service_cluster_ip"));
    assert_eq!(
        t[1],
        (
            "testservice-loadbalancer.default.svc:31900".into(),
            labels(&[
                ("namespace", "default"),
                ("service_name", "testservice-loadbalancer"),
                ("service_type", "LoadBalancer"),
                ("service_port_name", "testport"),
                ("service_port_number", "31900"),
                ("service_port_protocol", "TCP"),
                ("service_cluster_ip", "10.0.0.1"),
                ("service_loadbalancer_ip", "127.0.0.1"),
            ])
        )
    );
}

#[test]
fn endpoints_give_ready_and_not_ready_targets_and_the_pods_other_ports() {
    // TestEndpointsDiscoveryBeforeRun's subsets, and TestEndpointsDiscoveryAdd's pod
    let ep = json!({
        "metadata": {"name": "testendpoints", "namespace": "default", "annotations": {"test.annotation": "test"}},
        "subsets": [
            {"addresses": [{"ip": "1.2.3.4", "hostname": "testendpoint1", "nodeName": "foobar"}],
             "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}]},
            {"addresses": [{"ip": "2.3.4.5"}], "notReadyAddresses": [{"ip": "2.3.4.5"}],
             "ports": [{"name": "testport", "port": 9001, "protocol": "TCP"}]},
            {"addresses": [{"ip": "6.7.8.9", "targetRef": {"kind": "Node", "name": "barbaz"}}],
             "ports": [{"name": "testport", "port": 9002, "protocol": "TCP"}]},
            {"addresses": [{"ip": "4.3.2.1", "targetRef": {"kind": "Pod", "name": "testpod", "namespace": "default"}}],
             "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}]}
        ]
    });
    let pod = json!({
        "metadata": {"name": "testpod", "namespace": "default", "uid": "deadbeef"},
        "spec": {"nodeName": "testnode", "containers": [
            {"name": "c1", "image": "c1:latest", "ports": [{"name": "mainport", "containerPort": 9000, "protocol": "TCP"}]},
            {"name": "c2", "image": "c2:latest", "ports": [{"name": "sideport", "containerPort": 9001, "protocol": "TCP"}]}]},
        "status": {"hostIP": "2.3.4.5", "podIP": "1.2.3.4"}
    });
    let svc = json!({"metadata": {"name": "testendpoints", "namespace": "default", "labels": {"app/name": "test"}}});
    let node = |name: &str, az: &str| json!({"metadata": {"name": name, "labels": {"az": az}}});
    let s = store(vec![
        ("endpoints", ep),
        ("pod", pod),
        ("service", svc),
        ("node", node("foobar", "us-east1")),
        ("node", node("barbaz", "us-west2")),
    ]);
    let attach = Attach { node: true, ..NONE };
    let t = targets(Role::Endpoints, &s, &attach);
    let addresses: Vec<&str> = t.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        addresses,
        [
            "1.2.3.4:9000",
            "2.3.4.5:9001",
            "2.3.4.5:9001",
            "6.7.8.9:9002",
            "4.3.2.1:9000",
            "1.2.3.4:9001"
        ]
    );
    let group = [
        ("namespace", "default"),
        ("endpoints_name", "testendpoints"),
        ("endpoints_annotation_test_annotation", "test"),
        ("endpoints_annotationpresent_test_annotation", "true"),
        ("service_name", "testendpoints"),
        ("service_label_app_name", "test"),
        ("service_labelpresent_app_name", "true"),
    ];
    let with = |own: &[(&str, &str)]| {
        let mut l = labels(&group);
        l.extend(labels(own));
        l
    };
    assert_eq!(
        t[0].1,
        with(&[
            ("endpoint_hostname", "testendpoint1"),
            ("endpoint_node_name", "foobar"),
            ("endpoint_port_name", "testport"),
            ("endpoint_port_protocol", "TCP"),
            ("endpoint_ready", "true"),
            ("node_name", "foobar"),
            ("node_label_az", "us-east1"),
            ("node_labelpresent_az", "true"),
        ])
    );
    assert_eq!(t[1].1["endpoint_ready"], "true");
    assert_eq!(t[2].1["endpoint_ready"], "false");
    assert!(!t[1].1.contains_key("node_name"));
    assert_eq!(t[3].1["endpoint_address_target_kind"], "Node");
    assert_eq!(t[3].1["node_label_az"], "us-west2");
    let pod_labels = [
        ("pod_name", "testpod"),
        ("pod_ip", "1.2.3.4"),
        ("pod_ready", "unknown"),
        ("pod_phase", ""),
        ("pod_node_name", "testnode"),
        ("pod_host_ip", "2.3.4.5"),
        ("pod_uid", "deadbeef"),
    ];
    let mut own = vec![
        ("endpoint_port_name", "testport"),
        ("endpoint_port_protocol", "TCP"),
        ("endpoint_ready", "true"),
        ("endpoint_address_target_kind", "Pod"),
        ("endpoint_address_target_name", "testpod"),
        ("pod_container_name", "c1"),
        ("pod_container_image", "c1:latest"),
        ("pod_container_port_name", "mainport"),
        ("pod_container_port_number", "9000"),
        ("pod_container_port_protocol", "TCP"),
        ("pod_container_init", "false"),
    ];
    own.extend(pod_labels);
    assert_eq!(t[4].1, with(&own));
    // the pod's port no endpoint port covers, at the pod's IP, with no endpoint labels
    let mut own = vec![
        ("pod_container_name", "c2"),
        ("pod_container_image", "c2:latest"),
        ("pod_container_port_name", "sideport"),
        ("pod_container_port_number", "9001"),
        ("pod_container_port_protocol", "TCP"),
        ("pod_container_init", "false"),
    ];
    own.extend(pod_labels);
    assert_eq!(t[5].1, with(&own));
}

#[test]
fn endpoint_slices_label_what_each_endpoint_sets() {
    // TestEndpointSliceDiscoveryBeforeRun, and a port without a number
    let slice = json!({
        "metadata": {"name": "testendpoints", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "testendpoints"}, "annotations": {"test.annotation": "test"}},
        "addressType": "IPv4",
        "ports": [{"name": "testport", "port": 9000, "protocol": "TCP", "appProtocol": "http"}, {"name": "noport"}],
        "endpoints": [
            {"addresses": ["1.2.3.4"], "conditions": {"ready": true, "serving": true, "terminating": false},
             "hostname": "testendpoint1", "targetRef": {}, "nodeName": "foobar",
             "deprecatedTopology": {"topology": "value"}, "zone": "us-east-1a"},
            {"addresses": ["3.4.5.6"], "conditions": {"ready": false, "serving": true, "terminating": true}, "zone": "us-east-1c"}
        ]
    });
    let s = store(vec![
        ("endpointslice", slice),
        (
            "service",
            json!({"metadata": {"name": "testendpoints", "namespace": "default"}}),
        ),
    ]);
    let t = targets(Role::EndpointSlice, &s, &NONE);
    let addresses: Vec<&str> = t.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        addresses,
        ["1.2.3.4:9000", "1.2.3.4", "3.4.5.6:9000", "3.4.5.6"]
    );
    assert_eq!(
        t[0].1,
        labels(&[
            ("namespace", "default"),
            ("endpointslice_address_type", "IPv4"),
            ("endpointslice_name", "testendpoints"),
            (
                "endpointslice_label_kubernetes_io_service_name",
                "testendpoints"
            ),
            (
                "endpointslice_labelpresent_kubernetes_io_service_name",
                "true"
            ),
            ("endpointslice_annotation_test_annotation", "test"),
            ("endpointslice_annotationpresent_test_annotation", "true"),
            ("service_name", "testendpoints"),
            ("endpointslice_address_target_kind", ""),
            ("endpointslice_address_target_name", ""),
            ("endpointslice_endpoint_conditions_ready", "true"),
            ("endpointslice_endpoint_conditions_serving", "true"),
            ("endpointslice_endpoint_conditions_terminating", "false"),
            ("endpointslice_endpoint_hostname", "testendpoint1"),
            ("endpointslice_endpoint_node_name", "foobar"),
            ("endpointslice_endpoint_topology_topology", "value"),
            ("endpointslice_endpoint_topology_present_topology", "true"),
            ("endpointslice_endpoint_zone", "us-east-1a"),
            ("endpointslice_port", "9000"),
            ("endpointslice_port_app_protocol", "http"),
            ("endpointslice_port_name", "testport"),
            ("endpointslice_port_protocol", "TCP"),
        ])
    );
    // a port without number or protocol: neither label
    assert!(!t[1].1.contains_key("endpointslice_port"));
    assert!(!t[1].1.contains_key("endpointslice_port_protocol"));
    assert_eq!(t[1].1["endpointslice_port_name"], "noport");
    assert_eq!(
        t[2].1["endpointslice_endpoint_conditions_terminating"],
        "true"
    );
    assert!(!t[2].1.contains_key("endpointslice_endpoint_hostname"));
    assert!(!t[2].1.contains_key("endpointslice_address_target_kind"));
}

#[test]
fn ingresses_give_a_target_per_path_with_the_scheme_of_their_tls_hosts() {
    let ing = json!({
        "metadata": {"name": "testingress", "namespace": "default"},
        "spec": {"ingressClassName": "testclass",
                 "tls": [{"hosts": ["example.com", "*.wild.example.com"]}],
                 "rules": [
                     {"host": "example.com", "http": {"paths": [{"path": "/"}, {"path": "/foo"}]}},
                     {"host": "test.example.com", "http": {"paths": [{}]}},
                     {"host": "a.wild.example.com"},
                     {"host": "a.b.wild.example.com"},
                     {"host": "nobackend.example.com", "http": {"paths": []}}]}
    });
    let t = targets(Role::Ingress, &store(vec![("ingress", ing)]), &NONE);
    let got: Vec<(&str, &str, &str)> = t
        .iter()
        .map(|(a, l)| {
            assert_eq!(l["ingress_host"], *a);
            assert_eq!(l["ingress_class_name"], "testclass");
            (
                a.as_str(),
                l["ingress_scheme"].as_str(),
                l["ingress_path"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("example.com", "https", "/"),
            ("example.com", "https", "/foo"),
            ("test.example.com", "http", "/"),
            ("a.wild.example.com", "https", "/"),
            ("a.b.wild.example.com", "http", "/"),
        ]
    );
}

/// Prometheus 3.11+: a pod's Deployment through its ReplicaSet, its Job, and the Job's
/// CronJob, each when asked for.
#[test]
fn deployment_job_and_cronjob_of_a_pod_when_asked_for() {
    let owned = |name: &str, kind: &str, owner: &str| {
        json!({"metadata": {"name": name, "namespace": "default",
            "ownerReferences": [{"kind": kind, "name": owner, "controller": true}]}})
    };
    let pod = |name: &str, kind: &str, owner: &str| {
        let mut p = owned(name, kind, owner);
        p["spec"] = json!({"containers": [{"name": "c"}]});
        p["status"] = json!({"podIP": "10.0.0.1"});
        p
    };
    let mut s = store(vec![
        ("pod", pod("web-1", "ReplicaSet", "web-5d8f")),
        ("pod", pod("backup-1", "Job", "backup-29000")),
    ]);
    s.replicasets.apply(
        "",
        Event::Upsert(serde_json::from_value(owned("web-5d8f", "Deployment", "web")).unwrap()),
    );
    s.jobs.apply(
        "",
        Event::Upsert(serde_json::from_value(owned("backup-29000", "CronJob", "backup")).unwrap()),
    );
    let all = Attach {
        deployment: true,
        job: true,
        cronjob: true,
        ..NONE
    };
    let t = targets(Role::Pod, &s, &all);
    let by_pod = |name: &str| {
        t.iter()
            .find(|(_, l)| l["pod_name"] == name)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(by_pod("web-1")["pod_deployment_name"], "web");
    assert_eq!(by_pod("backup-1")["pod_job_name"], "backup-29000");
    assert_eq!(by_pod("backup-1")["pod_cronjob_name"], "backup");
    let t = targets(Role::Pod, &s, &NONE);
    assert!(t.iter().all(|(_, l)| !l.contains_key("pod_deployment_name")
        && !l.contains_key("pod_job_name")
        && !l.contains_key("pod_cronjob_name")));
}

/// Prometheus 3.11+: the second slice of a dual-stack service gives no targets.
#[test]
fn a_dual_stack_services_second_slice_gives_no_targets() {
    let slice = |name: &str, family: &str, addr: &str| {
        json!({"metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": family, "endpoints": [{"addresses": [addr]}], "ports": [{"port": 80}]})
    };
    let mut svc = json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"]}});
    let s = store(vec![
        ("endpointslice", slice("web-v4", "IPv4", "10.0.0.1")),
        ("endpointslice", slice("web-v6", "IPv6", "fd00::1")),
        ("service", svc.clone()),
    ]);
    let t = targets(Role::EndpointSlice, &s, &NONE);
    assert_eq!(
        t.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["10.0.0.1:80"]
    );
    // single stack: both
    svc["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    let s = store(vec![
        ("endpointslice", slice("web-v4", "IPv4", "10.0.0.1")),
        ("endpointslice", slice("web-v6", "IPv6", "fd00::1")),
        ("service", svc),
    ]);
    assert_eq!(targets(Role::EndpointSlice, &s, &NONE).len(), 2);
}

fn problems(yaml: &str) -> Vec<String> {
    let c: KubernetesSdConfig = serde_yaml_ng::from_str(yaml).unwrap();
    c.problems()
        .into_iter()
        .map(|(k, m)| format!("{k}: {m}"))
        .collect()
}

#[test]
fn bad_configs_get_prometheus_messages() {
    assert_eq!(
        problems("{}"),
        ["role: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"]
    );
    assert_eq!(
        problems("role: pods"),
        ["role: unknown Kubernetes SD role \"pods\""]
    );
    assert_eq!(
        problems("{role: pod, api_server: 'https://k:6443', kubeconfig_file: /k}"),
        ["kubeconfig_file: cannot use 'kubeconfig_file' and 'api_server' simultaneously"]
    );
    assert_eq!(
        problems("{role: pod, kubeconfig_file: /k, bearer_token: t}"),
        [
            "kubeconfig_file: cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            "api_server: to use custom HTTP client configuration please provide the 'api_server' URL explicitly"
        ]
    );
    assert_eq!(
        problems("{role: pod, tls_config: {insecure_skip_verify: true}}"),
        ["api_server: to use custom HTTP client configuration please provide the 'api_server' URL explicitly"]
    );
    // the defaults written out are not custom
    assert!(problems("{role: pod, follow_redirects: true, enable_http2: true}").is_empty());
    assert_eq!(
        problems("{role: pod, api_server: 'https://k:6443', namespaces: {own_namespace: true}}"),
        ["namespaces: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"]
    );
    assert_eq!(
        problems(
            "{role: endpoints, selectors: [{role: pod, label: 'app=web'}, {role: pod}, {role: node}, {role: service, field: 'metadata.status-Running'}]}"
        ),
        [
            "selectors::1: duplicated selector role: pod",
            "selectors::2: endpoints role supports only pod, service, endpoints selectors",
            "selectors::3: invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'",
        ]
    );
    assert_eq!(
        problems("{role: pod, selectors: [{role: pod, label: 'app in (a,b),!canary,tier!=db'}]}"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("{role: pod, selectors: [{role: pod, label: 'app in a'}]}").len(),
        1
    );
    assert_eq!(
        problems("{role: pod, api_server: 'https://k', bearer_token: t, bearer_token_file: /f, oauth2: {client_id: x}}"),
        [
            "bearer_token: at most one of bearer_token & bearer_token_file must be configured",
            "bearer_token_file: error checking authorization credentials file \"/f\": No such file or directory (os error 2)",
            "oauth2: oauth2 is not supported by Ferrotel's kubernetes_sd_configs",
        ]
    );
    assert_eq!(
        problems("{role: pod, api_server: 'https://k', authorization: {credentials_file: /nonexistent/token}}")
            .len(),
        1
    );
    // an unknown key is refused by the loader
    assert!(serde_yaml_ng::from_str::<KubernetesSdConfig>("{role: pod, namespace: [a]}").is_err());
}

/// Poll until `ok` holds for the groups (bounded).
async fn until(
    state: &mut KubernetesSdState,
    ok: impl Fn(&[crate::prometheus::targets::TargetGroup]) -> bool,
) -> bool {
    for _ in 0..200 {
        state.poll();
        if ok(&state.groups) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn addresses(groups: &[crate::prometheus::targets::TargetGroup]) -> Vec<String> {
    let mut a: Vec<String> = groups.iter().map(|g| g.targets[0].clone()).collect();
    a.sort();
    a
}

fn pod(name: &str, ns: &str, ip: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": ns, "uid": name, "resourceVersion": "2"},
           "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 8080}]}]},
           "status": {"podIP": ip}})
}

#[tokio::test]
async fn targets_follow_the_watch_in_the_namespaces_named_with_the_selectors_and_credentials() {
    let api = FakeApi::start().await;
    api.put(
        "/api/v1/pods",
        vec![pod("a", "shop", "10.0.0.1"), pod("b", "other", "10.0.0.2")],
    );
    let dir = std::env::temp_dir().join(format!("ferrotel-k8s-sd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "s3cret\n").unwrap();
    let cfg: KubernetesSdConfig = serde_yaml_ng::from_str(&format!(
        "{{role: pod, api_server: '{}', namespaces: {{names: [shop]}}, \
         authorization: {{credentials_file: '{}'}}, \
         selectors: [{{role: pod, label: 'app=web', field: 'status.phase=Running'}}]}}",
        api.base(),
        dir.join("token").display()
    ))
    .unwrap();
    assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    let shutdown = CancellationToken::new();
    let id = ComponentId::parse("prometheus").unwrap();
    let mut state = KubernetesSdState::start(&cfg, &id, "job", &shutdown);
    // only the pod of the namespace named
    assert!(
        until(&mut state, |g| addresses(g) == ["10.0.0.1:8080"]).await,
        "{:?}",
        state.groups
    );
    let requests = api.requests();
    let list = requests
        .iter()
        .find(|(l, _)| !l.contains("watch=true"))
        .unwrap();
    assert_eq!(
        list.0,
        "GET /api/v1/namespaces/shop/pods?labelSelector=app%3Dweb&fieldSelector=status.phase%3DRunning HTTP/1.1"
    );
    assert_eq!(list.1, "Bearer s3cret");
    // a pod added, then one deleted, by the watch
    let mut added = false;
    for _ in 0..100 {
        api.event("/api/v1/pods", "ADDED", pod("c", "shop", "10.0.0.3"));
        if until(&mut state, |g| g.len() == 2).await {
            added = true;
            break;
        }
    }
    assert!(added, "{:?}", state.groups);
    api.event("/api/v1/pods", "DELETED", pod("a", "shop", "10.0.0.1"));
    // another namespace's event is not this watch's
    api.event("/api/v1/pods", "ADDED", pod("d", "other", "10.0.0.4"));
    assert!(
        until(&mut state, |g| addresses(g) == ["10.0.0.3:8080"]).await,
        "{:?}",
        state.groups
    );
    shutdown.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_kubeconfig_file_or_the_pods_own_namespace_say_where_to_look() {
    let api = FakeApi::start().await;
    api.put(
        "/api/v1/pods",
        vec![pod("a", "shop", "10.0.0.1"), pod("b", "other", "10.0.0.2")],
    );
    let dir = std::env::temp_dir().join(format!("ferrotel-k8s-sd-kc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster: {{server: '{}'}}\n\
             contexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user: {{token: kc-token}}\n",
            api.base()
        ),
    )
    .unwrap();
    let cfg: KubernetesSdConfig = serde_yaml_ng::from_str(&format!(
        "{{role: pod, kubeconfig_file: '{}'}}",
        kubeconfig.display()
    ))
    .unwrap();
    let shutdown = CancellationToken::new();
    let id = ComponentId::parse("prometheus").unwrap();
    let mut state = KubernetesSdState::start(&cfg, &id, "job", &shutdown);
    assert!(
        until(&mut state, |g| addresses(g)
            == ["10.0.0.1:8080", "10.0.0.2:8080"])
        .await,
        "{:?}",
        state.groups
    );
    assert!(api
        .requests()
        .iter()
        .any(|(l, a)| l.starts_with("GET /api/v1/pods ") && a == "Bearer kc-token"));
    // own_namespace: the service account's namespace file (in-cluster settings are needed
    // to reach the API: without them the config gives no targets and says why)
    std::fs::write(dir.join("namespace"), "shop").unwrap();
    let cfg: KubernetesSdConfig =
        serde_yaml_ng::from_str("{role: pod, namespaces: {own_namespace: true, names: [x]}}")
            .unwrap();
    assert_eq!(cfg.namespaces(&dir).unwrap(), ["x", "shop"]);
    std::fs::write(dir.join("namespace"), "").unwrap();
    assert_eq!(
        cfg.namespaces(&dir).unwrap_err(),
        "could not read own namespace name (empty file)"
    );
    let state = KubernetesSdState::start_with(&cfg, &id, "job", &shutdown, &dir.join("none"));
    assert!(state.groups.is_empty());
    shutdown.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}
