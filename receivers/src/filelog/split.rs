//! Splitting a file's bytes into tokens (log entries), trimming, and force-flushing.
//!
//! Go facts (`pkg/stanza/split/split.go`, `pkg/stanza/trim`, `pkg/stanza/flush`,
//! `pkg/stanza/fileconsumer/internal/scanner`):
//! - without `multiline`, tokens end at the encoded `\n`, with one `\r` before it removed;
//!   an empty line is an empty token (and empty tokens are not emitted);
//! - `line_start_pattern` (compiled with `(?m)`): a token runs from one match to the next
//!   (text before the first match is a token of its own); `line_end_pattern`: a token ends
//!   at the end of a match; `omit_pattern` leaves the match out; files are read with
//!   `flushAtEOF` off, so the last token waits for the next match or the force flush;
//! - `nop` encoding: no splitting, everything read is one token (at most `max_log_size`);
//! - a token that reaches `max_log_size` without a delimiter is cut there (behaviour
//!   `split`, the rest starts the next token; `truncate` drops the rest up to the next
//!   delimiter);
//! - trimming removes `\r`, `\n`, `\t` and spaces at both ends unless
//!   `preserve_leading_whitespaces` / `preserve_trailing_whitespaces`; nothing is trimmed
//!   with `nop`;
//! - force flush: when no token is found and the unread data has not grown for
//!   `force_flush_period` (0 disables), that data is emitted as a token.

use std::time::{Duration, Instant};

use regex::bytes::Regex;

use super::config::{FileLogConfig, MaxLogSizeBehavior, MultilineConfig};
use super::encoding::{find_aligned, Encoding};

#[derive(Debug, Clone)]
enum Kind {
    Newline,
    LineStart(Regex, bool),
    LineEnd(Regex, bool),
    Nop,
}

/// How a reader cuts and cleans tokens; built once per receiver.
#[derive(Debug, Clone)]
pub struct Splitter {
    kind: Kind,
    pub enc: Encoding,
    pub max: usize,
    pub behavior: MaxLogSizeBehavior,
    pub flush_period: Duration,
    trim_leading: bool,
    trim_trailing: bool,
}

/// The force-flush state of one reader (Go `flush.State`).
#[derive(Debug, Clone, Default)]
pub struct FlushState {
    pub last_change: Option<Instant>,
    pub last_len: usize,
}

/// The result of looking for one token at the start of `data`.
pub enum Cut {
    /// `advance` bytes are consumed; the token is `data[start..end]`.
    Token {
        advance: usize,
        start: usize,
        end: usize,
    },
    /// Need more data.
    More,
}

impl Splitter {
    pub fn new(cfg: &FileLogConfig) -> Result<Splitter, String> {
        Splitter::from_parts(
            &cfg.encoding,
            cfg.multiline.as_ref(),
            cfg.max_log_size.0,
            cfg.max_log_size_behavior,
            cfg.force_flush_period.get(),
            (
                cfg.preserve_leading_whitespaces,
                cfg.preserve_trailing_whitespaces,
            ),
        )
    }

    /// A splitter from the keys stanza's inputs share (`encoding`, `multiline`, the size
    /// limit, the `preserve_*_whitespaces` pair).
    pub fn from_parts(
        encoding: &str,
        multiline: Option<&MultilineConfig>,
        max_log_size: u64,
        behavior: MaxLogSizeBehavior,
        flush_period: Duration,
        (preserve_leading, preserve_trailing): (bool, bool),
    ) -> Result<Splitter, String> {
        let enc = Encoding::lookup(encoding)?;
        let multiline = multiline.cloned().unwrap_or_default();
        let kind = if enc == Encoding::Nop {
            Kind::Nop
        } else if !multiline.line_start_pattern.is_empty() {
            Kind::LineStart(
                stanza::goregex::compile_bytes(&format!("(?m){}", multiline.line_start_pattern))
                    .map_err(|e| format!("compile line start regex: {e}"))?,
                multiline.omit_pattern,
            )
        } else if !multiline.line_end_pattern.is_empty() {
            Kind::LineEnd(
                stanza::goregex::compile_bytes(&format!("(?m){}", multiline.line_end_pattern))
                    .map_err(|e| format!("compile line end regex: {e}"))?,
                multiline.omit_pattern,
            )
        } else {
            Kind::Newline
        };
        Ok(Splitter {
            kind,
            enc,
            max: usize::try_from(max_log_size).unwrap_or(usize::MAX).max(1),
            behavior,
            flush_period,
            trim_leading: !preserve_leading && enc != Encoding::Nop,
            trim_trailing: !preserve_trailing && enc != Encoding::Nop,
        })
    }

    /// Find the next token at the start of `data`.
    pub fn cut(&self, data: &[u8], at_eof: bool) -> Cut {
        match &self.kind {
            Kind::Newline => {
                let nl = self.enc.newline();
                match find_aligned(data, nl, self.enc.unit()) {
                    Some(i) => {
                        let cr = self.enc.carriage_return();
                        let end = if data[..i].ends_with(cr) {
                            i - cr.len()
                        } else {
                            i
                        };
                        Cut::Token {
                            advance: i + nl.len(),
                            start: 0,
                            end,
                        }
                    }
                    None => Cut::More,
                }
            }
            Kind::LineStart(re, omit) => {
                let Some(first) = re.find(data) else {
                    return Cut::More;
                };
                if first.start() != 0 {
                    return Cut::Token {
                        advance: first.start(),
                        start: 0,
                        end: first.start(),
                    };
                }
                if first.end() >= data.len() {
                    return Cut::More;
                }
                let from = first.end() + 1;
                let Some(second) = data.get(from..).and_then(|rest| re.find(rest)) else {
                    return Cut::More;
                };
                let second_start = second.start() + from;
                Cut::Token {
                    advance: second_start,
                    start: if *omit { first.end() } else { 0 },
                    end: second_start,
                }
            }
            Kind::LineEnd(re, omit) => {
                let Some(m) = re.find(data) else {
                    return Cut::More;
                };
                if m.end() == 0 || (m.end() + 1 == data.len() && !at_eof) {
                    return Cut::More;
                }
                Cut::Token {
                    advance: m.end(),
                    start: 0,
                    end: if *omit { m.start() } else { m.end() },
                }
            }
            Kind::Nop => {
                if data.len() >= self.max {
                    Cut::Token {
                        advance: self.max,
                        start: 0,
                        end: self.max,
                    }
                } else if at_eof && !data.is_empty() {
                    Cut::Token {
                        advance: data.len(),
                        start: 0,
                        end: data.len(),
                    }
                } else {
                    Cut::More
                }
            }
        }
    }

    /// Whether the delimiter-less `truncate` skip ends in `data`: the offset after the
    /// delimiter.
    pub fn skip_to_delimiter(&self, data: &[u8]) -> Option<usize> {
        match &self.kind {
            Kind::Newline | Kind::Nop => {
                let nl = self.enc.newline();
                find_aligned(data, nl, self.enc.unit()).map(|i| i + nl.len())
            }
            Kind::LineStart(re, _) => re.find_at(data, 1).map(|m| m.start()).filter(|s| *s > 0),
            Kind::LineEnd(re, _) => re.find(data).map(|m| m.end()).filter(|e| *e > 0),
        }
    }

    /// Trim a token's bytes (single-byte encodings; UTF-16 is trimmed after decoding).
    pub fn trim<'a>(&self, t: &'a [u8]) -> &'a [u8] {
        if self.enc.unit() != 1 {
            return t;
        }
        let ws = |c: &u8| matches!(c, b'\r' | b'\n' | b'\t' | b' ');
        let mut s = 0;
        let mut e = t.len();
        if self.trim_leading {
            while s < e && ws(&t[s]) {
                s += 1;
            }
        }
        if self.trim_trailing {
            while e > s && ws(&t[e - 1]) {
                e -= 1;
            }
        }
        &t[s..e]
    }

    /// Trim decoded text (UTF-16).
    pub fn trim_str<'a>(&self, s: &'a str) -> &'a str {
        let ws: &[char] = &['\r', '\n', '\t', ' '];
        let mut t = s;
        if self.trim_leading {
            t = t.trim_start_matches(ws);
        }
        if self.trim_trailing {
            t = t.trim_end_matches(ws);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splitter(yaml: &str) -> Splitter {
        let cfg: FileLogConfig = serde_yaml_ng::from_str(yaml).unwrap();
        Splitter::new(&cfg).unwrap()
    }

    fn tokens(s: &Splitter, data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Cut::Token {
            advance,
            start,
            end,
        } = s.cut(&data[pos..], false)
        {
            out.push(String::from_utf8_lossy(s.trim(&data[pos + start..pos + end])).into_owned());
            pos += advance;
        }
        out
    }

    #[test]
    fn newline_split_drops_cr_and_keeps_partial() {
        let s = splitter("include: [x]");
        assert_eq!(tokens(&s, b"a\r\n\nb\nc"), vec!["a", "", "b"]);
    }

    #[test]
    fn line_start_pattern_as_go() {
        let s = splitter("include: [x]\nmultiline: {line_start_pattern: '^\\d{4}-'}");
        let data = b"2024-01 first\n  at x\n  at y\n2024-02 second\n2024-03 third";
        assert_eq!(
            tokens(&s, data),
            vec!["2024-01 first\n  at x\n  at y", "2024-02 second"]
        );
    }

    #[test]
    fn line_end_pattern_as_go() {
        let s = splitter("include: [x]\nmultiline: {line_end_pattern: 'END'}");
        assert_eq!(tokens(&s, b"a\nbEND\ncEND\nd"), vec!["a\nbEND", "cEND"]);
    }
}
