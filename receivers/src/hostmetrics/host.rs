//! Reading the host's state from `/proc` and `/sys` (under `root_path` when set), parsed
//! here rather than through a crate: every file read is a few lines of text, the parsers are
//! small and allocation-light, and no dependency is added. `statvfs`, the clock tick rate
//! and the page size come from `rustix` (safe wrappers over the system calls).
//!
//! Every reader returns `Err(text)` naming the file on failure; nothing panics on a
//! malformed file (a field that does not parse reads as 0 or the line is skipped).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the host's files are.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
    pub clock_ticks: f64,
    pub page_size: u64,
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or(0)
}

impl Host {
    pub fn new(root_path: &str) -> Host {
        let root = if root_path.is_empty() {
            PathBuf::from("/")
        } else {
            PathBuf::from(root_path)
        };
        let ticks = rustix::param::clock_ticks_per_second();
        Host {
            root,
            clock_ticks: if ticks == 0 { 100.0 } else { ticks as f64 },
            page_size: rustix::param::page_size() as u64,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    pub fn read(&self, rel: &str) -> Result<String, String> {
        let p = self.path(rel);
        std::fs::read_to_string(&p).map_err(|e| format!("read {}: {e}", p.display()))
    }

    /// Seconds since the epoch at boot (`btime` of `/proc/stat`).
    pub fn boot_time(&self) -> Result<u64, String> {
        let stat = self.read("proc/stat")?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime ").map(|v| num(v.trim())))
            .ok_or_else(|| "no btime in /proc/stat".to_string())
    }

    /// Per logical CPU (`cpu0`, …): user, nice, system, idle, iowait, irq, softirq, steal,
    /// in seconds.
    pub fn cpu_times(&self) -> Result<Vec<CpuTimes>, String> {
        let stat = self.read("proc/stat")?;
        let mut out = Vec::new();
        for line in stat.lines() {
            let mut f = line.split_whitespace();
            let Some(name) = f.next() else { continue };
            if !name.starts_with("cpu") || name == "cpu" {
                continue;
            }
            let v: Vec<f64> = f.map(|x| num(x) as f64 / self.clock_ticks).collect();
            let g = |i: usize| v.get(i).copied().unwrap_or(0.0);
            out.push(CpuTimes {
                cpu: name.to_string(),
                user: g(0),
                nice: g(1),
                system: g(2),
                idle: g(3),
                iowait: g(4),
                irq: g(5),
                softirq: g(6),
                steal: g(7),
            });
        }
        Ok(out)
    }

    /// `/proc/meminfo` in bytes (kB values × 1024; counts such as `HugePages_Total` as is).
    pub fn meminfo(&self) -> Result<HashMap<String, u64>, String> {
        let text = self.read("proc/meminfo")?;
        let mut out = HashMap::new();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let mut parts = v.split_whitespace();
            let n = num(parts.next().unwrap_or(""));
            let n = if parts.next() == Some("kB") {
                n * 1024
            } else {
                n
            };
            out.insert(k.trim().to_string(), n);
        }
        Ok(out)
    }

    /// `/proc/vmstat` counters.
    pub fn vmstat(&self) -> Result<HashMap<String, u64>, String> {
        let text = self.read("proc/vmstat")?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), num(v.trim())))
            .collect())
    }

    pub fn loadavg(&self) -> Result<[f64; 3], String> {
        let text = self.read("proc/loadavg")?;
        let v: Vec<f64> = text
            .split_whitespace()
            .take(3)
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        if v.len() < 3 {
            return Err("/proc/loadavg: fewer than 3 fields".into());
        }
        Ok([v[0], v[1], v[2]])
    }

    pub fn diskstats(&self) -> Result<Vec<DiskStats>, String> {
        let text = self.read("proc/diskstats")?;
        let mut out = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 14 {
                continue;
            }
            let n = |i: usize| num(f[i]);
            out.push(DiskStats {
                name: f[2].to_string(),
                reads: n(3),
                merged_reads: n(4),
                read_bytes: n(5) * 512,
                read_ms: n(6),
                writes: n(7),
                merged_writes: n(8),
                write_bytes: n(9) * 512,
                write_ms: n(10),
                in_progress: n(11),
                io_ms: n(12),
                weighted_ms: n(13),
            });
        }
        Ok(out)
    }

    pub fn net_dev(&self) -> Result<Vec<NetDev>, String> {
        let text = self.read("proc/net/dev")?;
        let mut out = Vec::new();
        for line in text.lines().skip(2) {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            let f: Vec<u64> = rest.split_whitespace().map(num).collect();
            if f.len() < 16 {
                continue;
            }
            out.push(NetDev {
                name: name.trim().to_string(),
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errs: f[2],
                rx_drop: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errs: f[10],
                tx_drop: f[11],
            });
        }
        Ok(out)
    }

    /// TCP connections (v4 and v6) counted by state name (gopsutil's names).
    pub fn tcp_states(&self) -> Result<HashMap<&'static str, i64>, String> {
        let mut out = HashMap::new();
        let mut read_any = false;
        for f in ["proc/net/tcp", "proc/net/tcp6"] {
            let Ok(text) = self.read(f) else { continue };
            read_any = true;
            for line in text.lines().skip(1) {
                let Some(st) = line.split_whitespace().nth(3) else {
                    continue;
                };
                let name = match st {
                    "01" => "ESTABLISHED",
                    "02" => "SYN_SENT",
                    "03" => "SYN_RECV",
                    "04" => "FIN_WAIT1",
                    "05" => "FIN_WAIT2",
                    "06" => "TIME_WAIT",
                    "07" => "CLOSE",
                    "08" => "CLOSE_WAIT",
                    "09" => "LAST_ACK",
                    "0A" => "LISTEN",
                    "0B" => "CLOSING",
                    _ => continue,
                };
                *out.entry(name).or_insert(0) += 1;
            }
        }
        if !read_any {
            return Err("read /proc/net/tcp: not readable".into());
        }
        Ok(out)
    }

    /// `/proc/swaps`: (device, total bytes, used bytes).
    pub fn swaps(&self) -> Result<Vec<(String, u64, u64)>, String> {
        let text = self.read("proc/swaps")?;
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 4).then(|| (f[0].to_string(), num(f[2]) * 1024, num(f[3]) * 1024))
            })
            .collect())
    }

    /// Mounted filesystems as gopsutil's `disk.Partitions(all)` lists them from
    /// `/proc/1/mountinfo` (falling back to `/proc/self/mountinfo`).
    pub fn partitions(&self, all: bool) -> Result<Vec<Partition>, String> {
        let text = self
            .read("proc/1/mountinfo")
            .or_else(|_| self.read("proc/self/mountinfo"))?;
        let mut out = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for line in text.lines() {
            let Some((a, b)) = line.split_once(" - ") else {
                continue;
            };
            let fa: Vec<&str> = a.split_whitespace().collect();
            let fb: Vec<&str> = b.split_whitespace().collect();
            if fa.len() < 5 || fb.len() < 2 {
                continue;
            }
            let (dev_id, root_dir, mount_point) = (fa[2], fa[3], fa[4]);
            let mut opts: Vec<String> = fa
                .get(5)
                .map(|o| o.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            let super_opts: Vec<&str> = fb
                .get(2)
                .map(|o| o.split(',').collect())
                .unwrap_or_default();
            // read-only when either the mount or the superblock is
            if super_opts.contains(&"ro") {
                for o in opts.iter_mut() {
                    if o == "rw" {
                        *o = "ro".into();
                    }
                }
            }
            let (fstype, src) = (fb[0], fb[1]);
            if !all && !src.starts_with('/') {
                continue;
            }
            let mut device = if src.starts_with('/') || root_dir == "/" {
                src.to_string()
            } else {
                root_dir.to_string()
            };
            if let Some(first) = seen.get(dev_id) {
                device = first.clone();
            }
            let bind = src.starts_with('/') && root_dir != "/";
            seen.entry(dev_id.to_string())
                .or_insert_with(|| device.clone());
            if !all && bind {
                continue;
            }
            if device == "/dev/root" {
                if let Ok(l) = std::fs::read_link(self.path(&format!("sys/dev/block/{dev_id}"))) {
                    if let Some(n) = l.file_name() {
                        device = format!("/dev/{}", n.to_string_lossy());
                    }
                }
            }
            out.push(Partition {
                device,
                mountpoint: unescape(mount_point),
                fstype: fstype.to_string(),
                opts,
            });
        }
        Ok(out)
    }

    /// The process ids of `/proc`.
    pub fn pids(&self) -> Result<Vec<i32>, String> {
        let dir = self.path("proc");
        let rd = std::fs::read_dir(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
        let mut out: Vec<i32> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// `/proc/<pid>/stat`, the fields after the command name.
    pub fn proc_stat(&self, pid: i32) -> Result<ProcStat, String> {
        let text = self.read(&format!("proc/{pid}/stat"))?;
        let Some(close) = text.rfind(')') else {
            return Err(format!("/proc/{pid}/stat: malformed"));
        };
        let f: Vec<&str> = text[close + 1..].split_whitespace().collect();
        // f[0] is field 3 (state)
        let g = |field: usize| f.get(field - 3).map(|s| num(s)).unwrap_or(0);
        Ok(ProcStat {
            state: f.first().and_then(|s| s.chars().next()).unwrap_or('?'),
            ppid: g(4) as i64,
            minflt: g(10),
            majflt: g(12),
            utime: g(14) as f64 / self.clock_ticks,
            stime: g(15) as f64 / self.clock_ticks,
            threads: g(20),
            starttime: g(22) as f64 / self.clock_ticks,
            iowait: g(42) as f64 / self.clock_ticks,
        })
    }

    /// `/proc/<pid>/status` as key → value text.
    pub fn proc_status(&self, pid: i32) -> Result<HashMap<String, String>, String> {
        let text = self.read(&format!("proc/{pid}/status"))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect())
    }

    pub fn proc_cmdline(&self, pid: i32) -> Result<Vec<String>, String> {
        let p = self.path(&format!("proc/{pid}/cmdline"));
        let bytes = std::fs::read(&p).map_err(|e| format!("read {}: {e}", p.display()))?;
        Ok(bytes
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
    }

    pub fn proc_exe(&self, pid: i32) -> Result<String, String> {
        let p = self.path(&format!("proc/{pid}/exe"));
        std::fs::read_link(&p)
            .map(|l| l.to_string_lossy().into_owned())
            .map_err(|e| format!("readlink {}: {e}", p.display()))
    }

    /// (vms, rss) in bytes from `/proc/<pid>/statm`.
    pub fn proc_statm(&self, pid: i32) -> Result<(u64, u64), String> {
        let text = self.read(&format!("proc/{pid}/statm"))?;
        let mut f = text.split_whitespace().map(num);
        let vms = f.next().unwrap_or(0) * self.page_size;
        let rss = f.next().unwrap_or(0) * self.page_size;
        Ok((vms, rss))
    }

    /// `/proc/<pid>/io`.
    pub fn proc_io(&self, pid: i32) -> Result<HashMap<String, u64>, String> {
        let text = self.read(&format!("proc/{pid}/io"))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), num(v.trim())))
            .collect())
    }

    pub fn proc_fd_count(&self, pid: i32) -> Result<u64, String> {
        let p = self.path(&format!("proc/{pid}/fd"));
        let rd = std::fs::read_dir(&p).map_err(|e| format!("read {}: {e}", p.display()))?;
        Ok(rd.count() as u64)
    }

    /// user names by uid from `<root>/etc/passwd`.
    pub fn users(&self) -> HashMap<u32, String> {
        self.read("etc/passwd")
            .map(|t| {
                t.lines()
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        (f.len() > 2).then(|| (f[2].parse().ok(), f[0].to_string()))
                    })
                    .filter_map(|(u, n)| u.map(|u| (u, n)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Seconds since boot (`/proc/uptime`).
    pub fn uptime(&self) -> Result<f64, String> {
        let text = self.read("proc/uptime")?;
        text.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| "/proc/uptime: malformed".into())
    }
}

/// The mount point path seen from here (`root_path` prefixed).
pub fn translate_mountpoint(root: &str, mountpoint: &str) -> PathBuf {
    if root.is_empty() {
        PathBuf::from(mountpoint)
    } else {
        Path::new(root).join(mountpoint.trim_start_matches('/'))
    }
}

/// `\040`-style escapes of mountinfo.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone, Default)]
pub struct CpuTimes {
    pub cpu: String,
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskStats {
    pub name: String,
    pub reads: u64,
    pub merged_reads: u64,
    pub read_bytes: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub merged_writes: u64,
    pub write_bytes: u64,
    pub write_ms: u64,
    pub in_progress: u64,
    pub io_ms: u64,
    pub weighted_ms: u64,
}

#[derive(Debug, Clone, Default)]
pub struct NetDev {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errs: u64,
    pub rx_drop: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errs: u64,
    pub tx_drop: u64,
}

#[derive(Debug, Clone)]
pub struct Partition {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub opts: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ProcStat {
    pub state: char,
    pub ppid: i64,
    pub minflt: u64,
    pub majflt: u64,
    pub utime: f64,
    pub stime: f64,
    pub threads: u64,
    /// Seconds after boot.
    pub starttime: f64,
    pub iowait: f64,
}
