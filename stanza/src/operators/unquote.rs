//! `unquote`: replace a quoted string field with the string it quotes.
//!
//! Go facts (`pkg/stanza/operator/transformer/unquote/{config,factory,transformer}.go`,
//! `pkg/stanza/docs/operators/unquote.md`):
//! - keys: `field` (an entry field, not a bare `attributes` / `resource`; the docs call it
//!   required), plus the transformer keys `id` (default `unquote`), `output`, `on_error`
//!   (default `send`) and `if`;
//! - a missing field is not an error (the entry passes unchanged); a value that is not a
//!   string is an error "type T cannot be unquoted" (Go's `%T`); a string goes through Go
//!   `strconv.Unquote`, whose error ("invalid syntax") is handled by `on_error`.
//!
//! Go `strconv.Unquote` facts (`strconv/quote.go`: `Unquote`, `unquote`, `UnquoteChar`):
//! - the text must be at least 2 bytes, start with `"`, `'` or a backquote and end right
//!   after its closing quote;
//! - back-quoted: raw, everything up to the first backquote, which must be the last byte; no
//!   escapes; carriage returns are dropped;
//! - double-quoted: up to the first unescaped `"`; no raw newline; escapes `\a \b \f \n \r
//!   \t \v \\ \"`, `\xHH` (one byte), `\ooo` (three octal digits, at most 255: one byte),
//!   `\uHHHH` and `\UHHHHHHHH` (a Unicode scalar value: not a surrogate, at most 0x10FFFF);
//!   `\'` and any other escape are errors;
//! - single-quoted: one character (a raw one or one escape, `\'` allowed and `\"` not), or
//!   none (`''` gives the empty string); more than one is an error.
//!
//! Go strings are bytes, so `\xff` or `\377` yield a byte that is not UTF-8; Ferrotel's
//! strings are UTF-8, so such bytes become U+FFFD (as the `utf-8` decoding of file lines).

use super::parsers::kind;
use super::transformers::{base, required, BuildResult, Transform};
use super::{op_config, BuildMode};
use crate::entry::{Entry, Field, Value};

/// Go `strconv.ErrSyntax`.
pub const ERR_SYNTAX: &str = "invalid syntax";

op_config!(UnquoteConfig {
    field: Option<Field>,
});

pub fn build(id: &str, c: &UnquoteConfig, _mode: BuildMode) -> BuildResult {
    // Go does not check `field` when building and then fails on the first entry; the docs
    // call it required, so a config without it is refused here.
    let field = required(&c.field, "field")?;
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            let Some(v) = field.get(e) else {
                return Ok(());
            };
            let Value::Str(s) = v else {
                return Err(format!("type {} cannot be unquoted", kind(v)));
            };
            let unquoted = unquote(s).map_err(str::to_string)?;
            field.set(e, Value::Str(unquoted))
        },
    }))
}

/// Go `strconv.Unquote`.
pub fn unquote(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err(ERR_SYNTAX);
    }
    match b[0] {
        b'`' => {
            let inner = &s[1..];
            match inner.find('`') {
                Some(end) if end + 1 == inner.len() => Ok(inner[..end].replace('\r', "")),
                _ => Err(ERR_SYNTAX),
            }
        }
        q @ (b'"' | b'\'') => {
            let bytes = unquote_escaped(s, q).ok_or(ERR_SYNTAX)?;
            Ok(match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })
        }
        _ => Err(ERR_SYNTAX),
    }
}

/// The bytes a `"` or `'` quoted text stands for; `None` on a syntax error.
fn unquote_escaped(s: &str, quote: u8) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 1;
    while i < b.len() && b[i] != quote {
        if b[i] == b'\n' {
            return None;
        }
        i = unquote_char(s, i, quote, &mut out)?;
        if quote == b'\'' {
            break;
        }
    }
    // the closing quote, and nothing after it
    (i + 1 == b.len() && b[i] == quote).then_some(out)
}

/// Go `UnquoteChar` on `s[i..]`: append what one character stands for, return where the
/// next one starts.
fn unquote_char(s: &str, i: usize, quote: u8, out: &mut Vec<u8>) -> Option<usize> {
    let b = s.as_bytes();
    let c = *b.get(i)?;
    if c == quote {
        return None;
    }
    if c != b'\\' {
        // a raw character, all its UTF-8 bytes (`i` is always at a character boundary)
        let len = s.get(i..)?.chars().next()?.len_utf8();
        out.extend_from_slice(&b[i..i + len]);
        return Some(i + len);
    }
    let e = *b.get(i + 1)?;
    let mut j = i + 2;
    let simple = match e {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        b'\'' | b'"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(v) = simple {
        out.push(v);
        return Some(j);
    }
    match e {
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = b.get(j..j + n)?;
            let mut v: u32 = 0;
            for &d in digits {
                v = (v << 4) | char::from(d).to_digit(16)?;
            }
            j += n;
            if e == b'x' {
                out.push(u8::try_from(v).ok()?);
            } else {
                let ch = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            Some(j)
        }
        b'0'..=b'7' => {
            let mut v = u32::from(e - b'0');
            for &d in b.get(j..j + 2)? {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            j += 2;
            out.push(u8::try_from(v).ok()?);
            Some(j)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strconv_unquote_accepts_what_go_accepts() {
        for (input, want) in [
            (r#""val""#, "val"),
            (r#""""#, ""),
            (r#""a\tb\n\\\"""#, "a\tb\n\\\""),
            (r#""\a\b\f\r\v""#, "\u{7}\u{8}\u{c}\r\u{b}"),
            (r#""\x41\101\u00e9\U0001F600""#, "AA\u{e9}\u{1F600}"),
            (r#""\xc3\xa9""#, "\u{e9}"),
            ("\"'\"", "'"),
            (r#""\"""#, "\""),
            ("\"tab\there\"", "tab\there"),
            ("\"\u{e9}t\u{e9}\"", "\u{e9}t\u{e9}"),
            ("'v'", "v"),
            ("'\u{e9}'", "\u{e9}"),
            (r"'\n'", "\n"),
            (r"'\''", "'"),
            ("'\"'", "\""),
            (r"'\u263a'", "\u{263a}"),
            ("''", ""),
            ("`val`", "val"),
            ("``", ""),
            ("`a\\nb\"'`", "a\\nb\"'"),
            ("`line1\nline2`", "line1\nline2"),
            ("`a\r\nb`", "a\nb"),
        ] {
            assert_eq!(unquote(input), Ok(want.to_string()), "{input:?}");
        }
    }

    #[test]
    fn strconv_unquote_rejects_what_go_rejects() {
        for input in [
            "",
            "\"",
            "'",
            "`",
            "val",
            "\"val",
            "val\"",
            "\"a\"b\"",
            "\"a\"\"",
            "'val'",
            "'ab'",
            "'\u{e9}\u{e9}'",
            "`a`b`",
            "`a`\n",
            "\"a'",
            "'a\"",
            "\"line\nbreak\"",
            "'\n'",
            r#""\'""#,
            r#"'\"'"#,
            r#""\q""#,
            "\"\\",
            r#""\x4""#,
            r#""\x4g""#,
            r#""\u12""#,
            r#""\uD800""#,
            r#""\U00110000""#,
            r#""\400""#,
            r#""\18""#,
            r#""\1""#,
            "\"\\\u{e9}\"",
            " \"a\"",
            "\"a\" ",
        ] {
            assert_eq!(unquote(input), Err(ERR_SYNTAX), "{input:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        assert_eq!(unquote(r#""a\xffb""#), Ok("a\u{fffd}b".to_string()));
        assert_eq!(unquote(r#""\377""#), Ok("\u{fffd}".to_string()));
    }
}
