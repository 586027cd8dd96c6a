//! The scrapers: each reads its part of the host and records Go's metrics (names, units,
//! attributes and values as Go's `hostmetricsreceiver` v0.155.0 on Linux, which reads the
//! same files through gopsutil).

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;

use super::builder::{kv, resource_metrics, AttrValue, MetricsBuilder};
use super::config::{self, Filter};
use super::host::{translate_mountpoint, CpuTimes, Host};
use super::metadata;

pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A scraper: `scrape` appends its resource metrics and returns the problems it met (a
/// failed read of one part; the rest is still reported).
pub trait Scrape: Send {
    fn name(&self) -> &'static str;
    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String>;
}

fn boot_nanos(host: &Host) -> u64 {
    host.boot_time().map(|b| b * 1_000_000_000).unwrap_or(0)
}

fn flt(f: Option<Result<Filter, String>>) -> Option<Filter> {
    f.and_then(Result::ok)
}

fn compile(r: Result<Option<Filter>, String>) -> Option<Filter> {
    flt(r.transpose())
}

fn included(inc: &Option<Filter>, exc: &Option<Filter>, s: &str) -> bool {
    inc.as_ref().is_none_or(|f| f.matches(s)) && exc.as_ref().is_none_or(|f| !f.matches(s))
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

// ---------------------------------------------------------------- cpu

pub struct Cpu {
    mb: MetricsBuilder,
    prev: Option<Vec<CpuTimes>>,
}

impl Cpu {
    pub fn new(c: &config::Plain) -> Cpu {
        Cpu {
            mb: MetricsBuilder::new(metadata::CPU, &config::toggles(&c.metrics)),
            prev: None,
        }
    }
}

/// Each state's share of the time a CPU spent between readings `p` and `t`: the states'
/// deltas over their sum, so that a share is at most 1 (the difference of two rounded
/// totals could make a lone state's share 1.0000000006).
pub(crate) fn cpu_utilization(t: &CpuTimes, p: &CpuTimes) -> [(&'static str, f64); 8] {
    let mut deltas = cpu_states(t);
    for ((_, v), (_, pv)) in deltas.iter_mut().zip(cpu_states(p)) {
        *v -= pv;
    }
    let elapsed: f64 = deltas.iter().map(|(_, d)| d).sum();
    deltas.map(|(state, d)| (state, if elapsed > 0.0 { d / elapsed } else { 0.0 }))
}

fn cpu_states(t: &CpuTimes) -> [(&'static str, f64); 8] {
    [
        ("user", t.user),
        ("system", t.system),
        ("idle", t.idle),
        ("interrupt", t.irq),
        ("nice", t.nice),
        ("softirq", t.softirq),
        ("steal", t.steal),
        ("wait", t.iowait),
    ]
}

impl Scrape for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let times = match host.cpu_times() {
            Ok(t) => t,
            Err(e) => return vec![e],
        };
        self.mb.begin(boot_nanos(host), now_nanos());
        for t in &times {
            for (state, v) in cpu_states(t) {
                self.mb.record("system.cpu.time", v, &[&t.cpu, state]);
            }
        }
        if self.mb.enabled("system.cpu.utilization") {
            if let Some(prev) = &self.prev {
                for t in &times {
                    let Some(p) = prev.iter().find(|p| p.cpu == t.cpu) else {
                        continue;
                    };
                    for (state, u) in cpu_utilization(t, p) {
                        self.mb
                            .record("system.cpu.utilization", u, &[&t.cpu, state]);
                    }
                }
            }
        }
        if self.mb.enabled("system.cpu.logical.count") {
            self.mb
                .record("system.cpu.logical.count", times.len() as f64, &[]);
        }
        let cpuinfo = if self.mb.enabled("system.cpu.physical.count")
            || self.mb.enabled("system.cpu.frequency")
        {
            host.read("proc/cpuinfo").unwrap_or_default()
        } else {
            String::new()
        };
        if self.mb.enabled("system.cpu.physical.count") {
            let mut cores = std::collections::BTreeSet::new();
            let (mut phys, mut core) = (String::new(), String::new());
            for line in cpuinfo.lines().chain(std::iter::once("")) {
                if let Some((k, v)) = line.split_once(':') {
                    match k.trim() {
                        "physical id" => phys = v.trim().to_string(),
                        "core id" => core = v.trim().to_string(),
                        _ => {}
                    }
                } else if line.trim().is_empty() && (!phys.is_empty() || !core.is_empty()) {
                    cores.insert((std::mem::take(&mut phys), std::mem::take(&mut core)));
                }
            }
            let n = if cores.is_empty() {
                times.len()
            } else {
                cores.len()
            };
            self.mb.record("system.cpu.physical.count", n as f64, &[]);
        }
        if self.mb.enabled("system.cpu.frequency") {
            let mut processor = String::new();
            for line in cpuinfo.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    match k.trim() {
                        "processor" => processor = v.trim().to_string(),
                        "cpu MHz" => {
                            let mhz: f64 = v.trim().parse().unwrap_or(0.0);
                            self.mb.record(
                                "system.cpu.frequency",
                                mhz * 1e6,
                                &[&format!("cpu{processor}")],
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        self.prev = Some(times);
        out.push(resource_metrics("cpu", vec![], self.mb.take_metrics()));
        vec![]
    }
}

// ---------------------------------------------------------------- load

pub struct Load {
    mb: MetricsBuilder,
    cpu_average: bool,
}

impl Load {
    pub fn new(c: &config::LoadConfig) -> Load {
        Load {
            mb: MetricsBuilder::new(metadata::LOAD, &config::toggles(&c.metrics)),
            cpu_average: c.cpu_average,
        }
    }
}

impl Scrape for Load {
    fn name(&self) -> &'static str {
        "load"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mut avg = match host.loadavg() {
            Ok(a) => a,
            Err(e) => return vec![e],
        };
        if self.cpu_average {
            let n = host.cpu_times().map(|t| t.len()).unwrap_or(1).max(1) as f64;
            for a in avg.iter_mut() {
                *a /= n;
            }
        }
        self.mb.begin(boot_nanos(host), now_nanos());
        self.mb.record("system.cpu.load_average.1m", avg[0], &[]);
        self.mb.record("system.cpu.load_average.5m", avg[1], &[]);
        self.mb.record("system.cpu.load_average.15m", avg[2], &[]);
        out.push(resource_metrics("load", vec![], self.mb.take_metrics()));
        vec![]
    }
}

// ---------------------------------------------------------------- memory

pub struct Memory {
    mb: MetricsBuilder,
}

impl Memory {
    pub fn new(c: &config::Plain) -> Memory {
        Memory {
            mb: MetricsBuilder::new(metadata::MEMORY, &config::toggles(&c.metrics)),
        }
    }
}

impl Scrape for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let m = match host.meminfo() {
            Ok(m) => m,
            Err(e) => return vec![e],
        };
        let g = |k: &str| m.get(k).copied().unwrap_or(0) as f64;
        let total = g("MemTotal");
        let free = g("MemFree");
        let buffers = g("Buffers");
        let sreclaimable = g("SReclaimable");
        // gopsutil counts reclaimable slab in "cached"
        let cached = g("Cached") + sreclaimable;
        let available = if m.contains_key("MemAvailable") {
            g("MemAvailable")
        } else {
            cached + free
        };
        // Go's receiver.hostmetricsreceiver.UseLinuxMemAvailable gate (beta, on)
        let used = total - available;
        let sunreclaim = g("SUnreclaim");
        self.mb.begin(boot_nanos(host), now_nanos());
        let states = [
            ("used", used),
            ("free", free),
            ("buffered", buffers),
            ("cached", cached),
            ("slab_reclaimable", sreclaimable),
            ("slab_unreclaimable", sunreclaim),
        ];
        for (s, v) in states {
            self.mb.record("system.memory.usage", v, &[s]);
        }
        for (s, v) in states {
            self.mb
                .record("system.memory.utilization", ratio(v, total), &[s]);
        }
        self.mb.record("system.memory.limit", total, &[]);
        self.mb
            .record("system.memory.page_size", host.page_size as f64, &[]);
        self.mb
            .record("system.linux.memory.available", available, &[]);
        self.mb.record("system.linux.memory.dirty", g("Dirty"), &[]);
        self.mb
            .record("system.memory.linux.shared", g("Shmem"), &[]);
        if self.mb.enabled("system.memory.linux.hugepages.usage")
            || self.mb.enabled("system.memory.linux.hugepages.limit")
        {
            let ht = g("HugePages_Total");
            let hf = g("HugePages_Free");
            self.mb.record(
                "system.memory.linux.hugepages.page_size",
                g("Hugepagesize"),
                &[],
            );
            self.mb
                .record("system.memory.linux.hugepages.limit", ht, &[]);
            self.mb
                .record("system.memory.linux.hugepages.usage", hf, &["free"]);
            self.mb
                .record("system.memory.linux.hugepages.usage", ht - hf, &["used"]);
            self.mb.record(
                "system.memory.linux.hugepages.reserved",
                g("HugePages_Rsvd"),
                &[],
            );
            self.mb.record(
                "system.memory.linux.hugepages.surplus",
                g("HugePages_Surp"),
                &[],
            );
            self.mb.record(
                "system.memory.linux.hugepages.utilization",
                ratio(hf, ht),
                &["free"],
            );
            self.mb.record(
                "system.memory.linux.hugepages.utilization",
                ratio(ht - hf, ht),
                &["used"],
            );
        }
        out.push(resource_metrics("memory", vec![], self.mb.take_metrics()));
        vec![]
    }
}

// ---------------------------------------------------------------- paging

pub struct Paging {
    mb: MetricsBuilder,
}

impl Paging {
    pub fn new(c: &config::Plain) -> Paging {
        Paging {
            mb: MetricsBuilder::new(metadata::PAGING, &config::toggles(&c.metrics)),
        }
    }
}

impl Scrape for Paging {
    fn name(&self) -> &'static str {
        "paging"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mut errors = Vec::new();
        self.mb.begin(boot_nanos(host), now_nanos());
        match host.swaps() {
            Ok(swaps) => {
                for (dev, total, used) in &swaps {
                    let free = total.saturating_sub(*used);
                    let (t, u, f) = (*total as f64, *used as f64, free as f64);
                    self.mb.record("system.paging.usage", u, &[dev, "used"]);
                    self.mb.record("system.paging.usage", f, &[dev, "free"]);
                    self.mb
                        .record("system.paging.utilization", ratio(u, t), &[dev, "used"]);
                    self.mb
                        .record("system.paging.utilization", ratio(f, t), &[dev, "free"]);
                }
            }
            Err(e) => errors.push(format!("failed to read page file stats: {e}")),
        }
        match host.vmstat() {
            Ok(v) => {
                // gopsutil reports these page counts multiplied by 4096, and Go passes
                // them on as they are; kept so values match Go's.
                let g = |k: &str| (v.get(k).copied().unwrap_or(0) * 4096) as f64;
                self.mb.record(
                    "system.paging.operations",
                    g("pswpin"),
                    &["page_in", "major"],
                );
                self.mb.record(
                    "system.paging.operations",
                    g("pswpout"),
                    &["page_out", "major"],
                );
                self.mb.record(
                    "system.paging.operations",
                    g("pgpgin"),
                    &["page_in", "minor"],
                );
                self.mb.record(
                    "system.paging.operations",
                    g("pgpgout"),
                    &["page_out", "minor"],
                );
                let (maj, all) = (g("pgmajfault"), g("pgfault"));
                self.mb.record("system.paging.faults", maj, &["major"]);
                self.mb
                    .record("system.paging.faults", (all - maj).max(0.0), &["minor"]);
            }
            Err(e) => errors.push(format!("failed to read swap info: {e}")),
        }
        out.push(resource_metrics("paging", vec![], self.mb.take_metrics()));
        errors
    }
}

// ---------------------------------------------------------------- system

pub struct System {
    mb: MetricsBuilder,
}

impl System {
    pub fn new(c: &config::Plain) -> System {
        System {
            mb: MetricsBuilder::new(metadata::SYSTEM, &config::toggles(&c.metrics)),
        }
    }
}

impl Scrape for System {
    fn name(&self) -> &'static str {
        "system"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let boot = match host.boot_time() {
            Ok(b) => b,
            Err(e) => return vec![e],
        };
        let now = now_nanos();
        self.mb.begin(boot * 1_000_000_000, now);
        let up = (now as f64 / 1e9 - boot as f64).max(0.0);
        self.mb.record("system.uptime", up.floor(), &[]);
        out.push(resource_metrics("system", vec![], self.mb.take_metrics()));
        vec![]
    }
}

// ---------------------------------------------------------------- processes

pub struct Processes {
    mb: MetricsBuilder,
}

impl Processes {
    pub fn new(c: &config::Plain) -> Processes {
        Processes {
            mb: MetricsBuilder::new(metadata::PROCESSES, &config::toggles(&c.metrics)),
        }
    }
}

/// gopsutil's status letter → Go's `status` attribute.
fn status_of(c: char) -> Option<&'static str> {
    Some(match c {
        'A' => "daemon",
        'D' | 'U' => "blocked",
        'E' => "detached",
        'I' => "idle",
        'L' => "locked",
        'O' => "orphan",
        'R' => "running",
        'S' => "sleeping",
        'T' | 't' => "stopped",
        'W' => "paging",
        'Y' => "system",
        'Z' => "zombies",
        _ => return None,
    })
}

impl Scrape for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let pids = match host.pids() {
            Ok(p) => p,
            Err(e) => return vec![e],
        };
        let mut counts: BTreeMap<&'static str, i64> = BTreeMap::new();
        // gopsutil's ProcsTotal: the process directories of /proc
        let total = pids.len() as i64;
        for pid in pids {
            let Ok(st) = host.proc_stat(pid) else {
                continue;
            };
            *counts
                .entry(status_of(st.state).unwrap_or("unknown"))
                .or_insert(0) += 1;
        }
        let stat = match host.read("proc/stat") {
            Ok(s) => s,
            Err(e) => return vec![e],
        };
        let field = |k: &str| {
            stat.lines()
                .find_map(|l| {
                    l.strip_prefix(k)
                        .map(|v| v.trim().parse::<i64>().unwrap_or(0))
                })
                .unwrap_or(0)
        };
        counts.insert("blocked", field("procs_blocked "));
        counts.insert("running", field("procs_running "));
        let known: i64 = counts.values().sum();
        if total > known {
            counts.insert("unknown", total - known);
        }
        self.mb.begin(boot_nanos(host), now_nanos());
        for (s, n) in &counts {
            self.mb.record("system.processes.count", *n as f64, &[s]);
        }
        self.mb
            .record("system.processes.created", field("processes ") as f64, &[]);
        out.push(resource_metrics(
            "processes",
            vec![],
            self.mb.take_metrics(),
        ));
        vec![]
    }
}

// ---------------------------------------------------------------- disk

pub struct Disk {
    mb: MetricsBuilder,
    start: u64,
    include: Option<Filter>,
    exclude: Option<Filter>,
}

impl Disk {
    pub fn new(c: &config::DiskConfig) -> Disk {
        Disk {
            mb: MetricsBuilder::new(metadata::DISK, &config::toggles(&c.metrics)),
            start: now_nanos(),
            include: compile(c.include.filter()),
            exclude: compile(c.exclude.filter()),
        }
    }
}

impl Scrape for Disk {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let stats = match host.diskstats() {
            Ok(s) => s,
            Err(e) => return vec![e],
        };
        self.mb.begin(self.start, now_nanos());
        let disks: Vec<_> = stats
            .iter()
            .filter(|d| included(&self.include, &self.exclude, &d.name))
            .collect();
        for d in &disks {
            let n = d.name.as_str();
            self.mb
                .record("system.disk.io", d.read_bytes as f64, &[n, "read"]);
            self.mb
                .record("system.disk.io", d.write_bytes as f64, &[n, "write"]);
        }
        for d in &disks {
            let n = d.name.as_str();
            self.mb
                .record("system.disk.operations", d.reads as f64, &[n, "read"]);
            self.mb
                .record("system.disk.operations", d.writes as f64, &[n, "write"]);
        }
        for d in &disks {
            self.mb
                .record("system.disk.io_time", d.io_ms as f64 / 1000.0, &[&d.name]);
        }
        for d in &disks {
            let n = d.name.as_str();
            self.mb.record(
                "system.disk.operation_time",
                d.read_ms as f64 / 1000.0,
                &[n, "read"],
            );
            self.mb.record(
                "system.disk.operation_time",
                d.write_ms as f64 / 1000.0,
                &[n, "write"],
            );
        }
        for d in &disks {
            self.mb.record(
                "system.disk.pending_operations",
                d.in_progress as f64,
                &[&d.name],
            );
        }
        for d in &disks {
            self.mb.record(
                "system.disk.weighted_io_time",
                d.weighted_ms as f64 / 1000.0,
                &[&d.name],
            );
        }
        for d in &disks {
            let n = d.name.as_str();
            self.mb
                .record("system.disk.merged", d.merged_reads as f64, &[n, "read"]);
            self.mb
                .record("system.disk.merged", d.merged_writes as f64, &[n, "write"]);
        }
        out.push(resource_metrics("disk", vec![], self.mb.take_metrics()));
        vec![]
    }
}

// ---------------------------------------------------------------- filesystem

pub struct Filesystem {
    mb: MetricsBuilder,
    all: bool,
    root: String,
    filters: [(Option<Filter>, Option<Filter>); 3],
}

impl Filesystem {
    pub fn new(c: &config::FilesystemConfig, root: &str) -> Filesystem {
        Filesystem {
            mb: MetricsBuilder::new(metadata::FILESYSTEM, &config::toggles(&c.metrics)),
            all: c.include_virtual_filesystems,
            root: root.to_string(),
            filters: [
                (
                    compile(c.include_devices.filter()),
                    compile(c.exclude_devices.filter()),
                ),
                (
                    compile(c.include_fs_types.filter()),
                    compile(c.exclude_fs_types.filter()),
                ),
                (
                    compile(c.include_mount_points.filter()),
                    compile(c.exclude_mount_points.filter()),
                ),
            ],
        }
    }
}

fn mount_mode(opts: &[String]) -> &'static str {
    if opts.iter().any(|o| o == "rw") {
        "rw"
    } else if opts.iter().any(|o| o == "ro") {
        "ro"
    } else {
        "unknown"
    }
}

impl Scrape for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let parts = match host.partitions(self.all) {
            Ok(p) => p,
            Err(e) => return vec![format!("failed collecting partitions information: {e}")],
        };
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut usages = Vec::new();
        for p in parts {
            if !p.mountpoint.is_empty() && !seen.insert((p.mountpoint.clone(), p.device.clone())) {
                continue;
            }
            let [(id, ed), (it, et), (im, em)] = &self.filters;
            if !(included(id, ed, &p.device)
                && included(it, et, &p.fstype)
                && included(im, em, &p.mountpoint))
            {
                continue;
            }
            let path = translate_mountpoint(&self.root, &p.mountpoint);
            match rustix::fs::statvfs(&path) {
                Ok(s) => usages.push((p, s)),
                Err(e) => errors.push(format!("failed to read usage at {}: {e}", path.display())),
            }
        }
        self.mb.begin(boot_nanos(host), now_nanos());
        for (p, s) in &usages {
            let frsize = s.f_frsize;
            let total = s.f_blocks * frsize;
            let free = s.f_bavail * frsize;
            let used = (s.f_blocks - s.f_bfree.min(s.f_blocks)) * frsize;
            let reserved = total.saturating_sub(used + free);
            let a = [
                p.device.as_str(),
                mount_mode(&p.opts),
                &p.mountpoint,
                &p.fstype,
            ];
            let with = |st: &'static str| [a[0], a[1], a[2], a[3], st];
            self.mb
                .record("system.filesystem.usage", used as f64, &with("used"));
            self.mb
                .record("system.filesystem.usage", free as f64, &with("free"));
            self.mb.record(
                "system.filesystem.usage",
                reserved as f64,
                &with("reserved"),
            );
            self.mb.record(
                "system.filesystem.utilization",
                ratio(used as f64, (used + free) as f64),
                &a,
            );
        }
        for (p, s) in &usages {
            let a = [
                p.device.as_str(),
                mount_mode(&p.opts),
                &p.mountpoint,
                &p.fstype,
            ];
            let used = s.f_files.saturating_sub(s.f_ffree);
            self.mb.record(
                "system.filesystem.inodes.usage",
                used as f64,
                &[a[0], a[1], a[2], a[3], "used"],
            );
            self.mb.record(
                "system.filesystem.inodes.usage",
                s.f_ffree as f64,
                &[a[0], a[1], a[2], a[3], "free"],
            );
        }
        out.push(resource_metrics(
            "filesystem",
            vec![],
            self.mb.take_metrics(),
        ));
        errors
    }
}

// ---------------------------------------------------------------- network

pub struct Network {
    mb: MetricsBuilder,
    include: Option<Filter>,
    exclude: Option<Filter>,
}

impl Network {
    pub fn new(c: &config::NetworkConfig) -> Network {
        Network {
            mb: MetricsBuilder::new(metadata::NETWORK, &config::toggles(&c.metrics)),
            include: compile(c.include.filter()),
            exclude: compile(c.exclude.filter()),
        }
    }
}

/// Go's `allTCPStates` (Linux), each reported even at 0.
const TCP_STATES: [&str; 12] = [
    "CLOSE_WAIT",
    "CLOSE",
    "CLOSING",
    "DELETE",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "LAST_ACK",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "TIME_WAIT",
];

impl Scrape for Network {
    fn name(&self) -> &'static str {
        "network"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let mut errors = Vec::new();
        self.mb.begin(boot_nanos(host), now_nanos());
        match host.net_dev() {
            Ok(devs) => {
                let devs: Vec<_> = devs
                    .iter()
                    .filter(|d| included(&self.include, &self.exclude, &d.name))
                    .collect();
                type Pick = fn(&super::host::NetDev) -> (u64, u64);
                let metrics: [(&str, Pick); 4] = [
                    ("system.network.packets", |d| (d.tx_packets, d.rx_packets)),
                    ("system.network.dropped", |d| (d.tx_drop, d.rx_drop)),
                    ("system.network.errors", |d| (d.tx_errs, d.rx_errs)),
                    ("system.network.io", |d| (d.tx_bytes, d.rx_bytes)),
                ];
                for (name, f) in metrics {
                    for d in &devs {
                        let (tx, rx) = f(d);
                        self.mb.record(name, tx as f64, &[&d.name, "transmit"]);
                        self.mb.record(name, rx as f64, &[&d.name, "receive"]);
                    }
                }
            }
            Err(e) => errors.push(format!("failed to read network IO stats: {e}")),
        }
        if self.mb.enabled("system.network.connections") {
            match host.tcp_states() {
                Ok(counts) => {
                    for st in TCP_STATES {
                        // gopsutil names FIN_WAIT1/2; Go lists FIN_WAIT_1/2, which it
                        // therefore always reports as 0 (kept as Go does)
                        let n = counts.get(st).copied().unwrap_or(0);
                        self.mb
                            .record("system.network.connections", n as f64, &["tcp", st]);
                    }
                    for (st, n) in &counts {
                        if !TCP_STATES.contains(st) {
                            self.mb
                                .record("system.network.connections", *n as f64, &["tcp", st]);
                        }
                    }
                }
                Err(e) => errors.push(format!("failed to read TCP connections: {e}")),
            }
        }
        if self.mb.enabled("system.network.conntrack.count")
            || self.mb.enabled("system.network.conntrack.max")
        {
            let r = |f: &str| host.read(f).map(|s| s.trim().parse::<f64>().unwrap_or(0.0));
            match (
                r("proc/sys/net/netfilter/nf_conntrack_count"),
                r("proc/sys/net/netfilter/nf_conntrack_max"),
            ) {
                (Ok(c), Ok(m)) => {
                    self.mb.record("system.network.conntrack.count", c, &[]);
                    self.mb.record("system.network.conntrack.max", m, &[]);
                }
                (Err(e), _) | (_, Err(e)) => {
                    errors.push(format!("failed to read conntrack info: {e}"))
                }
            }
        }
        out.push(resource_metrics("network", vec![], self.mb.take_metrics()));
        errors
    }
}

// ---------------------------------------------------------------- process

pub struct Process {
    mb: MetricsBuilder,
    cfg: config::ProcessConfig,
    resource: HashMap<&'static str, bool>,
    include: Option<Filter>,
    exclude: Option<Filter>,
    /// cpu times (user, system, wait) and when, per pid, for `process.cpu.utilization`.
    prev: HashMap<i32, ([f64; 3], Instant)>,
}

impl Process {
    pub fn new(c: &config::ProcessConfig) -> Process {
        let resource = metadata::PROCESS_RESOURCE
            .iter()
            .map(|(k, d)| {
                let on = c
                    .resource_attributes
                    .get(*k)
                    .and_then(|t| t.enabled)
                    .unwrap_or(*d);
                (*k, on)
            })
            .collect();
        Process {
            mb: MetricsBuilder::new(metadata::PROCESS, &config::toggles(&c.metrics)),
            cfg: c.clone(),
            resource,
            include: compile(c.include.filter()),
            exclude: compile(c.exclude.filter()),
            prev: HashMap::new(),
        }
    }
}

/// gopsutil's `Name()`: the status name, completed from the command line when the kernel
/// truncated it to 15 bytes.
fn process_name(status_name: &str, cmdline: &[String]) -> String {
    if status_name.len() >= 15 {
        if let Some(first) = cmdline.first() {
            let base = first.rsplit('/').next().unwrap_or(first);
            if base.starts_with(status_name) {
                return base.to_string();
            }
        }
    }
    status_name.to_string()
}

impl Scrape for Process {
    fn name(&self) -> &'static str {
        "process"
    }

    fn scrape(&mut self, host: &Host, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let c = &self.cfg;
        let pids = match host.pids() {
            Ok(p) => p,
            Err(e) => return vec![e],
        };
        let boot = host.boot_time().unwrap_or(0) as f64;
        let mem_total = host
            .meminfo()
            .ok()
            .and_then(|m| m.get("MemTotal").copied())
            .unwrap_or(0) as f64;
        let ncpu = host.cpu_times().map(|t| t.len()).unwrap_or(1).max(1) as f64;
        let users = host.users();
        let mut errors = Vec::new();
        let mut present = std::collections::HashSet::new();
        let now_wall = now_nanos();
        for pid in pids {
            let exe = match host.proc_exe(pid) {
                Ok(e) => e,
                Err(e) => {
                    if !c.mute_process_exe_error {
                        errors.push(format!(
                            "error reading process executable for pid {pid}: {e}"
                        ));
                    }
                    String::new()
                }
            };
            let status = match host.proc_status(pid) {
                Ok(s) => s,
                Err(e) => {
                    if !c.mute_process_name_error {
                        errors.push(format!("error reading process name for pid {pid}: {e}"));
                    }
                    continue;
                }
            };
            let cmdline = host.proc_cmdline(pid).unwrap_or_default();
            let name = process_name(
                status.get("Name").map(String::as_str).unwrap_or(""),
                &cmdline,
            );
            if !included(&self.include, &self.exclude, &name) {
                continue;
            }
            let cgroup = if self.resource.get("process.cgroup") == Some(&true) {
                match host.read(&format!("proc/{pid}/cgroup")) {
                    Ok(s) => s.trim().to_string(),
                    Err(e) => {
                        if !c.mute_process_cgroup_error {
                            errors.push(format!("error reading process cgroup for pid {pid}: {e}"));
                        }
                        String::new()
                    }
                }
            } else {
                String::new()
            };
            let st = match host.proc_stat(pid) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(format!(
                        "error reading create time for process {name:?} (pid {pid}): {e}"
                    ));
                    continue;
                }
            };
            let create_ms = ((boot + st.starttime) * 1000.0) as u64;
            let age_ms = (now_wall / 1_000_000).saturating_sub(create_ms);
            if c.scrape_process_delay.get().as_millis() as u64 > age_ms {
                continue;
            }
            let owner = status
                .get("Uid")
                .and_then(|u| u.split_whitespace().next())
                .and_then(|u| u.parse::<u32>().ok())
                .and_then(|u| users.get(&u).cloned());
            if owner.is_none() && !c.mute_process_user_error {
                errors.push(format!(
                    "error reading username for process {name:?} (pid {pid}): unknown user"
                ));
            }
            present.insert(pid);
            self.mb.begin(create_ms * 1_000_000, now_nanos());
            let cpu = [st.utime, st.stime, st.iowait];
            self.mb.record("process.cpu.time", cpu[0], &["user"]);
            self.mb.record("process.cpu.time", cpu[1], &["system"]);
            self.mb.record("process.cpu.time", cpu[2], &["wait"]);
            let now = Instant::now();
            if let Some((p, at)) = self.prev.get(&pid) {
                let el = now.duration_since(*at).as_secs_f64() * ncpu;
                for (i, s) in ["user", "system", "wait"].iter().enumerate() {
                    let u = if el > 0.0 { (cpu[i] - p[i]) / el } else { 0.0 };
                    self.mb.record("process.cpu.utilization", u.max(0.0), &[s]);
                }
            }
            self.prev.insert(pid, (cpu, now));
            match host.proc_statm(pid) {
                Ok((vms, rss)) => {
                    self.mb.record("process.memory.usage", rss as f64, &[]);
                    self.mb.record("process.memory.virtual", vms as f64, &[]);
                    self.mb.record(
                        "process.memory.utilization",
                        ratio(rss as f64, mem_total),
                        &[],
                    );
                }
                Err(e) => errors.push(format!(
                    "error reading memory info for process {name:?} (pid {pid}): {e}"
                )),
            }
            if self.mb.enabled("process.disk.io") || self.mb.enabled("process.disk.operations") {
                match host.proc_io(pid) {
                    Ok(io) => {
                        let g = |k: &str| io.get(k).copied().unwrap_or(0) as f64;
                        self.mb
                            .record("process.disk.io", g("read_bytes"), &["read"]);
                        self.mb
                            .record("process.disk.io", g("write_bytes"), &["write"]);
                        self.mb
                            .record("process.disk.operations", g("syscr"), &["read"]);
                        self.mb
                            .record("process.disk.operations", g("syscw"), &["write"]);
                    }
                    Err(e) => {
                        if !c.mute_process_io_error {
                            errors.push(format!(
                                "error reading disk usage for process {name:?} (pid {pid}): {e}"
                            ));
                        }
                    }
                }
            }
            self.mb
                .record("process.paging.faults", st.majflt as f64, &["major"]);
            self.mb
                .record("process.paging.faults", st.minflt as f64, &["minor"]);
            self.mb.record("process.threads", st.threads as f64, &[]);
            let sw = |k: &str| {
                status
                    .get(k)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            self.mb.record(
                "process.context_switches",
                sw("nonvoluntary_ctxt_switches"),
                &["involuntary"],
            );
            self.mb.record(
                "process.context_switches",
                sw("voluntary_ctxt_switches"),
                &["voluntary"],
            );
            if self.mb.enabled("process.open_file_descriptors") {
                match host.proc_fd_count(pid) {
                    Ok(n) => self.mb.record("process.open_file_descriptors", n as f64, &[]),
                    Err(e) => errors.push(format!(
                        "error reading open file descriptor count for process {name:?} (pid {pid}): {e}"
                    )),
                }
            }
            let pending = status
                .get("SigPnd")
                .and_then(|v| u64::from_str_radix(v, 16).ok())
                .unwrap_or(0);
            self.mb
                .record("process.signals_pending", pending as f64, &[]);
            self.mb.record(
                "process.uptime",
                (now_wall as f64 / 1e9 - create_ms as f64 / 1e3).max(0.0),
                &[],
            );
            let mut res = Vec::new();
            let on = |k: &str| self.resource.get(k) == Some(&true);
            if on("process.pid") {
                res.push(kv("process.pid", AttrValue::Int(pid as i64)));
            }
            if on("process.parent_pid") {
                res.push(kv("process.parent_pid", AttrValue::Int(st.ppid)));
            }
            if on("process.executable.name") {
                res.push(kv("process.executable.name", name.clone().into()));
            }
            if on("process.executable.path") {
                res.push(kv("process.executable.path", exe.into()));
            }
            if on("process.cgroup") {
                res.push(kv("process.cgroup", cgroup.into()));
            }
            if on("process.command") {
                res.push(kv(
                    "process.command",
                    cmdline.first().cloned().unwrap_or_default().into(),
                ));
            }
            if on("process.command_line") {
                res.push(kv("process.command_line", cmdline.join(" ").into()));
            }
            if on("process.owner") {
                res.push(kv("process.owner", owner.unwrap_or_default().into()));
            }
            out.push(resource_metrics("process", res, self.mb.take_metrics()));
        }
        self.prev.retain(|p, _| present.contains(p));
        if c.mute_process_all_errors {
            return vec![];
        }
        errors
    }
}
