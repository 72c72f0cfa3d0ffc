//! Helpers shared by the KV engines and cubbyhole.
//!
//! OpenBao's backends are built on its `framework` package, which decodes
//! request fields with Go's `mapstructure` "weak" rules, answers with Go
//! timestamp and duration formats, and adds warnings about parameters a path
//! does not know. The functions here reproduce those rules so that status
//! codes, messages and shapes match OpenBao's.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::CoreError;
use crate::logical::{Data, Operation, RawResponse, Request, Response};

/// The error OpenBao gives for a write to a path ending in `/`.
pub const TRAILING_SLASH: &str = "cannot write to a path ending in '/'";

/// The only content type PATCH accepts.
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Refuses writes (create, update, patch) to a path ending in `/`.
pub fn check_write_path(op: Operation, path: &str) -> Result<(), CoreError> {
    if path.ends_with('/') && matches!(op, Operation::Create | Operation::Update | Operation::Patch)
    {
        return Err(CoreError::invalid(TRAILING_SLASH));
    }
    Ok(())
}

/// PATCH needs `Content-Type: application/merge-patch+json` (415 otherwise,
/// 400 `mime: no media type` when the header is missing).
pub fn check_patch_content_type(req: &Request) -> Result<(), CoreError> {
    if req.operation != Operation::Patch {
        return Ok(());
    }
    let raw = req.content_type.as_deref().unwrap_or("");
    let media = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.is_empty() {
        return Err(CoreError::invalid("mime: no media type"));
    }
    if media != MERGE_PATCH {
        return Err(CoreError::UnsupportedMediaType(format!(
            "PATCH requires Content-Type of {MERGE_PATCH}, provided {media}"
        )));
    }
    Ok(())
}

/// The path a backend routes on: list requests always name a folder, so
/// OpenBao adds the trailing slash (except at the mount root).
pub fn routed_path(op: Operation, path: &str) -> String {
    if op == Operation::List && !path.is_empty() && !path.ends_with('/') {
        format!("{path}/")
    } else {
        path.to_string()
    }
}

/// A 404 with no body at all (OpenBao's `RespondWithStatusCode(nil, 404)`).
pub fn empty_404() -> Response {
    Response {
        status: Some(404),
        raw: Some(RawResponse {
            status: 404,
            content_type: "application/json".into(),
            body: Vec::new(),
        }),
        ..Default::default()
    }
}

/// A 404 that still carries the envelope (data and warnings).
pub fn envelope_404(data: Option<Data>, warnings: Vec<String>) -> Response {
    Response {
        data,
        warnings,
        status: Some(404),
        ..Default::default()
    }
}

/// Adds the framework's warnings about request parameters the path does not
/// declare (`fields`) and about a `path` parameter overridden by the URL.
/// Only plain responses with content get them, as in OpenBao.
pub fn add_parameter_warnings(resp: &mut Response, req: &Request, fields: &[&str]) {
    if resp.status.is_some() || resp.raw.is_some() || resp.is_empty() {
        return;
    }
    let mut ignored: Vec<&str> = req
        .data
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !fields.contains(k))
        .filter(|k| !(req.operation == Operation::List && *k == "list"))
        .collect();
    ignored.sort_unstable();
    if !ignored.is_empty() {
        resp.warnings.push(format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            ignored.join(" ")
        ));
    }
    if fields.contains(&"path") && req.data.get("path").is_some_and(|v| !v.is_null()) {
        resp.warnings.push(
            "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [path]"
                .into(),
        );
    }
}

// ---------------------------------------------------------------------------
// Field decoding (Go mapstructure, weakly typed)
// ---------------------------------------------------------------------------

/// The type of a declared request field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Go `int`.
    Int,
    Bool,
    Str,
    /// `map[string]interface{}`.
    Map,
    /// A duration in seconds that may not be negative.
    DurationSecond,
    /// A duration in seconds that may be negative.
    SignedDurationSecond,
    /// A list of ints, or a comma-separated string of them.
    CommaIntSlice,
}

/// A path's declared fields.
pub type Schema = &'static [(&'static str, FieldType)];

/// The names in a schema.
pub fn field_names(schema: Schema) -> Vec<&'static str> {
    schema.iter().map(|(n, _)| *n).collect()
}

/// A request's data read through a schema.
pub struct Fields<'a> {
    data: &'a Data,
    schema: Schema,
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a Data, schema: Schema) -> Self {
        Fields { data, schema }
    }

    fn field_type(&self, name: &str) -> Option<FieldType> {
        self.schema
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// Checks that every declared field present in the data decodes. The
    /// message is OpenBao's `error converting input for field "x": ...`.
    /// `path` is taken from the URL, so its body value is never decoded.
    pub fn validate(&self) -> Result<(), String> {
        let mut names: Vec<&String> = self.data.keys().collect();
        names.sort_unstable();
        for name in names {
            if name == "path" {
                continue;
            }
            let (Some(t), Some(v)) = (self.field_type(name), self.data.get(name)) else {
                continue;
            };
            decode(t, v).map_err(|e| format!("error converting input for field {name:?}: {e}"))?;
        }
        Ok(())
    }

    /// Whether the field was sent and decodes to a value (a null duration
    /// counts as not sent, as in OpenBao).
    pub fn has(&self, name: &str) -> bool {
        match (self.field_type(name), self.data.get(name)) {
            (Some(t), Some(v)) => !matches!(decode(t, v), Ok(Decoded::Unset) | Err(_)),
            _ => false,
        }
    }

    fn get(&self, name: &str) -> Option<Decoded> {
        let t = self.field_type(name)?;
        let v = self.data.get(name)?;
        decode(t, v).ok()
    }

    /// An int field, if sent.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Decoded::Int(i) => Some(i),
            _ => None,
        }
    }

    /// A bool field, if sent.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Decoded::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A string field, if sent.
    pub fn string(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Decoded::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A map field, if sent: `Some(None)` when it was `null`.
    pub fn map(&self, name: &str) -> Option<Option<Map<String, Value>>> {
        match self.get(name)? {
            Decoded::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A duration field in whole seconds, if sent and not null.
    pub fn duration(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Decoded::Seconds(s) => Some(s),
            _ => None,
        }
    }

    /// An int-slice field (empty when absent).
    pub fn int_slice(&self, name: &str) -> Vec<i64> {
        match self.get(name) {
            Some(Decoded::Ints(v)) => v,
            _ => Vec::new(),
        }
    }
}

/// A decoded field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Int(i64),
    Bool(bool),
    Str(String),
    Map(Option<Map<String, Value>>),
    Seconds(i64),
    Ints(Vec<i64>),
    /// A null duration: treated as not sent.
    Unset,
}

/// Decodes one value as OpenBao's framework would.
pub fn decode(t: FieldType, v: &Value) -> Result<Decoded, String> {
    Ok(match t {
        FieldType::Int => Decoded::Int(weak_int(v, "")?),
        FieldType::Bool => Decoded::Bool(weak_bool(v, "")?),
        FieldType::Str => Decoded::Str(weak_string(v, "")?),
        FieldType::Map => Decoded::Map(weak_map(v, "")?),
        FieldType::DurationSecond | FieldType::SignedDurationSecond => {
            match duration_field(v, t == FieldType::SignedDurationSecond)? {
                Some(s) => Decoded::Seconds(s),
                None => Decoded::Unset,
            }
        }
        FieldType::CommaIntSlice => Decoded::Ints(comma_int_slice(v)?),
    })
}

/// Go's name for the type a JSON value decodes to.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn unconvertible(name: &str, expected: &str, v: &Value) -> String {
    format!(
        "'{name}' expected type '{expected}', got unconvertible type '{}'",
        go_type(v)
    )
}

/// mapstructure's weak decoding into a Go `int`.
pub fn weak_int(v: &Value, name: &str) -> Result<i64, String> {
    let text = match v {
        Value::Null => return Ok(0),
        Value::Bool(b) => return Ok(i64::from(*b)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(unconvertible(name, "int", other)),
    };
    if text.is_empty() {
        return Ok(0);
    }
    parse_go_int(&text)
        .map_err(|e| format!("'{name}' cannot parse value as 'int': strconv.ParseInt: {e}"))
}

/// mapstructure's weak decoding into a Go `bool`.
pub fn weak_bool(v: &Value, name: &str) -> Result<bool, String> {
    let text = match v {
        Value::Null => return Ok(false),
        Value::Bool(b) => return Ok(*b),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(unconvertible(name, "bool", other)),
    };
    match text.as_str() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Ok(false),
        _ => Err(format!(
            "'{name}' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"
        )),
    }
}

/// mapstructure's weak decoding into a Go `string`.
pub fn weak_string(v: &Value, name: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        other => Err(unconvertible(name, "string", other)),
    }
}

/// mapstructure's weak decoding into `map[string]interface{}`: a list of
/// maps is merged; `null` gives a nil map (`None`).
pub fn weak_map(v: &Value, name: &str) -> Result<Option<Map<String, Value>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m.clone())),
        Value::Array(items) => {
            let mut out = Map::new();
            for (i, item) in items.iter().enumerate() {
                if let Some(m) = weak_map(item, &format!("{name}[{i}]"))? {
                    out.extend(m);
                }
            }
            Ok(Some(out))
        }
        other => Err(unconvertible(name, "map[string]interface {}", other)),
    }
}

/// A comma-separated (or JSON list of) ints, as OpenBao's `TypeCommaIntSlice`.
pub fn comma_int_slice(v: &Value) -> Result<Vec<i64>, String> {
    let items: Vec<Value> = match v {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => s.split(',').map(|p| Value::String(p.to_string())).collect(),
        Value::Number(n) => n
            .to_string()
            .split(',')
            .map(|p| Value::String(p.to_string()))
            .collect(),
        Value::Bool(b) => vec![Value::Bool(*b)],
        Value::Array(a) => a.clone(),
        Value::Object(_) => return Err("'' source data must be an array or slice, got map".into()),
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match weak_int(item, &format!("[{i}]")) {
            Ok(n) => out.push(n),
            Err(e) => errs.push(e),
        }
    }
    if !errs.is_empty() {
        return Err(format!(
            "decoding failed due to the following error(s):\n\n{}",
            errs.join("\n")
        ));
    }
    Ok(out)
}

/// A `TypeDurationSecond`/`TypeSignedDurationSecond` field: `None` for null.
fn duration_field(v: &Value, signed: bool) -> Result<Option<i64>, String> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("could not parse duration from input".into()),
    };
    let secs = parse_duration_second(&text)?;
    if !signed && secs < 0 {
        return Err(format!("cannot provide negative value '{secs}'"));
    }
    Ok(Some(secs))
}

/// Go `strconv.ParseInt(s, 0, 64)`: base prefixes and underscores allowed.
/// The error is `invalid syntax` or `value out of range`.
pub fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    const RANGE: &str = "value out of range";
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return Err(SYNTAX);
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r.to_string(), true)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r.to_string(), true)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        // Underscores may only separate digits (or follow a base prefix).
        let bytes = digits.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'_' {
                let before_ok = if i == 0 {
                    prefixed
                } else {
                    bytes[i - 1] != b'_'
                };
                let after_ok = bytes.get(i + 1).is_some_and(|n| *n != b'_');
                if !before_ok || !after_ok {
                    return Err(SYNTAX);
                }
            }
        }
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        // "0x" alone is invalid; a lone "0" handled above as radix 10.
        return Err(SYNTAX);
    }
    let mut acc: u128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(SYNTAX)?;
        acc = acc * u128::from(radix) + u128::from(d);
        if acc > u128::from(u64::MAX) + 1 {
            // Keep scanning for syntax errors, but the value is out of range.
            acc = u128::from(u64::MAX) + 2;
        }
    }
    if neg {
        if acc > (i64::MAX as u128) + 1 {
            return Err(RANGE);
        }
        Ok((-(acc as i128)) as i64)
    } else {
        if acc > i64::MAX as u128 {
            return Err(RANGE);
        }
        Ok(acc as i64)
    }
}

/// go-secure-stdlib's `ParseDurationSecond` on a string, in whole seconds
/// (truncated): plain integers are seconds, `Nd` is days, anything else is a
/// Go duration (`1h30m`, `1.5s`, `-5m`).
pub fn parse_duration_second(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v);
    }
    if let Some(days) = s.strip_suffix('d') {
        let v = days
            .parse::<i64>()
            .map_err(|_| format!("strconv.ParseInt: parsing {days:?}: invalid syntax"))?;
        return Ok(v.saturating_mul(86_400));
    }
    let nanos = parse_go_duration(s)?;
    Ok((nanos / 1_000_000_000) as i64)
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const MAX: i128 = i64::MAX as i128;
    let mut total: i128 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut v: i128 = 0;
        for b in int_part.bytes() {
            v = v * 10 + i128::from(b - b'0');
            if v > MAX {
                return Err(invalid());
            }
        }
        // Fraction.
        let mut frac: i128 = 0;
        let mut scale: i128 = 1;
        let mut has_frac = false;
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            for b in rest[..frac_len].bytes() {
                if scale < 1_000_000_000_000_000_000 {
                    frac = frac * 10 + i128::from(b - b'0');
                    scale *= 10;
                }
            }
            has_frac = frac_len > 0;
            s = &rest[frac_len..];
        }
        if int_len == 0 && !has_frac {
            return Err(invalid());
        }
        // Unit.
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let mult: i128 = match unit {
            "ns" => 1,
            "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {orig:?}")),
        };
        let part = v * mult + frac * mult / scale;
        total += part;
        if total > MAX + i128::from(neg) {
            return Err(invalid());
        }
    }
    Ok(if neg { -total } else { total })
}

/// Go's `time.Duration.String()` for a whole number of seconds.
pub fn format_go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let abs = secs.unsigned_abs();
    let (h, m, s) = (abs / 3600, (abs % 3600) / 60, abs % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// Go's `time.RFC3339Nano` for a UTC time (trailing zeros of the fraction dropped).
pub fn go_time(t: &DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    let nanos = t.timestamp_subsec_nanos() % 1_000_000_000;
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// [`go_time`] for an optional time; `""` when unset.
pub fn go_time_opt(t: Option<&DateTime<Utc>>) -> String {
    t.map(go_time).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

/// Sorts the keys of every object, recursively, as Go's JSON encoder does
/// for maps.
pub fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => sort_map(m),
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// [`sort_keys`] for a map.
pub fn sort_map(m: &mut Map<String, Value>) {
    m.sort_keys();
    m.values_mut().for_each(sort_keys);
}

/// An object value with sorted keys turned into response data.
pub fn sorted_data(v: Value) -> Data {
    match v {
        Value::Object(mut m) => {
            sort_map(&mut m);
            m
        }
        _ => Data::new(),
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut t = match target {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            let current = t.remove(k).unwrap_or(Value::Null);
            t.insert(k.clone(), merge_patch(current, v));
        }
    }
    Value::Object(t)
}

/// Go's `unicode.IsPrint` for every character, approximately: no control
/// characters and no spaces other than U+0020.
pub fn printable(s: &str) -> bool {
    s.chars()
        .all(|c| c == ' ' || !(c.is_control() || c.is_whitespace() || is_format_char(c)))
}

fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("12"), Ok(12));
        assert_eq!(parse_go_int("-12"), Ok(-12));
        assert_eq!(parse_go_int("0x1f"), Ok(31));
        assert_eq!(parse_go_int("010"), Ok(8));
        assert_eq!(parse_go_int("0"), Ok(0));
        assert_eq!(parse_go_int("1_000"), Ok(1000));
        assert_eq!(parse_go_int("1.5"), Err("invalid syntax"));
        assert_eq!(parse_go_int("abc"), Err("invalid syntax"));
        assert_eq!(parse_go_int(" 1"), Err("invalid syntax"));
        assert_eq!(
            parse_go_int("99999999999999999999"),
            Err("value out of range")
        );
        assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_go_int("9223372036854775808"),
            Err("value out of range")
        );
    }

    #[test]
    fn weak_decoding_matches_mapstructure_messages() {
        assert_eq!(weak_int(&json!("7"), ""), Ok(7));
        assert_eq!(weak_int(&json!(true), ""), Ok(1));
        assert_eq!(weak_int(&json!(null), ""), Ok(0));
        assert_eq!(
            weak_int(&json!("abc"), ""),
            Err("'' cannot parse value as 'int': strconv.ParseInt: invalid syntax".into())
        );
        assert_eq!(
            weak_int(&json!({}), ""),
            Err("'' expected type 'int', got unconvertible type 'map[string]interface {}'".into())
        );
        assert_eq!(weak_bool(&json!("t"), ""), Ok(true));
        assert_eq!(weak_bool(&json!(0), ""), Ok(false));
        assert_eq!(
            weak_bool(&json!("maybe"), ""),
            Err("'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax".into())
        );
        assert_eq!(weak_string(&json!(true), ""), Ok("1".into()));
        assert_eq!(weak_string(&json!(12), ""), Ok("12".into()));
        assert_eq!(
            weak_map(&json!("x"), ""),
            Err(
                "'' expected type 'map[string]interface {}', got unconvertible type 'string'"
                    .into()
            )
        );
        assert_eq!(
            weak_map(&json!([1]), ""),
            Err("'[0]' expected type 'map[string]interface {}', got unconvertible type 'json.Number'".into())
        );
        assert_eq!(
            weak_map(&json!([{"a": 1}, {"b": 2}]), ""),
            Ok(Some(
                json!({"a": 1, "b": 2})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            ))
        );
        assert_eq!(weak_map(&json!(null), ""), Ok(None));
    }

    #[test]
    fn int_slices() {
        assert_eq!(comma_int_slice(&json!("1,2")), Ok(vec![1, 2]));
        assert_eq!(comma_int_slice(&json!(5)), Ok(vec![5]));
        assert_eq!(comma_int_slice(&json!(["3", 4])), Ok(vec![3, 4]));
        assert_eq!(comma_int_slice(&json!([])), Ok(vec![]));
        assert_eq!(
            comma_int_slice(&json!("x")),
            Err("decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax".into())
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_second("30m"), Ok(1800));
        assert_eq!(parse_duration_second("60"), Ok(60));
        assert_eq!(parse_duration_second("2d"), Ok(172_800));
        assert_eq!(parse_duration_second("1h30m"), Ok(5400));
        assert_eq!(parse_duration_second("1.5h"), Ok(5400));
        assert_eq!(parse_duration_second("1500ms"), Ok(1));
        assert_eq!(parse_duration_second("-5s"), Ok(-5));
        assert_eq!(parse_duration_second(""), Ok(0));
        assert_eq!(
            parse_duration_second("bogus"),
            Err("time: invalid duration \"bogus\"".into())
        );
        assert_eq!(
            parse_duration_second("1.5"),
            Err("time: missing unit in duration \"1.5\"".into())
        );
        assert_eq!(
            parse_duration_second("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(5400), "1h30m0s");
        assert_eq!(format_go_duration(90), "1m30s");
        assert_eq!(format_go_duration(-1), "-1s");
        assert_eq!(
            decode(FieldType::DurationSecond, &json!("-5s")),
            Err("cannot provide negative value '-5'".into())
        );
        assert_eq!(
            decode(FieldType::SignedDurationSecond, &json!("-5s")),
            Ok(Decoded::Seconds(-5))
        );
        assert_eq!(
            decode(FieldType::DurationSecond, &json!(null)),
            Ok(Decoded::Unset)
        );
    }

    #[test]
    fn times_are_go_rfc3339nano() {
        let t = DateTime::parse_from_rfc3339("2026-11-29T10:42:14.849508700Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        assert_eq!(go_time(&t), "2026-11-29T10:42:14.8495087Z");
        let t = DateTime::parse_from_rfc3339("2026-11-29T10:42:14Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        assert_eq!(go_time(&t), "2026-11-29T10:42:14Z");
    }

    #[test]
    fn merge_patch_follows_rfc7396() {
        let out = merge_patch(
            json!({"a": "b", "c": {"d": "e", "f": "g"}}),
            &json!({"a": "z", "c": {"f": null}, "n": {"x": null, "y": 1}}),
        );
        assert_eq!(out, json!({"a": "z", "c": {"d": "e"}, "n": {"y": 1}}));
        assert_eq!(merge_patch(json!({"a": 1}), &json!(null)), json!(null));
        assert_eq!(merge_patch(json!({"a": 1}), &json!([1])), json!([1]));
    }

    #[test]
    fn keys_sort_recursively() {
        let mut v = json!({"b": 1, "a": {"z": 1, "y": [{"k": 1, "j": 2}]}});
        sort_keys(&mut v);
        assert_eq!(
            serde_json::to_string(&v).expect("json"),
            r#"{"a":{"y":[{"j":2,"k":1}],"z":1},"b":1}"#
        );
    }
}
