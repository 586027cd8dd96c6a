//! Values written the way the Go collector writes them: `pcommon.Value.AsString`, the value
//! type names, `pcommon.Timestamp.String()`, trace/span ids, and Go's `%f` / `%v` float verbs.

use base64::Engine;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

/// pdata `ValueType.String()`: Empty, Str, Bool, Int, Double, Map, Slice, Bytes.
pub fn value_type(v: Option<&AnyValue>) -> &'static str {
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => "Empty",
        Some(any_value::Value::StringValue(_)) => "Str",
        Some(any_value::Value::BoolValue(_)) => "Bool",
        Some(any_value::Value::IntValue(_)) => "Int",
        Some(any_value::Value::DoubleValue(_)) => "Double",
        Some(any_value::Value::KvlistValue(_)) => "Map",
        Some(any_value::Value::ArrayValue(_)) => "Slice",
        Some(any_value::Value::BytesValue(_)) => "Bytes",
    }
}

/// pdata `Value.AsString()`: maps and slices as JSON (keys sorted, as Go's `json.Marshal` of a
/// map), bytes as standard base64, doubles as Go's `float64AsString`.
pub fn value_as_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(f)) => {
            if f.is_finite() {
                json_float(*f)
            } else {
                format!("json: unsupported value: {}", go_g(*f))
            }
        }
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        // Go ignores the json.Marshal error (a NaN inside): the string is then empty.
        Some(any_value::Value::KvlistValue(m)) => {
            let mut out = String::new();
            if json_map(&m.values, &mut out) {
                out
            } else {
                String::new()
            }
        }
        Some(any_value::Value::ArrayValue(a)) => {
            let mut out = String::new();
            if json_array(&a.values, &mut out) {
                out
            } else {
                String::new()
            }
        }
    }
}

/// otlptext `valueToString`: `Type(AsString)`, e.g. `Str(my.service)`, `Int(42)`.
pub fn value_to_string(v: Option<&AnyValue>) -> String {
    format!("{}({})", value_type(v), value_as_string(v))
}

/// JSON of one raw value (Go `json.Marshal` of `Value.AsRaw()`); false when not encodable.
fn json_value(v: Option<&AnyValue>, out: &mut String) -> bool {
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => json_string(s, out),
        Some(any_value::Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(any_value::Value::IntValue(i)) => out.push_str(&i.to_string()),
        Some(any_value::Value::DoubleValue(f)) => {
            if !f.is_finite() {
                return false;
            }
            out.push_str(&json_float(*f));
        }
        Some(any_value::Value::BytesValue(b)) => {
            json_string(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Some(any_value::Value::KvlistValue(m)) => return json_map(&m.values, out),
        Some(any_value::Value::ArrayValue(a)) => return json_array(&a.values, out),
    }
    true
}

fn json_map(kvs: &[KeyValue], out: &mut String) -> bool {
    // AsRaw builds a Go map (a later duplicate key wins); json.Marshal sorts map keys.
    let mut entries: std::collections::BTreeMap<&str, Option<&AnyValue>> =
        std::collections::BTreeMap::new();
    for kv in kvs {
        entries.insert(kv.key.as_str(), kv.value.as_ref());
    }
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(k, out);
        out.push(':');
        if !json_value(v, out) {
            return false;
        }
    }
    out.push('}');
    true
}

fn json_array(values: &[AnyValue], out: &mut String) -> bool {
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !json_value(Some(v), out) {
            return false;
        }
    }
    out.push(']');
    true
}

/// A JSON string as Go's `encoding/json` writes it (HTML-safe: `<`, `>`, `&` escaped).
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Shortest decimal digits of `f` (finite, non-zero) and its decimal exponent:
/// `f = 0.d1d2d3... * 10^(exp+1)`, i.e. `d1.d2d3... e exp`.
fn shortest_digits(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// `%e` with the shortest digits, as strconv writes it: `1e+06`, `1.5e-07`.
fn shortest_e(f: f64, min_exp_digits: usize) -> String {
    let (digits, exp) = shortest_digits(f);
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:0width$}", exp.abs(), width = min_exp_digits));
    out
}

/// Go's JSON / `float64AsString` number form: plain decimal, exponent only below 1e-6 or from
/// 1e21 on (ES6 style; `e-07` written `e-7`).
pub fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = shortest_e(f, 2);
        // Go cleans up e-09 to e-9 (negative exponents only).
        match s.find("e-0") {
            Some(i) if s.len() == i + 4 => format!("{}e-{}", &s[..i], &s[i + 3..]),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// Go's `%v` (= `%g`, shortest) for a float64: `123.456`, `1e+06`, `1.5e-05`, `+Inf`, `NaN`.
pub fn go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (_, exp) = shortest_digits(f);
    // strconv: %e when the exponent is < -4 or >= the precision; for the shortest form Go uses
    // precision 6 for this decision (`if shortest { eprec = 6 }`).
    if !(-4..6).contains(&exp) {
        shortest_e(f, 2)
    } else {
        format!("{f}")
    }
}

/// Go's `%f`: six decimals; `+Inf`, `-Inf`, `NaN` spelled as Go does.
pub fn go_f(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f:.6}")
    }
}

/// pdata `TraceID.String()` / `SpanID.String()`: lower-case hex, empty when all zero.
pub fn hex_id(id: &[u8]) -> String {
    if id.iter().all(|b| *b == 0) {
        return String::new();
    }
    const_hex::encode(id)
}

/// Days since 1970-01-01 to (year, month, day) (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Split Unix nanoseconds into the civil date, time of day and nanoseconds.
fn civil(nanos: i64) -> ((i64, u32, u32), (i64, i64, i64), i64) {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    (
        civil_from_days(days),
        (sod / 3600, (sod % 3600) / 60, sod % 60),
        frac,
    )
}

/// pdata `Timestamp.String()` = Go `time.Time.String()` in UTC:
/// `2020-02-11 20:26:12.000000321 +0000 UTC` (fraction without trailing zeros, none if 0).
pub fn go_timestamp(unix_nanos: u64) -> String {
    // pdata: time.Unix(0, int64(ts))
    let ((y, mo, d), (h, mi, s), frac) = civil(unix_nanos as i64);
    let mut out = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    if frac != 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// zap's ISO8601 time encoder in UTC: `2025-04-17T08:40:44.559Z`.
pub fn iso8601_millis(unix_nanos: i64) -> String {
    let ((y, mo, d), (h, mi, s), frac) = civil(unix_nanos);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        frac / 1_000_000
    )
}
