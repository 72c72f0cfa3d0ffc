//! A small JSON reader that records the line of every key and value.
//!
//! serde_json reports positions only for syntax errors, while Coffer's
//! messages name the line of the offending key in a well-formed file too, so
//! JSON configuration files are read with this parser (RFC 8259; its tests
//! compare it with serde_json). Nesting is limited to [`MAX_DEPTH`] levels so
//! that hostile input cannot overflow the stack.

use crate::error::ConfigError;
use crate::node::{Entry, Node, Value};

/// Deepest nesting of arrays and objects accepted (hcl-edit's limit is 64 too).
pub(crate) const MAX_DEPTH: usize = 64;

/// Parses a JSON document whose top level is an object into its entries.
pub(crate) fn parse_json(text: &str, file: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        file,
    };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        return Err(p.error("a JSON configuration must be an object (\"{ ... }\")"));
    }
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.error("unexpected text after the end of the JSON object"));
    }
    match node.value {
        Value::Object(entries) => Ok(entries),
        _ => Err(p.error("a JSON configuration must be an object")),
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, message: &str) -> ConfigError {
        let column = self
            .text
            .get(self.line_start..self.pos.min(self.bytes.len()))
            .map_or(1, |s| s.chars().count() + 1);
        ConfigError::Syntax {
            file: self.file.to_owned(),
            line: self.line,
            column,
            message: message.to_owned(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                _ => break,
            }
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), ConfigError> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, ConfigError> {
        self.skip_ws();
        let line = self.line;
        let value = match self.peek() {
            None => return Err(self.error("unexpected end of input, expected a value")),
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                self.pos += 1;
                Value::Object(self.object_rest(depth + 1)?)
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                self.pos += 1;
                Value::List(self.array_rest(depth + 1)?)
            }
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.error("expected a value")),
        };
        Ok(Node { line, value })
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, ConfigError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn object_rest(&mut self, depth: usize) -> Result<Vec<Entry>, ConfigError> {
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(entries);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a quoted object key"));
            }
            let line = self.line;
            let key = self.string()?;
            self.expect(b':', "':' after an object key")?;
            let value = self.value(depth)?;
            entries.push(Entry {
                key,
                labels: Vec::new(),
                line,
                is_block: false,
                value,
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(entries);
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn array_rest(&mut self, depth: usize) -> Result<Vec<Node>, ConfigError> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    /// Reads a string; `self.pos` is at the opening quote.
    fn string(&mut self) -> Result<String, ConfigError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // `start..pos` ends before an ASCII byte or at the end, so it is on
            // a character boundary.
            out.push_str(self.text.get(start..self.pos).unwrap_or_default());
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(_) => {
                    return Err(self.error("control character in a string (escape it, e.g. \\n)"))
                }
            }
        }
    }

    /// Reads the escape after a backslash.
    fn escape(&mut self) -> Result<char, ConfigError> {
        let Some(b) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                if (0xD800..0xDC00).contains(&first) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(self.error("unpaired surrogate in a \\u escape"));
                    }
                    self.pos += 2;
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error("unpaired surrogate in a \\u escape"));
                    }
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?
                } else {
                    char::from_u32(first)
                        .ok_or_else(|| self.error("unpaired surrogate in a \\u escape"))?
                }
            }
            _ => return Err(self.error("invalid escape in a string")),
        })
    }

    fn hex4(&mut self) -> Result<u32, ConfigError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, ConfigError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: digits must follow '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: digits must follow the exponent"));
            }
            self.digits();
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(self.error("number out of range")),
        }
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Converts our tree to serde_json's, to compare the two parsers.
    fn to_serde(node: &Node) -> serde_json::Value {
        match &node.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Value::from(*f),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
            Value::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), to_serde(&e.value)))
                    .collect(),
            ),
        }
    }

    fn parse_as_serde(text: &str) -> Result<serde_json::Value, ConfigError> {
        parse_json(text, "t.json").map(|entries| {
            to_serde(&Node {
                line: 1,
                value: Value::Object(entries),
            })
        })
    }

    #[test]
    fn lines_of_keys_and_values() {
        let text = "{\n  \"a\": 1,\n  \"b\": {\n    \"c\": [true,\n null]\n  }\n}";
        let entries = parse_json(text, "t.json").expect("parses");
        assert_eq!(entries[0].line, 2);
        assert_eq!(entries[1].line, 3);
        let Value::Object(b) = &entries[1].value.value else {
            panic!("object")
        };
        assert_eq!(b[0].line, 4);
        let Value::List(items) = &b[0].value.value else {
            panic!("list")
        };
        assert_eq!(items[1].line, 5);
    }

    #[test]
    fn escapes_and_numbers() {
        let v = parse_as_serde(
            r#"{"s": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00", "i": -12, "f": 1.5e3, "z": 0, "big": 12345678901234567890}"#,
        )
        .expect("parses");
        assert_eq!(v["s"], "a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{1F600}");
        assert_eq!(v["i"], -12);
        assert_eq!(v["f"], 1500.0);
        assert_eq!(v["z"], 0);
        assert_eq!(v["big"], 12345678901234567890f64);
    }

    #[test]
    fn syntax_errors_have_positions() {
        for (text, line, column) in [
            ("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7),
            ("{\"a\": tru}", 1, 7),
            ("{\"a\": 01}", 1, 8),
            ("{\"a\": \"x\ny\"}", 1, 9),
            ("{\"a\": \"\\ud800\"}", 1, 14),
            ("[1]", 1, 1),
            ("{} x", 1, 4),
            ("{\"a\": 1,}", 1, 9),
            ("", 1, 1),
            ("{\"a\": 1e999}", 1, 12),
        ] {
            match parse_json(text, "t.json") {
                Err(ConfigError::Syntax {
                    line: l, column: c, ..
                }) => assert_eq!((l, c), (line, column), "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_json(&deep, "t.json"),
            Err(ConfigError::Syntax { .. })
        ));
        let ok = format!("{{\"a\": {}{}}}", "[".repeat(60), "]".repeat(60));
        assert!(parse_json(&ok, "t.json").is_ok());
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e15f64..1e15).prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever serde_json writes (compact or pretty), we read back the same.
        #[test]
        fn agrees_with_serde_json(v in arb_json(), pretty in any::<bool>()) {
            let doc = serde_json::json!({ "k": v });
            let text = if pretty {
                serde_json::to_string_pretty(&doc)
            } else {
                serde_json::to_string(&doc)
            }
            .expect("serializes");
            let ours = parse_as_serde(&text).expect("parses");
            prop_assert_eq!(ours, doc);
        }

        /// On arbitrary text, we accept exactly what serde_json accepts (for
        /// top-level objects), and never panic.
        #[test]
        fn accepts_what_serde_json_accepts(text in "\\{[ -~\\n\\t\u{e9}\\\\]{0,40}") {
            let ours = parse_as_serde(&text);
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            match (ours, theirs) {
                (Ok(a), Ok(b)) => {
                    // serde_json keeps the last of duplicate keys; we keep all,
                    // so only compare documents without duplicates.
                    if a.as_object().map(|o| o.len()) == b.as_object().map(|o| o.len()) {
                        prop_assert_eq!(a, b);
                    }
                }
                (Err(_), Err(_)) => {}
                (ours, theirs) => prop_assert!(false, "{:?}: ours {:?}, serde_json {:?}", text, ours, theirs),
            }
        }
    }
}
