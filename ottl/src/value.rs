//! Runtime values (what Go's getters return as `any`), comparisons (Go `compare.go`), math
//! (Go `math.go`) and conversion to and from OTLP `AnyValue`.

use pipeline_api::wire_edit::ValueRef;
use std::borrow::Cow;
use std::cmp::Ordering;

use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};

use crate::parser::{CmpOp, MathOp};

/// A value at run time.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Nil,
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    Map(Vec<KeyValue>),
    List(Vec<AnyValue>),
    /// A point in time, Unix nanoseconds.
    Time(i64),
    /// A duration, nanoseconds.
    Duration(i64),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Str(_) => "string",
            Value::Int(_) => "int64",
            Value::Double(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Bytes(_) => "[]byte",
            Value::Map(_) => "pcommon.Map",
            Value::List(_) => "pcommon.Slice",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The value of an OTLP `AnyValue` (an empty value reads as nil).
    pub fn from_any(v: &AnyValue) -> Value {
        match &v.value {
            None => Value::Nil,
            Some(any_value::Value::StringValue(s)) => Value::Str(s.clone()),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(b.clone()),
            Some(any_value::Value::KvlistValue(m)) => Value::Map(m.values.clone()),
            Some(any_value::Value::ArrayValue(a)) => Value::List(a.values.clone()),
            Some(any_value::Value::StringValueStrindex(_)) => Value::Nil,
        }
    }

    /// [`Value::from_any`] of an owned value, moving its contents instead of copying.
    pub fn from_any_owned(v: AnyValue) -> Value {
        match v.value {
            None => Value::Nil,
            Some(any_value::Value::StringValue(s)) => Value::Str(s),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(b),
            Some(any_value::Value::KvlistValue(m)) => Value::Map(m.values),
            Some(any_value::Value::ArrayValue(a)) => Value::List(a.values),
            Some(other) => Value::from_any(&AnyValue { value: Some(other) }),
        }
    }

    /// The value of a wire-form read.
    pub fn from_ref(v: ValueRef<'_>) -> Value {
        match v {
            ValueRef::Str(s) => Value::Str(s.to_owned()),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Double(d) => Value::Double(d),
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Any(Cow::Owned(v)) => Value::from_any_owned(v),
            ValueRef::Any(Cow::Borrowed(v)) => Value::from_any(v),
        }
    }

    pub fn from_any_opt(v: Option<&AnyValue>) -> Value {
        v.map(Value::from_any).unwrap_or(Value::Nil)
    }

    /// The OTLP form; `None` for nil. Times become their Unix nanoseconds, durations too.
    pub fn into_any(self) -> Option<AnyValue> {
        let v = match self {
            Value::Nil => return None,
            Value::Str(s) => any_value::Value::StringValue(s),
            Value::Int(i) | Value::Time(i) | Value::Duration(i) => any_value::Value::IntValue(i),
            Value::Double(d) => any_value::Value::DoubleValue(d),
            Value::Bool(b) => any_value::Value::BoolValue(b),
            Value::Bytes(b) => any_value::Value::BytesValue(b),
            Value::Map(m) => any_value::Value::KvlistValue(KeyValueList { values: m }),
            Value::List(l) => any_value::Value::ArrayValue(ArrayValue { values: l }),
        };
        Some(AnyValue { value: Some(v) })
    }

    /// The OTLP form, nil as an empty value.
    pub fn into_any_or_empty(self) -> AnyValue {
        self.into_any().unwrap_or_default()
    }

    /// Go `pcommon.Value.AsString()` of the value: JSON for maps and lists.
    pub fn as_string(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => format_double(*d),
            Value::Bool(b) => b.to_string(),
            Value::Bytes(b) => base64(b),
            Value::Map(m) => serde_json::to_string(&map_to_json(m)).unwrap_or_default(),
            Value::List(l) => serde_json::to_string(&serde_json::Value::Array(
                l.iter().map(any_to_json).collect(),
            ))
            .unwrap_or_default(),
            Value::Time(t) => t.to_string(),
            Value::Duration(d) => format_duration(*d),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`-like shortest form used by `AsString`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{d}");
    s
}

/// Go's `time.Duration.String()`.
pub fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u64)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&trim_frac(u, div));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let rem = u % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&trim_frac(rem, 1_000_000_000));
        out.push('s');
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

fn trim_frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = (div as f64).log10().round() as usize;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

pub(crate) fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// JSON of an OTLP value as Go's `AsRaw` then `json.Marshal` gives (maps' keys sorted).
pub fn any_to_json(v: &AnyValue) -> serde_json::Value {
    match &v.value {
        None | Some(any_value::Value::StringValueStrindex(_)) => serde_json::Value::Null,
        Some(any_value::Value::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(any_value::Value::IntValue(i)) => serde_json::Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Some(any_value::Value::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(any_value::Value::BytesValue(b)) => serde_json::Value::String(base64(b)),
        Some(any_value::Value::KvlistValue(m)) => map_to_json(&m.values),
        Some(any_value::Value::ArrayValue(a)) => {
            serde_json::Value::Array(a.values.iter().map(any_to_json).collect())
        }
    }
}

pub fn map_to_json(m: &[KeyValue]) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    for kv in m {
        obj.insert(
            kv.key.clone(),
            kv.value
                .as_ref()
                .map(any_to_json)
                .unwrap_or(serde_json::Value::Null),
        );
    }
    serde_json::Value::Object(obj)
}

/// An OTLP value from JSON, as Go's `pcommon.Map.FromRaw` of `json.Unmarshal`'s result:
/// numbers become doubles.
pub fn json_to_any(j: &serde_json::Value) -> AnyValue {
    let v = match j {
        serde_json::Value::Null => return AnyValue::default(),
        serde_json::Value::Bool(b) => any_value::Value::BoolValue(*b),
        serde_json::Value::Number(n) => any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => any_value::Value::StringValue(s.clone()),
        serde_json::Value::Array(a) => any_value::Value::ArrayValue(ArrayValue {
            values: a.iter().map(json_to_any).collect(),
        }),
        serde_json::Value::Object(o) => any_value::Value::KvlistValue(KeyValueList {
            values: o
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(json_to_any(v)),
                    ..Default::default()
                })
                .collect(),
        }),
    };
    AnyValue { value: Some(v) }
}

pub(crate) fn ord_ok(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

fn eq_only(op: CmpOp, eq: bool) -> bool {
    match op {
        CmpOp::Eq => eq,
        CmpOp::Ne => !eq,
        _ => false,
    }
}

fn float_ord(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

/// Go's comparison: same-kind values compare (ints and floats together), nil equals only
/// nil, booleans, maps, lists and bytes support only `==`/`!=`, and mismatched kinds are
/// unequal (every ordering is false).
pub fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Nil, Nil) => eq_only(op, true),
        (Nil, _) | (_, Nil) => eq_only(op, false),
        (Str(x), Str(y)) => ord_ok(op, x.cmp(y)),
        (Int(x), Int(y)) => ord_ok(op, x.cmp(y)),
        (Int(x), Double(y)) => float_ord(op, *x as f64, *y),
        (Double(x), Int(y)) => float_ord(op, *x, *y as f64),
        (Double(x), Double(y)) => float_ord(op, *x, *y),
        (Bool(x), Bool(y)) => ord_ok(op, x.cmp(y)),
        (Bytes(x), Bytes(y)) => ord_ok(op, x.cmp(y)),
        (Time(x), Time(y)) | (Duration(x), Duration(y)) => ord_ok(op, x.cmp(y)),
        (Map(x), Map(y)) => eq_only(op, map_to_json(x) == map_to_json(y)),
        (List(x), List(y)) => eq_only(op, x == y),
        _ => eq_only(op, false),
    }
}

/// Go's math on values: ints with ints, floats with ints or floats, times and durations.
pub fn math(a: &Value, op: MathOp, b: &Value) -> Result<Value, String> {
    use Value::*;
    let fop = |x: f64, y: f64| match op {
        MathOp::Add => x + y,
        MathOp::Sub => x - y,
        MathOp::Mul => x * y,
        MathOp::Div => x / y,
    };
    match (a, b) {
        (Int(x), Int(y)) => Ok(Int(match op {
            MathOp::Add => x.wrapping_add(*y),
            MathOp::Sub => x.wrapping_sub(*y),
            MathOp::Mul => x.wrapping_mul(*y),
            MathOp::Div => {
                if *y == 0 {
                    return Err("attempted to divide by 0".into());
                }
                x.wrapping_div(*y)
            }
        })),
        (Int(x), Double(y)) => Ok(Double(fop(*x as f64, *y))),
        (Double(x), Int(y)) => Ok(Double(fop(*x, *y as f64))),
        (Double(x), Double(y)) => Ok(Double(fop(*x, *y))),
        (Time(x), Time(y)) if op == MathOp::Sub => Ok(Duration(x - y)),
        (Time(x), Duration(y)) if op == MathOp::Add => Ok(Time(x + y)),
        (Time(x), Duration(y)) if op == MathOp::Sub => Ok(Time(x - y)),
        (Duration(x), Duration(y)) if op == MathOp::Add => Ok(Duration(x + y)),
        (Duration(x), Duration(y)) if op == MathOp::Sub => Ok(Duration(x - y)),
        _ => Err(format!(
            "unsupported math operation on {} and {}",
            a.type_name(),
            b.type_name()
        )),
    }
}

/// `compare` of an OTLP value read in place against a literal, without copying: `None` when
/// the value is not a scalar (the caller copies and compares).
/// [`compare_any`] of a wire-form read.
pub(crate) fn compare_ref(a: Option<ValueRef<'_>>, op: CmpOp, lit: &Value) -> Option<bool> {
    let v = match a {
        Some(ValueRef::Str(s)) => {
            return Some(match lit {
                Value::Str(x) => ord_ok(op, s.cmp(x.as_str())),
                _ => eq_only(op, false),
            })
        }
        Some(ValueRef::Int(i)) => Value::Int(i),
        Some(ValueRef::Double(d)) => Value::Double(d),
        Some(ValueRef::Bool(b)) => Value::Bool(b),
        Some(ValueRef::Any(v)) => return compare_any(Some(&v), op, lit),
        None => Value::Nil,
    };
    Some(compare(&v, op, lit))
}

pub(crate) fn compare_any(a: Option<&AnyValue>, op: CmpOp, lit: &Value) -> Option<bool> {
    let v = match a.and_then(|a| a.value.as_ref()) {
        None => Value::Nil,
        Some(any_value::Value::StringValue(s)) => {
            return Some(match lit {
                Value::Str(x) => ord_ok(op, s.as_str().cmp(x.as_str())),
                Value::Nil => eq_only(op, false),
                _ => eq_only(op, false),
            })
        }
        Some(any_value::Value::IntValue(i)) => Value::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(_) => return None,
    };
    Some(compare(&v, op, lit))
}
