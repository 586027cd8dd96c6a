//! `recombine`: join consecutive entries of one source into one.
//!
//! Go facts (`pkg/stanza/operator/transformer/recombine/{config,transformer}.go`):
//! - exactly one of `is_first_entry` / `is_last_entry` (boolean expressions);
//!   `combine_field` is required; `combine_with` defaults to `"\n"`; `source_identifier`
//!   defaults to `attributes["log.file.path"]` (entries without it share one batch);
//!   `overwrite_with` is `oldest` (default: the first entry of a batch carries the result)
//!   or `newest`; `force_flush_period` 5s; `max_batch_size` 1000; `max_unmatched_batch_size`
//!   100 (used until a first/last match was seen in the batch); `max_sources` 1000 (when
//!   exceeded every batch is flushed); `max_log_size` 0 = no limit;
//! - first-entry mode: a match flushes the source's batch, then starts a new one;
//!   last-entry mode: a match is added, then the batch is flushed;
//! - a batch is flushed when its combined text exceeds `max_log_size`, reaches
//!   `max_batch_size` entries, or (without a match yet) `max_unmatched_batch_size` entries,
//!   and when its first entry is older than `force_flush_period`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::{hold, op_config, Base, BuildMode, Operator, Out};
use crate::entry::{Entry, Field, Value};
use crate::expr::Expr;
use crate::ByteSize;
use pipeline_api::config::GoDuration;

op_config!(RecombineConfig {
    is_first_entry: Option<String>,
    is_last_entry: Option<String>,
    combine_field: Option<Field>,
    combine_with: Option<String>,
    source_identifier: Option<Field>,
    overwrite_with: Option<String>,
    force_flush_period: Option<GoDuration>,
    max_batch_size: Option<usize>,
    max_unmatched_batch_size: Option<usize>,
    max_sources: Option<usize>,
    max_log_size: Option<ByteSize>,
});

struct Batch {
    base: Entry,
    entries: usize,
    text: String,
    first_seen: Instant,
    matched: bool,
    holds: HashMap<u64, u64>,
}

pub struct Recombine {
    base: Base,
    first: bool,
    cond: Expr,
    combine_field: Field,
    combine_with: String,
    source: Field,
    newest: bool,
    flush_after: Duration,
    max_batch: usize,
    max_unmatched: usize,
    max_sources: usize,
    max_log_size: usize,
    batches: BTreeMap<String, Batch>,
}

pub const DEFAULT_SOURCE: &str = "DefaultSourceIdentifier";

impl Recombine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base: Base,
        first: bool,
        cond: Expr,
        combine_field: Field,
        combine_with: String,
        source: Field,
        newest: bool,
        flush_after: Duration,
        max_batch: usize,
        max_unmatched: usize,
        max_sources: usize,
        max_log_size: usize,
    ) -> Recombine {
        Recombine {
            base,
            first,
            cond,
            combine_field,
            combine_with,
            source,
            newest,
            flush_after,
            max_batch,
            max_unmatched,
            max_sources,
            max_log_size,
            batches: BTreeMap::new(),
        }
    }

    fn flush_source(&mut self, source: &str, out: &mut Out) {
        if let Some(b) = self.batches.remove(source) {
            let mut e = b.base;
            if let Err(err) = self.combine_field.set(&mut e, Value::Str(b.text)) {
                tracing::warn!(operator = %self.base.id, error = %err, "Failed to set the combined field.");
            }
            // the combined entry starts where its first part started
            if let Some(o) = e.origin.as_mut() {
                if let Some(start) = b.holds.get(&o.reader) {
                    o.start = (*start).min(o.start);
                }
            }
            out.send(e);
        }
    }

    fn add(&mut self, e: Entry, source: String, matched: bool, out: &mut Out) {
        if !self.batches.contains_key(&source) && self.batches.len() >= self.max_sources {
            tracing::warn!(operator = %self.base.id, "Too many sources. Flushing all batched logs. Consider increasing max_sources parameter.");
            self.flush_all(out);
        }
        let part = match self.combine_field.get(&e) {
            Some(Value::Str(s)) => s.clone(),
            Some(other) => other.to_text(),
            None => String::new(),
        };
        let newest = self.newest;
        let batch = self.batches.entry(source.clone()).or_insert_with(|| Batch {
            base: e.clone(),
            entries: 0,
            text: String::new(),
            first_seen: Instant::now(),
            matched: false,
            holds: HashMap::new(),
        });
        hold(&mut batch.holds, &e);
        if batch.entries > 0 && newest {
            batch.base = e;
        }
        batch.entries += 1;
        batch.matched |= matched;
        if !batch.text.is_empty() {
            batch.text.push_str(&self.combine_with);
        }
        batch.text.push_str(&part);
        let full = (self.max_log_size > 0 && batch.text.len() > self.max_log_size)
            || (self.max_batch > 0 && batch.entries >= self.max_batch)
            || (!batch.matched && self.max_unmatched > 0 && batch.entries >= self.max_unmatched);
        if full {
            self.flush_source(&source, out);
        }
    }
}

impl Operator for Recombine {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let matched = match self.cond.eval_bool(&e) {
            Ok(m) => m,
            Err(err) => return self.base.fail(e, &err, out),
        };
        let source = match self.source.get(&e) {
            Some(Value::Str(s)) if !s.is_empty() => s.clone(),
            _ => DEFAULT_SOURCE.to_string(),
        };
        if matched && self.first {
            self.flush_source(&source, out);
            self.add(e, source, matched, out);
        } else if matched {
            self.add(e, source.clone(), matched, out);
            self.flush_source(&source, out);
        } else {
            self.add(e, source, matched, out);
        }
    }

    fn flush_expired(&mut self, now: Instant, out: &mut Out) {
        let expired: Vec<String> = self
            .batches
            .iter()
            .filter(|(_, b)| now.duration_since(b.first_seen) >= self.flush_after)
            .map(|(k, _)| k.clone())
            .collect();
        for s in expired {
            self.flush_source(&s, out);
        }
    }

    fn flush_all(&mut self, out: &mut Out) {
        let all: Vec<String> = self.batches.keys().cloned().collect();
        for s in all {
            self.flush_source(&s, out);
        }
    }

    /// A batch read from a file stays held (its file's checkpoint stays at the batch's first
    /// entry): the next start reads the whole multi-line record again.
    fn flush_unread(&mut self, out: &mut Out) {
        let unheld: Vec<String> = self
            .batches
            .iter()
            .filter(|(_, b)| b.holds.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for s in unheld {
            self.flush_source(&s, out);
        }
    }

    fn held(&self, acc: &mut HashMap<u64, u64>) {
        for b in self.batches.values() {
            for (r, s) in &b.holds {
                acc.entry(*r)
                    .and_modify(|x| *x = (*x).min(*s))
                    .or_insert(*s);
            }
        }
    }
}

pub fn build(
    id: &str,
    c: &RecombineConfig,
    _mode: BuildMode,
) -> Result<Box<dyn Operator>, (String, String)> {
    let (first, src, key) = match (&c.is_first_entry, &c.is_last_entry) {
        (Some(_), Some(_)) => {
            return Err((
                "is_last_entry".into(),
                "only one of is_first_entry and is_last_entry can be set".into(),
            ))
        }
        (Some(f), None) => (true, f, "is_first_entry"),
        (None, Some(l)) => (false, l, "is_last_entry"),
        (None, None) => {
            return Err((
                "is_first_entry".into(),
                "one of is_first_entry and is_last_entry must be set".into(),
            ))
        }
    };
    let cond = Expr::compile(src).map_err(|e| (key.to_string(), e))?;
    let combine_field = c.combine_field.clone().ok_or_else(|| {
        (
            "combine_field".to_string(),
            "missing required argument 'combine_field'".to_string(),
        )
    })?;
    let newest = match c.overwrite_with.as_deref() {
        None | Some("") | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => {
            return Err((
                "overwrite_with".into(),
                format!("invalid value '{other}' for parameter 'overwrite_with'"),
            ))
        }
    };
    Ok(Box::new(Recombine::new(
        Base::new(id, c.on_error, &c.if_expr).map_err(|e| ("if".to_string(), e))?,
        first,
        cond,
        combine_field,
        c.combine_with.clone().unwrap_or_else(|| "\n".into()),
        c.source_identifier
            .clone()
            .unwrap_or_else(|| Field::attr(crate::attrs::ATTR_FILE_PATH)),
        newest,
        c.force_flush_period
            .map(GoDuration::get)
            .unwrap_or(Duration::from_secs(5)),
        c.max_batch_size.unwrap_or(1000),
        c.max_unmatched_batch_size.unwrap_or(100),
        c.max_sources.unwrap_or(1000).max(1),
        c.max_log_size.map(|b| b.0 as usize).unwrap_or(0),
    )))
}
