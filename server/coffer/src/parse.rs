//! Parsing of what clients send: request bodies (JSON or form-encoded), query
//! strings, the token headers, `X-Vault-Wrap-TTL` (Go durations), Go booleans
//! and request paths. Everything here is pure and unit-tested; error texts
//! follow what OpenBao answers.

use std::time::Duration;

use coffer_core::logical::Data;
use http::HeaderMap;
use serde_json::Value;

/// Why a request could not be parsed; the HTTP layer answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not valid JSON, or not of the expected shape
    /// (`failed to decode JSON input: ...`, with Go's wording).
    #[error("failed to decode JSON input: {0}")]
    Json(String),
    /// A form-encoded body Go's `ParseForm` refuses (a bad `%` escape, a `;`).
    #[error("error parsing form data")]
    Form,
    /// `X-Vault-Wrap-TTL` is not a duration.
    #[error("error parsing X-Vault-Wrap-TTL header: {0}")]
    WrapTtl(String),
    /// `X-Vault-Wrap-TTL` is negative.
    #[error("requested wrap ttl cannot be negative")]
    WrapTtlNegative,
}

/// Characters of a MIME token (RFC 2045), as Go's `mime` package sees them.
fn is_token_char(c: char) -> bool {
    c.is_ascii() && c > ' ' && c != '\x7f' && !"()<>@,;:\\\"/[]?=".contains(c)
}

fn consume_token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// One `; key=value` parameter; `None` when malformed.
fn consume_param(s: &str) -> Option<(String, &str)> {
    let rest = s.trim_start().strip_prefix(';')?.trim_start();
    let (key, rest) = consume_token(rest);
    if key.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let rest = if let Some(quoted) = rest.strip_prefix('"') {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in quoted.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i);
                break;
            }
        }
        &quoted[end? + 1..]
    } else {
        let (value, rest) = consume_token(rest);
        if value.is_empty() {
            return None;
        }
        rest
    };
    Some((key.to_ascii_lowercase(), rest))
}

/// Go's `mime.ParseMediaType`: the lower-cased media type, or Go's error
/// text (`mime: no media type`, `mime: invalid media parameter`, ...).
pub fn go_media_type(v: &str) -> Result<String, String> {
    let base = v.split(';').next().unwrap_or("");
    let media = base.trim().to_ascii_lowercase();
    let (typ, rest) = consume_token(&media);
    if typ.is_empty() {
        return Err("mime: no media type".into());
    }
    if !rest.is_empty() {
        let Some(after) = rest.strip_prefix('/') else {
            return Err("mime: expected slash after first token".into());
        };
        let (sub, rest) = consume_token(after);
        if sub.is_empty() {
            return Err("mime: expected token after slash".into());
        }
        if !rest.is_empty() {
            return Err("mime: unexpected content after media subtype".into());
        }
    }
    let mut params = &v[base.len()..];
    let mut seen: Vec<String> = Vec::new();
    loop {
        params = params.trim_start();
        if params.is_empty() {
            break;
        }
        match consume_param(params) {
            Some((key, rest)) => {
                if seen.contains(&key) {
                    return Err("mime: duplicate parameter name".into());
                }
                seen.push(key);
                params = rest;
            }
            None if params.trim() == ";" => break,
            None => return Err("mime: invalid media parameter".into()),
        }
    }
    Ok(media)
}

/// The media type of a `Content-Type` value, lower-cased, without
/// parameters; `None` when absent or unparsable.
pub fn media_type(content_type: Option<&str>) -> Option<String> {
    go_media_type(content_type?).ok()
}

/// Vault's `isForm`: a body is form-encoded only when the media type says so
/// AND the body does not start (after whitespace) with `{` or `[`.
pub fn is_form(content_type: Option<&str>, body: &[u8]) -> bool {
    if media_type(content_type).as_deref() != Some("application/x-www-form-urlencoded") {
        return false;
    }
    for &c in body.iter().take(512) {
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => continue,
            b'{' | b'[' => return false,
            _ => return true,
        }
    }
    true
}

/// Parses a write body (PUT/POST): form-encoded when [`is_form`], JSON
/// otherwise. An empty body (or JSON `null`) is empty data.
pub fn parse_write_body(content_type: Option<&str>, body: &[u8]) -> Result<Data, ParseError> {
    if is_form(content_type, body) {
        parse_form(body)
    } else {
        parse_json_object(body)
    }
}

/// Parses a form-encoded body as Go's `ParseForm` does (a malformed pair is an
/// error); repeated keys are joined with `,` as Vault does.
pub fn parse_form(body: &[u8]) -> Result<Data, ParseError> {
    let (pairs, err) = go_parse_query(body);
    if err.is_some() {
        return Err(ParseError::Form);
    }
    let mut data = Data::new();
    for (k, v) in pairs {
        match data.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                data.insert(k, Value::String(v));
            }
        }
    }
    Ok(data)
}

/// Go's `url.QueryUnescape`.
fn go_unescape(s: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let ok =
                    i + 2 < s.len() && s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit();
                if !ok {
                    let bad = &s[i..s.len().min(i + 3)];
                    return Err(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(bad)
                    ));
                }
                let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(s[i + 1]) * 16 + hex(s[i + 2]));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.ParseQuery`: the pairs that parse, in order, and the first
/// error (a bad `%` escape, or a `;` in a pair, which Go refuses).
pub fn go_parse_query(input: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    let mut pairs = Vec::new();
    let mut first_err = None;
    for part in input.split(|&b| b == b'&') {
        if part.is_empty() {
            continue;
        }
        if part.contains(&b';') {
            first_err.get_or_insert_with(|| "invalid semicolon separator in query".to_string());
            continue;
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &part[part.len()..]),
        };
        match (go_unescape(k), go_unescape(v)) {
            (Ok(k), Ok(v)) => pairs.push((k, v)),
            (Err(e), _) | (_, Err(e)) => {
                first_err.get_or_insert(e);
            }
        }
    }
    (pairs, first_err)
}

/// The first JSON value of a body that passed Go's syntax check (invalid
/// UTF-8 inside strings is replaced, as Go does); `None` for an empty body.
fn first_json_value(body: &[u8]) -> Result<Option<Value>, ParseError> {
    if body.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(None);
    }
    crate::gojson::check_stream(body).map_err(|e| ParseError::Json(e.to_string()))?;
    let text = String::from_utf8_lossy(body);
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    match stream.next() {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(e)) => Err(ParseError::Json(json_error_text(&e))),
    }
}

/// Parses a JSON body as OpenBao does: the whole body must be a valid stream
/// of JSON values (Go's syntax errors otherwise), and the first one must be
/// an object; `null` and an empty body give empty data.
pub fn parse_json_object(body: &[u8]) -> Result<Data, ParseError> {
    match first_json_value(body)? {
        None | Some(Value::Null) => Ok(Data::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(ParseError::Json(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            crate::gojson::kind(&other)
        ))),
    }
}

/// Deserialises a JSON body into a typed struct; an empty body is
/// `T::default()`. Type errors are serde's; see [`parse_go_struct`] for Go's.
pub fn parse_json_struct<T>(body: &[u8]) -> Result<T, ParseError>
where
    T: serde::de::DeserializeOwned + Default,
{
    match first_json_value(body)? {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| ParseError::Json(e.to_string())),
    }
}

/// Decodes a JSON body as Go decodes it into the struct `type_name` with
/// `fields` (see [`crate::gojson::decode_struct`]): the known fields under
/// their canonical names, or Go's error text.
pub fn parse_go_struct(
    body: &[u8],
    type_name: &str,
    fields: &[(&str, crate::gojson::GoType)],
) -> Result<Data, ParseError> {
    match first_json_value(body)? {
        None => Ok(Data::new()),
        Some(v) => crate::gojson::decode_struct(&v, type_name, fields).map_err(ParseError::Json),
    }
}

fn json_error_text(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "unexpected EOF".to_string()
    } else {
        e.to_string()
    }
}

/// Query parameters in order; `+` is a space and `%XX` escapes are decoded.
/// Malformed pairs are dropped, as Go's `r.URL.Query()` drops them.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    go_parse_query(query.as_bytes()).0
}

/// The first value of a query parameter (Go's `r.URL.Query()[k][0]`).
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Query parameters as request data (Vault's `parseQuery`): one value is a
/// string, repeated keys become an array of strings; `help` and the keys in
/// `skip` are left out.
pub fn query_data(pairs: &[(String, String)], skip: &[&str]) -> Data {
    let mut data = Data::new();
    for (k, v) in pairs {
        if k == "help" || skip.contains(&k.as_str()) {
            continue;
        }
        match data.get_mut(k) {
            Some(Value::Array(items)) => items.push(Value::String(v.clone())),
            Some(existing) => {
                let prev = existing.take();
                *existing = Value::Array(vec![prev, Value::String(v.clone())]);
            }
            None => {
                data.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    data
}

/// Go's `strconv.ParseBool`.
pub fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The client token: `X-Vault-Token`, else `Authorization: Bearer <token>`.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        if !v.is_empty() {
            return Some(v.to_string());
        }
    }
    for v in headers.get_all(http::header::AUTHORIZATION) {
        let Ok(v) = v.to_str() else { continue };
        if let Some(rest) = v.strip_prefix("Bearer ") {
            let t = rest.trim();
            if !t.is_empty() {
                return Some(t.to_string());
            }
        }
    }
    None
}

/// Parses `X-Vault-Wrap-TTL` as Vault's `ParseDurationSecond`: a bare integer
/// is seconds, `Nd` is days, anything else a Go duration. Zero means no wrapping.
pub fn wrap_ttl(headers: &HeaderMap) -> Result<Option<Duration>, ParseError> {
    let Some(raw) = headers.get("x-vault-wrap-ttl") else {
        return Ok(None);
    };
    let s = raw
        .to_str()
        .map_err(|_| ParseError::WrapTtl("time: invalid duration".to_string()))?;
    if s.is_empty() {
        return Ok(None);
    }
    let nanos = parse_duration_second(s).map_err(ParseError::WrapTtl)?;
    if nanos < 0 {
        return Err(ParseError::WrapTtlNegative);
    }
    if nanos == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_nanos(nanos as u64)))
}

/// Vault's `parseutil.ParseDurationSecond`, in nanoseconds.
pub fn parse_duration_second(s: &str) -> Result<i128, String> {
    if let Ok(v) = s.parse::<i64>() {
        return Ok(i128::from(v) * 1_000_000_000);
    }
    if let Some(days) = s.strip_suffix('d') {
        return days
            .parse::<i64>()
            .map(|d| i128::from(d) * 86_400 * 1_000_000_000)
            .map_err(|_| format!("strconv.ParseInt: parsing {days:?}: invalid syntax"));
    }
    parse_go_duration(s)
}

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error texts.
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
    let mut total: i128 = 0;
    while !s.is_empty() {
        // Leading integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
            if int_len == 0 && frac_len == 0 {
                return Err(invalid());
            }
        } else if int_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {orig:?}")),
        };
        let int_val: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<i128>().map_err(|_| invalid())?
        };
        let mut value = int_val.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let mut frac_scale = scale;
            for d in frac_part.bytes().take(30) {
                frac_scale /= 10;
                value += i128::from(d - b'0') * frac_scale;
            }
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i128::from(i64::MAX) {
            return Err(invalid());
        }
    }
    Ok(if neg { -total } else { total })
}

/// Decodes `%XX` escapes of a URL path; `None` for invalid UTF-8 after decoding.
pub fn percent_decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (hi, lo) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a decoded path for a `Location` header (as Go's
/// `url.URL.String` does for paths).
pub fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `path.Clean` as `http.ServeMux` applies it (a trailing slash is kept).
/// Returns `None` when the path is already clean.
pub fn clean_path(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut cleaned = format!("/{}", parts.join("/"));
    if p.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    if cleaned == p {
        None
    } else {
        Some(cleaned)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_detection_follows_vault() {
        let form = Some("application/x-www-form-urlencoded");
        assert!(is_form(form, b"a=1&b=2"));
        assert!(is_form(form, b"   "));
        assert!(is_form(form, b""));
        assert!(is_form(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=1"
        ));
        assert!(!is_form(form, b"  {\"a\":1}"));
        assert!(!is_form(form, b"[1]"));
        assert!(!is_form(Some("application/json"), b"a=1"));
        assert!(!is_form(None, b"a=1"));
    }

    #[test]
    fn form_bodies_are_parsed_as_go_does() {
        let form = Some("application/x-www-form-urlencoded");
        for bad in [&b"a=%zz"[..], b"a=1;b=2", b"a=%4", b"%=1"] {
            assert_eq!(
                parse_write_body(form, bad),
                Err(ParseError::Form),
                "{bad:?}"
            );
        }
        assert_eq!(ParseError::Form.to_string(), "error parsing form data");
        let d = parse_write_body(form, b"&&a=1&&").unwrap();
        assert_eq!(Value::Object(d), json!({"a": "1"}));
        // Query strings drop the malformed pairs instead.
        assert_eq!(
            query_pairs("a=%zz&b=1&c;d=2"),
            vec![("b".to_string(), "1".to_string())]
        );
        assert_eq!(
            go_parse_query(b"a=%zz").1.as_deref(),
            Some("invalid URL escape \"%zz\"")
        );
    }

    #[test]
    fn media_types_as_go_parses_them() {
        assert_eq!(
            go_media_type("application/merge-patch+json").as_deref(),
            Ok("application/merge-patch+json")
        );
        assert_eq!(
            go_media_type("Text/Plain; charset=UTF-8").as_deref(),
            Ok("text/plain")
        );
        assert_eq!(go_media_type("text/plain;").as_deref(), Ok("text/plain"));
        assert_eq!(
            go_media_type("a/b; x=\"q;\\\"\"; y=z").as_deref(),
            Ok("a/b")
        );
        assert_eq!(go_media_type("text").as_deref(), Ok("text"));
        assert_eq!(go_media_type(""), Err("mime: no media type".to_string()));
        assert_eq!(go_media_type("/x"), Err("mime: no media type".to_string()));
        assert_eq!(
            go_media_type("a b"),
            Err("mime: expected slash after first token".to_string())
        );
        assert_eq!(
            go_media_type("a/"),
            Err("mime: expected token after slash".to_string())
        );
        assert_eq!(
            go_media_type("a/b c"),
            Err("mime: unexpected content after media subtype".to_string())
        );
        assert_eq!(
            go_media_type("a/b; x"),
            Err("mime: invalid media parameter".to_string())
        );
        assert_eq!(
            go_media_type("a/b; x=1; X=2"),
            Err("mime: duplicate parameter name".to_string())
        );
    }

    #[test]
    fn form_bodies_join_repeated_keys() {
        let d =
            parse_write_body(Some("application/x-www-form-urlencoded"), b"a=1&b=2&a=3&c").unwrap();
        assert_eq!(Value::Object(d), json!({"a": "1,3", "b": "2", "c": ""}));
        let d = parse_write_body(Some("application/x-www-form-urlencoded"), b"k=a%20b+c").unwrap();
        assert_eq!(Value::Object(d), json!({"k": "a b c"}));
    }

    #[test]
    fn json_bodies() {
        let d = parse_write_body(None, br#"{"data":{"x":"1"}}"#).unwrap();
        assert_eq!(Value::Object(d), json!({"data": {"x": "1"}}));
        assert!(parse_write_body(None, b"").unwrap().is_empty());
        assert!(parse_write_body(None, b" \n").unwrap().is_empty());
        assert!(parse_write_body(None, b"null").unwrap().is_empty());
        // Further values after the first are checked but not used; anything
        // else after it is a syntax error (OpenBao scans the whole body).
        let d = parse_write_body(None, br#"{"a":1} {"b":2}"#).unwrap();
        assert_eq!(Value::Object(d), json!({"a": 1}));
        assert_eq!(
            parse_write_body(None, br#"{"data":{}} trailing"#)
                .unwrap_err()
                .to_string(),
            "failed to decode JSON input: invalid character 'a' in literal true (expecting 'u')"
        );
        // Invalid UTF-8 inside strings is replaced, as Go does.
        let d = parse_write_body(None, b"{\"a\":\"x\xffy\"}").unwrap();
        assert_eq!(Value::Object(d), json!({"a": "x\u{fffd}y"}));
        // A form content type with a JSON-looking body is JSON.
        let d = parse_write_body(Some("application/x-www-form-urlencoded"), br#"{"a":1}"#).unwrap();
        assert_eq!(Value::Object(d), json!({"a": 1}));
    }

    #[test]
    fn json_errors() {
        assert_eq!(
            parse_write_body(None, br#"{"data":"#)
                .unwrap_err()
                .to_string(),
            "failed to decode JSON input: unexpected EOF"
        );
        assert_eq!(
            parse_write_body(None, b"[1,2]").unwrap_err().to_string(),
            "failed to decode JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        let e = parse_write_body(Some("application/json"), b"not json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "failed to decode JSON input: invalid character 'o' in literal null (expecting 'u')"
        );
        assert!(parse_write_body(None, b"\"s\"").is_err());
        assert!(parse_write_body(None, b"5").is_err());
    }

    #[derive(serde::Deserialize, Default, Debug)]
    struct S {
        #[serde(default)]
        key: Option<String>,
    }

    #[test]
    fn json_structs() {
        assert_eq!(parse_json_struct::<S>(b"").unwrap().key, None);
        assert_eq!(
            parse_json_struct::<S>(br#"{"key":"k","x":1}"#)
                .unwrap()
                .key
                .as_deref(),
            Some("k")
        );
        assert!(parse_json_struct::<S>(br#"{"key":5}"#).is_err());
        assert!(parse_json_struct::<S>(b"key=abc").is_err());
    }

    #[test]
    fn query_parsing() {
        let pairs = query_pairs("list=true&a=1&b=x+y&a=2&help=1&c=%2F");
        assert_eq!(first(&pairs, "list"), Some("true"));
        assert_eq!(first(&pairs, "b"), Some("x y"));
        let d = query_data(&pairs, &["list"]);
        assert_eq!(
            Value::Object(d),
            json!({"a": ["1", "2"], "b": "x y", "c": "/"})
        );
        assert!(query_pairs("").is_empty());
        assert_eq!(query_pairs("activecode=+200")[0].1, " 200");
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(go_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(go_bool(f), Some(false));
        }
        for bad in ["", "yes", "tRuE", "2"] {
            assert_eq!(go_bool(bad), None);
        }
    }

    #[test]
    fn tokens_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(request_token(&h), None);
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(request_token(&h).as_deref(), Some("abc"));
        h.insert("x-vault-token", "xyz".parse().unwrap());
        assert_eq!(request_token(&h).as_deref(), Some("xyz"));
        let mut h = HeaderMap::new();
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(request_token(&h), None);
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(request_token(&h), None);
    }

    #[test]
    fn wrap_ttls() {
        let ttl = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-vault-wrap-ttl", v.parse().unwrap());
            wrap_ttl(&h)
        };
        assert_eq!(ttl("300").unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(ttl("5m").unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(ttl("1s").unwrap(), Some(Duration::from_secs(1)));
        assert_eq!(ttl("1h30m").unwrap(), Some(Duration::from_secs(5400)));
        assert_eq!(ttl("1.5s").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(ttl("2d").unwrap(), Some(Duration::from_secs(2 * 86400)));
        assert_eq!(ttl("0").unwrap(), None);
        assert_eq!(
            ttl("abc").unwrap_err().to_string(),
            "error parsing X-Vault-Wrap-TTL header: time: invalid duration \"abc\""
        );
        assert_eq!(ttl("-5s").unwrap_err(), ParseError::WrapTtlNegative);
        assert!(ttl("5x")
            .unwrap_err()
            .to_string()
            .contains("unknown unit \"x\""));
        assert!(ttl("1.5").unwrap_err().to_string().contains("missing unit"));
        assert_eq!(wrap_ttl(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1ms"), Ok(1_000_000));
        assert_eq!(parse_go_duration("-1m"), Ok(-60_000_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(percent_decode_path("/v1/a%20b").as_deref(), Some("/v1/a b"));
        assert_eq!(percent_decode_path("/v1/a%2").as_deref(), Some("/v1/a%2"));
        assert_eq!(percent_decode_path("/v1/a%zz").as_deref(), Some("/v1/a%zz"));
        assert_eq!(percent_decode_path("/v1/%ff"), None);
        assert_eq!(clean_path("/v1/secret/data/x"), None);
        assert_eq!(clean_path("/v1/secret/"), None);
        assert_eq!(
            clean_path("/v1/secret/../sys/mounts").as_deref(),
            Some("/v1/sys/mounts")
        );
        assert_eq!(
            clean_path("/v1//sys/./health").as_deref(),
            Some("/v1/sys/health")
        );
        assert_eq!(clean_path("/v1/../../x/").as_deref(), Some("/x/"));
    }

    #[test]
    fn escaped_paths() {
        assert_eq!(escape_path("/v1/sys/health"), "/v1/sys/health");
        assert_eq!(escape_path("/v1/a b/é"), "/v1/a%20b/%C3%A9");
        assert_eq!(escape_path("/x?y#z%"), "/x%3Fy%23z%25");
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type(Some("Application/JSON; charset=utf-8")).as_deref(),
            Some("application/json")
        );
        assert_eq!(media_type(Some("")), None);
        assert_eq!(media_type(None), None);
    }
}
