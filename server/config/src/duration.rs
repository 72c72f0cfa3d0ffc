//! Durations as Vault reads them (`parseutil.ParseDurationSecond`).

use std::time::Duration;

/// Go's limit: a `time.Duration` is an `i64` count of nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a duration the way Vault does for TTLs and timeouts:
///
/// * a bare integer is a number of seconds: `"3600"`, `"+30"`;
/// * an integer followed by `d` is a number of days: `"7d"`;
/// * anything else is a Go duration (`time.ParseDuration`): one or more
///   decimal numbers, each with an optional fraction and a unit, `ns`, `us`
///   (or `µs`), `ms`, `s`, `m` or `h`: `"768h"`, `"1h30m"`, `"1.5s"`,
///   `"300ms"`; `"0"` alone needs no unit.
///
/// Stricter than Vault: negative durations, values that overflow Go's
/// `time.Duration` (about 292 years) and the empty string are errors (Vault
/// reads `""` as zero; callers that want that must check for it first).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration".to_owned());
    }
    // Bare seconds, as strconv.ParseInt(s, 10, 64) accepts them.
    if let Some(secs) = parse_go_int(s) {
        return scaled(secs, 1_000_000_000, s);
    }
    if let Some(days) = s.strip_suffix('d') {
        return match parse_go_int(days) {
            Some(days) => scaled(days, 86_400 * 1_000_000_000, s),
            None => Err(format!("invalid duration {s:?}")),
        };
    }
    parse_go_duration(s)
}

/// `strconv.ParseInt(s, 10, 64)`: an optional sign and ASCII digits.
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

fn scaled(v: i128, unit_nanos: u128, orig: &str) -> Result<Duration, String> {
    if v < 0 {
        return Err(format!("negative duration {orig:?} is not allowed"));
    }
    let nanos = v.unsigned_abs().saturating_mul(unit_nanos);
    to_duration(nanos, orig)
}

fn to_duration(nanos: u128, orig: &str) -> Result<Duration, String> {
    if nanos > MAX_NANOS {
        return Err(format!("duration {orig:?} is too long"));
    }
    // nanos <= i64::MAX, so it fits a u64.
    Ok(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// A port of Go's `time.ParseDuration`, without negative results.
fn parse_go_duration(orig: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {orig:?}");
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = rest;
        }
    }
    if s == b"0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        // The next character must be [0-9.].
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut int: u128 = 0;
        for &d in &s[..int_len] {
            int = int * 10 + u128::from(d - b'0');
            if int > MAX_NANOS {
                return Err(format!("duration {orig:?} is too long"));
            }
        }
        s = &s[int_len..];
        // Fraction.
        let mut frac: u128 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if let Some((&b'.', rest)) = s.split_first() {
            s = rest;
            frac_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
            let mut overflow = false;
            for &d in &s[..frac_len] {
                if overflow {
                    continue;
                }
                if frac > MAX_NANOS / 10 {
                    // Go ignores digits past what fits.
                    overflow = true;
                    continue;
                }
                frac = frac * 10 + u128::from(d - b'0');
                scale *= 10.0;
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            // No digits, e.g. ".s".
            return Err(invalid());
        }
        // Unit: everything up to the next '.' or digit.
        let unit_len = s
            .iter()
            .take_while(|&&b| b != b'.' && !b.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(format!(
                "missing unit in duration {orig:?} (use s, m, h, ms, us or ns, or a bare number of seconds)"
            ));
        }
        let unit: u128 = match &s[..unit_len] {
            b"ns" => 1,
            // "µs" (U+00B5) and "μs" (U+03BC) in UTF-8.
            b"us" | [0xC2, 0xB5, b's'] | [0xCE, 0xBC, b's'] => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "unknown unit {:?} in duration {orig:?}",
                    String::from_utf8_lossy(other)
                ))
            }
        };
        s = &s[unit_len..];
        let mut v = int
            .checked_mul(unit)
            .filter(|v| *v <= MAX_NANOS + 1)
            .ok_or_else(|| format!("duration {orig:?} is too long"))?;
        if frac > 0 {
            // Same float arithmetic as Go; truncation is intended.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let part = (frac as f64 * (unit as f64 / scale)) as u128;
            v += part;
        }
        total = total.saturating_add(v);
        if total > MAX_NANOS + 1 {
            return Err(format!("duration {orig:?} is too long"));
        }
    }
    if neg && total > 0 {
        return Err(format!("negative duration {orig:?} is not allowed"));
    }
    to_duration(total, orig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn vault_forms() {
        assert_eq!(d("768h"), Duration::from_secs(768 * 3600));
        assert_eq!(d("30m"), Duration::from_secs(1800));
        assert_eq!(d("45s"), Duration::from_secs(45));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("3600"), Duration::from_secs(3600));
        assert_eq!(d("+30"), Duration::from_secs(30));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("-0"), Duration::ZERO);
        assert_eq!(d("0s"), Duration::ZERO);
        assert_eq!(d("7d"), Duration::from_secs(7 * 86_400));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("1.s"), Duration::from_secs(1));
        assert_eq!(d("300ms"), Duration::from_millis(300));
        assert_eq!(d("2us"), Duration::from_micros(2));
        assert_eq!(d("2µs"), Duration::from_micros(2));
        assert_eq!(d("2μs"), Duration::from_micros(2));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(
            d("1h1m1s1ms1us1ns"),
            Duration::from_nanos(3_661_001_001_001)
        );
        assert_eq!(d("+5m"), Duration::from_secs(300));
        assert_eq!(d("2562047h"), Duration::from_secs(2_562_047 * 3600));
        assert_eq!(
            d("9223372036854775807ns"),
            Duration::from_nanos(i64::MAX as u64)
        );
        assert_eq!(d("0.000000001s"), Duration::from_nanos(1));
    }

    #[test]
    fn rejected() {
        for s in [
            "",
            "-",
            "+",
            "s",
            ".s",
            "1.5",
            "10x",
            "1 h",
            "h1",
            "1h-1m",
            "-5",
            "-1h",
            "-7d",
            "1d12h",
            "d",
            "1.5d",
            "2562048h",
            "9223372036854775808ns",
            "9223372036854775808",
            "99999999999999999999999",
            " 5",
            "5 ",
            "1e3s",
            "0x10",
            "1h30",
            "\u{e9}",
        ] {
            assert!(parse_duration(s).is_err(), "{s:?} accepted");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,24}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn seconds_round_trip(secs in 0u64..(i64::MAX as u64 / 1_000_000_000)) {
            prop_assert_eq!(parse_duration(&secs.to_string()), Ok(Duration::from_secs(secs)));
            prop_assert_eq!(parse_duration(&format!("{secs}s")), Ok(Duration::from_secs(secs)));
        }

        #[test]
        fn hms_compose(h in 0u64..10_000, m in 0u64..60, s in 0u64..60) {
            prop_assert_eq!(
                parse_duration(&format!("{h}h{m}m{s}s")),
                Ok(Duration::from_secs(h * 3600 + m * 60 + s))
            );
        }
    }
}
