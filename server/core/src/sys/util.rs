//! Field parsing shared by the system backend and the userpass method:
//! Vault's `framework` field types (durations in seconds, comma-separated
//! string lists, booleans given as strings) with Go's error texts.

use serde_json::Value;

use crate::logical::Data;

/// Go's `time.Duration` limit in nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Vault's `parseutil.ParseDurationSecond` on a string: bare integers are
/// seconds, `Nd` is days, anything else is Go's `time.ParseDuration`. Errors
/// carry Go's texts (`time: invalid duration "x"`). Returns whole seconds
/// (fractions are truncated, as `time.Duration.Seconds()` cast to int does);
/// negative durations are refused.
pub fn parse_duration_second(s: &str) -> Result<u64, String> {
    let v = parse_duration_second_signed(s)?;
    u64::try_from(v).map_err(|_| format!("negative duration {s:?} is not allowed"))
}

/// [`parse_duration_second`] keeping the sign, for fields whose negative
/// values get their own error message.
pub fn parse_duration_second_signed(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let nanos: i128 = if let Some(v) = parse_go_int(s) {
        v.saturating_mul(1_000_000_000)
    } else if let Some(days) = s.strip_suffix('d') {
        match parse_go_int(days) {
            Some(d) => d.saturating_mul(86_400 * 1_000_000_000),
            None => {
                return Err(format!(
                    "strconv.ParseInt: parsing {days:?}: invalid syntax"
                ))
            }
        }
    } else {
        parse_go_duration(s)?
    };
    if nanos.unsigned_abs() > MAX_NANOS {
        return Err(format!("time: invalid duration {s:?}"));
    }
    Ok((nanos / 1_000_000_000) as i64)
}

/// `strconv.ParseInt(s, 10, 64)`.
fn parse_go_int(s: &str) -> Option<i128> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i128 = s.parse().ok()?;
    (i128::from(i64::MIN)..=i128::from(i64::MAX))
        .contains(&v)
        .then_some(v)
}

/// A port of Go's `time.ParseDuration` returning signed nanoseconds.
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
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
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {orig:?}")),
        };
        let int_val: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = int_val.checked_mul(unit_nanos).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let mut scale: u128 = 1;
            let mut frac: u128 = 0;
            for d in frac_part.bytes().take(30) {
                frac = frac * 10 + u128::from(d - b'0');
                scale *= 10;
            }
            v = v
                .checked_add(frac * unit_nanos / scale)
                .ok_or_else(invalid)?;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > MAX_NANOS {
            return Err(invalid());
        }
    }
    Ok(if neg { -(total as i128) } else { total as i128 })
}

/// Formats seconds as Go's `time.Duration.String()` does (`48h0m0s`, `5m0s`, `0s`).
pub fn format_go_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let h = secs / 3600;
    let m = (secs % 3600) / 60;
    let s = secs % 60;
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// A duration field (`TypeDurationSecond`): a number of seconds or a
/// duration string. `Ok(None)` when absent or null.
pub fn duration_field(data: &Data, key: &str) -> Result<Option<u64>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => duration_value(v)
            .map(Some)
            .map_err(|e| format!("error converting input for field {key:?}: {e}")),
    }
}

/// A duration from a JSON value (number of seconds or string).
pub fn duration_value(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(u)
            } else if n.as_i64().is_some() {
                Err(format!("negative duration \"{n}\" is not allowed"))
            } else {
                parse_duration_second(&n.to_string())
            }
        }
        Value::String(s) => parse_duration_second(s),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) | Value::Null => {
            Err(format!("could not parse duration from input {v}"))
        }
    }
}

/// A signed duration field (`TypeDurationSecond` before range checks).
pub fn signed_duration_field(data: &Data, key: &str) -> Result<Option<i64>, String> {
    let v = match data.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let r = match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => parse_duration_second_signed(&n.to_string()),
        },
        Value::String(s) => parse_duration_second_signed(s),
        other => Err(format!("could not parse duration from input {other}")),
    };
    r.map(Some)
        .map_err(|e| format!("error converting input for field {key:?}: {e}"))
}

/// A string field (`TypeString`): strings as they are, numbers and booleans
/// as their text; `None` when absent or null.
pub fn string_field(data: &Data, key: &str) -> Result<Option<String>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!(
            "error converting input for field {key:?}: '' expected type 'string', got unconvertible type '{}'",
            go_type_name(other)
        )),
    }
}

/// A boolean field (`TypeBool`): JSON booleans, or `"true"`/`"false"`/`1`/`0`.
pub fn bool_field(data: &Data, key: &str) -> Result<Option<bool>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => bool_value(v).map(Some).ok_or_else(|| {
            format!("error converting input for field {key:?}: cannot parse {v} as bool")
        }),
    }
}

/// A boolean from a JSON value, weakly typed as Go's mapstructure reads it.
pub fn bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => Some(n.as_f64().map(|f| f != 0.0).unwrap_or(false)),
        _ => None,
    }
}

/// An integer field (`TypeInt`): numbers or numeric strings.
pub fn int_field(data: &Data, key: &str) -> Result<Option<i64>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("error converting input for field {key:?}: cannot parse {n} as int")),
        Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| {
            format!("error converting input for field {key:?}: strconv.ParseInt: parsing {s:?}: invalid syntax")
        }),
        Some(other) => Err(format!(
            "error converting input for field {key:?}: cannot parse {other} as int"
        )),
    }
}

/// A comma-separated string list (`TypeCommaStringSlice`): a string split on
/// commas or an array of scalars, each element trimmed. `None` when absent.
pub fn comma_list_field(data: &Data, key: &str) -> Result<Option<Vec<String>>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => comma_list_value(v)
            .map(Some)
            .map_err(|e| format!("error converting input for field {key:?}: {e}")),
    }
}

/// A comma-separated list from a JSON value.
pub fn comma_list_value(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_string()).collect()),
        Value::Number(n) => Ok(vec![n.to_string()]),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.trim().to_string()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(format!(
                    "'' expected type 'string', got unconvertible type '{}'",
                    go_type_name(other)
                )),
            })
            .collect(),
        Value::Object(_) => Err("'' source data must be an array or slice, got map".into()),
    }
}

/// A key/value map field (`TypeKVPairs`): values become strings. `Ok(None)`
/// when absent or null.
pub fn kv_pairs_field(
    data: &Data,
    key: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, String> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = std::collections::BTreeMap::new();
            for (k, v) in m {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    other => {
                        return Err(format!(
                            "error converting input for field {key:?}: '[{k}]' expected type 'string', got unconvertible type '{}'",
                            go_type_name(other)
                        ))
                    }
                };
                out.insert(k.clone(), s);
            }
            Ok(Some(out))
        }
        Some(other) => Err(format!(
            "error converting input for field {key:?}: '' expected a map, got '{}'",
            go_type_name(other)
        )),
    }
}

fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Vault's `sanitizePath`: one trailing slash, no leading slash.
pub fn sanitize_path(path: &str) -> String {
    let mut p = path.to_string();
    if !p.ends_with('/') {
        p.push('/');
    }
    p.trim_start_matches('/').to_string()
}

/// Vault's `policyutil.ParsePolicies` on a list: lower-cased, trimmed,
/// empties dropped, `root` alone if present, sorted and de-duplicated.
pub fn sanitize_policies(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in list {
        let p = p.trim().to_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "root" {
            return vec!["root".into()];
        }
        out.push(p);
    }
    out.sort();
    out.dedup();
    out
}

/// Vault's `policyutil.EquivalentPolicies`: the same set, ignoring `default`.
pub fn equivalent_policies(a: &[String], b: &[String]) -> bool {
    let set = |v: &[String]| {
        v.iter()
            .filter(|p| p.as_str() != "default")
            .cloned()
            .collect::<std::collections::BTreeSet<String>>()
    };
    set(a) == set(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_vault_reads_them() {
        assert_eq!(parse_duration_second("3600"), Ok(3600));
        assert_eq!(parse_duration_second("1h"), Ok(3600));
        assert_eq!(parse_duration_second("0s"), Ok(0));
        assert_eq!(parse_duration_second("87600h"), Ok(87600 * 3600));
        assert_eq!(parse_duration_second("1h30m"), Ok(5400));
        assert_eq!(parse_duration_second("1.5s"), Ok(1));
        assert_eq!(parse_duration_second("2d"), Ok(172_800));
        assert_eq!(parse_duration_second(""), Ok(0));
        assert_eq!(
            parse_duration_second("bogus"),
            Err("time: invalid duration \"bogus\"".to_string())
        );
        assert_eq!(
            parse_duration_second("bad"),
            Err("strconv.ParseInt: parsing \"ba\": invalid syntax".to_string())
        );
        assert_eq!(parse_duration_second("5"), Ok(5));
        assert_eq!(
            parse_duration_second("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".to_string())
        );
        assert_eq!(
            parse_duration_second("1.5"),
            Err("time: missing unit in duration \"1.5\"".to_string())
        );
        assert!(parse_duration_second("-5").is_err());
    }

    #[test]
    fn go_duration_strings() {
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(48 * 3600), "48h0m0s");
        assert_eq!(format_go_duration(90), "1m30s");
        assert_eq!(format_go_duration(5), "5s");
        assert_eq!(format_go_duration(3661), "1h1m1s");
    }

    #[test]
    fn fields() {
        let d: Data = serde_json::from_value(serde_json::json!({
            "a": "x, y ,z", "b": ["p", " q "], "c": "", "t": "true", "n": 3, "ttl": "1m", "m": {"version": 2}
        }))
        .expect("object");
        assert_eq!(
            comma_list_field(&d, "a"),
            Ok(Some(vec!["x".into(), "y".into(), "z".into()]))
        );
        assert_eq!(
            comma_list_field(&d, "b"),
            Ok(Some(vec!["p".into(), "q".into()]))
        );
        assert_eq!(comma_list_field(&d, "c"), Ok(Some(vec![])));
        assert_eq!(comma_list_field(&d, "zz"), Ok(None));
        assert_eq!(bool_field(&d, "t"), Ok(Some(true)));
        assert_eq!(int_field(&d, "n"), Ok(Some(3)));
        assert_eq!(duration_field(&d, "ttl"), Ok(Some(60)));
        assert_eq!(duration_field(&d, "n"), Ok(Some(3)));
        let m = kv_pairs_field(&d, "m").expect("map").expect("present");
        assert_eq!(m.get("version").map(String::as_str), Some("2"));
        assert_eq!(sanitize_path("/a/b"), "a/b/");
        assert_eq!(
            sanitize_policies(&["B".into(), " a".into(), "".into(), "b".into()]),
            vec!["a".to_string(), "b".to_string()]
        );
        assert!(equivalent_policies(
            &["a".into(), "default".into()],
            &["a".into()]
        ));
        assert!(!equivalent_policies(&["a".into()], &["b".into()]));
    }
}
