//! The container Ferrotel runs in, so that `filelog` does not tail its own Docker log
//! (Ferrotel addition; `include_own_container_logs: true` turns it off).
//!
//! Why: a collector that tails `/var/lib/docker/containers/*/*-json.log` also finds its own
//! container's log. Every line it logs about what it read (a parse failure, a refused batch)
//! is read back, fails again and is logged again: the collector ends up processing its own
//! output instead of the services' logs. The Go collector reads its own log; the seeds' Alloy
//! config drops it by relabelling.
//!
//! The id comes from, in order:
//! 1. `/proc/self/mountinfo`: Docker bind-mounts `/var/lib/docker/containers/<id>/hostname`,
//!    `hosts` and `resolv.conf` into every container (cgroup v1 and v2 alike);
//! 2. `/proc/self/cgroup`: `.../docker/<id>` or `.../docker-<id>.scope` (cgroup v1, or v2
//!    without a private cgroup namespace);
//! 3. the host name, when it is 12 hexadecimal digits: Docker's default host name is the id's
//!    first 12 characters (a prefix then, matched against the directory name).
//!
//! A log file is the container's own when its directory is named by that id
//! (`.../containers/<id>/<id>-json.log`, rotated `...-json.log.1` too).

use std::path::Path;

/// The container's id (64 hex digits), or its 12-digit prefix from the host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnContainer {
    pub id: String,
    /// Where the id was found (for the log line).
    pub source: &'static str,
}

impl OwnContainer {
    /// Detect from this process's `/proc` and host name; `None` outside a Docker container.
    pub fn detect() -> Option<OwnContainer> {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let hostname = std::fs::read_to_string("/etc/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        Self::from_sources(
            &read("/proc/self/mountinfo"),
            &read("/proc/self/cgroup"),
            &hostname,
        )
    }

    /// Detection from the texts of mountinfo, cgroup and the host name.
    pub fn from_sources(mountinfo: &str, cgroup: &str, hostname: &str) -> Option<OwnContainer> {
        if let Some(id) = from_mountinfo(mountinfo) {
            return Some(OwnContainer {
                id,
                source: "/proc/self/mountinfo",
            });
        }
        if let Some(id) = from_cgroup(cgroup) {
            return Some(OwnContainer {
                id,
                source: "/proc/self/cgroup",
            });
        }
        let h = hostname.trim();
        if h.len() == 12 && is_hex(h) {
            return Some(OwnContainer {
                id: h.to_string(),
                source: "host name",
            });
        }
        None
    }

    /// Whether `path` is a log file of this container: its directory is named by the id.
    pub fn owns(&self, path: &Path) -> bool {
        let Some(dir) = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|d| d.to_str())
        else {
            return false;
        };
        dir.len() == 64 && is_hex(dir) && dir.starts_with(&self.id)
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The 64-hex-digit word that follows `marker` in `text`, if any.
fn id_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = &rest[i + marker.len()..];
        if after.len() >= 64 && is_hex(&after[..64]) {
            let next = after.as_bytes().get(64).copied();
            if !next.is_some_and(|b| b.is_ascii_hexdigit()) {
                return Some(&after[..64]);
            }
        }
        rest = after;
    }
    None
}

/// The id in a mount of `/var/lib/docker/containers/<id>/{hostname,hosts,resolv.conf}` (the
/// mount's root, field 4, names the container's directory on the host).
pub fn from_mountinfo(text: &str) -> Option<String> {
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(root), Some(mount_point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        if !matches!(
            *mount_point,
            "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf"
        ) {
            continue;
        }
        if let Some(id) = id_after(root, "/containers/") {
            return Some(id.to_string());
        }
    }
    None
}

/// The id in a cgroup path: `/docker/<id>` (cgroupfs driver) or `docker-<id>.scope`
/// (systemd driver).
pub fn from_cgroup(text: &str) -> Option<String> {
    for line in text.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for marker in ["/docker/", "/docker-", "docker-"] {
            if let Some(id) = id_after(path, marker) {
                return Some(id.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c2a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
    const OTHER: &str = "aaaabbbbccccddddeeeeffff00001111222233334444555566667777888899990";

    fn mountinfo(id: &str) -> String {
        format!(
            "596 508 0:52 / / rw,relatime master:301 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X\n\
             612 596 8:1 /var/lib/docker/containers /var/lib/docker/containers ro,relatime - ext4 /dev/sda1 rw\n\
             613 596 8:1 /var/lib/docker/containers/{id}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/sda1 rw\n\
             614 596 8:1 /var/lib/docker/containers/{id}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n\
             615 596 8:1 /var/lib/docker/containers/{id}/hosts /etc/hosts rw,relatime - ext4 /dev/sda1 rw\n"
        )
    }

    #[test]
    fn the_id_comes_from_the_hostname_mounts() {
        assert_eq!(from_mountinfo(&mountinfo(ID)).as_deref(), Some(ID));
        // the read-only mount of every container's directory names no container
        let only_logs = "612 596 8:1 /var/lib/docker/containers /var/lib/docker/containers ro - ext4 /dev/sda1 rw\n";
        assert_eq!(from_mountinfo(only_logs), None);
        // a data-root elsewhere
        let moved = mountinfo(ID).replace("/var/lib/docker/", "/srv/docker-data/");
        assert_eq!(from_mountinfo(&moved).as_deref(), Some(ID));
        // not in a container
        let host = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n";
        assert_eq!(from_mountinfo(host), None);
    }

    #[test]
    fn the_id_comes_from_the_cgroup_path() {
        let v1 = format!("12:cpuset:/docker/{ID}\n11:memory:/docker/{ID}\n0::/\n");
        assert_eq!(from_cgroup(&v1).as_deref(), Some(ID));
        let systemd = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(from_cgroup(&systemd).as_deref(), Some(ID));
        assert_eq!(from_cgroup("0::/\n"), None);
        assert_eq!(from_cgroup("0::/user.slice/user-1000.slice\n"), None);
        // 65 hex digits are not an id
        assert_eq!(from_cgroup(&format!("0::/docker/{OTHER}\n")), None);
    }

    #[test]
    fn sources_in_order_and_the_host_name_as_a_last_resort() {
        let c = OwnContainer::from_sources(&mountinfo(ID), "0::/\n", "anything").unwrap();
        assert_eq!((c.id.as_str(), c.source), (ID, "/proc/self/mountinfo"));
        let c =
            OwnContainer::from_sources("", &format!("1:name=systemd:/docker/{ID}\n"), "").unwrap();
        assert_eq!((c.id.as_str(), c.source), (ID, "/proc/self/cgroup"));
        let c = OwnContainer::from_sources("", "0::/\n", &format!("{}\n", &ID[..12])).unwrap();
        assert_eq!((c.id.as_str(), c.source), (&ID[..12], "host name"));
        assert_eq!(OwnContainer::from_sources("", "0::/\n", "web-1"), None);
        assert_eq!(OwnContainer::from_sources("", "", "deadbeef"), None);
    }

    #[test]
    fn only_the_own_directory_is_owned() {
        let me = OwnContainer {
            id: ID.into(),
            source: "test",
        };
        let own = format!("/var/lib/docker/containers/{ID}/{ID}-json.log");
        assert!(me.owns(Path::new(&own)));
        assert!(me.owns(Path::new(&format!("{own}.1"))));
        let other = format!("/var/lib/docker/containers/{}/x-json.log", &OTHER[..64]);
        assert!(!me.owns(Path::new(&other)));
        assert!(!me.owns(Path::new("/var/log/syslog")));
        let prefix = OwnContainer {
            id: ID[..12].into(),
            source: "host name",
        };
        assert!(prefix.owns(Path::new(&own)));
        assert!(!prefix.owns(Path::new(&other)));
    }
}
