//! A scanner for the common shape of a Docker json-file line,
//! `{"log":"...","stream":"stdout","time":"..."}`, that reads it without building a JSON
//! document.
//!
//! It accepts an object with exactly the three keys `log`, `stream` and `time` (in any order,
//! each once, keys written without escapes), each with a string value, with JSON whitespace
//! allowed around every token. `stream` and `time` must be free of escapes; `log` may hold any
//! JSON escape. Anything else (another key, a repeated key, a value of another type, an
//! invalid escape, a lone surrogate, a raw control character, trailing text) is refused with
//! `None`, and the caller parses the line with the general JSON parser instead, which decides
//! what it is, as before.
//!
//! For every line it accepts, the fields are what `serde_json` reads from the line: strings
//! may not hold raw control characters (`U+0000`–`U+001F`); the escapes are `\"`, `\\`, `\/`,
//! `\b`, `\f`, `\n`, `\r`, `\t` and `\uXXXX` (hex digits in either case), where a high surrogate
//! must be followed by an escaped low surrogate and the pair gives one character.

/// The fields of an accepted line, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerLine<'a> {
    /// `log` as written between its quotes (escapes not decoded).
    pub log: &'a str,
    /// Where `log` starts in the line (byte offset).
    pub log_start: usize,
    /// The offset in `log` of its first backslash, when it has escapes.
    pub first_escape: Option<usize>,
    /// `log` with its escapes decoded, when it has escapes other than a final `\n` or
    /// `\r\n` (decoded in the pass that finds its end).
    pub decoded: Option<String>,
    pub stream: &'a str,
    pub time: &'a str,
}

/// A string token: its content (between the quotes), the first backslash in it, and the
/// offset after its closing quote.
struct Str {
    start: usize,
    end: usize,
    first_escape: Option<usize>,
    next: usize,
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit set in the bytes of `w` equal to `c`. Bits may also be set above the first
/// true one (the borrow runs on), never below it, so the lowest set bit is exact.
#[inline(always)]
fn equal_bytes(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The bytes below 0x20 and the `"` and `\\` of `w`, marked as [`equal_bytes`] marks them (the bytes
/// below 0x20 by the same borrow rule).
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    equal_bytes(w, b'"') | equal_bytes(w, b'\\') | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
}

/// The position of the first `"`, `\` or control character (below 0x20) in `b` from
/// `i`, or `b.len()`: eight bytes at a time, because the strings of a Docker line whose
/// `log` holds JSON break every few bytes on an escaped quote, where a call per segment
/// cost more than the search.
#[inline(always)]
fn find_special(b: &[u8], mut i: usize) -> usize {
    while let Some(word) = b.get(i..i + 8) {
        let m = special_bytes(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..0x20) {
        i += 1;
    }
    i
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let digits = b.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v * 16 + u32::from(d);
    }
    Some(v)
}

/// The length of the valid escape at `b[i]` (a backslash), or `None`.
fn escape_len(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' => {
            let code = hex4(b, i + 2)?;
            match code {
                0xD800..=0xDBFF => {
                    if b.get(i + 6) != Some(&b'\\') || b.get(i + 7) != Some(&b'u') {
                        return None;
                    }
                    let low = hex4(b, i + 8)?;
                    (0xDC00..=0xDFFF).contains(&low).then_some(12)
                }
                0xDC00..=0xDFFF => None,
                _ => Some(6),
            }
        }
        _ => None,
    }
}

/// A JSON string starting at `b[i]`.
fn string(b: &[u8], i: usize) -> Option<Str> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut pos = start;
    let mut first_escape = None;
    loop {
        let found = find_special(b, pos);
        let c = *b.get(found)?;
        if c < 0x20 {
            return None;
        }
        if c == b'"' {
            return Some(Str {
                start,
                end: found,
                first_escape: first_escape.map(|e: usize| e - start),
                next: found + 1,
            });
        }
        first_escape.get_or_insert(found);
        // an escaped quote, the usual escape of a `log` holding JSON, needs no more checks
        pos = found
            + match b.get(found + 1) {
                Some(b'"') => 2,
                _ => escape_len(b, found)?,
            };
    }
}

/// The `log` string starting at `b[i]`, as [`string`] reads it, and its text when it has
/// escapes other than a final `\n` or `\r\n`: decoded in the same pass, so that a `log`
/// holding JSON, with an escaped quote every few bytes, is read once. Eight bytes are copied
/// at a time into a buffer with eight bytes of slack, and the output position then moves
/// only past the bytes before the first special byte among them.
fn log_string(b: &[u8], i: usize) -> Option<(Str, Option<Vec<u8>>)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let first = find_special(b, start);
    match *b.get(first)? {
        0..0x20 => return None,
        b'"' => {
            let s = Str {
                start,
                end: first,
                first_escape: None,
                next: first + 1,
            };
            return Some((s, None));
        }
        _ => {}
    }
    // a final newline, the only escape of a line Docker did not split, needs no decoding
    let rest = &b[first + 1..];
    let newline = if rest.starts_with(b"n\"") {
        Some(2)
    } else if rest.starts_with(b"r\\n\"") {
        Some(4)
    } else {
        None
    };
    if let Some(len) = newline {
        let s = Str {
            start,
            end: first + len,
            first_escape: Some(first - start),
            next: first + len + 1,
        };
        return Some((s, None));
    }
    // the text is never longer than its escaped form, which ends inside the line
    let mut buf = vec![0u8; b.len() - start + 8];
    buf[..first - start].copy_from_slice(&b[start..first]);
    let (mut i, mut o) = (first, first - start);
    loop {
        if let Some(word) = b.get(i..i + 8) {
            buf[o..o + 8].copy_from_slice(word);
            let m = special_bytes(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
            if m == 0 {
                i += 8;
                o += 8;
                continue;
            }
            let k = (m.trailing_zeros() / 8) as usize;
            i += k;
            o += k;
        } else if !matches!(*b.get(i)?, b'"' | b'\\' | 0..0x20) {
            buf[o] = b[i];
            i += 1;
            o += 1;
            continue;
        }
        // b[i] is special; o <= i - start, so a character's four bytes fit
        let decoded = match b[i] {
            0..0x20 => return None,
            b'"' => {
                buf.truncate(o);
                let s = Str {
                    start,
                    end: i,
                    first_escape: Some(first - start),
                    next: i + 1,
                };
                return Some((s, Some(buf)));
            }
            _ => match *b.get(i + 1)? {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'b' => 0x08,
                b'f' => 0x0c,
                _ => 0,
            },
        };
        if decoded != 0 {
            buf[o] = decoded;
            o += 1;
            i += 2;
            continue;
        }
        // `\uXXXX`, or a surrogate pair of them, as `escape_len` accepts it
        let len = escape_len(b, i)?;
        let code = hex4(b, i + 2)?;
        let code = if len == 12 {
            0x10000 + ((code - 0xD800) << 10) + (hex4(b, i + 8)? - 0xDC00)
        } else {
            code
        };
        o += char::from_u32(code)?.encode_utf8(&mut buf[o..o + 4]).len();
        i += len;
    }
}

/// Read a line of the common shape; `None` for anything else.
pub fn scan(line: &str) -> Option<DockerLine<'_>> {
    let b = line.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let (mut log, mut stream, mut time) = (None::<Str>, None::<Str>, None::<Str>);
    let mut decoded = None;
    loop {
        i = skip_ws(b, i);
        let key = string(b, i)?;
        if key.first_escape.is_some() {
            return None;
        }
        i = skip_ws(b, key.next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let (slot, is_log) = match &b[key.start..key.end] {
            b"log" => (&mut log, true),
            b"stream" => (&mut stream, false),
            b"time" => (&mut time, false),
            _ => return None,
        };
        if slot.is_some() {
            return None;
        }
        let value = if is_log {
            let (value, text) = log_string(b, i)?;
            decoded = text;
            value
        } else {
            string(b, i)?
        };
        i = skip_ws(b, value.next);
        *slot = Some(value);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return None,
        }
    }
    if skip_ws(b, i) != b.len() {
        return None;
    }
    let (log, stream, time) = (log?, stream?, time?);
    if stream.first_escape.is_some() || time.first_escape.is_some() {
        return None;
    }
    // every boundary is next to an ASCII quote, so these are character boundaries
    Some(DockerLine {
        log: line.get(log.start..log.end)?,
        log_start: log.start,
        first_escape: log.first_escape,
        // UTF-8 in, whole characters out: the check cannot fail
        decoded: match decoded {
            Some(text) => Some(String::from_utf8(text).ok()?),
            None => None,
        },
        stream: line.get(stream.start..stream.end)?,
        time: line.get(time.start..time.end)?,
    })
}

/// A line's `log` (decoded), `stream` and `time`.
pub type Fields = (String, String, String);

/// The fields of `line` as [`scan`] reads them and as `serde_json` reads them (`None` when
/// it does not read exactly three string fields), when [`scan`] reads the line; `None` when
/// it does not. For the tests and the `docker_log_line` fuzz target, which require the two
/// to be equal. Panics when what [`scan`] returns is not consistent in itself.
pub fn fields_both_ways(line: &str) -> Option<(Fields, Option<Fields>)> {
    let d = scan(line)?;
    assert_eq!(
        d.first_escape.is_some(),
        d.log.contains('\\'),
        "first_escape of {line}"
    );
    assert_eq!(&line[d.log_start..d.log_start + d.log.len()], d.log);
    // decoded unless the only escape is a final newline
    let log = match (d.decoded, d.first_escape) {
        (Some(text), Some(_)) => text,
        (None, None) => d.log.to_string(),
        (None, Some(first)) => match &d.log[first..] {
            "\\n" => format!("{}\n", &d.log[..first]),
            "\\r\\n" => format!("{}\r\n", &d.log[..first]),
            other => panic!("{other:?} left undecoded in {line}"),
        },
        (Some(_), None) => panic!("decoded without an escape: {line}"),
    };
    let general = || {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let o = v.as_object()?;
        if o.len() != 3 {
            return None;
        }
        let s = |k: &str| o.get(k)?.as_str().map(str::to_string);
        Some((s("log")?, s("stream")?, s("time")?))
    };
    let fast = (log, d.stream.to_string(), d.time.to_string());
    Some((fast, general()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(line: &str) -> Option<(String, String, String)> {
        fields_both_ways(line).and_then(|(_, general)| general)
    }

    fn fast(line: &str) -> Option<(String, String, String)> {
        fields_both_ways(line).map(|(fast, _)| fast)
    }

    /// Wherever the scanner reads a line, it reads what the general parser reads.
    fn agree(line: &str) -> bool {
        match fields_both_ways(line) {
            Some((fast, general)) => {
                assert_eq!(Some(fast), general, "{line}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn the_common_line_is_read_with_every_escape() {
        assert!(agree(
            r#"{"log":"hello world\n","stream":"stdout","time":"2024-01-01T12:00:00.123456789Z"}"#
        ));
        let escapes = r#"q\" bs\\ sl\/ b\b f\f n\n r\r t\t u\u00e9\u00E9 nul\u0000 snow\u2603 pair\ud83d\ude00 PAIR\uD83D\uDE00 end"#;
        let line = format!(r#"{{"log":"{escapes}\r\n","stream":"stderr","time":"t"}}"#);
        assert!(agree(&line));
        let (log, _, _) = fast(&line).unwrap();
        assert!(log.contains("q\" bs\\ sl/ b\u{8} f\u{c} n\n r\r t\t"));
        assert!(log.contains("u\u{e9}\u{e9} nul\u{0} snow\u{2603} pair\u{1F600} PAIR\u{1F600}"));
        // raw UTF-8 and DEL pass as they are
        assert!(agree(
            "{\"log\":\"caf\u{e9} \u{1F600} \u{7f}\\n\",\"stream\":\"stdout\",\"time\":\"t\"}"
        ));
        // any key order, whitespace between tokens and around the object
        assert!(agree(
            " {\t\"time\" : \"t\" ,\r\n \"stream\":\"stdout\", \"log\" :\"x\\n\" } \n"
        ));
        assert!(agree(r#"{"log":"","stream":"","time":""}"#));
    }

    #[test]
    fn anything_unusual_is_left_to_the_general_parser() {
        for line in [
            // another key (Docker's `attrs`), a missing key, a repeated key
            r#"{"log":"x\n","stream":"stdout","attrs":{"a":"b"},"time":"t"}"#,
            r#"{"log":"x\n","stream":"stdout"}"#,
            r#"{"log":"x\n","log":"y\n","stream":"stdout","time":"t"}"#,
            // values of another type
            r#"{"log":null,"stream":"stdout","time":"t"}"#,
            r#"{"log":"x","stream":1,"time":"t"}"#,
            // escapes in keys, in stream or time
            r#"{"l\u006fg":"x","stream":"stdout","time":"t"}"#,
            r#"{"log":"x","stream":"std\u006fut","time":"t"}"#,
            // invalid escapes, lone or broken surrogates, truncated escapes
            r#"{"log":"\x","stream":"stdout","time":"t"}"#,
            r#"{"log":"\u12","stream":"stdout","time":"t"}"#,
            r#"{"log":"\u12G4","stream":"stdout","time":"t"}"#,
            r#"{"log":"\ud83d","stream":"stdout","time":"t"}"#,
            r#"{"log":"\ud83d\u0041","stream":"stdout","time":"t"}"#,
            r#"{"log":"\ud83dx\ude00","stream":"stdout","time":"t"}"#,
            r#"{"log":"\ude00","stream":"stdout","time":"t"}"#,
            r#"{"log":"x\","stream":"stdout","time":"t"}"#,
            // a raw control character inside a string
            "{\"log\":\"a\tb\",\"stream\":\"stdout\",\"time\":\"t\"}",
            "{\"log\":\"a\nb\",\"stream\":\"stdout\",\"time\":\"t\"}",
            // broken structure, trailing text, not an object
            r#"{"log":"x","stream":"stdout","time":"t""#,
            r#"{"log":"x","stream":"stdout","time":"t"} x"#,
            r#"{"log":"x","stream":"stdout","time":"t"}}"#,
            r#"{"log":"x","stream":"stdout","time":"t",}"#,
            r#"{"log":"x" "stream":"stdout","time":"t"}"#,
            r#"{"log" "x","stream":"stdout","time":"t"}"#,
            r#"{"log":"x","stream":"stdout","time":"t"#,
            r#"{}"#,
            r#"["log","x"]"#,
            "",
            "not json",
        ] {
            assert!(!agree(line), "{line} should be left to the general parser");
        }
    }

    /// The word-at-a-time search finds what a byte-by-byte search finds, from every
    /// start, in strings of every byte class (UTF-8 bytes and bytes just above and below
    /// the boundaries included).
    #[test]
    fn the_word_search_agrees_with_a_byte_search() {
        let alphabet = [
            b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, b'a', 0x7f, 0x80, 0xc3, 0xe9, 0xff, 0x5b, 0x5d,
        ];
        let rng = &mut pipeline_api::testing::random::Rng(1);
        let mut hits = 0;
        for _ in 0..5_000 {
            let len = rng.below(40);
            // mostly ordinary bytes, so that runs are long enough to cross words
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.one_in(5) {
                        *rng.pick(&alphabet)
                    } else {
                        b'a' + rng.below(26) as u8
                    }
                })
                .collect();
            for from in 0..=len {
                let special = (from..len)
                    .find(|&i| matches!(b[i], b'"' | b'\\' | 0..0x20))
                    .unwrap_or(len);
                assert_eq!(find_special(&b, from), special, "{b:02x?} from {from}");
                hits += usize::from(special < len);
            }
        }
        assert!(hits > 10_000, "{hits}");
    }

    #[test]
    fn generated_lines_agree_with_the_general_parser() {
        // pieces that together exercise every escape and boundary
        let pieces = [
            "a",
            " ",
            "\\n",
            "\\\\",
            "\\\"",
            "\\/",
            "\\t",
            "\\r",
            "\\b",
            "\\f",
            "\\u0041",
            "\\u00e9",
            "\\u20AC",
            "\\uffff",
            "\\ud800\\udc00",
            "\\udbff\\udfff",
            "\\ud83d\\ude00",
            "\u{e9}",
            "\u{1F600}",
            "'",
            "=",
            "\\ud83d",
            "\\ude00",
            "\\x",
            "\u{1}",
        ];
        let mut x = 0x2545F4914F6CDD1Du64;
        let (mut read, mut left) = (0, 0);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 12) as usize;
            let mut log = String::new();
            let mut y = x;
            for _ in 0..n {
                log.push_str(pieces[(y % pieces.len() as u64) as usize]);
                y /= pieces.len() as u64;
                if y == 0 {
                    y = x.rotate_left(17);
                }
            }
            let line = format!(r#"{{"log":"{log}","stream":"stdout","time":"t"}}"#);
            if agree(&line) {
                read += 1;
            } else {
                left += 1;
                // what the scanner leaves, the general parser refuses too here: every
                // piece it refuses is invalid JSON
                assert!(general(&line).is_none(), "{line}");
            }
        }
        assert!(read > 1000 && left > 1000, "{read} read, {left} left");
    }
}
