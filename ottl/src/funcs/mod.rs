//! OTTL functions: argument binding and the editor and converter registries.

mod converters;
mod editors;
mod metrics;
mod url;

use std::borrow::Cow;

use pipeline_api::attrs::key_eq;
use regex::Regex;

use crate::compile::{at, Compiler, ConverterFn, EditorFn, Getter};
use crate::context::{ContextKind, Ctx};
use crate::parser::{self, Call};
use crate::paths::CPath;
use crate::value::Value;

pub(crate) use converters::CONVERTERS;
pub(crate) use editors::EDITORS;

/// Go's functions Ferrotel does not have: refused at load by name.
pub const NOT_SUPPORTED: &[&str] = &[
    "delete_index",
    "Base64Decode",
    "Decode",
    "CommunityID",
    "CSV",
    "ParseCSV",
    "ParseXML",
    "ParseSimplifiedXML",
    "GetXML",
    "InsertXML",
    "RemoveXML",
    "ConvertAttributesToElementsXML",
    "ConvertTextToElementsXML",
    "GetValue",
    "UserAgent",
    "ParseSeverity",
    "ParseInt",
    "SliceToMap",
    "Sort",
    "ToKeyValueString",
    "XXH3",
    "XXH128",
    "Murmur3Hash",
    "Murmur3Hash128",
    "SHA512",
    "ProfileID",
    "UUID",
    "UUIDv7",
    "IsValidLuhn",
    "ExtractGrokPatterns",
    "Unroll",
    "ElementizeAttributesXML",
    "TruncateTime",
    "FormatTime",
    "Weekday",
    "Nanosecond",
    "IsInCIDR",
    "ToCamelCase",
    "ToSnakeCase",
    "convert_exponential_histogram_to_histogram",
    "merge_histogram_buckets",
    "convert_summary_quantile_val_to_gauge",
    "extract_percentile_metric",
    "set_semconv_span_name",
    "ParseCLF",
    "ParseLEEF",
    "Base64Encode",
    "Coalesce",
    "stringify_all",
];

/// Bound arguments of one call.
pub(crate) struct Args<'a> {
    pub c: &'a Compiler,

    vals: Vec<Option<&'a parser::Arg>>,
}

impl<'a> Args<'a> {
    /// Bind positional then named arguments to `params`, of which the first `required` are required.
    pub fn bind(
        c: &'a Compiler,
        call: &'a Call,
        params: &[&str],
        required: usize,
    ) -> Result<Args<'a>, String> {
        let mut vals: Vec<Option<&parser::Arg>> = vec![None; params.len()];
        let mut pos = 0;
        let mut named = false;
        for a in &call.args {
            match &a.name {
                None => {
                    if named {
                        return Err(at(
                            a.column,
                            "positional arguments cannot follow named arguments".into(),
                        ));
                    }
                    if pos >= params.len() {
                        return Err(at(
                            a.column,
                            format!(
                                "incorrect number of arguments. Expected: {} Received: {}",
                                params.len(),
                                call.args.len()
                            ),
                        ));
                    }
                    vals[pos] = Some(a);
                    pos += 1;
                }
                Some(n) => {
                    named = true;
                    let i = params
                        .iter()
                        .position(|p| snake(p) == *n)
                        .ok_or_else(|| at(a.column, format!("no such parameter: {n}")))?;
                    if vals[i].is_some() {
                        return Err(at(a.column, format!("duplicate argument {n}")));
                    }
                    vals[i] = Some(a);
                }
            }
        }
        if vals[..required].iter().any(|v| v.is_none()) {
            return Err(format!(
                "incorrect number of arguments. Expected: {} Received: {}",
                required,
                call.args.len()
            ));
        }
        Ok(Args { c, vals })
    }

    pub fn has(&self, i: usize) -> bool {
        self.vals[i].is_some()
    }

    fn raw(&self, i: usize) -> Result<&'a parser::Value, String> {
        self.vals[i]
            .map(|a| &a.value)
            .ok_or_else(|| format!("missing argument {i}"))
    }

    /// The argument's column, for its errors.
    fn here(&self, i: usize, msg: String) -> String {
        match self.vals[i] {
            Some(a) => at(a.column, msg),
            None => msg,
        }
    }

    pub fn getter(&self, i: usize) -> Result<Getter, String> {
        self.c
            .getter(self.raw(i)?)
            .map_err(|e| self.here(i, format!("invalid argument at position {i}: {e}")))
    }

    pub fn opt_getter(&self, i: usize) -> Result<Option<Getter>, String> {
        if self.has(i) {
            self.getter(i).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn path(&self, i: usize) -> Result<CPath, String> {
        match self.raw(i)? {
            parser::Value::Path(p) => {
                let path = self.c.path(p)?;
                // an editor's target: a metric's temporality or monotonicity is read from
                // its data's header in the wire form, but can only be set in its data; and
                // a data point's metric is written with the decoded form only
                if path.sets_metric_data()
                    || (self.c.ctx == ContextKind::DataPoint && path.is_metric_level())
                {
                    self.c.needs_metric_data();
                }
                Ok(path)
            }
            _ => Err(self.here(
                i,
                format!("invalid argument at position {i}: must be a path"),
            )),
        }
    }

    pub fn str_lit(&self, i: usize) -> Result<String, String> {
        match self.raw(i)? {
            parser::Value::Str(s) => Ok(s.clone()),
            _ => Err(self.here(
                i,
                format!("invalid argument at position {i}: must be a string literal"),
            )),
        }
    }

    pub fn opt_str_lit(&self, i: usize) -> Result<Option<String>, String> {
        if self.has(i) {
            self.str_lit(i).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn int_lit(&self, i: usize) -> Result<i64, String> {
        match self.raw(i)? {
            parser::Value::Int(n) => Ok(*n),
            _ => Err(format!(
                "invalid argument at position {i}: must be an int literal"
            )),
        }
    }

    pub fn opt_int_lit(&self, i: usize) -> Result<Option<i64>, String> {
        if self.has(i) {
            self.int_lit(i).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn bool_lit(&self, i: usize) -> Result<bool, String> {
        match self.raw(i)? {
            parser::Value::Bool(b) => Ok(*b),
            _ => Err(self.here(
                i,
                format!("invalid argument at position {i}: must be a bool literal"),
            )),
        }
    }

    pub fn str_list(&self, i: usize) -> Result<Vec<String>, String> {
        self.str_list_at(i).map_err(|e| self.here(i, e))
    }

    fn str_list_at(&self, i: usize) -> Result<Vec<String>, String> {
        match self.raw(i)? {
            parser::Value::List(items) => items
                .iter()
                .map(|v| match v {
                    parser::Value::Str(s) => Ok(s.clone()),
                    _ => Err(format!(
                        "invalid argument at position {i}: must be a list of string literals"
                    )),
                })
                .collect(),
            _ => Err(format!(
                "invalid argument at position {i}: must be a list of strings"
            )),
        }
    }

    pub fn regex(&self, i: usize, func: &str) -> Result<Regex, String> {
        let p = self.str_lit(i)?;
        Regex::new(&p).map_err(|e| {
            self.here(
                i,
                format!("the regex pattern supplied to {func} is not a valid pattern: {e}"),
            )
        })
    }

    /// A pattern matched against map keys (`delete_matching_keys`, `keep_matching_keys`).
    pub fn key_pattern(&self, i: usize, func: &str) -> Result<KeyPattern, String> {
        let re = self.regex(i, func)?;
        KeyPattern::new(re.as_str())
    }

    /// A function name passed as argument (`SHA256` in `replace_pattern`).
    pub fn func_name(&self, i: usize) -> Result<Option<String>, String> {
        match self.vals[i].map(|a| &a.value) {
            None => Ok(None),
            Some(parser::Value::Enum(n, _)) => Ok(Some(n.clone())),
            Some(_) => Err(format!(
                "invalid argument at position {i}: must be a function name"
            )),
        }
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A regex over keys' bytes (the wire form holds keys so; on UTF-8 the same pattern has the
/// same matches). A pattern anchored at the start with a literal after the anchor (most key
/// patterns: `^app\.`, `^http\.request\.header\..*`) has that literal tested first,
/// so most keys of a list are turned down without running the regex, and a pattern that is
/// only a literal between anchors is a comparison.
pub(crate) struct KeyPattern {
    re: regex::bytes::Regex,
    prefix: Vec<u8>,
    exact: bool,
}

impl KeyPattern {
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        use regex_syntax::hir::{HirKind, Look};
        let re = regex::bytes::Regex::new(pattern).map_err(|e| e.to_string())?;
        let (mut prefix, mut exact) = (Vec::new(), false);
        // the regex compiled, so the pattern parses; a parser refusal only costs the shortcut
        if let Ok(hir) = regex_syntax::Parser::new().parse(pattern) {
            if let HirKind::Concat(parts) = hir.kind() {
                if let [start, lit, rest @ ..] = &parts[..] {
                    if let (HirKind::Look(Look::Start), HirKind::Literal(l)) =
                        (start.kind(), lit.kind())
                    {
                        prefix = l.0.to_vec();
                        exact =
                            matches!(rest, [end] if matches!(end.kind(), HirKind::Look(Look::End)));
                    }
                }
            }
        }
        Ok(KeyPattern { re, prefix, exact })
    }

    pub(crate) fn is_match(&self, key: &[u8]) -> bool {
        if self.exact {
            return key_eq(key, &self.prefix);
        }
        key.get(..self.prefix.len())
            .is_some_and(|head| key_eq(head, &self.prefix))
            && self.re.is_match(key)
    }
}

/// A string argument: Go's `StringGetter` (strings only); a string literal borrowed (most
/// replacement and format arguments are), anything else read.
pub(crate) fn get_str<'g>(g: &'g Getter, ctx: &Ctx<'_>) -> Result<Cow<'g, str>, String> {
    if let Getter::Lit(Value::Str(s)) = g {
        return Ok(Cow::Borrowed(s));
    }
    match g.get(ctx)? {
        Value::Str(s) => Ok(Cow::Owned(s)),
        o => Err(format!("expected string but got {}", o.type_name())),
    }
}

/// Go's `StringLikeGetter`: strings, and other values in their string form; nil stays nil.
pub(crate) fn get_str_like(g: &Getter, ctx: &Ctx<'_>) -> Result<Option<String>, String> {
    Ok(match g.get(ctx)? {
        Value::Nil => None,
        Value::Str(s) => Some(s),
        Value::Bytes(b) => Some(const_hex::encode(b)),
        o => Some(o.as_string()),
    })
}

/// [`get_str_like`] handed to `f`, without a copy where the string can be borrowed: a
/// literal, or a string attribute read where it lies in a span's wire form.
pub(crate) fn with_str_like<R>(
    g: &Getter,
    ctx: &Ctx<'_>,
    f: impl FnOnce(Option<&str>) -> R,
) -> Result<R, String> {
    let mut f = Some(f);
    let borrowed = match g {
        Getter::Lit(Value::Str(s)) => f.take().map(|f| f(Some(s))),
        Getter::Path(p) => p
            .with_wire_str(ctx, |s, _| f.take().map(|f| f(Some(s))))
            .flatten(),
        _ => None,
    };
    match (borrowed, f) {
        (Some(r), _) => Ok(r),
        (None, Some(f)) => Ok(f(get_str_like(g, ctx)?.as_deref())),
        // `f` is taken only where its result is the borrowed one
        (None, None) => Err("string getter: no value".to_string()),
    }
}

pub(crate) fn get_int(g: &Getter, ctx: &Ctx<'_>) -> Result<i64, String> {
    match g.get(ctx)? {
        Value::Int(i) => Ok(i),
        o => Err(format!("expected int64 but got {}", o.type_name())),
    }
}

pub(crate) fn get_map(
    g: &Getter,
    ctx: &Ctx<'_>,
) -> Result<Vec<pipeline_api::proto::tonic::common::v1::KeyValue>, String> {
    match g.get(ctx)? {
        Value::Map(m) => Ok(m),
        o => Err(format!("expected pcommon.Map but got {}", o.type_name())),
    }
}

/// The functions that read or change a metric's data points.
const METRIC_DATA: &[&str] = &[
    "convert_sum_to_gauge",
    "convert_gauge_to_sum",
    "scale_metric",
    "extract_sum_metric",
    "extract_count_metric",
    "copy_metric",
    "aggregate_on_attributes",
    "aggregate_on_attribute_value",
    "convert_summary_count_val_to_sum",
    "convert_summary_sum_val_to_sum",
    "HasAttrKeyOnDatapoint",
    "HasAttrOnDatapoint",
];

/// Compile a converter call.
pub(crate) fn converter(c: &Compiler, call: &Call) -> Result<ConverterFn, String> {
    if METRIC_DATA.contains(&call.name.as_str()) {
        c.needs_metric_data();
    }
    match CONVERTERS.iter().find(|(n, _)| *n == call.name) {
        Some((_, f)) => f(c, call).map_err(|e| at(call.column, format!("{}: {e}", call.name))),
        None if EDITORS.iter().any(|(n, _)| *n == call.name) => Err(at(
            call.column,
            format!("{} is an editor, not a converter", call.name),
        )),
        None => Err(at(call.column, unknown(&call.name))),
    }
}

/// Compile an editor call.
pub(crate) fn editor(c: &Compiler, call: &Call) -> Result<EditorFn, String> {
    if METRIC_DATA.contains(&call.name.as_str()) {
        c.needs_metric_data();
    }
    match EDITORS.iter().find(|(n, _)| *n == call.name) {
        Some((_, f)) => f(c, call).map_err(|e| at(call.column, format!("{}: {e}", call.name))),
        None => Err(at(call.column, unknown(&call.name))),
    }
}

fn unknown(name: &str) -> String {
    if NOT_SUPPORTED.contains(&name) {
        format!("undefined function {name:?}: Go's OTTL has it, Ferrotel does not support it yet")
    } else {
        format!("undefined function {name:?}")
    }
}

/// The names of every function Ferrotel supports.
pub fn supported() -> Vec<&'static str> {
    EDITORS
        .iter()
        .map(|(n, _)| *n)
        .chain(CONVERTERS.iter().map(|(n, _)| *n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::KeyPattern;

    #[test]
    fn key_patterns_match_as_their_regex_with_or_without_the_literal_shortcut() {
        let keys: &[&[u8]] = &[
            b"",
            b"app",
            b"app.",
            b"app.attr.1",
            b"app.attr.15",
            b"app.attr.150",
            b"xapp.attr.15",
            b"App.attr.15",
            b"http.request.header.x",
            b"http.request",
            b"caf\xc3\xa9.x",
            b"foo",
            b"foo\n",
            b"afoo",
        ];
        // (pattern, a shortcut is expected)
        let patterns = [
            (r"^app\.attr\.1[0-9]$", true),
            (r"^app\.", true),
            (r"^http\.request\.header\..*", true),
            (r"^foo$", true),
            (r"^café\.", true),
            (r"^ab*", true),
            (r"^(?i)app", false),
            (r"(?m)^foo$", false),
            (r"^app|^foo", false),
            (r"^(app|foo)", false),
            (r"app", false),
            (r"foo$", false),
            (r".*", false),
        ];
        for (p, shortcut) in patterns {
            let k = KeyPattern::new(p).unwrap();
            assert_eq!(!k.prefix.is_empty(), shortcut, "{p}");
            let re = regex::bytes::Regex::new(p).unwrap();
            for key in keys {
                assert_eq!(
                    k.is_match(key),
                    re.is_match(key),
                    "{p} on {:?}",
                    String::from_utf8_lossy(key)
                );
            }
        }
        assert!(KeyPattern::new(r"^foo$").unwrap().exact);
        assert!(KeyPattern::new("(").is_err());
    }
}
