//! KV v2 storage: the mount configuration, each secret's metadata and its
//! versions.
//!
//! Layout under the mount's storage view (every value is encrypted by the
//! barrier):
//! - `config`: [`Config`]
//! - `salt`: 32 random bytes
//! - `metadata/<path>`: [`KeyMetadata`] (listing walks this tree)
//! - `versions/<hex hmac(salt, "<path>|<n>")>`: [`VersionData`]
//!
//! Version entries are named by a salted hash so the storage layout does not
//! tie a version to its path. Writes that change metadata and version data
//! together go through one storage transaction.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};
use zeroize::Zeroizing;

use crate::error::CoreError;
use crate::logical::StorageView;

/// Versions kept when neither the key nor the mount sets `max_versions`.
pub const DEFAULT_MAX_VERSIONS: u32 = 10;

const CONFIG_KEY: &str = "config";
const SALT_KEY: &str = "salt";
const METADATA_PREFIX: &str = "metadata/";
const VERSION_PREFIX: &str = "versions/";

/// Per-key locks, striped over 256 entries (OpenBao's `locksutil`).
static KEY_LOCKS: LazyLock<Vec<RwLock<()>>> =
    LazyLock::new(|| (0..256).map(|_| RwLock::new(())).collect());
/// Serialises creation of a mount's salt.
static SALT_LOCK: LazyLock<Mutex<()>> = LazyLock::new(|| Mutex::new(()));
/// Serialises read-modify-write of mount configurations.
static CONFIG_LOCK: LazyLock<Mutex<()>> = LazyLock::new(|| Mutex::new(()));

/// The lock guarding one secret of one mount.
pub fn key_lock(view: &StorageView, key: &str) -> &'static RwLock<()> {
    let digest = Sha256::digest(format!("{}\0{key}", view.prefix()).as_bytes());
    let idx = usize::from(digest[0]) % KEY_LOCKS.len().max(1);
    &KEY_LOCKS[idx]
}

/// The lock guarding configuration writes.
pub fn config_lock() -> &'static Mutex<()> {
    &CONFIG_LOCK
}

/// Mount-wide settings (`<mount>/config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Config {
    #[serde(default)]
    pub max_versions: u32,
    #[serde(default)]
    pub cas_required: bool,
    /// Seconds; `None` unset, `Some(-1)` disabled for every key.
    #[serde(default)]
    pub delete_version_after: Option<i64>,
    #[serde(default)]
    pub metadata_cas_required: bool,
}

impl Config {
    /// The configured delete-version-after in seconds (0 unset, -1 disabled).
    pub fn delete_version_after(&self) -> i64 {
        self.delete_version_after.unwrap_or(0)
    }

    /// Whether `delete_version_after` is disabled on every key.
    pub fn delete_version_after_disabled(&self) -> bool {
        self.delete_version_after() == -1
    }

    /// When a version created (or undeleted) at `at` expires, if ever.
    pub fn deletion_time(&self, at: DateTime<Utc>, meta: &KeyMetadata) -> Option<DateTime<Utc>> {
        if self.delete_version_after_disabled() {
            return None;
        }
        deletion_time(at, self.delete_version_after(), meta.delete_version_after)
    }
}

/// OpenBao's choice between the mount's and the key's delete-version-after:
/// the smaller of the two that are set.
pub fn deletion_time(at: DateTime<Utc>, mount: i64, meta: i64) -> Option<DateTime<Utc>> {
    if mount == 0 && meta == 0 {
        return None;
    }
    let mut min = meta;
    if (mount != 0 && mount < min) || min == 0 {
        min = mount;
    }
    at.checked_add_signed(Duration::seconds(min))
}

/// One version's bookkeeping in the key metadata.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionMeta {
    pub created_time: DateTime<Utc>,
    #[serde(default)]
    pub deletion_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub destroyed: bool,
}

impl VersionMeta {
    /// Whether the version is (soft-)deleted at `now`.
    pub fn is_deleted(&self, now: DateTime<Utc>) -> bool {
        self.deletion_time.is_some_and(|t| t < now)
    }
}

/// A secret's metadata (`metadata/<path>`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KeyMetadata {
    pub key: String,
    #[serde(default)]
    pub versions: BTreeMap<u64, VersionMeta>,
    #[serde(default)]
    pub current_version: u64,
    #[serde(default)]
    pub oldest_version: u64,
    #[serde(default)]
    pub created_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub max_versions: u32,
    #[serde(default)]
    pub cas_required: bool,
    /// Seconds; 0 unset.
    #[serde(default)]
    pub delete_version_after: i64,
    #[serde(default)]
    pub custom_metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata_cas_required: bool,
    #[serde(default)]
    pub current_metadata_version: u64,
}

impl KeyMetadata {
    /// Empty metadata for a key written for the first time.
    pub fn new(key: &str) -> Self {
        KeyMetadata {
            key: key.to_string(),
            ..Default::default()
        }
    }

    /// Records a new version and slides the window of kept versions. Returns
    /// the new version's metadata and the versions whose data must go.
    pub fn add_version(
        &mut self,
        created: DateTime<Utc>,
        deletion: Option<DateTime<Utc>>,
        config_max_versions: u32,
    ) -> (VersionMeta, Vec<u64>) {
        let vm = VersionMeta {
            created_time: created,
            deletion_time: deletion,
            destroyed: false,
        };
        self.current_version += 1;
        self.versions.insert(self.current_version, vm.clone());
        self.updated_time = Some(created);
        if self.created_time.is_none() {
            self.created_time = Some(created);
        }
        let max = match self.max_versions.max(config_max_versions) {
            0 => DEFAULT_MAX_VERSIONS,
            n => n,
        };
        let mut pruned = Vec::new();
        if self.current_version - self.oldest_version >= u64::from(max) {
            let to_delete = self.current_version - u64::from(max);
            for v in self.oldest_version..=to_delete {
                self.versions.remove(&v);
                if v > 0 {
                    pruned.push(v);
                }
            }
            self.oldest_version = to_delete + 1;
        }
        (vm, pruned)
    }
}

/// One version's data (`versions/<hash>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionData {
    /// The secret as written (an object, or `null`).
    pub data: Value,
    pub created_time: DateTime<Utc>,
    #[serde(default)]
    pub deletion_time: Option<DateTime<Utc>>,
}

/// Encodes a value for a transaction.
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CoreError> {
    serde_json::to_vec(v).map_err(|e| CoreError::Internal(format!("encoding: {e}")))
}

/// A mount's KV v2 storage.
pub struct Store<'a> {
    view: &'a StorageView,
}

impl<'a> Store<'a> {
    pub fn new(view: &'a StorageView) -> Self {
        Store { view }
    }

    /// The storage view.
    pub fn view(&self) -> &StorageView {
        self.view
    }

    /// The mount configuration (defaults when never written).
    pub async fn config(&self) -> Result<Config, CoreError> {
        Ok(self.view.get_json(CONFIG_KEY).await?.unwrap_or_default())
    }

    /// Stores the mount configuration.
    pub async fn put_config(&self, cfg: &Config) -> Result<(), CoreError> {
        self.view.put_json(CONFIG_KEY, cfg).await
    }

    /// The storage key of a secret's metadata.
    pub fn metadata_key(key: &str) -> String {
        format!("{METADATA_PREFIX}{key}")
    }

    /// A secret's metadata, if it exists.
    pub async fn metadata(&self, key: &str) -> Result<Option<KeyMetadata>, CoreError> {
        if key.is_empty() || key.ends_with('/') {
            return Ok(None);
        }
        self.view.get_json(&Self::metadata_key(key)).await
    }

    /// The children of a folder of secrets (`prefix` empty or ending in `/`).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        self.view.list(&Self::metadata_key(prefix)).await
    }

    async fn salt(&self) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        if let Some(s) = self.view.get(SALT_KEY).await? {
            return Ok(s);
        }
        let _g = SALT_LOCK.lock().await;
        if let Some(s) = self.view.get(SALT_KEY).await? {
            return Ok(s);
        }
        let mut s = Zeroizing::new(vec![0u8; 32]);
        rand::thread_rng().fill_bytes(s.as_mut_slice());
        self.view.put(SALT_KEY, &s).await?;
        Ok(s)
    }

    /// The storage key of one version of a secret.
    pub async fn version_key(&self, key: &str, version: u64) -> Result<String, CoreError> {
        let salt = self.salt().await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&salt)
            .map_err(|e| CoreError::Internal(format!("salt: {e}")))?;
        mac.update(format!("{key}|{version}").as_bytes());
        Ok(format!(
            "{VERSION_PREFIX}{}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }

    /// One version's data, if stored.
    pub async fn version(&self, key: &str, version: u64) -> Result<Option<VersionData>, CoreError> {
        let k = self.version_key(key, version).await?;
        self.view.get_json(&k).await
    }

    /// Applies writes atomically; `None` deletes.
    pub async fn commit(&self, ops: Vec<(String, Option<Vec<u8>>)>) -> Result<(), CoreError> {
        self.view.transaction(ops).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn versions_window_slides_like_openbao() {
        let mut m = KeyMetadata::new("k");
        for i in 0..9 {
            let (_, pruned) = m.add_version(t(i), None, 0);
            assert!(pruned.is_empty());
        }
        // The tenth version moves the oldest marker past the (absent) version 0.
        let (_, pruned) = m.add_version(t(9), None, 0);
        assert!(pruned.is_empty());
        assert_eq!(
            (m.current_version, m.oldest_version, m.versions.len()),
            (10, 1, 10)
        );
        let (_, pruned) = m.add_version(t(10), None, 0);
        assert_eq!(pruned, vec![1]);
        assert_eq!((m.oldest_version, m.versions.len()), (2, 10));
        // A smaller key limit loses to a larger mount limit (OpenBao takes the max).
        m.max_versions = 2;
        let (_, pruned) = m.add_version(t(11), None, 0);
        assert_eq!(pruned, (2..=10).collect::<Vec<_>>());
        assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), vec![11, 12]);
        let mut m2 = KeyMetadata::new("k");
        m2.max_versions = 2;
        for i in 0..7 {
            m2.add_version(t(i), None, 5);
        }
        assert_eq!(
            m2.versions.keys().copied().collect::<Vec<_>>(),
            vec![3, 4, 5, 6, 7]
        );
        assert_eq!(m2.oldest_version, 3);
    }

    #[test]
    fn deletion_time_takes_the_smaller_setting() {
        assert_eq!(deletion_time(t(0), 0, 0), None);
        assert_eq!(deletion_time(t(0), 60, 0), Some(t(60)));
        assert_eq!(deletion_time(t(0), 0, 30), Some(t(30)));
        assert_eq!(deletion_time(t(0), 60, 30), Some(t(30)));
        assert_eq!(deletion_time(t(0), 20, 30), Some(t(20)));
        let cfg = Config {
            delete_version_after: Some(-1),
            ..Default::default()
        };
        let mut meta = KeyMetadata::new("k");
        meta.delete_version_after = 30;
        assert_eq!(cfg.deletion_time(t(0), &meta), None);
    }
}
