//! Converters (Go `pkg/ottl/ottlfuncs`, upper-case functions): they return values.

use md5::Digest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use regex::Regex;

use super::{get_int, get_map, get_str, get_str_like, with_str_like, Args};
use crate::compile::{Compiler, ConverterFn, Getter};
use crate::context::{ContextKind, Ctx};
use crate::parser::Call;
use crate::value::{json_to_any, Value};

type Factory = fn(&Compiler, &Call) -> Result<ConverterFn, String>;

pub(crate) const CONVERTERS: &[(&str, Factory)] = &[
    ("Concat", concat),
    ("ConvertCase", convert_case),
    ("Double", double),
    ("Int", int),
    ("String", string),
    ("Bool", boolean),
    ("IsMatch", is_match),
    ("IsString", is_string),
    ("IsInt", is_int),
    ("IsDouble", is_double),
    ("IsBool", is_bool),
    ("IsMap", is_map),
    ("IsList", is_list),
    ("Len", len),
    ("ParseJSON", parse_json),
    ("ParseKeyValue", parse_key_value),
    ("ExtractPatterns", extract_patterns),
    ("Split", split),
    ("Substring", substring),
    ("SHA256", sha256),
    ("SHA1", sha1),
    ("MD5", md5),
    ("FNV", fnv),
    ("Hex", hex),
    ("TraceID", trace_id),
    ("SpanID", span_id),
    ("Time", time),
    ("Now", now),
    ("Unix", unix),
    ("UnixNano", unix_nano),
    ("UnixMicro", unix_micro),
    ("UnixMilli", unix_milli),
    ("UnixSeconds", unix_seconds),
    ("Duration", duration),
    ("Nanoseconds", nanoseconds),
    ("Microseconds", microseconds),
    ("Milliseconds", milliseconds),
    ("Seconds", seconds),
    ("Minutes", minutes),
    ("Hours", hours),
    ("Year", year),
    ("Month", month),
    ("Day", day),
    ("Hour", hour),
    ("Minute", minute),
    ("Second", second),
    ("Format", format),
    ("ToLowerCase", to_lower),
    ("ToUpperCase", to_upper),
    ("Trim", trim),
    ("TrimPrefix", trim_prefix),
    ("TrimSuffix", trim_suffix),
    ("HasPrefix", has_prefix),
    ("HasSuffix", has_suffix),
    ("Keys", keys),
    ("Values", values),
    ("ContainsValue", contains_value),
    ("Index", index),
    ("IsRootSpan", is_root_span),
    ("URL", url),
    ("Log", log),
    ("HasAttrKeyOnDatapoint", has_attr_key_on_datapoint),
    ("HasAttrOnDatapoint", has_attr_on_datapoint),
];

/// Whether any data point of the metric in context satisfies `f` (Go filter's functions).
fn any_point(ctx: &Ctx<'_>, f: &dyn Fn(&[KeyValue]) -> bool) -> bool {
    use pipeline_api::proto::tonic::metrics::v1::metric::Data;
    let crate::context::Item::Metric(m) = &ctx.item else {
        return false;
    };
    match &m.data {
        None => false,
        Some(Data::Gauge(g)) => g.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Summary(s)) => s.data_points.iter().any(|p| f(&p.attributes)),
    }
}

fn metric_ctx(c: &Compiler, name: &str) -> Result<(), String> {
    if c.ctx != ContextKind::Metric {
        return Err(format!("{name} is only available in the metric context"));
    }
    Ok(())
}

fn has_attr_key_on_datapoint(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["key"], 1)?;
    metric_ctx(c, "HasAttrKeyOnDatapoint")?;
    let key = a.str_lit(0)?;
    Ok(Box::new(move |ctx| {
        Ok(Value::Bool(any_point(ctx, &|attrs| {
            attrs.iter().any(|kv| kv.key == key)
        })))
    }))
}

fn has_attr_on_datapoint(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["key", "expectedVal"], 2)?;
    metric_ctx(c, "HasAttrOnDatapoint")?;
    let key = a.str_lit(0)?;
    let val = a.str_lit(1)?;
    Ok(Box::new(move |ctx| {
        Ok(Value::Bool(any_point(ctx, &|attrs| {
            attrs.iter().any(|kv| {
                kv.key == key
                    && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(any_value::Value::StringValue(s)) if *s == val)
            })
        })))
    }))
}

fn one(c: &Compiler, call: &Call, name: &str) -> Result<Getter, String> {
    Args::bind(c, call, &[name], 1)?.getter(0)
}

fn concat(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["vals", "delimiter"], 2)?;
    let vals = match a.getter(0)? {
        Getter::List(items) => items,
        Getter::Lit(Value::List(items)) => items
            .into_iter()
            .map(|v| Getter::Lit(Value::from_any(&v)))
            .collect(),
        _ => return Err("invalid argument at position 0: must be a list".into()),
    };
    let delim = a.str_lit(1)?;
    Ok(Box::new(move |ctx| {
        let mut out = String::new();
        for (i, g) in vals.iter().enumerate() {
            if i > 0 {
                out.push_str(&delim);
            }
            // borrowed where it can be: no string per element
            with_str_like(g, ctx, |s| out.push_str(s.unwrap_or("<nil>")))?;
        }
        Ok(Value::Str(out))
    }))
}

/// Go's strcase-like word split: on non-alphanumerics and lower→upper boundaries.
fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if ch.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn convert_case(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "toCase"], 2)?;
    let target = a.getter(0)?;
    let case = a.str_lit(1)?;
    if !["lower", "upper", "snake", "camel"].contains(&case.as_str()) {
        return Err(format!(
            "invalid case: {case}, allowed cases are: lower, upper, snake, camel"
        ));
    }
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        Ok(Value::Str(match case.as_str() {
            "lower" => s.to_lowercase(),
            "upper" => s.to_uppercase(),
            "snake" => words(&s)
                .iter()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join("_"),
            _ => words(&s)
                .iter()
                .map(|w| {
                    let lw = w.to_lowercase();
                    let mut cs = lw.chars();
                    match cs.next() {
                        Some(f) => f.to_uppercase().collect::<String>() + cs.as_str(),
                        None => String::new(),
                    }
                })
                .collect(),
        }))
    }))
}

fn double(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        Ok(match g.get(ctx)? {
            Value::Double(d) => Value::Double(d),
            Value::Int(i) => Value::Double(i as f64),
            Value::Bool(b) => Value::Double(if b { 1.0 } else { 0.0 }),
            Value::Str(s) => s
                .trim()
                .parse::<f64>()
                .map(Value::Double)
                .unwrap_or(Value::Nil),
            _ => Value::Nil,
        })
    }))
}

fn int(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        Ok(match g.get(ctx)? {
            Value::Int(i) => Value::Int(i),
            Value::Double(d) => Value::Int(d as i64),
            Value::Bool(b) => Value::Int(i64::from(b)),
            Value::Str(s) => s.parse::<i64>().map(Value::Int).unwrap_or(Value::Nil),
            _ => Value::Nil,
        })
    }))
}

fn string(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        Ok(get_str_like(&g, ctx)?.map(Value::Str).unwrap_or(Value::Nil))
    }))
}

fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn boolean(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        Ok(match g.get(ctx)? {
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Bool(i != 0),
            Value::Double(d) => Value::Bool(d != 0.0),
            Value::Str(s) => parse_go_bool(&s).map(Value::Bool).unwrap_or(Value::Nil),
            _ => Value::Nil,
        })
    }))
}

fn is_match(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "pattern"], 2)?;
    let target = a.getter(0)?;
    let re = a.regex(1, "IsMatch")?;
    Ok(Box::new(move |ctx| {
        Ok(Value::Bool(match get_str_like(&target, ctx)? {
            Some(s) => re.is_match(&s),
            None => false,
        }))
    }))
}

fn is_type(c: &Compiler, call: &Call, pred: fn(&Value) -> bool) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| Ok(Value::Bool(pred(&g.get(ctx)?)))))
}

fn is_string(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    is_type(c, call, |v| matches!(v, Value::Str(_)))
}
fn is_int(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    is_type(c, call, |v| matches!(v, Value::Int(_)))
}
fn is_double(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    is_type(c, call, |v| matches!(v, Value::Double(_)))
}
fn is_bool(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    is_type(c, call, |v| matches!(v, Value::Bool(_)))
}
fn is_map(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    is_type(c, call, |v| matches!(v, Value::Map(_)))
}
fn is_list(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    is_type(c, call, |v| matches!(v, Value::List(_)))
}

fn len(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "target")?;
    Ok(Box::new(move |ctx| {
        Ok(Value::Int(match g.get(ctx)? {
            Value::Str(s) => s.len() as i64,
            Value::Map(m) => m.len() as i64,
            Value::List(l) => l.len() as i64,
            Value::Bytes(b) => b.len() as i64,
            o => return Err(format!("unsupported type: {}", o.type_name())),
        }))
    }))
}

fn parse_json(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "target")?;
    Ok(Box::new(move |ctx| {
        let s = get_str(&g, ctx)?;
        let j: serde_json::Value = serde_json::from_str(&s).map_err(|e| e.to_string())?;
        match j {
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                Ok(Value::from_any(&json_to_any(&j)))
            }
            _ => Err("could not convert parsed value to a map or a slice".into()),
        }
    }))
}

/// Split on `delim` outside double or single quotes.
fn split_quoted(s: &str, delim: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut rest = s;
    while !rest.is_empty() {
        if quote.is_none() && rest.starts_with(delim) {
            out.push(std::mem::take(&mut cur));
            rest = &rest[delim.len()..];
            continue;
        }
        let ch = rest.chars().next().unwrap_or_default();
        match (ch, quote) {
            ('"' | '\'', None) => quote = Some(ch),
            (q, Some(open)) if q == open => quote = None,
            _ => {}
        }
        cur.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    if quote.is_some() {
        return Err(format!("never reached end of a quoted value in {s:?}"));
    }
    out.push(cur);
    Ok(out)
}

fn unquote(s: &str) -> &str {
    let t = s;
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return &t[1..t.len() - 1];
        }
    }
    t
}

fn parse_key_value(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "delimiter", "pairDelimiter"], 1)?;
    let target = a.getter(0)?;
    // Go: an empty delimiter means the default.
    let delim = a
        .opt_str_lit(1)?
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "=".into());
    let pair = a
        .opt_str_lit(2)?
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| " ".into());
    if delim == pair {
        return Err(format!(
            "pair delimiter {pair:?} cannot be equal to delimiter {delim:?}"
        ));
    }
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        if s.is_empty() {
            return Err("cannot parse from empty target".into());
        }
        let mut out: Vec<KeyValue> = Vec::new();
        for p in split_quoted(s.trim(), &pair)? {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let kv = split_quoted(p, &delim)?;
            if kv.len() < 2 {
                return Err(format!(
                    "cannot split {p:?} into 2 items, got {} item(s)",
                    kv.len()
                ));
            }
            let key = unquote(kv[0].trim()).to_string();
            let val = unquote(kv[1..].join(&delim).trim()).to_string();
            let v = Some(Value::Str(val).into_any_or_empty());
            match out.iter_mut().find(|x| x.key == key) {
                Some(x) => x.value = v,
                None => out.push(KeyValue {
                    key,
                    value: v,
                    ..Default::default()
                }),
            }
        }
        Ok(Value::Map(out))
    }))
}

fn extract_patterns(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "pattern"], 2)?;
    let target = a.getter(0)?;
    let re: Regex = a.regex(1, "ExtractPatterns")?;
    if !re.capture_names().flatten().any(|_| true) {
        return Err("at least 1 named capture group must be supplied in the given regex".into());
    }
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        let mut out = Vec::new();
        if let Some(caps) = re.captures(&s) {
            for name in re.capture_names().flatten() {
                let v = caps.name(name).map_or("", |m| m.as_str());
                out.push(KeyValue {
                    key: name.to_string(),
                    value: Some(Value::Str(v.to_string()).into_any_or_empty()),
                    ..Default::default()
                });
            }
        }
        Ok(Value::Map(out))
    }))
}

fn strings_list(v: Vec<String>) -> Value {
    Value::List(
        v.into_iter()
            .map(|s| Value::Str(s).into_any_or_empty())
            .collect(),
    )
}

fn split(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "delimiter"], 2)?;
    let target = a.getter(0)?;
    let delim = a.str_lit(1)?;
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        let parts: Vec<String> = if delim.is_empty() {
            s.chars().map(String::from).collect()
        } else {
            s.split(delim.as_str()).map(String::from).collect()
        };
        Ok(strings_list(parts))
    }))
}

fn substring(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "start", "length"], 3)?;
    let target = a.getter(0)?;
    let start = a.getter(1)?;
    let length = a.getter(2)?;
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        let st = get_int(&start, ctx)?;
        let ln = get_int(&length, ctx)?;
        if st < 0 {
            return Err(format!(
                "invalid start for substring function, {st} cannot be negative"
            ));
        }
        if ln <= 0 {
            return Err(format!(
                "invalid length for substring function, {ln} cannot be negative or zero"
            ));
        }
        if st + ln > s.len() as i64 {
            return Err(format!(
                "invalid range for substring function, {} cannot be greater than the length of target string({})",
                st + ln,
                s.len()
            ));
        }
        s.get(st as usize..(st + ln) as usize)
            .map(|x| Value::Str(x.to_string()))
            .ok_or_else(|| "substring range splits a character".to_string())
    }))
}

fn hexs(b: &[u8]) -> String {
    const_hex::encode(b)
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hexs(&sha2::Sha256::digest(s.as_bytes()))
}
pub(crate) fn sha1_hex(s: &str) -> String {
    hexs(&sha1::Sha1::digest(s.as_bytes()))
}
pub(crate) fn md5_hex(s: &str) -> String {
    hexs(&md5::Md5::digest(s.as_bytes()))
}
pub(crate) fn fnv64a(b: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x100000001b3);
    }
    h as i64
}

fn hash_conv(c: &Compiler, call: &Call, f: fn(&str) -> Value) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        with_str_like(&g, ctx, |s| match s {
            Some(s) => f(s),
            None => Value::Nil,
        })
    }))
}

fn sha256(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    hash_conv(c, call, |s| Value::Str(sha256_hex(s)))
}
fn sha1(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    hash_conv(c, call, |s| Value::Str(sha1_hex(s)))
}
fn md5(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    hash_conv(c, call, |s| Value::Str(md5_hex(s)))
}
fn fnv(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    hash_conv(c, call, |s| Value::Int(fnv64a(s.as_bytes())))
}

fn hex(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        Ok(Value::Str(match g.get(ctx)? {
            Value::Bytes(b) => hexs(&b),
            Value::Str(s) => hexs(s.as_bytes()),
            Value::Int(i) => hexs(&i.to_be_bytes()),
            Value::Double(d) => hexs(&d.to_bits().to_be_bytes()),
            Value::Bool(b) => hexs(&[u8::from(b)]),
            Value::Nil => return Ok(Value::Nil),
            o => return Err(format!("unsupported type {} for Hex", o.type_name())),
        }))
    }))
}

fn id_conv(c: &Compiler, call: &Call, n: usize, what: &'static str) -> Result<ConverterFn, String> {
    let g = one(c, call, "bytes")?;
    if let Some(Value::Bytes(b)) = g.literal() {
        if b.len() != n {
            return Err(format!("{what} ids must be {n} bytes"));
        }
    }
    Ok(Box::new(move |ctx| match g.get(ctx)? {
        Value::Bytes(b) if b.len() == n => Ok(Value::Bytes(b)),
        Value::Bytes(_) => Err(format!("{what} ids must be {n} bytes")),
        o => Err(format!("expected []byte but got {}", o.type_name())),
    }))
}

fn trace_id(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    id_conv(c, call, 16, "traces")
}
fn span_id(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    id_conv(c, call, 8, "span")
}

/// Go's ctime directives as jiff strftime directives.
fn ctime_to_strtime(f: &str) -> String {
    f.replace("%L", "%3f")
        .replace("%f", "%6f")
        .replace("%s", "%9f")
}

fn time(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["time", "format", "location", "locale"], 2)?;
    let target = a.getter(0)?;
    let fmt = a.str_lit(1)?;
    if fmt.is_empty() {
        return Err("format cannot be nil".into());
    }
    let loc = a.opt_str_lit(2)?;
    if a.has(3) {
        return Err("the locale argument is not supported by Ferrotel".into());
    }
    let tz = match &loc {
        Some(l) => {
            Some(jiff::tz::TimeZone::get(l).map_err(|e| format!("unknown location {l:?}: {e}"))?)
        }
        None => None,
    };
    let jfmt = ctime_to_strtime(&fmt);
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        if s.is_empty() {
            return Err("time cannot be nil".into());
        }
        let bdt = jiff::fmt::strtime::parse(&jfmt, &*s).map_err(|e| e.to_string())?;
        let ts = match bdt.to_timestamp() {
            Ok(t) => t,
            Err(_) => {
                let dt = bdt.to_datetime().map_err(|e| e.to_string())?;
                let zone = tz.clone().unwrap_or(jiff::tz::TimeZone::UTC);
                dt.to_zoned(zone).map_err(|e| e.to_string())?.timestamp()
            }
        };
        Ok(Value::Time(ts.as_nanosecond() as i64))
    }))
}

fn now(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    Args::bind(c, call, &[], 0)?;
    Ok(Box::new(|_| {
        Ok(Value::Time(jiff::Timestamp::now().as_nanosecond() as i64))
    }))
}

fn unix(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["seconds", "nanoseconds"], 1)?;
    let s = a.getter(0)?;
    let n = a.opt_getter(1)?;
    Ok(Box::new(move |ctx| {
        let secs = get_int(&s, ctx)?;
        let nanos = match &n {
            Some(g) => get_int(g, ctx)?,
            None => 0,
        };
        Ok(Value::Time(
            secs.saturating_mul(1_000_000_000).saturating_add(nanos),
        ))
    }))
}

fn get_time(g: &Getter, ctx: &Ctx<'_>) -> Result<i64, String> {
    match g.get(ctx)? {
        Value::Time(t) => Ok(t),
        o => Err(format!("expected time but got {}", o.type_name())),
    }
}

fn time_part(c: &Compiler, call: &Call, f: fn(i64) -> i64) -> Result<ConverterFn, String> {
    let g = one(c, call, "time")?;
    Ok(Box::new(move |ctx| Ok(Value::Int(f(get_time(&g, ctx)?)))))
}

fn unix_nano(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| t)
}
fn unix_micro(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| t.div_euclid(1_000))
}
fn unix_milli(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| t.div_euclid(1_000_000))
}
fn unix_seconds(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| t.div_euclid(1_000_000_000))
}

fn civil(t: i64) -> jiff::civil::DateTime {
    jiff::Timestamp::from_nanosecond(i128::from(t))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime()
}

fn year(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| civil(t).year().into())
}
fn month(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| civil(t).month().into())
}
fn day(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| civil(t).day().into())
}
fn hour(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| civil(t).hour().into())
}
fn minute(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| civil(t).minute().into())
}
fn second(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    time_part(c, call, |t| civil(t).second().into())
}

/// Go's `time.ParseDuration`.
pub(crate) fn parse_go_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if n == 0 {
            return Err(err());
        }
        let num: f64 = rest[..n].parse().map_err(|_| err())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}

fn duration(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "duration")?;
    Ok(Box::new(move |ctx| {
        Ok(Value::Duration(parse_go_duration(&get_str(&g, ctx)?)?))
    }))
}

fn get_duration(g: &Getter, ctx: &Ctx<'_>) -> Result<i64, String> {
    match g.get(ctx)? {
        Value::Duration(d) => Ok(d),
        o => Err(format!("expected duration but got {}", o.type_name())),
    }
}

fn dur_part(c: &Compiler, call: &Call, int: bool, div: f64) -> Result<ConverterFn, String> {
    let g = one(c, call, "duration")?;
    Ok(Box::new(move |ctx| {
        let d = get_duration(&g, ctx)?;
        Ok(if int {
            Value::Int(d / div as i64)
        } else {
            Value::Double(d as f64 / div)
        })
    }))
}

fn nanoseconds(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    dur_part(c, call, true, 1.0)
}
fn microseconds(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    dur_part(c, call, true, 1e3)
}
fn milliseconds(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    dur_part(c, call, true, 1e6)
}
fn seconds(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    dur_part(c, call, false, 1e9)
}
fn minutes(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    dur_part(c, call, false, 60e9)
}
fn hours(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    dur_part(c, call, false, 3600e9)
}

/// Go's `fmt.Sprintf` for the common verbs (`%s %d %v %f %q %x %%`).
/// Go's `fmt` flags and width around a formatted value: `+` signs a number, `-` pads on the
/// right, `0` pads a number with zeros after its sign, spaces otherwise.
fn pad(spec: &str, verb: char, v: &Value, mut body: String) -> String {
    let (flags, rest) = spec.split_at(
        spec.find(|c: char| c.is_ascii_digit() && c != '0')
            .or_else(|| spec.find('.'))
            .unwrap_or(spec.len()),
    );
    let width: usize = rest
        .split('.')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let numeric = matches!(v, Value::Int(_) | Value::Double(_)) && verb != 's' && verb != 'q';
    if flags.contains('+') && numeric && !body.starts_with('-') {
        body.insert(0, '+');
    }
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if flags.contains('-') {
        body + &" ".repeat(fill)
    } else if flags.contains('0') && numeric {
        let sign = if body.starts_with(['-', '+']) { 1 } else { 0 };
        let (s, digits) = body.split_at(sign);
        format!("{s}{}{digits}", "0".repeat(fill))
    } else {
        " ".repeat(fill) + &body
    }
}

fn sprintf(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = f.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let mut spec = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' {
                spec.push(c);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = it.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let mut body = String::new();
        match (verb, v) {
            ('f', Value::Double(d)) => {
                let prec = spec
                    .split('.')
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(6);
                body.push_str(&format!("{d:.prec$}"));
            }
            ('q', Value::Str(s)) => body.push_str(&format!("{s:?}")),
            ('x', Value::Int(i)) => body.push_str(&format!("{i:x}")),
            ('x', Value::Str(s)) => body.push_str(&hexs(s.as_bytes())),
            ('d', Value::Int(i)) => body.push_str(&i.to_string()),
            (_, Value::Nil) => body.push_str("<nil>"),
            _ => body.push_str(&v.as_string()),
        }
        out.push_str(&pad(&spec, verb, v, body));
    }
    out
}

fn format(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["formatString", "formatArguments"], 2)?;
    let f = a.str_lit(0)?;
    let args = match a.getter(1)? {
        Getter::List(items) => items,
        Getter::Lit(Value::List(items)) => items
            .into_iter()
            .map(|v| Getter::Lit(Value::from_any(&v)))
            .collect(),
        _ => return Err("invalid argument at position 1: must be a list".into()),
    };
    Ok(Box::new(move |ctx| {
        let vals = args
            .iter()
            .map(|g| g.get(ctx))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::Str(sprintf(&f, &vals)))
    }))
}

fn str_map(c: &Compiler, call: &Call, f: fn(&str) -> String) -> Result<ConverterFn, String> {
    let g = one(c, call, "target")?;
    Ok(Box::new(move |ctx| Ok(Value::Str(f(&get_str(&g, ctx)?)))))
}

fn to_lower(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    str_map(c, call, |s| s.to_lowercase())
}
fn to_upper(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    str_map(c, call, |s| s.to_uppercase())
}

fn trim(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "replacement"], 1)?;
    let target = a.getter(0)?;
    let cut = a.opt_str_lit(1)?.unwrap_or_else(|| " ".into());
    Ok(Box::new(move |ctx| {
        let s = get_str(&target, ctx)?;
        Ok(Value::Str(
            s.trim_matches(|ch| cut.contains(ch)).to_string(),
        ))
    }))
}

fn affix(c: &Compiler, call: &Call, f: fn(&str, &str) -> Value) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "prefix"], 2)?;
    let target = a.getter(0)?;
    let p = a.getter(1)?;
    Ok(Box::new(move |ctx| {
        Ok(f(&get_str(&target, ctx)?, &get_str(&p, ctx)?))
    }))
}

fn trim_prefix(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    affix(c, call, |s, p| {
        Value::Str(s.strip_prefix(p).unwrap_or(s).to_string())
    })
}
fn trim_suffix(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    affix(c, call, |s, p| {
        Value::Str(s.strip_suffix(p).unwrap_or(s).to_string())
    })
}
fn has_prefix(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    affix(c, call, |s, p| Value::Bool(s.starts_with(p)))
}
fn has_suffix(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    affix(c, call, |s, p| Value::Bool(s.ends_with(p)))
}

fn keys(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "target")?;
    Ok(Box::new(move |ctx| {
        Ok(strings_list(
            get_map(&g, ctx)?.into_iter().map(|kv| kv.key).collect(),
        ))
    }))
}

fn values(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "target")?;
    Ok(Box::new(move |ctx| {
        Ok(Value::List(
            get_map(&g, ctx)?
                .into_iter()
                .map(|kv| kv.value.unwrap_or_default())
                .collect(),
        ))
    }))
}

fn any_eq(a: &AnyValue, v: &Value) -> bool {
    crate::value::compare(&Value::from_any(a), crate::parser::CmpOp::Eq, v)
}

fn contains_value(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "item"], 2)?;
    let target = a.getter(0)?;
    let item = a.getter(1)?;
    Ok(Box::new(move |ctx| {
        let Value::List(l) = target.get(ctx)? else {
            return Err("ContainsValue: target must be a list".into());
        };
        let v = item.get(ctx)?;
        Ok(Value::Bool(l.iter().any(|x| any_eq(x, &v))))
    }))
}

fn index(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let a = Args::bind(c, call, &["target", "value"], 2)?;
    let target = a.getter(0)?;
    let item = a.getter(1)?;
    Ok(Box::new(move |ctx| {
        let v = item.get(ctx)?;
        Ok(Value::Int(match (target.get(ctx)?, v) {
            (Value::Str(s), Value::Str(x)) => s.find(&x).map_or(-1, |i| i as i64),
            (Value::List(l), v) => l
                .iter()
                .position(|x| any_eq(x, &v))
                .map_or(-1, |i| i as i64),
            (t, _) => return Err(format!("Index: unsupported target type {}", t.type_name())),
        }))
    }))
}

fn url(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "uri")?;
    Ok(Box::new(move |ctx| {
        let raw = get_str(&g, ctx)?;
        if raw.is_empty() {
            return Err("url cannot be empty".into());
        }
        super::url::parse(&raw).map(Value::Map)
    }))
}

fn is_root_span(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    Args::bind(c, call, &[], 0)?;
    if !matches!(c.ctx, ContextKind::Span | ContextKind::SpanEvent) {
        return Err(format!(
            "IsRootSpan is not available in the {} context",
            c.ctx
        ));
    }
    Ok(Box::new(|ctx| {
        Ok(Value::Bool(
            ctx.span()
                .is_some_and(|s| s.parent_span_id.iter().all(|b| *b == 0)),
        ))
    }))
}

fn log(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    let g = one(c, call, "value")?;
    Ok(Box::new(move |ctx| {
        let x = match g.get(ctx)? {
            Value::Double(d) => d,
            Value::Int(i) => i as f64,
            Value::Str(s) => s.parse::<f64>().map_err(|e| e.to_string())?,
            o => return Err(format!("Log: unsupported type {}", o.type_name())),
        };
        if x <= 0.0 {
            return Err("value must be greater than zero".into());
        }
        Ok(Value::Double(x.ln()))
    }))
}

#[allow(dead_code)]
fn str_any(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    }
}
