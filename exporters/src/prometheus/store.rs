//! What the scrape endpoint serves: one state per series, keyed by family name and label set.
//!
//! Facts relied on (Go `exporter/prometheusexporter/accumulator.go`, `collector.go`):
//! - a series is identified by the metric, its attributes, its scope and the resource's
//!   `job`/`instance` (`timeseriesSignature`): two resources with different `job`/`instance`
//!   never overwrite each other. Ferrotel keys by the final label set, which holds all of
//!   these (and every resource attribute with `resource_to_telemetry_conversion`), so two
//!   series are only merged when Prometheus could not tell them apart anyway.
//! - a series not updated for `metric_expiration` is dropped (`Collect` checks `updated`).
//! - a point with the NoRecordedValue flag deletes its series.
//! - the first type and description seen for a family name win; points of another type are
//!   dropped ("instrument type conflict, using existing type definition").
//! - `target_info` (gauge, help "Target metadata", value 1) is made from the resources of the
//!   series being served, one per `job`+`instance`, only when both are known
//!   (`resourceSignature`), labelled with the other resource attributes and `job`/`instance`,
//!   prefixed by the namespace, without `const_labels`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::promtranslate::cumulative::{Merge, State};
use crate::promtranslate::points::{Exemplar, FamilyType, Labels, Point, ResourceInfo};

pub struct Series {
    pub state: State,
    pub exemplars: Vec<Exemplar>,
    pub resource: Arc<ResourceInfo>,
    pub updated: Instant,
}

pub struct Family {
    pub kind: FamilyType,
    pub help: String,
    pub series: BTreeMap<Labels, Series>,
}

/// What a scrape sees.
pub struct Snapshot<'a> {
    pub families: Vec<(&'a str, &'a Family)>,
    pub target_info: Vec<Labels>,
}

#[derive(Default)]
pub struct Store {
    families: BTreeMap<Arc<str>, Family>,
    /// Points dropped because their family already has another type.
    pub type_conflicts: u64,
}

impl Store {
    pub fn ingest(&mut self, points: Vec<Point>, now: Instant) {
        for p in points {
            if p.no_recorded_value {
                if let Some(f) = self.families.get_mut(&*p.name) {
                    f.series.remove(&p.labels);
                    if f.series.is_empty() {
                        self.families.remove(&*p.name);
                    }
                }
                continue;
            }
            let family = self
                .families
                .entry(p.name.clone())
                .or_insert_with(|| Family {
                    kind: p.family,
                    help: p.help.to_string(),
                    series: BTreeMap::new(),
                });
            if family.kind != p.family {
                self.type_conflicts += 1;
                tracing::debug!(
                    metric = %p.name,
                    existing = family.kind.text_name(),
                    dropped = p.family.text_name(),
                    "Instrument type conflict, using existing type definition."
                );
                continue;
            }
            match family.series.get_mut(&p.labels) {
                Some(s) => {
                    if s.state.merge(&p) == Merge::Updated {
                        s.exemplars = p.exemplars.clone();
                        s.resource = p.resource.clone();
                        s.updated = now;
                    }
                }
                None => {
                    let series = Series {
                        state: State::new(&p),
                        exemplars: p.exemplars.clone(),
                        resource: p.resource.clone(),
                        updated: now,
                    };
                    family.series.insert(p.labels, series);
                }
            }
        }
    }

    /// Drop series not updated within `expiration` of `now`.
    pub fn expire(&mut self, now: Instant, expiration: Duration) {
        self.families.retain(|_, f| {
            f.series
                .retain(|_, s| now.saturating_duration_since(s.updated) <= expiration);
            !f.series.is_empty()
        });
    }

    /// The families in name order and the `target_info` label sets.
    pub fn snapshot(&self) -> Snapshot<'_> {
        // One target per job+instance: the resource of its most recently updated series.
        let mut targets: BTreeMap<(&str, &str), (&ResourceInfo, Instant)> = BTreeMap::new();
        for f in self.families.values() {
            for s in f.series.values() {
                let (Some(job), Some(instance)) = (&s.resource.job, &s.resource.instance) else {
                    continue;
                };
                let e = targets
                    .entry((job.as_str(), instance.as_str()))
                    .or_insert((&s.resource, s.updated));
                if s.updated > e.1 {
                    *e = (&s.resource, s.updated);
                }
            }
        }
        let target_info = targets
            .into_iter()
            .map(|((job, instance), (r, _))| {
                let mut labels: BTreeMap<Arc<str>, Arc<str>> = r.labels.iter().cloned().collect();
                labels.insert("job".into(), job.into());
                labels.insert("instance".into(), instance.into());
                labels.into_iter().collect()
            })
            .collect();
        Snapshot {
            families: self.families.iter().map(|(k, v)| (&**k, v)).collect(),
            target_info,
        }
    }
}
