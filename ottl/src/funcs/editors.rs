//! Editors (Go `pkg/ottl/ottlfuncs`, lower-case functions): they change the data.

use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, NumberDataPoint, Sum,
};
use regex::Regex;
use std::borrow::Cow;

use super::{get_map, get_str, metrics, Args};
use crate::compile::{Compiler, EditorFn};
use crate::context::Ctx;
use crate::parser::Call;
use crate::value::Value;

type Factory = fn(&Compiler, &Call) -> Result<EditorFn, String>;

pub(crate) const EDITORS: &[(&str, Factory)] = &[
    ("set", set),
    ("delete_key", delete_key),
    ("delete_matching_keys", delete_matching_keys),
    ("keep_keys", keep_keys),
    ("keep_matching_keys", keep_matching_keys),
    ("limit", limit),
    ("truncate_all", truncate_all),
    ("replace_pattern", replace_pattern),
    ("replace_all_patterns", replace_all_patterns),
    ("replace_match", replace_match),
    ("replace_all_matches", replace_all_matches),
    ("merge_maps", merge_maps),
    ("flatten", flatten),
    ("append", append),
    ("convert_sum_to_gauge", convert_sum_to_gauge),
    ("convert_gauge_to_sum", convert_gauge_to_sum),
    ("scale_metric", scale_metric),
    ("extract_sum_metric", metrics::extract_sum_metric),
    ("extract_count_metric", metrics::extract_count_metric),
    ("copy_metric", metrics::copy_metric),
    ("aggregate_on_attributes", metrics::aggregate_on_attributes),
    (
        "aggregate_on_attribute_value",
        metrics::aggregate_on_attribute_value,
    ),
    (
        "convert_summary_count_val_to_sum",
        metrics::convert_summary_count_val_to_sum,
    ),
    (
        "convert_summary_sum_val_to_sum",
        metrics::convert_summary_sum_val_to_sum,
    ),
];

fn metric_only(c: &Compiler, name: &str) -> Result<(), String> {
    if c.ctx != crate::context::ContextKind::Metric {
        return Err(format!(
            "{name} is only available in the metric context, not in {}",
            c.ctx
        ));
    }
    Ok(())
}

fn convert_sum_to_gauge(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    Args::bind(c, call, &[], 0)?;
    metric_only(c, "convert_sum_to_gauge")?;
    Ok(Box::new(|ctx| {
        if let crate::context::Item::Metric(m) = &mut ctx.item {
            if let Some(metric::Data::Sum(s)) = &mut m.data {
                let points = std::mem::take(&mut s.data_points);
                m.data = Some(metric::Data::Gauge(Gauge {
                    data_points: points,
                }));
            }
        }
        Ok(())
    }))
}

fn convert_gauge_to_sum(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["stringAggTemp", "monotonic"], 2)?;
    metric_only(c, "convert_gauge_to_sum")?;
    let temporality = match a.str_lit(0)?.as_str() {
        "delta" => 1,
        "cumulative" => 2,
        o => return Err(format!("unknown aggregation temporality: {o}")),
    };
    let monotonic = a.bool_lit(1)?;
    Ok(Box::new(move |ctx| {
        if let crate::context::Item::Metric(m) = &mut ctx.item {
            if let Some(metric::Data::Gauge(g)) = &mut m.data {
                let points = std::mem::take(&mut g.data_points);
                m.data = Some(metric::Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: temporality,
                    is_monotonic: monotonic,
                }));
            }
        }
        Ok(())
    }))
}

fn scale_number(p: &mut NumberDataPoint, f: f64) {
    p.value = match p.value {
        Some(number_data_point::Value::AsInt(i)) => {
            Some(number_data_point::Value::AsInt((i as f64 * f) as i64))
        }
        Some(number_data_point::Value::AsDouble(d)) => {
            Some(number_data_point::Value::AsDouble(d * f))
        }
        None => None,
    };
}

fn scale_metric(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["factor", "unit"], 1)?;
    metric_only(c, "scale_metric")?;
    let factor = match a.getter(0)?.literal() {
        Some(Value::Double(d)) => *d,
        Some(Value::Int(i)) => *i as f64,
        _ => return Err("invalid argument at position 0: must be a float literal".into()),
    };
    let unit = a.opt_getter(1)?;
    Ok(Box::new(move |ctx| {
        let unit = match &unit {
            Some(g) => Some(get_str(g, ctx)?),
            None => None,
        };
        if let crate::context::Item::Metric(m) = &mut ctx.item {
            match &mut m.data {
                Some(metric::Data::Gauge(g)) => g
                    .data_points
                    .iter_mut()
                    .for_each(|p| scale_number(p, factor)),
                Some(metric::Data::Sum(s)) => s
                    .data_points
                    .iter_mut()
                    .for_each(|p| scale_number(p, factor)),
                Some(metric::Data::Histogram(h)) => {
                    for p in &mut h.data_points {
                        p.sum = p.sum.map(|s| s * factor);
                        p.min = p.min.map(|s| s * factor);
                        p.max = p.max.map(|s| s * factor);
                        p.explicit_bounds.iter_mut().for_each(|b| *b *= factor);
                    }
                }
                Some(metric::Data::ExponentialHistogram(_)) | Some(metric::Data::Summary(_)) => {
                    return Err(format!(
                        "unsupported metric type for scale_metric: {}",
                        m.name
                    ));
                }
                None => {}
            }
            if let Some(u) = unit {
                m.unit = u.into_owned();
            }
        }
        Ok(())
    }))
}

fn set(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "value"], 2)?;
    let target = a.path(0)?;
    let value = a.getter(1)?;
    Ok(Box::new(move |ctx| {
        let v = value.get(ctx)?;
        target.set(ctx, v)
    }))
}

fn delete_key(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "key"], 2)?;
    let target = a.path(0)?;
    let key = a.getter(1)?;
    Ok(Box::new(move |ctx| {
        let k = get_str(&key, ctx)?;
        // pdata `Map.Remove`: the first entry goes, the last entry takes its place
        target.with_attr_map(ctx, |m| {
            m.remove(&k);
        })?;
        Ok(())
    }))
}

fn delete_matching_keys(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "pattern"], 2)?;
    let target = a.path(0)?;
    let re = a.key_pattern(1, "delete_matching_keys")?;
    Ok(Box::new(move |ctx| {
        target.with_attr_map(ctx, |m| m.remove_key_bytes_if(&mut |k| re.is_match(k)))?;
        Ok(())
    }))
}

fn keep_keys(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "keys"], 2)?;
    let target = a.path(0)?;
    let keys = a.str_list(1)?;
    Ok(Box::new(move |ctx| {
        target.with_attr_map(ctx, |m| {
            m.remove_key_bytes_if(&mut |k| !keys.iter().any(|x| x.as_bytes() == k))
        })?;
        Ok(())
    }))
}

fn keep_matching_keys(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "pattern"], 2)?;
    let target = a.path(0)?;
    let re = a.key_pattern(1, "keep_matching_keys")?;
    Ok(Box::new(move |ctx| {
        target.with_attr_map(ctx, |m| m.remove_key_bytes_if(&mut |k| !re.is_match(k)))?;
        Ok(())
    }))
}

fn limit(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "limit", "priorityKeys"], 2)?;
    let target = a.path(0)?;
    let limit = a.int_lit(1)?;
    if limit < 0 {
        return Err(format!(
            "invalid limit for limit function, {limit} cannot be negative"
        ));
    }
    let prio = if a.has(2) { a.str_list(2)? } else { Vec::new() };
    if prio.len() as i64 > limit {
        return Err(format!(
            "invalid limit for limit function, {limit} cannot be less than number of priority attributes {}",
            prio.len()
        ));
    }
    let limit = limit as usize;
    Ok(Box::new(move |ctx| {
        target.with_map(ctx, |m| {
            if m.len() <= limit {
                return;
            }
            let present = prio
                .iter()
                .filter(|p| m.iter().any(|kv| &kv.key == *p))
                .count();
            let mut budget = limit - present;
            m.retain(|kv| {
                if prio.contains(&kv.key) {
                    return true;
                }
                if budget > 0 {
                    budget -= 1;
                    true
                } else {
                    false
                }
            });
        })?;
        Ok(())
    }))
}

/// Cut a string to at most `n` bytes without splitting a character.
fn truncate_str(s: &mut String, n: usize) {
    if s.len() > n {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

fn truncate_all(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "limit"], 2)?;
    let target = a.path(0)?;
    let limit = a.int_lit(1)?;
    if limit < 0 {
        return Err(format!(
            "invalid limit for truncate_all function, {limit} cannot be negative"
        ));
    }
    let limit = limit as usize;
    Ok(Box::new(move |ctx| {
        // only the strings longer than the limit are read (in the wire form, the rest
        // stay bytes)
        target.with_attr_map(ctx, |m| {
            m.for_long_strings(limit, &mut |s| truncate_str(s, limit))
        })?;
        Ok(())
    }))
}

/// Go's optional hashing function applied to a replacement (`replace_pattern(..., SHA256)`).
/// A hash applied to a replacement.
type HashFn = fn(&str) -> String;

fn hash_fn(a: &Args<'_>, i: usize) -> Result<Option<HashFn>, String> {
    Ok(match a.func_name(i)?.as_deref() {
        None => None,
        Some("SHA256") => Some(super::converters::sha256_hex as fn(&str) -> String),
        Some("SHA1") => Some(super::converters::sha1_hex),
        Some("MD5") => Some(super::converters::md5_hex),
        Some("FNV") => Some(|s: &str| super::converters::fnv64a(s.as_bytes()).to_string()),
        Some(o) => return Err(format!("unsupported function {o:?} as replacement hash")),
    })
}

/// Replace every match of `re` in `s`; with a hash function, the expanded replacement is hashed.
fn replace_re(
    re: &Regex,
    s: &str,
    repl: &str,
    hash: Option<fn(&str) -> String>,
    format: Option<&str>,
) -> Option<String> {
    // one search: what did not match comes back borrowed
    let out = match hash {
        None => re.replace_all(s, repl),
        Some(h) => re.replace_all(s, |caps: &regex::Captures<'_>| {
            let mut expanded = String::new();
            caps.expand(repl, &mut expanded);
            let hashed = h(&expanded);
            match format {
                Some(f) => f.replacen("%s", &hashed, 1),
                None => hashed,
            }
        }),
    };
    match out {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => Some(s),
    }
}

fn replace_pattern(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(
        c,
        call,
        &[
            "target",
            "regex",
            "replacement",
            "function",
            "replacementFormat",
        ],
        3,
    )?;
    let target = a.path(0)?;
    let re = a.regex(1, "replace_pattern")?;
    let repl = a.getter(2)?;
    let hash = hash_fn(&a, 3)?;
    let format = a.opt_getter(4)?;
    let replaced = move |s: &str, ctx: &Ctx<'_>| -> Result<Option<String>, String> {
        let r = get_str(&repl, ctx)?;
        let f = match &format {
            Some(g) => Some(get_str(g, ctx)?),
            None => None,
        };
        Ok(replace_re(&re, s, &r, hash, f.as_deref()))
    };
    Ok(Box::new(move |ctx| {
        // in the wire form the string is matched where it lies: no copy when nothing matches
        let new = match target.with_wire_str(ctx, &replaced) {
            Some(new) => new?,
            None => {
                let Value::Str(s) = target.get(ctx)? else {
                    return Ok(());
                };
                replaced(&s, ctx)?
            }
        };
        if let Some(new) = new {
            target.set(ctx, Value::Str(new))?;
        }
        Ok(())
    }))
}

fn replace_all_patterns(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(
        c,
        call,
        &[
            "target",
            "mode",
            "regex",
            "replacement",
            "function",
            "replacementFormat",
        ],
        4,
    )?;
    let target = a.path(0)?;
    let mode = a.str_lit(1)?;
    if mode != "key" && mode != "value" {
        return Err(format!(
            "invalid mode {mode}, must be either 'key' or 'value'"
        ));
    }
    let re = a.regex(2, "replace_all_patterns")?;
    let repl = a.getter(3)?;
    let hash = hash_fn(&a, 4)?;
    let format = a.opt_getter(5)?;
    Ok(Box::new(move |ctx| {
        let r = get_str(&repl, ctx)?;
        let f = match &format {
            Some(g) => Some(get_str(g, ctx)?),
            None => None,
        };
        target.with_map(ctx, |m| {
            for kv in m.iter_mut() {
                if mode == "key" {
                    if let Some(new) = replace_re(&re, &kv.key, &r, hash, f.as_deref()) {
                        kv.key = new;
                    }
                } else if let Some(AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                }) = &mut kv.value
                {
                    if let Some(new) = replace_re(&re, s, &r, hash, f.as_deref()) {
                        *s = new;
                    }
                }
            }
            if mode == "key" {
                // Renamed keys that collide: the last one wins, as in a Go map.
                let mut seen = std::collections::HashSet::new();
                let mut keep = vec![true; m.len()];
                for i in (0..m.len()).rev() {
                    if !seen.insert(m[i].key.clone()) {
                        keep[i] = false;
                    }
                }
                let mut it = keep.into_iter();
                m.retain(|_| it.next().unwrap_or(true));
            }
        })?;
        Ok(())
    }))
}

/// A glob (gobwas/glob without separators) as an anchored regex.
pub(crate) fn glob_regex(pattern: &str) -> Result<Regex, String> {
    let mut re = String::from("^(?s:");
    let mut chars = pattern.chars().peekable();
    let mut in_alt = 0;
    while let Some(ch) = chars.next() {
        match ch {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
            }
            '{' => {
                in_alt += 1;
                re.push_str("(?:");
            }
            '}' if in_alt > 0 => {
                in_alt -= 1;
                re.push(')');
            }
            ',' if in_alt > 0 => re.push('|'),
            '\\' => {
                if let Some(c) = chars.next() {
                    re.push_str(&regex::escape(&c.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    Regex::new(&re).map_err(|e| format!("invalid glob pattern {pattern:?}: {e}"))
}

fn replace_match(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(
        c,
        call,
        &[
            "target",
            "pattern",
            "replacement",
            "function",
            "replacementFormat",
        ],
        3,
    )?;
    let target = a.path(0)?;
    let glob = glob_regex(&a.str_lit(1)?)?;
    let repl = a.getter(2)?;
    let hash = hash_fn(&a, 3)?;
    let format = a.opt_getter(4)?;
    Ok(Box::new(move |ctx| {
        let Value::Str(s) = target.get(ctx)? else {
            return Ok(());
        };
        if !glob.is_match(&s) {
            return Ok(());
        }
        let mut r = get_str(&repl, ctx)?.into_owned();
        if let Some(h) = hash {
            r = h(&r);
            if let Some(f) = &format {
                r = get_str(f, ctx)?.replacen("%s", &r, 1);
            }
        }
        target.set(ctx, Value::Str(r))
    }))
}

fn replace_all_matches(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(
        c,
        call,
        &[
            "target",
            "pattern",
            "replacement",
            "function",
            "replacementFormat",
        ],
        3,
    )?;
    let target = a.path(0)?;
    let glob = glob_regex(&a.str_lit(1)?)?;
    let repl = a.getter(2)?;
    let hash = hash_fn(&a, 3)?;
    let format = a.opt_getter(4)?;
    Ok(Box::new(move |ctx| {
        let mut r = get_str(&repl, ctx)?.into_owned();
        if let Some(h) = hash {
            r = h(&r);
            if let Some(f) = &format {
                r = get_str(f, ctx)?.replacen("%s", &r, 1);
            }
        }
        target.with_map(ctx, |m| {
            for kv in m.iter_mut() {
                if let Some(AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                }) = &mut kv.value
                {
                    if glob.is_match(s) {
                        *s = r.clone();
                    }
                }
            }
        })?;
        Ok(())
    }))
}

fn merge_maps(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "source", "strategy"], 3)?;
    let target = a.path(0)?;
    let source = a.getter(1)?;
    let strategy = a.str_lit(2)?;
    if !["insert", "update", "upsert"].contains(&strategy.as_str()) {
        return Err(format!(
            "invalid value for strategy, {strategy}, must be 'insert', 'update' or 'upsert'"
        ));
    }
    Ok(Box::new(move |ctx| {
        let src = get_map(&source, ctx)?;
        target.with_map(ctx, |m| {
            for kv in src {
                let pos = m.iter().position(|x| x.key == kv.key);
                match (strategy.as_str(), pos) {
                    ("insert", None) | ("upsert", None) => m.push(kv),
                    ("update", Some(i)) | ("upsert", Some(i)) => m[i].value = kv.value,
                    _ => {}
                }
            }
        })?;
        Ok(())
    }))
}

fn flatten_into(out: &mut Vec<KeyValue>, prefix: &str, m: Vec<KeyValue>, depth: i64, cur: i64) {
    for kv in m {
        let key = if prefix.is_empty() {
            kv.key
        } else {
            format!("{prefix}.{}", kv.key)
        };
        flatten_value(out, key, kv.value.unwrap_or_default(), depth, cur);
    }
}

fn flatten_value(out: &mut Vec<KeyValue>, key: String, v: AnyValue, depth: i64, cur: i64) {
    match v.value {
        Some(any_value::Value::KvlistValue(kv)) if cur < depth => {
            flatten_into(out, &key, kv.values, depth, cur + 1)
        }
        Some(any_value::Value::ArrayValue(arr)) if cur < depth => {
            for (i, item) in arr.values.into_iter().enumerate() {
                flatten_value(out, format!("{key}.{i}"), item, depth, cur + 1);
            }
        }
        value => {
            // A later duplicate key overwrites, as Go's PutEmpty does.
            if let Some(x) = out.iter_mut().find(|x| x.key == key) {
                x.value = Some(AnyValue { value });
            } else {
                out.push(KeyValue {
                    key,
                    value: Some(AnyValue { value }),
                    ..Default::default()
                });
            }
        }
    }
}

fn flatten(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(
        c,
        call,
        &["target", "prefix", "depth", "resolveConflicts"],
        1,
    )?;
    let target = a.path(0)?;
    let prefix = a.opt_str_lit(1)?.unwrap_or_default();
    let depth = a.opt_int_lit(2)?.unwrap_or(i64::MAX);
    if depth < 0 {
        return Err("invalid depth for flatten function, -1 cannot be negative"
            .replace("-1", &depth.to_string()));
    }
    if a.has(3) && a.bool_lit(3)? {
        return Err("resolveConflicts is not supported by Ferrotel's flatten".into());
    }
    Ok(Box::new(move |ctx| {
        target.with_map(ctx, |m| {
            let old = std::mem::take(m);
            flatten_into(m, &prefix, old, depth, 0);
        })?;
        Ok(())
    }))
}

fn append(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    let a = Args::bind(c, call, &["target", "value", "values"], 1)?;
    let target = a.path(0)?;
    let value = a.opt_getter(1)?;
    let values = a.opt_getter(2)?;
    if value.is_none() && values.is_none() {
        return Err(
            "at least one of the optional arguments (\"value\" or \"values\") must be provided"
                .into(),
        );
    }
    Ok(Box::new(move |ctx| {
        let mut list: Vec<AnyValue> = match target.get(ctx)? {
            Value::Nil => Vec::new(),
            Value::List(l) => l,
            other => vec![other.into_any_or_empty()],
        };
        if let Some(g) = &value {
            let v = g.get(ctx)?;
            if !v.is_nil() {
                list.push(v.into_any_or_empty());
            }
        }
        if let Some(g) = &values {
            match g.get(ctx)? {
                Value::List(l) => list.extend(l),
                Value::Nil => {}
                o => list.push(o.into_any_or_empty()),
            }
        }
        target.set(ctx, Value::List(list))
    }))
}

#[allow(dead_code)]
fn list_any(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
    }
}

#[allow(dead_code)]
fn map_any(values: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList { values })),
    }
}
