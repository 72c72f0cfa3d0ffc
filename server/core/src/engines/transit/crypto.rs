//! The cryptographic primitives behind transit, each matching what OpenBao's
//! Go code produces: AEAD sealing with the nonce prepended, HKDF-SHA256 and
//! the legacy counter-mode KDF, HMAC and hashes by OpenBao's algorithm
//! names, ECDSA over P-256/384/521 (ASN.1 or JWS), Ed25519, and RSA (OAEP,
//! PSS with Go's salt-length rules, PKCS #1 v1.5).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use rsa::pkcs1::{
    DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};
use zeroize::Zeroizing;

use super::keytype::KeyType;

/// Random bytes from the operating system.
pub fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    OsRng.fill_bytes(&mut v);
    v
}

// ---------------------------------------------------------------------------
// Symmetric
// ---------------------------------------------------------------------------

/// The nonce size of a symmetric key type.
pub fn nonce_size(kt: KeyType) -> usize {
    if kt == KeyType::XChaCha20Poly1305 {
        24
    } else {
        12
    }
}

/// Seals `plaintext` and returns `nonce || ciphertext || tag`. A random
/// nonce is drawn unless one is given (convergent encryption).
pub fn seal(
    kt: KeyType,
    key: &[u8],
    nonce: Option<&[u8]>,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    let nonce: Vec<u8> = match nonce {
        Some(n) => n.to_vec(),
        None => random_bytes(nonce_size(kt)).to_vec(),
    };
    if nonce.len() != nonce_size(kt) {
        return Err(format!(
            "base64-decoded nonce must be {} bytes long but given {} bytes",
            nonce_size(kt),
            nonce.len()
        ));
    }
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    let ct = match kt {
        KeyType::Aes128Gcm96 => Aes128Gcm::new_from_slice(key)
            .map_err(|_| "crypto/aes: invalid key size".to_string())?
            .encrypt(nonce.as_slice().into(), payload),
        KeyType::Aes256Gcm96 => Aes256Gcm::new_from_slice(key)
            .map_err(|_| "crypto/aes: invalid key size".to_string())?
            .encrypt(nonce.as_slice().into(), payload),
        KeyType::ChaCha20Poly1305 => ChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| "chacha20poly1305: bad key length".to_string())?
            .encrypt(nonce.as_slice().into(), payload),
        KeyType::XChaCha20Poly1305 => XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| "chacha20poly1305: bad key length".to_string())?
            .encrypt(nonce.as_slice().into(), payload),
        other => return Err(format!("unsupported key type {other}")),
    }
    .map_err(|_| "encryption failed".to_string())?;
    let mut out = nonce;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Why [`open`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Shorter than a nonce.
    Length,
    /// Authentication failed (Go's wording for the cipher).
    Auth(&'static str),
    /// A key of the wrong size.
    Key(String),
}

/// Opens `nonce || ciphertext || tag`.
pub fn open(
    kt: KeyType,
    key: &[u8],
    data: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let ns = nonce_size(kt);
    if data.len() < ns {
        return Err(OpenError::Length);
    }
    let (nonce, ct) = data.split_at(ns);
    let payload = Payload { msg: ct, aad };
    const GCM: &str = "cipher: message authentication failed";
    const CHACHA: &str = "chacha20poly1305: message authentication failed";
    let bad_key = |_| OpenError::Key("invalid key size".into());
    let plain = match kt {
        KeyType::Aes128Gcm96 => Aes128Gcm::new_from_slice(key)
            .map_err(bad_key)?
            .decrypt(nonce.into(), payload)
            .map_err(|_| OpenError::Auth(GCM)),
        KeyType::Aes256Gcm96 => Aes256Gcm::new_from_slice(key)
            .map_err(bad_key)?
            .decrypt(nonce.into(), payload)
            .map_err(|_| OpenError::Auth(GCM)),
        KeyType::ChaCha20Poly1305 => ChaCha20Poly1305::new_from_slice(key)
            .map_err(bad_key)?
            .decrypt(nonce.into(), payload)
            .map_err(|_| OpenError::Auth(CHACHA)),
        KeyType::XChaCha20Poly1305 => XChaCha20Poly1305::new_from_slice(key)
            .map_err(bad_key)?
            .decrypt(nonce.into(), payload)
            .map_err(|_| OpenError::Auth(CHACHA)),
        other => return Err(OpenError::Key(format!("unsupported key type {other}"))),
    }?;
    Ok(Zeroizing::new(plain))
}

// ---------------------------------------------------------------------------
// Key derivation
// ---------------------------------------------------------------------------

/// HKDF-SHA256 with no salt (Go's `hkdf.New(sha256.New, key, nil, info)`).
pub fn hkdf_sha256(ikm: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    let hk = hkdf::Hkdf::<Sha256>::new(None, ikm);
    let mut out = Zeroizing::new(vec![0u8; len]);
    hk.expand(info, &mut out)
        .map_err(|_| format!("unable to read enough derived bytes, needed {len}"))?;
    Ok(out)
}

/// OpenBao's legacy KDF (`kdf.CounterMode` with HMAC-SHA256), 256 bits.
pub fn counter_mode_sha256(key: &[u8], context: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut input = Vec::with_capacity(context.len() + 8);
    input.extend_from_slice(&0u32.to_be_bytes());
    input.extend_from_slice(context);
    input.extend_from_slice(&256u32.to_be_bytes());
    let mut out = Zeroizing::new(Vec::with_capacity(32));
    // HMAC accepts keys of any length.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return out;
    };
    mac.update(&input);
    out.extend_from_slice(&mac.finalize().into_bytes());
    out
}

// ---------------------------------------------------------------------------
// Hashes and HMAC
// ---------------------------------------------------------------------------

/// OpenBao's `keysutil.HashType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    None,
    Sha1,
    Sha2_224,
    Sha2_256,
    Sha2_384,
    Sha2_512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl HashAlg {
    /// `keysutil.HashTypeMap`.
    pub fn parse(s: &str) -> Option<HashAlg> {
        Some(match s {
            "none" => HashAlg::None,
            "sha1" => HashAlg::Sha1,
            "sha2-224" => HashAlg::Sha2_224,
            "sha2-256" => HashAlg::Sha2_256,
            "sha2-384" => HashAlg::Sha2_384,
            "sha2-512" => HashAlg::Sha2_512,
            "sha3-224" => HashAlg::Sha3_224,
            "sha3-256" => HashAlg::Sha3_256,
            "sha3-384" => HashAlg::Sha3_384,
            "sha3-512" => HashAlg::Sha3_512,
            _ => return None,
        })
    }

    /// The digest size in bytes (0 for `none`).
    pub fn size(self) -> usize {
        match self {
            HashAlg::None => 0,
            HashAlg::Sha1 => 20,
            HashAlg::Sha2_224 | HashAlg::Sha3_224 => 28,
            HashAlg::Sha2_256 | HashAlg::Sha3_256 => 32,
            HashAlg::Sha2_384 | HashAlg::Sha3_384 => 48,
            HashAlg::Sha2_512 | HashAlg::Sha3_512 => 64,
        }
    }

    /// The digest of `data` (`None` for `none`).
    pub fn digest(self, data: &[u8]) -> Option<Vec<u8>> {
        Some(match self {
            HashAlg::None => return None,
            HashAlg::Sha1 => sha1::Sha1::digest(data).to_vec(),
            HashAlg::Sha2_224 => Sha224::digest(data).to_vec(),
            HashAlg::Sha2_256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha2_384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha2_512 => Sha512::digest(data).to_vec(),
            HashAlg::Sha3_224 => Sha3_224::digest(data).to_vec(),
            HashAlg::Sha3_256 => Sha3_256::digest(data).to_vec(),
            HashAlg::Sha3_384 => Sha3_384::digest(data).to_vec(),
            HashAlg::Sha3_512 => Sha3_512::digest(data).to_vec(),
        })
    }

    /// HMAC of `data` under `key` (`None` for `none`).
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).ok()?;
            m.update(data);
            Some(m.finalize().into_bytes().to_vec())
        }
        match self {
            HashAlg::None => None,
            HashAlg::Sha1 => run::<Hmac<sha1::Sha1>>(key, data),
            HashAlg::Sha2_224 => run::<Hmac<Sha224>>(key, data),
            HashAlg::Sha2_256 => run::<Hmac<Sha256>>(key, data),
            HashAlg::Sha2_384 => run::<Hmac<Sha384>>(key, data),
            HashAlg::Sha2_512 => run::<Hmac<Sha512>>(key, data),
            HashAlg::Sha3_224 => run::<Hmac<Sha3_224>>(key, data),
            HashAlg::Sha3_256 => run::<Hmac<Sha3_256>>(key, data),
            HashAlg::Sha3_384 => run::<Hmac<Sha3_384>>(key, data),
            HashAlg::Sha3_512 => run::<Hmac<Sha3_512>>(key, data),
        }
    }

    fn boxed(self) -> Option<Box<dyn sha2::digest::DynDigest>> {
        Some(match self {
            HashAlg::None => return None,
            HashAlg::Sha1 => Box::new(sha1::Sha1::new()),
            HashAlg::Sha2_224 => Box::new(Sha224::new()),
            HashAlg::Sha2_256 => Box::new(Sha256::new()),
            HashAlg::Sha2_384 => Box::new(Sha384::new()),
            HashAlg::Sha2_512 => Box::new(Sha512::new()),
            HashAlg::Sha3_224 => Box::new(Sha3_224::new()),
            HashAlg::Sha3_256 => Box::new(Sha3_256::new()),
            HashAlg::Sha3_384 => Box::new(Sha3_384::new()),
            HashAlg::Sha3_512 => Box::new(Sha3_512::new()),
        })
    }

    fn pss(self, salt: usize) -> Option<Pss> {
        Some(match self {
            HashAlg::None => return None,
            HashAlg::Sha1 => Pss::new_with_salt::<sha1::Sha1>(salt),
            HashAlg::Sha2_224 => Pss::new_with_salt::<Sha224>(salt),
            HashAlg::Sha2_256 => Pss::new_with_salt::<Sha256>(salt),
            HashAlg::Sha2_384 => Pss::new_with_salt::<Sha384>(salt),
            HashAlg::Sha2_512 => Pss::new_with_salt::<Sha512>(salt),
            HashAlg::Sha3_224 => Pss::new_with_salt::<Sha3_224>(salt),
            HashAlg::Sha3_256 => Pss::new_with_salt::<Sha3_256>(salt),
            HashAlg::Sha3_384 => Pss::new_with_salt::<Sha3_384>(salt),
            HashAlg::Sha3_512 => Pss::new_with_salt::<Sha3_512>(salt),
        })
    }

    fn pkcs1v15(self) -> Pkcs1v15Sign {
        match self {
            HashAlg::None => Pkcs1v15Sign::new_unprefixed(),
            HashAlg::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
            HashAlg::Sha2_224 => Pkcs1v15Sign::new::<Sha224>(),
            HashAlg::Sha2_256 => Pkcs1v15Sign::new::<Sha256>(),
            HashAlg::Sha2_384 => Pkcs1v15Sign::new::<Sha384>(),
            HashAlg::Sha2_512 => Pkcs1v15Sign::new::<Sha512>(),
            HashAlg::Sha3_224 => Pkcs1v15Sign::new::<Sha3_224>(),
            HashAlg::Sha3_256 => Pkcs1v15Sign::new::<Sha3_256>(),
            HashAlg::Sha3_384 => Pkcs1v15Sign::new::<Sha3_384>(),
            HashAlg::Sha3_512 => Pkcs1v15Sign::new::<Sha3_512>(),
        }
    }
}

/// Constant-time comparison.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle_eq::ConstantTimeEq;
    a.len() == b.len() && a.ct_eq(b)
}

mod subtle_eq {
    /// A tiny constant-time equality (avoids a direct `subtle` dependency).
    pub trait ConstantTimeEq {
        fn ct_eq(&self, other: &Self) -> bool;
    }
    impl ConstantTimeEq for [u8] {
        fn ct_eq(&self, other: &Self) -> bool {
            let mut acc = 0u8;
            for (a, b) in self.iter().zip(other) {
                acc |= a ^ b;
            }
            acc == 0
        }
    }
}

// ---------------------------------------------------------------------------
// ECDSA
// ---------------------------------------------------------------------------

/// Go's `hashToInt` for a curve: the leftmost order-size bits of a digest,
/// as a big-endian field element (short digests are left-padded).
fn hash_to_field(kt: KeyType, digest: &[u8]) -> Vec<u8> {
    let n = kt.curve_bytes();
    if kt == KeyType::EcdsaP521 && digest.len() >= n {
        // 66 bytes hold 528 bits; P-521's order has 521: shift right by 7.
        let bits = &digest[..n];
        return (0..n)
            .map(|i| {
                let hi = if i == 0 { 0 } else { bits[i - 1] };
                (hi << 1) | (bits[i] >> 7)
            })
            .collect();
    }
    if digest.len() >= n {
        return digest[..n].to_vec();
    }
    let mut out = vec![0u8; n - digest.len()];
    out.extend_from_slice(digest);
    out
}

macro_rules! ec_curve {
    ($modname:ident, $curve:ident) => {
        pub mod $modname {
            use rand::rngs::OsRng;
            use $curve::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
            use $curve::ecdsa::{Signature, SigningKey, VerifyingKey};
            use $curve::elliptic_curve::sec1::ToEncodedPoint;
            use $curve::pkcs8::{EncodePrivateKey, EncodePublicKey};
            use $curve::{PublicKey, SecretKey};
            use zeroize::Zeroizing;

            /// A new key: (d, x, y), each a fixed-size big-endian field element.
            pub fn generate() -> (Zeroizing<Vec<u8>>, Vec<u8>, Vec<u8>) {
                let sk = SecretKey::random(&mut OsRng);
                let point = sk.public_key().to_encoded_point(false);
                let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
                let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
                (Zeroizing::new(sk.to_bytes().to_vec()), x, y)
            }

            fn public(x: &[u8], y: &[u8]) -> Result<PublicKey, String> {
                let mut sec1 = Vec::with_capacity(1 + x.len() + y.len());
                sec1.push(4);
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                PublicKey::from_sec1_bytes(&sec1).map_err(|_| "invalid public key".to_string())
            }

            /// The public key's PKIX (SubjectPublicKeyInfo) DER.
            pub fn public_der(x: &[u8], y: &[u8]) -> Result<Vec<u8>, String> {
                public(x, y)?
                    .to_public_key_der()
                    .map(|d| d.as_bytes().to_vec())
                    .map_err(|e| e.to_string())
            }

            /// PKCS #8 DER.
            pub fn pkcs8_der(d: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
                let sk = SecretKey::from_slice(d).map_err(|_| "invalid private key".to_string())?;
                sk.to_pkcs8_der()
                    .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
                    .map_err(|e| e.to_string())
            }

            /// Signs a field-sized digest; returns (r, s) as fixed-size bytes.
            pub fn sign(d: &[u8], z: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
                let key =
                    SigningKey::from_slice(d).map_err(|_| "invalid private key".to_string())?;
                let sig: Signature = key
                    .sign_prehash_with_rng(&mut OsRng, z)
                    .map_err(|e| e.to_string())?;
                let (r, s) = sig.split_bytes();
                Ok((r.to_vec(), s.to_vec()))
            }

            /// Verifies (r, s) over a field-sized digest; any malformed
            /// input is simply not valid, as with Go's `ecdsa.Verify`.
            pub fn verify(x: &[u8], y: &[u8], z: &[u8], r: &[u8], s: &[u8]) -> bool {
                let Ok(pk) = public(x, y) else { return false };
                let Ok(vk) = VerifyingKey::from_sec1_bytes(pk.to_encoded_point(false).as_bytes())
                else {
                    return false;
                };
                let mut rs = Vec::with_capacity(r.len() + s.len());
                rs.extend_from_slice(r);
                rs.extend_from_slice(s);
                let Ok(sig) = Signature::from_slice(&rs) else {
                    return false;
                };
                vk.verify_prehash(z, &sig).is_ok()
            }
        }
    };
}

ec_curve!(p256c, p256);
ec_curve!(p384c, p384);
ec_curve!(p521c, p521);

/// A new ECDSA key: (d, x, y).
pub fn ec_generate(kt: KeyType) -> (Zeroizing<Vec<u8>>, Vec<u8>, Vec<u8>) {
    match kt {
        KeyType::EcdsaP384 => p384c::generate(),
        KeyType::EcdsaP521 => p521c::generate(),
        _ => p256c::generate(),
    }
}

/// The PKIX DER of an ECDSA public key.
pub fn ec_public_der(kt: KeyType, x: &[u8], y: &[u8]) -> Result<Vec<u8>, String> {
    let (x, y) = (pad(x, kt.curve_bytes()), pad(y, kt.curve_bytes()));
    match kt {
        KeyType::EcdsaP384 => p384c::public_der(&x, &y),
        KeyType::EcdsaP521 => p521c::public_der(&x, &y),
        _ => p256c::public_der(&x, &y),
    }
}

/// Go's `x509.MarshalECPrivateKey`: SEC 1 `ECPrivateKey` with the named
/// curve and the public key.
pub fn ec_sec1_der(kt: KeyType, d: &[u8], x: &[u8], y: &[u8]) -> Zeroizing<Vec<u8>> {
    let n = kt.curve_bytes();
    let oid: &[u8] = match kt {
        KeyType::EcdsaP384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        KeyType::EcdsaP521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        _ => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    };
    let mut point = vec![0x00, 0x04];
    point.extend(pad(x, n));
    point.extend(pad(y, n));
    let mut body = Zeroizing::new(tlv(0x02, &[1]));
    body.extend(tlv(0x04, &Zeroizing::new(pad(d, n))));
    body.extend(tlv(0xa0, oid));
    body.extend(tlv(0xa1, &tlv(0x03, &point)));
    Zeroizing::new(tlv(0x30, &body))
}

/// A DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// PKCS #8 DER of an ECDSA private key.
pub fn ec_pkcs8_der(kt: KeyType, d: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let d = Zeroizing::new(pad(d, kt.curve_bytes()));
    match kt {
        KeyType::EcdsaP384 => p384c::pkcs8_der(&d),
        KeyType::EcdsaP521 => p521c::pkcs8_der(&d),
        _ => p256c::pkcs8_der(&d),
    }
}

/// Signs a digest (any length, as Go's `ecdsa.Sign`); returns (r, s).
pub fn ec_sign(kt: KeyType, d: &[u8], digest: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let z = hash_to_field(kt, digest);
    let d = Zeroizing::new(pad(d, kt.curve_bytes()));
    match kt {
        KeyType::EcdsaP384 => p384c::sign(&d, &z),
        KeyType::EcdsaP521 => p521c::sign(&d, &z),
        _ => p256c::sign(&d, &z),
    }
}

/// Verifies (r, s) (big-endian, any length) over a digest.
pub fn ec_verify(kt: KeyType, x: &[u8], y: &[u8], digest: &[u8], r: &[u8], s: &[u8]) -> bool {
    let n = kt.curve_bytes();
    let (r, s) = (strip(r), strip(s));
    if r.len() > n || s.len() > n {
        return false;
    }
    let (r, s) = (pad(r, n), pad(s, n));
    let (x, y) = (pad(x, n), pad(y, n));
    let z = hash_to_field(kt, digest);
    match kt {
        KeyType::EcdsaP384 => p384c::verify(&x, &y, &z, &r, &s),
        KeyType::EcdsaP521 => p521c::verify(&x, &y, &z, &r, &s),
        _ => p256c::verify(&x, &y, &z, &r, &s),
    }
}

/// Left-pads big-endian bytes to `n` (longer input is returned unchanged).
pub fn pad(b: &[u8], n: usize) -> Vec<u8> {
    let b = strip(b);
    if b.len() >= n {
        return b.to_vec();
    }
    let mut out = vec![0u8; n - b.len()];
    out.extend_from_slice(b);
    out
}

/// Drops leading zero bytes.
pub fn strip(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[i..]
}

/// Go's `asn1.Marshal(ecdsaSignature{R, S})` for non-negative R and S.
pub fn ecdsa_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let v = strip(v);
        let mut body = Vec::with_capacity(v.len() + 1);
        if v.is_empty() || v[0] & 0x80 != 0 {
            body.push(0);
        }
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        out.extend(der_len(body.len()));
        out.extend(body);
        out
    }
    let mut body = int(r);
    body.extend(int(s));
    let mut out = vec![0x30];
    out.extend(der_len(body.len()));
    out.extend(body);
    out
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// Why an ASN.1 ECDSA signature did not parse (OpenBao's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asn1SigError {
    Invalid,
    ExtraData,
}

/// Parses `SEQUENCE { r INTEGER, s INTEGER }` with Go's `encoding/asn1`
/// strictness. Returns (r, s) as two's-complement big-endian bytes and
/// whether either is negative.
pub fn ecdsa_parse_der(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>, bool), Asn1SigError> {
    fn tag_len(b: &[u8], tag: u8) -> Result<(usize, usize), Asn1SigError> {
        // Returns (header length, content length).
        if b.len() < 2 || b[0] != tag {
            return Err(Asn1SigError::Invalid);
        }
        let first = b[1];
        if first & 0x80 == 0 {
            return Ok((2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < 2 + n {
            return Err(Asn1SigError::Invalid);
        }
        if b[2] == 0 {
            return Err(Asn1SigError::Invalid);
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(b[2 + i]);
        }
        if len < 0x80 {
            return Err(Asn1SigError::Invalid);
        }
        Ok((2 + n, len))
    }
    fn integer(b: &[u8]) -> Result<(Vec<u8>, bool, usize), Asn1SigError> {
        let (h, len) = tag_len(b, 0x02)?;
        let end = h.checked_add(len).ok_or(Asn1SigError::Invalid)?;
        if b.len() < end || len == 0 {
            return Err(Asn1SigError::Invalid);
        }
        let v = &b[h..end];
        if v.len() > 1 && ((v[0] == 0 && v[1] & 0x80 == 0) || (v[0] == 0xff && v[1] & 0x80 != 0)) {
            return Err(Asn1SigError::Invalid);
        }
        Ok((v.to_vec(), v[0] & 0x80 != 0, end))
    }
    let (h, len) = tag_len(der, 0x30)?;
    let end = h.checked_add(len).ok_or(Asn1SigError::Invalid)?;
    if der.len() < end {
        return Err(Asn1SigError::Invalid);
    }
    let body = &der[h..end];
    let (r, rneg, used) = integer(body)?;
    let (s, sneg, _) = integer(&body[used..])?;
    if end != der.len() {
        return Err(Asn1SigError::ExtraData);
    }
    Ok((r, s, rneg || sneg))
}

// ---------------------------------------------------------------------------
// Ed25519
// ---------------------------------------------------------------------------

/// A new Ed25519 key as Go stores it: seed || public key (64 bytes).
pub fn ed25519_generate() -> Zeroizing<Vec<u8>> {
    let seed = random_bytes(32);
    ed25519_from_seed(&seed)
}

/// Go's `ed25519.NewKeyFromSeed`: seed || public key.
pub fn ed25519_from_seed(seed: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut s = Zeroizing::new([0u8; 32]);
    let n = seed.len().min(32);
    s[..n].copy_from_slice(&seed[..n]);
    let sk = ed25519_dalek::SigningKey::from_bytes(&s);
    let mut out = Zeroizing::new(Vec::with_capacity(64));
    out.extend_from_slice(s.as_ref());
    out.extend_from_slice(sk.verifying_key().as_bytes());
    out
}

/// The public half of a 64-byte Go Ed25519 private key.
pub fn ed25519_public(private: &[u8]) -> Vec<u8> {
    ed25519_from_seed(&private[..private.len().min(32)])[32..].to_vec()
}

/// Signs `msg` with a 64-byte (or 32-byte seed) private key.
pub fn ed25519_sign(private: &[u8], msg: &[u8]) -> Result<Vec<u8>, String> {
    if private.len() < 32 {
        return Err("ed25519: bad private key length".into());
    }
    let mut s = Zeroizing::new([0u8; 32]);
    s.copy_from_slice(&private[..32]);
    let sk = ed25519_dalek::SigningKey::from_bytes(&s);
    use ed25519_dalek::Signer;
    Ok(sk.sign(msg).to_bytes().to_vec())
}

/// Verifies an Ed25519 signature; malformed keys or signatures are invalid.
pub fn ed25519_verify(public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(pk) = <[u8; 32]>::try_from(public) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    use ed25519_dalek::Verifier;
    vk.verify(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_ok()
}

/// Go's `x509.MarshalPKIXPublicKey` for Ed25519.
pub fn ed25519_spki_der(public: &[u8]) -> Vec<u8> {
    let mut out = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    out.extend_from_slice(public);
    out
}

/// Go's `x509.MarshalPKCS8PrivateKey` for Ed25519 (seed only).
pub fn ed25519_pkcs8_der(private: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ]);
    out.extend_from_slice(&private[..private.len().min(32)]);
    out
}

// ---------------------------------------------------------------------------
// RSA
// ---------------------------------------------------------------------------

/// A new RSA key (e = 65537) as PKCS #1 DER.
pub fn rsa_generate(bits: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    let key = RsaPrivateKey::new(&mut OsRng, bits).map_err(|e| e.to_string())?;
    rsa_private_der(&key)
}

/// PKCS #1 DER of a private key.
pub fn rsa_private_der(key: &RsaPrivateKey) -> Result<Zeroizing<Vec<u8>>, String> {
    key.to_pkcs1_der()
        .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
        .map_err(|e| e.to_string())
}

/// Parses a PKCS #1 DER private key.
pub fn rsa_private(der: &[u8]) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::from_pkcs1_der(der).map_err(|e| e.to_string())
}

/// Parses a PKCS #1 DER public key.
pub fn rsa_public(der: &[u8]) -> Result<RsaPublicKey, String> {
    RsaPublicKey::from_pkcs1_der(der).map_err(|e| e.to_string())
}

/// PKCS #1 DER of a public key.
pub fn rsa_public_pkcs1_der(key: &RsaPublicKey) -> Result<Vec<u8>, String> {
    key.to_pkcs1_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| e.to_string())
}

/// PKIX DER of a public key.
pub fn rsa_spki_der(key: &RsaPublicKey) -> Result<Vec<u8>, String> {
    key.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| e.to_string())
}

/// PKCS #8 DER of a private key.
pub fn rsa_pkcs8_der(key: &RsaPrivateKey) -> Result<Zeroizing<Vec<u8>>, String> {
    key.to_pkcs8_der()
        .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
        .map_err(|e| e.to_string())
}

/// RSA-OAEP with SHA-256 and an empty label.
pub fn rsa_encrypt(key: &RsaPublicKey, msg: &[u8]) -> Result<Vec<u8>, String> {
    key.encrypt(&mut OsRng, Oaep::new::<Sha256>(), msg)
        .map_err(|_| "crypto/rsa: message too long for RSA key size".to_string())
}

/// RSA-OAEP decryption.
pub fn rsa_decrypt(key: &RsaPrivateKey, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    key.decrypt(Oaep::new::<Sha256>(), ct)
        .map(Zeroizing::new)
        .map_err(|_| "crypto/rsa: decryption error".to_string())
}

/// Go's PSS salt-length conventions: 0 is "auto", -1 is "equals hash".
pub const PSS_SALT_AUTO: i64 = 0;
pub const PSS_SALT_EQUALS_HASH: i64 = -1;

/// Go's maximum PSS salt length for a key size and hash.
pub fn pss_max_salt(key_bits: usize, hash: HashAlg) -> i64 {
    ((key_bits as i64 - 1 + 7) / 8) - 2 - hash.size() as i64
}

/// `SignPSS` with Go's salt length: auto = maximum, -1 = hash size.
pub fn rsa_sign_pss(
    key: &RsaPrivateKey,
    hash: HashAlg,
    digest: &[u8],
    salt: i64,
) -> Result<Vec<u8>, String> {
    if digest.len() != hash.size() {
        return Err("crypto/rsa: input must be hashed with given hash".into());
    }
    let salt = match salt {
        PSS_SALT_AUTO => pss_max_salt(key.n().bits(), hash),
        PSS_SALT_EQUALS_HASH => hash.size() as i64,
        n => n,
    };
    let salt = usize::try_from(salt).map_err(|_| "crypto/rsa: invalid salt length".to_string())?;
    let scheme = hash
        .pss(salt)
        .ok_or_else(|| "crypto/rsa: unsupported hash function".to_string())?;
    key.sign_with_rng(&mut OsRng, scheme, digest)
        .map_err(|e| format!("crypto/rsa: {e}"))
}

/// `SignPKCS1v15` (`none` signs the raw input without a DigestInfo prefix).
pub fn rsa_sign_pkcs1v15(
    key: &RsaPrivateKey,
    hash: HashAlg,
    digest: &[u8],
) -> Result<Vec<u8>, String> {
    if hash != HashAlg::None && digest.len() != hash.size() {
        return Err("crypto/rsa: input must be hashed message".into());
    }
    key.sign(hash.pkcs1v15(), digest)
        .map_err(|e| format!("crypto/rsa: {e}"))
}

/// `VerifyPKCS1v15`: true when valid.
pub fn rsa_verify_pkcs1v15(key: &RsaPublicKey, hash: HashAlg, digest: &[u8], sig: &[u8]) -> bool {
    if hash != HashAlg::None && digest.len() != hash.size() {
        return false;
    }
    key.verify(hash.pkcs1v15(), digest, sig).is_ok()
}

/// `VerifyPSS` with Go's salt-length handling (auto detects the salt).
pub fn rsa_verify_pss(
    key: &RsaPublicKey,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
    salt: i64,
) -> bool {
    let h_len = hash.size();
    if h_len == 0 || digest.len() != h_len {
        return false;
    }
    let k = key.size();
    if sig.len() != k {
        return false;
    }
    let s = BigUint::from_bytes_be(sig);
    if &s >= key.n() {
        return false;
    }
    let Ok(m) = rsa::hazmat::rsa_encrypt(key, &s) else {
        return false;
    };
    let em_bits = key.n().bits() - 1;
    let em_len = em_bits.div_ceil(8);
    let m = m.to_bytes_be();
    if m.len() > em_len {
        return false;
    }
    let mut em = vec![0u8; em_len - m.len()];
    em.extend_from_slice(&m);
    if em_len < h_len + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let db_len = em_len - h_len - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let h = &rest[..h_len];
    let unused = 8 * em_len - em_bits;
    if unused > 0 && masked_db[0] & (0xffu8 << (8 - unused)) != 0 {
        return false;
    }
    let Some(mut hasher) = hash.boxed() else {
        return false;
    };
    // MGF1.
    let mut mask = Vec::with_capacity(db_len + h_len);
    let mut counter = 0u32;
    while mask.len() < db_len {
        hasher.update(h);
        hasher.update(&counter.to_be_bytes());
        mask.extend_from_slice(&hasher.finalize_reset());
        counter += 1;
    }
    let mut db: Vec<u8> = masked_db.iter().zip(&mask).map(|(a, b)| a ^ b).collect();
    if unused > 0 {
        db[0] &= 0xffu8 >> unused;
    }
    let s_len = match salt {
        PSS_SALT_AUTO => {
            let Some(i) = db.iter().position(|b| *b != 0) else {
                return false;
            };
            if db[i] != 1 {
                return false;
            }
            db_len - i - 1
        }
        n => {
            let n = if n == PSS_SALT_EQUALS_HASH {
                h_len as i64
            } else {
                n
            };
            let Ok(n) = usize::try_from(n) else {
                return false;
            };
            if n + 1 > db_len {
                return false;
            }
            let sep = db_len - n - 1;
            if db[..sep].iter().any(|b| *b != 0) || db[sep] != 1 {
                return false;
            }
            n
        }
    };
    let salt_bytes = &db[db_len - s_len..];
    hasher.update(&[0u8; 8]);
    hasher.update(digest);
    hasher.update(salt_bytes);
    let h2 = hasher.finalize_reset();
    ct_eq(&h2, h)
}

/// The modulus size of a public key in bits.
pub fn rsa_bits(key: &RsaPublicKey) -> usize {
    key.n().bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_for_every_symmetric_type() {
        for kt in [
            KeyType::Aes128Gcm96,
            KeyType::Aes256Gcm96,
            KeyType::ChaCha20Poly1305,
            KeyType::XChaCha20Poly1305,
        ] {
            let key = random_bytes(kt.symmetric_key_len());
            let ct = seal(kt, &key, None, b"hello", b"ad").expect("seal");
            assert_eq!(ct.len(), nonce_size(kt) + 5 + 16);
            assert_eq!(
                open(kt, &key, &ct, b"ad").expect("open").as_slice(),
                b"hello"
            );
            assert!(matches!(open(kt, &key, &ct, b""), Err(OpenError::Auth(_))));
            assert_eq!(open(kt, &key, &ct[..3], b""), Err(OpenError::Length));
        }
    }

    #[test]
    fn hkdf_matches_rfc5869_case_3() {
        // RFC 5869 test case 3 (no salt, no info).
        let ikm = [0x0bu8; 22];
        let okm = hkdf_sha256(&ikm, &[], 42).expect("hkdf");
        assert_eq!(
            hex::encode(okm.as_slice()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
    }

    #[test]
    fn hashes_and_hmacs() {
        assert_eq!(
            hex::encode(HashAlg::Sha2_256.digest(b"hi").expect("digest")),
            "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha3_224.digest(b"hi").expect("digest")),
            "4538aacc6ccae167eb462bd2d6ced3537edf6f8d88af709be7b130c0"
        );
        assert_eq!(HashAlg::None.digest(b"x"), None);
        for name in [
            "sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256",
            "sha3-384", "sha3-512",
        ] {
            let h = HashAlg::parse(name).expect("known");
            assert_eq!(h.digest(b"x").map(|d| d.len()), Some(h.size()));
            assert_eq!(h.hmac(b"k", b"x").map(|d| d.len()), Some(h.size()));
        }
        assert_eq!(HashAlg::parse("md5"), None);
    }

    #[test]
    fn ecdsa_sign_verify_all_curves_and_digest_lengths() {
        for kt in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::EcdsaP521] {
            let (d, x, y) = ec_generate(kt);
            for len in [20usize, 28, 32, 48, 64, 70] {
                let digest = vec![0x5au8; len];
                let (r, s) = ec_sign(kt, &d, &digest).expect("sign");
                assert!(ec_verify(kt, &x, &y, &digest, &r, &s), "{kt} {len}");
                let mut other = digest.clone();
                other[0] ^= 1;
                assert!(!ec_verify(kt, &x, &y, &other, &r, &s));
                let der = ecdsa_der(&r, &s);
                let (r2, s2, neg) = ecdsa_parse_der(&der).expect("der");
                assert!(!neg);
                assert!(ec_verify(kt, &x, &y, &digest, &r2, &s2));
            }
            assert!(ec_public_der(kt, &x, &y).is_ok());
            assert_eq!(ec_sec1_der(kt, &d, &x, &y)[0], 0x30);
            assert!(ec_pkcs8_der(kt, &d).is_ok());
            assert!(!ec_verify(kt, &x, &y, b"digest", &[], &[]));
        }
    }

    #[test]
    fn asn1_signature_parsing_is_strict_like_go() {
        assert_eq!(ecdsa_parse_der(&[0x30, 0x00]), Err(Asn1SigError::Invalid));
        assert_eq!(
            ecdsa_parse_der(&[0x30, 0x06, 2, 1, 1, 2, 1, 1, 0]),
            Err(Asn1SigError::ExtraData)
        );
        assert_eq!(
            ecdsa_parse_der(&[0x30, 0x07, 2, 2, 0, 1, 2, 1, 1]),
            Err(Asn1SigError::Invalid)
        );
        assert_eq!(
            ecdsa_parse_der(&[0x30, 0x06, 2, 1, 1, 2, 1, 2]),
            Ok((vec![1], vec![2], false))
        );
        // Extra elements inside the sequence are allowed.
        assert_eq!(
            ecdsa_parse_der(&[0x30, 0x09, 2, 1, 1, 2, 1, 2, 2, 1, 3]),
            Ok((vec![1], vec![2], false))
        );
        assert_eq!(
            ecdsa_parse_der(&[0x30, 0x06, 2, 1, 0xff, 2, 1, 2]),
            Ok((vec![0xff], vec![2], true))
        );
    }

    #[test]
    fn ed25519_is_deterministic_and_verifies() {
        let k = ed25519_generate();
        assert_eq!(k.len(), 64);
        let pubkey = ed25519_public(&k);
        assert_eq!(&k[32..], pubkey.as_slice());
        let s1 = ed25519_sign(&k, b"msg").expect("sign");
        assert_eq!(s1, ed25519_sign(&k, b"msg").expect("sign"));
        assert!(ed25519_verify(&pubkey, b"msg", &s1));
        assert!(!ed25519_verify(&pubkey, b"other", &s1));
        assert!(!ed25519_verify(&pubkey, b"msg", &s1[..10]));
        assert_eq!(ed25519_spki_der(&pubkey).len(), 44);
        assert_eq!(ed25519_pkcs8_der(&k).len(), 48);
    }

    #[test]
    fn rsa_pss_and_pkcs1v15() {
        let der = rsa_generate(2048).expect("generate");
        let key = rsa_private(&der).expect("parse");
        let public = key.to_public_key();
        let digest = Sha256::digest(b"msg").to_vec();
        for salt in [PSS_SALT_AUTO, PSS_SALT_EQUALS_HASH, 20] {
            let sig = rsa_sign_pss(&key, HashAlg::Sha2_256, &digest, salt).expect("sign");
            assert!(rsa_verify_pss(
                &public,
                HashAlg::Sha2_256,
                &digest,
                &sig,
                PSS_SALT_AUTO
            ));
            assert!(rsa_verify_pss(
                &public,
                HashAlg::Sha2_256,
                &digest,
                &sig,
                salt
            ));
            assert!(!rsa_verify_pss(
                &public,
                HashAlg::Sha2_256,
                &[0u8; 32],
                &sig,
                salt
            ));
        }
        let sig = rsa_sign_pss(&key, HashAlg::Sha2_256, &digest, PSS_SALT_AUTO).expect("sign");
        assert!(!rsa_verify_pss(
            &public,
            HashAlg::Sha2_256,
            &digest,
            &sig,
            32
        ));
        let sig =
            rsa_sign_pkcs1v15(&key, HashAlg::Sha3_256, &Sha3_256::digest(b"m")).expect("sign");
        assert!(rsa_verify_pkcs1v15(
            &public,
            HashAlg::Sha3_256,
            &Sha3_256::digest(b"m"),
            &sig
        ));
        let sig = rsa_sign_pkcs1v15(&key, HashAlg::None, b"raw").expect("sign");
        assert!(rsa_verify_pkcs1v15(&public, HashAlg::None, b"raw", &sig));
        let ct = rsa_encrypt(&public, b"secret").expect("encrypt");
        assert_eq!(
            rsa_decrypt(&key, &ct).expect("decrypt").as_slice(),
            b"secret"
        );
        assert!(rsa_decrypt(&key, &ct[1..]).is_err());
        assert_eq!(pss_max_salt(2048, HashAlg::Sha2_256), 222);
    }
}
