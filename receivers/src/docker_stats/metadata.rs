//! The metrics of Go's `docker_stats` receiver that Ferrotel produces (Go's generated
//! metadata: name, description, unit, instrument, on by default, attributes), and the names
//! of the cgroup-v1-only ones it accepts in `metrics:` without producing them.

use crate::hostmetrics::builder::{def as m, Def, Kind};

const MONO: Kind = Kind::Sum { monotonic: true };
const UPDOWN: Kind = Kind::Sum { monotonic: false };
const GAUGE: Kind = Kind::Gauge;
const BLK: &[&str] = &["device_major", "device_minor", "operation"];
const IF: &[&str] = &["interface"];

pub const DEFS: &[Def] = &[
    m("container.blockio.io_service_bytes_recursive", "Number of bytes transferred to/from the disk by the group and descendant groups.", "By", MONO, true, true, BLK),
    m("container.cpu.limit", "CPU limit set for the container.", "{cpus}", GAUGE, false, false, &[]),
    m("container.cpu.logical.count", "Number of cores available to the container.", "{cpus}", GAUGE, true, false, &[]),
    m("container.cpu.shares", "CPU shares set for the container.", "1", GAUGE, true, false, &[]),
    m("container.cpu.throttling_data.periods", "Number of periods with throttling active.", "{periods}", MONO, true, false, &[]),
    m("container.cpu.throttling_data.throttled_periods", "Number of periods when the container hits its throttling limit.", "{periods}", MONO, true, false, &[]),
    m("container.cpu.throttling_data.throttled_time", "Aggregate time the container was throttled.", "ns", MONO, true, false, &[]),
    m("container.cpu.usage.kernelmode", "Time spent by tasks of the cgroup in kernel mode (Linux). Time spent by all container processes in kernel mode (Windows).", "ns", MONO, true, true, &[]),
    m("container.cpu.usage.percpu", "Per-core CPU usage by the container (Only available with cgroups v1).", "ns", MONO, true, false, &["core"]),
    m("container.cpu.usage.system", "System CPU usage, as reported by docker.", "ns", MONO, true, false, &[]),
    m("container.cpu.usage.total", "Total CPU time consumed.", "ns", MONO, true, true, &[]),
    m("container.cpu.usage.usermode", "Time spent by tasks of the cgroup in user mode (Linux). Time spent by all container processes in user mode (Windows).", "ns", MONO, true, true, &[]),
    m("container.cpu.utilization", "Percent of CPU used by the container.", "1", GAUGE, false, true, &[]),
    m("container.memory.active_anon", "The amount of anonymous memory that has been identified as active by the kernel.", "By", UPDOWN, true, false, &[]),
    m("container.memory.active_file", "Cache memory that has been identified as active by the kernel.", "By", UPDOWN, true, false, &[]),
    m("container.memory.anon", "Amount of memory used in anonymous mappings such as brk(), sbrk(), and mmap(MAP_ANONYMOUS) (Only available with cgroups v2).", "By", UPDOWN, true, false, &[]),
    m("container.memory.fails", "Number of times the memory limit was hit.", "{fails}", MONO, true, false, &[]),
    m("container.memory.file", "Amount of memory used to cache filesystem data, including tmpfs and shared memory (Only available with cgroups v2).", "By", UPDOWN, true, true, &[]),
    m("container.memory.inactive_anon", "The amount of anonymous memory that has been identified as inactive by the kernel.", "By", UPDOWN, true, false, &[]),
    m("container.memory.inactive_file", "Cache memory that has been identified as inactive by the kernel.", "By", UPDOWN, true, false, &[]),
    m("container.memory.percent", "Percentage of memory used. Not supported on Windows.", "1", GAUGE, false, true, &[]),
    m("container.memory.pgfault", "Indicate the number of times that a process of the cgroup triggered a page fault.", "{faults}", MONO, true, false, &[]),
    m("container.memory.pgmajfault", "Indicate the number of times that a process of the cgroup triggered a major fault.", "{faults}", MONO, true, false, &[]),
    m("container.memory.total_cache", "Total amount of memory used by the processes of this cgroup (and descendants) that can be associated with a block on a block device. Also accounts for memory used by tmpfs (Only available with cgroups v1). Not supported on Windows.", "By", UPDOWN, true, true, &[]),
    m("container.memory.unevictable", "The amount of memory that cannot be reclaimed.", "By", UPDOWN, true, false, &[]),
    m("container.memory.usage.limit", "Memory limit of the container. Not supported on Windows.", "By", UPDOWN, true, true, &[]),
    m("container.memory.usage.max", "Maximum memory usage.", "By", UPDOWN, true, false, &[]),
    m("container.memory.usage.total", "Memory usage of the container. This excludes the cache.", "By", UPDOWN, true, true, &[]),
    m("container.network.io.usage.rx_bytes", "Bytes received by the container.", "By", MONO, true, true, IF),
    m("container.network.io.usage.rx_dropped", "Incoming packets dropped.", "{packets}", MONO, true, true, IF),
    m("container.network.io.usage.rx_errors", "Received errors. Not supported on Windows.", "{errors}", MONO, true, false, IF),
    m("container.network.io.usage.rx_packets", "Packets received.", "{packets}", MONO, true, false, IF),
    m("container.network.io.usage.tx_bytes", "Bytes sent.", "By", MONO, true, true, IF),
    m("container.network.io.usage.tx_dropped", "Outgoing packets dropped.", "{packets}", MONO, true, true, IF),
    m("container.network.io.usage.tx_errors", "Sent errors. Not supported on Windows.", "{errors}", MONO, true, false, IF),
    m("container.network.io.usage.tx_packets", "Packets sent.", "{packets}", MONO, true, false, IF),
    m("container.pids.count", "Number of pids in the container's cgroup.", "{pids}", UPDOWN, true, false, &[]),
    m("container.pids.limit", "Maximum number of pids in the container's cgroup.", "{pids}", UPDOWN, true, false, &[]),
    m("container.restarts", "Number of restarts for the container.", "{restarts}", MONO, true, false, &[]),
    m("container.uptime", "Time elapsed since container start time.", "s", GAUGE, false, false, &[]),
];

/// Go metrics (cgroup v1 block I/O and memory breakdowns, status) accepted in `metrics:`
/// and not produced.
pub const GO_ONLY: &[&str] = &[
    "container.blockio.io_merged_recursive",
    "container.blockio.io_queued_recursive",
    "container.blockio.io_service_time_recursive",
    "container.blockio.io_serviced_recursive",
    "container.blockio.io_time_recursive",
    "container.blockio.io_wait_time_recursive",
    "container.blockio.sectors_recursive",
    "container.memory.cache",
    "container.memory.dirty",
    "container.memory.hierarchical_memory_limit",
    "container.memory.hierarchical_memsw_limit",
    "container.memory.mapped_file",
    "container.memory.pgpgin",
    "container.memory.pgpgout",
    "container.memory.rss",
    "container.memory.rss_huge",
    "container.memory.total_active_anon",
    "container.memory.total_active_file",
    "container.memory.total_dirty",
    "container.memory.total_inactive_anon",
    "container.memory.total_inactive_file",
    "container.memory.total_mapped_file",
    "container.memory.total_pgfault",
    "container.memory.total_pgmajfault",
    "container.memory.total_pgpgin",
    "container.memory.total_pgpgout",
    "container.memory.total_rss",
    "container.memory.total_rss_huge",
    "container.memory.total_unevictable",
    "container.memory.total_writeback",
    "container.memory.writeback",
    "container.status",
];

/// Resource attributes and whether each is on by default.
pub const RESOURCE: &[(&str, bool)] = &[
    ("container.command_line", false),
    ("container.hostname", true),
    ("container.id", true),
    ("container.image.id", false),
    ("container.image.name", true),
    ("container.name", true),
    ("container.runtime", true),
];
