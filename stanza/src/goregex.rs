//! Compile Go (RE2) patterns with Rust's `regex`, which shares RE2's syntax except that Go
//! takes a `{` that does not start a repetition (`^{`, `a{b`) as a literal, where Rust
//! refuses it. Such braces are escaped before compiling.

pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(pattern).or_else(|first| {
        let fixed = escape_literal_braces(pattern);
        if fixed == pattern {
            Err(first)
        } else {
            regex::Regex::new(&fixed).map_err(|_| first)
        }
    })
}

pub fn compile_bytes(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::Regex::new(pattern).or_else(|first| {
        let fixed = escape_literal_braces(pattern);
        if fixed == pattern {
            Err(first)
        } else {
            regex::bytes::Regex::new(&fixed).map_err(|_| first)
        }
    })
}

/// Compile closer to Go: the repetitions Go refuses are refused (see [`go_repeat_error`]);
/// RE2's `\d`, `\w`, `\s` and `\b` are ASCII-only (`\s` is `[\t\n\f\r ]`, without `\v`)
/// where Rust's are Unicode; Go reads `\Q...\E` as literal text, which Rust lacks, and a `{`
/// that starts no `{n}`, `{n,}` or `{n,m}` as a literal (Rust reads `{,n}` as a repetition).
/// The pattern is rewritten to spell those out; if the rewrite does not compile while the
/// pattern does, the pattern is used as written.
pub fn compile_ascii_classes(pattern: &str) -> Result<regex::Regex, regex::Error> {
    if let Some(msg) = go_repeat_error(pattern) {
        return Err(regex::Error::Syntax(msg));
    }
    let rewritten = ascii_perl_classes(pattern);
    if rewritten == pattern {
        return compile(pattern);
    }
    compile(&rewritten).or_else(|e| match compile(pattern) {
        Ok(re) => Ok(re),
        Err(orig) => Err(if pattern.contains("\\Q") { e } else { orig }),
    })
}

/// What Go's `regexp/syntax` refuses in repetitions where Rust accepts the pattern: a
/// repetition operator right after another one (`a**`, `a+?*`, `a{2}{3}`: "invalid nested
/// repetition operator"; a `?` right after an operator only makes it non-greedy) and a count
/// above 1000 (`a{1001}`: "invalid repeat count"). Go's limit on nested counts whose product
/// exceeds 1000 is not checked.
pub fn go_repeat_error(p: &str) -> Option<String> {
    let b: Vec<char> = p.chars().collect();
    let text = |from: usize, to: usize| b[from..to].iter().collect::<String>();
    let mut last_repeat: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let repeat_end = match c {
            '*' | '+' | '?' => Some(i + 1),
            '{' => match repeat_count(&b[i..]) {
                Some((len, min, max)) => {
                    if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
                        return Some(format!("invalid repeat count: `{}`", text(i, i + len)));
                    }
                    Some(i + len)
                }
                None => None,
            },
            _ => None,
        };
        if let Some(mut end) = repeat_end {
            if b.get(end) == Some(&'?') {
                end += 1;
            }
            if let Some(prev) = last_repeat {
                return Some(format!(
                    "invalid nested repetition operator: `{}`",
                    text(prev, end)
                ));
            }
            last_repeat = Some(start);
            i = end;
            continue;
        }
        last_repeat = None;
        i = match c {
            '\\' => match b.get(i + 1) {
                Some('Q') => {
                    let rest: String = b[i + 2..].iter().collect();
                    match rest.find("\\E") {
                        Some(k) => i + 2 + rest[..k].chars().count() + 2,
                        None => b.len(),
                    }
                }
                Some('p' | 'P' | 'x') if b.get(i + 2) == Some(&'{') => b[i..]
                    .iter()
                    .position(|&x| x == '}')
                    .map_or(b.len(), |k| i + k + 1),
                Some(_) => i + 2,
                None => b.len(),
            },
            '[' => class_end(&b, i),
            // `(?` opens a group with flags or a name: its `?` is no repetition
            '(' if b.get(i + 1) == Some(&'?') => i + 2,
            _ => i + 1,
        };
    }
    None
}

/// `{n}`, `{n,}` or `{n,m}` at the start: its length, n and m (`None`: no upper bound).
fn repeat_count(s: &[char]) -> Option<(usize, u64, Option<u64>)> {
    let end = s.iter().position(|&c| c == '}')?;
    let inner: String = s[1..end].iter().collect();
    let num = |t: &str| -> Option<u64> {
        if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // anything past 1000 is refused anyway: saturate instead of overflowing
        Some(t.parse::<u64>().unwrap_or(u64::MAX))
    };
    match inner.split_once(',') {
        None => num(&inner).map(|n| (end + 1, n, Some(n))),
        Some((a, "")) => num(a).map(|n| (end + 1, n, None)),
        Some((a, m)) => Some((end + 1, num(a)?, Some(num(m)?))),
    }
}

/// Where the class opening at `b[i]` (a `[`) ends.
fn class_end(b: &[char], i: usize) -> usize {
    let mut j = i + 1;
    if b.get(j) == Some(&'^') {
        j += 1;
    }
    if b.get(j) == Some(&']') {
        j += 1;
    }
    while j < b.len() {
        match b[j] {
            '\\' => j += 2,
            '[' if b.get(j + 1) == Some(&':') => {
                j = b[j..]
                    .windows(2)
                    .position(|w| w == [':', ']'])
                    .map_or(j + 1, |k| j + k + 2);
            }
            ']' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// Spell out Go's ASCII Perl classes and `\Q...\E` (see [`compile_ascii_classes`]).
pub fn ascii_perl_classes(p: &str) -> String {
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = "\\t\\n\\f\\r\\x20";
    let b: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == '\\' {
            let Some(&n) = b.get(i + 1) else {
                out.push(c);
                break;
            };
            i += 2;
            match n {
                'd' => out.push_str("[0-9]"),
                'D' => out.push_str("[^0-9]"),
                'w' => out.push_str(&format!("[{WORD}]")),
                'W' => out.push_str(&format!("[^{WORD}]")),
                's' => out.push_str(&format!("[{SPACE}]")),
                'S' => out.push_str(&format!("[^{SPACE}]")),
                'b' if !in_class => out.push_str("(?-u:\\b)"),
                'B' if !in_class => out.push_str("(?-u:\\B)"),
                'p' | 'P' | 'x' if b.get(i) == Some(&'{') => {
                    // `\p{Greek}`, `\x{41}`: copied whole, the brace is no repetition
                    let end = b[i..]
                        .iter()
                        .position(|&x| x == '}')
                        .map_or(b.len(), |k| i + k + 1);
                    out.push(c);
                    out.push(n);
                    out.extend(&b[i..end]);
                    i = end;
                }
                'Q' if !in_class => {
                    // literal up to the first `\E`, or to the end of the pattern
                    let rest: String = b[i..].iter().collect();
                    let (lit, after) = match rest.find("\\E") {
                        Some(k) => (&rest[..k], k + 2),
                        None => (rest.as_str(), rest.len()),
                    };
                    out.push_str(&regex::escape(lit));
                    i += rest[..after].chars().count();
                }
                _ => {
                    out.push(c);
                    out.push(n);
                }
            }
            continue;
        }
        if in_class {
            if c == '[' && b.get(i + 1) == Some(&':') {
                // an ASCII class `[:name:]` inside a class: copied as it is
                let rest: String = b[i..].iter().collect();
                if let Some(k) = rest.find(":]") {
                    out.push_str(&rest[..k + 2]);
                    i += rest[..k + 2].chars().count();
                    continue;
                }
            }
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            // a `]` right after `[` or `[^` is literal
            if b.get(i + 1) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if b.get(i + 1) == Some(&']') {
                out.push(']');
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '{' && !is_repetition(&b[i..]) {
            // Go: a literal (Rust would read `{,2}` as a repetition)
            out.push_str("\\{");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Escape every `{` that is not the start of `{n}`, `{n,}` or `{n,m}` (outside classes).
fn escape_literal_braces(p: &str) -> String {
    let b: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 4);
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == '\\' {
            out.push(c);
            if let Some(&n) = b.get(i + 1) {
                out.push(n);
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            // a `]` right after `[` or `[^` is literal
            if b.get(i + 1) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if b.get(i + 1) == Some(&']') {
                out.push(']');
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '{' && !is_repetition(&b[i..]) {
            out.push_str("\\{");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn is_repetition(s: &[char]) -> bool {
    let Some(end) = s.iter().position(|&c| c == '}') else {
        return false;
    };
    let inner: String = s[1..end].iter().collect();
    let mut parts = inner.splitn(2, ',');
    let first = parts.next().unwrap_or("");
    if first.is_empty() || !first.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    match parts.next() {
        None => true,
        Some(rest) => rest.chars().all(|c| c.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_literal_braces_compile() {
        assert!(super::compile("^{").unwrap().is_match("{\"a\":1}"));
        assert!(super::compile("a{2}").unwrap().is_match("aa"));
        assert!(super::compile("[{]x").unwrap().is_match("{x"));
        assert!(super::compile("(").is_err());
    }

    /// RE2 (Go `regexp/syntax` docs): `\d` = `[0-9]`, `\w` = `[0-9A-Za-z_]`, `\s` =
    /// `[\t\n\f\r ]`, `\b` an ASCII word boundary, `\Q...\E` literal text.
    #[test]
    fn go_perl_classes_are_ascii_only() {
        let re = super::compile_ascii_classes(r"^\d+\s\w+\b").unwrap();
        assert!(re.is_match("42 ab"));
        assert!(
            !re.is_match("\u{0664}\u{0662} ab"),
            "Arabic-Indic digits are not \\d"
        );
        assert!(!re.is_match("42\u{00a0}ab"), "no-break space is not \\s");
        assert!(
            !re.is_match("42\u{000b}ab"),
            "vertical tab is not \\s in Go"
        );
        assert!(!re.is_match("42 \u{00e9}"), "é is not \\w");
        let re = super::compile_ascii_classes(r"[^\D]+|[\s\d]").unwrap();
        assert_eq!(re.find("x12").map(|m| m.as_str()), Some("12"));
        let re = super::compile_ascii_classes(r"\Q(a.b)\E+").unwrap();
        assert!(re.is_match("(a.b))") && !re.is_match("(axb)"));
        let re = super::compile_ascii_classes(r"[[:alpha:]\d]\\d").unwrap();
        assert!(re.is_match("a\\d") && re.is_match("1\\d") && !re.is_match("a1"));
        let re = super::compile_ascii_classes(r"^a{,2}\p{Greek}\x{41}{2}$").unwrap();
        assert!(re.is_match("a{,2}\u{3b1}AA") && !re.is_match("aa\u{3b1}AA"));
        let re = super::compile_ascii_classes(r"\bx\b").unwrap();
        assert!(
            re.is_match("\u{00e9}x"),
            "é is not a word character for Go's \\b"
        );
        assert!(super::compile_ascii_classes(r"(\d").is_err());
    }

    /// Go `regexp/syntax`: stacked repetition operators are "invalid nested repetition
    /// operator"; a count above 1000 is "invalid repeat count".
    #[test]
    fn repetitions_go_refuses() {
        for (p, err) in [
            ("a**", "invalid nested repetition operator: `**`"),
            ("a+*", "invalid nested repetition operator: `+*`"),
            ("a*??", "invalid nested repetition operator: `*??`"),
            ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
            ("(x)?+", "invalid nested repetition operator: `?+`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("a{2,1001}", "invalid repeat count: `{2,1001}`"),
            ("a{3,2}", "invalid repeat count: `{3,2}`"),
            ("a{99999999999999999999999}", "invalid repeat count"),
        ] {
            let e = super::go_repeat_error(p);
            assert!(
                e.as_deref().is_some_and(|e| e.starts_with(err)),
                "{p}: {e:?}"
            );
            assert!(super::compile_ascii_classes(p).is_err(), "{p}");
        }
        for p in [
            "a*?",
            "a+?b*",
            "(?i)a*",
            "(?:a)*",
            "(?P<n>a)+",
            r"\**",
            r"\Q**\E*",
            "[*+]*",
            "[[:alpha:]*]+",
            r"\x{41}*",
            r"\p{Greek}+",
            "a{2}?",
            "a{,2}*",
            "^{*",
            "a{1000}",
        ] {
            assert_eq!(super::go_repeat_error(p), None, "{p}");
        }
    }
}
