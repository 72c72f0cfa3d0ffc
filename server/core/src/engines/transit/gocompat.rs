//! Go standard-library behaviour the transit API exposes through its error
//! messages: `encoding/base64` decoding (which skips `\r` and `\n` and names
//! the offending byte), `strconv.Atoi`, and PEM encoding.

use base64::Engine;

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Go's `base64.CorruptInputError` text.
pub fn corrupt(offset: usize) -> String {
    format!("illegal base64 data at input byte {offset}")
}

/// `base64.StdEncoding.DecodeString`, with Go's error message.
pub fn b64_std(s: &str) -> Result<Vec<u8>, String> {
    decode(s.as_bytes(), STD, true)
}

/// `base64.RawURLEncoding.DecodeString`, with Go's error message.
pub fn b64_raw_url(s: &str) -> Result<Vec<u8>, String> {
    decode(s.as_bytes(), URL, false)
}

/// Standard base64 with padding, as Go's `StdEncoding.EncodeToString`.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// URL-safe base64 without padding, as Go's `RawURLEncoding`.
pub fn b64_url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn value(alphabet: &[u8; 64], c: u8) -> Option<u8> {
    alphabet.iter().position(|a| *a == c).map(|p| p as u8)
}

/// Go's `Encoding.Decode`: quantum by quantum, newlines skipped, padding
/// required when `padded`, trailing garbage after padding rejected.
fn decode(src: &[u8], alphabet: &[u8; 64], padded: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let mut si = 0usize;
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4usize;
        let mut j = 0usize;
        let mut trailing: Option<usize> = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                if j == 1 || padded {
                    return Err(corrupt(si - j));
                }
                dlen = j;
                break;
            }
            let c = src[si];
            si += 1;
            if let Some(v) = value(alphabet, c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if !padded || c != b'=' {
                return Err(corrupt(si - 1));
            }
            // Padding: only after two or three symbols.
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (u32::from(dbuf[0]) << 18)
            | (u32::from(dbuf[1]) << 12)
            | (u32::from(dbuf[2]) << 6)
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(at) = trailing {
            return Err(corrupt(at));
        }
        if dlen < 4 {
            return Ok(out);
        }
    }
    Ok(out)
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
pub fn atoi(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.Atoi: parsing {s:?}: invalid syntax");
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    let mut acc: i128 = 0;
    for b in digits.bytes() {
        acc = acc * 10 + i128::from(b - b'0');
        if acc > i128::from(i64::MAX) + 1 {
            return Err(format!("strconv.Atoi: parsing {s:?}: value out of range"));
        }
    }
    let v = if neg { -acc } else { acc };
    i64::try_from(v).map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// Go's `pem.EncodeToMemory`: 64-character lines and a trailing newline.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = b64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER bytes of the first PEM block in `text`, if any.
#[cfg(test)]
pub fn pem_decode(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start..];
    let header_end = rest.find('\n')?;
    let body = &rest[header_end + 1..];
    let end = body.find("-----END ")?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_go() {
        assert_eq!(b64_std("aGVsbG8gd29ybGQ="), Ok(b"hello world".to_vec()));
        assert_eq!(b64_std(""), Ok(vec![]));
        assert_eq!(b64_std("aGk="), Ok(b"hi".to_vec()));
        assert_eq!(b64_std("aG\nk="), Ok(b"hi".to_vec()));
        assert_eq!(b64_std("AAAA"), Ok(vec![0, 0, 0]));
        assert_eq!(b64_std("!!"), Err(corrupt(0)));
        assert_eq!(b64_std("!!bad"), Err(corrupt(0)));
        assert_eq!(b64_std("not base64!"), Err(corrupt(3)));
        assert_eq!(b64_std("aGk"), Err(corrupt(0)));
        assert_eq!(b64_std("5"), Err(corrupt(0)));
        assert_eq!(b64_std("aGk=x"), Err(corrupt(4)));
        assert_eq!(b64_std("aG=="), Ok(b"h".to_vec()));
        assert_eq!(b64_std("aG="), Err(corrupt(3)));
        assert_eq!(b64_std("a==="), Err(corrupt(1)));
        assert_eq!(b64_std("aGVsbG8gd29ybGQ=aGk="), Err(corrupt(16)));
        assert_eq!(b64_raw_url("AAAA"), Ok(vec![0, 0, 0]));
        assert_eq!(b64_raw_url("AA"), Ok(vec![0]));
        assert_eq!(b64_raw_url("A"), Err(corrupt(0)));
        assert_eq!(b64_raw_url("AA=="), Err(corrupt(2)));
        assert_eq!(b64_raw_url("-_"), Ok(vec![0xfb]));
    }

    #[test]
    fn atoi_matches_go() {
        assert_eq!(atoi("12"), Ok(12));
        assert_eq!(atoi("+3"), Ok(3));
        assert_eq!(atoi("-1"), Ok(-1));
        assert_eq!(
            atoi("foo"),
            Err("strconv.Atoi: parsing \"foo\": invalid syntax".into())
        );
        assert!(atoi("").is_err());
        assert!(atoi("1_0").is_err());
        assert!(atoi("99999999999999999999").is_err());
    }

    #[test]
    fn pem_lines() {
        let p = pem("PUBLIC KEY", &[7u8; 60]);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[3], "-----END PUBLIC KEY-----");
        assert!(p.ends_with('\n'));
        assert_eq!(pem_decode(&p), Some(vec![7u8; 60]));
    }
}
