//! Go's `encoding/json` as OpenBao applies it to request bodies, for
//! identical answers: the syntax check of the whole body as a stream of JSON
//! values (Go's scanner, with its error texts such as `invalid character 'o'
//! in literal null (expecting 'u')`), and the type errors of decoding into a
//! Go struct (`json: cannot unmarshal string into Go struct field
//! InitRequest.secret_shares of type int`).

use serde_json::{Map, Value};

/// A syntax error in a body, worded as Go words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// The body ends inside a value.
    UnexpectedEof,
    /// `invalid character ...`.
    Invalid(String),
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyntaxError::UnexpectedEof => f.write_str("unexpected EOF"),
            SyntaxError::Invalid(m) => f.write_str(m),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values (or before the first).
    Top,
    BeginValue,
    BeginValueOrEmpty,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    InString,
    InStringEsc,
    InStringEscU(u8),
    Neg,
    One,
    Zero,
    Dot,
    Dot0,
    E,
    ESign,
    E0,
    Literal(&'static str, usize),
}

/// Go's `quoteChar`: how a byte is shown in a syntax error.
pub fn quote_char(c: u8) -> String {
    match c {
        b'\'' => return "'\\''".to_string(),
        b'"' => return "'\"'".to_string(),
        _ => {}
    }
    let inner = match c {
        0x07 => "\\a".to_string(),
        0x08 => "\\b".to_string(),
        0x0c => "\\f".to_string(),
        b'\n' => "\\n".to_string(),
        b'\r' => "\\r".to_string(),
        b'\t' => "\\t".to_string(),
        0x0b => "\\v".to_string(),
        b'\\' => "\\\\".to_string(),
        0x00..=0x1f | 0x7f => format!("\\x{c:02x}"),
        // C1 controls, NBSP and the soft hyphen are not printable in Go.
        0x80..=0xa0 | 0xad => format!("\\u{:04x}", u32::from(c)),
        // Go turns the byte into the rune of the same value.
        _ => char::from(c).to_string(),
    };
    format!("'{inner}'")
}

fn invalid(c: u8, context: &str) -> SyntaxError {
    SyntaxError::Invalid(format!("invalid character {} {context}", quote_char(c)))
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Checks `data` as a stream of JSON values (whitespace-separated), as Go's
/// `json.Decoder` reading token after token does. An empty stream is fine.
pub fn check_stream(data: &[u8]) -> Result<(), SyntaxError> {
    let mut state = State::Top;
    let mut stack: Vec<Parse> = Vec::new();
    for &c in data {
        // A byte may be looked at by more than one state (ends of numbers).
        while !step(&mut state, &mut stack, c)? {}
    }
    let complete = match state {
        State::Top => true,
        State::EndValue | State::One | State::Zero | State::Dot0 | State::E0 => stack.is_empty(),
        _ => false,
    };
    if complete {
        Ok(())
    } else {
        Err(SyntaxError::UnexpectedEof)
    }
}

/// One scanner step; `Ok(false)` means "look at this byte again".
fn step(state: &mut State, stack: &mut Vec<Parse>, c: u8) -> Result<bool, SyntaxError> {
    match *state {
        State::Top | State::BeginValue => {
            if is_space(c) {
                return Ok(true);
            }
            *state = match c {
                b'{' => {
                    stack.push(Parse::ObjectKey);
                    State::BeginStringOrEmpty
                }
                b'[' => {
                    stack.push(Parse::ArrayValue);
                    State::BeginValueOrEmpty
                }
                b'"' => State::InString,
                b'-' => State::Neg,
                b'0' => State::Zero,
                b'1'..=b'9' => State::One,
                b't' => State::Literal("true", 1),
                b'f' => State::Literal("false", 1),
                b'n' => State::Literal("null", 1),
                _ => return Err(invalid(c, "looking for beginning of value")),
            };
            Ok(true)
        }
        State::BeginValueOrEmpty => {
            if is_space(c) {
                return Ok(true);
            }
            *state = if c == b']' {
                State::EndValue
            } else {
                State::BeginValue
            };
            Ok(false)
        }
        State::BeginStringOrEmpty => {
            if is_space(c) {
                return Ok(true);
            }
            if c == b'}' {
                if let Some(top) = stack.last_mut() {
                    *top = Parse::ObjectValue;
                }
                *state = State::EndValue;
            } else {
                *state = State::BeginString;
            }
            Ok(false)
        }
        State::BeginString => {
            if is_space(c) {
                return Ok(true);
            }
            if c == b'"' {
                *state = State::InString;
                Ok(true)
            } else {
                Err(invalid(c, "looking for beginning of object key string"))
            }
        }
        State::EndValue => {
            let Some(top) = stack.last().copied() else {
                *state = State::Top;
                return Ok(false);
            };
            if is_space(c) {
                return Ok(true);
            }
            match top {
                Parse::ObjectKey => {
                    if c == b':' {
                        if let Some(t) = stack.last_mut() {
                            *t = Parse::ObjectValue;
                        }
                        *state = State::BeginValue;
                        Ok(true)
                    } else {
                        Err(invalid(c, "after object key"))
                    }
                }
                Parse::ObjectValue => match c {
                    b',' => {
                        if let Some(t) = stack.last_mut() {
                            *t = Parse::ObjectKey;
                        }
                        *state = State::BeginString;
                        Ok(true)
                    }
                    b'}' => {
                        stack.pop();
                        *state = State::EndValue;
                        Ok(true)
                    }
                    _ => Err(invalid(c, "after object key:value pair")),
                },
                Parse::ArrayValue => match c {
                    b',' => {
                        *state = State::BeginValue;
                        Ok(true)
                    }
                    b']' => {
                        stack.pop();
                        *state = State::EndValue;
                        Ok(true)
                    }
                    _ => Err(invalid(c, "after array element")),
                },
            }
        }
        State::InString => {
            match c {
                b'"' => *state = State::EndValue,
                b'\\' => *state = State::InStringEsc,
                0x00..=0x1f => return Err(invalid(c, "in string literal")),
                _ => {}
            }
            Ok(true)
        }
        State::InStringEsc => {
            *state = match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => State::InString,
                b'u' => State::InStringEscU(0),
                _ => return Err(invalid(c, "in string escape code")),
            };
            Ok(true)
        }
        State::InStringEscU(n) => {
            if !c.is_ascii_hexdigit() {
                return Err(invalid(c, "in \\u hexadecimal character escape"));
            }
            *state = if n == 3 {
                State::InString
            } else {
                State::InStringEscU(n + 1)
            };
            Ok(true)
        }
        State::Neg => {
            *state = match c {
                b'0' => State::Zero,
                b'1'..=b'9' => State::One,
                _ => return Err(invalid(c, "in numeric literal")),
            };
            Ok(true)
        }
        State::One => {
            if c.is_ascii_digit() {
                return Ok(true);
            }
            *state = State::Zero;
            Ok(false)
        }
        State::Zero => match c {
            b'.' => {
                *state = State::Dot;
                Ok(true)
            }
            b'e' | b'E' => {
                *state = State::E;
                Ok(true)
            }
            _ => {
                *state = State::EndValue;
                Ok(false)
            }
        },
        State::Dot => {
            if c.is_ascii_digit() {
                *state = State::Dot0;
                Ok(true)
            } else {
                Err(invalid(c, "after decimal point in numeric literal"))
            }
        }
        State::Dot0 => match c {
            b'0'..=b'9' => Ok(true),
            b'e' | b'E' => {
                *state = State::E;
                Ok(true)
            }
            _ => {
                *state = State::EndValue;
                Ok(false)
            }
        },
        State::E => {
            *state = State::ESign;
            // A sign is taken here; anything else is looked at again.
            Ok(matches!(c, b'+' | b'-'))
        }
        State::ESign => {
            if c.is_ascii_digit() {
                *state = State::E0;
                Ok(true)
            } else {
                Err(invalid(c, "in exponent of numeric literal"))
            }
        }
        State::E0 => {
            if c.is_ascii_digit() {
                return Ok(true);
            }
            *state = State::EndValue;
            Ok(false)
        }
        State::Literal(word, pos) => {
            let want = word.as_bytes()[pos];
            if c != want {
                return Err(invalid(
                    c,
                    &format!("in literal {word} (expecting {})", quote_char(want)),
                ));
            }
            *state = if pos + 1 == word.len() {
                State::EndValue
            } else {
                State::Literal(word, pos + 1)
            };
            Ok(true)
        }
    }
}

/// The Go type of a struct field, for type errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoType {
    Int,
    String,
    Bool,
    StringSlice,
}

impl GoType {
    fn name(self) -> &'static str {
        match self {
            GoType::Int => "int",
            GoType::String => "string",
            GoType::Bool => "bool",
            GoType::StringSlice => "[]string",
        }
    }
}

/// How Go names the kind of a JSON value in type errors.
pub fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

fn field_error(v: &Value, go_struct: &str, field: &str, ty: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {go_struct}.{field} of type {ty}",
        kind(v)
    )
}

/// Decodes `value` as Go decodes it into a struct `type_name` (e.g.
/// `http.InitRequest`) with `fields` (JSON name and Go type; names match
/// case-insensitively, unknown keys are ignored, `null` leaves a field
/// unset). Returns the known fields under their canonical names, or Go's
/// first type error.
pub fn decode_struct(
    value: &Value,
    type_name: &str,
    fields: &[(&str, GoType)],
) -> Result<Map<String, Value>, String> {
    let obj = match value {
        Value::Null => return Ok(Map::new()),
        Value::Object(m) => m,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type {type_name}",
                kind(other)
            ))
        }
    };
    let short = type_name.rsplit('.').next().unwrap_or(type_name);
    let mut out = Map::new();
    let mut first_err: Option<String> = None;
    for (key, v) in obj {
        let found = fields
            .iter()
            .find(|(n, _)| *n == key)
            .or_else(|| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(key)));
        let Some((name, ty)) = found else { continue };
        if v.is_null() {
            continue;
        }
        let ok = match ty {
            GoType::Int => match v {
                Value::Number(n) => {
                    if n.as_i64().is_some() {
                        true
                    } else {
                        first_err.get_or_insert_with(|| {
                            format!("json: cannot unmarshal number {n} into Go struct field {short}.{key} of type int")
                        });
                        false
                    }
                }
                other => {
                    first_err.get_or_insert_with(|| field_error(other, short, key, ty.name()));
                    false
                }
            },
            GoType::String => {
                v.is_string() || {
                    first_err.get_or_insert_with(|| field_error(v, short, key, ty.name()));
                    false
                }
            }
            GoType::Bool => {
                v.is_boolean() || {
                    first_err.get_or_insert_with(|| field_error(v, short, key, ty.name()));
                    false
                }
            }
            GoType::StringSlice => match v {
                Value::Array(items) => {
                    match items.iter().find(|i| !i.is_string() && !i.is_null()) {
                        None => true,
                        Some(bad) => {
                            first_err.get_or_insert_with(|| field_error(bad, short, key, "string"));
                            false
                        }
                    }
                }
                other => {
                    first_err.get_or_insert_with(|| field_error(other, short, key, ty.name()));
                    false
                }
            },
        };
        if ok {
            out.insert((*name).to_string(), v.clone());
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(s: &str) -> String {
        check_stream(s.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn valid_streams() {
        for ok in [
            "",
            "  ",
            "{}",
            "[]",
            "{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\n\"]}",
            "{\"data\":{}} {\"a\":1}",
            "123",
            "0",
            "-0.5",
            "1E9",
            "\"s\"",
            "[ ] { } 1 2",
        ] {
            assert_eq!(check_stream(ok.as_bytes()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn errors_as_go_words_them() {
        assert_eq!(err("{\"data\":"), "unexpected EOF");
        assert_eq!(
            err("not json"),
            "invalid character 'o' in literal null (expecting 'u')"
        );
        assert_eq!(
            err("key=abc"),
            "invalid character 'k' looking for beginning of value"
        );
        assert_eq!(
            err("{\"data\":{}} trailing"),
            "invalid character 'a' in literal true (expecting 'u')"
        );
        assert_eq!(err("{\"a\" 1}"), "invalid character '1' after object key");
        assert_eq!(
            err("{\"a\":1 \"b\"}"),
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(
            err("{1:2}"),
            "invalid character '1' looking for beginning of object key string"
        );
        assert_eq!(
            err("{,}"),
            "invalid character ',' looking for beginning of object key string"
        );
        assert_eq!(
            err("[,]"),
            "invalid character ',' looking for beginning of value"
        );
        assert_eq!(err("\"a\nb\""), "invalid character '\\n' in string literal");
        assert_eq!(
            err("\"\\x\""),
            "invalid character 'x' in string escape code"
        );
        assert_eq!(
            err("\"\\u12g4\""),
            "invalid character 'g' in \\u hexadecimal character escape"
        );
        assert_eq!(err("-a"), "invalid character 'a' in numeric literal");
        assert_eq!(
            err("1.x"),
            "invalid character 'x' after decimal point in numeric literal"
        );
        assert_eq!(
            err("1ex"),
            "invalid character 'x' in exponent of numeric literal"
        );
        assert_eq!(
            err("1e+x"),
            "invalid character 'x' in exponent of numeric literal"
        );
        assert_eq!(
            err("123abc"),
            "invalid character 'a' looking for beginning of value"
        );
        assert_eq!(
            err("{}}"),
            "invalid character '}' looking for beginning of value"
        );
        assert_eq!(err("fals"), "unexpected EOF");
        assert_eq!(err("1."), "unexpected EOF");
        assert_eq!(err("-"), "unexpected EOF");
        assert_eq!(err("[1,"), "unexpected EOF");
        assert_eq!(err("{\"a\":1} {\"b\":"), "unexpected EOF");
        assert_eq!(
            err("'"),
            "invalid character '\\'' looking for beginning of value"
        );
        assert_eq!(
            err("\u{1}"),
            "invalid character '\\x01' looking for beginning of value"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_char(b'a'), "'a'");
        assert_eq!(quote_char(b'"'), "'\"'");
        assert_eq!(quote_char(b'\\'), "'\\\\'");
        assert_eq!(quote_char(0x7f), "'\\x7f'");
        assert_eq!(quote_char(0x85), "'\\u0085'");
        assert_eq!(quote_char(0xff), "'ÿ'");
        assert_eq!(quote_char(0x0b), "'\\v'");
    }

    const INIT: &[(&str, GoType)] = &[
        ("secret_shares", GoType::Int),
        ("pgp_keys", GoType::StringSlice),
        ("root_token_pgp_key", GoType::String),
        ("reset", GoType::Bool),
    ];

    #[test]
    fn struct_type_errors() {
        let d = |v: Value| decode_struct(&v, "http.InitRequest", INIT);
        assert_eq!(
            d(json!({"secret_shares": "x"})).unwrap_err(),
            "json: cannot unmarshal string into Go struct field InitRequest.secret_shares of type int"
        );
        assert_eq!(
            d(json!({"secret_shares": 1.5})).unwrap_err(),
            "json: cannot unmarshal number 1.5 into Go struct field InitRequest.secret_shares of type int"
        );
        assert_eq!(
            d(json!({"pgp_keys": "abc"})).unwrap_err(),
            "json: cannot unmarshal string into Go struct field InitRequest.pgp_keys of type []string"
        );
        assert_eq!(
            d(json!({"pgp_keys": ["a", 1]})).unwrap_err(),
            "json: cannot unmarshal number into Go struct field InitRequest.pgp_keys of type string"
        );
        assert_eq!(
            d(json!({"reset": 1})).unwrap_err(),
            "json: cannot unmarshal number into Go struct field InitRequest.reset of type bool"
        );
        assert_eq!(
            d(json!([])).unwrap_err(),
            "json: cannot unmarshal array into Go value of type http.InitRequest"
        );
        assert_eq!(d(Value::Null).unwrap(), Map::new());
        let m = d(json!({"Secret_Shares": -1, "other": "x", "pgp_keys": null})).unwrap();
        assert_eq!(Value::Object(m), json!({"secret_shares": -1}));
    }
}
