//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0.0, written by hand for
//! full control of names, labels, timestamps and exemplars.
//!
//! Facts relied on (Go `prometheus/common/expfmt`, `client_golang` as used through
//! `promhttp.HandlerFor` by the Go exporter):
//! - families are written in name order (`Registry.Gather` sorts them), series in label order,
//!   labels sorted by name with `le` / `quantile` written last (`writeLabelPairs` appends the
//!   additional label after the metric's own).
//! - text: `# HELP name help` (written even for an empty help, as `Desc` always has one) and
//!   `# TYPE name type`; histograms write `_bucket` lines, a `le="+Inf"` bucket equal to the
//!   count when the bounds do not end in `+Inf`, then `_sum` and `_count`; summaries write the
//!   quantile lines then `_sum` and `_count`; with timestamps, milliseconds after the value.
//! - OpenMetrics: a counter's family (HELP/TYPE) is its name without `_total` and its sample
//!   is `<family>_total`; counts (`_bucket`, `_count`) are integers, other values OpenMetrics
//!   floats; timestamps are seconds; exemplars are ` # {labels} value timestamp` after a
//!   counter's sample (the last exemplar) or after the bucket whose bound is the first at or
//!   above the exemplar's value (`+Inf` when none); the body ends with `# EOF`.
//! - Go's exporter converts exemplars of counters and histograms only, with the labels
//!   `trace_id` and `span_id` (sorted by name: `span_id` first).
//! - content negotiation (`expfmt.NegotiateIncludingOpenMetrics`, only with
//!   `enable_open_metrics`): the accepted types are tried by decreasing `q`;
//!   `application/openmetrics-text` with `version` 1.0.0, 0.0.1 or none selects OpenMetrics,
//!   `text/plain` with `version` 0.0.4 or none selects text; anything else falls back to text.

use crate::promtranslate::exphist::classic_buckets;
use crate::promtranslate::format::{escape_help, escape_label_value, om_float, text_float};
use crate::promtranslate::points::{Exemplar, FamilyType, Labels, Value};

use super::store::{Series, Snapshot};

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    /// The OpenMetrics version asked for: `1.0.0` or `0.0.1`.
    OpenMetrics(&'static str),
}

impl Format {
    pub fn content_type(self) -> String {
        match self {
            Format::Text => TEXT_CONTENT_TYPE.to_string(),
            Format::OpenMetrics(v) => {
                format!("application/openmetrics-text; version={v}; charset=utf-8")
            }
        }
    }
}

/// Pick the format for an `Accept` header.
pub fn negotiate(accept: Option<&str>, open_metrics_enabled: bool) -> Format {
    if !open_metrics_enabled {
        return Format::Text;
    }
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut ranges: Vec<(f64, usize, &str, Option<&str>)> = Vec::new();
    for (i, part) in accept.split(',').enumerate() {
        let mut params = part.split(';');
        let media = params.next().unwrap_or("").trim();
        let mut q = 1.0;
        let mut version = None;
        for p in params {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            match k.trim() {
                "q" => q = v.trim().parse().unwrap_or(0.0),
                "version" => version = Some(v.trim().trim_matches('"')),
                _ => {}
            }
        }
        if q > 0.0 {
            ranges.push((q, i, media, version));
        }
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, media, version) in ranges {
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            match version {
                None | Some("1.0.0") => return Format::OpenMetrics("1.0.0"),
                Some("0.0.1") => return Format::OpenMetrics("0.0.1"),
                _ => {}
            }
        }
        if media.eq_ignore_ascii_case("text/plain") && matches!(version, None | Some("0.0.4")) {
            return Format::Text;
        }
    }
    Format::Text
}

/// Options of one rendering.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub format: Format,
    pub send_timestamps: bool,
}

/// `target_info`'s name and help.
pub struct TargetInfoFamily<'a> {
    pub name: &'a str,
}

pub fn render(
    snapshot: &Snapshot<'_>,
    target: &TargetInfoFamily<'_>,
    opts: RenderOptions,
) -> String {
    let mut w = Writer {
        out: String::with_capacity(4096),
        om: matches!(opts.format, Format::OpenMetrics(_)),
        timestamps: opts.send_timestamps,
    };
    let mut target_written = snapshot.target_info.is_empty();
    for (name, family) in &snapshot.families {
        if !target_written && target.name <= *name {
            w.target_info(target.name, &snapshot.target_info);
            target_written = true;
            if target.name == *name {
                // A data family with target_info's name: target_info wins, as the first one
                // collected does in Go.
                continue;
            }
        }
        w.family_header(name, family.kind, &family.help);
        for (labels, series) in &family.series {
            w.series(name, family.kind, labels, series);
        }
    }
    if !target_written {
        w.target_info(target.name, &snapshot.target_info);
    }
    if w.om {
        w.out.push_str("# EOF\n");
    }
    w.out
}

struct Writer {
    out: String,
    om: bool,
    timestamps: bool,
}

impl Writer {
    fn family_header(&mut self, name: &str, kind: FamilyType, help: &str) {
        let family = if self.om && kind == FamilyType::Counter {
            name.strip_suffix("_total").unwrap_or(name)
        } else {
            name
        };
        self.out.push_str("# HELP ");
        self.out.push_str(family);
        self.out.push(' ');
        escape_help(help, self.om, &mut self.out);
        self.out.push('\n');
        self.out.push_str("# TYPE ");
        self.out.push_str(family);
        self.out.push(' ');
        self.out.push_str(if self.om {
            kind.om_name()
        } else {
            kind.text_name()
        });
        self.out.push('\n');
    }

    fn target_info(&mut self, name: &str, targets: &[Labels]) {
        self.family_header(name, FamilyType::Gauge, "Target metadata");
        for labels in targets {
            self.sample(name, "", labels, None, &self.float(1.0), None, None);
        }
    }

    fn float(&self, f: f64) -> String {
        if self.om {
            om_float(f)
        } else {
            text_float(f)
        }
    }

    /// A count: an integer in OpenMetrics, a float in text 0.0.4.
    fn count(&self, c: u64) -> String {
        if self.om {
            c.to_string()
        } else {
            text_float(c as f64)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &Labels,
        extra: Option<(&str, &str)>,
        value: &str,
        time_ns: Option<u64>,
        exemplar: Option<&Exemplar>,
    ) {
        let out = &mut self.out;
        out.push_str(name);
        out.push_str(suffix);
        if !labels.is_empty() || extra.is_some() {
            out.push('{');
            let mut first = true;
            for (k, v) in labels.iter().map(|(k, v)| (&**k, &**v)).chain(extra) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(k);
                out.push_str("=\"");
                escape_label_value(v, out);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        out.push_str(value);
        if let Some(t) = time_ns.filter(|_| self.timestamps) {
            out.push(' ');
            let ms = (t / 1_000_000) as i64;
            if self.om {
                out.push_str(&om_float(ms as f64 / 1000.0));
            } else {
                out.push_str(&ms.to_string());
            }
        }
        if let Some(e) = exemplar.filter(|_| self.om) {
            out.push_str(" # {");
            let mut first = true;
            for (k, v) in [("span_id", &e.span_id), ("trace_id", &e.trace_id)] {
                if v.is_empty() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(k);
                out.push_str("=\"");
                escape_label_value(v, out);
                out.push('"');
            }
            out.push_str("} ");
            out.push_str(&om_float(e.value));
            if e.time_ns != 0 {
                out.push(' ');
                out.push_str(&om_float(e.time_ns as f64 / 1e9));
            }
        }
        out.push('\n');
    }

    fn series(&mut self, name: &str, kind: FamilyType, labels: &Labels, s: &Series) {
        let t = Some(s.state.time_ns);
        match &s.state.value {
            Value::Number(v) => {
                let v = self.float(*v);
                if self.om && kind == FamilyType::Counter {
                    let base = name.strip_suffix("_total").unwrap_or(name);
                    self.sample(base, "_total", labels, None, &v, t, s.exemplars.last());
                } else {
                    self.sample(name, "", labels, None, &v, t, None);
                }
            }
            Value::Histogram(h) => {
                let buckets = h.cumulative_buckets();
                self.buckets(name, labels, &buckets, h.count, t, &s.exemplars);
                self.sum_count(name, labels, h.sum.unwrap_or(0.0), h.count, t);
            }
            Value::Exponential(e) => {
                let buckets = classic_buckets(e);
                self.buckets(name, labels, &buckets, e.count, t, &s.exemplars);
                self.sum_count(name, labels, e.sum.unwrap_or(0.0), e.count, t);
            }
            Value::Summary(sm) => {
                for (q, v) in &sm.quantiles {
                    let q = self.float(*q);
                    let v = self.float(*v);
                    self.sample(name, "", labels, Some(("quantile", &q)), &v, t, None);
                }
                self.sum_count(name, labels, sm.sum, sm.count, t);
            }
        }
    }

    fn buckets(
        &mut self,
        name: &str,
        labels: &Labels,
        buckets: &[(f64, u64)],
        count: u64,
        t: Option<u64>,
        exemplars: &[Exemplar],
    ) {
        // Each exemplar goes to the first bucket whose bound is at or above its value; the
        // last one given for a bucket wins (client_golang `NewMetricWithExemplars`).
        let mut assigned: Vec<Option<&Exemplar>> = vec![None; buckets.len() + 1];
        for e in exemplars {
            let i = buckets
                .iter()
                .position(|(le, _)| e.value <= *le)
                .unwrap_or(buckets.len());
            assigned[i] = Some(e);
        }
        for (i, (le, c)) in buckets.iter().enumerate() {
            let le = self.float(*le);
            let c = self.count(*c);
            self.sample(
                name,
                "_bucket",
                labels,
                Some(("le", &le)),
                &c,
                t,
                assigned[i],
            );
        }
        let c = self.count(count);
        self.sample(
            name,
            "_bucket",
            labels,
            Some(("le", "+Inf")),
            &c,
            t,
            assigned[buckets.len()],
        );
    }

    fn sum_count(&mut self, name: &str, labels: &Labels, sum: f64, count: u64, t: Option<u64>) {
        let sum = self.float(sum);
        self.sample(name, "_sum", labels, None, &sum, t, None);
        let count = self.count(count);
        self.sample(name, "_count", labels, None, &count, t, None);
    }
}
