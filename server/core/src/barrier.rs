//! The barrier: AES-256-GCM over every stored value, with the storage path as
//! associated data, under a keyring of numbered terms.
//!
//! Layout in physical storage:
//! - `core/seal-config`: seal parameters (plaintext JSON, no secrets).
//! - `core/root-key`: the root key, encrypted by the seal (Shamir unseal key).
//! - `core/keyring`: the keyring, encrypted by the root key.
//! - every other key: `[0x01][term: u32 BE][nonce: 12][ciphertext+tag]`.
//!
//! Key material is held in `Zeroizing` buffers and dropped (zeroized) on seal.

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::physical::{Physical, PhysicalError, TxnOp};

/// Where the keyring lives in physical storage.
pub const KEYRING_PATH: &str = "core/keyring";
/// Where the seal-wrapped root key lives.
pub const ROOT_KEY_PATH: &str = "core/root-key";
/// Where the seal configuration lives.
pub const SEAL_CONFIG_PATH: &str = "core/seal-config";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// Errors from the barrier.
#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    /// The barrier has no keyring loaded.
    #[error("barrier is sealed")]
    Sealed,
    /// A value failed to decrypt or is malformed. The message never carries data.
    #[error("failed to decrypt value at {0:?}")]
    Decrypt(String),
    /// The key term a value names is not in the keyring.
    #[error("no key for term {0}")]
    UnknownTerm(u32),
    /// Storage failed.
    #[error(transparent)]
    Physical(#[from] PhysicalError),
    /// Encoding failed.
    #[error("encoding: {0}")]
    Encoding(String),
}

/// A 256-bit key that zeroizes on drop.
pub type Key = Zeroizing<[u8; 32]>;

/// Fresh random key material.
pub fn random_key() -> Key {
    let mut k = Zeroizing::new([0u8; 32]);
    rand::thread_rng().fill_bytes(k.as_mut());
    k
}

/// Encrypts `plaintext` with `key`, binding `aad`, as `[version][term][nonce][ct]`.
pub fn seal_value(key: &[u8; 32], term: u32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers.
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.push(VERSION);
    out.extend_from_slice(&term.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// The term a sealed value names, if the header is well formed.
pub fn value_term(blob: &[u8]) -> Option<u32> {
    if blob.len() < HEADER_LEN + 16 || blob[0] != VERSION {
        return None;
    }
    Some(u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
}

/// Decrypts a value made by [`seal_value`]; `None` when it does not authenticate.
pub fn open_value(key: &[u8; 32], aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    value_term(blob)?;
    let cipher = Aes256Gcm::new(key.into());
    let nonce = Nonce::from_slice(&blob[5..HEADER_LEN]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &blob[HEADER_LEN..],
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// One key of the keyring.
#[derive(Serialize, Deserialize)]
struct KeyEntry {
    term: u32,
    #[serde(with = "hex_key")]
    key: Key,
    install_time: String,
}

/// The keyring as stored (encrypted by the root key).
#[derive(Serialize, Deserialize, Default)]
struct KeyringDoc {
    active_term: u32,
    keys: Vec<KeyEntry>,
}

mod hex_key {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(k: &Zeroizing<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        let h = Zeroizing::new(hex::encode(k.as_ref()));
        s.serialize_str(&h)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<[u8; 32]>, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        let mut out = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s.as_bytes(), out.as_mut()).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

/// The unsealed keyring.
struct Keyring {
    active_term: u32,
    keys: BTreeMap<u32, (Key, String)>,
}

impl Keyring {
    fn to_doc(&self) -> KeyringDoc {
        KeyringDoc {
            active_term: self.active_term,
            keys: self
                .keys
                .iter()
                .map(|(t, (k, at))| KeyEntry {
                    term: *t,
                    key: k.clone(),
                    install_time: at.clone(),
                })
                .collect(),
        }
    }
    fn from_doc(doc: KeyringDoc) -> Self {
        Keyring {
            active_term: doc.active_term,
            keys: doc
                .keys
                .into_iter()
                .map(|e| (e.term, (e.key, e.install_time)))
                .collect(),
        }
    }
}

/// Facts about the keyring for `sys/key-status`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    /// The term new writes use.
    pub term: u32,
    /// When that term was installed (RFC 3339).
    pub install_time: String,
}

/// The encrypting layer over a physical backend.
pub struct Barrier {
    physical: Arc<dyn Physical>,
    keyring: RwLock<Option<Arc<Keyring>>>,
    root_key: RwLock<Option<Key>>,
}

impl Barrier {
    /// A sealed barrier over `physical`.
    pub fn new(physical: Arc<dyn Physical>) -> Self {
        Barrier {
            physical,
            keyring: RwLock::new(None),
            root_key: RwLock::new(None),
        }
    }

    /// The storage underneath (for the seal's own unencrypted entries).
    pub fn physical(&self) -> &Arc<dyn Physical> {
        &self.physical
    }

    /// Whether a keyring exists in storage.
    pub async fn initialized(&self) -> Result<bool, BarrierError> {
        Ok(self.physical.get(KEYRING_PATH).await?.is_some())
    }

    /// Creates the first keyring (term 1), encrypted by `root_key`, and unseals.
    pub async fn initialize(&self, root_key: &Key) -> Result<(), BarrierError> {
        let mut keys = BTreeMap::new();
        keys.insert(1, (random_key(), chrono::Utc::now().to_rfc3339()));
        let ring = Keyring {
            active_term: 1,
            keys,
        };
        self.persist_keyring(root_key, &ring).await?;
        *self.keyring.write() = Some(Arc::new(ring));
        *self.root_key.write() = Some(root_key.clone());
        Ok(())
    }

    async fn persist_keyring(&self, root_key: &Key, ring: &Keyring) -> Result<(), BarrierError> {
        let doc = Zeroizing::new(
            serde_json::to_vec(&ring.to_doc())
                .map_err(|e| BarrierError::Encoding(e.to_string()))?,
        );
        let blob = seal_value(root_key, 0, KEYRING_PATH.as_bytes(), &doc);
        self.physical.put(KEYRING_PATH, blob).await?;
        Ok(())
    }

    /// Loads the keyring with `root_key`. A wrong root key is a decrypt error.
    pub async fn unseal(&self, root_key: &Key) -> Result<(), BarrierError> {
        let blob = self
            .physical
            .get(KEYRING_PATH)
            .await?
            .ok_or_else(|| BarrierError::Decrypt(KEYRING_PATH.into()))?;
        let plain = open_value(root_key, KEYRING_PATH.as_bytes(), &blob)
            .ok_or_else(|| BarrierError::Decrypt(KEYRING_PATH.into()))?;
        let doc: KeyringDoc = serde_json::from_slice(&plain)
            .map_err(|_| BarrierError::Decrypt(KEYRING_PATH.into()))?;
        *self.keyring.write() = Some(Arc::new(Keyring::from_doc(doc)));
        *self.root_key.write() = Some(root_key.clone());
        Ok(())
    }

    /// Drops (and so zeroizes) every key held in memory.
    pub fn seal(&self) {
        *self.keyring.write() = None;
        *self.root_key.write() = None;
    }

    /// Whether the keyring is loaded.
    pub fn is_sealed(&self) -> bool {
        self.keyring.read().is_none()
    }

    fn ring(&self) -> Result<Arc<Keyring>, BarrierError> {
        self.keyring.read().clone().ok_or(BarrierError::Sealed)
    }

    /// Adds a new key term and makes it active; old terms stay for reading.
    pub async fn rotate(&self) -> Result<u32, BarrierError> {
        let old = self.ring()?;
        let root = self.root_key.read().clone().ok_or(BarrierError::Sealed)?;
        let term = old.active_term + 1;
        let mut keys = BTreeMap::new();
        for (t, (k, at)) in &old.keys {
            keys.insert(*t, (k.clone(), at.clone()));
        }
        keys.insert(term, (random_key(), chrono::Utc::now().to_rfc3339()));
        let ring = Keyring {
            active_term: term,
            keys,
        };
        self.persist_keyring(&root, &ring).await?;
        *self.keyring.write() = Some(Arc::new(ring));
        Ok(term)
    }

    /// The active term and its install time.
    pub fn key_status(&self) -> Result<KeyStatus, BarrierError> {
        let ring = self.ring()?;
        let install_time = ring
            .keys
            .get(&ring.active_term)
            .map(|(_, at)| at.clone())
            .unwrap_or_default();
        Ok(KeyStatus {
            term: ring.active_term,
            install_time,
        })
    }

    /// Encrypts `value` for `path` under the active term.
    pub fn encrypt(&self, path: &str, value: &[u8]) -> Result<Vec<u8>, BarrierError> {
        let ring = self.ring()?;
        let (key, _) = ring
            .keys
            .get(&ring.active_term)
            .ok_or(BarrierError::UnknownTerm(ring.active_term))?;
        Ok(seal_value(key, ring.active_term, path.as_bytes(), value))
    }

    /// Decrypts a stored blob for `path`.
    pub fn decrypt(&self, path: &str, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let ring = self.ring()?;
        let term = value_term(blob).ok_or_else(|| BarrierError::Decrypt(path.to_string()))?;
        let (key, _) = ring
            .keys
            .get(&term)
            .ok_or(BarrierError::UnknownTerm(term))?;
        open_value(key, path.as_bytes(), blob)
            .ok_or_else(|| BarrierError::Decrypt(path.to_string()))
    }

    /// Reads and decrypts `path`.
    pub async fn get(&self, path: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        if self.is_sealed() {
            return Err(BarrierError::Sealed);
        }
        match self.physical.get(path).await? {
            None => Ok(None),
            Some(blob) => Ok(Some(self.decrypt(path, &blob)?)),
        }
    }

    /// Encrypts and writes `value` at `path`.
    pub async fn put(&self, path: &str, value: &[u8]) -> Result<(), BarrierError> {
        let blob = self.encrypt(path, value)?;
        self.physical.put(path, blob).await?;
        Ok(())
    }

    /// Deletes `path`.
    pub async fn delete(&self, path: &str) -> Result<(), BarrierError> {
        if self.is_sealed() {
            return Err(BarrierError::Sealed);
        }
        self.physical.delete(path).await?;
        Ok(())
    }

    /// Lists the children of `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        if self.is_sealed() {
            return Err(BarrierError::Sealed);
        }
        Ok(self.physical.list(prefix).await?)
    }

    /// Writes several entries atomically; `None` deletes.
    pub async fn transaction(
        &self,
        ops: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<(), BarrierError> {
        let mut txn = Vec::with_capacity(ops.len());
        for (path, value) in ops {
            match value {
                Some(v) => {
                    let blob = self.encrypt(&path, &v)?;
                    txn.push(TxnOp::Put {
                        key: path,
                        value: blob,
                    });
                }
                None => txn.push(TxnOp::Delete { key: path }),
            }
        }
        self.physical.transaction(txn).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physical::InmemBackend;

    #[tokio::test]
    async fn roundtrip_and_path_binding() {
        let phys: Arc<dyn Physical> = Arc::new(InmemBackend::new());
        let b = Barrier::new(phys.clone());
        assert!(!b.initialized().await.expect("init check"));
        let root = random_key();
        b.initialize(&root).await.expect("initialize");
        b.put("secret/a", b"plaintext-value").await.expect("put");
        let raw = phys.get("secret/a").await.expect("get").expect("present");
        assert!(!raw.windows(15).any(|w| w == b"plaintext-value"));
        assert_eq!(
            b.get("secret/a")
                .await
                .expect("get")
                .expect("some")
                .as_slice(),
            b"plaintext-value"
        );
        // Moving the ciphertext to another path fails to decrypt.
        phys.put("secret/b", raw).await.expect("put");
        assert!(matches!(
            b.get("secret/b").await,
            Err(BarrierError::Decrypt(_))
        ));
        // Seal forgets keys; a wrong root key cannot unseal.
        b.seal();
        assert!(matches!(b.get("secret/a").await, Err(BarrierError::Sealed)));
        assert!(b.unseal(&random_key()).await.is_err());
        b.unseal(&root).await.expect("unseal");
        assert!(b.get("secret/a").await.expect("get").is_some());
    }

    #[tokio::test]
    async fn rotation_keeps_old_terms_readable() {
        let phys: Arc<dyn Physical> = Arc::new(InmemBackend::new());
        let b = Barrier::new(phys.clone());
        let root = random_key();
        b.initialize(&root).await.expect("initialize");
        b.put("x", b"old").await.expect("put");
        assert_eq!(b.rotate().await.expect("rotate"), 2);
        b.put("y", b"new").await.expect("put");
        let raw_y = phys.get("y").await.expect("get").expect("some");
        assert_eq!(value_term(&raw_y), Some(2));
        b.seal();
        b.unseal(&root).await.expect("unseal");
        assert_eq!(b.key_status().expect("status").term, 2);
        assert_eq!(
            b.get("x").await.expect("get").expect("some").as_slice(),
            b"old"
        );
        assert_eq!(
            b.get("y").await.expect("get").expect("some").as_slice(),
            b"new"
        );
    }
}
