//! The metrics of Go's `kubelet_stats` receiver (its `metadata.yaml` near v0.155.0: name,
//! description, unit, instrument, value type, on by default, attributes), and those
//! Ferrotel accepts in `metrics:` without producing them.

use crate::hostmetrics::builder::{def as m, Def, Kind};

const MONO: Kind = Kind::Sum { monotonic: true };
const UPDOWN: Kind = Kind::Sum { monotonic: false };
const GAUGE: Kind = Kind::Gauge;

const CPU_TIME: &str =
    "Total cumulative CPU time (sum of all cores) spent by the container/pod/node since its creation";
const CPU_USAGE: &str =
    "Total CPU usage (sum of all cores per second) averaged over the sample window";
const NET: &[&str] = &["interface", "direction"];

pub const DEFS: &[Def] = &[
    m("container.cpu.time", CPU_TIME, "s", MONO, false, true, &[]),
    m("container.cpu.usage", CPU_USAGE, "{cpu}", GAUGE, false, true, &[]),
    m("container.filesystem.available", "Container filesystem available", "By", GAUGE, true, true, &[]),
    m("container.filesystem.capacity", "Container filesystem capacity", "By", GAUGE, true, true, &[]),
    m("container.filesystem.usage", "Container filesystem usage", "By", GAUGE, true, true, &[]),
    m("container.memory.available", "Container memory available", "By", GAUGE, true, true, &[]),
    m("container.memory.major_page_faults", "Container memory major_page_faults", "1", GAUGE, true, true, &[]),
    m("container.memory.page_faults", "Container memory page_faults", "1", GAUGE, true, true, &[]),
    m("container.memory.rss", "Container memory rss", "By", GAUGE, true, true, &[]),
    m("container.memory.usage", "Container memory usage", "By", GAUGE, true, true, &[]),
    m("container.memory.working_set", "Container memory working_set", "By", GAUGE, true, true, &[]),
    m("container.uptime", "The time since the container started", "s", MONO, true, false, &[]),
    m("k8s.container.cpu.node.utilization", "Container cpu utilization as a ratio of the node's capacity", "1", GAUGE, false, false, &[]),
    m("k8s.container.cpu_limit_utilization", "Container cpu utilization as a ratio of the container's limits", "1", GAUGE, false, false, &[]),
    m("k8s.container.cpu_request_utilization", "Container cpu utilization as a ratio of the container's requests", "1", GAUGE, false, false, &[]),
    m("k8s.container.ephemeral_storage.usage", "Ephemeral storage used by the container.", "By", UPDOWN, true, false, &["fs.type"]),
    m("k8s.container.memory.node.utilization", "Container memory utilization as a ratio of the node's capacity", "1", GAUGE, false, false, &[]),
    m("k8s.container.memory_limit_utilization", "Container memory utilization as a ratio of the container's limits", "1", GAUGE, false, false, &[]),
    m("k8s.container.memory_request_utilization", "Container memory utilization as a ratio of the container's requests", "1", GAUGE, false, false, &[]),
    m("k8s.node.cpu.time", CPU_TIME, "s", MONO, false, true, &[]),
    m("k8s.node.cpu.usage", CPU_USAGE, "{cpu}", GAUGE, false, true, &[]),
    m("k8s.node.filesystem.available", "Node filesystem available", "By", GAUGE, true, true, &[]),
    m("k8s.node.filesystem.capacity", "Node filesystem capacity", "By", GAUGE, true, true, &[]),
    m("k8s.node.filesystem.usage", "Node filesystem usage", "By", GAUGE, true, true, &[]),
    m("k8s.node.memory.available", "Node memory available", "By", GAUGE, true, true, &[]),
    m("k8s.node.memory.major_page_faults", "Node memory major_page_faults", "1", GAUGE, true, true, &[]),
    m("k8s.node.memory.page_faults", "Node memory page_faults", "1", GAUGE, true, true, &[]),
    m("k8s.node.memory.rss", "Node memory rss", "By", GAUGE, true, true, &[]),
    m("k8s.node.memory.usage", "Node memory usage", "By", GAUGE, true, true, &[]),
    m("k8s.node.memory.working_set", "Node memory working_set", "By", GAUGE, true, true, &[]),
    m("k8s.node.network.errors", "Node network errors", "1", MONO, true, true, NET),
    m("k8s.node.network.io", "Node network IO", "By", MONO, true, true, NET),
    m("k8s.node.system_container.cpu.time", "Total cumulative CPU time (sum of all cores) spent by the system container since its creation", "s", MONO, false, false, &[]),
    m("k8s.node.system_container.cpu.usage", "Total CPU usage (sum of all cores per second) averaged over the sample window for the system container", "{cpu}", GAUGE, false, false, &[]),
    m("k8s.node.system_container.memory.usage", "System container memory usage", "By", GAUGE, true, false, &[]),
    m("k8s.node.system_container.memory.working_set", "System container memory working_set", "By", GAUGE, true, false, &[]),
    m("k8s.node.uptime", "The time since the node started", "s", MONO, true, false, &[]),
    m("k8s.pod.cpu.node.utilization", "Pod cpu utilization as a ratio of the node's capacity", "1", GAUGE, false, false, &[]),
    m("k8s.pod.cpu.time", CPU_TIME, "s", MONO, false, true, &[]),
    m("k8s.pod.cpu.usage", CPU_USAGE, "{cpu}", GAUGE, false, true, &[]),
    m("k8s.pod.cpu_limit_utilization", "Pod cpu utilization as a ratio of the pod's total container limits. If any container is missing a limit the metric is not emitted.", "1", GAUGE, false, false, &[]),
    m("k8s.pod.cpu_request_utilization", "Pod cpu utilization as a ratio of the pod's total container requests. If any container is missing a request the metric is not emitted.", "1", GAUGE, false, false, &[]),
    m("k8s.pod.filesystem.available", "Pod filesystem available", "By", GAUGE, true, true, &[]),
    m("k8s.pod.filesystem.capacity", "Pod filesystem capacity", "By", GAUGE, true, true, &[]),
    m("k8s.pod.filesystem.usage", "Pod filesystem usage", "By", GAUGE, true, true, &[]),
    m("k8s.pod.memory.available", "Pod memory available", "By", GAUGE, true, true, &[]),
    m("k8s.pod.memory.major_page_faults", "Pod memory major_page_faults", "1", GAUGE, true, true, &[]),
    m("k8s.pod.memory.node.utilization", "Pod memory utilization as a ratio of the node's capacity", "1", GAUGE, false, false, &[]),
    m("k8s.pod.memory.page_faults", "Pod memory page_faults", "1", GAUGE, true, true, &[]),
    m("k8s.pod.memory.rss", "Pod memory rss", "By", GAUGE, true, true, &[]),
    m("k8s.pod.memory.usage", "Pod memory usage", "By", GAUGE, true, true, &[]),
    m("k8s.pod.memory.working_set", "Pod memory working_set", "By", GAUGE, true, true, &[]),
    m("k8s.pod.memory_limit_utilization", "Pod memory utilization as a ratio of the pod's total container limits. If any container is missing a limit the metric is not emitted.", "1", GAUGE, false, false, &[]),
    m("k8s.pod.memory_request_utilization", "Pod memory utilization as a ratio of the pod's total container requests. If any container is missing a request the metric is not emitted.", "1", GAUGE, false, false, &[]),
    m("k8s.pod.network.errors", "Pod network errors", "1", MONO, true, true, NET),
    m("k8s.pod.network.io", "Pod network IO", "By", MONO, true, true, NET),
    m("k8s.pod.uptime", "The time since the pod started", "s", MONO, true, false, &[]),
    m("k8s.pod.volume.usage", "The number of used bytes in the pod volume.", "By", UPDOWN, true, false, &[]),
    m("k8s.volume.available", "The number of available bytes in the volume.", "By", GAUGE, true, true, &[]),
    m("k8s.volume.capacity", "The total capacity in bytes of the volume.", "By", GAUGE, true, true, &[]),
    m("k8s.volume.inodes", "The total inodes in the filesystem.", "1", GAUGE, true, true, &[]),
    m("k8s.volume.inodes.free", "The free inodes in the filesystem.", "1", GAUGE, true, true, &[]),
    m("k8s.volume.inodes.used", "The inodes used by the filesystem. This may not equal inodes - free because filesystem may share inodes with other filesystems.", "1", GAUGE, true, true, &[]),
];

/// The ratios to the node's capacity need the Node object from the API (Go's node
/// informer): taken in `metrics:`, not produced.
pub const NOT_PRODUCED: &[&str] = &[
    "k8s.container.cpu.node.utilization",
    "k8s.container.memory.node.utilization",
    "k8s.pod.cpu.node.utilization",
    "k8s.pod.memory.node.utilization",
];

/// Resource attributes and whether each is on by default.
pub const RESOURCE: &[(&str, bool)] = &[
    ("aws.volume.id", false),
    ("container.id", true),
    ("fs.type", false),
    ("gce.pd.name", false),
    ("glusterfs.endpoints.name", false),
    ("glusterfs.path", false),
    ("k8s.container.name", true),
    ("k8s.namespace.name", true),
    ("k8s.node.name", true),
    ("k8s.node.system_container.name", true),
    ("k8s.persistentvolumeclaim.name", true),
    ("k8s.pod.name", true),
    ("k8s.pod.uid", true),
    ("k8s.volume.name", true),
    ("k8s.volume.type", true),
    ("partition", false),
];
