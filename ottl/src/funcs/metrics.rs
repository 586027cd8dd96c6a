//! The transform processor's metric functions (Go `processor/transformprocessor/internal/metrics`
//! and `internal/coreinternal/aggregateutil`): new metrics derived from histograms and
//! summaries, copies, and aggregation of data points over attributes.
//!
//! Go facts kept here:
//! - appended metrics go to the end of the scope's metric list (the visitor moves
//!   `Ctx::added_metrics` there) and are visited by the same statements in turn;
//! - `extract_sum_metric`/`extract_count_metric` read a histogram's, exponential histogram's
//!   or summary's points (a summary counts as cumulative), skip histogram points without a
//!   sum, and add nothing when no point is left; the count metric's unit is `1`;
//! - `convert_summary_*_val_to_sum` run per data point: each summary point appends one new
//!   metric holding every point of its summary;
//! - aggregation groups points by attributes (as a JSON document: an int and a double of
//!   the same integral value are the same key, a NaN anywhere makes every such point one
//!   group), timestamp, the start time for delta temporality, and for histograms the bounds,
//!   min/max presence and flags (exponential: scale, min/max presence, flags); the merged
//!   metric keeps name, unit, description and type but not the metadata.

use std::fmt::Write as _;

use base64::Engine as _;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    Sum,
};

use pipeline_api::metric::{for_each_point_attributes, type_name};

use super::{get_str, Args};
use crate::compile::{Compiler, EditorFn};
use crate::context::{ContextKind, Item, Point};
use crate::parser::Call;

fn only_in(c: &Compiler, name: &str, ctx: ContextKind) -> Result<(), String> {
    if c.ctx != ctx {
        return Err(format!(
            "{name} is only available in the {ctx} context, not in {}",
            c.ctx
        ));
    }
    Ok(())
}

/// The temporality of the new sum: a histogram's own, cumulative for a summary, 0 (refused)
/// for anything else.
fn source_temporality(m: &Metric) -> i32 {
    match &m.data {
        Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
        Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality,
        Some(metric::Data::Summary(_)) => 2,
        _ => 0,
    }
}

fn temporality_arg(s: &str) -> Result<i32, String> {
    match s {
        "delta" => Ok(1),
        "cumulative" => Ok(2),
        o => Err(format!("unknown aggregation temporality: {o}")),
    }
}

fn new_sum(
    from: &Metric,
    name: String,
    unit: String,
    (temporality, monotonic): (i32, bool),
    data_points: Vec<NumberDataPoint>,
) -> Metric {
    Metric {
        name,
        description: from.description.clone(),
        unit,
        data: Some(metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        })),
        ..Default::default()
    }
}

fn number(
    attributes: &[KeyValue],
    start: u64,
    time: u64,
    value: number_data_point::Value,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes.to_vec(),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(value),
        ..Default::default()
    }
}

/// A source point's attributes, start, time, sum and count.
type SourcePoint<'a> = (&'a [KeyValue], u64, u64, Option<f64>, u64);

/// What `extract_sum_metric`/`extract_count_metric` take from one point.
enum Extract {
    Sum,
    Count,
}

fn extract(
    m: &Metric,
    what: &Extract,
    name: &str,
    suffix: &str,
    monotonic: bool,
) -> Result<Option<Metric>, String> {
    let temporality = source_temporality(m);
    if temporality == 0 {
        return Err(format!(
            "{name} requires an input metric of type Histogram, ExponentialHistogram or Summary, got {}",
            type_name(m)
        ));
    }
    let unit = match what {
        Extract::Sum => m.unit.clone(),
        Extract::Count => "1".to_string(),
    };
    let mut pts = Vec::new();
    let mut add = |attrs: &[KeyValue], start, time, sum: Option<f64>, count: u64| match what {
        Extract::Sum => {
            if let Some(s) = sum {
                pts.push(number(
                    attrs,
                    start,
                    time,
                    number_data_point::Value::AsDouble(s),
                ));
            }
        }
        Extract::Count => pts.push(number(
            attrs,
            start,
            time,
            number_data_point::Value::AsInt(count as i64),
        )),
    };
    // A summary's sum is not optional.
    let points: Vec<SourcePoint<'_>> = match &m.data {
        Some(metric::Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| {
                (
                    &p.attributes[..],
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.sum,
                    p.count,
                )
            })
            .collect(),
        Some(metric::Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|p| {
                (
                    &p.attributes[..],
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.sum,
                    p.count,
                )
            })
            .collect(),
        Some(metric::Data::Summary(s)) => s
            .data_points
            .iter()
            .map(|p| {
                (
                    &p.attributes[..],
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    Some(p.sum),
                    p.count,
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    for (attrs, start, time, sum, count) in points {
        add(attrs, start, time, sum, count);
    }
    Ok((!pts.is_empty()).then(|| {
        new_sum(
            m,
            format!("{}{suffix}", m.name),
            unit,
            (temporality, monotonic),
            pts,
        )
    }))
}

fn extract_fn(
    c: &Compiler,
    call: &Call,
    name: &'static str,
    what: Extract,
    default_suffix: &str,
) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["monotonic", "suffix"], 1)?;
    only_in(c, name, ContextKind::Metric)?;
    let monotonic = a.bool_lit(0)?;
    let suffix = a
        .opt_str_lit(1)?
        .unwrap_or_else(|| default_suffix.to_string());
    Ok(Box::new(move |ctx| {
        let new = match &ctx.item {
            Item::Metric(m) => extract(m, &what, name, &suffix, monotonic)?,
            _ => None,
        };
        ctx.added_metrics.extend(new);
        Ok(())
    }))
}

pub(crate) fn extract_sum_metric(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    extract_fn(c, call, "extract_sum_metric", Extract::Sum, "_sum")
}

pub(crate) fn extract_count_metric(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    extract_fn(c, call, "extract_count_metric", Extract::Count, "_count")
}

pub(crate) fn copy_metric(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["name", "description", "unit"], 0)?;
    only_in(c, "copy_metric", ContextKind::Metric)?;
    let name = a.opt_getter(0)?;
    let desc = a.opt_getter(1)?;
    let unit = a.opt_getter(2)?;
    Ok(Box::new(move |ctx| {
        let Item::Metric(m) = &ctx.item else {
            return Ok(());
        };
        // Go appends the copy first and then reads the new name, description and unit:
        // a failing getter leaves the copy with the fields set so far.
        ctx.added_metrics.push((**m).clone());
        let i = ctx.added_metrics.len() - 1;
        for (g, field) in [(&name, 0), (&desc, 1), (&unit, 2)] {
            if let Some(g) = g {
                let v = get_str(g, ctx)?.into_owned();
                let copy = &mut ctx.added_metrics[i];
                match field {
                    0 => copy.name = v,
                    1 => copy.description = v,
                    _ => copy.unit = v,
                }
            }
        }
        Ok(())
    }))
}

fn summary_to_sum(
    c: &Compiler,
    call: &Call,
    name: &'static str,
    default_suffix: &str,
    count: bool,
) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["stringAggTemp", "monotonic", "suffix"], 2)?;
    only_in(c, name, ContextKind::DataPoint)?;
    let temporality = temporality_arg(&a.str_lit(0)?)?;
    let monotonic = a.bool_lit(1)?;
    let suffix = a
        .opt_str_lit(2)?
        .unwrap_or_else(|| default_suffix.to_string());
    Ok(Box::new(move |ctx| {
        let Item::DataPoint {
            metric,
            point: Point::Summary(p),
            siblings: (before, after),
            ..
        } = &ctx.item
        else {
            return Ok(());
        };
        let all = before
            .iter()
            .chain(std::iter::once(&**p))
            .chain(after.iter());
        let mut pts = Vec::new();
        for q in all {
            let v = if count {
                number_data_point::Value::AsInt(q.count as i64)
            } else {
                number_data_point::Value::AsDouble(q.sum)
            };
            pts.push(number(
                &q.attributes,
                q.start_time_unix_nano,
                q.time_unix_nano,
                v,
            ));
        }
        let out = new_sum(
            metric,
            format!("{}{suffix}", metric.name),
            metric.unit.clone(),
            (temporality, monotonic),
            pts,
        );
        ctx.added_metrics.push(out);
        Ok(())
    }))
}

pub(crate) fn convert_summary_count_val_to_sum(
    c: &Compiler,
    call: &Call,
) -> Result<EditorFn, String> {
    summary_to_sum(c, call, "convert_summary_count_val_to_sum", "_count", true)
}

pub(crate) fn convert_summary_sum_val_to_sum(
    c: &Compiler,
    call: &Call,
) -> Result<EditorFn, String> {
    summary_to_sum(c, call, "convert_summary_sum_val_to_sum", "_sum", false)
}

/// Go's `aggregateutil.AggregationType`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Mean,
    Min,
    Max,
    Median,
    Count,
}

fn agg_arg(s: &str) -> Result<Agg, String> {
    Ok(match s {
        "sum" => Agg::Sum,
        "mean" => Agg::Mean,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "median" => Agg::Median,
        "count" => Agg::Count,
        o => {
            return Err(format!(
                "invalid aggregation function: 'unsupported function: '{o}'', valid options: sum, mean, min, max, median, count"
            ))
        }
    })
}

pub(crate) fn aggregate_on_attributes(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["aggregationFunction", "attributes"], 1)?;
    only_in(c, "aggregate_on_attributes", ContextKind::Metric)?;
    let agg = agg_arg(&a.str_lit(0)?)?;
    let keep = if a.has(1) { Some(a.str_list(1)?) } else { None };
    Ok(Box::new(move |ctx| {
        let Item::Metric(m) = &mut ctx.item else {
            return Ok(());
        };
        if matches!(m.data, Some(metric::Data::Summary(_))) {
            return Err(
                "aggregate_on_attributes does not support aggregating Summary metrics".into(),
            );
        }
        if let Some(keep) = &keep {
            for_each_point_attributes(m, |attrs| attrs.retain(|kv| keep.contains(&kv.key)));
        }
        aggregate(m, agg);
        Ok(())
    }))
}

pub(crate) fn aggregate_on_attribute_value(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(
        c,
        call,
        &["aggregationFunction", "attribute", "values", "newValue"],
        4,
    )?;
    only_in(c, "aggregate_on_attribute_value", ContextKind::Metric)?;
    let agg = agg_arg(&a.str_lit(0)?)?;
    let attribute = a.str_lit(1)?;
    let values = a.str_list(2)?;
    let new_value = a.str_lit(3)?;
    Ok(Box::new(move |ctx| {
        let Item::Metric(m) = &mut ctx.item else {
            return Ok(());
        };
        for_each_point_attributes(m, |attrs| {
            let Some(kv) = attrs.iter_mut().find(|kv| kv.key == attribute) else {
                return;
            };
            let slot = kv.value.get_or_insert_with(Default::default);
            for v in &values {
                // Go compares the value's string form, "" for a value that is not a string.
                let cur = match &slot.value {
                    Some(any_value::Value::StringValue(s)) => s.as_str(),
                    _ => "",
                };
                if cur == v {
                    slot.value = Some(any_value::Value::StringValue(new_value.clone()));
                }
            }
        });
        aggregate(m, agg);
        Ok(())
    }))
}

/// Points grouped by key, in the order each key was first seen. (Go's groups come out in
/// map order, which is random.)
fn group<P>(points: Vec<P>, key: impl Fn(&P) -> String) -> Vec<Vec<P>> {
    let mut keys: Vec<String> = Vec::new();
    let mut groups: Vec<Vec<P>> = Vec::new();
    for p in points {
        let k = key(&p);
        match keys.iter().position(|x| *x == k) {
            Some(i) => groups[i].push(p),
            None => {
                keys.push(k);
                groups.push(vec![p]);
            }
        }
    }
    groups
}

/// Replace the metric's points with one merged point per group; metadata goes, as Go builds
/// a new metric from name, unit, description and type only.
fn aggregate(m: &mut Metric, agg: Agg) {
    m.metadata.clear();
    match &mut m.data {
        None => {}
        Some(metric::Data::Gauge(Gauge { data_points })) => {
            let pts = std::mem::take(data_points);
            *data_points = group(pts, |p| {
                point_key(&p.attributes, p.time_unix_nano, None, &[])
            })
            .into_iter()
            .map(|g| merge_numbers(g, agg))
            .collect();
        }
        Some(metric::Data::Sum(s)) => {
            let delta = s.aggregation_temporality == 1;
            let pts = std::mem::take(&mut s.data_points);
            s.data_points = group(pts, |p| {
                point_key(
                    &p.attributes,
                    p.time_unix_nano,
                    delta.then_some(p.start_time_unix_nano),
                    &[],
                )
            })
            .into_iter()
            .map(|g| merge_numbers(g, agg))
            .collect();
        }
        Some(metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality,
        })) => {
            let delta = *aggregation_temporality == 1;
            let pts = std::mem::take(data_points);
            *data_points = group(pts, |p| {
                let mut extra: Vec<String> =
                    p.explicit_bounds.iter().map(|b| float_json(*b)).collect();
                if delta {
                    extra.push(p.start_time_unix_nano.to_string());
                }
                extra.extend([
                    p.min.is_some().to_string(),
                    p.max.is_some().to_string(),
                    p.flags.to_string(),
                ]);
                point_key(&p.attributes, p.time_unix_nano, None, &extra)
            })
            .into_iter()
            .map(merge_histograms)
            .collect();
        }
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points,
            aggregation_temporality,
        })) => {
            let delta = *aggregation_temporality == 1;
            let pts = std::mem::take(data_points);
            *data_points = group(pts, |p| {
                let mut extra = vec![
                    p.scale.to_string(),
                    p.min.is_some().to_string(),
                    p.max.is_some().to_string(),
                    p.flags.to_string(),
                ];
                if delta {
                    extra.push(p.start_time_unix_nano.to_string());
                }
                point_key(&p.attributes, p.time_unix_nano, None, &extra)
            })
            .into_iter()
            .map(merge_exp_histograms)
            .collect();
        }
        // Go has no grouping for summaries: the merged metric is an empty summary.
        Some(metric::Data::Summary(s)) => s.data_points.clear(),
    }
}

/// The group key: Go marshals `[attributes, timestamp, extra...]` to JSON and, when that
/// fails (a NaN or an infinity anywhere), uses the empty string.
fn point_key(attrs: &[KeyValue], time: u64, start: Option<u64>, extra: &[String]) -> String {
    let mut out = String::from("[");
    if !map_json(attrs, &mut out) || extra.iter().any(|e| e.is_empty()) {
        return String::new();
    }
    let _ = write!(out, ",{time}");
    if let Some(s) = start {
        let _ = write!(out, ",{s}");
    }
    for e in extra {
        out.push(',');
        out.push_str(e);
    }
    out.push(']');
    out
}

/// Go's JSON form of a float64; empty for NaN and infinities (which Go cannot marshal).
fn float_json(d: f64) -> String {
    if !d.is_finite() {
        String::new()
    } else if d == d.trunc() && d.abs() < 1e21 {
        format!("{d:.0}")
    } else {
        format!("{d:e}")
    }
}

/// Write the attributes as a JSON object with sorted keys; false when a value cannot be
/// marshalled.
fn map_json(attrs: &[KeyValue], out: &mut String) -> bool {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.dedup_by(|a, b| a.key == b.key);
    out.push('{');
    for (i, kv) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{:?}:", kv.key);
        if !any_json(kv.value.as_ref(), out) {
            return false;
        }
    }
    out.push('}');
    true
}

fn any_json(v: Option<&AnyValue>, out: &mut String) -> bool {
    match v.and_then(|v| v.value.as_ref()) {
        None => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => {
            let _ = write!(out, "{s:?}");
        }
        Some(any_value::Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(any_value::Value::DoubleValue(d)) => {
            let f = float_json(*d);
            if f.is_empty() {
                return false;
            }
            out.push_str(&f);
        }
        Some(any_value::Value::BytesValue(b)) => {
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            let _ = write!(out, "{s:?}");
        }
        Some(any_value::Value::ArrayValue(a)) => {
            out.push('[');
            for (i, x) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !any_json(Some(x), out) {
                    return false;
                }
            }
            out.push(']');
        }
        Some(any_value::Value::KvlistValue(m)) => return map_json(&m.values, out),
        // A profiles-only dictionary reference: no value of its own here.
        Some(any_value::Value::StringValueStrindex(_)) => out.push_str("null"),
    }
    true
}

fn double_of(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// Go's `IntValue()`: 0 for a double point.
fn int_of(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(number_data_point::Value::AsInt(i)) => i,
        _ => 0,
    }
}

/// Go's `intVal`: a double point truncated.
fn int_val(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d as i64,
        Some(number_data_point::Value::AsInt(i)) => i,
        None => 0,
    }
}

/// Go's `sort.Float64s`: NaN first.
fn sort_floats(v: &mut [f64]) {
    v.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn merge_numbers(group: Vec<NumberDataPoint>, agg: Agg) -> NumberDataPoint {
    let n = group.len();
    let mut it = group.into_iter();
    let Some(mut dp) = it.next() else {
        return NumberDataPoint::default();
    };
    let rest: Vec<NumberDataPoint> = it.collect();
    let min_start = |dp: &mut NumberDataPoint, q: &NumberDataPoint| {
        if q.start_time_unix_nano < dp.start_time_unix_nano {
            dp.start_time_unix_nano = q.start_time_unix_nano;
        }
    };
    match dp.value {
        Some(number_data_point::Value::AsDouble(first)) => {
            let mut v = first;
            let mut median = vec![first];
            for q in &rest {
                match agg {
                    Agg::Sum | Agg::Mean => v += double_of(q),
                    Agg::Max => v = go_max(v, double_of(q)),
                    Agg::Min => v = go_min(v, double_of(q)),
                    Agg::Median => median.push(double_of(q)),
                    // Go sets the count only while merging a second point: a group of one
                    // keeps its value.
                    Agg::Count => v = n as f64,
                }
                min_start(&mut dp, q);
            }
            if agg == Agg::Mean {
                v /= n as f64;
            }
            if agg == Agg::Median && median.len() > 1 {
                sort_floats(&mut median);
                let mid = median.len() / 2;
                v = if median.len() % 2 != 0 {
                    median[mid]
                } else {
                    (median[mid - 1] + median[mid]) / 2.0
                };
            }
            dp.value = Some(number_data_point::Value::AsDouble(v));
        }
        Some(number_data_point::Value::AsInt(first)) => {
            let mut v = first;
            let mut median = vec![first];
            for q in &rest {
                match agg {
                    Agg::Sum | Agg::Mean => v = v.wrapping_add(int_of(q)),
                    Agg::Max => v = v.max(int_val(q)),
                    Agg::Min => v = v.min(int_val(q)),
                    Agg::Median => median.push(int_val(q)),
                    Agg::Count => v = n as i64,
                }
                min_start(&mut dp, q);
            }
            if agg == Agg::Median && median.len() > 1 {
                median.sort_unstable();
                let mid = median.len() / 2;
                v = if median.len() % 2 != 0 {
                    median[mid]
                } else {
                    median[mid - 1].wrapping_add(median[mid]) / 2
                };
            }
            if agg == Agg::Mean {
                v /= n as i64;
            }
            dp.value = Some(number_data_point::Value::AsInt(v));
        }
        None => {}
    }
    dp
}

fn merge_histograms(group: Vec<HistogramDataPoint>) -> HistogramDataPoint {
    let mut it = group.into_iter();
    let Some(mut dp) = it.next() else {
        return HistogramDataPoint::default();
    };
    for mut q in it {
        if q.count == 0 {
            continue;
        }
        dp.count = dp.count.wrapping_add(q.count);
        dp.sum = Some(dp.sum.unwrap_or(0.0) + q.sum.unwrap_or(0.0));
        let (qmin, qmax) = (q.min.unwrap_or(0.0), q.max.unwrap_or(0.0));
        if dp.min.is_some_and(|m| m > qmin) {
            dp.min = Some(qmin);
        }
        if dp.max.is_some_and(|m| m < qmax) {
            dp.max = Some(qmax);
        }
        // Go indexes past the end (and panics) when the other point has more buckets;
        // they are appended here.
        for (b, c) in q.bucket_counts.iter().enumerate() {
            match dp.bucket_counts.get_mut(b) {
                Some(x) => *x = x.wrapping_add(*c),
                None => dp.bucket_counts.push(*c),
            }
        }
        dp.exemplars.append(&mut q.exemplars);
        if q.start_time_unix_nano < dp.start_time_unix_nano {
            dp.start_time_unix_nano = q.start_time_unix_nano;
        }
    }
    dp
}

fn merge_exp_histograms(
    group: Vec<ExponentialHistogramDataPoint>,
) -> ExponentialHistogramDataPoint {
    let mut it = group.into_iter();
    let Some(mut dp) = it.next() else {
        return ExponentialHistogramDataPoint::default();
    };
    for mut q in it {
        if q.count == 0 {
            continue;
        }
        dp.count = dp.count.wrapping_add(q.count);
        dp.sum = Some(dp.sum.unwrap_or(0.0) + q.sum.unwrap_or(0.0));
        dp.zero_count = dp.zero_count.wrapping_add(q.zero_count);
        let (qmin, qmax) = (q.min.unwrap_or(0.0), q.max.unwrap_or(0.0));
        if dp.min.is_some_and(|m| m > qmin) {
            dp.min = Some(qmin);
        }
        if dp.max.is_some_and(|m| m < qmax) {
            dp.max = Some(qmax);
        }
        merge_side(&mut dp.negative, q.negative.take());
        merge_side(&mut dp.positive, q.positive.take());
        dp.exemplars.append(&mut q.exemplars);
        if q.start_time_unix_nano < dp.start_time_unix_nano {
            dp.start_time_unix_nano = q.start_time_unix_nano;
        }
    }
    dp
}

/// The highest bucket index a merge fills in.
const MAX_BUCKETS: usize = 1 << 16;

/// One side (positive or negative) of an exponential histogram merge, as Go's
/// `mergeExponentialHistogramBuckets` plus the offset change and trim that follow it.
fn merge_side(tgt: &mut Option<Buckets>, src: Option<Buckets>) {
    let Some(src) = src else {
        return;
    };
    let t = tgt.get_or_insert_with(Default::default);
    let (toff, soff) = (t.offset, src.offset);
    let counts = &mut t.bucket_counts;
    if toff == soff {
        for (b, c) in src.bucket_counts.iter().enumerate() {
            match counts.get_mut(b) {
                Some(x) => *x = x.wrapping_add(*c),
                None => counts.push(*c),
            }
        }
    } else if soff < toff {
        // Go prepends each non-zero count of the source, last bucket first.
        for c in src.bucket_counts.iter().rev() {
            if *c > 0 {
                counts.insert(0, *c);
            }
        }
    } else {
        let shift = (i64::from(soff) - i64::from(toff)) as usize;
        for (b, c) in src.bucket_counts.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            let idx = b + shift;
            if idx > MAX_BUCKETS {
                // An offset gap this wide would need gigabytes of empty buckets.
                continue;
            }
            if counts.len() <= idx {
                counts.resize(idx + 1, 0);
            }
            counts[idx] = counts[idx].wrapping_add(*c);
        }
    }
    if toff != soff && !src.bucket_counts.is_empty() {
        t.offset = toff.min(soff);
        let zeros = t.bucket_counts.iter().take_while(|c| **c == 0).count();
        t.bucket_counts.drain(..zeros);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_treat_integral_doubles_as_ints_and_nan_as_unmarshallable() {
        let a = [KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(1)),
            }),
            ..Default::default()
        }];
        let b = [KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::DoubleValue(1.0)),
            }),
            ..Default::default()
        }];
        assert_eq!(point_key(&a, 5, None, &[]), point_key(&b, 5, None, &[]));
        assert_ne!(point_key(&a, 5, None, &[]), point_key(&a, 6, None, &[]));
        let nan = [KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::DoubleValue(f64::NAN)),
            }),
            ..Default::default()
        }];
        assert_eq!(point_key(&nan, 5, None, &[]), "");
    }
}
