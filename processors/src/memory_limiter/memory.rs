//! Measuring memory: the process's resident set size, and the total memory percentages refer
//! to (container-aware, as Go's `internal/memorylimiter/iruntime.TotalMemory`).
//!
//! Go measures its heap (`runtime.MemStats.Alloc`); Rust has no such heap account, so the
//! resident set size from `/proc/self/statm` stands in for it.

use std::path::Path;

pub const MIB: u64 = 1024 * 1024;

/// Where the limiter gets the memory in use, injectable for tests.
pub trait MemoryReader: Send + Sync + 'static {
    /// Bytes in use by this process, or `None` when they cannot be measured (then the limiter
    /// does not limit).
    fn used_bytes(&self) -> Option<u64>;
}

/// The process's resident set size (Linux `/proc/self/statm`); `None` on other systems.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessRss;

impl MemoryReader for ProcessRss {
    fn used_bytes(&self) -> Option<u64> {
        process_rss()
    }
}

#[cfg(target_os = "linux")]
pub fn process_rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident_pages.saturating_mul(page_size()))
}

#[cfg(not(target_os = "linux"))]
pub fn process_rss() -> Option<u64> {
    None
}

/// Whether this platform can measure the process's memory at all.
pub const SUPPORTED: bool = cfg!(target_os = "linux");

/// The page size, from the auxiliary vector (`AT_PAGESZ`), read once; 4096 if unreadable.
#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    static PAGE_SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| auxv_value(&auxv, AT_PAGESZ))
            .unwrap_or(4096)
    })
}

#[cfg(target_os = "linux")]
const AT_PAGESZ: u64 = 6;

/// The value of entry `key` in a native-endian auxiliary vector of `usize` pairs.
#[cfg(target_os = "linux")]
fn auxv_value(auxv: &[u8], key: u64) -> Option<u64> {
    const W: usize = std::mem::size_of::<usize>();
    let word = |b: &[u8]| -> u64 {
        let mut a = [0u8; W];
        a.copy_from_slice(b);
        usize::from_ne_bytes(a) as u64
    };
    auxv.chunks_exact(2 * W)
        .map(|pair| (word(&pair[..W]), word(&pair[W..])))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// cgroup v1's "no limit" value (Go `unlimitedMemorySize`).
pub const CGROUP_V1_UNLIMITED: u64 = 9223372036854771712;

/// Total memory available to this process: the cgroup v2 `memory.max`, else the cgroup v1
/// `memory.limit_in_bytes`, else `MemTotal` of `/proc/meminfo` (Go falls back to meminfo when
/// the cgroup sets no limit, too).
pub fn total_memory() -> Result<u64, String> {
    total_memory_under(Path::new("/"))
}

/// [`total_memory`] with every path under `root` (tests).
pub fn total_memory_under(root: &Path) -> Result<u64, String> {
    if let Ok(max) = std::fs::read_to_string(root.join("sys/fs/cgroup/memory.max")) {
        let max = max.trim();
        if max != "max" {
            return max
                .parse::<u64>()
                .map_err(|e| format!("invalid cgroup v2 memory.max {max:?}: {e}"));
        }
    } else if let Ok(limit) =
        std::fs::read_to_string(root.join("sys/fs/cgroup/memory/memory.limit_in_bytes"))
    {
        let limit = limit.trim();
        let v = limit
            .parse::<u64>()
            .map_err(|e| format!("invalid cgroup v1 memory.limit_in_bytes {limit:?}: {e}"))?;
        if v < CGROUP_V1_UNLIMITED {
            return Ok(v);
        }
    }
    let meminfo = std::fs::read_to_string(root.join("proc/meminfo"))
        .map_err(|e| format!("reading /proc/meminfo: {e}"))?;
    mem_total(&meminfo).ok_or_else(|| "no MemTotal in /proc/meminfo".to_string())
}

/// `MemTotal:  16314344 kB` in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    let factor = match parts.next() {
        Some("kB") | Some("KB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    Some(value.saturating_mul(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferrotel-memlimit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(
            dir.join("proc/meminfo"),
            "MemTotal:        2048 kB\nMemFree:  10 kB\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn total_memory_prefers_cgroup_v2_limit() {
        let root = temp_root("v2");
        std::fs::create_dir_all(root.join("sys/fs/cgroup")).unwrap();
        std::fs::write(root.join("sys/fs/cgroup/memory.max"), "1073741824\n").unwrap();
        assert_eq!(total_memory_under(&root).unwrap(), 1 << 30);
        // "max" means no limit: fall back to meminfo
        std::fs::write(root.join("sys/fs/cgroup/memory.max"), "max\n").unwrap();
        assert_eq!(total_memory_under(&root).unwrap(), 2048 * 1024);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn total_memory_reads_cgroup_v1_and_its_unlimited_value() {
        let root = temp_root("v1");
        std::fs::create_dir_all(root.join("sys/fs/cgroup/memory")).unwrap();
        std::fs::write(
            root.join("sys/fs/cgroup/memory/memory.limit_in_bytes"),
            "536870912\n",
        )
        .unwrap();
        assert_eq!(total_memory_under(&root).unwrap(), 512 * MIB);
        std::fs::write(
            root.join("sys/fs/cgroup/memory/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        assert_eq!(total_memory_under(&root).unwrap(), 2048 * 1024);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn total_memory_without_cgroup_is_meminfo() {
        let root = temp_root("none");
        assert_eq!(total_memory_under(&root).unwrap(), 2048 * 1024);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rss_of_this_process_is_measured() {
        let rss = process_rss().expect("statm readable on linux");
        assert!(rss > MIB, "rss {rss}");
        assert!(page_size() >= 4096);
    }
}
