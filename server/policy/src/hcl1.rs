//! A parser for HCL version 1, the configuration language Vault and OpenBao
//! use for policies (`github.com/hashicorp/hcl` v1, not HCL2).
//!
//! HCL1 differs from HCL2 in ways that matter for policies: several
//! attributes may share one line (`path "a" { capabilities = ["read"] policy = "read" }`),
//! `${...}` inside strings is plain text, quoted keys may appear in blocks
//! (`allowed_parameters { "*" = [] }`) and blocks may take several keys.
//! This module reproduces the v1 scanner and parser closely enough that the
//! same texts are accepted and rejected, and produces the same item
//! structure the Go decoder works on. JSON input (text starting with `{`)
//! goes through a port of HCL1's JSON parser, which is far more lenient
//! than JSON (it stops after the first object, tolerates missing closing
//! braces and commas, skips booleans in lists), and is flattened the same
//! way.

use std::fmt;

/// Deepest nesting of lists/objects accepted (Go grows its stack; we refuse
/// pathological input instead of overflowing ours).
const MAX_DEPTH: usize = 200;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    /// A quoted string or heredoc, already unquoted.
    Str(String),
    /// An integer token, kept as written (HCL decodes it lazily).
    Number(String),
    /// A float token, kept as written.
    Float(String),
    Bool(bool),
}

/// A value node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Lit(Lit),
    List(Vec<Node>),
    Object(Vec<Item>),
}

impl Node {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Lit(_) => "*ast.LiteralType",
            Node::List(_) => "*ast.ListType",
            Node::Object(_) => "*ast.ObjectType",
        }
    }
}

/// One key of an object item (`path "secret/*" {}` has keys `path` and `secret/*`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) text: String,
}

/// An object item: keys followed by `= value` or `{ ... }`. `line` is the
/// line of the `=` (0 for blocks), as HCL1 reports it in key errors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub(crate) keys: Vec<Key>,
    pub(crate) val: Node,
    pub(crate) line: usize,
}

/// A syntax error with a 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) msg: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.msg)
        } else {
            write!(f, "At {}:{}: {}", self.line, self.col, self.msg)
        }
    }
}

/// Items whose first key equals `key` (HCL's `ObjectList.Filter`), with that
/// key stripped.
pub(crate) fn filter<'a>(items: &'a [Item], key: &str) -> Vec<(&'a [Key], &'a Item)> {
    items
        .iter()
        .filter(|it| {
            it.keys
                .first()
                .is_some_and(|k| k.text == key || k.text.eq_ignore_ascii_case(key))
        })
        .map(|it| (it.keys.get(1..).unwrap_or(&[]), it))
        .collect()
}

/// Parses policy text: JSON when it starts with `{` (after whitespace),
/// HCL1 otherwise. Returns the root object's items.
pub(crate) fn parse(src: &str) -> Result<Vec<Item>, SyntaxError> {
    if src.trim_start().starts_with('{') {
        parse_json(src)
    } else {
        let normalized = src.replace("\r\n", "\n");
        let mut p = Parser::new(&normalized);
        p.object_list(false, 0)
    }
}

// ---------------------------------------------------------------------------
// Scanner

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Bool(bool),
    Number(String),
    Float(String),
    Str(String),
    Heredoc(String),
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    Comma,
    Assign,
    Add,
    Sub,
    Period,
    Eof,
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::Ident(_) => "IDENT",
            Tok::Bool(_) => "BOOL",
            Tok::Number(_) => "NUMBER",
            Tok::Float(_) => "FLOAT",
            Tok::Str(_) => "STRING",
            Tok::Heredoc(_) => "HEREDOC",
            Tok::LBrack => "LBRACK",
            Tok::RBrack => "RBRACK",
            Tok::LBrace => "LBRACE",
            Tok::RBrace => "RBRACE",
            Tok::Comma => "COMMA",
            Tok::Assign => "ASSIGN",
            Tok::Add => "ADD",
            Tok::Sub => "SUB",
            Tok::Period => "PERIOD",
            Tok::Eof => "EOF",
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

struct Scanner<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    line: usize,
    col: usize,
}

fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (c as u32 >= 0x80 && c.is_alphabetic())
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (c as u32 >= 0x80 && c.is_numeric())
}

impl<'a> Scanner<'a> {
    fn new(src: &'a str) -> Self {
        Scanner {
            src,
            chars: src.char_indices().collect(),
            pos: 0,
            line: 1,
            col: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn offset(&self) -> usize {
        self.chars
            .get(self.pos)
            .map_or(self.src.len(), |&(off, _)| off)
    }

    fn err(&self, msg: &str) -> SyntaxError {
        SyntaxError {
            line: self.line,
            col: self.col.max(1),
            msg: msg.to_string(),
        }
    }

    fn next(&mut self) -> Result<Option<char>, SyntaxError> {
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += 1;
        }
        if c == '\0' {
            return Err(self.err("unexpected null character (0x00)"));
        }
        if c == '\u{E123}' {
            return Err(self.err("unicode code point U+E123 reserved for internal use"));
        }
        Ok(Some(c))
    }

    fn scan(&mut self) -> Result<Token, SyntaxError> {
        loop {
            // Skip whitespace.
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                self.next()?;
            }
            let line = self.line;
            let col = self.col + 1;
            let Some(c) = self.next()? else {
                return Ok(Token {
                    tok: Tok::Eof,
                    line,
                    col,
                });
            };
            let tok = if is_letter(c) {
                let start = self.pos - 1;
                while let Some(n) = self.peek() {
                    if is_letter(n) || is_digit(n) || n == '-' || n == '.' {
                        self.next()?;
                    } else {
                        break;
                    }
                }
                let text: String = self.chars[start..self.pos]
                    .iter()
                    .map(|&(_, c)| c)
                    .collect();
                match text.as_str() {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    _ => Tok::Ident(text),
                }
            } else if c.is_ascii_digit() {
                self.scan_number(c, String::new())?
            } else {
                match c {
                    '"' => Tok::Str(self.scan_string()?),
                    '#' => {
                        self.skip_line();
                        continue;
                    }
                    '/' => {
                        match self.peek() {
                            Some('/') => self.skip_line(),
                            Some('*') => {
                                self.next()?;
                                self.skip_block_comment()?;
                            }
                            _ => return Err(self.err("expected '/' for comment")),
                        }
                        continue;
                    }
                    '.' => {
                        if self.peek().is_some_and(|n| n.is_ascii_digit()) {
                            let mut text = String::from(".");
                            self.digits(&mut text)?;
                            self.exponent(&mut text)?;
                            Tok::Float(text)
                        } else {
                            Tok::Period
                        }
                    }
                    '<' => Tok::Heredoc(self.scan_heredoc()?),
                    '[' => Tok::LBrack,
                    ']' => Tok::RBrack,
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    ',' => Tok::Comma,
                    '=' => Tok::Assign,
                    '+' => Tok::Add,
                    '-' => {
                        if let Some(d) = self.peek().filter(|n| n.is_ascii_digit()) {
                            self.next()?;
                            self.scan_number(d, String::from("-"))?
                        } else {
                            Tok::Sub
                        }
                    }
                    _ => return Err(self.err("illegal char")),
                }
            };
            return Ok(Token { tok, line, col });
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += 1;
            self.col += 1;
        }
    }

    fn skip_block_comment(&mut self) -> Result<(), SyntaxError> {
        let mut prev = None;
        loop {
            let Some(c) = self.next()? else {
                return Err(self.err("comment not terminated"));
            };
            if prev == Some('*') && c == '/' {
                return Ok(());
            }
            prev = Some(c);
        }
    }

    fn digits(&mut self, text: &mut String) -> Result<(), SyntaxError> {
        while let Some(d) = self.peek().filter(|n| n.is_ascii_digit()) {
            self.next()?;
            text.push(d);
        }
        Ok(())
    }

    fn exponent(&mut self, text: &mut String) -> Result<(), SyntaxError> {
        if let Some(e) = self.peek().filter(|&n| n == 'e' || n == 'E') {
            self.next()?;
            text.push(e);
            if let Some(s) = self.peek().filter(|&n| n == '+' || n == '-') {
                self.next()?;
                text.push(s);
            }
            self.digits(text)?;
        }
        Ok(())
    }

    fn scan_number(&mut self, first: char, mut text: String) -> Result<Tok, SyntaxError> {
        text.push(first);
        if first == '0' {
            if let Some(x) = self.peek().filter(|&n| n == 'x' || n == 'X') {
                self.next()?;
                text.push(x);
                let mut found = false;
                while let Some(h) = self.peek().filter(|n| n.is_ascii_hexdigit()) {
                    self.next()?;
                    text.push(h);
                    found = true;
                }
                if !found {
                    return Err(self.err("illegal hexadecimal number"));
                }
                return Ok(Tok::Number(text));
            }
            let mut illegal_octal = false;
            while let Some(d) = self.peek().filter(|n| n.is_ascii_digit()) {
                self.next()?;
                text.push(d);
                if d == '8' || d == '9' {
                    illegal_octal = true;
                }
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                self.exponent(&mut text)?;
                return Ok(Tok::Float(text));
            }
            if self.peek() == Some('.') {
                self.next()?;
                text.push('.');
                self.digits(&mut text)?;
                self.exponent(&mut text)?;
                return Ok(Tok::Float(text));
            }
            if illegal_octal {
                return Err(self.err("illegal octal number"));
            }
            return Ok(Tok::Number(text));
        }
        self.digits(&mut text)?;
        if matches!(self.peek(), Some('e' | 'E')) {
            self.exponent(&mut text)?;
            return Ok(Tok::Float(text));
        }
        if self.peek() == Some('.') {
            self.next()?;
            text.push('.');
            self.digits(&mut text)?;
            self.exponent(&mut text)?;
            return Ok(Tok::Float(text));
        }
        Ok(Tok::Number(text))
    }

    /// Scans a quoted string (opening quote consumed) and returns its value,
    /// unquoted the way HCL1's `strconv.Unquote` does: escapes are decoded
    /// except inside `${...}`, which is copied verbatim.
    fn scan_string(&mut self) -> Result<String, SyntaxError> {
        let mut out = String::new();
        let mut braces = 0usize;
        loop {
            let Some(c) = self.next()? else {
                return Err(self.err("literal not terminated"));
            };
            if c == '\n' && braces == 0 {
                return Err(self.err("literal not terminated"));
            }
            if c == '"' && braces == 0 {
                return Ok(out);
            }
            if braces == 0 && c == '$' && self.peek() == Some('{') {
                self.next()?;
                braces = 1;
                out.push_str("${");
                continue;
            }
            if braces > 0 {
                if c == '{' {
                    braces += 1;
                } else if c == '}' {
                    braces -= 1;
                }
                out.push(c);
                if c == '\\' {
                    // The scanner still validates escapes inside ${}.
                    let start = self.pos;
                    self.scan_escape()?;
                    out.extend(self.chars[start..self.pos].iter().map(|&(_, c)| c));
                }
                continue;
            }
            if c == '\\' {
                let ch = self.scan_escape()?;
                out.push(ch);
                continue;
            }
            out.push(c);
        }
    }

    fn scan_escape(&mut self) -> Result<char, SyntaxError> {
        let Some(c) = self.next()? else {
            return Err(self.err("illegal char escape"));
        };
        let simple = match c {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        let (radix, count, mut value) = match c {
            '0'..='7' => (8, 2, c.to_digit(8).unwrap_or(0)),
            'x' => (16, 2, 0),
            'u' => (16, 4, 0),
            'U' => (16, 8, 0),
            _ => return Err(self.err("illegal char escape")),
        };
        for _ in 0..count {
            match self.peek().and_then(|d| d.to_digit(radix)) {
                Some(d) => {
                    self.next()?;
                    value = value.saturating_mul(radix).saturating_add(d);
                }
                None => return Err(self.err("illegal char escape")),
            }
        }
        if matches!(c, '0'..='7' | 'x') && value >= 0x80 {
            // Go would emit a raw (non-UTF-8) byte here; Rust strings cannot
            // hold one, so such escapes are refused.
            if value > 255 {
                return Err(self.err("illegal char escape"));
            }
            return Err(self.err("escape produces a non-UTF-8 byte"));
        }
        char::from_u32(value).ok_or_else(|| self.err("invalid syntax"))
    }

    /// Scans a heredoc (first '<' consumed) and returns its value as HCL1's
    /// `unindentHeredoc` computes it.
    fn scan_heredoc(&mut self) -> Result<String, SyntaxError> {
        let start = self.offset().saturating_sub(1);
        if self.next()? != Some('<') {
            return Err(self.err("heredoc expected second '<', didn't see it"));
        }
        let anchor_start = self.offset();
        let mut c = self.next()?;
        if c == Some('-') {
            c = self.next()?;
        }
        while c.is_some_and(|ch| is_letter(ch) || is_digit(ch)) {
            c = self.next()?;
        }
        let Some(mut ch) = c else {
            return Err(self.err("heredoc not terminated"));
        };
        if ch == '\r' && self.peek() == Some('\n') {
            ch = '\n';
            self.next()?;
        }
        if ch != '\n' {
            return Err(self.err("invalid characters in heredoc anchor"));
        }
        let anchor_end = self.offset() - 1;
        let ident = self.src.get(anchor_start..anchor_end).unwrap_or("");
        let ident = ident.strip_suffix('\r').unwrap_or(ident);
        if ident.is_empty() || ident == "-" {
            return Err(self.err("zero-length heredoc anchor"));
        }
        let anchor = ident.strip_prefix('-').unwrap_or(ident);
        let mut line_start = self.offset();
        loop {
            let Some(ch) = self.next()? else {
                return Err(self.err("heredoc not terminated"));
            };
            if ch == '\n' {
                let line_end = self.offset() - 1;
                let line = self.src.get(line_start..line_end).unwrap_or("");
                let trimmed = line.trim_start().trim_end_matches('\r');
                if line.len() >= ident.len() && trimmed == anchor {
                    break;
                }
                line_start = self.offset();
            }
        }
        let text = self.src.get(start..self.offset()).unwrap_or("");
        unindent_heredoc(text).ok_or_else(|| self.err("heredoc not terminated"))
    }
}

/// HCL1's `unindentHeredoc`, including its slicing quirks.
fn unindent_heredoc(heredoc: &str) -> Option<String> {
    let b = heredoc.as_bytes();
    let idx = heredoc.find('\n')?;
    let unindent = b.get(2) == Some(&b'-');
    if !unindent {
        let end = (b.len() + 1).checked_sub(idx)?;
        return heredoc.get(idx + 1..end.max(idx + 1)).map(str::to_string);
    }
    let end = (b.len() + 2).checked_sub(idx)?;
    let body = heredoc.get(idx + 1..end.max(idx + 1))?;
    let lines: Vec<&str> = body.split('\n').collect();
    let prefix = lines.last().copied().unwrap_or("");
    if !lines.iter().all(|l| l.starts_with(prefix)) {
        let end = (b.len() + 1).checked_sub(idx)?;
        let s = heredoc.get(idx + 1..end.max(idx + 1))?;
        return Some(s.trim_end_matches([' ', '\t']).to_string());
    }
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for (k, l) in lines.iter().enumerate() {
        if k + 1 == lines.len() {
            out.push("");
            break;
        }
        out.push(l.strip_prefix(prefix).unwrap_or(l));
    }
    Some(out.join("\n"))
}

// ---------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    sc: Scanner<'a>,
    buffered: Option<Token>,
}

/// What `object_item` found.
enum ItemResult {
    Item(Item),
    /// End of input (possibly after a dangling `key =`, which HCL1 ignores).
    Eof,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            sc: Scanner::new(src),
            buffered: None,
        }
    }

    fn scan(&mut self) -> Result<Token, SyntaxError> {
        match self.buffered.take() {
            Some(t) => Ok(t),
            None => self.sc.scan(),
        }
    }

    fn unscan(&mut self, t: Token) {
        self.buffered = Some(t);
    }

    fn error_at(t: &Token, msg: String) -> SyntaxError {
        SyntaxError {
            line: t.line,
            col: t.col,
            msg,
        }
    }

    fn object_list(&mut self, in_object: bool, depth: usize) -> Result<Vec<Item>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            if in_object {
                let t = self.scan()?;
                let is_rbrace = t.tok == Tok::RBrace;
                self.unscan(t);
                if is_rbrace {
                    break;
                }
            }
            match self.object_item(depth)? {
                ItemResult::Eof => break,
                ItemResult::Item(item) => items.push(item),
            }
            let t = self.scan()?;
            if t.tok != Tok::Comma {
                self.unscan(t);
            }
        }
        Ok(items)
    }

    fn object_item(&mut self, depth: usize) -> Result<ItemResult, SyntaxError> {
        let mut keys: Vec<Key> = Vec::new();
        let terminator = loop {
            let t = self.scan()?;
            match &t.tok {
                Tok::Eof => {
                    if keys.is_empty() {
                        return Ok(ItemResult::Eof);
                    }
                    break t;
                }
                Tok::Assign => {
                    if keys.len() > 1 {
                        return Err(Self::error_at(
                            &t,
                            "nested object expected: LBRACE got: ASSIGN".to_string(),
                        ));
                    }
                    if keys.is_empty() {
                        return Err(Self::error_at(&t, "no object keys found!".to_string()));
                    }
                    break t;
                }
                Tok::LBrace => {
                    if keys.is_empty() {
                        return Err(Self::error_at(
                            &t,
                            "expected: IDENT | STRING got: LBRACE".to_string(),
                        ));
                    }
                    break t;
                }
                Tok::Ident(s) | Tok::Str(s) => keys.push(Key { text: s.clone() }),
                other => {
                    return Err(Self::error_at(
                        &t,
                        format!(
                            "expected: IDENT | STRING | ASSIGN | LBRACE got: {}",
                            other.name()
                        ),
                    ));
                }
            }
        };
        // Like HCL1's `item.Assign.Line`: the line of `=`, or 0 for blocks.
        let line = if terminator.tok == Tok::Assign {
            terminator.line
        } else {
            0
        };
        let val = match terminator.tok {
            Tok::Assign => match self.value(depth)? {
                Some(v) => v,
                None => return Ok(ItemResult::Eof),
            },
            Tok::LBrace => Node::Object(self.object_type(depth + 1)?),
            _ => {
                let names: Vec<&str> = keys.iter().map(|k| k.text.as_str()).collect();
                return Err(Self::error_at(
                    &terminator,
                    format!(
                        "key '{}' expected start of object ('{{') or assignment ('=')",
                        names.join(" ")
                    ),
                ));
            }
        };
        Ok(ItemResult::Item(Item { keys, val, line }))
    }

    /// Parses a value after `=`. `None` means end of input.
    fn value(&mut self, depth: usize) -> Result<Option<Node>, SyntaxError> {
        let t = self.scan()?;
        let node = match t.tok {
            Tok::Number(s) => Node::Lit(Lit::Number(s)),
            Tok::Float(s) => Node::Lit(Lit::Float(s)),
            Tok::Bool(b) => Node::Lit(Lit::Bool(b)),
            Tok::Str(s) | Tok::Heredoc(s) => Node::Lit(Lit::Str(s)),
            Tok::LBrace => Node::Object(self.object_type(depth + 1)?),
            Tok::LBrack => Node::List(self.list_type(depth + 1)?),
            Tok::Eof => return Ok(None),
            ref other => {
                return Err(Self::error_at(
                    &t,
                    format!("Unknown token: {}", other.name()),
                ))
            }
        };
        Ok(Some(node))
    }

    fn check_depth(&self, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.sc.err("nesting too deep"));
        }
        Ok(())
    }

    fn object_type(&mut self, depth: usize) -> Result<Vec<Item>, SyntaxError> {
        self.check_depth(depth)?;
        let items = self.object_list(true, depth)?;
        let t = self.scan()?;
        if t.tok != Tok::RBrace {
            return Err(Self::error_at(
                &t,
                format!("object expected closing RBRACE got: {}", t.tok.name()),
            ));
        }
        Ok(items)
    }

    fn list_type(&mut self, depth: usize) -> Result<Vec<Node>, SyntaxError> {
        self.check_depth(depth)?;
        let mut list = Vec::new();
        let mut need_comma = false;
        loop {
            let t = self.scan()?;
            if need_comma && !matches!(t.tok, Tok::Comma | Tok::RBrack) {
                return Err(Self::error_at(
                    &t,
                    format!(
                        "error parsing list, expected comma or list end, got: {}",
                        t.tok.name()
                    ),
                ));
            }
            match t.tok {
                Tok::Bool(b) => {
                    list.push(Node::Lit(Lit::Bool(b)));
                    need_comma = true;
                }
                Tok::Number(s) => {
                    list.push(Node::Lit(Lit::Number(s)));
                    need_comma = true;
                }
                Tok::Float(s) => {
                    list.push(Node::Lit(Lit::Float(s)));
                    need_comma = true;
                }
                Tok::Str(s) | Tok::Heredoc(s) => {
                    list.push(Node::Lit(Lit::Str(s)));
                    need_comma = true;
                }
                Tok::Comma => need_comma = false,
                Tok::LBrace => {
                    list.push(Node::Object(self.object_type(depth + 1)?));
                    need_comma = true;
                }
                Tok::LBrack => {
                    // HCL1 does not require a comma after a nested list.
                    list.push(Node::List(self.list_type(depth + 1)?));
                }
                Tok::RBrack => return Ok(list),
                ref other => {
                    return Err(Self::error_at(
                        &t,
                        format!("unexpected token while parsing list: {}", other.name()),
                    ))
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// JSON

/// Why the JSON parser stopped.
enum JsonStop {
    /// End of input where a key or value was expected: HCL1 treats the
    /// enclosing object as finished.
    Eof,
    Error(SyntaxError),
}

impl From<SyntaxError> for JsonStop {
    fn from(e: SyntaxError) -> Self {
        JsonStop::Error(e)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum JTok {
    Str(String),
    Number(String),
    Float(String),
    Bool(bool),
    Null,
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Comma,
    Colon,
    Period,
    Eof,
}

impl JTok {
    fn name(&self) -> &'static str {
        match self {
            JTok::Str(_) => "STRING",
            JTok::Number(_) => "NUMBER",
            JTok::Float(_) => "FLOAT",
            JTok::Bool(_) => "BOOL",
            JTok::Null => "NULL",
            JTok::LBrace => "LBRACE",
            JTok::RBrace => "RBRACE",
            JTok::LBrack => "LBRACK",
            JTok::RBrack => "RBRACK",
            JTok::Comma => "COMMA",
            JTok::Colon => "COLON",
            JTok::Period => "PERIOD",
            JTok::Eof => "EOF",
        }
    }
}

impl Scanner<'_> {
    /// One token of HCL1's JSON scanner. A NUL character ends the input.
    fn scan_json(&mut self) -> Result<(JTok, usize), SyntaxError> {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.next()?;
        }
        let line = self.line;
        let c = match self.peek() {
            None | Some('\0') => return Ok((JTok::Eof, line)),
            Some(c) => {
                self.next()?;
                c
            }
        };
        let tok = if is_letter(c) {
            let start = self.pos - 1;
            while self
                .peek()
                .is_some_and(|n| is_letter(n) || is_digit(n) || n == '-')
            {
                self.next()?;
            }
            let text: String = self.chars[start..self.pos]
                .iter()
                .map(|&(_, c)| c)
                .collect();
            match text.as_str() {
                "true" => JTok::Bool(true),
                "false" => JTok::Bool(false),
                "null" => JTok::Null,
                _ => return Err(self.err("illegal char")),
            }
        } else if c.is_ascii_digit() {
            self.scan_json_number(c, String::new())?
        } else {
            match c {
                '"' => JTok::Str(self.scan_json_string()?),
                '.' => {
                    if self.peek().is_some_and(|n| n.is_ascii_digit()) {
                        let mut text = String::from(".");
                        self.digits(&mut text)?;
                        self.exponent(&mut text)?;
                        JTok::Float(text)
                    } else {
                        JTok::Period
                    }
                }
                '[' => JTok::LBrack,
                ']' => JTok::RBrack,
                '{' => JTok::LBrace,
                '}' => JTok::RBrace,
                ',' => JTok::Comma,
                ':' => JTok::Colon,
                '-' => match self.peek().filter(|n| n.is_ascii_digit()) {
                    Some(d) => {
                        self.next()?;
                        self.scan_json_number(d, String::from("-"))?
                    }
                    None => return Err(self.err("illegal char")),
                },
                other => return Err(self.err(&format!("illegal char: {other}"))),
            }
        };
        Ok((tok, line))
    }

    fn scan_json_number(&mut self, first: char, mut text: String) -> Result<JTok, SyntaxError> {
        text.push(first);
        self.digits(&mut text)?;
        if matches!(self.peek(), Some('e' | 'E')) {
            self.exponent(&mut text)?;
            return Ok(JTok::Float(text));
        }
        if self.peek() == Some('.') {
            self.next()?;
            text.push('.');
            self.digits(&mut text)?;
            self.exponent(&mut text)?;
            return Ok(JTok::Float(text));
        }
        if first == '0' && text.trim_start_matches('-').len() > 1 {
            return Err(self.err("numbers cannot start with 0"));
        }
        Ok(JTok::Number(text))
    }

    /// A JSON string (opening quote consumed), unquoted as Go's
    /// `strconv.Unquote` does.
    fn scan_json_string(&mut self) -> Result<String, SyntaxError> {
        let mut out = String::new();
        loop {
            let c = match self.peek() {
                None | Some('\0') | Some('\n') => return Err(self.err("literal not terminated")),
                Some(c) => {
                    self.next()?;
                    c
                }
            };
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.scan_escape()?),
                _ => out.push(c),
            }
        }
    }
}

struct JsonParser<'a> {
    sc: Scanner<'a>,
    /// The most recently scanned token (HCL1's `p.tok`).
    last: JTok,
    last_line: usize,
    /// The first scanner error; it fails the parse whatever the parser
    /// made of the token (HCL1 records it and checks it at the end).
    fatal: Option<SyntaxError>,
}

impl JsonParser<'_> {
    fn scan(&mut self) -> Result<JTok, SyntaxError> {
        let (t, line) = match self.sc.scan_json() {
            Ok(v) => v,
            Err(e) => {
                self.fatal.get_or_insert_with(|| e.clone());
                return Err(e);
            }
        };
        self.last = t.clone();
        self.last_line = line;
        Ok(t)
    }

    fn err(&self, msg: String) -> JsonStop {
        JsonStop::Error(SyntaxError {
            line: self.last_line,
            col: 0,
            msg,
        })
    }

    /// HCL1's JSON `objectList`: items separated by commas; anything other
    /// than a comma after an item (normally the closing brace) ends the
    /// list and is consumed.
    fn object_list(&mut self, depth: usize) -> (Vec<Item>, Option<JsonStop>) {
        let mut items = Vec::new();
        loop {
            match self.object_item(depth) {
                Err(JsonStop::Eof) => break,
                Err(e) => return (items, Some(e)),
                Ok(item) => items.push(item),
            }
            match self.scan() {
                Ok(JTok::Comma) => {}
                Ok(_) => break,
                Err(e) => return (items, Some(e.into())),
            }
        }
        (items, None)
    }

    /// HCL1's JSON `objectType`: an error is ignored (keeping the items read
    /// so far) when the last token read was a closing brace.
    fn object_type(&mut self, depth: usize) -> Result<Vec<Item>, JsonStop> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep".to_string()));
        }
        let (items, err) = self.object_list(depth);
        match err {
            Some(JsonStop::Error(e)) if self.last != JTok::RBrace => Err(JsonStop::Error(e)),
            _ => Ok(items),
        }
    }

    fn object_item(&mut self, depth: usize) -> Result<Item, JsonStop> {
        let mut keys = Vec::new();
        loop {
            match self.scan()? {
                JTok::Eof => return Err(JsonStop::Eof),
                JTok::Str(s) => keys.push(Key { text: s }),
                JTok::Colon if keys.is_empty() => {
                    return Err(self.err("expected: STRING got: COLON".to_string()))
                }
                JTok::Colon => break,
                other => return Err(self.err(format!("expected: STRING got: {}", other.name()))),
            }
        }
        let line = self.last_line;
        let val = match self.scan()? {
            JTok::Number(s) => Node::Lit(Lit::Number(s)),
            JTok::Float(s) => Node::Lit(Lit::Float(s)),
            JTok::Bool(b) => Node::Lit(Lit::Bool(b)),
            JTok::Null => Node::Lit(Lit::Str(String::new())),
            JTok::Str(s) => Node::Lit(Lit::Str(s)),
            JTok::LBrace => Node::Object(self.object_type(depth + 1)?),
            JTok::LBrack => Node::List(self.list_type(depth + 1)?),
            JTok::Eof => return Err(JsonStop::Eof),
            other => {
                return Err(self.err(format!(
                    "Expected object value, got unknown token: {}",
                    other.name()
                )))
            }
        };
        Ok(Item { keys, val, line })
    }

    /// HCL1's JSON `listType`: booleans and nested `[` are skipped.
    fn list_type(&mut self, depth: usize) -> Result<Vec<Node>, JsonStop> {
        let mut list = Vec::new();
        loop {
            match self.scan()? {
                JTok::Number(s) => list.push(Node::Lit(Lit::Number(s))),
                JTok::Float(s) => list.push(Node::Lit(Lit::Float(s))),
                JTok::Str(s) => list.push(Node::Lit(Lit::Str(s))),
                JTok::Comma | JTok::Bool(_) | JTok::LBrack => {}
                JTok::LBrace => list.push(Node::Object(self.object_type(depth + 1)?)),
                JTok::RBrack => return Ok(list),
                other => {
                    return Err(self.err(format!(
                        "unexpected token while parsing list: {}",
                        other.name()
                    )))
                }
            }
        }
    }
}

/// HCL1's JSON parser: reads one object from the start of the text (what
/// follows it is ignored), tolerating the same malformations HCL1 does.
fn parse_json(src: &str) -> Result<Vec<Item>, SyntaxError> {
    let mut p = JsonParser {
        sc: Scanner::new(src),
        last: JTok::Eof,
        last_line: 1,
        fatal: None,
    };
    let items = match p.scan()? {
        JTok::LBrace => match p.object_type(1) {
            Ok(items) => items,
            Err(JsonStop::Error(e)) => return Err(e),
            Err(JsonStop::Eof) => Vec::new(),
        },
        JTok::Eof => {
            return Err(SyntaxError {
                line: 0,
                col: 0,
                msg: "EOF token found".to_string(),
            })
        }
        other => {
            return Err(SyntaxError {
                line: p.last_line,
                col: 0,
                msg: format!("Expected object, got unknown token: {}", other.name()),
            })
        }
    };
    if let Some(e) = p.fatal {
        return Err(e);
    }
    Ok(flatten_items(items))
}

/// HCL1's JSON `flattenObjects`: an item whose value is an object made only
/// of objects (or a list made only of objects) is split into one item per
/// member with the member's keys appended; applied recursively.
fn flatten_items(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        expand(item, &mut out);
    }
    for item in &mut out {
        flatten_node(&mut item.val);
    }
    out
}

fn expand(item: Item, out: &mut Vec<Item>) {
    match item.val {
        Node::Object(members)
            if !members.is_empty() && members.iter().all(|m| matches!(m.val, Node::Object(_))) =>
        {
            for m in members {
                let mut keys = item.keys.clone();
                keys.extend(m.keys);
                expand(
                    Item {
                        keys,
                        val: m.val,
                        line: item.line,
                    },
                    out,
                );
            }
        }
        Node::List(elems)
            if !elems.is_empty() && elems.iter().all(|e| matches!(e, Node::Object(_))) =>
        {
            for e in elems {
                expand(
                    Item {
                        keys: item.keys.clone(),
                        val: e,
                        line: item.line,
                    },
                    out,
                );
            }
        }
        val => out.push(Item {
            keys: item.keys,
            val,
            line: item.line,
        }),
    }
}

fn flatten_node(node: &mut Node) {
    match node {
        Node::Object(items) => {
            let taken = std::mem::take(items);
            *items = flatten_items(taken);
        }
        Node::List(elems) => elems.iter_mut().for_each(flatten_node),
        Node::Lit(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(item: &Item) -> Vec<&str> {
        item.keys.iter().map(|k| k.text.as_str()).collect()
    }

    #[test]
    fn parses_blocks_and_attributes_on_one_line() {
        let items =
            parse(r#"path "a" { capabilities = ["read"] policy = "write" }"#).expect("parses");
        assert_eq!(items.len(), 1);
        assert_eq!(keys(&items[0]), ["path", "a"]);
        let Node::Object(inner) = &items[0].val else {
            panic!("object expected")
        };
        assert_eq!(inner.len(), 2);
        assert_eq!(
            inner[0].val,
            Node::List(vec![Node::Lit(Lit::Str("read".into()))])
        );
    }

    #[test]
    fn strings_keep_interpolation_and_decode_escapes() {
        let items = parse("a = \"x${foo \"bar\"}\\n\\u0041\"").expect("parses");
        assert_eq!(
            items[0].val,
            Node::Lit(Lit::Str("x${foo \"bar\"}\nA".into()))
        );
        assert!(parse("a = \"unterminated\n\"").is_err());
        assert!(parse(r#"a = "\q""#).is_err());
    }

    #[test]
    fn comments_and_numbers() {
        let items =
            parse("# c\n// d\n/* e \n */ a = 10 b = -1.5e3, c = 0x1F d = true").expect("parses");
        let vals: Vec<&Node> = items.iter().map(|i| &i.val).collect();
        assert_eq!(vals[0], &Node::Lit(Lit::Number("10".into())));
        assert_eq!(vals[1], &Node::Lit(Lit::Float("-1.5e3".into())));
        assert_eq!(vals[2], &Node::Lit(Lit::Number("0x1F".into())));
        assert_eq!(vals[3], &Node::Lit(Lit::Bool(true)));
        assert!(parse("/* open").is_err());
        assert!(parse("a = 09").is_err());
    }

    #[test]
    fn heredocs() {
        let items = parse("a = <<EOF\nhello\nworld\nEOF\n").expect("parses");
        assert_eq!(items[0].val, Node::Lit(Lit::Str("hello\nworld\n".into())));
        let items = parse("a = <<-EOF\n    hello\n      world\n    EOF\n").expect("parses");
        assert_eq!(items[0].val, Node::Lit(Lit::Str("hello\n  world\n".into())));
        assert!(parse("a = <<EOF\nhello\nEOF").is_err());
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "path \"a\" = { }",
            "= 1",
            "a = b",
            "a = [1 2]",
            "path \"a\" {",
            "a : 1",
            "a = { b }",
            "a = 1 +",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
        // A dangling `key =` at the very end is ignored by HCL1.
        assert_eq!(parse("a = 1\nb =").expect("parses").len(), 1);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("a = {}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse(&deep).is_err());
        let deep = format!("a {}{}", "b {".repeat(5000), "}".repeat(5000));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn json_is_flattened_like_hcl1() {
        let items =
            parse(r#"{"path": {"a/*": {"capabilities": ["read"]}, "b": {"policy": "read"}}}"#)
                .expect("parses");
        assert_eq!(items.len(), 2);
        assert_eq!(keys(&items[0]), ["path", "a/*"]);
        assert_eq!(keys(&items[1]), ["path", "b"]);
        let items = parse(r#"{"path": [{"a": {"capabilities": []}}, {"b": {}}]}"#).expect("parses");
        assert_eq!(keys(&items[0]), ["path", "a"]);
        assert_eq!(keys(&items[1]), ["path", "b"]);
        assert!(parse("[1]").is_err());
        assert!(parse(r#"{"a": 01}"#).is_err());
        assert!(parse(r#"{"a": nope}"#).is_err());
        assert!(parse(r#"{"a": "\/"}"#).is_err());
        // HCL1's JSON leniency: an unterminated object is accepted, text
        // after the first object is ignored, booleans in lists are skipped.
        assert!(parse("{").expect("lenient").is_empty());
        assert_eq!(parse(r#"{"a": 1} "trailing""#).expect("lenient").len(), 1);
        // ...but a scanner error in any token read is fatal.
        assert!(parse(r#"{"a": {"b": 1}x}"#).is_err());
        let items = parse(r#"{"a": ["x", true, "y"]}"#).expect("parses");
        assert_eq!(
            items[0].val,
            Node::List(vec![
                Node::Lit(Lit::Str("x".into())),
                Node::Lit(Lit::Str("y".into()))
            ])
        );
    }

    #[test]
    fn filter_strips_first_key() {
        let items = parse("path \"a\" {}\nname = \"x\"\npath {}").expect("parses");
        let f = filter(&items, "path");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].0.len(), 1);
        assert!(f[1].0.is_empty());
    }
}
