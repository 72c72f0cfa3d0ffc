//! The Shamir seal: the unseal key is split into shares; combined, it unwraps the
//! root key, which in turn unwraps the barrier keyring.
//!
//! Share format follows Vault: the y bytes followed by one x byte (33 bytes for a
//! 32-byte key). With one share the share is the unseal key itself.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::barrier::Key;

/// Errors from splitting or combining unseal keys.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Share parameters out of range.
    #[error("{0}")]
    InvalidParameters(String),
    /// Shares cannot be combined (wrong length, duplicates).
    #[error("{0}")]
    InvalidShares(String),
}

/// The stored seal configuration (no secrets in it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    /// `shamir` for now.
    #[serde(rename = "type")]
    pub seal_type: String,
    /// Number of shares handed out.
    pub secret_shares: u8,
    /// Shares needed to unseal.
    pub secret_threshold: u8,
}

impl SealConfig {
    /// Checks the parameters as Vault does.
    pub fn validate(shares: u64, threshold: u64) -> Result<SealConfig, SealError> {
        if shares == 0 {
            return Err(SealError::InvalidParameters(
                "shares must be at least one".into(),
            ));
        }
        if threshold == 0 {
            return Err(SealError::InvalidParameters(
                "threshold must be at least one".into(),
            ));
        }
        if shares > 1 && threshold == 1 {
            return Err(SealError::InvalidParameters(
                "threshold must be greater than one for multiple shares".into(),
            ));
        }
        if shares > 255 {
            return Err(SealError::InvalidParameters(
                "shares must be less than 256".into(),
            ));
        }
        if threshold > shares {
            return Err(SealError::InvalidParameters(
                "threshold cannot be larger than shares".into(),
            ));
        }
        Ok(SealConfig {
            seal_type: "shamir".into(),
            secret_shares: shares as u8,
            secret_threshold: threshold as u8,
        })
    }
}

/// Splits `key` into `shares` shares of which `threshold` recover it.
pub fn split(key: &Key, shares: u8, threshold: u8) -> Result<Vec<Zeroizing<Vec<u8>>>, SealError> {
    if shares == 1 {
        return Ok(vec![Zeroizing::new(key.to_vec())]);
    }
    if threshold < 2 || threshold > shares {
        return Err(SealError::InvalidParameters(
            "threshold must be between 2 and the number of shares".into(),
        ));
    }
    let dealer = blahaj::Sharks(threshold).dealer(key.as_ref());
    Ok(dealer
        .take(shares as usize)
        .map(|s| {
            let raw = Zeroizing::new(Vec::<u8>::from(&s));
            // blahaj puts x first; Vault puts it last.
            let mut out = Zeroizing::new(Vec::with_capacity(raw.len()));
            out.extend_from_slice(&raw[1..]);
            out.push(raw[0]);
            out
        })
        .collect())
}

/// Recovers the key from at least `threshold` distinct shares.
pub fn combine(shares: &[Zeroizing<Vec<u8>>], threshold: u8) -> Result<Key, SealError> {
    if threshold <= 1 {
        let first = shares
            .first()
            .ok_or_else(|| SealError::InvalidShares("no shares".into()))?;
        return to_key(first);
    }
    let mut parsed = Vec::with_capacity(shares.len());
    for s in shares {
        if s.len() != 33 {
            return Err(SealError::InvalidShares(
                "all parts must be the same length".into(),
            ));
        }
        let mut blahaj_form = Zeroizing::new(Vec::with_capacity(s.len()));
        blahaj_form.push(s[s.len() - 1]);
        blahaj_form.extend_from_slice(&s[..s.len() - 1]);
        let share = blahaj::Share::try_from(blahaj_form.as_slice())
            .map_err(|e| SealError::InvalidShares(e.to_string()))?;
        parsed.push(share);
    }
    let secret = Zeroizing::new(
        blahaj::Sharks(threshold)
            .recover(parsed.iter())
            .map_err(|e| SealError::InvalidShares(e.to_string()))?,
    );
    to_key(&secret)
}

fn to_key(bytes: &[u8]) -> Result<Key, SealError> {
    if bytes.len() != 32 {
        return Err(SealError::InvalidShares("key has the wrong length".into()));
    }
    let mut k = Zeroizing::new([0u8; 32]);
    k.copy_from_slice(bytes);
    Ok(k)
}

/// Decodes a key share given as hex or base64, as `sys/unseal` accepts it.
pub fn decode_share(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let s = s.trim();
    if let Ok(b) = hex::decode(s) {
        return Some(Zeroizing::new(b));
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::random_key;

    #[test]
    fn split_and_combine() {
        let key = random_key();
        let shares = split(&key, 5, 3).expect("split");
        assert_eq!(shares.len(), 5);
        assert!(shares.iter().all(|s| s.len() == 33));
        let got = combine(&shares[1..4], 3).expect("combine");
        assert_eq!(got.as_ref(), key.as_ref());
        let got = combine(
            &[shares[4].clone(), shares[0].clone(), shares[2].clone()],
            3,
        )
        .expect("combine any order");
        assert_eq!(got.as_ref(), key.as_ref());
        assert!(combine(&shares[..2], 3).is_err(), "too few shares");
        // Shares from another split combine into a different key.
        let other = split(&random_key(), 5, 3).expect("split");
        let mixed = combine(&[shares[0].clone(), shares[1].clone(), other[2].clone()], 3)
            .expect("combine mixed");
        assert_ne!(mixed.as_ref(), key.as_ref());
    }

    #[test]
    fn single_share_is_the_key() {
        let key = random_key();
        let shares = split(&key, 1, 1).expect("split");
        assert_eq!(shares[0].as_slice(), key.as_ref());
        assert_eq!(combine(&shares, 1).expect("combine").as_ref(), key.as_ref());
    }

    #[test]
    fn parameters() {
        assert!(SealConfig::validate(0, 0).is_err());
        assert!(SealConfig::validate(3, 4).is_err());
        assert!(SealConfig::validate(3, 1).is_err());
        assert!(SealConfig::validate(256, 3).is_err());
        assert!(SealConfig::validate(5, 3).is_ok());
        assert!(SealConfig::validate(1, 1).is_ok());
    }

    #[test]
    fn decodes_hex_and_base64() {
        assert_eq!(decode_share("0a0b").expect("hex").as_slice(), &[10, 11]);
        assert_eq!(decode_share("CgsM").expect("b64").as_slice(), &[10, 11, 12]);
        assert!(decode_share("abc").is_none());
        assert!(decode_share("not a key!").is_none());
    }
}
