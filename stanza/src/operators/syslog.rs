//! `syslog_parser`: RFC 3164 and RFC 5424 messages (and `none`, the raw text with its PRI),
//! as Go's stanza parser (`pkg/stanza/operator/parser/syslog`, v0.155) reads them through
//! go-syslog v4.5 (`rfc3164`, `rfc5424`, `octetcounting`, `nontransparent`):
//! - the fields go to `parse_to` (the attributes): `priority`, `facility`, `facility_text`,
//!   `hostname`, `appname`, `proc_id`, `msg_id` (RFC 5424), `message`, `structured_data`
//!   (RFC 5424: SD-ID → param → value) and `version` (RFC 5424); a field that is absent, empty
//!   or `-` is left out; the numbers are integers;
//! - the timestamp becomes the record's (RFC 3164: `Mmm dd hh:mm:ss` read in `location`, in
//!   this year, or last year when that would be more than 7 days ahead), the PRI's severity
//!   its severity (`emerg` … `debug`, OTLP 21 … 5); the body is left as it was;
//! - `allow_skip_pri_header`: a body not starting with `<` is read as if it had `<0>`, and
//!   then no PRI-derived attribute or severity is set;
//! - RFC 5424 only: `enable_octet_counting` (`LEN SP MSG` frames, `max_octets`, 8192 by
//!   default) or `non_transparent_framing_trailer` (`LF`/`NUL`): the last frame of the input
//!   counts;
//! - a message that does not parse fails the entry with go-syslog's reason (`on_error`).
//!
//! The grammars are go-syslog's: RFC 3164 is `<PRI> SP* Mmm dd hh:mm:ss SP+ (HOSTNAME SP+)?
//! ((TAG ([CONTENT])? ':' SP)? MSG) '\n'?` (day `05` accepted: stanza turns on the lenient
//! day), where a tag followed by `[` or `:` is taken even when the rest is not `: `, and the
//! message then starts where the content did, as the Go machine's single mark makes it;
//! RFC 5424 is the RFC's with a message of any bytes.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::{parser_config, BuildMode, Operator, Out, ParserBase};
use crate::entry::{Entry, Map, Value};

parser_config!(SyslogParserConfig {
    protocol: String,
    location: String,
    enable_octet_counting: bool,
    allow_skip_pri_header: bool,
    non_transparent_framing_trailer: Option<String>,
    max_octets: i64,
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Rfc3164,
    Rfc5424,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Plain,
    OctetCounting { max: usize },
    Trailer(u8),
}

/// STRUCTURED-DATA: each SD-ID with its params, in order.
pub type Elements = Vec<(String, Vec<(String, String)>)>;

/// A parsed message: what go-syslog's message exports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub priority: Option<u8>,
    /// Unix nanoseconds.
    pub timestamp: Option<i128>,
    pub hostname: Option<String>,
    pub appname: Option<String>,
    pub proc_id: Option<String>,
    pub msg_id: Option<String>,
    pub message: Option<String>,
    pub structured_data: Option<Elements>,
    pub version: Option<u16>,
}

/// go-syslog `FacilityKeywords` (RFC 5427).
const FACILITY: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// The PRI's severity (0–7) as OTLP severity number and text.
const SEVERITY: [(i32, &str); 8] = [
    (21, "emerg"),
    (19, "alert"),
    (18, "crit"),
    (17, "err"),
    (13, "warning"),
    (10, "notice"),
    (9, "info"),
    (5, "debug"),
];

fn col(msg: &str, p: usize) -> String {
    format!("{msg} [col {p}]")
}

const ERR_PRIVAL: &str = "expecting a priority value in the range 1-191 or equal to 0";
const ERR_PRI: &str = "expecting a priority value within angle brackets";

/// `<PRIVAL>` at the start: the value and where the rest starts.
fn pri(b: &[u8]) -> Result<(u8, usize), String> {
    if b.first() != Some(&b'<') {
        return Err(col(ERR_PRI, 0));
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err(col(ERR_PRIVAL, 1));
    }
    let d = &b[1..1 + digits];
    // 0, or 1..191 without a leading zero
    let valid = |d: &[u8]| -> Option<u8> {
        if d == b"0" {
            return Some(0);
        }
        if d[0] == b'0' || d.len() > 3 {
            return None;
        }
        let v: u32 = std::str::from_utf8(d).ok()?.parse().ok()?;
        (v <= 191).then_some(v as u8)
    };
    // the machine takes the longest valid prefix and then wants `>`
    for n in (1..=digits.min(3)).rev() {
        if let Some(v) = valid(&d[..n]) {
            return if b.get(1 + n) == Some(&b'>') {
                Ok((v, 2 + n))
            } else if n < digits {
                Err(col(ERR_PRIVAL, 1 + n))
            } else {
                Err(col(ERR_PRI, 1 + n))
            };
        }
    }
    Err(col(ERR_PRIVAL, 1))
}

fn graph(c: u8) -> bool {
    (0x21..=0x7e).contains(&c)
}

fn print(c: u8) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// RFC 3164 `visible`: printable, tab, or any byte from 0x80.
fn visible(c: u8) -> bool {
    print(c) || c == b'\t' || c >= 0x80
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Two digits `lo`..=`hi` at `b[i..]`.
fn two(b: &[u8], i: usize, hi: u32) -> Option<u32> {
    let (x, y) = (*b.get(i)?, *b.get(i + 1)?);
    if !x.is_ascii_digit() || !y.is_ascii_digit() {
        return None;
    }
    let v = u32::from(x - b'0') * 10 + u32::from(y - b'0');
    (v <= hi).then_some(v)
}

/// Go `time.Date` for a wall-clock time in `tz` (`hms`: hour, minute, second), normalising
/// an out-of-range day (Feb 29 in a common year is Mar 1) as Go does.
fn wall(tz: &TimeZone, y: i16, mo: i8, d: i8, hms: (i8, i8, i8)) -> Option<i128> {
    let first = DateTime::new(y, mo, 1, hms.0, hms.1, hms.2, 0).ok()?;
    let dt = first
        .checked_add(jiff::Span::new().days(i64::from(d) - 1))
        .ok()?;
    let ts = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
    Some(ts.as_nanosecond())
}

fn days_in(year: i16, month: i8) -> i8 {
    jiff::civil::Date::new(year, month, 1)
        .map(|d| d.days_in_month())
        .unwrap_or(31)
}

/// `Mmm dd hh:mm:ss` (Go `time.Stamp`, day ` 5`, `05` or `15`) read in `tz`, given this
/// year (or last year when more than 7 days ahead: stanza's `SetTimestampYear`).
fn stamp(b: &[u8], at: usize, tz: &TimeZone) -> Result<(i128, usize), String> {
    let err = |p: usize| col("expecting a Stamp timestamp", p);
    // at the first character the Go machine names its (disabled) Cisco sequence number
    let month = MONTHS
        .iter()
        .position(|m| b[at..].starts_with(m))
        .ok_or_else(|| {
            if b[at..]
                .first()
                .is_some_and(|&c| MONTHS.iter().any(|m| m[0] == c))
            {
                err(at + 1)
            } else {
                col("expecting a sequence number (from 1 to max 255 digits)", at)
            }
        })? as i8
        + 1;
    let mut i = at + 3;
    if b.get(i) != Some(&b' ') {
        return Err(err(i));
    }
    i += 1;
    let day = match (b.get(i), b.get(i + 1)) {
        (Some(b' '), Some(c @ b'1'..=b'9')) | (Some(b'0'), Some(c @ b'1'..=b'9')) => {
            (c - b'0') as i8
        }
        (Some(x @ b'1'..=b'2'), Some(y)) if y.is_ascii_digit() => {
            ((x - b'0') * 10 + y - b'0') as i8
        }
        (Some(b'3'), Some(y @ b'0'..=b'1')) => (30 + y - b'0') as i8,
        _ => return Err(err(i)),
    };
    i += 2;
    if b.get(i) != Some(&b' ') {
        return Err(err(i));
    }
    i += 1;
    let h = two(b, i, 23).ok_or_else(|| err(i))?;
    let m = (b.get(i + 2) == Some(&b':'))
        .then(|| two(b, i + 3, 59))
        .flatten()
        .ok_or_else(|| err(i + 2))?;
    let s = (b.get(i + 5) == Some(&b':'))
        .then(|| two(b, i + 6, 59))
        .flatten()
        .ok_or_else(|| err(i + 5))?;
    i += 8;
    // Go parses in year 0, a leap year: Feb 30 fails, Feb 29 passes
    if day > days_in(2000, month) {
        let text = String::from_utf8_lossy(&b[at..i]);
        return Err(col(&format!("parsing time {text:?}: day out of range"), i));
    }
    let now = jiff::Timestamp::now();
    let year = now.to_zoned(tz.clone()).year();
    let at_year = |y: i16| wall(tz, y, month, day, (h as i8, m as i8, s as i8));
    let mut ts = at_year(year).ok_or_else(|| err(at))?;
    let week = 7 * 24 * 3600 * 1_000_000_000i128;
    if ts - now.as_nanosecond() > week {
        ts = at_year(year - 1).ok_or_else(|| err(at))?;
    }
    Ok((ts, i))
}

/// RFC 3164 TAG: 1 to 48 printable characters but space, `:` and `[`.
fn tag_len(b: &[u8]) -> usize {
    b.iter()
        .take(49)
        .take_while(|&&c| print(c) && !b" :[".contains(&c))
        .count()
}

/// The MSG part (`(TAG [CONTENT]? ':' SP)? MEX`) into `m`. A tag followed by `[` or `:` is
/// taken, and a content followed by `]`, even when what follows does not make `: `.
fn rfc3164_msg(b: &[u8], m: &mut Message) {
    let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
    m.message = Some(text(b));
    let t = tag_len(b);
    if t == 0 || t > 48 {
        return;
    }
    let mut i = t;
    match b.get(i) {
        Some(b'[') | Some(b':') => m.appname = Some(text(&b[..t])),
        _ => return,
    }
    if b[i] == b'[' {
        // the machine's one mark moves to the content: unless the `: ` that ends the tag
        // part follows, the message is read from there
        m.message = Some(text(&b[i + 1..]));
        let content = b[i + 1..]
            .iter()
            .take_while(|&&c| visible(c) && c != b'[' && c != b']')
            .count();
        if b.get(i + 1 + content) != Some(&b']') {
            return;
        }
        if content > 0 {
            m.proc_id = Some(text(&b[i + 1..i + 1 + content]));
        }
        i += content + 2;
    }
    if b.get(i) == Some(&b':') && b.get(i + 1) == Some(&b' ') && i + 2 < b.len() {
        m.message = Some(text(&b[i + 2..]));
    }
}

/// An RFC 3164 message (go-syslog `rfc3164` with the locale time zone and a lenient day).
pub fn parse_rfc3164(input: &[u8], tz: &TimeZone) -> Result<Message, String> {
    let mut b = input;
    if b.last() == Some(&b'\n') {
        b = &b[..b.len() - 1];
    }
    let (priority, mut i) = pri(b)?;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (timestamp, after) = stamp(b, i, tz)?;
    i = after;
    let spaces = b[i..].iter().take_while(|&&c| c == b' ').count();
    if spaces == 0 {
        return Err(col("parsing error", i));
    }
    i += spaces;
    let rest = &b[i..];
    if let Some(bad) = rest.iter().position(|&c| !visible(c)) {
        return Err(col("parsing error", i + bad));
    }
    if rest.is_empty() {
        return Err(col("parsing error", i));
    }
    let mut m = Message {
        priority: Some(priority),
        timestamp: Some(timestamp),
        ..Default::default()
    };
    // a hostname (graph characters but `:`) followed by spaces and more
    let host = rest.iter().take_while(|&&c| graph(c) && c != b':').count();
    let host_spaces = rest[host..].iter().take_while(|&&c| c == b' ').count();
    let msg = if host > 0 && host <= 255 && host_spaces > 0 && host + host_spaces < rest.len() {
        m.hostname = Some(String::from_utf8_lossy(&rest[..host]).into_owned());
        &rest[host + host_spaces..]
    } else {
        rest
    };
    rfc3164_msg(msg, &mut m);
    Ok(m)
}

/// An RFC 3339 timestamp with at most 6 fraction digits (go-syslog `RFC3339MICRO`) at
/// `b[i..]`, up to the next space.
fn rfc3339(b: &[u8], i: usize) -> Result<(i128, usize), String> {
    let err = |p: usize| col("expecting a RFC3339MICRO timestamp or a nil value", p);
    let num = |at: usize, n: usize| -> Option<u32> {
        let s = b.get(at..at + n)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(s).ok()?.parse().ok())
            .flatten()
    };
    let y = num(i, 4).ok_or_else(|| err(i))?;
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !sep(i + 4, b'-') {
        return Err(err(i + 4));
    }
    let mo = num(i + 5, 2)
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| err(i + 5))?;
    if !sep(i + 7, b'-') {
        return Err(err(i + 7));
    }
    let d = num(i + 8, 2)
        .filter(|d| (1..=31).contains(d))
        .ok_or_else(|| err(i + 8))?;
    if !sep(i + 10, b'T') {
        return Err(err(i + 10));
    }
    let h = two(b, i + 11, 23).ok_or_else(|| err(i + 11))?;
    let mi = (sep(i + 13, b':'))
        .then(|| two(b, i + 14, 59))
        .flatten()
        .ok_or_else(|| err(i + 13))?;
    let s = (sep(i + 16, b':'))
        .then(|| two(b, i + 17, 59))
        .flatten()
        .ok_or_else(|| err(i + 16))?;
    let mut p = i + 19;
    let mut nanos = 0i32;
    if sep(p, b'.') {
        let digits = b[p + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 6 {
            return Err(err(p + 1 + digits.min(6)));
        }
        let mut v: i32 = std::str::from_utf8(&b[p + 1..p + 1 + digits])
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        for _ in digits..9 {
            v *= 10;
        }
        nanos = v;
        p += 1 + digits;
    }
    let offset_secs: i32 = match b.get(p) {
        Some(b'Z') => {
            p += 1;
            0
        }
        Some(c @ (b'+' | b'-')) => {
            let oh = two(b, p + 1, 23).ok_or_else(|| err(p + 1))?;
            let om = (sep(p + 3, b':'))
                .then(|| two(b, p + 4, 59))
                .flatten()
                .ok_or_else(|| err(p + 3))?;
            let v = (oh * 3600 + om * 60) as i32;
            p += 6;
            if *c == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err(err(p)),
    };
    if u32::from(days_in(y as i16, mo as i8) as u8) < d {
        let text = String::from_utf8_lossy(&b[i..p]);
        return Err(col(&format!("parsing time {text:?}: day out of range"), p));
    }
    let dt = DateTime::new(
        y as i16, mo as i8, d as i8, h as i8, mi as i8, s as i8, nanos,
    )
    .map_err(|_| err(i))?;
    let off = jiff::tz::Offset::from_seconds(offset_secs).map_err(|_| err(p))?;
    let ts = off.to_timestamp(dt).map_err(|_| err(i))?;
    Ok((ts.as_nanosecond(), p))
}

/// A header field: 1 to `max` graph characters (`-` is nil), then a space.
fn field(b: &[u8], i: usize, max: usize, what: &str) -> Result<(Option<String>, usize), String> {
    let n = b[i..].iter().take_while(|&&c| graph(c)).count();
    if n == 0 || n > max {
        return Err(col(what, i + n.min(max)));
    }
    let v = &b[i..i + n];
    let v = (v != b"-").then(|| String::from_utf8_lossy(v).into_owned());
    Ok((v, i + n))
}

fn sp(b: &[u8], i: usize) -> Result<usize, String> {
    if b.get(i) == Some(&b' ') {
        Ok(i + 1)
    } else {
        Err(col("parsing error", i))
    }
}

const ERR_SD: &str = "expecting a structured data section containing one or more elements (`[id( key=\"value\")*]+`) or a nil value";
const ERR_SDID: &str = "expecting a structured data element id (from 1 to max 32 US-ASCII characters; except `=`, ` `, `]`, and `\"`";
const ERR_SDPARAM: &str = "expecting a structured data parameter (`key=\"value\"`, both part from 1 to max 32 US-ASCII characters; key cannot contain `=`, ` `, `]`, and `\"`, while value cannot contain `]`, backslash, and `\"` unless escaped)";
const ERR_ESCAPE: &str = "expecting chars `]`, `\"`, and `\\` to be escaped within param value";

/// An SD-NAME: 1 to 32 graph characters but `=`, space, `]`, `"`.
fn sd_name(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .take(33)
        .take_while(|&&c| graph(c) && !b"= ]\"".contains(&c))
        .count()
}

/// STRUCTURED-DATA at `b[i..]`: `-` or one or more `[SD-ID (SP PARAM)*]`.
fn structured_data(b: &[u8], mut i: usize) -> Result<(Option<Elements>, usize), String> {
    if b.get(i) == Some(&b'-') {
        return Ok((None, i + 1));
    }
    if b.get(i) != Some(&b'[') {
        return Err(col(ERR_SD, i));
    }
    let mut elements: Elements = Vec::new();
    while b.get(i) == Some(&b'[') {
        i += 1;
        let n = sd_name(b, i);
        if n == 0 || n > 32 {
            return Err(col(ERR_SDID, i + n.min(32)));
        }
        let id = String::from_utf8_lossy(&b[i..i + n]).into_owned();
        if elements.iter().any(|(e, _)| *e == id) {
            return Err(col("duplicate structured data element id", i + n));
        }
        i += n;
        let mut params: Vec<(String, String)> = Vec::new();
        while b.get(i) == Some(&b' ') {
            i += 1;
            let n = sd_name(b, i);
            if n == 0 || n > 32 || b.get(i + n) != Some(&b'=') || b.get(i + n + 1) != Some(&b'"') {
                return Err(col(ERR_SDPARAM, i + n.min(32)));
            }
            let name = String::from_utf8_lossy(&b[i..i + n]).into_owned();
            i += n + 2;
            let mut value = Vec::new();
            loop {
                match b.get(i) {
                    None => return Err(col(ERR_SDPARAM, i)),
                    Some(b'"') => break,
                    Some(b']') => return Err(col(ERR_ESCAPE, i)),
                    Some(b'\\') => match b.get(i + 1) {
                        Some(c @ (b'"' | b']' | b'\\')) => {
                            value.push(*c);
                            i += 2;
                        }
                        _ => return Err(col(ERR_ESCAPE, i + 1)),
                    },
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
            let value = String::from_utf8(value).map_err(|_| col(ERR_SDPARAM, i))?;
            i += 1;
            // a repeated name: the last one counts
            params.retain(|(k, _)| *k != name);
            params.push((name, value));
        }
        if b.get(i) != Some(&b']') {
            return Err(col(ERR_SDPARAM, i));
        }
        i += 1;
        elements.push((id, params));
    }
    Ok((Some(elements), i))
}

/// An RFC 5424 message (go-syslog `rfc5424`, the message any bytes).
pub fn parse_rfc5424(b: &[u8]) -> Result<Message, String> {
    let (priority, mut i) = pri(b)?;
    let vd = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let err_version = "expecting a version value in the range 1-999";
    if vd == 0 || b[i] == b'0' {
        return Err(col(err_version, i));
    }
    if vd > 3 {
        return Err(col(err_version, i + 3));
    }
    let version: u16 = std::str::from_utf8(&b[i..i + vd])
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    i = sp(b, i + vd)?;
    let timestamp = if b.get(i) == Some(&b'-') {
        i += 1;
        None
    } else {
        let (t, after) = rfc3339(b, i)?;
        i = after;
        Some(t)
    };
    i = sp(b, i)?;
    let (hostname, after) = field(
        b,
        i,
        255,
        "expecting an hostname (from 1 to max 255 US-ASCII characters) or a nil value",
    )?;
    i = sp(b, after)?;
    let (appname, after) = field(
        b,
        i,
        48,
        "expecting an app-name (from 1 to max 48 US-ASCII characters) or a nil value",
    )?;
    i = sp(b, after)?;
    let (proc_id, after) = field(
        b,
        i,
        128,
        "expecting a procid (from 1 to max 128 US-ASCII characters) or a nil value",
    )?;
    i = sp(b, after)?;
    let (msg_id, after) = field(
        b,
        i,
        32,
        "expecting a msgid (from 1 to max 32 US-ASCII characters) or a nil value",
    )?;
    i = sp(b, after)?;
    let (structured_data, after) = structured_data(b, i)?;
    i = after;
    let message = match b.get(i) {
        None => None,
        Some(b' ') => {
            let m = &b[i + 1..];
            (!m.is_empty()).then(|| String::from_utf8_lossy(m).into_owned())
        }
        Some(_) => return Err(col("parsing error", i)),
    };
    Ok(Message {
        priority: Some(priority),
        timestamp,
        hostname,
        appname,
        proc_id,
        msg_id,
        message,
        structured_data,
        version: Some(version),
    })
}

/// RFC 6587 octet counting (go-syslog `octetcounting`, best effort): `LEN SP MSG` frames;
/// the last frame's result counts.
pub fn parse_octet_counted(input: &[u8], max: usize) -> Result<Message, String> {
    let mut i = 0;
    let mut last: Option<Result<Message, String>> = None;
    while i < input.len() {
        let digits = input[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || input[i] == b'0' {
            let found = String::from_utf8_lossy(&input[i..(i + 1).min(input.len())]).into_owned();
            last = Some(Err(format!("found {found}, expecting a MSGLEN")));
            break;
        }
        let len: usize = std::str::from_utf8(&input[i..i + digits])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        i += digits;
        if input.get(i) != Some(&b' ') {
            last = Some(Err("found EOF, expecting a WS".to_string()));
            break;
        }
        i += 1;
        if len > max {
            last = Some(Err(format!(
                "message length ({len}) exceeds maximum length ({max})"
            )));
            break;
        }
        let end = i.saturating_add(len);
        if end > input.len() {
            let got = &input[i..];
            last = Some(Err(format!(
                "found EOF after \"{}\", expecting a SYSLOGMSG containing {len} octets",
                String::from_utf8_lossy(got)
            )));
            break;
        }
        last = Some(parse_rfc5424(&input[i..end]));
        i = end;
    }
    last.unwrap_or_else(|| Err("parsed value was not rfc3164 or rfc5424 compliant".into()))
}

/// Non-transparent framing (go-syslog `nontransparent`, best effort): messages each ended by
/// `trailer`; the last one's result counts.
pub fn parse_with_trailer(input: &[u8], trailer: u8) -> Result<Message, String> {
    let mut last: Option<Result<Message, String>> = None;
    for frame in input.split(|&c| c == trailer) {
        if frame.is_empty() {
            continue;
        }
        last = Some(parse_rfc5424(frame));
    }
    last.unwrap_or_else(|| Err("parsed value was not rfc3164 or rfc5424 compliant".into()))
}

struct SyslogParser {
    p: ParserBase,
    protocol: Protocol,
    framing: Framing,
    tz: TimeZone,
    octet_counting: bool,
    skip_pri: bool,
}

impl SyslogParser {
    fn parse(&self, b: &[u8]) -> Result<Message, String> {
        // stanza: `<0>` in front unless a `<digits>` appears anywhere
        let prefixed;
        let with_pri = if self.skip_pri && !has_pri(b) {
            prefixed = [b"<0>", b].concat();
            &prefixed[..]
        } else {
            b
        };
        match (self.protocol, self.framing) {
            (Protocol::Rfc3164, _) => parse_rfc3164(with_pri, &self.tz),
            (Protocol::Rfc5424, Framing::Plain) => parse_rfc5424(with_pri),
            (Protocol::Rfc5424, Framing::OctetCounting { max }) => parse_octet_counted(b, max),
            (Protocol::Rfc5424, Framing::Trailer(t)) => parse_with_trailer(b, t),
            (Protocol::None, _) => {
                let mut msg = b;
                if self.octet_counting {
                    if let Some((prefix, _)) = octet_prefix(b) {
                        msg = &b[prefix..];
                    }
                }
                let mut m = Message {
                    message: Some(String::from_utf8_lossy(msg).into_owned()),
                    ..Default::default()
                };
                if let Some(n) = pri_at(msg) {
                    let v: u32 = std::str::from_utf8(&msg[1..n - 1])
                        .ok()
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(999);
                    if v <= 191 {
                        m.priority = Some(v as u8);
                    }
                }
                Ok(m)
            }
        }
    }
}

/// An octet-counting frame's `^[1-9]\d*\s` at the start of `b` (Go's regex in stanza's
/// syslog input and parser): the prefix's length, white space included, and the length it
/// declares.
pub fn octet_prefix(b: &[u8]) -> Option<(usize, usize)> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || b[0] == b'0' || !b.get(digits).is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let len = std::str::from_utf8(&b[..digits]).ok()?.parse().ok()?;
    Some((digits + 1, len))
}

/// The length of a `<` + 1 to 3 digits + `>` at the start of `b` (Go `<\d{1,3}>`).
fn pri_at(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let d = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    ((1..=3).contains(&d) && b.get(1 + d) == Some(&b'>')).then_some(d + 2)
}

/// Go `<\d{1,3}>` anywhere in the input.
fn has_pri(b: &[u8]) -> bool {
    (0..b.len()).any(|i| pri_at(&b[i..]).is_some())
}

/// The attributes a message gives (`priority` & co. unless `without_pri`).
pub fn fields(m: &Message, without_pri: bool) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut s = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.push((k.to_string(), Value::Str(v.clone())));
        }
    };
    s("hostname", &m.hostname);
    s("appname", &m.appname);
    s("proc_id", &m.proc_id);
    s("msg_id", &m.msg_id);
    s("message", &m.message);
    if let Some(sd) = &m.structured_data {
        let mut map = Map::new();
        for (id, params) in sd {
            let mut p = Map::new();
            for (k, v) in params {
                p.insert(k.clone(), Value::Str(v.clone()));
            }
            map.insert(id.clone(), Value::Map(p));
        }
        out.push(("structured_data".into(), Value::Map(map)));
    }
    if let Some(v) = m.version {
        out.push(("version".into(), Value::Int(i64::from(v))));
    }
    if !without_pri {
        if let Some(p) = m.priority {
            out.push(("priority".into(), Value::Int(i64::from(p))));
            out.push(("facility".into(), Value::Int(i64::from(p / 8))));
            out.push((
                "facility_text".into(),
                Value::Str(FACILITY[usize::from(p / 8)].to_string()),
            ));
        }
    }
    out
}

impl Operator for SyslogParser {
    fn process(&mut self, e: Entry, out: &mut Out) {
        match self.p.base.skip(&e) {
            Err(err) => return self.p.base.fail(e, &err, out),
            Ok(true) => return out.send(e),
            Ok(false) => {}
        }
        match self.run(e) {
            Ok(e) => out.send(e),
            Err(f) => {
                let (e, err) = *f;
                self.p.base.fail(e, &err, out)
            }
        }
    }
}

impl SyslogParser {
    fn run(&self, mut e: Entry) -> Result<Entry, super::ParseFailure> {
        let fail = |e: Entry, m: String| Err(Box::new((e, m)));
        let Some(value) = self.p.parse_from.get(&e) else {
            let msg = format!(
                "Entry is missing the expected parse_from field {}",
                self.p.parse_from
            );
            return fail(e, msg);
        };
        let bytes = match value {
            Value::Str(s) => s.as_bytes(),
            other => {
                let m = format!(
                    "unable to convert type '{}' to bytes",
                    super::parsers::kind(other)
                );
                return fail(e, m);
            }
        };
        // stanza reads the body (not `parse_from`) to decide that a PRI is missing
        let without_pri = self.skip_pri
            && !self.octet_counting
            && matches!(&e.body, Some(Value::Str(s)) if s.len() > 1 && !s.starts_with('<'));
        let m = match self.parse(bytes) {
            Ok(m) => m,
            Err(err) => return fail(e, err),
        };
        let mut fields = fields(&m, without_pri);
        let severity = (!without_pri)
            .then_some(m.priority)
            .flatten()
            .map(|p| p % 8);
        let to_attributes = self.p.parses_into_attributes();
        let native_time = self.p.time.is_none() && self.protocol != Protocol::None;
        if native_time && (m.timestamp.is_none() || !to_attributes) {
            // Go's native time parser finds no `timestamp`; the PRI's severity stays an
            // attribute
            if let Some(s) = severity {
                fields.push(("severity".into(), Value::Int(i64::from(s))));
            }
            let err = store(&self.p, &mut e, fields, to_attributes)
                .err()
                .unwrap_or_else(|| {
                    "time parser: log entry does not have the expected parse_from field".into()
                });
            return fail(e, err);
        }
        if let Err(m) = store(&self.p, &mut e, fields, to_attributes) {
            return fail(e, m);
        }
        if native_time {
            e.timestamp = m.timestamp.and_then(|t| u64::try_from(t).ok());
        }
        let mut e = self.p.after_parse(e)?;
        if let Some(s) = severity {
            let (n, text) = SEVERITY[usize::from(s)];
            e.severity = n;
            e.severity_text = text.to_string();
        }
        Ok(e)
    }
}

fn store(
    p: &ParserBase,
    e: &mut Entry,
    fields: Vec<(String, Value)>,
    to_attributes: bool,
) -> Result<(), String> {
    if to_attributes {
        for (k, v) in fields {
            e.attributes.insert(k, v);
        }
        return Ok(());
    }
    let mut map = Map::new();
    for (k, v) in fields {
        map.insert(k, v);
    }
    p.parse_to
        .set(e, Value::Map(map))
        .map_err(|err| format!("set parse_to: {err}"))
}

pub fn build(
    id: &str,
    c: &SyslogParserConfig,
    mode: BuildMode,
) -> Result<Box<dyn Operator>, (String, String)> {
    let proto = c.protocol.to_lowercase();
    let p =
        ParserBase::build(id, c.on_error, &c.if_expr, c, mode).map_err(|m| (String::new(), m))?;
    let trailer = c.non_transparent_framing_trailer.as_deref();
    let err = |key: &str, m: String| Err((key.to_string(), m));
    let protocol = match proto.as_str() {
        "" => return err("protocol", "missing field 'protocol'".into()),
        "rfc3164" => Protocol::Rfc3164,
        "rfc5424" => Protocol::Rfc5424,
        "none" => Protocol::None,
        other => return err("protocol", format!("unsupported protocol version: {other}")),
    };
    if protocol == Protocol::None && trailer.is_some() {
        return err(
            "non_transparent_framing_trailer",
            "non_transparent_framing is not compatible with protocol none".into(),
        );
    }
    if protocol == Protocol::Rfc3164 && (trailer.is_some() || c.enable_octet_counting) {
        return err(
            "protocol",
            "octet_counting and non_transparent_framing are only compatible with protocol rfc5424"
                .into(),
        );
    }
    if protocol == Protocol::Rfc5424 && trailer.is_some() && c.enable_octet_counting {
        return err(
            "enable_octet_counting",
            "only one of octet_counting or non_transparent_framing can be enabled".into(),
        );
    }
    let framing = match (protocol, trailer) {
        (Protocol::Rfc5424, Some("LF")) => Framing::Trailer(b'\n'),
        (Protocol::Rfc5424, Some("NUL")) => Framing::Trailer(0),
        (Protocol::Rfc5424, Some(other)) => {
            return err(
                "non_transparent_framing_trailer",
                format!(
                "invalid non_transparent_framing_trailer '{other}'. Must be either 'LF' or 'NUL'"
            ),
            )
        }
        (Protocol::Rfc5424, None) if c.enable_octet_counting => Framing::OctetCounting {
            max: if c.max_octets > 0 {
                c.max_octets as usize
            } else {
                8192
            },
        },
        _ => Framing::Plain,
    };
    let location = if c.location.is_empty() {
        "UTC"
    } else {
        &c.location
    };
    let tz = TimeZone::get(location).map_err(|e| {
        (
            "location".to_string(),
            format!("failed to load location {location}: {e}"),
        )
    })?;
    Ok(Box::new(SyslogParser {
        p,
        protocol,
        framing,
        tz,
        octet_counting: c.enable_octet_counting,
        skip_pri: c.allow_skip_pri_header,
    }))
}
