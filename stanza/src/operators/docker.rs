//! Docker container metadata without the Docker socket (Ferrotel, issue 4): the `container`
//! operator's `docker_metadata: true` reads `config.v2.json` beside a container's json-file
//! log (`/var/lib/docker/containers/<id>/config.v2.json`), caches it per container, and
//! re-reads it when its modification time changes (checked at most once a second); a file
//! that could not be read is tried again at the next check.
//!
//! Resource attributes set: `container.id`, `container.name` (`Name` without the leading
//! `/`), `container.image.name` (`Config.Image` without tag or digest), and from the labels
//! `com.docker.compose.service` → `docker.compose.service` and `service.name` (when the
//! entry has none), `com.docker.compose.project` → `docker.compose.project`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::entry::{Map, Value};

const RECHECK: Duration = Duration::from_secs(1);

struct Cached {
    checked: Instant,
    mtime: Option<SystemTime>,
    attrs: Map,
}

/// The per-container cache.
#[derive(Default)]
pub struct DockerMetadata {
    cache: HashMap<String, Cached>,
}

impl DockerMetadata {
    /// Add the container's attributes to `resource`.
    pub fn enrich(&mut self, id: &str, dir: &Path, resource: &mut Map) {
        let file = dir.join("config.v2.json");
        let now = Instant::now();
        let stale = match self.cache.get(id) {
            None => true,
            Some(c) if now.duration_since(c.checked) < RECHECK => false,
            Some(c) => std::fs::metadata(&file).and_then(|m| m.modified()).ok() != c.mtime,
        };
        if stale {
            let mut mtime = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
            let attrs = read(&file).unwrap_or_else(|e| {
                tracing::debug!(path = %file.display(), error = %e, "No Docker container metadata.");
                // read again at the next check even if the file keeps its modification time
                // (written in place, or unreadable for a moment)
                mtime = None;
                Map::new()
            });
            self.cache.insert(
                id.to_string(),
                Cached {
                    checked: now,
                    mtime,
                    attrs,
                },
            );
        } else if let Some(c) = self.cache.get_mut(id) {
            if now.duration_since(c.checked) >= RECHECK {
                c.checked = now;
            }
        }
        if self.cache.len() > 10_000 {
            self.cache.clear();
        }
        if let Some(c) = self.cache.get(id) {
            for (k, v) in &c.attrs {
                if k == "service.name" && resource.contains_key(k) {
                    continue;
                }
                resource.insert(k.clone(), v.clone());
            }
        }
    }
}

fn read(file: &Path) -> Result<Map, String> {
    let text = std::fs::read(file).map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let mut m = Map::new();
    let s = |x: &serde_json::Value| x.as_str().map(str::to_string);
    if let Some(name) = v.get("Name").and_then(s) {
        m.insert(
            "container.name".into(),
            Value::Str(name.trim_start_matches('/').to_string()),
        );
    }
    if let Some(image) = v.pointer("/Config/Image").and_then(s) {
        m.insert(
            "container.image.name".into(),
            Value::Str(image_name(&image)),
        );
    }
    if let Some(labels) = v.pointer("/Config/Labels").and_then(|l| l.as_object()) {
        if let Some(svc) = labels.get("com.docker.compose.service").and_then(s) {
            m.insert("docker.compose.service".into(), Value::Str(svc.clone()));
            m.insert("service.name".into(), Value::Str(svc));
        }
        if let Some(p) = labels.get("com.docker.compose.project").and_then(s) {
            m.insert("docker.compose.project".into(), Value::Str(p));
        }
    }
    Ok(m)
}

/// `registry:5000/team/app:1.2@sha256:...` → `registry:5000/team/app`.
fn image_name(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match no_digest[last_slash..].find(':') {
        Some(colon) => no_digest[..last_slash + colon].to_string(),
        None => no_digest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_that_could_not_be_read_is_read_again_at_the_next_check() {
        let dir = std::env::temp_dir().join(format!("ferrotel-docker-md-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.v2.json");
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let write = |text: &str| {
            std::fs::write(&file, text).unwrap();
            let f = std::fs::File::options().write(true).open(&file).unwrap();
            f.set_modified(when).unwrap(); // the same modification time both times
        };
        write(r#"{"Name":"/api","Config":{"#); // cut short
        let mut md = DockerMetadata::default();
        let mut resource = Map::new();
        md.enrich("c1", &dir, &mut resource);
        assert!(resource.is_empty());
        write(r#"{"Name":"/api","Config":{"Image":"app:1"}}"#);
        // the next check is due
        md.cache.get_mut("c1").unwrap().checked -= RECHECK;
        md.enrich("c1", &dir, &mut resource);
        assert_eq!(
            resource.get("container.name"),
            Some(&Value::Str("api".into()))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn image_names_lose_tag_and_digest() {
        assert_eq!(super::image_name("nginx:1.25"), "nginx");
        assert_eq!(
            super::image_name("registry:5000/team/app:1.2@sha256:abc"),
            "registry:5000/team/app"
        );
        assert_eq!(super::image_name("redis"), "redis");
    }
}
