//! `URL(uri)`: Go's `ottlfuncs.URL`, which parses with Go's `net/url.Parse` and returns the
//! semantic-convention keys (`url.original`, `url.scheme`, `url.domain`, `url.path`,
//! `url.port`, `url.fragment`, `url.query`, `url.extension`, `url.user_info`,
//! `url.username`, `url.password`); a string starting with `?` is a bare query and gives
//! `{"query": {name: [values]}}`.
//!
//! The parser follows `net/url` for what these keys read: the scheme is lower-cased, the
//! fragment split off at the first `#`, the query at the first `?`, an authority only after
//! `//`, the port (digits only) after the host's last `:`, the path and the user info
//! percent-decoded. `url.original` is Go's re-encoding of the parsed URL, which for a URL
//! that parses is its text with the scheme lower-cased.

use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

fn url_error(raw: &str, msg: impl std::fmt::Display) -> String {
    format!("parse {raw:?}: {msg}")
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding; `plus` turns `+` into a space (query components).
fn unescape(s: &str, plus: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(unhex);
                let lo = b.get(i + 2).copied().and_then(unhex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => {
                        let end = (i + 3).min(b.len());
                        let esc = String::from_utf8_lossy(&b[i..end]);
                        return Err(format!("invalid URL escape {esc:?}"));
                    }
                }
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `:digits` or nothing.
fn valid_optional_port(p: &str) -> bool {
    p.is_empty() || (p.starts_with(':') && p[1..].bytes().all(|c| c.is_ascii_digit()))
}

/// Go's `url.ParseQuery`: pairs by `&`, `;` refused, `+` a space; the first error is
/// returned after the rest is read.
fn parse_query(q: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut err = None;
    for part in q.split('&') {
        if part.contains(';') {
            err.get_or_insert_with(|| "invalid semicolon separator in query".to_string());
            continue;
        }
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = match (unescape(k, true), unescape(v, true)) {
            (Ok(k), Ok(v)) => (k, v),
            (Err(e), _) | (_, Err(e)) => {
                err.get_or_insert(e);
                continue;
            }
        };
        match out.iter_mut().find(|(x, _)| *x == k) {
            Some((_, vs)) => vs.push(v),
            None => out.push((k, vec![v])),
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn query_map(q: Vec<(String, Vec<String>)>) -> Vec<KeyValue> {
    if q.is_empty() {
        return Vec::new();
    }
    let mut params: Vec<KeyValue> = q
        .into_iter()
        .map(|(k, vs)| {
            kv(
                &k,
                any_value::Value::ArrayValue(ArrayValue {
                    values: vs.iter().map(|v| AnyValue { value: Some(s(v)) }).collect(),
                }),
            )
        })
        .collect();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    vec![kv(
        "query",
        any_value::Value::KvlistValue(KeyValueList { values: params }),
    )]
}

/// Go's `getScheme`: letters then letters, digits, `+`, `-`, `.` up to a `:`.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// The map `URL` returns for `raw` (not empty).
pub(crate) fn parse(raw: &str) -> Result<Vec<KeyValue>, String> {
    if let Some(q) = raw.strip_prefix('?') {
        return parse_query(q).map(query_map);
    }
    let (body, fragment) = match raw.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (raw, None),
    };
    if body.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return Err(url_error(body, "net/url: invalid control character in URL"));
    }
    let (scheme, rest) = split_scheme(body).map_err(|e| url_error(body, e))?;
    let scheme = scheme.to_ascii_lowercase();
    let (rest, raw_query) = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        (&rest[..rest.len() - 1], "")
    } else {
        rest.split_once('?').unwrap_or((rest, ""))
    };
    let mut host = String::new();
    let mut port = String::new();
    let mut user: Option<(String, String, Option<String>)> = None;
    let mut path = String::new();
    if !rest.starts_with('/') && !scheme.is_empty() {
        // An opaque URL (`mailto:x@y`): no host, no path.
    } else {
        if !rest.starts_with('/') {
            let seg = rest.split('/').next().unwrap_or("");
            if seg.contains(':') {
                return Err(url_error(
                    body,
                    "first path segment in URL cannot contain colon",
                ));
            }
        }
        let mut path_part = rest;
        if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
            let after = &rest[2..];
            let (authority, p) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            path_part = p;
            let hostport = match authority.rfind('@') {
                Some(i) => {
                    let info = &authority[..i];
                    let (name, pass) = match info.split_once(':') {
                        Some((n, p)) => (n, Some(p)),
                        None => (info, None),
                    };
                    let name = unescape(name, false).map_err(|e| url_error(body, e))?;
                    let pass = match pass {
                        Some(p) => Some(unescape(p, false).map_err(|e| url_error(body, e))?),
                        None => None,
                    };
                    user = Some((info.to_string(), name, pass));
                    &authority[i + 1..]
                }
                None => authority,
            };
            let (h, p) = split_host_port(hostport).map_err(|e| url_error(body, e))?;
            host = unescape(h, false).map_err(|e| url_error(body, e))?;
            port = p.to_string();
        }
        path = unescape(path_part, false).map_err(|e| url_error(body, e))?;
    }
    let fragment = match fragment {
        Some(f) => unescape(f, false).map_err(|e| url_error(raw, e))?,
        None => String::new(),
    };

    let original = if scheme.is_empty() {
        raw.to_string()
    } else {
        format!("{scheme}{}", &raw[scheme.len()..])
    };
    let mut out = vec![
        kv("url.original", s(&original)),
        kv("url.domain", s(&host)),
        kv("url.scheme", s(&scheme)),
        kv("url.path", s(&path)),
    ];
    if !port.is_empty() {
        let n: i64 = port
            .parse()
            .map_err(|_| format!("strconv.Atoi: parsing {port:?}: value out of range"))?;
        out.push(kv("url.port", any_value::Value::IntValue(n)));
    }
    if !fragment.is_empty() {
        out.push(kv("url.fragment", s(&fragment)));
    }
    if let Some((info, name, pass)) = user {
        out.push(kv("url.user_info", s(&info)));
        if !name.is_empty() {
            out.push(kv("url.username", s(&name)));
        }
        if let Some(p) = pass {
            out.push(kv("url.password", s(&p)));
        }
    }
    if !raw_query.is_empty() {
        out.push(kv("url.query", s(raw_query)));
    }
    if let Some(i) = path.rfind('.') {
        if i < path.len() - 1 {
            out.push(kv("url.extension", s(&path[i + 1..])));
        }
    }
    Ok(out)
}

/// Host and port of an authority, brackets of an IPv6 literal removed; the port must be
/// digits.
fn split_host_port(hp: &str) -> Result<(&str, &str), String> {
    if hp.starts_with('[') {
        let Some(i) = hp.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &hp[i + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {colon_port:?} after host"));
        }
        return Ok((&hp[1..i], colon_port.strip_prefix(':').unwrap_or("")));
    }
    match hp.rfind(':') {
        Some(i) => {
            let colon_port = &hp[i..];
            if !valid_optional_port(colon_port) {
                return Err(format!("invalid port {colon_port:?} after host"));
            }
            Ok((&hp[..i], &colon_port[1..]))
        }
        None => Ok((hp, "")),
    }
}
