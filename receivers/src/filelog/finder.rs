//! Finding the files to read.
//!
//! Go facts (`pkg/stanza/fileconsumer/matcher`): every `include` glob is expanded (with `**`
//! for any depth, files only), the results de-duplicated, those matching an `exclude` glob
//! dropped, and with `exclude_older_than` those whose modification time is older than that
//! age dropped; no match at all is logged as a warning at start.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use glob::{MatchOptions, Pattern};

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

#[derive(Debug, Clone)]
pub struct Finder {
    include: Vec<String>,
    exclude: Vec<Pattern>,
    older_than: Option<Duration>,
}

impl Finder {
    pub fn new(
        include: &[String],
        exclude: &[String],
        older_than: Option<Duration>,
    ) -> Result<Finder, String> {
        let exclude = exclude
            .iter()
            .map(|p| Pattern::new(p).map_err(|e| format!("parse exclude glob {p:?}: {e}")))
            .collect::<Result<_, _>>()?;
        for p in include {
            Pattern::new(p).map_err(|e| format!("parse include glob {p:?}: {e}"))?;
        }
        Ok(Finder {
            include: include.to_vec(),
            exclude,
            older_than: older_than.filter(|d| !d.is_zero()),
        })
    }

    /// The matching files, sorted.
    pub fn find(&self) -> Vec<PathBuf> {
        let mut out = BTreeSet::new();
        let now = SystemTime::now();
        for inc in &self.include {
            let Ok(paths) = glob::glob_with(inc, OPTIONS) else {
                continue;
            };
            for p in paths.flatten() {
                if self
                    .exclude
                    .iter()
                    .any(|x| x.matches_path_with(&p, OPTIONS))
                {
                    continue;
                }
                let Ok(meta) = std::fs::metadata(&p) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                if let (Some(age), Ok(mtime)) = (self.older_than, meta.modified()) {
                    if now.duration_since(mtime).unwrap_or_default() > age {
                        continue;
                    }
                }
                out.insert(p);
            }
        }
        out.into_iter().collect()
    }
}
