//! A small syntax tree with line numbers that both the HCL and the JSON form of
//! a configuration file are turned into, so that one decoder serves both.
//!
//! It follows the model of HCL 1 (which Vault uses): a body is a list of
//! entries, each a key, optionally some labels (`listener "tcp" { ... }` is the
//! entry `listener` with the label `tcp`), and a value. A JSON object is a body
//! whose entries have no labels; the decoder reads labels out of nested objects
//! where a stanza needs them (`{"listener": {"tcp": {...}}}`).

use crate::error::ConfigError;
use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::{Body, Structure};
use hcl::edit::template::{Element, Template};
use hcl::edit::Span;

/// A value with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    /// An HCL body or object, or a JSON object.
    Object(Vec<Entry>),
}

/// One `key = value`, `key "label" { body }` or `"key": value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub labels: Vec<String>,
    /// The line of the key.
    pub line: usize,
    /// Whether this entry was written as an HCL block (only used for messages).
    pub is_block: bool,
    pub value: Node,
}

impl Node {
    /// A short description of the value for error messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => {
                let mut shown: String = s.chars().take(40).collect();
                if shown.len() < s.len() {
                    shown.push_str("...");
                }
                format!("the string {shown:?}")
            }
            Value::List(_) => "a list".to_owned(),
            Value::Object(_) => "an object".to_owned(),
        }
    }
}

impl Entry {
    /// Describes the entry's value; a block is called a block.
    pub fn describe(&self) -> String {
        if self.is_block || !self.labels.is_empty() {
            "a block".to_owned()
        } else {
            self.value.describe()
        }
    }
}

/// Maps byte offsets to one-based line numbers.
pub(crate) struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines { starts }
    }

    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// Parses HCL text into a list of top-level entries.
pub(crate) fn parse_hcl(text: &str, file: &str) -> Result<Vec<Entry>, ConfigError> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| {
        let line = e.location().line();
        // hcl-edit refuses a repeated attribute without naming it; its key
        // starts the offending line.
        if e.message().contains("redefined attribute") {
            if let Some((key, _)) = e.line().split_once('=') {
                return ConfigError::Invalid {
                    file: file.to_owned(),
                    line,
                    message: format!("duplicate key \"{}\"", key.trim()),
                };
            }
        }
        ConfigError::Syntax {
            file: file.to_owned(),
            line,
            column: e.location().column(),
            message: e.message().to_owned(),
        }
    })?;
    let conv = HclConv {
        file,
        lines: Lines::new(text),
    };
    conv.body(&body, 1)
}

struct HclConv<'a> {
    file: &'a str,
    lines: Lines,
}

impl HclConv<'_> {
    fn line(&self, span: Option<std::ops::Range<usize>>, fallback: usize) -> usize {
        span.map_or(fallback, |s| self.lines.line_of(s.start))
    }

    fn body(&self, body: &Body, fallback: usize) -> Result<Vec<Entry>, ConfigError> {
        let mut out = Vec::with_capacity(body.len());
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let line = self.line(attr.key.span().or_else(|| attr.span()), fallback);
                    let key = attr.key.value().as_str().to_owned();
                    let value = self.expr(&attr.value, &key, line)?;
                    out.push(Entry {
                        key,
                        labels: Vec::new(),
                        line,
                        is_block: false,
                        value,
                    });
                }
                Structure::Block(block) => {
                    let line = self.line(block.ident.span().or_else(|| block.span()), fallback);
                    let entries = self.body(&block.body, line)?;
                    out.push(Entry {
                        key: block.ident.value().as_str().to_owned(),
                        labels: block.labels.iter().map(|l| l.as_str().to_owned()).collect(),
                        line,
                        is_block: true,
                        value: Node {
                            line,
                            value: Value::Object(entries),
                        },
                    });
                }
            }
        }
        Ok(out)
    }

    /// Converts a literal expression. `key` and `line` name the attribute the
    /// expression belongs to, for errors.
    fn expr(&self, expr: &Expression, key: &str, line: usize) -> Result<Node, ConfigError> {
        let here = self.line(expr.span(), line);
        let value = match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => {
                let n = n.value();
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(f) = n.as_f64() {
                    Value::Float(f)
                } else {
                    return Err(self.not_literal(key, here, "a number out of range"));
                }
            }
            Expression::String(s) => Value::Str(s.value().clone()),
            Expression::StringTemplate(t) => Value::Str(self.template(t, key, here)?),
            Expression::HeredocTemplate(h) => Value::Str(self.template(&h.template, key, here)?),
            Expression::Array(items) => Value::List(
                items
                    .iter()
                    .map(|item| self.expr(item, key, here))
                    .collect::<Result<_, _>>()?,
            ),
            Expression::Object(object) => {
                let mut entries = Vec::with_capacity(object.len());
                for (k, v) in object.iter() {
                    let kline = self.line(k.span(), here);
                    let name = match k {
                        ObjectKey::Ident(ident) => ident.value().as_str().to_owned(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                        ObjectKey::Expression(Expression::StringTemplate(t)) => {
                            self.template(t, key, kline)?
                        }
                        ObjectKey::Expression(_) => {
                            return Err(ConfigError::Invalid {
                                file: self.file.to_owned(),
                                line: kline,
                                message: format!(
                                    "object keys in \"{key}\" must be names or quoted strings"
                                ),
                            })
                        }
                    };
                    let value = self.expr(v.expr(), &name, kline)?;
                    entries.push(Entry {
                        key: name,
                        labels: Vec::new(),
                        line: kline,
                        is_block: false,
                        value,
                    });
                }
                Value::Object(entries)
            }
            Expression::Parenthesis(_) => {
                return Err(self.not_literal(key, here, "a parenthesised expression"))
            }
            Expression::Variable(_) | Expression::Traversal(_) => {
                return Err(self.not_literal(
                    key,
                    here,
                    "a variable reference (did you forget the quotes around a string?)",
                ))
            }
            Expression::Conditional(_) => {
                return Err(self.not_literal(key, here, "a conditional expression"))
            }
            Expression::FuncCall(_) => return Err(self.not_literal(key, here, "a function call")),
            Expression::UnaryOp(_) | Expression::BinaryOp(_) => {
                return Err(self.not_literal(key, here, "an operation"))
            }
            Expression::ForExpr(_) => return Err(self.not_literal(key, here, "a for expression")),
        };
        Ok(Node { line: here, value })
    }

    /// A template without interpolations or directives is a plain string.
    fn template(&self, template: &Template, key: &str, line: usize) -> Result<String, ConfigError> {
        let mut out = String::new();
        for element in template.iter() {
            match element {
                Element::Literal(lit) => out.push_str(lit.value()),
                Element::Interpolation(_) | Element::Directive(_) => {
                    return Err(ConfigError::Invalid {
                        file: self.file.to_owned(),
                        line,
                        message: format!(
                            "\"{key}\": template interpolations (\"${{...}}\", \"%{{...}}\") are not supported in configuration files; write \"$${{\" for a literal \"${{\""
                        ),
                    })
                }
            }
        }
        Ok(out)
    }

    fn not_literal(&self, key: &str, line: usize, what: &str) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line,
            message: format!(
                "\"{key}\" must be a literal value (string, number, boolean, list or object), not {what}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_map_offsets() {
        let l = Lines::new("ab\ncd\n\nx");
        assert_eq!(l.line_of(0), 1);
        assert_eq!(l.line_of(2), 1);
        assert_eq!(l.line_of(3), 2);
        assert_eq!(l.line_of(6), 3);
        assert_eq!(l.line_of(7), 4);
        assert_eq!(l.line_of(100), 4);
    }

    #[test]
    fn hcl_blocks_attributes_and_lines() {
        let text = "# comment\nui = true\n\nstorage \"raft\" {\n  path = \"/d\"\n  n = -3\n  o = { a = 1, \"b\" = [1.5, null] }\n  h = <<-EOF\n    hi\n    EOF\n  e = \"a$${b}\"\n}\n";
        let entries = parse_hcl(text, "t.hcl").expect("parses");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].key, "ui");
        assert_eq!(entries[0].line, 2);
        assert_eq!(entries[0].value.value, Value::Bool(true));
        let storage = &entries[1];
        assert_eq!(storage.key, "storage");
        assert_eq!(storage.labels, vec!["raft".to_owned()]);
        assert_eq!(storage.line, 4);
        let Value::Object(body) = &storage.value.value else {
            panic!("not an object")
        };
        assert_eq!(body[0].key, "path");
        assert_eq!(body[0].line, 5);
        assert_eq!(body[1].value.value, Value::Int(-3));
        let Value::Object(o) = &body[2].value.value else {
            panic!("not an object")
        };
        assert_eq!(o[1].key, "b");
        assert_eq!(
            o[1].value.value,
            Value::List(vec![
                Node {
                    line: 7,
                    value: Value::Float(1.5)
                },
                Node {
                    line: 7,
                    value: Value::Null
                }
            ])
        );
        assert_eq!(body[3].value.value, Value::Str("hi\n".to_owned()));
        assert_eq!(body[4].value.value, Value::Str("a${b}".to_owned()));
        assert_eq!(body[4].line, 11);
    }

    #[test]
    fn hcl_rejects_expressions_with_line() {
        for (text, line) in [
            ("a = 1\nb = foo\n", 2),
            ("a = 1\n\nb = \"${foo}\"\n", 3),
            ("a = 1 + 2\n", 1),
            ("x {\n  y = upper(\"a\")\n}\n", 2),
        ] {
            let err = parse_hcl(text, "t.hcl").expect_err(text);
            assert_eq!(err.line(), Some(line), "{text}: {err}");
            assert!(
                err.to_string().starts_with(&format!("t.hcl:{line}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn hcl_syntax_error_has_position() {
        let err = parse_hcl("a = 1\nb = {\n c = 1 d = 2 }\n", "t.hcl").expect_err("bad");
        assert!(matches!(err, ConfigError::Syntax { line: 3, .. }), "{err}");
        assert!(err.to_string().starts_with("t.hcl:3:"), "{err}");
    }
}
