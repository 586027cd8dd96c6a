//! The receiver on this machine: values checked against `/proc` read here independently.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, ResourceMetrics};
use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::ComponentId;

use super::config::HostMetricsConfig;
use super::host::Host;
use super::{build_scrapers, scrape_all};

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<HostMetricsConfig, String> {
    parse_typed::<HostMetricsConfig>(&yaml(s)).map_err(|e| {
        e.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A scraper set kept across rounds (for metrics computed from two readings).
struct Rig {
    cfg: HostMetricsConfig,
    scrapers: Vec<Box<dyn super::scrapers::Scrape>>,
}

impl Rig {
    fn new(cfg: &str) -> Rig {
        let cfg = parse(cfg).unwrap();
        Rig {
            scrapers: build_scrapers(&cfg),
            cfg,
        }
    }

    fn scrape(&mut self) -> Vec<ResourceMetrics> {
        let host = Host::new(&self.cfg.root_path);
        scrape_all(
            &ComponentId::parse("hostmetrics").unwrap(),
            &host,
            &mut self.scrapers,
        )
    }
}

/// (attributes as `k=v` joined by `,`, value) of every point of `name`.
fn points(rms: &[ResourceMetrics], name: &str) -> Vec<(String, f64)> {
    rms.iter()
        .flat_map(|rm| crate::testing::points(rm, name))
        .collect()
}

fn names(rms: &[ResourceMetrics]) -> Vec<String> {
    let mut out: Vec<String> = rms
        .iter()
        .flat_map(|rm| rm.scope_metrics.iter())
        .flat_map(|sm| sm.metrics.iter().map(|m| m.name.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn sum_where(pts: &[(String, f64)], pred: impl Fn(&str) -> bool) -> f64 {
    pts.iter().filter(|(a, _)| pred(a)).map(|(_, v)| v).sum()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

// ---------- config ----------

#[test]
fn defaults_are_go_defaults() {
    let c = HostMetricsConfig::default();
    assert_eq!(c.collection_interval.get(), Duration::from_secs(60));
    assert_eq!(c.initial_delay.get(), Duration::from_secs(1));
    assert_eq!(
        c.metadata_collection_interval.get(),
        Duration::from_secs(300)
    );
    assert_eq!(c.root_path, "");
    assert_eq!(c.scrapers.count(), 0);
}

#[test]
fn invalid_configs_are_refused_with_their_path() {
    let e = parse("{}").unwrap_err();
    assert!(
        e.contains("must specify at least one scraper when using host_metrics receiver"),
        "{e}"
    );
    let e = parse("scrapers: {cpu: , uptime: }").unwrap_err();
    assert!(e.contains("scrapers") && e.contains("uptime"), "{e}");
    let e = parse("scrapers: {cpu: {metrics: {system.cpu.tyme: {enabled: true}}}}").unwrap_err();
    assert!(
        e.contains("scrapers::cpu::metrics") && e.contains("system.cpu.tyme"),
        "{e}"
    );
    let e = parse("scrapers: {disk: {include: {devices: [sda]}}}").unwrap_err();
    assert!(
        e.contains("scrapers::disk::include") && e.contains("unrecognized match_type"),
        "{e}"
    );
    let e = parse("scrapers: {network: {exclude: {match_type: regexp, interfaces: ['(']}}}")
        .unwrap_err();
    assert!(e.contains("scrapers::network::exclude"), "{e}");
    let e = parse("root_path: /no/such/dir\nscrapers: {cpu: }").unwrap_err();
    assert!(e.contains("root_path"), "{e}");
    let e = parse("collection_interval: 0s\nscrapers: {cpu: }").unwrap_err();
    assert!(e.contains("collection_interval"), "{e}");
    let e = parse("scrapers: {process: {resource_attributes: {process.pidd: {enabled: true}}}}")
        .unwrap_err();
    assert!(e.contains("process.pidd"), "{e}");
}

#[test]
fn a_null_scraper_key_enables_it_with_defaults() {
    let c = parse("scrapers: {cpu: , memory: {}, load: {cpu_average: true}}").unwrap();
    assert!(c.scrapers.cpu.is_some() && c.scrapers.memory.is_some());
    assert!(c.scrapers.load.unwrap().cpu_average);
    assert!(c.scrapers.disk.is_none());
}

// ---------- values against /proc ----------

#[test]
fn cpu_time_has_every_cpu_and_state_and_moves() {
    let mut rig = Rig::new("scrapers: {cpu: {metrics: {system.cpu.utilization: {enabled: true}, system.cpu.logical.count: {enabled: true}}}}");
    let a = rig.scrape();
    // burn CPU in this process for a while
    let t = std::time::Instant::now();
    let mut x = 0u64;
    while t.elapsed() < Duration::from_millis(500) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let b = rig.scrape();
    let ncpu = read("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let pa = points(&a, "system.cpu.time");
    let pb = points(&b, "system.cpu.time");
    assert_eq!(pb.len(), ncpu * 8, "{pb:?}");
    assert!(pb.iter().any(|(a, _)| a == "cpu=cpu0,state=user"));
    let busy = |p: &[(String, f64)]| {
        sum_where(p, |a| {
            a.ends_with("state=user") || a.ends_with("state=system")
        })
    };
    assert!(
        busy(&pb) - busy(&pa) > 0.0,
        "user+system time grew by {} s",
        busy(&pb) - busy(&pa)
    );
    // utilization needs two readings: present in the second only, each in [0, 1]
    assert!(points(&a, "system.cpu.utilization").is_empty());
    let u = points(&b, "system.cpu.utilization");
    assert_eq!(u.len(), ncpu * 8);
    assert!(u.iter().all(|(_, v)| (0.0..=1.0).contains(v)), "{u:?}");
    assert_eq!(
        points(&b, "system.cpu.logical.count"),
        vec![(String::new(), ncpu as f64)]
    );
}

fn meminfo(key: &str) -> f64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(|r| r.split_whitespace().next().unwrap().parse::<f64>().unwrap() * 1024.0)
        })
        .unwrap()
}

#[test]
fn memory_limit_is_memtotal_and_states_are_gos() {
    let mut rig = Rig::new("scrapers: {memory: {metrics: {system.memory.limit: {enabled: true}}}}");
    let rms = rig.scrape();
    assert_eq!(
        points(&rms, "system.memory.limit"),
        vec![(String::new(), meminfo("MemTotal"))]
    );
    let usage = points(&rms, "system.memory.usage");
    let states: Vec<&str> = usage.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        states,
        [
            "state=used",
            "state=free",
            "state=buffered",
            "state=cached",
            "state=slab_reclaimable",
            "state=slab_unreclaimable"
        ]
    );
    // used = MemTotal - MemAvailable (Go's UseLinuxMemAvailable gate); both move, so
    // within 64 MiB of a reading taken here
    let used = usage[0].1;
    let expected = meminfo("MemTotal") - meminfo("MemAvailable");
    assert!(
        (used - expected).abs() < 64.0 * 1024.0 * 1024.0,
        "{used} vs {expected}"
    );
    assert_eq!(names(&rms), ["system.memory.limit", "system.memory.usage"]);
}

#[test]
fn a_file_written_shows_in_disk_io() {
    let mut rig = Rig::new("scrapers: {disk: }");
    let before = sum_where(&points(&rig.scrape(), "system.disk.io"), |a| {
        a.ends_with("direction=write")
    });
    let dir = std::env::temp_dir().join(format!("hostmetrics-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    {
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..16 {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
    }
    let rms = rig.scrape();
    std::fs::remove_dir_all(&dir).unwrap();
    let after = sum_where(&points(&rms, "system.disk.io"), |a| {
        a.ends_with("direction=write")
    });
    assert!(
        after - before >= 8.0 * 1024.0 * 1024.0,
        "written bytes grew by {}",
        after - before
    );
    for n in [
        "system.disk.io",
        "system.disk.io_time",
        "system.disk.merged",
        "system.disk.operation_time",
        "system.disk.operations",
        "system.disk.pending_operations",
        "system.disk.weighted_io_time",
    ] {
        assert!(names(&rms).contains(&n.to_string()), "{n}");
    }
}

#[test]
fn disk_include_filter_keeps_only_named_devices() {
    let first = read("/proc/diskstats")
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let mut rig = Rig::new(&format!(
        "scrapers: {{disk: {{include: {{match_type: strict, devices: [{first}]}}}}}}"
    ));
    let pts = points(&rig.scrape(), "system.disk.io");
    assert_eq!(pts.len(), 2, "{pts:?}");
    assert!(pts
        .iter()
        .all(|(a, _)| a.starts_with(&format!("device={first},"))));
}

#[test]
fn loopback_traffic_shows_in_network_io_and_exclude_works() {
    let mut rig = Rig::new("scrapers: {network: }");
    let lo = |rms: &[ResourceMetrics]| {
        sum_where(&points(rms, "system.network.io"), |a| {
            a == "device=lo,direction=receive"
        })
    };
    let before = lo(&rig.scrape());
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        buf.len()
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(&vec![1u8; 2 << 20]).unwrap();
    drop(c);
    assert_eq!(h.join().unwrap(), 2 << 20);
    let rms = rig.scrape();
    assert!(
        lo(&rms) - before >= (2 << 20) as f64,
        "{}",
        lo(&rms) - before
    );
    let conns = points(&rms, "system.network.connections");
    assert!(conns
        .iter()
        .any(|(a, _)| a == "protocol=tcp,state=ESTABLISHED"));
    let mut rig =
        Rig::new("scrapers: {network: {exclude: {match_type: regexp, interfaces: ['^lo$']}}}");
    let pts = points(&rig.scrape(), "system.network.io");
    assert!(
        !pts.iter().any(|(a, _)| a.starts_with("device=lo,")),
        "{pts:?}"
    );
}

#[test]
fn filesystem_reports_the_root_mount() {
    let mut rig = Rig::new(
        "scrapers: {filesystem: {metrics: {system.filesystem.utilization: {enabled: true}}}}",
    );
    let rms = rig.scrape();
    let usage = points(&rms, "system.filesystem.usage");
    let root: Vec<_> = usage
        .iter()
        .filter(|(a, _)| a.contains(",mountpoint=/,"))
        .collect();
    // the root of this machine may be an overlay (virtual: no device path) in a container
    if root.is_empty() {
        let mut rig = Rig::new("scrapers: {filesystem: {include_virtual_filesystems: true}}");
        let usage = points(&rig.scrape(), "system.filesystem.usage");
        assert!(
            usage.iter().any(|(a, _)| a.contains(",mountpoint=/,")),
            "{usage:?}"
        );
        return;
    }
    assert_eq!(root.len(), 3);
    let total: f64 = root.iter().map(|(_, v)| v).sum();
    // total = f_blocks × f_frsize, as `stat -f /` reports it
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%b %S", "/"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    let v: Vec<f64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(total, v[0] * v[1]);
    assert!(!points(&rms, "system.filesystem.utilization").is_empty());
    assert!(!points(&rms, "system.filesystem.inodes.usage").is_empty());
}

/// The filesystem scraper's filters (`include_*` / `exclude_*` by device, type and mount
/// point, strict and regexp) keep exactly what they select.
#[test]
fn filesystem_filters_select_mounts() {
    let mounts = read("/proc/self/mounts");
    let root_type = mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[1] == "/")
        .map(|f| f[2].to_string())
        .unwrap();
    let base = "include_virtual_filesystems: true";
    let mounts_of = |cfg: &str| -> std::collections::BTreeSet<String> {
        let mut rig = Rig::new(&format!("scrapers: {{filesystem: {{{base}, {cfg}}}}}"));
        points(&rig.scrape(), "system.filesystem.usage")
            .into_iter()
            .filter_map(|(a, _)| {
                a.split(',')
                    .find_map(|kv| kv.strip_prefix("mountpoint=").map(str::to_string))
            })
            .collect()
    };
    let all = mounts_of("exclude_mount_points: {match_type: strict, mount_points: []}");
    assert!(all.contains("/"), "{all:?}");
    let without_root = mounts_of("exclude_mount_points: {match_type: strict, mount_points: ['/']}");
    assert!(!without_root.contains("/"));
    assert_eq!(
        without_root.len(),
        all.len() - 1,
        "{without_root:?} vs {all:?}"
    );
    let only_root = mounts_of("include_mount_points: {match_type: regexp, mount_points: ['^/$']}");
    assert_eq!(
        only_root.into_iter().collect::<Vec<_>>(),
        vec!["/".to_string()]
    );
    // by type: the root's type only
    let mut rig = Rig::new(&format!(
        "scrapers: {{filesystem: {{{base}, include_fs_types: {{match_type: strict, fs_types: [{root_type}]}}}}}}"
    ));
    let pts = points(&rig.scrape(), "system.filesystem.usage");
    assert!(!pts.is_empty());
    assert!(
        pts.iter()
            .all(|(a, _)| a.contains(&format!("type={root_type}"))),
        "{pts:?}"
    );
    // a device excluded by a pattern that matches every device: nothing left
    let none = mounts_of("exclude_devices: {match_type: regexp, devices: ['.*']}");
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn process_scraper_reports_this_process() {
    let me = std::process::id() as i64;
    let name = read("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Name:").map(|n| n.trim().to_string()))
        .unwrap();
    let mut rig = Rig::new(&format!(
        "scrapers: {{process: {{include: {{match_type: regexp, names: ['^{}']}}, mute_process_exe_error: true, metrics: {{process.threads: {{enabled: true}}}}}}}}",
        regex::escape(&name)
    ));
    let rms = rig.scrape();
    assert!(!rms.is_empty());
    let mut found = false;
    for rm in &rms {
        let attrs: BTreeMap<String, String> = rm
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::IntValue(i)) => i.to_string(),
                    _ => String::new(),
                };
                (kv.key.clone(), v)
            })
            .collect();
        assert!(
            attrs["process.executable.name"].starts_with(&name),
            "{attrs:?}"
        );
        if attrs["process.pid"] == me.to_string() {
            found = true;
            let one = std::slice::from_ref(rm);
            let rss = points(one, "process.memory.usage")[0].1;
            let statm_rss: f64 = read("/proc/self/statm")
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            let page = rustix::param::page_size() as f64;
            assert!((rss - statm_rss * page).abs() < 64.0 * 1024.0 * 1024.0);
            let threads = points(one, "process.threads")[0].1;
            assert!(threads >= 1.0);
            assert_eq!(points(one, "process.cpu.time").len(), 3);
            assert!(attrs.contains_key("process.owner"));
            assert!(attrs.contains_key("process.command_line"));
        }
    }
    assert!(found, "pid {me} not reported");
    // the same name excluded: nothing of it is reported
    let mut rig = Rig::new(&format!(
        "scrapers: {{process: {{include: {{match_type: regexp, names: ['^{0}']}}, exclude: {{match_type: regexp, names: ['^{0}']}}, mute_process_exe_error: true}}}}",
        regex::escape(&name)
    ));
    assert!(rig.scrape().is_empty());
}

#[test]
fn processes_load_paging_and_system() {
    let mut rig = Rig::new("scrapers: {processes: , load: , paging: , system: }");
    let rms = rig.scrape();
    let count = points(&rms, "system.processes.count");
    assert!(sum_where(&count, |_| true) > 0.0);
    assert!(count.iter().any(|(a, _)| a == "status=running"));
    assert_eq!(points(&rms, "system.processes.created").len(), 1);
    for n in ["1m", "5m", "15m"] {
        assert_eq!(
            points(&rms, &format!("system.cpu.load_average.{n}")).len(),
            1
        );
    }
    let loadavg: f64 = read("/proc/loadavg")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let l1 = points(&rms, "system.cpu.load_average.1m")[0].1;
    assert!((l1 - loadavg).abs() < 2.0, "{l1} vs {loadavg}");
    let faults = points(&rms, "system.paging.faults");
    assert_eq!(faults.len(), 2);
    let up = points(&rms, "system.uptime")[0].1;
    let proc_up: f64 = read("/proc/uptime")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((up - proc_up).abs() < 5.0, "{up} vs {proc_up}");
}

#[test]
fn metrics_toggles_turn_metrics_off_and_on() {
    let mut rig =
        Rig::new("scrapers: {load: {metrics: {system.cpu.load_average.5m: {enabled: false}}}}");
    assert_eq!(
        names(&rig.scrape()),
        ["system.cpu.load_average.15m", "system.cpu.load_average.1m"]
    );
}

#[test]
fn root_path_reads_another_tree() {
    // a fake host tree: only the files the load and memory scrapers read
    let dir = std::env::temp_dir().join(format!("hostmetrics-root-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("proc")).unwrap();
    std::fs::write(dir.join("proc/loadavg"), "1.50 2.50 3.50 2/300 42\n").unwrap();
    std::fs::write(dir.join("proc/stat"), "cpu0 1 2 3 4\nbtime 1000\n").unwrap();
    std::fs::write(
        dir.join("proc/meminfo"),
        "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n",
    )
    .unwrap();
    let mut rig = Rig::new(&format!(
        "root_path: {}\nscrapers: {{load: , memory: }}",
        dir.display()
    ));
    let rms = rig.scrape();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(points(&rms, "system.cpu.load_average.15m")[0].1, 3.5);
    let usage = points(&rms, "system.memory.usage");
    assert_eq!(usage[0], ("state=used".into(), 600.0 * 1024.0));
    assert_eq!(usage[1], ("state=free".into(), 100.0 * 1024.0));
    // start time = btime
    let start = rms[0].scope_metrics[0].metrics[0]
        .data
        .as_ref()
        .map(|d| match d {
            metric::Data::Gauge(g) => g.data_points[0].start_time_unix_nano,
            _ => 0,
        });
    assert_eq!(start, Some(1000 * 1_000_000_000));
}

#[test]
fn scope_and_units_are_gos() {
    let mut rig = Rig::new("scrapers: {cpu: }");
    let rms = rig.scrape();
    let sm = &rms[0].scope_metrics[0];
    assert_eq!(
        sm.scope.as_ref().unwrap().name,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/cpuscraper"
    );
    let m = &sm.metrics[0];
    assert_eq!((m.name.as_str(), m.unit.as_str()), ("system.cpu.time", "s"));
    match &m.data {
        Some(metric::Data::Sum(s)) => {
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, 2);
        }
        other => panic!("{other:?}"),
    }
}

/// A CPU that spent the whole interval in one state has a utilization of exactly 1 in it,
/// even when the totals of its large counters round (readings where the difference of the
/// two totals made it 1.0000000006).
#[test]
fn a_lone_state_s_utilization_is_one_whatever_the_totals_round_to() {
    use super::host::CpuTimes;
    let p = CpuTimes {
        cpu: "cpu0".into(),
        user: 7471448.54,
        system: 4782308.59,
        idle: 2859702.56,
        nice: 7747477.11,
        iowait: 8609545.09,
        irq: 2456315.64,
        softirq: 6347461.6,
        steal: 1097655.75,
    };
    let t = CpuTimes {
        idle: p.idle + 4.62,
        ..p.clone()
    };
    let u = super::scrapers::cpu_utilization(&t, &p);
    assert!(u.iter().all(|(_, v)| (0.0..=1.0).contains(v)), "{u:?}");
    assert_eq!(
        u.iter().find(|(s, _)| *s == "idle").map(|(_, v)| *v),
        Some(1.0)
    );
}
