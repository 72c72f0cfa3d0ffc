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
    /// The body is not valid JSON (`failed to decode JSON input: ...`).
    #[error("failed to decode JSON input: {0}")]
    Json(String),
    /// `X-Vault-Wrap-TTL` is not a duration.
    #[error("error parsing X-Vault-Wrap-TTL header: {0}")]
    WrapTtl(String),
    /// `X-Vault-Wrap-TTL` is negative.
    #[error("requested wrap ttl cannot be negative")]
    WrapTtlNegative,
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
pub fn media_type(content_type: Option<&str>) -> Option<String> {
    let ct = content_type?;
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if base.is_empty() {
        None
    } else {
        Some(base)
    }
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
        Ok(parse_form(body))
    } else {
        parse_json_object(body)
    }
}

/// Parses a form-encoded body; repeated keys are joined with `,` as Vault does.
pub fn parse_form(body: &[u8]) -> Data {
    let mut data = Data::new();
    for (k, v) in form_pairs(body) {
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
    data
}

fn form_pairs(input: &[u8]) -> Vec<(String, String)> {
    // serde_urlencoded never fails on a `Vec<(String, String)>` target for
    // well-formed UTF-8; invalid UTF-8 is decoded lossily by form_urlencoded.
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(input).unwrap_or_default()
}

/// Parses the first JSON value of `body` (trailing data is ignored, as Go's
/// decoder does) and requires an object; `null` and an empty body give empty data.
pub fn parse_json_object(body: &[u8]) -> Result<Data, ParseError> {
    if body.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(Data::new());
    }
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    match stream.next() {
        None => Ok(Data::new()),
        Some(Err(e)) => Err(ParseError::Json(json_error_text(&e))),
        Some(Ok(Value::Object(m))) => Ok(m),
        Some(Ok(Value::Null)) => Ok(Data::new()),
        Some(Ok(other)) => Err(ParseError::Json(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_json_kind(&other)
        ))),
    }
}

/// Deserialises a JSON body into a typed struct (lifecycle endpoints); an
/// empty body is `T::default()`.
pub fn parse_json_struct<T>(body: &[u8]) -> Result<T, ParseError>
where
    T: serde::de::DeserializeOwned + Default,
{
    if body.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let value = match stream.next() {
        None => return Ok(T::default()),
        Some(Err(e)) => return Err(ParseError::Json(json_error_text(&e))),
        Some(Ok(Value::Null)) => return Ok(T::default()),
        Some(Ok(v)) => v,
    };
    serde_json::from_value(value).map_err(|e| ParseError::Json(e.to_string()))
}

fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "object",
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
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_pairs(query.as_bytes())
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
        // Trailing data after the first value is ignored, as in Go.
        let d = parse_write_body(None, br#"{"a":1} {"b":2}"#).unwrap();
        assert_eq!(Value::Object(d), json!({"a": 1}));
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
        assert!(e.starts_with("failed to decode JSON input: "), "{e}");
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
    fn media_types() {
        assert_eq!(
            media_type(Some("Application/JSON; charset=utf-8")).as_deref(),
            Some("application/json")
        );
        assert_eq!(media_type(Some("")), None);
        assert_eq!(media_type(None), None);
    }
}
