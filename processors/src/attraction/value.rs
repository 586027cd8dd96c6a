//! Helpers over OTLP attribute lists and `AnyValue`s with the Go collector's `pcommon`
//! semantics: lookup returns the first entry of a key, `put` updates the first entry or
//! appends, `as_string` is `pcommon.Value.AsString`, and YAML config values become
//! `AnyValue`s as `pcommon.Value.FromRaw` makes them.

use pipeline_api::proto::tonic::common::v1::any_value::Value;
use pipeline_api::proto::tonic::common::v1::{AnyValue, KeyValue};

/// The first value of `key` (pdata `Map.Get`).
pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_ref().unwrap_or(&EMPTY))
}

static EMPTY: AnyValue = AnyValue { value: None };

/// Whether `key` is present.
pub fn contains(attrs: &[KeyValue], key: &str) -> bool {
    attrs.iter().any(|kv| kv.key == key)
}

/// Set `key` to `value`: the first entry of the key is updated, or one is appended
/// (pdata `Map.PutEmpty` + `CopyTo`).
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(value),
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

/// Replace the value of the first entry of `key`, if present (pdata `Get` + `CopyTo`).
pub fn update(attrs: &mut [KeyValue], key: &str, value: AnyValue) -> bool {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => {
            kv.value = Some(value);
            true
        }
        None => false,
    }
}

/// Remove the first entry of `key`, the last entry taking its place (pdata `Map.Remove`).
pub fn remove(attrs: &mut Vec<KeyValue>, key: &str) -> bool {
    pipeline_api::attrs::AttrMap::remove(attrs, key)
}

pub fn str_value(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.into())),
    }
}

/// `pcommon.Value.Str()`: the string, or "" for any other type.
pub fn as_str(v: &AnyValue) -> &str {
    match &v.value {
        Some(Value::StringValue(s)) => s,
        _ => "",
    }
}

/// `pcommon.Value.Int()`: the integer, or 0 for any other type.
pub fn as_int(v: &AnyValue) -> i64 {
    match &v.value {
        Some(Value::IntValue(i)) => *i,
        _ => 0,
    }
}

/// `pcommon.Value.Bool()`: the boolean, or false for any other type.
pub fn as_bool(v: &AnyValue) -> bool {
    matches!(&v.value, Some(Value::BoolValue(true)))
}

/// The value, with the profiling-only string-table reference treated as empty.
pub fn kind(v: &AnyValue) -> Option<&Value> {
    match &v.value {
        Some(Value::StringValueStrindex(_)) | None => None,
        Some(v) => Some(v),
    }
}

/// `pcommon.Value.AsString()`: strings as they are, booleans and integers in decimal,
/// doubles as ES6 (`float64AsString`), bytes in standard base64, maps and slices as
/// JSON, empty as "".
pub fn as_string(v: &AnyValue) -> String {
    match kind(v) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => match es6_float(*d) {
            Some(s) => s,
            // Go: "json: unsupported value: " + FormatFloat(f, 'g', -1, 64)
            None => format!("json: unsupported value: {}", go_special_float(*d)),
        },
        Some(Value::BytesValue(b)) => base64(b),
        Some(Value::KvlistValue(_)) | Some(Value::ArrayValue(_)) => {
            // Go: json.Marshal(v.AsRaw()); an error (NaN/Inf inside) gives "".
            let mut out = String::new();
            if write_json(&mut out, v) {
                out
            } else {
                String::new()
            }
        }
        Some(Value::StringValueStrindex(_)) => String::new(),
    }
}

fn go_special_float(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Go `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that round-trips, never
/// with an exponent.
pub fn go_format_float_f(d: f64) -> String {
    if d.is_finite() {
        format!("{d}")
    } else {
        go_special_float(d).to_string()
    }
}

/// The ES6 number formatting Go's `encoding/json` and `pcommon` use: plain decimal
/// unless `|f| < 1e-6` or `|f| >= 1e21`, then exponent form with a signed exponent
/// (`1e+21`, `1e-7`). `None` for NaN and infinities.
pub fn es6_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        // Go writes at least two exponent digits, then json trims "e-07" to "e-7".
        return Some(if exp < 0 {
            format!("{mantissa}e-{}", -exp)
        } else {
            format!("{mantissa}e+{exp:02}")
        });
    }
    Some(format!("{f}"))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Go `base64.StdEncoding`).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Go `json.Marshal(v.AsRaw())`: maps with sorted keys (a later duplicate key wins, as
/// building the Go map does), bytes as base64 strings, HTML-safe string escaping.
/// Returns false where Go's encoder fails (NaN or infinity).
fn write_json(out: &mut String, v: &AnyValue) -> bool {
    match kind(v) {
        None | Some(Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(Value::StringValue(s)) => json_string(out, s),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => out.push_str(&i.to_string()),
        Some(Value::DoubleValue(d)) => match es6_float(*d) {
            Some(s) => out.push_str(&s),
            None => return false,
        },
        Some(Value::BytesValue(b)) => json_string(out, &base64(b)),
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_json(out, item) {
                    return false;
                }
            }
            out.push(']');
        }
        Some(Value::KvlistValue(kvs)) => {
            let mut sorted: std::collections::BTreeMap<&str, &AnyValue> = Default::default();
            for kv in &kvs.values {
                sorted.insert(&kv.key, kv.value.as_ref().unwrap_or(&EMPTY));
            }
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                if !write_json(out, v) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

/// A JSON string as Go's `encoding/json` writes it (HTML characters and U+2028/2029
/// escaped).
fn json_string(out: &mut String, s: &str) {
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
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub use pipeline_api::config::any_value_from_config as from_config;

/// The Go type name of a value, for messages (`Str`, `Int`, ...).
pub fn type_name(v: &AnyValue) -> &'static str {
    match kind(v) {
        None | Some(Value::StringValueStrindex(_)) => "Empty",
        Some(Value::StringValue(_)) => "Str",
        Some(Value::BoolValue(_)) => "Bool",
        Some(Value::IntValue(_)) => "Int",
        Some(Value::DoubleValue(_)) => "Double",
        Some(Value::ArrayValue(_)) => "Slice",
        Some(Value::KvlistValue(_)) => "Map",
        Some(Value::BytesValue(_)) => "Bytes",
    }
}

/// Equality of two values with the same type (pdata `attributeValueMatch`: scalars by
/// value, complex types by content).
pub fn same_value(a: &AnyValue, b: &AnyValue) -> bool {
    match (kind(a), kind(b)) {
        (None, None) => true,
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es6_float_formats_as_go_encoding_json() {
        // Go float64AsString: 'f' unless abs < 1e-6 or abs >= 1e21; "e-07" trimmed to "e-7".
        assert_eq!(es6_float(1.5).unwrap(), "1.5");
        assert_eq!(es6_float(1.0).unwrap(), "1");
        assert_eq!(es6_float(0.0).unwrap(), "0");
        assert_eq!(es6_float(1e21).unwrap(), "1e+21");
        assert_eq!(es6_float(1.5e-7).unwrap(), "1.5e-7");
        assert_eq!(es6_float(1e-10).unwrap(), "1e-10");
        assert_eq!(es6_float(123456789.0).unwrap(), "123456789");
        assert!(es6_float(f64::NAN).is_none());
    }

    #[test]
    fn as_string_of_every_type() {
        assert_eq!(as_string(&str_value("a")), "a");
        let int = AnyValue {
            value: Some(Value::IntValue(-3)),
        };
        assert_eq!(as_string(&int), "-3");
        let bytes = AnyValue {
            value: Some(Value::BytesValue(b"hello".to_vec())),
        };
        assert_eq!(as_string(&bytes), "aGVsbG8=");
        let map = from_config(&serde_yaml_ng::from_str("{b: [1, 2.5, true], a: '<x>'}").unwrap());
        assert_eq!(as_string(&map), r#"{"a":"\u003cx\u003e","b":[1,2.5,true]}"#);
        assert_eq!(as_string(&AnyValue::default()), "");
    }

    #[test]
    fn base64_matches_std_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[1, 2, 3, 255]), "AQID/w==");
    }
}
