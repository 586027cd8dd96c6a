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
}
