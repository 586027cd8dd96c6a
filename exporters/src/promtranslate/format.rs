//! Numbers and strings written the way Prometheus' Go libraries write them.
//!
//! Facts relied on:
//! - text format 0.0.4 (`prometheus/common/expfmt/text_create.go writeFloat`): `1`, `0`, `-1`,
//!   `NaN`, `+Inf`, `-Inf` spelled out, anything else `strconv.FormatFloat(f, 'g', -1, 64)`
//!   (`1e+06`, `0.005`); used for sample values and for the `le` / `quantile` label values.
//! - OpenMetrics (`openmetrics_create.go writeOpenMetricsFloat`): the same, but `1.0`, `0.0`,
//!   `-1.0`, and `.0` appended when the `'g'` form has neither `.` nor `e`; timestamps are
//!   seconds written as such a float.
//! - remote write (`pkg/translator/prometheusremotewrite`): `le` and `quantile` label values
//!   are `strconv.FormatFloat(v, 'f', -1, 64)` (plain decimal, no exponent).
//! - escaping (`writeEscapedString`): label values escape `\`, `"` and newline; text-format
//!   HELP escapes `\` and newline; OpenMetrics HELP also escapes `"`.

use crate::debug::gofmt::go_g;

/// Text format 0.0.4 float.
pub fn text_float(f: f64) -> String {
    if f == 1.0 {
        "1".into()
    } else if f == 0.0 {
        "0".into()
    } else if f == -1.0 {
        "-1".into()
    } else {
        go_g(f)
    }
}

/// OpenMetrics float.
pub fn om_float(f: f64) -> String {
    if f == 1.0 {
        return "1.0".into();
    }
    if f == 0.0 {
        return "0.0".into();
    }
    if f == -1.0 {
        return "-1.0".into();
    }
    if !f.is_finite() {
        return go_g(f);
    }
    let mut s = go_g(f);
    if !s.contains(['e', '.']) {
        s.push_str(".0");
    }
    s
}

/// Go `strconv.FormatFloat(f, 'f', -1, 64)`.
pub fn plain_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's `Display` for f64 is the shortest round-trip digits, never with an exponent.
        format!("{f}")
    }
}

/// Escape a label value (both text formats).
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escape HELP text; `quotes` for OpenMetrics.
pub fn escape_help(v: &str, quotes: bool, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}
