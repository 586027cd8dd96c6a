//! The subset of the `expr-lang` expression language that the stanza operators' `if`,
//! `router` routes, `recombine` conditions and `EXPR(...)` values use in Go's documentation.
//!
//! Go: `pkg/stanza/operator/helper/expr.go` (`GetExprEnv`: the variables `body`, `attributes`,
//! `resource`, `timestamp`, `$` as the body, and the function `env(name)`;
//! `ExprCompileBool` requires a boolean result). Supported here: string / number / bool /
//! `nil` literals, lists `[...]`, field access with `.name` and `["key"]`, `==`, `!=`, `<`,
//! `<=`, `>`, `>=`, `matches` (with a literal pattern), `contains`, `startsWith`, `endsWith`,
//! `in`, `not in`, `not` before `matches`/`contains`/`startsWith`/`endsWith`, `not`/`!`,
//! `and`/`&&`, `or`/`||`, `cond ? a : b`, parentheses and `env("NAME")`.
//! Anything else is refused when the config is loaded, never at run time.

use regex::Regex;

use crate::entry::{Entry, Value};

#[derive(Debug, Clone)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Punct(&'static str),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            let q = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err("unterminated string literal".into());
                };
                i += 1;
                if ch == q {
                    break;
                }
                if ch == '\\' && q != '`' {
                    let Some(&esc) = chars.get(i) else {
                        return Err("unterminated string literal".into());
                    };
                    i += 1;
                    s.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    s.push(ch);
                }
            }
            out.push(Tok::Str(s));
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_')
            {
                // `a.b` after a number is not a thing in this subset: a dot followed by a digit
                // continues the number.
                if chars[i] == '.' && !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    break;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            if text.contains('.') {
                out.push(Tok::Float(
                    text.parse()
                        .map_err(|_| format!("invalid number {text:?}"))?,
                ));
            } else {
                out.push(Tok::Int(
                    text.parse()
                        .map_err(|_| format!("invalid number {text:?}"))?,
                ));
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let p = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(p) = p {
            out.push(Tok::Punct(p));
            i += 2;
            continue;
        }
        let p = match c {
            '(' => "(",
            ')' => ")",
            '[' => "[",
            ']' => "]",
            ',' => ",",
            '.' => ".",
            '<' => "<",
            '>' => ">",
            '!' => "!",
            '?' => "?",
            ':' => ":",
            other => return Err(format!("unexpected character {other:?}")),
        };
        out.push(Tok::Punct(p));
        i += 1;
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Var {
    Body,
    Attributes,
    Resource,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
enum Node {
    Lit(Option<Value>),
    Var(Var, Vec<Node>),
    List(Vec<Node>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    Matches(Box<Node>, Regex),
    Str(StrOp, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>, bool),
    Env(Box<Node>),
    /// `cond ? then : else`
    Cond(Box<Node>, Box<Node>, Box<Node>),
}

/// Deepest nesting an expression may have: every sub-expression (a parenthesis, a list item,
/// a path key, `env`'s argument, a branch of `?:`), every `not` and every `and`/`or` of a chain
/// (each makes the tree one level deeper) counts one. Parsing, evaluation and the tree's drop
/// recurse once per level, so this bounds their stack use.
pub const MAX_NESTING: usize = 100;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Current nesting, checked against [`MAX_NESTING`].
    depth: usize,
}

impl Parser {
    /// One level deeper; refused past [`MAX_NESTING`]. [`Parser::restoring`] puts it back.
    fn deeper(&mut self) -> Result<(), String> {
        if self.depth >= MAX_NESTING {
            return Err(format!(
                "nested more than {MAX_NESTING} levels deep (at token {})",
                self.pos + 1
            ));
        }
        self.depth += 1;
        Ok(())
    }

    /// Runs `f` and puts the nesting back as it was.
    fn restoring(&mut self, f: fn(&mut Parser) -> Result<Node, String>) -> Result<Node, String> {
        let base = self.depth;
        let r = f(self);
        self.depth = base;
        r
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn is_ident(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(q)) if q == w)
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), String> {
        if self.is_punct(p) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {p:?}"))
        }
    }

    /// `cond ? a : b`, the loosest binding (expr-lang's conditional).
    fn ternary(&mut self) -> Result<Node, String> {
        self.restoring(|p| {
            p.deeper()?;
            p.ternary_here()
        })
    }

    fn ternary_here(&mut self) -> Result<Node, String> {
        let cond = self.or()?;
        if !self.is_punct("?") {
            return Ok(cond);
        }
        self.pos += 1;
        let then = self.ternary()?;
        self.expect_punct(":")?;
        let otherwise = self.ternary()?;
        Ok(Node::Cond(
            Box::new(cond),
            Box::new(then),
            Box::new(otherwise),
        ))
    }

    fn or(&mut self) -> Result<Node, String> {
        self.restoring(|p| {
            p.deeper()?;
            p.or_here()
        })
    }

    fn or_here(&mut self) -> Result<Node, String> {
        self.chain(["or", "||"], Parser::and, Node::Or)
    }

    fn and(&mut self) -> Result<Node, String> {
        self.restoring(|p| p.chain(["and", "&&"], Parser::not, Node::And))
    }

    /// `a op b op c` read left to right, `operand` for each side; each operator nests the
    /// tree one level deeper.
    fn chain(
        &mut self,
        [word, punct]: [&str; 2],
        operand: fn(&mut Parser) -> Result<Node, String>,
        node: fn(Box<Node>, Box<Node>) -> Node,
    ) -> Result<Node, String> {
        let mut left = operand(self)?;
        while self.is_ident(word) || self.is_punct(punct) {
            self.deeper()?;
            self.pos += 1;
            let right = operand(self)?;
            left = node(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Node, String> {
        self.restoring(|p| {
            if p.is_ident("not") || p.is_punct("!") {
                p.deeper()?;
                p.pos += 1;
                return Ok(Node::Not(Box::new(p.not()?)));
            }
            p.cmp()
        })
    }

    fn cmp(&mut self) -> Result<Node, String> {
        let left = self.primary()?;
        let op = match self.peek() {
            Some(Tok::Punct(p)) => match *p {
                "==" => Some(CmpOp::Eq),
                "!=" => Some(CmpOp::Ne),
                "<" => Some(CmpOp::Lt),
                "<=" => Some(CmpOp::Le),
                ">" => Some(CmpOp::Gt),
                ">=" => Some(CmpOp::Ge),
                _ => None,
            },
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let right = self.primary()?;
            return Ok(Node::Cmp(op, Box::new(left), Box::new(right)));
        }
        self.cmp_rest(left)
    }

    /// The word operators after a left operand (`matches`, `contains`, `in`, …).
    fn cmp_rest(&mut self, left: Node) -> Result<Node, String> {
        let word = match self.peek() {
            Some(Tok::Ident(w)) => w.clone(),
            _ => return Ok(left),
        };
        match word.as_str() {
            "matches" => {
                self.pos += 1;
                match self.primary()? {
                    Node::Lit(Some(Value::Str(p))) => {
                        let re = crate::goregex::compile(&p)
                            .map_err(|e| format!("invalid regex {p:?} after matches: {e}"))?;
                        Ok(Node::Matches(Box::new(left), re))
                    }
                    _ => Err("`matches` needs a string literal pattern".into()),
                }
            }
            "contains" | "startsWith" | "endsWith" => {
                self.pos += 1;
                let op = match word.as_str() {
                    "contains" => StrOp::Contains,
                    "startsWith" => StrOp::StartsWith,
                    _ => StrOp::EndsWith,
                };
                let right = self.primary()?;
                Ok(Node::Str(op, Box::new(left), Box::new(right)))
            }
            "in" => {
                self.pos += 1;
                let right = self.primary()?;
                Ok(Node::In(Box::new(left), Box::new(right), false))
            }
            "not" if matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(w)) if w == "in") => {
                self.pos += 2;
                let right = self.primary()?;
                Ok(Node::In(Box::new(left), Box::new(right), true))
            }
            // `a not matches b`, `a not contains b`, …: the operator negated (expr-lang)
            "not"
                if matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(w))
                    if matches!(w.as_str(), "matches" | "contains" | "startsWith" | "endsWith")) =>
            {
                self.pos += 1;
                let inner = self.cmp_rest(left)?;
                Ok(Node::Not(Box::new(inner)))
            }
            _ => Ok(left),
        }
    }

    fn primary(&mut self) -> Result<Node, String> {
        let tok = self
            .peek()
            .cloned()
            .ok_or_else(|| "unexpected end of expression".to_string())?;
        self.pos += 1;
        match tok {
            Tok::Str(s) => Ok(Node::Lit(Some(Value::Str(s)))),
            Tok::Int(i) => Ok(Node::Lit(Some(Value::Int(i)))),
            Tok::Float(f) => Ok(Node::Lit(Some(Value::Double(f)))),
            Tok::Punct("(") => {
                let e = self.ternary()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.is_punct("]") {
                    loop {
                        items.push(self.ternary()?);
                        if self.is_punct(",") {
                            self.pos += 1;
                            continue;
                        }
                        break;
                    }
                }
                self.expect_punct("]")?;
                Ok(Node::List(items))
            }
            Tok::Punct("-") => Err("unary minus is not supported".into()),
            Tok::Ident(w) => match w.as_str() {
                "true" => Ok(Node::Lit(Some(Value::Bool(true)))),
                "false" => Ok(Node::Lit(Some(Value::Bool(false)))),
                "nil" => Ok(Node::Lit(None)),
                "env" => {
                    self.expect_punct("(")?;
                    let arg = self.or()?;
                    self.expect_punct(")")?;
                    Ok(Node::Env(Box::new(arg)))
                }
                "body" | "$" | "$body" | "$record" => self.path(Var::Body),
                "attributes" | "$attributes" | "$labels" => self.path(Var::Attributes),
                "resource" | "$resource" => self.path(Var::Resource),
                "timestamp" | "$timestamp" => self.path(Var::Timestamp),
                other => Err(format!(
                    "unknown name {other:?} (supported: body, attributes, resource, timestamp, env())"
                )),
            },
            Tok::Punct(p) => Err(format!("unexpected {p:?}")),
        }
    }

    fn path(&mut self, var: Var) -> Result<Node, String> {
        let mut segs = Vec::new();
        loop {
            if self.is_punct(".") {
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        segs.push(Node::Lit(Some(Value::Str(name))));
                    }
                    _ => return Err("expected a name after '.'".into()),
                }
            } else if self.is_punct("[") {
                self.pos += 1;
                let key = self.or()?;
                self.expect_punct("]")?;
                segs.push(key);
            } else if self.is_punct("(") {
                return Err("function calls are not supported".into());
            } else {
                break;
            }
        }
        Ok(Node::Var(var, segs))
    }
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    root: Node,
}

impl Expr {
    pub fn compile(src: &str) -> Result<Expr, String> {
        let toks = lex(src).map_err(|e| format!("invalid expression {src:?}: {e}"))?;
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let root = p
            .ternary()
            .map_err(|e| format!("invalid expression {src:?}: {e}"))?;
        if p.pos != p.toks.len() {
            return Err(format!(
                "invalid expression {src:?}: unexpected trailing input"
            ));
        }
        Ok(Expr {
            source: src.to_string(),
            root,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluate to a value (`None` is `nil`).
    pub fn eval(&self, e: &Entry) -> Result<Option<Value>, String> {
        eval(&self.root, e)
    }

    /// Evaluate to a boolean (Go `ExprCompileBool`: any other result is an error).
    pub fn eval_bool(&self, e: &Entry) -> Result<bool, String> {
        match self.eval(e)? {
            Some(Value::Bool(b)) => Ok(b),
            other => Err(format!(
                "expression {:?} did not return a boolean (got {})",
                self.source,
                other.map(|v| v.to_text()).unwrap_or_else(|| "nil".into())
            )),
        }
    }
}

fn truthy(v: Option<Value>, what: &str) -> Result<bool, String> {
    match v {
        Some(Value::Bool(b)) => Ok(b),
        _ => Err(format!("operand of {what} is not a boolean")),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Double(f) => Some(*f),
        _ => None,
    }
}

fn equal(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Null), None) | (None, Some(Value::Null)) => true,
        (Some(x), Some(y)) => match (num(x), num(y)) {
            (Some(p), Some(q)) => p == q,
            _ => x == y,
        },
        _ => false,
    }
}

fn eval(n: &Node, e: &Entry) -> Result<Option<Value>, String> {
    Ok(match n {
        Node::Lit(v) => v.clone(),
        Node::List(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| eval(i, e).map(|v| v.unwrap_or(Value::Null)))
                .collect::<Result<_, _>>()?,
        )),
        Node::Var(var, segs) => {
            let mut cur: Option<Value> = match var {
                Var::Body => e.body.clone(),
                Var::Attributes => Some(Value::Map(e.attributes.clone())),
                Var::Resource => Some(Value::Map(e.resource.clone())),
                Var::Timestamp => e.timestamp.map(|t| Value::Int(t as i64)),
            };
            for seg in segs {
                let key = eval(seg, e)?;
                cur = match (cur, key) {
                    (Some(Value::Map(m)), Some(Value::Str(k))) => m.get(&k).cloned(),
                    (Some(Value::Array(a)), Some(Value::Int(i))) => {
                        usize::try_from(i).ok().and_then(|i| a.get(i).cloned())
                    }
                    _ => None,
                };
            }
            cur
        }
        Node::Not(x) => Some(Value::Bool(!truthy(eval(x, e)?, "not")?)),
        Node::Cond(c, a, b) => {
            if truthy(eval(c, e)?, "?:")? {
                eval(a, e)?
            } else {
                eval(b, e)?
            }
        }
        Node::And(a, b) => Some(Value::Bool(
            truthy(eval(a, e)?, "and")? && truthy(eval(b, e)?, "and")?,
        )),
        Node::Or(a, b) => Some(Value::Bool(
            truthy(eval(a, e)?, "or")? || truthy(eval(b, e)?, "or")?,
        )),
        Node::Cmp(op, a, b) => {
            let (x, y) = (eval(a, e)?, eval(b, e)?);
            let r = match op {
                CmpOp::Eq => equal(&x, &y),
                CmpOp::Ne => !equal(&x, &y),
                _ => {
                    let ord = match (&x, &y) {
                        (Some(Value::Str(p)), Some(Value::Str(q))) => p.partial_cmp(q),
                        (Some(p), Some(q)) => match (num(p), num(q)) {
                            (Some(p), Some(q)) => p.partial_cmp(&q),
                            _ => None,
                        },
                        _ => None,
                    };
                    let Some(ord) = ord else {
                        return Err("invalid operands for comparison".into());
                    };
                    match op {
                        CmpOp::Lt => ord.is_lt(),
                        CmpOp::Le => ord.is_le(),
                        CmpOp::Gt => ord.is_gt(),
                        _ => ord.is_ge(),
                    }
                }
            };
            Some(Value::Bool(r))
        }
        Node::Matches(a, re) => match eval(a, e)? {
            Some(Value::Str(s)) => Some(Value::Bool(re.is_match(&s))),
            _ => return Err("left operand of matches is not a string".into()),
        },
        Node::Str(op, a, b) => match (eval(a, e)?, eval(b, e)?) {
            (Some(Value::Str(s)), Some(Value::Str(t))) => Some(Value::Bool(match op {
                StrOp::Contains => s.contains(&t),
                StrOp::StartsWith => s.starts_with(&t),
                StrOp::EndsWith => s.ends_with(&t),
            })),
            _ => return Err("operands of contains/startsWith/endsWith must be strings".into()),
        },
        Node::In(a, b, negate) => {
            let x = eval(a, e)?;
            let found = match eval(b, e)? {
                Some(Value::Array(items)) => items.into_iter().any(|i| equal(&x, &Some(i))),
                Some(Value::Map(m)) => match &x {
                    Some(Value::Str(k)) => m.contains_key(k),
                    _ => false,
                },
                None => false,
                _ => return Err("right operand of in is not a list or map".into()),
            };
            Some(Value::Bool(found != *negate))
        }
        Node::Env(arg) => match eval(arg, e)? {
            Some(Value::Str(name)) => Some(Value::Str(std::env::var(name).unwrap_or_default())),
            _ => return Err("env() needs a string".into()),
        },
    })
}

/// A config string that may be `EXPR(...)` (Go `helper.ExprStringConfig`): evaluated per
/// entry, or a literal.
#[derive(Debug, Clone)]
pub enum ExprString {
    Literal(String),
    Expr(Expr),
}

impl ExprString {
    pub fn compile(s: &str) -> Result<ExprString, String> {
        let t = s.trim();
        if let Some(inner) = t.strip_prefix("EXPR(").and_then(|r| r.strip_suffix(')')) {
            return Expr::compile(inner).map(ExprString::Expr);
        }
        Ok(ExprString::Literal(s.to_string()))
    }

    pub fn render(&self, e: &Entry) -> Result<Value, String> {
        match self {
            ExprString::Literal(s) => Ok(Value::Str(s.clone())),
            ExprString::Expr(x) => Ok(x.eval(e)?.unwrap_or(Value::Null)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Map;

    fn entry() -> Entry {
        let mut body = Map::new();
        body.insert("level".into(), Value::Str("error".into()));
        let mut e = crate::entry::EntryData::new(Value::Map(body), 0);
        e.attributes
            .insert("stream".into(), Value::Str("stderr".into()));
        e.attributes
            .insert("log.iostream".into(), Value::Str("stdout".into()));
        e
    }

    #[test]
    fn go_doc_examples_evaluate() {
        let e = entry();
        for (src, want) in [
            (r#"attributes.stream == "stderr""#, true),
            (r#"body.level in ["error","fatal"]"#, true),
            (r#"body.level not in ["error","fatal"]"#, false),
            (
                r#"attributes["log.iostream"] == 'stdout' and not (body.level == 'info')"#,
                true,
            ),
            (r#"body.missing == nil || false"#, true),
            (r#"attributes.stream startsWith "std""#, true),
        ] {
            assert_eq!(
                Expr::compile(src).unwrap().eval_bool(&e).unwrap(),
                want,
                "{src}"
            );
        }
        let line = crate::entry::EntryData::new(Value::Str("{\"a\":1}".into()), 0);
        assert!(Expr::compile(r#"body matches "^{""#)
            .unwrap()
            .eval_bool(&line)
            .unwrap());
    }

    #[test]
    fn unsupported_syntax_is_a_load_time_error() {
        for bad in [
            "len(body) > 3",
            "body +",
            "foo == 1",
            "body matches attributes.x",
            "'x",
        ] {
            assert!(Expr::compile(bad).is_err(), "{bad}");
        }
    }

    /// Too deep an expression is a load error, not a stack overflow; the deepest accepted one
    /// evaluates and drops within a runtime worker's stack (2 MiB) in this unoptimised build.
    #[test]
    fn nesting_past_the_limit_is_a_load_error_and_the_deepest_accepted_runs() {
        type Shape = (&'static str, fn(usize) -> String);
        let shapes: [Shape; 7] = [
            ("parentheses", |n| {
                format!("{}body{} == 'x'", "(".repeat(n), ")".repeat(n))
            }),
            ("lists", |n| {
                format!("body in {}'x'{}", "[".repeat(n), "]".repeat(n))
            }),
            ("not", |n| format!("{}true", "not ".repeat(n))),
            ("or", |n| format!("false{}", " or false".repeat(n))),
            ("and", |n| format!("true{}", " && true".repeat(n))),
            ("ternary", |n| {
                format!("{}'x'{}", "true ? ".repeat(n), " : 'y'".repeat(n))
            }),
            ("path keys", |n| {
                format!("{}'k'{} == nil", "attributes[".repeat(n), "]".repeat(n))
            }),
        ];
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let e = entry();
                for (shape, make) in shapes {
                    assert!(Expr::compile(&make(5)).is_ok(), "{shape}: 5 levels");
                    let deepest = (MAX_NESTING / 3..=MAX_NESTING)
                        .rev()
                        .find(|&n| Expr::compile(&make(n)).is_ok())
                        .unwrap_or_else(|| panic!("{shape}: nothing near the limit compiles"));
                    let expr = Expr::compile(&make(deepest)).expect("compiles");
                    let _ = expr.eval(&e);
                    drop(expr);
                    for n in [deepest + 1, 1_000, 100_000] {
                        let err = Expr::compile(&make(n)).unwrap_err();
                        assert!(
                            err.contains("nested more than 100 levels"),
                            "{shape} x{n}: {err}"
                        );
                    }
                }
            })
            .expect("spawn")
            .join()
            .expect("no overflow");
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::entry::Value;

    fn entry(body: &str) -> Entry {
        crate::entry::EntryData::new(Value::Str(body.into()), 1)
    }

    #[test]
    fn conditional_and_negated_operators_as_expr_lang() {
        let e = Expr::compile(r#"body matches "^level=" ? "key_value" : "other""#).unwrap();
        assert_eq!(
            e.eval(&entry("level=info x")).unwrap(),
            Some(Value::Str("key_value".into()))
        );
        assert_eq!(
            e.eval(&entry("plain")).unwrap(),
            Some(Value::Str("other".into()))
        );
        let nested = Expr::compile(r#"body == "a" ? 1 : body == "b" ? 2 : 3"#).unwrap();
        assert_eq!(nested.eval(&entry("b")).unwrap(), Some(Value::Int(2)));
        assert_eq!(nested.eval(&entry("z")).unwrap(), Some(Value::Int(3)));
        let not_matches = Expr::compile(r#"body not matches "^WARN:""#).unwrap();
        assert!(not_matches.eval_bool(&entry("INFO: x")).unwrap());
        assert!(!not_matches.eval_bool(&entry("WARN: x")).unwrap());
        let not_contains =
            Expr::compile(r#"body not contains "x" and body not startsWith "a""#).unwrap();
        assert!(not_contains.eval_bool(&entry("bcd")).unwrap());
        assert!(!not_contains.eval_bool(&entry("bxd")).unwrap());
        assert!(
            Expr::compile(r#"body ? 1"#).is_err(),
            "a conditional needs its `:`"
        );
    }
}
