//! Key types and the capabilities OpenBao attaches to each.

use serde::{Deserialize, Serialize};

/// A transit key type. The numeric ids are OpenBao's (`keysutil.KeyType`),
/// used in backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "aes128-gcm96")]
    Aes128Gcm96,
    #[serde(rename = "aes256-gcm96")]
    Aes256Gcm96,
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    #[serde(rename = "xchacha20-poly1305")]
    XChaCha20Poly1305,
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    #[serde(rename = "ecdsa-p521")]
    EcdsaP521,
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    #[serde(rename = "hmac")]
    Hmac,
}

use KeyType::*;

impl KeyType {
    /// Every type, for tests and lookups.
    pub const ALL: [KeyType; 12] = [
        Aes128Gcm96,
        Aes256Gcm96,
        ChaCha20Poly1305,
        XChaCha20Poly1305,
        EcdsaP256,
        EcdsaP384,
        EcdsaP521,
        Ed25519,
        Rsa2048,
        Rsa3072,
        Rsa4096,
        Hmac,
    ];

    /// The name used in the API (`aes256-gcm96`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Aes128Gcm96 => "aes128-gcm96",
            Aes256Gcm96 => "aes256-gcm96",
            ChaCha20Poly1305 => "chacha20-poly1305",
            XChaCha20Poly1305 => "xchacha20-poly1305",
            EcdsaP256 => "ecdsa-p256",
            EcdsaP384 => "ecdsa-p384",
            EcdsaP521 => "ecdsa-p521",
            Ed25519 => "ed25519",
            Rsa2048 => "rsa-2048",
            Rsa3072 => "rsa-3072",
            Rsa4096 => "rsa-4096",
            Hmac => "hmac",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<KeyType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// OpenBao's numeric id.
    pub fn go_id(self) -> i64 {
        match self {
            Aes256Gcm96 => 0,
            EcdsaP256 => 1,
            Ed25519 => 2,
            Rsa2048 => 3,
            Rsa4096 => 4,
            ChaCha20Poly1305 => 5,
            EcdsaP384 => 6,
            EcdsaP521 => 7,
            Aes128Gcm96 => 8,
            Rsa3072 => 9,
            Hmac => 10,
            XChaCha20Poly1305 => 11,
        }
    }

    /// The type with OpenBao's numeric id.
    pub fn from_go_id(id: i64) -> Option<KeyType> {
        Self::ALL.into_iter().find(|t| t.go_id() == id)
    }

    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            Aes128Gcm96 | Aes256Gcm96 | ChaCha20Poly1305 | XChaCha20Poly1305
        )
    }

    pub fn is_ecdsa(self) -> bool {
        matches!(self, EcdsaP256 | EcdsaP384 | EcdsaP521)
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Rsa2048 | Rsa3072 | Rsa4096)
    }

    pub fn encryption_supported(self) -> bool {
        self.is_symmetric() || self.is_rsa()
    }

    pub fn decryption_supported(self) -> bool {
        self.encryption_supported()
    }

    pub fn signing_supported(self) -> bool {
        self.is_ecdsa() || self.is_rsa() || self == Ed25519
    }

    /// Whether `sign`/`verify` hash the input first (everything but Ed25519).
    pub fn hash_signature_input(self) -> bool {
        self.is_ecdsa() || self.is_rsa()
    }

    pub fn derivation_supported(self) -> bool {
        self.is_symmetric() || self == Ed25519
    }

    pub fn associated_data_supported(self) -> bool {
        self.is_symmetric()
    }

    /// The symmetric key length in bytes.
    pub fn symmetric_key_len(self) -> usize {
        if self == Aes128Gcm96 {
            16
        } else {
            32
        }
    }

    /// The RSA modulus size in bits.
    pub fn rsa_bits(self) -> usize {
        match self {
            Rsa3072 => 3072,
            Rsa4096 => 4096,
            _ => 2048,
        }
    }

    /// The curve name Go reports (`P-256`, ...).
    pub fn curve_name(self) -> &'static str {
        match self {
            EcdsaP384 => "P-384",
            EcdsaP521 => "P-521",
            _ => "P-256",
        }
    }

    /// The curve's field element size in bytes.
    pub fn curve_bytes(self) -> usize {
        match self {
            EcdsaP384 => 48,
            EcdsaP521 => 66,
            _ => 32,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for t in KeyType::ALL {
            assert_eq!(KeyType::parse(t.as_str()), Some(t));
            assert_eq!(KeyType::from_go_id(t.go_id()), Some(t));
        }
        assert_eq!(KeyType::parse("aes256"), None);
        assert_eq!(KeyType::from_go_id(10000), None);
    }

    #[test]
    fn capabilities_follow_openbao() {
        assert!(Rsa2048.encryption_supported() && Rsa2048.signing_supported());
        assert!(!Rsa2048.derivation_supported());
        assert!(Ed25519.derivation_supported() && !Ed25519.hash_signature_input());
        assert!(!Hmac.encryption_supported() && !Hmac.signing_supported());
        assert!(!EcdsaP384.associated_data_supported());
        assert_eq!(Aes128Gcm96.symmetric_key_len(), 16);
    }
}
