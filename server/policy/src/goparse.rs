//! Small re-implementations of the Go parsing helpers Vault applies to
//! policy values: `strconv.ParseInt(s, 0, 64)`, `time.ParseDuration`,
//! `parseutil.ParseDurationSecond` and `parseutil.ParseAbsoluteTime`.

/// Nanoseconds per unit, as Go's `time` package defines them.
const NS_PER_SEC: i128 = 1_000_000_000;

/// `strconv.ParseInt(s, 0, 64)`: optional sign, `0x`/`0o`/`0b` prefixes, a
/// leading `0` meaning octal, and `_` separators only after a base prefix.
pub(crate) fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    let digits = if prefixed {
        // Go allows underscores between digits when a base prefix is used.
        if digits.starts_with('_') && radix != 8 {
            return None;
        }
        if digits.ends_with('_') || digits.contains("__") {
            return None;
        }
        digits.replace('_', "")
    } else {
        digits
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if magnitude == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(magnitude).ok().map(|v| -v)
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `time.ParseDuration`, returning nanoseconds.
pub(crate) fn parse_go_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let err = || format!("time: invalid duration {orig:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        // Integer part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..frac_len];
            rest = &r[frac_len..];
            if int_len == 0 && frac_len == 0 {
                return Err(err());
            }
        } else if int_len == 0 {
            return Err(err());
        }
        let unit_len = rest
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let per: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NS_PER_SEC,
            "m" => 60 * NS_PER_SEC,
            "h" => 3600 * NS_PER_SEC,
            "" => return Err(format!("time: missing unit in duration {orig:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {orig:?}")),
        };
        let int_val: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<i128>().map_err(|_| err())?
        };
        if int_val > i128::from(i64::MAX) {
            return Err(err());
        }
        let mut v = int_val * per;
        if !frac_part.is_empty() {
            let mut scale: i128 = 1;
            let mut f: i128 = 0;
            for d in frac_part.bytes().take(30) {
                f = f * 10 + i128::from(d - b'0');
                scale *= 10;
            }
            v += f * per / scale;
        }
        total += v;
        if total > i128::from(i64::MAX) + i128::from(neg) {
            return Err(err());
        }
    }
    let total = if neg { -total } else { total };
    i64::try_from(total).map_err(|_| err())
}

/// A value decoded from HCL into Go's `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GoAny {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Other,
}

/// `parseutil.ParseDurationSecond`, returning nanoseconds.
pub(crate) fn parse_duration_second(v: &GoAny) -> Result<i64, String> {
    let secs = |n: i128| -> Result<i64, String> {
        i64::try_from(n * NS_PER_SEC).map_err(|_| "duration overflow".to_string())
    };
    match v {
        GoAny::Str(s) => {
            if s.is_empty() {
                return Ok(0);
            }
            if let Ok(n) = s.parse::<i64>() {
                return secs(i128::from(n));
            }
            if let Some(days) = s.strip_suffix('d') {
                let n = days
                    .parse::<i64>()
                    .map_err(|_| format!("strconv.ParseInt: parsing {days:?}: invalid syntax"))?;
                return i64::try_from(i128::from(n) * 24 * 3600 * NS_PER_SEC)
                    .map_err(|_| "duration overflow".to_string());
            }
            parse_go_duration(s)
        }
        GoAny::Int(n) => secs(i128::from(*n)),
        GoAny::Float(f) => {
            // time.Duration(f) truncates toward zero before scaling.
            let t = f.trunc();
            if !t.is_finite() || t.abs() > 9.2e18 {
                return Err("duration overflow".to_string());
            }
            #[allow(clippy::cast_possible_truncation)]
            secs(t as i128)
        }
        GoAny::Bool(_) | GoAny::Other => Err("could not parse duration from input".to_string()),
    }
}

/// `parseutil.ParseAbsoluteTime` for a string: RFC 3339 (with or without
/// fractional seconds) or integer seconds since the epoch. Returns Unix
/// seconds.
pub(crate) fn parse_absolute_time(s: &str) -> Option<i64> {
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
    {
        return s.parse::<i64>().ok();
    }
    None
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to Unix seconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = num(s.get(0..4)?)?;
    let month = num(s.get(5..7)?)?;
    let day = num(s.get(8..10)?)?;
    let hour = num(s.get(11..13)?)?;
    let min = num(s.get(14..16)?)?;
    let sec = num(s.get(17..19)?)?;
    let mut rest = s.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &r[n..];
    }
    let offset = if rest == "Z" {
        0
    } else {
        let sign = match rest.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        if rest.len() != 6 || rest.as_bytes()[3] != b':' {
            return None;
        }
        let oh = num(rest.get(1..3)?)?;
        let om = num(rest.get(4..6)?)?;
        if oh > 23 || om > 59 {
            return None;
        }
        sign * (oh * 3600 + om * 60)
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) {
        return None;
    }
    let max_day = *mdays.get(usize::try_from(month - 1).ok()?)?;
    if day < 1 || day > max_day || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_int_base0("10"), Some(10));
        assert_eq!(parse_int_base0("-10"), Some(-10));
        assert_eq!(parse_int_base0("0x1f"), Some(31));
        assert_eq!(parse_int_base0("010"), Some(8));
        assert_eq!(parse_int_base0("0b101"), Some(5));
        assert_eq!(parse_int_base0("0"), Some(0));
        assert_eq!(parse_int_base0("09"), None);
        assert_eq!(parse_int_base0("1_000"), None);
        assert_eq!(parse_int_base0("0x1_000"), Some(4096));
        assert_eq!(parse_int_base0("9223372036854775808"), None);
        assert_eq!(parse_int_base0("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int_base0(""), None);
        assert_eq!(parse_int_base0("abc"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Ok(5400 * 1_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("-2m"), Ok(-120 * 1_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn duration_second() {
        let s = |x: &str| parse_duration_second(&GoAny::Str(x.to_string()));
        assert_eq!(s("300"), Ok(300_000_000_000));
        assert_eq!(s("5m"), Ok(300_000_000_000));
        assert_eq!(s("2d"), Ok(2 * 86_400_000_000_000));
        assert_eq!(s(""), Ok(0));
        assert!(s("1.5d").is_err());
        assert!(s("abc").is_err());
        assert_eq!(parse_duration_second(&GoAny::Int(60)), Ok(60_000_000_000));
        assert_eq!(parse_duration_second(&GoAny::Float(1.9)), Ok(1_000_000_000));
        assert!(parse_duration_second(&GoAny::Bool(true)).is_err());
    }

    #[test]
    fn absolute_time() {
        assert_eq!(parse_absolute_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_absolute_time("2000-03-01T00:00:00Z"),
            Some(951_868_800)
        );
        assert_eq!(
            parse_absolute_time("2000-03-01T01:00:00+01:00"),
            Some(951_868_800)
        );
        assert_eq!(
            parse_absolute_time("2000-03-01T00:00:00.123456Z"),
            Some(951_868_800)
        );
        assert_eq!(parse_absolute_time("1234"), Some(1234));
        assert_eq!(parse_absolute_time("2000-02-30T00:00:00Z"), None);
        assert_eq!(parse_absolute_time("tomorrow"), None);
    }
}
