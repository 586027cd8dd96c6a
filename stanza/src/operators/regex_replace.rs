//! `regex_replace`: replace what a regular expression matches in a string field.
//!
//! Go facts (`pkg/stanza/operator/transformer/regexreplace/{config,transformer}.go`,
//! `pkg/stanza/docs/operators/regex_replace.md`):
//! - keys: `field` (an entry field, not a bare `attributes` / `resource`; the docs call it
//!   required), `regex`, `regex_name`, `replace_with` (default empty: matches are removed),
//!   plus the transformer keys `id` (default `regex_replace`), `output`, `on_error` (default
//!   `send`) and `if`;
//! - exactly one of `regex` and `regex_name` must be set, an empty string counting as unset,
//!   else "either regex or regex_name must be set"; an unknown name gives
//!   "regex_name NAME is unknown"; a bad `regex` fails the build;
//! - the one predefined name is `ansi_control_sequences`: an ANSI CSI sequence, ESC `[`, then
//!   any parameter bytes 0x30–0x3F, any intermediate bytes 0x20–0x2F and one final byte
//!   0x40–0x7E (so the non-standard `ESC[31M` goes too);
//! - a missing field is not an error (the entry passes unchanged); a value that is not a
//!   string is an error "type T cannot be handled" (Go's `%T`), handled by `on_error`; a
//!   string is replaced by Go `Regexp.ReplaceAllString(value, replace_with)`.
//!
//! Go `regexp` facts (`ReplaceAllString`, `Expand`, `extract`, `replaceAll`):
//! - matches are found left to right; after a match the search goes on at its end, or one
//!   character further when that would not move; an empty match that starts where the
//!   previous match ended is not replaced, except at position 0 (`a*` on `baaac` with `-`
//!   gives `-b-c-`);
//! - in `replace_with`, `$$` is a `$`; `$name` and `${name}` name a group, the name being
//!   the longest run of Unicode letters, decimal digits and `_` (so `$1x` is group `1x`, not
//!   `${1}x`); a `$` followed by no name, or `${name` without its `}`, is kept as a `$`;
//! - an all-digit name is a group number, except with a leading zero or once the number
//!   reaches 10^8 before its last digit (then it is looked up as a name); a group that does
//!   not exist or did not take part gives the empty string.
//!
//! Ferrotel compiles `regex` with Go's ASCII `\d \w \s \b` (see `goregex`).

use std::sync::OnceLock;

use regex::Regex;

use super::parsers::kind;
use super::transformers::{base, required, BuildResult, Transform};
use super::{op_config, BuildMode};
use crate::entry::{Entry, Field, Value};

/// The `regex_name` values Go predefines.
pub const REGEX_NAMES: &[&str] = &["ansi_control_sequences"];

/// ANSI CSI escape sequences (`regex_name: ansi_control_sequences`).
const ANSI_CSI: &str = r"\x1B\[[\x30-\x3F]*[\x20-\x2F]*[\x40-\x7E]";

op_config!(RegexReplaceConfig {
    field: Option<Field>,
    regex: String,
    regex_name: String,
    replace_with: String,
});

pub fn build(id: &str, c: &RegexReplaceConfig, _mode: BuildMode) -> BuildResult {
    // Go does not check `field` when building and then fails on the first entry; the docs
    // call it required, so a config without it is refused here.
    let field = required(&c.field, "field")?;
    let base = base(id, c.on_error, &c.if_expr)?;
    if c.regex.is_empty() == c.regex_name.is_empty() {
        return Err((
            "regex".into(),
            "either regex or regex_name must be set".into(),
        ));
    }
    let re = if c.regex_name.is_empty() {
        crate::goregex::compile_ascii_classes(&c.regex)
            .map_err(|e| ("regex".to_string(), format!("invalid regex: {e}")))?
    } else if c.regex_name == "ansi_control_sequences" {
        Regex::new(ANSI_CSI).map_err(|e| ("regex_name".to_string(), e.to_string()))?
    } else {
        return Err((
            "regex_name".into(),
            format!(
                "regex_name {} is unknown (known: {})",
                c.regex_name,
                REGEX_NAMES.join(", ")
            ),
        ));
    };
    let template = Template::parse(&c.replace_with, &re);
    Ok(Box::new(Transform {
        base,
        f: move |e: &mut Entry| {
            let Some(v) = field.get(e) else {
                return Ok(());
            };
            let Value::Str(s) = v else {
                return Err(format!("type {} cannot be handled", kind(v)));
            };
            let replaced = replace_all(&re, &template, s);
            field.set(e, Value::Str(replaced))
        },
    }))
}

/// One part of a parsed `replace_with`.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
}

/// `replace_with`, read once as Go's `Regexp.Expand` reads it on every match.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(t: &str, re: &Regex) -> Template {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = t;
        while let Some(i) = rest.find('$') {
            text.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                text.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = reference(rest) else {
                // malformed: the `$` is text and reading goes on right after it
                text.push('$');
                continue;
            };
            rest = after;
            // a group that cannot exist always expands to nothing
            if let Some(g) = group_index(name, re) {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(g));
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Template(pieces)
    }

    fn expand(&self, src: &str, locs: &regex::CaptureLocations, out: &mut String) {
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(g) => {
                    if let Some((a, b)) = locs.get(*g) {
                        out.push_str(&src[a..b]);
                    }
                }
            }
        }
    }
}

/// The name after a `$` (`name` or `{name}`) and what follows it; `None` when malformed.
fn reference(s: &str) -> Option<(&str, &str)> {
    // Go `unicode.IsLetter` (category L), `unicode.IsDigit` (Nd) and `_`
    static NAME: OnceLock<Option<Regex>> = OnceLock::new();
    let name_re = NAME.get_or_init(|| Regex::new(r"\A[\p{L}\p{Nd}_]+").ok());
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = match name_re {
        Some(re) => re.find(body)?.end(),
        None => body
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(body.len()),
    };
    if end == 0 {
        return None;
    }
    let (name, after) = body.split_at(end);
    if braced {
        Some((name, after.strip_prefix('}')?))
    } else {
        Some((name, after))
    }
}

/// The group a reference names: a number (as Go reads one) or a group name.
fn group_index(name: &str, re: &Regex) -> Option<usize> {
    match go_group_number(name) {
        Some(n) => (n < re.captures_len()).then_some(n),
        None => re.capture_names().position(|n| n == Some(name)),
    }
}

/// Go's reading of an all-digit name; `None` means it is looked up as a name.
fn go_group_number(name: &str) -> Option<usize> {
    let mut num: usize = 0;
    for d in name.bytes() {
        if !d.is_ascii_digit() || num >= 100_000_000 {
            return None;
        }
        num = num * 10 + usize::from(d - b'0');
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    Some(num)
}

/// Go `Regexp.ReplaceAllString`.
pub fn replace_all(re: &Regex, template: &Template, src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut locs = re.capture_locations();
    let mut last_end = 0;
    let mut pos = 0;
    while pos <= src.len() {
        let Some(m) = re.captures_read_at(&mut locs, src, pos) else {
            break;
        };
        out.push_str(&src[last_end..m.start()]);
        // an empty match right after the previous match is not replaced (Go)
        if m.end() > last_end || m.start() == 0 {
            template.expand(src, &locs, &mut out);
        }
        last_end = m.end();
        let width = src[pos..].chars().next().map_or(0, char::len_utf8);
        pos = if pos + width > m.end() {
            pos + width
        } else if pos + 1 > m.end() {
            // at the end of the text: stop
            pos + 1
        } else {
            m.end()
        };
    }
    out.push_str(&src[last_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_replace(pattern: &str, src: &str, repl: &str) -> String {
        let re = crate::goregex::compile_ascii_classes(pattern).unwrap();
        replace_all(&re, &Template::parse(repl, &re), src)
    }

    /// The examples of Go's `Regexp.ReplaceAllString` documentation.
    #[test]
    fn go_doc_examples_of_replace_all_string() {
        assert_eq!(go_replace("a(x*)b", "-ab-axxb-", "T"), "-T-T-");
        assert_eq!(go_replace("a(x*)b", "-ab-axxb-", "$1"), "--xx-");
        assert_eq!(go_replace("a(x*)b", "-ab-axxb-", "$1W"), "---");
        assert_eq!(go_replace("a(x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-");
        assert_eq!(
            go_replace("a(?P<one>x*)b", "-ab-axxb-", "${one}W"),
            "-W-xxW-"
        );
    }

    #[test]
    fn empty_matches_follow_go_replace_all() {
        assert_eq!(go_replace("a*", "baaac", "-"), "-b-c-");
        assert_eq!(go_replace("x*", "h\u{e9}llo", "-"), "-h-\u{e9}-l-l-o-");
        assert_eq!(go_replace("", "", "-"), "-");
        assert_eq!(go_replace("^", "abc", ">"), ">abc");
        assert_eq!(go_replace("$", "abc", "<"), "abc<");
        assert_eq!(go_replace(r"\b", "ab cd", "|"), "|ab| |cd|");
    }

    #[test]
    fn template_references_as_go_expand() {
        let re = Regex::new(r"(?P<word>\w+)=(\d+)").unwrap();
        let t = |r: &str| replace_all(&re, &Template::parse(r, &re), "k=1");
        assert_eq!(t("$2:$1"), "1:k");
        assert_eq!(t("${word}!"), "k!");
        assert_eq!(t("$word!"), "k!");
        assert_eq!(t("$$1"), "$1");
        assert_eq!(t("$0"), "k=1");
        assert_eq!(t("${0}"), "k=1");
        assert_eq!(
            t("$01"),
            "",
            "a leading zero makes it a name, and no group has it"
        );
        assert_eq!(t("$3"), "", "a group that does not exist is empty");
        assert_eq!(t("$wordy"), "", "the name runs on over letters");
        assert_eq!(t("$"), "$");
        assert_eq!(t("a$"), "a$");
        assert_eq!(t("$-"), "$-");
        assert_eq!(t("${"), "${");
        assert_eq!(t("${}"), "${}");
        assert_eq!(t("${1"), "${1");
        assert_eq!(
            t("${a-b}"),
            "${a-b}",
            "`-` ends the name before the closing brace"
        );
        assert_eq!(
            t("$\u{e9}t\u{e9}"),
            "",
            "Unicode letters belong to the name"
        );
        assert_eq!(t("$1\u{0663}"), "", "so do decimal digits of any script");
        assert_eq!(t("$999999999"), "", "group 999999999 does not exist");
        assert_eq!(t("$9999999999999999999999"), "", "too big: a name");
    }

    #[test]
    fn go_group_numbers() {
        assert_eq!(go_group_number("0"), Some(0));
        assert_eq!(go_group_number("12"), Some(12));
        assert_eq!(go_group_number("012"), None);
        assert_eq!(go_group_number("123456789"), Some(123_456_789));
        assert_eq!(go_group_number("1234567890"), None);
        assert_eq!(go_group_number("1a"), None);
    }
}
