//! The OTTL grammar (Go `pkg/ottl/grammar.go` and `lexer`): tokens, the syntax tree and a
//! recursive-descent parser. Errors carry the 1-based column of the offending token.

use std::fmt;

/// A parse problem at a column of the statement.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1:{}: {}", self.column, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Bytes(Vec<u8>),
    Float(f64),
    Int(i64),
    Str(String),
    Not,
    Or,
    And,
    Where,
    Nil,
    Bool(bool),
    Cmp(CmpOp),
    Plus,
    Minus,
    Star,
    Slash,
    Equal,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    Comma,
    Dot,
    Lower(String),
    Upper(String),
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Bytes(b) => write!(f, "0x{}", const_hex::encode(b)),
            Tok::Float(x) => write!(f, "{x}"),
            Tok::Int(x) => write!(f, "{x}"),
            Tok::Str(s) => write!(f, "{s:?}"),
            Tok::Not => f.write_str("not"),
            Tok::Or => f.write_str("or"),
            Tok::And => f.write_str("and"),
            Tok::Where => f.write_str("where"),
            Tok::Nil => f.write_str("nil"),
            Tok::Bool(b) => write!(f, "{b}"),
            Tok::Cmp(op) => f.write_str(op.as_str()),
            Tok::Plus => f.write_str("+"),
            Tok::Minus => f.write_str("-"),
            Tok::Star => f.write_str("*"),
            Tok::Slash => f.write_str("/"),
            Tok::Equal => f.write_str("="),
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::LBrace => f.write_str("{"),
            Tok::RBrace => f.write_str("}"),
            Tok::LBracket => f.write_str("["),
            Tok::RBracket => f.write_str("]"),
            Tok::Colon => f.write_str(":"),
            Tok::Comma => f.write_str(","),
            Tok::Dot => f.write_str("."),
            Tok::Lower(s) | Tok::Upper(s) => f.write_str(s),
            Tok::Eof => f.write_str("<EOF>"),
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// A key of a path or converter: `["a"]`, `[0]` or `[expression]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Str(String),
    Int(i64),
    Expr(Box<Value>),
}

/// One `.`-separated part of a path with its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub keys: Vec<Key>,
}

/// A path such as `resource.attributes["host.name"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub column: usize,
    pub fields: Vec<Field>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&field.name)?;
            for k in &field.keys {
                match k {
                    Key::Str(s) => write!(f, "[{s:?}]")?,
                    Key::Int(n) => write!(f, "[{n}]")?,
                    Key::Expr(_) => f.write_str("[...]")?,
                }
            }
        }
        Ok(())
    }
}

/// A function call: an editor (lower case) or a converter (upper case, may have keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub column: usize,
    pub name: String,
    pub args: Vec<Arg>,
    pub keys: Vec<Key>,
}

/// A call argument, positional or named (`name = value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The 1-based column where the argument (or its name) starts.
    pub column: usize,
    pub name: Option<String>,
    pub value: Value,
}

/// A value expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// An upper-case name not called: an enum symbol (or a function name as argument).
    Enum(String, usize),
    Path(Path),
    Converter(Call),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    Math(Box<Value>, MathOp, Box<Value>),
}

/// A boolean expression (`where` clause or condition).
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    Or(Vec<BoolExpr>),
    And(Vec<BoolExpr>),
    Not(Box<BoolExpr>),
    Compare(Value, CmpOp, Value),
    /// `true`/`false` or a converter returning a boolean.
    Const(Value),
}

/// `editor(args) where condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub editor: Call,
    pub condition: Option<BoolExpr>,
}

struct Lexed {
    tok: Tok,
    col: usize,
}

fn lex(src: &str) -> Result<Vec<Lexed>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out: Vec<Lexed> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let err = |m: String| ParseError {
            column: col,
            message: m,
        };
        // A sign belongs to a number when no value ends just before it.
        let prev_ends_value = matches!(
            out.last().map(|l| &l.tok),
            Some(
                Tok::Int(_)
                    | Tok::Float(_)
                    | Tok::Str(_)
                    | Tok::RParen
                    | Tok::RBracket
                    | Tok::RBrace
                    | Tok::Lower(_)
                    | Tok::Upper(_)
                    | Tok::Bool(_)
                    | Tok::Nil
                    | Tok::Bytes(_)
            )
        );
        let starts_number = c.is_ascii_digit()
            || (c == '.'
                && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
                && !prev_ends_value)
            || ((c == '-' || c == '+')
                && !prev_ends_value
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.'));
        if c == '0' && matches!(chars.get(i + 1), Some('x')) {
            let start = i + 2;
            let mut j = start;
            while j < chars.len() && chars[j].is_ascii_hexdigit() {
                j += 1;
            }
            let hex: String = chars[start..j].iter().collect();
            if hex.is_empty() || hex.len() % 2 == 1 {
                return Err(err(format!("invalid bytes literal \"0x{hex}\"")));
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap_or(0))
                .collect();
            out.push(Lexed {
                tok: Tok::Bytes(bytes),
                col,
            });
            i = j;
            continue;
        }
        if starts_number {
            let mut j = i;
            if chars[j] == '-' || chars[j] == '+' {
                j += 1;
            }
            let mut is_float = false;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if j < chars.len()
                && chars[j] == '.'
                && chars.get(j + 1).is_some_and(|d| d.is_ascii_digit())
            {
                is_float = true;
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if j < chars.len() && (chars[j] == 'e' || chars[j] == 'E') && is_float {
                let mut k = j + 1;
                if k < chars.len() && (chars[k] == '-' || chars[k] == '+') {
                    k += 1;
                }
                if k < chars.len() && chars[k].is_ascii_digit() {
                    while k < chars.len() && chars[k].is_ascii_digit() {
                        k += 1;
                    }
                    j = k;
                }
            }
            let text: String = chars[i..j].iter().collect();
            let tok = if is_float {
                Tok::Float(
                    text.parse()
                        .map_err(|_| err(format!("invalid float {text:?}")))?,
                )
            } else {
                Tok::Int(
                    text.parse()
                        .map_err(|_| err(format!("invalid int {text:?}")))?,
                )
            };
            out.push(Lexed { tok, col });
            i = j;
            continue;
        }
        if c == '"' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(err("unterminated string".into())),
                    Some('"') => break,
                    Some('\\') => {
                        match chars.get(j + 1) {
                            Some('"') => s.push('"'),
                            Some('\\') => s.push('\\'),
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            // Go keeps other escapes as written (regex escapes such as \d).
                            Some(o) => {
                                s.push('\\');
                                s.push(*o);
                            }
                            None => return Err(err("unterminated string".into())),
                        }
                        j += 2;
                    }
                    Some(o) => {
                        s.push(*o);
                        j += 1;
                    }
                }
            }
            out.push(Lexed {
                tok: Tok::Str(s),
                col,
            });
            i = j + 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            let tok = match word.as_str() {
                "not" => Tok::Not,
                "or" => Tok::Or,
                "and" => Tok::And,
                "where" => Tok::Where,
                "nil" => Tok::Nil,
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                _ if c.is_ascii_uppercase() => Tok::Upper(word),
                _ => Tok::Lower(word),
            };
            out.push(Lexed { tok, col });
            i = j;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let (tok, n) = match two.as_str() {
            "==" => (Tok::Cmp(CmpOp::Eq), 2),
            "!=" => (Tok::Cmp(CmpOp::Ne), 2),
            "<=" => (Tok::Cmp(CmpOp::Le), 2),
            ">=" => (Tok::Cmp(CmpOp::Ge), 2),
            _ => match c {
                '<' => (Tok::Cmp(CmpOp::Lt), 1),
                '>' => (Tok::Cmp(CmpOp::Gt), 1),
                '+' => (Tok::Plus, 1),
                '-' => (Tok::Minus, 1),
                '*' => (Tok::Star, 1),
                '/' => (Tok::Slash, 1),
                '=' => (Tok::Equal, 1),
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '{' => (Tok::LBrace, 1),
                '}' => (Tok::RBrace, 1),
                '[' => (Tok::LBracket, 1),
                ']' => (Tok::RBracket, 1),
                ':' => (Tok::Colon, 1),
                ',' => (Tok::Comma, 1),
                '.' => (Tok::Dot, 1),
                _ => {
                    return Err(err(format!(
                        "invalid input text {:?}",
                        chars[i..].iter().take(10).collect::<String>()
                    )))
                }
            },
        };
        out.push(Lexed { tok, col });
        i += n;
    }
    out.push(Lexed {
        tok: Tok::Eof,
        col: chars.len() + 1,
    });
    Ok(out)
}

/// Deepest nesting a statement may have: every value (a parenthesis, a list or map item, a
/// converter's argument, a path key), every `not` and boolean sub-expression, and every math
/// operator of a chain (each makes the tree one level deeper) counts one. The parser, the
/// evaluator and the tree's drop all recurse once per level, so this bounds their stack use;
/// real statements nest a handful of levels.
pub const MAX_NESTING: usize = 100;

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    /// Current nesting, checked against [`MAX_NESTING`].
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl Parser {
    fn new(src: &str) -> PResult<Parser> {
        Ok(Parser {
            toks: lex(src)?,
            pos: 0,
            depth: 0,
        })
    }
    /// One level deeper; refused past [`MAX_NESTING`]. Callers put `depth` back when done.
    fn deeper(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return Err(ParseError {
                column: self.col(),
                message: format!("expression nested more than {MAX_NESTING} levels deep"),
            });
        }
        self.depth += 1;
        Ok(())
    }
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }
    fn col(&self) -> usize {
        self.toks[self.pos].col
    }
    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn unexpected<T>(&self, expected: &str) -> PResult<T> {
        Err(ParseError {
            column: self.col(),
            message: format!("unexpected token \"{}\" (expected {expected})", self.peek()),
        })
    }
    fn expect(&mut self, t: Tok, what: &str) -> PResult<()> {
        if *self.peek() == t {
            self.bump();
            Ok(())
        } else {
            self.unexpected(what)
        }
    }

    fn statement(&mut self) -> PResult<Statement> {
        let col = self.col();
        let name = match self.peek().clone() {
            Tok::Lower(n) => {
                self.bump();
                n
            }
            _ => return self.unexpected("<lowercase> \"(\""),
        };
        let args = self.call_args()?;
        let editor = Call {
            column: col,
            name,
            args,
            keys: Vec::new(),
        };
        let condition = if *self.peek() == Tok::Where {
            self.bump();
            Some(self.bool_expr()?)
        } else {
            None
        };
        if *self.peek() != Tok::Eof {
            return self.unexpected("\"where\" or end of statement");
        }
        Ok(Statement { editor, condition })
    }

    fn call_args(&mut self) -> PResult<Vec<Arg>> {
        self.expect(Tok::LParen, "\"(\"")?;
        let mut args = Vec::new();
        if *self.peek() == Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            let column = self.col();
            let name = match (self.peek().clone(), self.peek_at(1)) {
                (Tok::Lower(n), Tok::Equal) => {
                    self.bump();
                    self.bump();
                    Some(n)
                }
                _ => None,
            };
            let value = self.value()?;
            args.push(Arg {
                column,
                name,
                value,
            });
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(args);
                }
                _ => return self.unexpected("\",\" or \")\""),
            }
        }
    }

    fn bool_expr(&mut self) -> PResult<BoolExpr> {
        let mut terms = vec![self.and_term()?];
        while *self.peek() == Tok::Or {
            self.bump();
            terms.push(self.and_term()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap_or(BoolExpr::Const(Value::Bool(false)))
        } else {
            BoolExpr::Or(terms)
        })
    }

    fn and_term(&mut self) -> PResult<BoolExpr> {
        let mut terms = vec![self.bool_value()?];
        while *self.peek() == Tok::And {
            self.bump();
            terms.push(self.bool_value()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap_or(BoolExpr::Const(Value::Bool(false)))
        } else {
            BoolExpr::And(terms)
        })
    }

    fn bool_value(&mut self) -> PResult<BoolExpr> {
        let base = self.depth;
        let r = self.deeper().and_then(|()| self.bool_value_here());
        self.depth = base;
        r
    }

    fn bool_value_here(&mut self) -> PResult<BoolExpr> {
        if *self.peek() == Tok::Not {
            self.bump();
            return Ok(BoolExpr::Not(Box::new(self.bool_value()?)));
        }
        if *self.peek() == Tok::LParen {
            // A sub-expression, unless it is a parenthesised math operand of a comparison.
            let (save, save_depth) = (self.pos, self.depth);
            self.bump();
            if let Ok(e) = self.bool_expr() {
                if *self.peek() == Tok::RParen {
                    self.bump();
                    if !matches!(
                        self.peek(),
                        Tok::Cmp(_) | Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash
                    ) {
                        return Ok(e);
                    }
                }
            }
            self.pos = save;
            self.depth = save_depth;
        }
        let col = self.col();
        let left = self.value()?;
        if let Tok::Cmp(op) = *self.peek() {
            self.bump();
            let right = self.value()?;
            return Ok(BoolExpr::Compare(left, op, right));
        }
        match left {
            Value::Bool(_) | Value::Converter(_) => Ok(BoolExpr::Const(left)),
            _ => Err(ParseError {
                column: col,
                message: "expected a comparison, a boolean or a converter".into(),
            }),
        }
    }

    fn value(&mut self) -> PResult<Value> {
        let base = self.depth;
        let r = self.deeper().and_then(|()| self.sum());
        self.depth = base;
        r
    }

    /// `a + b - c`: each operator nests the tree built so far one level deeper.
    fn sum(&mut self) -> PResult<Value> {
        let first = self.mult_term()?;
        let mut acc = first;
        loop {
            let op = match self.peek() {
                Tok::Plus => MathOp::Add,
                Tok::Minus => MathOp::Sub,
                // `x -1` lexes the sign into the number: read it as a subtraction.
                Tok::Int(n) if *n < 0 && is_math_operand(&acc) => {
                    let n = *n;
                    self.deeper()?;
                    self.bump();
                    acc = Value::Math(Box::new(acc), MathOp::Sub, Box::new(Value::Int(-n)));
                    continue;
                }
                _ => return Ok(acc),
            };
            self.deeper()?;
            self.bump();
            let rhs = self.mult_term()?;
            acc = Value::Math(Box::new(acc), op, Box::new(rhs));
        }
    }

    fn mult_term(&mut self) -> PResult<Value> {
        let base = self.depth;
        let mut acc = self.primary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => MathOp::Mul,
                Tok::Slash => MathOp::Div,
                _ => {
                    self.depth = base;
                    return Ok(acc);
                }
            };
            self.deeper()?;
            self.bump();
            let rhs = self.primary()?;
            acc = Value::Math(Box::new(acc), op, Box::new(rhs));
        }
    }

    fn primary(&mut self) -> PResult<Value> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Nil => {
                self.bump();
                Ok(Value::Nil)
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Value::Str(s))
            }
            Tok::Int(n) => {
                self.bump();
                Ok(Value::Int(n))
            }
            Tok::Float(x) => {
                self.bump();
                Ok(Value::Float(x))
            }
            Tok::Bool(b) => {
                self.bump();
                Ok(Value::Bool(b))
            }
            Tok::Bytes(b) => {
                self.bump();
                Ok(Value::Bytes(b))
            }
            Tok::LParen => {
                self.bump();
                let v = self.value()?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(v)
            }
            Tok::LBracket => {
                self.bump();
                let mut items = Vec::new();
                if *self.peek() == Tok::RBracket {
                    self.bump();
                    return Ok(Value::List(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.bump() {
                        Tok::Comma => {}
                        Tok::RBracket => return Ok(Value::List(items)),
                        _ => {
                            self.pos -= 1;
                            return self.unexpected("\",\" or \"]\"");
                        }
                    }
                }
            }
            Tok::LBrace => {
                self.bump();
                let mut items = Vec::new();
                if *self.peek() == Tok::RBrace {
                    self.bump();
                    return Ok(Value::Map(items));
                }
                loop {
                    let k = match self.bump() {
                        Tok::Str(s) => s,
                        _ => {
                            self.pos -= 1;
                            return self.unexpected("a string map key");
                        }
                    };
                    self.expect(Tok::Colon, "\":\"")?;
                    items.push((k, self.value()?));
                    match self.bump() {
                        Tok::Comma => {}
                        Tok::RBrace => return Ok(Value::Map(items)),
                        _ => {
                            self.pos -= 1;
                            return self.unexpected("\",\" or \"}\"");
                        }
                    }
                }
            }
            Tok::Upper(name) => {
                self.bump();
                if *self.peek() == Tok::LParen {
                    let args = self.call_args()?;
                    let keys = self.keys()?;
                    Ok(Value::Converter(Call {
                        column: col,
                        name,
                        args,
                        keys,
                    }))
                } else {
                    Ok(Value::Enum(name, col))
                }
            }
            Tok::Lower(_) => {
                if *self.peek_at(1) == Tok::LParen {
                    return Err(ParseError {
                        column: col,
                        message: "editors cannot be used as values; converters start with an upper-case letter".into(),
                    });
                }
                let mut fields = Vec::new();
                loop {
                    let name = match self.bump() {
                        Tok::Lower(n) => n,
                        _ => {
                            self.pos -= 1;
                            return self.unexpected("a path field");
                        }
                    };
                    let keys = self.keys()?;
                    fields.push(Field { name, keys });
                    if *self.peek() == Tok::Dot {
                        self.bump();
                    } else {
                        break;
                    }
                }
                Ok(Value::Path(Path {
                    column: col,
                    fields,
                }))
            }
            _ => self.unexpected("a value"),
        }
    }

    fn keys(&mut self) -> PResult<Vec<Key>> {
        let mut keys = Vec::new();
        while *self.peek() == Tok::LBracket {
            self.bump();
            let k = match self.peek().clone() {
                Tok::Str(s) if *self.peek_at(1) == Tok::RBracket => {
                    self.bump();
                    Key::Str(s)
                }
                Tok::Int(n) if *self.peek_at(1) == Tok::RBracket => {
                    self.bump();
                    Key::Int(n)
                }
                _ => Key::Expr(Box::new(self.value()?)),
            };
            self.expect(Tok::RBracket, "\"]\"")?;
            keys.push(k);
        }
        Ok(keys)
    }
}

fn is_math_operand(v: &Value) -> bool {
    matches!(
        v,
        Value::Int(_) | Value::Float(_) | Value::Path(_) | Value::Converter(_) | Value::Math(..)
    )
}

/// Parse one statement: `editor(args) where condition`.
pub fn parse_statement(src: &str) -> Result<Statement, ParseError> {
    Parser::new(src)?.statement()
}

/// Parse one condition (a boolean expression).
pub fn parse_condition(src: &str) -> Result<BoolExpr, ParseError> {
    let mut p = Parser::new(src)?;
    let e = p.bool_expr()?;
    if *p.peek() != Tok::Eof {
        return p.unexpected("\"and\", \"or\" or end of condition");
    }
    Ok(e)
}

/// Parse one value expression (a converter, a path, a literal...).
pub fn parse_value(src: &str) -> Result<Value, ParseError> {
    let mut p = Parser::new(src)?;
    let v = p.value()?;
    if *p.peek() != Tok::Eof {
        return p.unexpected("end of expression");
    }
    Ok(v)
}

/// Every path of a value, keys included.
pub fn value_paths<'a>(v: &'a Value, out: &mut Vec<&'a Path>) {
    match v {
        Value::Path(p) => {
            out.push(p);
            for f in &p.fields {
                keys_paths(&f.keys, out);
            }
        }
        Value::Converter(c) => call_paths(c, out),
        Value::List(items) => items.iter().for_each(|i| value_paths(i, out)),
        Value::Map(items) => items.iter().for_each(|(_, i)| value_paths(i, out)),
        Value::Math(a, _, b) => {
            value_paths(a, out);
            value_paths(b, out);
        }
        _ => {}
    }
}

fn keys_paths<'a>(keys: &'a [Key], out: &mut Vec<&'a Path>) {
    for k in keys {
        if let Key::Expr(e) = k {
            value_paths(e, out);
        }
    }
}

/// Every path of a call's arguments and keys.
pub fn call_paths<'a>(c: &'a Call, out: &mut Vec<&'a Path>) {
    for a in &c.args {
        value_paths(&a.value, out);
    }
    keys_paths(&c.keys, out);
}

/// Every path of a boolean expression.
pub fn bool_paths<'a>(e: &'a BoolExpr, out: &mut Vec<&'a Path>) {
    match e {
        BoolExpr::Or(v) | BoolExpr::And(v) => v.iter().for_each(|e| bool_paths(e, out)),
        BoolExpr::Not(e) => bool_paths(e, out),
        BoolExpr::Compare(a, _, b) => {
            value_paths(a, out);
            value_paths(b, out);
        }
        BoolExpr::Const(v) => value_paths(v, out),
    }
}

/// Every path of a statement.
pub fn statement_paths(s: &Statement) -> Vec<&Path> {
    let mut out = Vec::new();
    call_paths(&s.editor, &mut out);
    if let Some(c) = &s.condition {
        bool_paths(c, &mut out);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn parses_a_statement_with_a_where_clause() {
        let s = parse_statement(r#"set(attributes["a"]["b"][0], Concat([name, "x"], "-")) where kind == SPAN_KIND_SERVER and not IsMatch(name, "^h.*")"#).unwrap();
        assert_eq!(s.editor.name, "set");
        assert_eq!(s.editor.args.len(), 2);
        let Value::Path(p) = &s.editor.args[0].value else {
            panic!()
        };
        assert_eq!(
            p.fields[0].keys,
            vec![Key::Str("a".into()), Key::Str("b".into()), Key::Int(0)]
        );
        let Some(BoolExpr::And(terms)) = &s.condition else {
            panic!("{:?}", s.condition)
        };
        assert!(
            matches!(terms[0], BoolExpr::Compare(_, CmpOp::Eq, Value::Enum(ref e, _)) if e == "SPAN_KIND_SERVER")
        );
        assert!(matches!(terms[1], BoolExpr::Not(_)));
    }

    #[test]
    fn literals() {
        assert_eq!(
            parse_value("0xa1ff").unwrap(),
            Value::Bytes(vec![0xa1, 0xff])
        );
        assert_eq!(parse_value("-1.5").unwrap(), Value::Float(-1.5));
        assert_eq!(parse_value("-12").unwrap(), Value::Int(-12));
        assert_eq!(parse_value("nil").unwrap(), Value::Nil);
        assert_eq!(parse_value(r#""a\"b""#).unwrap(), Value::Str("a\"b".into()));
        assert_eq!(
            parse_value(r#"{"a": 1, "b": [true]}"#).unwrap(),
            Value::Map(vec![
                ("a".into(), Value::Int(1)),
                ("b".into(), Value::List(vec![Value::Bool(true)]))
            ])
        );
    }

    #[test]
    fn math_precedence() {
        let v = parse_value("1 + 2 * 3").unwrap();
        assert_eq!(
            v,
            Value::Math(
                Box::new(Value::Int(1)),
                MathOp::Add,
                Box::new(Value::Math(
                    Box::new(Value::Int(2)),
                    MathOp::Mul,
                    Box::new(Value::Int(3))
                ))
            )
        );
        let v = parse_value("end_time_unix_nano -1").unwrap();
        assert!(matches!(v, Value::Math(_, MathOp::Sub, _)));
    }

    #[test]
    fn named_arguments_and_converter_keys() {
        let s =
            parse_statement(r#"set(body, Split(body, ",")[1]) where ParseJSON(body)["a"] == nil"#)
                .unwrap();
        let Value::Converter(c) = &s.editor.args[1].value else {
            panic!()
        };
        assert_eq!(c.keys, vec![Key::Int(1)]);
        let s = parse_statement(r#"flatten(attributes, depth=2, prefix="p")"#).unwrap();
        assert_eq!(s.editor.args[1].name.as_deref(), Some("depth"));
    }

    #[test]
    fn errors_have_columns() {
        let e = parse_statement("set(name, ").unwrap_err();
        assert_eq!(e.column, 11, "{e}");
        let e = parse_statement("set(name \"x\")").unwrap_err();
        assert_eq!(e.column, 10, "{e}");
        let e = parse_condition("name == ").unwrap_err();
        assert_eq!(e.column, 9);
        let e = parse_statement("Set(name, 1)").unwrap_err();
        assert_eq!(e.column, 1);
        let e = parse_condition("name").unwrap_err();
        assert!(e.message.contains("comparison"), "{e}");
        assert!(parse_statement("set(name, \"x\") where").is_err());
        assert!(parse_statement("set(name, \"unterminated)").is_err());
    }

    /// A named statement maker: `n` levels of one kind of nesting.
    pub(crate) type Shape = (&'static str, fn(usize) -> String);

    /// Each shape nests one level per `n`; the parser refuses too deep a statement with an
    /// error at the column where the limit is passed, instead of running out of stack.
    pub(crate) fn nested_shapes() -> Vec<Shape> {
        vec![
            ("parentheses", |n| {
                format!(
                    "set(attributes[\"a\"], {}1{})",
                    "(".repeat(n),
                    ")".repeat(n)
                )
            }),
            ("lists", |n| {
                format!(
                    "set(attributes[\"a\"], {}1{})",
                    "[".repeat(n),
                    "]".repeat(n)
                )
            }),
            ("maps", |n| {
                format!(
                    "set(attributes[\"a\"], {}1{})",
                    "{\"k\": ".repeat(n),
                    "}".repeat(n)
                )
            }),
            ("converters", |n| {
                format!(
                    "set(attributes[\"a\"], {}\"x\"{})",
                    "String(".repeat(n),
                    ")".repeat(n)
                )
            }),
            ("path keys", |n| {
                format!(
                    "set(attributes[\"a\"], {}\"k\"{})",
                    "attributes[".repeat(n),
                    "]".repeat(n)
                )
            }),
            ("additions", |n| {
                format!("set(attributes[\"a\"], 1{})", " + 1".repeat(n))
            }),
            ("multiplications", |n| {
                format!("set(attributes[\"a\"], 1{})", " * 2".repeat(n))
            }),
            ("negative literals", |n| {
                format!("set(attributes[\"a\"], 1{})", " -1".repeat(n))
            }),
            ("not", |n| {
                format!("set(attributes[\"a\"], 1) where {}true", "not ".repeat(n))
            }),
            ("sub-conditions", |n| {
                format!(
                    "set(attributes[\"a\"], 1) where {}name == \"x\"{}",
                    "(".repeat(n),
                    ")".repeat(n)
                )
            }),
            ("compared parentheses", |n| {
                format!(
                    "set(attributes[\"a\"], 1) where {}1{} == 1",
                    "(".repeat(n),
                    ")".repeat(n)
                )
            }),
        ]
    }

    #[test]
    fn nesting_past_the_limit_is_a_parse_error_not_a_stack_overflow() {
        for (shape, make) in nested_shapes() {
            assert!(parse_statement(&make(10)).is_ok(), "{shape}: 10 levels");
            // The deepest accepted: the limit counts the argument itself, and the where
            // clause's first level, so the exact `n` depends on the shape.
            let deepest = (MAX_NESTING - 3..=MAX_NESTING)
                .rev()
                .find(|&n| parse_statement(&make(n)).is_ok())
                .unwrap_or_else(|| panic!("{shape}: nothing near the limit parses"));
            let e = parse_statement(&make(deepest + 1)).unwrap_err();
            assert!(e.message.contains("nested more than 100"), "{shape}: {e}");
            let text = make(deepest + 1);
            assert!(e.column > 1 && e.column <= text.len(), "{shape}: {e}");
            for n in [1_000, 100_000] {
                let e = parse_statement(&make(n)).unwrap_err();
                assert!(
                    e.message.contains("nested more than 100"),
                    "{shape} x{n}: {e}"
                );
            }
        }
        let deep = format!("{}1{} == 1", "(".repeat(5_000), ")".repeat(5_000));
        assert!(parse_condition(&deep)
            .unwrap_err()
            .message
            .contains("nested"));
        assert!(parse_value(&"[".repeat(50_000))
            .unwrap_err()
            .message
            .contains("nested"));
    }

    #[test]
    fn sub_expressions() {
        let e = parse_condition(r#"(name == "a" or name == "b") and kind == 2"#).unwrap();
        assert!(matches!(e, BoolExpr::And(ref t) if matches!(t[0], BoolExpr::Or(_))));
        let e = parse_condition("(1 + 2) == 3").unwrap();
        assert!(matches!(
            e,
            BoolExpr::Compare(Value::Math(..), CmpOp::Eq, Value::Int(3))
        ));
    }
}
