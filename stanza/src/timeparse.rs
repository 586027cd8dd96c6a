//! Time parsing as stanza does it: `layout_type: strptime` (the default) is translated to a Go
//! layout and parsed as `gotime`; `epoch` takes seconds and sub-seconds.
//!
//! Go facts relied on (`pkg/stanza/operator/helper/time.go`, `internal/coreinternal/timeutils`,
//! the `ctimefmt` translation table and Go's `time.Parse`):
//! - strptime directives map to Go layout chunks (`%Y`→`2006`, `%m`→`01`, `%d`→`02`,
//!   `%H`→`15`, `%M`→`04`, `%S`→`05`, `%L`→`999`, `%f`→`999999`, `%s`→`999999999`,
//!   `%z`→`Z0700`, `%Z`→`MST`, `%b`→`Jan`, ...); `%L`/`%f`/`%s` must follow `.` or `,`;
//! - without `location`, a layout ending in `Z` is read in UTC, any other in local time;
//! - Go's parse: fixed-width numbers for zero-padded chunks, 1–2 digits otherwise, any run of
//!   fractional digits after the seconds even when the layout has none, `.999` takes any
//!   number of digits and may be absent, `.000` needs exactly that many;
//! - a parsed zone abbreviation with no known offset is looked up as a location name (the
//!   stanza `parseGotime` fallback), else taken as UTC;
//! - a layout without a year gets the current year, or the previous one when that would put
//!   the time more than 7 days in the future (`setTimestampYear`);
//! - epoch layouts are `s`, `ms`, `us`, `ns`, `s.ms`, `s.us`, `s.ns`.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use serde::Deserialize;

use crate::entry::{Entry, Field, Value};
use crate::operators::BuildMode;

/// `timestamp:` / `time_parser` keys (Go `helper.TimeParser`).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TimeConfig {
    pub parse_from: Option<Field>,
    pub layout: String,
    pub layout_type: Option<String>,
    pub location: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PmUpper,
    PmLower,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    Frac0(usize),
    Frac9(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Lit(String),
    Std(Chunk),
}

fn lower_next(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(|c| c.is_ascii_lowercase())
}

/// Split a Go layout into literals and chunks (Go `nextStdChunk`).
fn chunks(layout: &str) -> Vec<Item> {
    let b = layout.as_bytes();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let starts = |i: usize, s: &str| b[i..].starts_with(s.as_bytes());
    while i < b.len() {
        let (chunk, len): (Option<Chunk>, usize) = match b[i] {
            b'J' if starts(i, "January") => (Some(Chunk::LongMonth), 7),
            b'J' if starts(i, "Jan") && !lower_next(b, i + 3) => (Some(Chunk::Month), 3),
            b'M' if starts(i, "Monday") => (Some(Chunk::LongWeekDay), 6),
            b'M' if starts(i, "Mon") && !lower_next(b, i + 3) => (Some(Chunk::WeekDay), 3),
            b'M' if starts(i, "MST") => (Some(Chunk::Tz), 3),
            b'0' if starts(i, "002") => (Some(Chunk::ZeroYearDay), 3),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => {
                let c = match b[i + 1] {
                    b'1' => Chunk::ZeroMonth,
                    b'2' => Chunk::ZeroDay,
                    b'3' => Chunk::ZeroHour12,
                    b'4' => Chunk::ZeroMinute,
                    b'5' => Chunk::ZeroSecond,
                    _ => Chunk::Year,
                };
                (Some(c), 2)
            }
            b'1' if starts(i, "15") => (Some(Chunk::Hour), 2),
            b'1' => (Some(Chunk::NumMonth), 1),
            b'2' if starts(i, "2006") => (Some(Chunk::LongYear), 4),
            b'2' => (Some(Chunk::Day), 1),
            b'_' if starts(i, "__2") => (Some(Chunk::UnderYearDay), 3),
            b'_' if starts(i, "_2") && !starts(i, "_2006") => (Some(Chunk::UnderDay), 2),
            b'3' => (Some(Chunk::Hour12), 1),
            b'4' => (Some(Chunk::Minute), 1),
            b'5' => (Some(Chunk::Second), 1),
            b'P' if starts(i, "PM") => (Some(Chunk::PmUpper), 2),
            b'p' if starts(i, "pm") => (Some(Chunk::PmLower), 2),
            b'-' if starts(i, "-070000") => (Some(Chunk::NumSecondsTz), 7),
            b'-' if starts(i, "-07:00:00") => (Some(Chunk::NumColonSecondsTz), 9),
            b'-' if starts(i, "-0700") => (Some(Chunk::NumTz), 5),
            b'-' if starts(i, "-07:00") => (Some(Chunk::NumColonTz), 6),
            b'-' if starts(i, "-07") => (Some(Chunk::NumShortTz), 3),
            b'Z' if starts(i, "Z070000") => (Some(Chunk::Iso8601SecondsTz), 7),
            b'Z' if starts(i, "Z07:00:00") => (Some(Chunk::Iso8601ColonSecondsTz), 9),
            b'Z' if starts(i, "Z0700") => (Some(Chunk::Iso8601Tz), 5),
            b'Z' if starts(i, "Z07:00") => (Some(Chunk::Iso8601ColonTz), 6),
            b'Z' if starts(i, "Z07") => (Some(Chunk::Iso8601ShortTz), 3),
            b'.' | b',' if b.get(i + 1).is_some_and(|c| *c == b'0' || *c == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    (None, 1)
                } else {
                    let n = j - (i + 1);
                    let c = if ch == b'0' {
                        Chunk::Frac0(n)
                    } else {
                        Chunk::Frac9(n)
                    };
                    (Some(c), j - i)
                }
            }
            _ => (None, 1),
        };
        match chunk {
            Some(c) => {
                if !lit.is_empty() {
                    out.push(Item::Lit(std::mem::take(&mut lit)));
                }
                out.push(Item::Std(c));
                i += len;
            }
            None => {
                // copy one UTF-8 character
                let ch_len = layout[i..].chars().next().map(char::len_utf8).unwrap_or(1);
                lit.push_str(&layout[i..i + ch_len]);
                i += ch_len;
            }
        }
    }
    if !lit.is_empty() {
        out.push(Item::Lit(lit));
    }
    out
}

/// Translate a strptime layout to Go's (the `ctimefmt` table).
pub fn strptime_to_go(layout: &str) -> Result<String, String> {
    let chars: Vec<char> = layout.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let Some(&d) = chars.get(i + 1) else {
            return Err(format!("invalid strptime layout {layout:?}: trailing %"));
        };
        if matches!(d, 'L' | 'f' | 's') && !(i > 0 && matches!(chars[i - 1], '.' | ',')) {
            return Err(format!(
                "invalid strptime layout {layout:?}: %{d} must be preceded by '.' or ','"
            ));
        }
        let sub = match d {
            'Y' => "2006",
            'y' => "06",
            'm' => "01",
            'o' => "_1",
            'q' => "1",
            'b' | 'h' => "Jan",
            'B' => "January",
            'd' => "02",
            'e' => "_2",
            'g' => "2",
            'a' => "Mon",
            'A' => "Monday",
            'H' => "15",
            'l' => "3",
            'I' => "03",
            'p' => "PM",
            'P' => "pm",
            'M' => "04",
            'S' => "05",
            'L' => "999",
            'f' => "999999",
            's' => "999999999",
            'Z' => "MST",
            'z' => "Z0700",
            'w' => "-070000",
            'i' => "-07",
            'j' => "-07:00",
            'k' => "-07:00:00",
            'D' | 'x' => "01/02/2006",
            'F' => "2006-01-02",
            'T' | 'X' => "15:04:05",
            'r' => "03:04:05 pm",
            'R' => "15:04",
            'n' => "\n",
            't' => "\t",
            '%' => "%",
            'c' => "Mon Jan 02 15:04:05 2006",
            other => {
                return Err(format!(
                    "invalid strptime layout {layout:?}: unsupported directive %{other}"
                ))
            }
        };
        out.push_str(sub);
        i += 2;
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Epoch {
    S,
    Ms,
    Us,
    Ns,
    SMs,
    SUs,
    SNs,
}

#[derive(Debug, Clone)]
enum Kind {
    Go(Vec<Item>, bool /* layout ends with Z */),
    Epoch(Epoch),
}

/// Where a time without zone information is read.
#[derive(Debug, Clone)]
enum Loc {
    Utc,
    Local,
    Zone(TimeZone),
}

/// A compiled time parser.
#[derive(Debug, Clone)]
pub struct TimeParser {
    pub parse_from: Field,
    kind: Kind,
    loc: Loc,
}

impl TimeParser {
    /// Build to run (loads the `location` from the time zone database).
    pub fn build(cfg: &TimeConfig) -> Result<TimeParser, String> {
        Self::build_with(cfg, BuildMode::Run)
    }

    /// Build for `mode`: to validate, the `location` is only checked for its shape (no I/O);
    /// to run, it is loaded from the time zone database.
    pub fn build_with(cfg: &TimeConfig, mode: BuildMode) -> Result<TimeParser, String> {
        let load = mode == BuildMode::Run;
        let parse_from = cfg
            .parse_from
            .clone()
            .ok_or_else(|| "missing required parameter 'parse_from'".to_string())?;
        if cfg.layout.is_empty() {
            return Err("missing required configuration parameter `layout`".into());
        }
        let layout_type = cfg.layout_type.as_deref().unwrap_or("strptime");
        let kind = match layout_type {
            "strptime" | "" => {
                let go = strptime_to_go(&cfg.layout)?;
                Kind::Go(chunks(&go), go.ends_with('Z'))
            }
            "gotime" => Kind::Go(chunks(&cfg.layout), cfg.layout.ends_with('Z')),
            "epoch" => Kind::Epoch(match cfg.layout.as_str() {
                "s" => Epoch::S,
                "ms" => Epoch::Ms,
                "us" => Epoch::Us,
                "ns" => Epoch::Ns,
                "s.ms" => Epoch::SMs,
                "s.us" => Epoch::SUs,
                "s.ns" => Epoch::SNs,
                _ => {
                    return Err(
                        "invalid `layout` for `epoch` type: specify 's', 'ms', 'us', 'ns', 's.ms', 's.us', or 's.ns'"
                            .into(),
                    )
                }
            }),
            other => {
                return Err(format!(
                    "unsupported layout_type {other}: valid values are 'strptime', 'gotime', and 'epoch'"
                ))
            }
        };
        let loc =
            match (&kind, cfg.location.as_str()) {
                (_, "") => match &kind {
                    Kind::Go(_, true) => Loc::Utc,
                    _ => Loc::Local,
                },
                (_, "UTC") => Loc::Utc,
                (_, "Local") => Loc::Local,
                (_, name) if load => Loc::Zone(TimeZone::get(name).map_err(|e| {
                    format!("invalid 'location': failed to load location {name}: {e}")
                })?),
                _ => Loc::Local,
            };
        Ok(TimeParser {
            parse_from,
            kind,
            loc,
        })
    }

    /// Parse the field and set the entry's timestamp.
    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let v = self.parse_from.get(e).cloned().ok_or_else(|| {
            format!(
                "log entry does not have the expected parse_from field {}",
                self.parse_from
            )
        })?;
        e.timestamp = Some(self.parse_value(&v)?);
        Ok(())
    }

    pub fn parse_value(&self, v: &Value) -> Result<u64, String> {
        match &self.kind {
            Kind::Go(items, _) => {
                let s = match v {
                    Value::Str(s) => s.as_str(),
                    other => {
                        return Err(format!(
                            "type {} cannot be parsed as a time",
                            type_name(other)
                        ))
                    }
                };
                parse_go(items, s, &self.loc)
            }
            Kind::Epoch(unit) => parse_epoch(*unit, v),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Double(_) => "float64",
        Value::Str(_) => "string",
        Value::Bytes(_) => "[]byte",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

/// Parse with a compiled Go layout; used by the container parser too.
pub fn parse_go_layout(layout: &str, value: &str, utc_default: bool) -> Result<u64, String> {
    let loc = if utc_default || layout.ends_with('Z') {
        Loc::Utc
    } else {
        Loc::Local
    };
    parse_go(&chunks(layout), value, &loc)
}

/// `YYYY-MM-DDTHH:MM:SS[.digits]Z` (RFC 3339 in UTC, as Docker and containerd write their
/// times) read directly; `None` for anything else, which is left to [`parse_go_layout`].
///
/// For every input it accepts, this gives what [`parse_go_layout`] gives with the layout
/// `2006-01-02T15:04:05.999Z` read in UTC: four-digit year, two-digit month, day, hour, minute
/// and second in range (the day checked against the month, leap years included), any number
/// of fractional digits of which the first nine count, and a final `Z`. Years outside
/// 1970..=2200 are left to the layout parser too (their nanoseconds do not fit or are clamped).
pub fn parse_rfc3339_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let digit = |i: usize| -> Option<u64> {
        let d = b[i].wrapping_sub(b'0');
        (d < 10).then_some(u64::from(d))
    };
    let two = |i: usize| -> Option<u64> { Some(digit(i)? * 10 + digit(i + 1)?) };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (hour, min, sec) = (two(11)?, two(14)?, two(17)?);
    let mut i = 19;
    let mut nanos = 0u64;
    if b[i] == b'.' {
        let first = i + 1;
        let mut end = first;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == first {
            return None;
        }
        let mut digits = b[first..end].iter();
        for _ in 0..9 {
            nanos = nanos * 10 + digits.next().map_or(0, |d| u64::from(d - b'0'));
        }
        i = end;
    }
    if b.get(i) != Some(&b'Z') || i + 1 != b.len() {
        return None;
    }
    if !(1970..=2200).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + min) * 60 * 1_000_000_000 + sec * 1_000_000_000 + nanos)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, for years from 1970
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn getnum(s: &str, fixed: bool) -> Result<(i64, &str), ()> {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return Err(());
    }
    if !b.get(1).is_some_and(u8::is_ascii_digit) {
        if fixed {
            return Err(());
        }
        return Ok(((b[0] - b'0') as i64, &s[1..]));
    }
    Ok((((b[0] - b'0') * 10 + (b[1] - b'0')) as i64, &s[2..]))
}

fn lookup<'a>(names: &[&str], s: &'a str) -> Result<(usize, &'a str), ()> {
    for (i, n) in names.iter().enumerate() {
        if s.len() >= n.len() && s.is_char_boundary(n.len()) && s[..n.len()].eq_ignore_ascii_case(n)
        {
            return Ok((i, &s[n.len()..]));
        }
    }
    Err(())
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const SHORT_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Go's `skip`: spaces in the layout match one or more spaces in the value.
fn skip<'a>(mut value: &'a str, prefix: &str) -> Result<&'a str, ()> {
    let mut p = prefix;
    while !p.is_empty() {
        if p.starts_with(' ') {
            if !value.is_empty() && !value.starts_with(' ') {
                return Err(());
            }
            p = p.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        let c = p.chars().next().ok_or(())?;
        if !value.starts_with(c) {
            return Err(());
        }
        p = &p[c.len_utf8()..];
        value = &value[c.len_utf8()..];
    }
    Ok(value)
}

/// Fractional seconds: `value` starts with the separator; `n` is 1 + digits.
fn nanos(value: &str, n: usize) -> Result<i32, ()> {
    let digits = value.get(1..n).ok_or(())?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(());
    }
    let mut ns: i64 = 0;
    let mut count = 0;
    for c in digits.bytes().take(9) {
        ns = ns * 10 + (c - b'0') as i64;
        count += 1;
    }
    for _ in count..9 {
        ns *= 10;
    }
    Ok(ns as i32)
}

fn parse_go(items: &[Item], input: &str, loc: &Loc) -> Result<u64, String> {
    let bad = || format!("parsing time {input:?}: cannot parse as the layout");
    let mut value = input;
    let (mut year, mut month, mut day, mut yday) =
        (None::<i64>, None::<i64>, None::<i64>, None::<i64>);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i32);
    let (mut pm, mut am) = (false, false);
    let mut offset: Option<i32> = None; // seconds east of UTC
    let mut zone_name: Option<String> = None;
    for (idx, item) in items.iter().enumerate() {
        match item {
            Item::Lit(l) => value = skip(value, l).map_err(|_| bad())?,
            Item::Std(c) => {
                let r: Result<&str, ()> = (|| {
                    Ok(match c {
                        Chunk::Year => {
                            let (v, rest) = getnum(value, true)?;
                            year = Some(if v >= 69 { v + 1900 } else { v + 2000 });
                            rest
                        }
                        Chunk::LongYear => {
                            let y = value.get(..4).ok_or(())?;
                            if !y.bytes().all(|b| b.is_ascii_digit()) {
                                return Err(());
                            }
                            year = Some(y.parse().map_err(|_| ())?);
                            &value[4..]
                        }
                        Chunk::Month => {
                            let (m, rest) = lookup(&SHORT_MONTHS, value)?;
                            month = Some(m as i64 + 1);
                            rest
                        }
                        Chunk::LongMonth => {
                            let (m, rest) = lookup(&LONG_MONTHS, value)?;
                            month = Some(m as i64 + 1);
                            rest
                        }
                        Chunk::NumMonth | Chunk::ZeroMonth => {
                            let (m, rest) = getnum(value, *c == Chunk::ZeroMonth)?;
                            if !(1..=12).contains(&m) {
                                return Err(());
                            }
                            month = Some(m);
                            rest
                        }
                        Chunk::WeekDay => lookup(&SHORT_DAYS, value)?.1,
                        Chunk::LongWeekDay => lookup(&LONG_DAYS, value)?.1,
                        Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => {
                            let v = if *c == Chunk::UnderDay {
                                value.strip_prefix(' ').unwrap_or(value)
                            } else {
                                value
                            };
                            let (d, rest) = getnum(v, *c == Chunk::ZeroDay)?;
                            day = Some(d);
                            rest
                        }
                        Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                            let v = value.trim_start_matches(if *c == Chunk::UnderYearDay {
                                ' '
                            } else {
                                '\u{0}'
                            });
                            let n = v.bytes().take(3).take_while(u8::is_ascii_digit).count();
                            if n == 0 || (*c == Chunk::ZeroYearDay && n != 3) {
                                return Err(());
                            }
                            yday = Some(v[..n].parse().map_err(|_| ())?);
                            &v[n..]
                        }
                        Chunk::Hour => {
                            let (h, rest) = getnum(value, false)?;
                            if h > 23 {
                                return Err(());
                            }
                            hour = h;
                            rest
                        }
                        Chunk::Hour12 | Chunk::ZeroHour12 => {
                            let (h, rest) = getnum(value, *c == Chunk::ZeroHour12)?;
                            if h > 12 {
                                return Err(());
                            }
                            hour = h;
                            rest
                        }
                        Chunk::Minute | Chunk::ZeroMinute => {
                            let (m, rest) = getnum(value, *c == Chunk::ZeroMinute)?;
                            if m > 59 {
                                return Err(());
                            }
                            min = m;
                            rest
                        }
                        Chunk::Second | Chunk::ZeroSecond => {
                            let (s, rest) = getnum(value, *c == Chunk::ZeroSecond)?;
                            if s > 59 {
                                return Err(());
                            }
                            sec = s;
                            let mut rest = rest;
                            // fractional seconds after the seconds even when the layout has
                            // none, unless the next chunk is one
                            let next_is_frac = matches!(
                                items.get(idx + 1),
                                Some(Item::Std(Chunk::Frac0(_) | Chunk::Frac9(_)))
                            );
                            let rb = rest.as_bytes();
                            if !next_is_frac
                                && rb.len() >= 2
                                && (rb[0] == b'.' || rb[0] == b',')
                                && rb[1].is_ascii_digit()
                            {
                                let mut n = 2;
                                while n < rb.len() && rb[n].is_ascii_digit() {
                                    n += 1;
                                }
                                nsec = nanos(rest, n)?;
                                rest = &rest[n..];
                            }
                            rest
                        }
                        Chunk::PmUpper | Chunk::PmLower => {
                            let p = value.get(..2).ok_or(())?;
                            let (pm_s, am_s) = if *c == Chunk::PmUpper {
                                ("PM", "AM")
                            } else {
                                ("pm", "am")
                            };
                            if p == pm_s {
                                pm = true;
                            } else if p == am_s {
                                am = true;
                            } else {
                                return Err(());
                            }
                            &value[2..]
                        }
                        Chunk::Iso8601Tz
                        | Chunk::Iso8601SecondsTz
                        | Chunk::Iso8601ShortTz
                        | Chunk::Iso8601ColonTz
                        | Chunk::Iso8601ColonSecondsTz
                            if value.starts_with('Z') =>
                        {
                            offset = Some(0);
                            &value[1..]
                        }
                        Chunk::Iso8601Tz
                        | Chunk::Iso8601SecondsTz
                        | Chunk::Iso8601ShortTz
                        | Chunk::Iso8601ColonTz
                        | Chunk::Iso8601ColonSecondsTz
                        | Chunk::NumTz
                        | Chunk::NumSecondsTz
                        | Chunk::NumShortTz
                        | Chunk::NumColonTz
                        | Chunk::NumColonSecondsTz => {
                            let b = value.as_bytes();
                            let two = |i: usize| -> Result<i32, ()> {
                                let d = b.get(i..i + 2).ok_or(())?;
                                if !d.iter().all(u8::is_ascii_digit) {
                                    return Err(());
                                }
                                Ok(((d[0] - b'0') * 10 + (d[1] - b'0')) as i32)
                            };
                            let sign = match b.first() {
                                Some(b'+') => 1,
                                Some(b'-') => -1,
                                _ => return Err(()),
                            };
                            let colon = |i: usize| -> Result<(), ()> {
                                if b.get(i) == Some(&b':') {
                                    Ok(())
                                } else {
                                    Err(())
                                }
                            };
                            let (h, m, s, len) = match c {
                                Chunk::NumShortTz | Chunk::Iso8601ShortTz => (two(1)?, 0, 0, 3),
                                Chunk::NumTz | Chunk::Iso8601Tz => (two(1)?, two(3)?, 0, 5),
                                Chunk::NumColonTz | Chunk::Iso8601ColonTz => {
                                    colon(3)?;
                                    (two(1)?, two(4)?, 0, 6)
                                }
                                Chunk::NumSecondsTz | Chunk::Iso8601SecondsTz => {
                                    (two(1)?, two(3)?, two(5)?, 7)
                                }
                                _ => {
                                    colon(3)?;
                                    colon(6)?;
                                    (two(1)?, two(4)?, two(7)?, 9)
                                }
                            };
                            offset = Some(sign * (h * 3600 + m * 60 + s));
                            &value[len..]
                        }
                        Chunk::Tz => {
                            if let Some(rest) = value.strip_prefix("UTC") {
                                offset = Some(0);
                                rest
                            } else {
                                let n =
                                    value.bytes().take_while(|b| b.is_ascii_uppercase()).count();
                                if !(3..=5).contains(&n) {
                                    return Err(());
                                }
                                zone_name = Some(value[..n].to_string());
                                &value[n..]
                            }
                        }
                        Chunk::Frac0(n) => {
                            let b = value.as_bytes();
                            if !b.first().is_some_and(|c| *c == b'.' || *c == b',') {
                                return Err(());
                            }
                            nsec = nanos(value, n + 1)?;
                            &value[n + 1..]
                        }
                        Chunk::Frac9(_) => {
                            let b = value.as_bytes();
                            if b.len() < 2
                                || !(b[0] == b'.' || b[0] == b',')
                                || !b[1].is_ascii_digit()
                            {
                                value
                            } else {
                                let mut i = 1;
                                while i < b.len() && b[i].is_ascii_digit() {
                                    i += 1;
                                }
                                nsec = nanos(value, i)?;
                                &value[i..]
                            }
                        }
                    })
                })();
                value = r.map_err(|_| bad())?;
            }
        }
    }
    if !value.is_empty() {
        return Err(format!("parsing time {input:?}: extra text: {value:?}"));
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    let now_tz = match loc {
        Loc::Zone(z) => z.clone(),
        Loc::Utc => TimeZone::UTC,
        Loc::Local => TimeZone::system(),
    };
    let year_missing = year.is_none();
    let y = year.unwrap_or_else(|| jiff::Timestamp::now().to_zoned(now_tz.clone()).year() as i64);
    let (mut mo, mut d) = (month.unwrap_or(1), day.unwrap_or(1));
    if let (Some(yd), None) = (yday, month) {
        let out_of_range = || format!("parsing time {input:?}: day-of-year out of range");
        let first = jiff::civil::Date::new(i16::try_from(y).map_err(|_| out_of_range())?, 1, 1)
            .map_err(|_| out_of_range())?;
        let span = jiff::Span::new()
            .try_days(yd.saturating_sub(1))
            .map_err(|_| out_of_range())?;
        let date = first.checked_add(span).map_err(|_| out_of_range())?;
        mo = date.month() as i64;
        d = date.day() as i64;
    }
    let make = |y: i64| -> Result<DateTime, String> {
        let y16 =
            i16::try_from(y).map_err(|_| format!("parsing time {input:?}: year out of range"))?;
        DateTime::new(
            y16, mo as i8, d as i8, hour as i8, min as i8, sec as i8, nsec,
        )
        .map_err(|_| format!("parsing time {input:?}: day out of range"))
    };
    let to_ts = |dt: DateTime| -> Result<jiff::Timestamp, String> {
        let r = if let Some(off) = offset {
            Offset::from_seconds(off)
                .map_err(|e| e.to_string())?
                .to_timestamp(dt)
                .map_err(|e| e.to_string())
        } else if let Some(name) = &zone_name {
            let tz = TimeZone::get(name).unwrap_or(TimeZone::UTC);
            tz.to_ambiguous_timestamp(dt)
                .compatible()
                .map_err(|e| e.to_string())
        } else {
            now_tz
                .to_ambiguous_timestamp(dt)
                .compatible()
                .map_err(|e| e.to_string())
        };
        r.map_err(|e| format!("parsing time {input:?}: {e}"))
    };
    let mut ts = to_ts(make(y)?)?;
    if year_missing {
        // Go setTimestampYear: more than 7 days in the future → last year
        let week = jiff::SignedDuration::from_hours(24 * 7);
        if ts.duration_since(jiff::Timestamp::now()) > week {
            ts = to_ts(make(y - 1)?)?;
        }
    }
    Ok(u64::try_from(ts.as_nanosecond()).unwrap_or(0))
}

fn parse_epoch(unit: Epoch, v: &Value) -> Result<u64, String> {
    let stamp = match v {
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => match unit {
            Epoch::S | Epoch::Ms | Epoch::Us | Epoch::Ns => i.to_string(),
            _ => format!("{i}.0"),
        },
        Value::Double(f) => match unit {
            Epoch::S | Epoch::Ms | Epoch::Us | Epoch::Ns => format!("{}", *f as i64),
            Epoch::SMs => format!("{f:.3}"),
            Epoch::SUs => format!("{f:.6}"),
            Epoch::SNs => format!("{f:.9}"),
        },
        other => {
            return Err(format!(
                "type {} cannot be parsed as a time",
                type_name(other)
            ))
        }
    };
    let stamp = stamp.trim();
    let invalid = || format!("invalid value '{stamp}' for epoch layout");
    let nanos: i128 = match unit {
        Epoch::S | Epoch::Ms | Epoch::Us | Epoch::Ns => {
            let i: i64 = stamp.parse().map_err(|_| invalid())?;
            let mul: i128 = match unit {
                Epoch::S => 1_000_000_000,
                Epoch::Ms => 1_000_000,
                Epoch::Us => 1_000,
                _ => 1,
            };
            i as i128 * mul
        }
        _ => {
            let (s, sub) = stamp.split_once('.').ok_or_else(invalid)?;
            let s: i64 = s.parse().map_err(|_| invalid())?;
            let sub: i64 = sub.parse().map_err(|_| invalid())?;
            let mul: i128 = match unit {
                Epoch::SMs => 1_000_000,
                Epoch::SUs => 1_000,
                _ => 1,
            };
            s as i128 * 1_000_000_000 + sub as i128 * mul
        }
    };
    Ok(u64::try_from(nanos).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(layout: &str, kind: &str) -> TimeParser {
        TimeParser::build(&TimeConfig {
            parse_from: Some(Field::attr("t")),
            layout: layout.into(),
            layout_type: Some(kind.into()),
            location: String::new(),
        })
        .unwrap()
    }

    fn ns(tp: &TimeParser, s: &str) -> u64 {
        tp.parse_value(&Value::Str(s.into())).unwrap()
    }

    #[test]
    fn rfc3339_nano_in_docker_time_via_go_layout_with_999() {
        // container parser's Docker layout "2006-01-02T15:04:05.999Z" takes 9 digits
        let t = parse_go_layout(
            "2006-01-02T15:04:05.999Z",
            "2024-01-01T12:00:00.123456789Z",
            true,
        )
        .unwrap();
        assert_eq!(t, 1_704_110_400_123_456_789);
    }

    #[test]
    fn strptime_translates_like_ctimefmt() {
        assert_eq!(
            strptime_to_go("%Y-%m-%dT%H:%M:%S.%fZ").unwrap(),
            "2006-01-02T15:04:05.999999Z"
        );
        assert!(strptime_to_go("%Y%L").is_err());
        let p = tp("%Y-%m-%dT%H:%M:%SZ", "strptime");
        assert_eq!(ns(&p, "2024-01-01T12:00:00Z"), 1_704_110_400_000_000_000);
        let p = tp("%Y-%m-%d %H:%M:%S %z", "strptime");
        assert_eq!(
            ns(&p, "2024-01-01 13:00:00 +0100"),
            1_704_110_400_000_000_000
        );
        let p = tp("%d/%b/%Y:%H:%M:%S %z", "strptime");
        assert_eq!(
            ns(&p, "01/Jan/2024:12:00:00 +0000"),
            1_704_110_400_000_000_000
        );
    }

    #[test]
    fn gotime_rfc3339_and_errors() {
        let p = tp("2006-01-02T15:04:05Z07:00", "gotime");
        assert_eq!(
            ns(&p, "2024-01-01T14:00:00+02:00"),
            1_704_110_400_000_000_000
        );
        assert_eq!(ns(&p, "2024-01-01T12:00:00.5Z"), 1_704_110_400_500_000_000);
        assert!(p
            .parse_value(&Value::Str("2024-13-01T12:00:00Z".into()))
            .is_err());
        assert!(p
            .parse_value(&Value::Str("2024-02-30T12:00:00Z".into()))
            .is_err());
        assert!(p.parse_value(&Value::Str("garbage".into())).is_err());
        assert!(p.parse_value(&Value::Int(3)).is_err());
    }

    #[test]
    fn epoch_layouts() {
        let p = tp("s", "epoch");
        assert_eq!(ns(&p, "1704110400"), 1_704_110_400_000_000_000);
        let p = tp("s.ms", "epoch");
        assert_eq!(
            p.parse_value(&Value::Double(1704110400.25)).unwrap(),
            1_704_110_400_250_000_000
        );
        let p = tp("ms", "epoch");
        assert_eq!(
            p.parse_value(&Value::Int(1704110400123)).unwrap(),
            1_704_110_400_123_000_000
        );
        assert!(TimeParser::build(&TimeConfig {
            parse_from: Some(Field::attr("t")),
            layout: "minutes".into(),
            layout_type: Some("epoch".into()),
            location: String::new()
        })
        .is_err());
    }

    #[test]
    fn missing_year_gets_this_year() {
        let p = tp("Jan _2 15:04:05", "gotime");
        let t = p
            .parse_value(&Value::Str("Jan  5 10:00:00".into()))
            .unwrap();
        assert!(t > 0);
    }

    #[test]
    fn rfc3339_utc_reading_agrees_with_the_docker_layout() {
        const DOCKER: &str = "2006-01-02T15:04:05.999Z";
        let mut inputs: Vec<String> = vec![
            "2024-01-01T12:00:00Z".into(),
            "2024-01-01T12:00:00.5Z".into(),
            "2024-01-01T12:00:00.123456789Z".into(),
            "2024-01-01T12:00:00.1234567891234Z".into(),
            "2024-02-29T23:59:59.999999999Z".into(),
            "2023-02-29T00:00:00Z".into(),
            "2100-02-29T00:00:00Z".into(),
            "2000-02-29T00:00:00Z".into(),
            "1970-01-01T00:00:00Z".into(),
            "2200-12-31T23:59:59.999999999Z".into(),
            "1969-12-31T23:59:59Z".into(),
            "2024-13-01T00:00:00Z".into(),
            "2024-00-01T00:00:00Z".into(),
            "2024-04-31T00:00:00Z".into(),
            "2024-01-00T00:00:00Z".into(),
            "2024-01-01T24:00:00Z".into(),
            "2024-01-01T12:60:00Z".into(),
            "2024-01-01T12:00:60Z".into(),
            "2024-01-01T12:00:00.Z".into(),
            "2024-01-01T12:00:00,5Z".into(),
            "2024-01-01T12:00:00.5".into(),
            "2024-01-01T12:00:00.5Zx".into(),
            "2024-01-01T12:00:00+00:00".into(),
            "2024-01-01T1:00:00Z".into(),
            "2024-01-01 12:00:00Z".into(),
            "24-01-01T12:00:00Z".into(),
            "".into(),
        ];
        // every day of a leap and a common year, with changing times and fractions
        let mut x = 12345u64;
        for year in [2023u64, 2024] {
            for month in 1..=12u64 {
                for day in 1..=31u64 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let digits = (x >> 60) as usize % 11;
                    let frac: String = (0..digits)
                        .map(|k| char::from(b'0' + ((x >> (k * 4)) % 10) as u8))
                        .collect();
                    let dot = if digits > 0 { "." } else { "" };
                    inputs.push(format!(
                        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}{dot}{frac}Z",
                        (x >> 8) % 24,
                        (x >> 16) % 60,
                        (x >> 24) % 60
                    ));
                }
            }
        }
        let mut fast = 0;
        for s in &inputs {
            let general = parse_go_layout(DOCKER, s, true);
            match parse_rfc3339_utc(s) {
                Some(ns) => {
                    fast += 1;
                    assert_eq!(general, Ok(ns), "{s}");
                }
                None => assert!(
                    general.is_err()
                        || s.starts_with("1969")
                        || s.contains("T1:")
                        || s.contains(','),
                    "{s} is left to the layout parser, which reads it: {general:?}"
                ),
            }
        }
        assert!(fast > 700, "{fast}");
    }
}
