//! The target groups of each role from the objects kept, with the `__meta_kubernetes_*`
//! labels Prometheus' Kubernetes discovery gives them (`discovery/kubernetes/{pod,node,
//! service,endpoints,endpointslice,ingress}.go`). Prometheus sends one group per object with
//! per-target labels; here each target is its own group with the object's labels merged
//! under its own (a target's label wins, as in Prometheus' `targetsFromGroup`).

use std::collections::{BTreeMap, BTreeSet};

use transport::kube::ObjectMeta;

use super::objects::{Container, EndpointPort, ObjectReference, Pod};
use super::{Role, Store};
use crate::prometheus::docker_sd::{join_host_port, sanitize};
use crate::prometheus::targets::TargetGroup;

type Labels = BTreeMap<String, String>;

const P: &str = "__meta_kubernetes_";

fn set(l: &mut Labels, name: &str, value: impl Into<String>) {
    l.insert(format!("{P}{name}"), value.into());
}

/// `<role>_name` and the object's labels and annotations, each with its `present` label.
fn object_labels(l: &mut Labels, meta: &ObjectMeta, role: &str) {
    set(l, &format!("{role}_name"), meta.name.as_str());
    for (what, map) in [("label", &meta.labels), ("annotation", &meta.annotations)] {
        for (k, v) in map {
            let k = sanitize(k);
            set(l, &format!("{role}_{what}_{k}"), v.as_str());
            set(l, &format!("{role}_{what}present_{k}"), "true");
        }
    }
}

/// What the config asks to attach: a node's and a namespace's labels, a pod's Deployment,
/// Job and CronJob.
pub struct Attach {
    pub node: bool,
    pub namespace: bool,
    pub deployment: bool,
    pub job: bool,
    pub cronjob: bool,
}

fn node_labels(l: &mut Labels, store: &Store, attach: &Attach, node: Option<&str>) {
    if !attach.node {
        return;
    }
    if let Some(n) = node.and_then(|n| store.nodes.get("", n)) {
        object_labels(l, &n.metadata, "node");
    }
}

fn namespace_labels(l: &mut Labels, store: &Store, attach: &Attach, ns: &str) {
    if !attach.namespace {
        return;
    }
    if let Some(n) = store.namespaces.get("", ns) {
        for (what, map) in [
            ("label", &n.metadata.labels),
            ("annotation", &n.metadata.annotations),
        ] {
            for (k, v) in map {
                let k = sanitize(k);
                set(l, &format!("namespace_{what}_{k}"), v.as_str());
                set(l, &format!("namespace_{what}present_{k}"), "true");
            }
        }
    }
}

fn target(group: &Labels, address: String, mut own: Labels) -> TargetGroup {
    let mut labels = group.clone();
    labels.append(&mut own);
    TargetGroup {
        targets: vec![address],
        labels,
    }
}

/// The controller of an object (its owner marked `controller`).
fn controller(meta: &ObjectMeta) -> Option<&transport::kube::OwnerReference> {
    meta.owner_references
        .iter()
        .find(|o| o.controller == Some(true))
}

/// A pod's own labels (Prometheus `podLabels`), with its Deployment (its ReplicaSet's
/// controller), Job and CronJob (its Job's controller) when asked for.
fn pod_labels(pod: &Pod, store: &Store, attach: &Attach) -> Labels {
    let mut l = Labels::new();
    object_labels(&mut l, &pod.metadata, "pod");
    set(&mut l, "pod_ip", pod.status.pod_ip.as_str());
    let ready = pod
        .status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".into());
    set(&mut l, "pod_ready", ready);
    set(&mut l, "pod_phase", pod.status.phase.as_str());
    set(&mut l, "pod_node_name", pod.spec.node_name.as_str());
    set(&mut l, "pod_host_ip", pod.status.host_ip.as_str());
    set(&mut l, "pod_uid", pod.metadata.uid.as_str());
    if let Some(c) = controller(&pod.metadata) {
        if !c.kind.is_empty() {
            set(&mut l, "pod_controller_kind", c.kind.as_str());
        }
        if !c.name.is_empty() {
            set(&mut l, "pod_controller_name", c.name.as_str());
        }
        let ns = &pod.metadata.namespace;
        let owner_of = |coll: &super::Coll<transport::kube::Meta>, kind: &str| {
            coll.get(ns, &c.name)
                .and_then(|o| controller(&o.metadata))
                .filter(|o| o.kind == kind)
                .map(|o| o.name.clone())
        };
        match c.kind.as_str() {
            "ReplicaSet" if attach.deployment => {
                if let Some(d) = owner_of(&store.replicasets, "Deployment") {
                    set(&mut l, "pod_deployment_name", d);
                }
            }
            "Job" => {
                if attach.job {
                    set(&mut l, "pod_job_name", c.name.as_str());
                }
                if attach.cronjob {
                    if let Some(cj) = owner_of(&store.jobs, "CronJob") {
                        set(&mut l, "pod_cronjob_name", cj);
                    }
                }
            }
            _ => {}
        }
    }
    l
}

/// A pod's containers, then its init containers (`true`).
fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    pod.spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)))
}

pub fn groups(role: Role, store: &Store, attach: &Attach) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    match role {
        Role::Pod => {
            for pod in store.pods.values() {
                pod_groups(pod, store, attach, &mut out);
            }
        }
        Role::Node => {
            for node in store.nodes.values() {
                node_group(node, &mut out);
            }
        }
        Role::Service => {
            for svc in store.services.values() {
                service_groups(svc, store, attach, &mut out);
            }
        }
        Role::Endpoints => {
            for ep in store.endpoints.values() {
                endpoints_groups(ep, store, attach, &mut out);
            }
        }
        Role::EndpointSlice => {
            for slice in store.endpointslices.values() {
                endpointslice_groups(slice, store, attach, &mut out);
            }
        }
        Role::Ingress => {
            for ing in store.ingresses.values() {
                ingress_groups(ing, store, attach, &mut out);
            }
        }
    }
    out
}

fn pod_groups(pod: &Pod, store: &Store, attach: &Attach, out: &mut Vec<TargetGroup>) {
    let ip = &pod.status.pod_ip;
    // a pod without an IP has no targets (Prometheus sends its group empty)
    if ip.is_empty() {
        return;
    }
    let mut group = pod_labels(pod, store, attach);
    set(&mut group, "namespace", pod.metadata.namespace.as_str());
    node_labels(&mut group, store, attach, Some(&pod.spec.node_name));
    namespace_labels(&mut group, store, attach, &pod.metadata.namespace);
    for (c, init) in containers(pod) {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let id = statuses
            .iter()
            .find(|s| s.name == c.name)
            .map(|s| s.container_id.clone())
            .unwrap_or_default();
        let mut base = Labels::new();
        set(&mut base, "pod_container_name", c.name.as_str());
        set(&mut base, "pod_container_id", id);
        set(&mut base, "pod_container_image", c.image.as_str());
        set(&mut base, "pod_container_init", init.to_string());
        if c.ports.is_empty() {
            out.push(target(&group, ip.clone(), base));
            continue;
        }
        for port in &c.ports {
            let mut l = base.clone();
            set(&mut l, "pod_container_port_name", port.name.as_str());
            set(
                &mut l,
                "pod_container_port_number",
                port.container_port.to_string(),
            );
            set(
                &mut l,
                "pod_container_port_protocol",
                port.protocol.as_str(),
            );
            out.push(target(
                &group,
                join_host_port(ip, port.container_port as u64),
                l,
            ));
        }
    }
}

/// Prometheus `nodeAddress`: the first address of the first type present in this order.
const NODE_ADDRESS_ORDER: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

fn node_group(node: &super::objects::Node, out: &mut Vec<TargetGroup>) {
    let addresses = &node.status.addresses;
    let Some(address) = NODE_ADDRESS_ORDER
        .iter()
        .find_map(|t| addresses.iter().find(|a| a.kind == *t))
    else {
        // Prometheus logs "No node address found" and sends nothing for it
        tracing::warn!(node = %node.metadata.name, "No node address found");
        return;
    };
    let mut group = Labels::new();
    set(
        &mut group,
        "node_provider_id",
        node.spec.provider_id.as_str(),
    );
    object_labels(&mut group, &node.metadata, "node");
    let mut own = Labels::new();
    own.insert("instance".into(), node.metadata.name.clone());
    let mut seen = BTreeSet::new();
    for a in addresses {
        if seen.insert(a.kind.as_str()) {
            set(
                &mut own,
                &format!("node_address_{}", sanitize(&a.kind)),
                a.address.as_str(),
            );
        }
    }
    let port = node.status.daemon_endpoints.kubelet_endpoint.port;
    out.push(target(
        &group,
        join_host_port(&address.address, port as u64),
        own,
    ));
}

fn service_groups(
    svc: &super::objects::Service,
    store: &Store,
    attach: &Attach,
    out: &mut Vec<TargetGroup>,
) {
    let mut group = Labels::new();
    set(&mut group, "namespace", svc.metadata.namespace.as_str());
    object_labels(&mut group, &svc.metadata, "service");
    namespace_labels(&mut group, store, attach, &svc.metadata.namespace);
    let host = format!("{}.{}.svc", svc.metadata.name, svc.metadata.namespace);
    for port in &svc.spec.ports {
        let mut l = Labels::new();
        set(&mut l, "service_port_name", port.name.as_str());
        set(&mut l, "service_port_number", port.port.to_string());
        set(&mut l, "service_port_protocol", port.protocol.as_str());
        set(&mut l, "service_type", svc.spec.kind.as_str());
        if svc.spec.kind == "ExternalName" {
            set(
                &mut l,
                "service_external_name",
                svc.spec.external_name.as_str(),
            );
        } else {
            set(&mut l, "service_cluster_ip", svc.spec.cluster_ip.as_str());
        }
        if svc.spec.kind == "LoadBalancer" {
            set(
                &mut l,
                "service_loadbalancer_ip",
                svc.spec.load_balancer_ip.as_str(),
            );
        }
        out.push(target(&group, join_host_port(&host, port.port as u64), l));
    }
}

/// A pod an endpoint refers to, and the endpoint ports seen for it (its other container
/// ports become targets of their own).
struct SeenPod<'a> {
    pod: &'a Pod,
    ports: Vec<i64>,
}

/// The pod and container labels of an endpoint that refers to a pod (`protocol`: the
/// protocol the container port label takes).
fn endpoint_pod_labels<'a>(
    l: &mut Labels,
    store: &'a Store,
    attach: &Attach,
    target_ref: Option<&ObjectReference>,
    port: Option<i64>,
    protocol: impl Fn(&super::objects::ContainerPort) -> String,
    seen: &mut BTreeMap<(String, String), SeenPod<'a>>,
) {
    let Some(r) = target_ref.filter(|r| r.kind == "Pod") else {
        return;
    };
    let Some(pod) = store.pods.get(&r.namespace, &r.name) else {
        return;
    };
    l.extend(pod_labels(pod, store, attach));
    let entry = seen
        .entry((r.namespace.clone(), r.name.clone()))
        .or_insert(SeenPod {
            pod,
            ports: Vec::new(),
        });
    let Some(port) = port else {
        return;
    };
    entry.ports.push(port);
    // Prometheus stops at a container's first matching port but goes on through the
    // containers: the last container with one wins
    let found = containers(pod)
        .filter_map(|(c, init)| {
            c.ports
                .iter()
                .find(|p| p.container_port == port)
                .map(|p| (c, p, init))
        })
        .last();
    if let Some((c, p, init)) = found {
        set(l, "pod_container_name", c.name.as_str());
        set(l, "pod_container_image", c.image.as_str());
        set(l, "pod_container_port_name", p.name.as_str());
        set(l, "pod_container_port_number", p.container_port.to_string());
        set(l, "pod_container_port_protocol", protocol(p));
        set(l, "pod_container_init", init.to_string());
    }
}

/// The targets of the container ports of the pods seen that no endpoint port covered.
fn uncovered_ports(
    group: &Labels,
    seen: &BTreeMap<(String, String), SeenPod<'_>>,
    store: &Store,
    attach: &Attach,
    out: &mut Vec<TargetGroup>,
) {
    for s in seen.values() {
        let ip = &s.pod.status.pod_ip;
        if ip.is_empty() {
            continue;
        }
        for (c, init) in containers(s.pod) {
            for p in &c.ports {
                if s.ports.contains(&p.container_port) {
                    continue;
                }
                let mut l = pod_labels(s.pod, store, attach);
                set(&mut l, "pod_container_name", c.name.as_str());
                set(&mut l, "pod_container_image", c.image.as_str());
                set(&mut l, "pod_container_port_name", p.name.as_str());
                set(
                    &mut l,
                    "pod_container_port_number",
                    p.container_port.to_string(),
                );
                set(&mut l, "pod_container_port_protocol", p.protocol.as_str());
                set(&mut l, "pod_container_init", init.to_string());
                out.push(target(
                    group,
                    join_host_port(ip, p.container_port as u64),
                    l,
                ));
            }
        }
    }
}

fn endpoints_groups(
    ep: &super::objects::Endpoints,
    store: &Store,
    attach: &Attach,
    out: &mut Vec<TargetGroup>,
) {
    let ns = &ep.metadata.namespace;
    let mut group = Labels::new();
    set(&mut group, "namespace", ns.as_str());
    object_labels(&mut group, &ep.metadata, "endpoints");
    if let Some(svc) = store.services.get(ns, &ep.metadata.name) {
        object_labels(&mut group, &svc.metadata, "service");
    }
    namespace_labels(&mut group, store, attach, ns);
    let mut seen = BTreeMap::new();
    for subset in &ep.subsets {
        for port in &subset.ports {
            let number = port.port.unwrap_or(0);
            let ready = subset.addresses.iter().map(|a| (a, "true"));
            let not_ready = subset.not_ready_addresses.iter().map(|a| (a, "false"));
            for (addr, ready) in ready.chain(not_ready) {
                let mut l = Labels::new();
                set(&mut l, "endpoint_port_name", port_name(port));
                set(&mut l, "endpoint_port_protocol", port_protocol(port));
                set(&mut l, "endpoint_ready", ready);
                if let Some(r) = &addr.target_ref {
                    set(&mut l, "endpoint_address_target_kind", r.kind.as_str());
                    set(&mut l, "endpoint_address_target_name", r.name.as_str());
                }
                if let Some(n) = &addr.node_name {
                    set(&mut l, "endpoint_node_name", n.as_str());
                }
                if !addr.hostname.is_empty() {
                    set(&mut l, "endpoint_hostname", addr.hostname.as_str());
                }
                let node = addr.node_name.as_deref().or(addr
                    .target_ref
                    .as_ref()
                    .filter(|r| r.kind == "Node")
                    .map(|r| r.name.as_str()));
                node_labels(&mut l, store, attach, node);
                endpoint_pod_labels(
                    &mut l,
                    store,
                    attach,
                    addr.target_ref.as_ref(),
                    Some(number),
                    |_| port_protocol(port),
                    &mut seen,
                );
                out.push(target(&group, join_host_port(&addr.ip, number as u64), l));
            }
        }
    }
    uncovered_ports(&group, &seen, store, attach, out);
}

fn port_name(p: &EndpointPort) -> String {
    p.name.clone().unwrap_or_default()
}

fn port_protocol(p: &EndpointPort) -> String {
    p.protocol.clone().unwrap_or_default()
}

fn endpointslice_groups(
    slice: &super::objects::EndpointSlice,
    store: &Store,
    attach: &Attach,
    out: &mut Vec<TargetGroup>,
) {
    let ns = &slice.metadata.namespace;
    let mut group = Labels::new();
    set(&mut group, "namespace", ns.as_str());
    set(
        &mut group,
        "endpointslice_address_type",
        slice.address_type.as_str(),
    );
    object_labels(&mut group, &slice.metadata, "endpointslice");
    let svc = slice
        .metadata
        .labels
        .get("kubernetes.io/service-name")
        .and_then(|name| store.services.get(ns, name));
    if let Some(svc) = svc {
        object_labels(&mut group, &svc.metadata, "service");
    }
    namespace_labels(&mut group, store, attach, ns);
    // the second slice of a dual-stack service: its targets would repeat the first's
    if let Some(svc) = svc {
        let dual = matches!(
            svc.spec.ip_family_policy.as_deref(),
            Some("PreferDualStack" | "RequireDualStack")
        );
        if dual
            && svc
                .spec
                .ip_families
                .first()
                .is_some_and(|f| *f != slice.address_type)
        {
            return;
        }
    }
    let mut seen = BTreeMap::new();
    for e in &slice.endpoints {
        for port in &slice.ports {
            for addr in &e.addresses {
                let mut l = Labels::new();
                if let Some(v) = &port.name {
                    set(&mut l, "endpointslice_port_name", v.as_str());
                }
                if let Some(v) = &port.protocol {
                    set(&mut l, "endpointslice_port_protocol", v.as_str());
                }
                if let Some(v) = port.port {
                    set(&mut l, "endpointslice_port", v.to_string());
                }
                if let Some(v) = &port.app_protocol {
                    set(&mut l, "endpointslice_port_app_protocol", v.as_str());
                }
                for (name, v) in [
                    ("ready", e.conditions.ready),
                    ("serving", e.conditions.serving),
                    ("terminating", e.conditions.terminating),
                ] {
                    if let Some(v) = v {
                        set(
                            &mut l,
                            &format!("endpointslice_endpoint_conditions_{name}"),
                            v.to_string(),
                        );
                    }
                }
                if let Some(v) = &e.hostname {
                    set(&mut l, "endpointslice_endpoint_hostname", v.as_str());
                }
                if let Some(r) = &e.target_ref {
                    set(&mut l, "endpointslice_address_target_kind", r.kind.as_str());
                    set(&mut l, "endpointslice_address_target_name", r.name.as_str());
                }
                if let Some(v) = &e.node_name {
                    set(&mut l, "endpointslice_endpoint_node_name", v.as_str());
                }
                if let Some(v) = &e.zone {
                    set(&mut l, "endpointslice_endpoint_zone", v.as_str());
                }
                for (k, v) in &e.deprecated_topology {
                    let k = sanitize(k);
                    set(
                        &mut l,
                        &format!("endpointslice_endpoint_topology_{k}"),
                        v.as_str(),
                    );
                    set(
                        &mut l,
                        &format!("endpointslice_endpoint_topology_present_{k}"),
                        "true",
                    );
                }
                let node = e
                    .target_ref
                    .as_ref()
                    .filter(|r| r.kind == "Node")
                    .map(|r| r.name.as_str())
                    .or(e.node_name.as_deref());
                node_labels(&mut l, store, attach, node);
                endpoint_pod_labels(
                    &mut l,
                    store,
                    attach,
                    e.target_ref.as_ref(),
                    port.port,
                    |p| p.protocol.clone(),
                    &mut seen,
                );
                let address = match port.port {
                    Some(p) => join_host_port(addr, p as u64),
                    None => addr.clone(),
                };
                out.push(target(&group, address, l));
            }
        }
    }
    uncovered_ports(&group, &seen, store, attach, out);
}

/// Prometheus `matchesHostnamePattern`: equal, or `*.rest` against a host with the same
/// number of labels and the same labels after the first.
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len() && p.len() > 1 && p[0] == "*" && p[1..] == h[1..]
}

fn ingress_groups(
    ing: &super::objects::Ingress,
    store: &Store,
    attach: &Attach,
    out: &mut Vec<TargetGroup>,
) {
    let mut group = Labels::new();
    set(&mut group, "namespace", ing.metadata.namespace.as_str());
    object_labels(&mut group, &ing.metadata, "ingress");
    if let Some(c) = &ing.spec.ingress_class_name {
        set(&mut group, "ingress_class_name", c.as_str());
    }
    namespace_labels(&mut group, store, attach, &ing.metadata.namespace);
    let tls_hosts: Vec<&str> = ing
        .spec
        .tls
        .iter()
        .flat_map(|t| t.hosts.iter().map(String::as_str))
        .collect();
    for rule in &ing.spec.rules {
        let scheme = if tls_hosts.iter().any(|p| host_matches(p, &rule.host)) {
            "https"
        } else {
            "http"
        };
        let paths: Vec<&str> = match &rule.http {
            None => vec!["/"],
            Some(h) => h
                .paths
                .iter()
                .map(|p| if p.path.is_empty() { "/" } else { &p.path })
                .collect(),
        };
        for path in paths {
            let mut l = Labels::new();
            set(&mut l, "ingress_scheme", scheme);
            set(&mut l, "ingress_host", rule.host.as_str());
            set(&mut l, "ingress_path", path);
            out.push(target(&group, rule.host.clone(), l));
        }
    }
}
