//! Request-field parsing with the semantics of Vault's `framework` package
//! (weakly typed JSON: numbers as strings, strings as numbers, comma lists),
//! Go duration parsing, Go time formatting, and the TTL arithmetic of
//! `framework.CalculateTTL`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::logical::Data;

/// The field types the token endpoints use (as in Vault's `framework`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Bool,
    Int,
    /// Seconds from `"1h"`, `"30m"`, `"3600"`, `3600`; negative values are refused.
    DurationSecond,
    /// A JSON list (or a single string) of strings.
    StringSlice,
    /// A JSON list or a comma-separated string.
    CommaStringSlice,
    /// A map of strings, or a list of `k=v` strings.
    KvPairs,
}

/// Go's name for a JSON value's decoded type, for error messages.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Weakly decodes a scalar into a string as mapstructure does.
fn weak_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "1".into() } else { "0".into() }),
        Value::Null => Ok(String::new()),
        other => Err(format!(
            "'' expected type 'string', got unconvertible type '{}'",
            go_type(other)
        )),
    }
}

/// Parses a string as Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A boolean field.
pub fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().map(|f| f != 0.0).unwrap_or(false)),
        Value::String(s) if s.is_empty() => Ok(false),
        Value::String(s) => parse_go_bool(s).ok_or_else(|| {
            "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax".to_string()
        }),
        Value::Null => Ok(false),
        other => Err(format!(
            "'' expected type 'bool', got unconvertible type '{}'",
            go_type(other)
        )),
    }
}

/// An integer field.
pub fn to_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9.0e18 {
                    Ok(f as i64)
                } else {
                    Err(format!(
                        "error decoding json.Number into : strconv.ParseInt: parsing \"{n}\": invalid syntax"
                    ))
                }
            } else {
                Err("'' cannot parse value as 'int': strconv.ParseInt: invalid syntax".into())
            }
        }
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => parse_go_int(s).ok_or_else(|| {
            "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax".to_string()
        }),
        Value::Null => Ok(0),
        other => Err(format!(
            "'' expected type 'int', got unconvertible type '{}'",
            go_type(other)
        )),
    }
}

/// `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`, `0b` and leading-zero octal.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let body = body.replace('_', "");
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d.to_string())
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d.to_string())
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d.to_string())
        } else if body.len() > 1 && body.starts_with('0') {
            (8, body[1..].to_string())
        } else {
            (10, body.clone())
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Parses a duration as Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
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
        let bytes = s.as_bytes();
        if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let pre = int_len > 0;
        let mut v: i128 = 0;
        for d in int_part.bytes() {
            v = v * 10 + i128::from(d - b'0');
            if v > i128::from(i64::MAX) {
                return Err(invalid());
            }
        }
        // Fraction.
        let mut frac: i128 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.starts_with('.') {
            s = &s[1..];
            let flen = s.bytes().take_while(|b| b.is_ascii_digit()).count();
            post = flen > 0;
            let mut overflow = false;
            for d in s[..flen].bytes() {
                if overflow {
                    continue;
                }
                if frac > i128::from(i64::MAX) / 10 {
                    overflow = true;
                    continue;
                }
                frac = frac * 10 + i128::from(d - b'0');
                scale *= 10.0;
            }
            s = &s[flen..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let unit_str = &s[..unit_len];
        s = &s[unit_len..];
        let unit: i128 = match unit_str {
            "ns" => 1,
            "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit_str),
                    go_quote(orig)
                ))
            }
        };
        let mut part = v.checked_mul(unit).ok_or_else(invalid)?;
        if frac > 0 {
            part += (frac as f64 * (unit as f64 / scale)) as i128;
        }
        total += part;
        if total > i128::from(i64::MAX) + 1 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok(-total);
    }
    if total > i128::from(i64::MAX) {
        return Err(invalid());
    }
    Ok(total)
}

/// Go's `%q`-style quoting (enough for error messages).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `parseutil.ParseDurationSecond` on a string: integers are seconds, `Nd` is
/// days, anything else is a Go duration. Returns whole seconds (may be negative).
pub fn parse_duration_str(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v);
    }
    if let Some(days) = s.strip_suffix('d') {
        return days
            .parse::<i64>()
            .map(|d| d.saturating_mul(86_400))
            .map_err(|_| {
                format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    go_quote(days)
                )
            });
    }
    let ns = parse_go_duration(s)?;
    Ok((ns / 1_000_000_000) as i64)
}

/// `parseutil.ParseDurationSecond` on a JSON value, in whole seconds.
pub fn parse_duration_value(v: &Value) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        Value::String(s) => parse_duration_str(s),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else {
                parse_duration_str(&n.to_string())
            }
        }
        _ => Err("could not parse duration from input".into()),
    }
}

/// A `TypeDurationSecond` field: whole seconds, never negative.
pub fn to_duration_second(v: &Value) -> Result<u64, String> {
    let secs = parse_duration_value(v)?;
    if secs < 0 {
        return Err(format!("cannot provide negative value '{secs}'"));
    }
    Ok(secs as u64)
}

/// A `TypeStringSlice` field.
pub fn to_string_slice(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Array(_) | Value::Object(_) => Err(format!(
                    "decoding failed due to the following error(s):\n\n'[{i}]' expected type 'string', got unconvertible type '{}'",
                    go_type(item)
                )),
                other => weak_string(other).map(|s| s.trim().to_string()),
            })
            .collect(),
        Value::Object(_) => Err(format!(
            "'' expected type '[]string', got unconvertible type '{}'",
            go_type(v)
        )),
        other => weak_string(other).map(|s| vec![s.trim().to_string()]),
    }
}

/// A `TypeCommaStringSlice` field.
pub fn to_comma_string_slice(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_string()).collect()),
        Value::Number(n) => Ok(vec![n.to_string()]),
        other => to_string_slice(other),
    }
}

/// A `TypeKVPairs` field.
pub fn to_kv_pairs(v: &Value) -> Result<BTreeMap<String, String>, String> {
    match v {
        Value::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, val) in m {
                let s = weak_string(val).map_err(|_| {
                    format!(
                        "'[{k}]' expected type 'string', got unconvertible type '{}'",
                        go_type(val)
                    )
                })?;
                out.insert(k.clone(), s);
            }
            Ok(out)
        }
        other => {
            let list = to_string_slice(other)?;
            let mut out = BTreeMap::new();
            for pair in list {
                match pair.split_once('=') {
                    Some((k, val)) if !k.is_empty() => {
                        out.insert(k.to_string(), val.to_string());
                    }
                    _ => return Err(format!("invalid key pair {}", go_quote(&pair))),
                }
            }
            Ok(out)
        }
    }
}

/// Checks one field's value against its type.
pub fn validate(ty: FieldType, v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    match ty {
        FieldType::String => weak_string(v).map(|_| ()),
        FieldType::Bool => to_bool(v).map(|_| ()),
        FieldType::Int => to_int(v).map(|_| ()),
        FieldType::DurationSecond => to_duration_second(v).map(|_| ()),
        FieldType::StringSlice => to_string_slice(v).map(|_| ()),
        FieldType::CommaStringSlice => to_comma_string_slice(v).map(|_| ()),
        FieldType::KvPairs => to_kv_pairs(v).map(|_| ()),
    }
}

/// Typed access to a request's data after validation.
pub struct Fields<'a> {
    pub data: &'a Data,
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a Data) -> Self {
        Fields { data }
    }

    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.data.get(key).filter(|v| !v.is_null())
    }

    /// Whether the field was given (and is not null).
    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub fn string(&self, key: &str) -> String {
        self.raw(key)
            .and_then(|v| weak_string(v).ok())
            .unwrap_or_default()
    }

    pub fn bool_opt(&self, key: &str) -> Option<bool> {
        self.raw(key).and_then(|v| to_bool(v).ok())
    }

    pub fn int(&self, key: &str) -> i64 {
        self.raw(key).and_then(|v| to_int(v).ok()).unwrap_or(0)
    }

    pub fn int_opt(&self, key: &str) -> Option<i64> {
        self.raw(key).and_then(|v| to_int(v).ok())
    }

    pub fn duration_opt(&self, key: &str) -> Option<u64> {
        self.raw(key).and_then(|v| to_duration_second(v).ok())
    }

    pub fn string_slice(&self, key: &str) -> Vec<String> {
        self.raw(key)
            .and_then(|v| to_string_slice(v).ok())
            .unwrap_or_default()
    }

    pub fn comma_slice_opt(&self, key: &str) -> Option<Vec<String>> {
        self.raw(key).and_then(|v| to_comma_string_slice(v).ok())
    }

    pub fn kv_pairs_opt(&self, key: &str) -> Option<BTreeMap<String, String>> {
        self.raw(key).and_then(|v| to_kv_pairs(v).ok())
    }
}

/// Go's `time.Duration.String()` with zero components trimmed, as Vault's
/// `humanDuration` prints TTLs in warnings (`768h`, `1h30m`, `45s`).
pub fn human_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let neg = secs < 0;
    let mut s = secs.unsigned_abs();
    let h = s / 3600;
    s %= 3600;
    let m = s / 60;
    let sec = s % 60;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if h > 0 {
        out.push_str(&format!("{h}h{m}m{sec}s"));
    } else if m > 0 {
        out.push_str(&format!("{m}m{sec}s"));
    } else {
        out.push_str(&format!("{sec}s"));
    }
    if out.ends_with("m0s") {
        out.truncate(out.len() - 2);
    }
    if let Some(idx) = out.find("h0m") {
        if idx > 0 {
            out = format!("{}{}", &out[..=idx], &out[idx + 3..]);
        }
    }
    out
}

/// Formats a time as Go's JSON encoding does (RFC 3339, nanoseconds with
/// trailing zeros removed).
pub fn go_time(t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// Truncates a time to whole seconds.
pub fn trunc_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The system view a TTL is computed against: the mount's default and max
/// lease TTLs, falling back to the system's.
#[derive(Debug, Clone, Copy)]
pub struct TtlLimits {
    pub default_ttl: Duration,
    pub max_ttl: Duration,
}

/// `framework.CalculateTTL`: the TTL for a new or renewed lease, with the
/// warnings Vault gives when it caps a value. All durations in whole seconds.
pub fn calculate_ttl(
    sys: TtlLimits,
    increment: u64,
    backend_ttl: u64,
    period: u64,
    backend_max_ttl: u64,
    explicit_max_ttl: u64,
    start: Option<DateTime<Utc>>,
) -> Result<(u64, Vec<String>), String> {
    let now = trunc_secs(Utc::now());
    let start = start.map(trunc_secs).unwrap_or(now);
    let mut warnings = Vec::new();

    let mut max_ttl = sys.max_ttl.as_secs();
    if backend_max_ttl > 0 && backend_max_ttl < max_ttl {
        max_ttl = backend_max_ttl;
    }
    if explicit_max_ttl > 0 && explicit_max_ttl < max_ttl {
        max_ttl = explicit_max_ttl;
    }
    if max_ttl == 0 {
        return Err("max TTL must be greater than zero".into());
    }

    let mut ttl: u64;
    let mut max_valid: Option<DateTime<Utc>> = None;
    if period > 0 {
        let mut period = period;
        if period > max_ttl {
            warnings.push(format!(
                "period of {} exceeded the effective max_ttl of {}; period value is capped accordingly",
                go_quote(&human_duration(period as i64)),
                go_quote(&human_duration(max_ttl as i64))
            ));
            period = max_ttl;
        }
        ttl = period;
        if explicit_max_ttl > 0 {
            max_valid = Some(start + chrono::Duration::seconds(explicit_max_ttl as i64));
        }
    } else {
        ttl = if increment > 0 {
            increment
        } else if backend_ttl > 0 {
            backend_ttl
        } else {
            sys.default_ttl.as_secs()
        };
        max_valid = Some(start + chrono::Duration::seconds(max_ttl as i64));
    }

    if let Some(mv) = max_valid {
        let max_valid_ttl = (mv - now).num_seconds();
        if max_valid_ttl <= 0 {
            return Err("past the max TTL, cannot renew".into());
        }
        if max_valid_ttl < ttl as i64 {
            warnings.push(format!(
                "TTL of {} exceeded the effective max_ttl of {}; TTL value is capped accordingly",
                go_quote(&human_duration(ttl as i64)),
                go_quote(&human_duration(max_valid_ttl))
            ));
            ttl = max_valid_ttl as u64;
        }
    }
    Ok((ttl, warnings))
}

/// `policyutil.SanitizePolicies`: lower-cased, trimmed, without empties or
/// duplicates, sorted; `root` alone when present; `default` added on request.
pub fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut list: Vec<String> = policies.iter().map(|p| p.trim().to_lowercase()).collect();
    let mut default_found = false;
    if list.iter().any(|p| p == "root") {
        list = vec!["root".into()];
        default_found = true;
    } else if list.iter().any(|p| p == "default") {
        default_found = true;
    }
    if add_default && (list.is_empty() || !default_found) {
        list.push("default".into());
    }
    remove_duplicates(&list, true)
}

/// `strutil.RemoveDuplicates`: trimmed, without empties, optionally
/// lower-cased, sorted.
pub fn remove_duplicates(items: &[String], lowercase: bool) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|i| i.trim())
        .filter(|i| !i.is_empty())
        .map(|i| {
            if lowercase {
                i.to_lowercase()
            } else {
                i.to_string()
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `ryanuber/go-glob`: `*` matches any run of characters.
pub fn glob_match(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() {
        return subject.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return subject == pattern;
    }
    let leading = pattern.starts_with('*');
    let trailing = pattern.ends_with('*');
    let end = parts.len() - 1;
    let mut subj = subject;
    for (i, part) in parts.iter().enumerate().take(end) {
        match subj.find(part) {
            Some(idx) => {
                if i == 0 && !leading && idx != 0 {
                    return false;
                }
                subj = &subj[idx + part.len()..];
            }
            None => return false,
        }
    }
    trailing || subj.ends_with(parts[end])
}

/// Whether any glob in `list` matches `item`.
pub fn list_contains_glob(list: &[String], item: &str) -> bool {
    list.iter().any(|g| glob_match(g, item))
}

/// Parses a CIDR or address as `parseutil.ParseAddrs` accepts it, and returns
/// the form Vault prints (`127.0.0.1` for a /32, `10.0.0.0/8`).
pub fn normalize_cidr(s: &str) -> Result<String, String> {
    let s = s.trim();
    let err = || {
        format!(
            "error parsing address {}: Unable to convert {} to an IPv4 or IPv6 address, or a UNIX Socket",
            go_quote(s),
            go_quote(s)
        )
    };
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| err())?)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| err())?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    match bits {
        Some(b) if b > full => Err(err()),
        Some(b) if b < full => Ok(format!("{ip}/{b}")),
        _ => Ok(ip.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration_str("1h").unwrap(), 3600);
        assert_eq!(parse_duration_str("30m").unwrap(), 1800);
        assert_eq!(parse_duration_str("1h0m0s").unwrap(), 3600);
        assert_eq!(parse_duration_str("0s").unwrap(), 0);
        assert_eq!(parse_duration_str("3600").unwrap(), 3600);
        assert_eq!(parse_duration_str("2d").unwrap(), 172_800);
        assert_eq!(parse_duration_str("1.5h").unwrap(), 5400);
        assert_eq!(parse_duration_str("-5s").unwrap(), -5);
        assert_eq!(parse_duration_str("").unwrap(), 0);
        assert_eq!(
            parse_duration_str("abc").unwrap_err(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(
            parse_duration_str("1.5").unwrap_err(),
            "time: missing unit in duration \"1.5\""
        );
        assert_eq!(
            parse_duration_str("5y").unwrap_err(),
            "time: unknown unit \"y\" in duration \"5y\""
        );
        assert_eq!(parse_duration_value(&json!(60)).unwrap(), 60);
        assert_eq!(
            to_duration_second(&json!("-5")).unwrap_err(),
            "cannot provide negative value '-5'"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(768 * 3600), "768h");
        assert_eq!(human_duration(86_400), "24h");
        assert_eq!(human_duration(5400), "1h30m");
        assert_eq!(human_duration(3605), "1h5s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(120), "2m");
        assert_eq!(human_duration(86_399), "23h59m59s");
        assert_eq!(human_duration(0), "0s");
    }

    #[test]
    fn weak_types() {
        assert!(to_bool(&json!("true")).unwrap());
        assert!(!to_bool(&json!("0")).unwrap());
        assert!(to_bool(&json!("maybe")).is_err());
        assert_eq!(to_int(&json!("12")).unwrap(), 12);
        assert!(to_int(&json!("abc")).is_err());
        assert_eq!(to_string_slice(&json!("a,b")).unwrap(), vec!["a,b"]);
        assert_eq!(
            to_comma_string_slice(&json!("a, b")).unwrap(),
            vec!["a", "b"]
        );
        let kv = to_kv_pairs(&json!({"a": 1, "b": true})).unwrap();
        assert_eq!(kv.get("a").unwrap(), "1");
        assert_eq!(kv.get("b").unwrap(), "1");
        let kv = to_kv_pairs(&json!(["a=b", "c=d=e"])).unwrap();
        assert_eq!(kv.get("c").unwrap(), "d=e");
        assert!(to_kv_pairs(&json!(["nope"])).is_err());
    }

    #[test]
    fn policies_and_globs() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sanitize_policies(&p(&[" B", "a", ""]), true),
            p(&["a", "b", "default"])
        );
        assert_eq!(sanitize_policies(&p(&["a", "root"]), true), p(&["root"]));
        assert_eq!(sanitize_policies(&p(&[]), true), p(&["default"]));
        assert_eq!(sanitize_policies(&p(&[]), false), Vec::<String>::new());
        assert!(glob_match("foo*", "foo1"));
        assert!(glob_match("*bar", "foobar"));
        assert!(glob_match("a*c", "abc"));
        assert!(!glob_match("a*c", "abd"));
        assert!(!glob_match("foo", "foo1"));
    }

    #[test]
    fn cidrs() {
        assert_eq!(normalize_cidr("127.0.0.1/32").unwrap(), "127.0.0.1");
        assert_eq!(normalize_cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert!(normalize_cidr("foo").is_err());
    }

    #[test]
    fn ttl_math() {
        let sys = TtlLimits {
            default_ttl: Duration::from_secs(768 * 3600),
            max_ttl: Duration::from_secs(768 * 3600),
        };
        let (ttl, w) = calculate_ttl(sys, 0, 0, 0, 0, 86_400, None).unwrap();
        assert_eq!(ttl, 86_400);
        assert_eq!(
            w,
            vec!["TTL of \"768h\" exceeded the effective max_ttl of \"24h\"; TTL value is capped accordingly"]
        );
        let (ttl, w) = calculate_ttl(sys, 0, 3600, 1800, 0, 600, None).unwrap();
        assert_eq!(ttl, 600);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("period of \"30m\""));
        let (ttl, _) = calculate_ttl(sys, 60, 3600, 0, 0, 0, None).unwrap();
        assert_eq!(ttl, 60);
    }

    #[test]
    fn go_time_format() {
        let t = DateTime::from_timestamp(1_795_948_911, 329_421_128).unwrap();
        assert_eq!(go_time(t), "2026-11-29T10:41:51.329421128Z");
        let t = DateTime::from_timestamp(1_795_948_911, 575_046_510).unwrap();
        assert_eq!(go_time(t), "2026-11-29T10:41:51.57504651Z");
        let t = DateTime::from_timestamp(1_795_948_911, 0).unwrap();
        assert_eq!(go_time(t), "2026-11-29T10:41:51Z");
    }
}
