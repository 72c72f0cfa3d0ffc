//! The replicated state machine: the key space in redb, plus snapshots.
//!
//! This module owns `state.redb` (tables `kv` and `sm_meta`) and the snapshot
//! file `snapshot.bin`, and implements openraft's [`RaftStateMachine`] and
//! [`RaftSnapshotBuilder`] on top of them. Reads for the `Physical` trait and
//! the key-space export for backups are served from here too.
//!
//! Durability (see the crate docs for the whole argument):
//!
//! * `apply` writes the data, `last_applied` and `last_membership` in one redb
//!   transaction, normally with [`Durability::None`]: the change is visible at
//!   once but reaches the disk only with the next durable commit. Every
//!   [`SYNC_EVERY_ENTRIES`] applied entries one apply commits durably, which
//!   bounds replay after a crash and lets redb reuse freed pages.
//! * `SmShared::persist` forces a durable commit. The log store calls it
//!   before purging, the snapshot builder calls it after taking its read view,
//!   and shutdown calls it, so no log entry is ever purged that the durable
//!   state machine does not already contain.
//! * Installing a snapshot replaces the key space in one durable transaction
//!   before the snapshot file is written.
//!
//! Reserved keys (see [`crate::types`]) are part of the key space and of Raft
//! snapshots but invisible to `get`/`list` and left out of backups. A put of
//! the restore-commit key is not stored: `apply` swaps the whole key space for
//! the staged restore it names, inside the same transaction, or — if the
//! staged chunks do not verify — drops them and reports the refusal in the
//! entry's [`Applied`]. Every member decides alike because the staged chunks
//! are ordinary replicated keys.

use std::fs::{self, File};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_core::physical::TxnOp;
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageIOError};
use redb::{
    Database, Durability, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

/// Page cache of the state machine database.
const STATE_CACHE_BYTES: usize = 32 << 20;

use sha2::{Digest, Sha256};

use crate::error::{blocking, StoreError};
use crate::types::{
    decode, encode, is_reserved_key, restore_chunk_prefix, Applied, Entry, LogId, RestoreCommit,
    SnapshotMeta, StorageError, StoredMembership, TypeConfig, RESTORE_COMMIT_KEY,
};

/// The client-visible key space as of one read view (for backups).
pub(crate) struct Export {
    pub(crate) last_applied: Option<LogId>,
    pub(crate) membership: StoredMembership,
    /// The snapshot payload (same encoding as Raft snapshots).
    pub(crate) payload: Vec<u8>,
    pub(crate) keys: u64,
}

/// The key space: Vault key → opaque value.
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// `last_applied` and `last_membership`, bincode-encoded.
const SM_META: TableDefinition<&str, &[u8]> = TableDefinition::new("sm_meta");

const KEY_LAST_APPLIED: &str = "last_applied";
const KEY_LAST_MEMBERSHIP: &str = "last_membership";

/// File name of the state machine database inside the data directory.
pub(crate) const STATE_FILE: &str = "state.redb";
/// File name of the current snapshot inside the data directory.
pub(crate) const SNAPSHOT_FILE: &str = "snapshot.bin";

/// A durable state-machine commit happens at least this often (in applied
/// log entries); other applies are not fsynced. Small and frequent: with
/// 1024 the rare large durable commit stalled applies for ~100 ms and set
/// the write p99 (docs/benchmarks.md).
pub const SYNC_EVERY_ENTRIES: u64 = 32;

/// Magic prefix of the snapshot payload (the bytes openraft ships to followers
/// and `sys/storage/raft/snapshot` will hand out).
const PAYLOAD_MAGIC: &[u8; 8] = b"CFRKV001";
/// Magic prefix of the snapshot file (metadata + payload).
const FILE_MAGIC: &[u8; 8] = b"CFRSNP01";

/// State shared by the state machine (owned by openraft's worker), the
/// snapshot builder (spawned by openraft), the log store (for the purge fence)
/// and the backend (for reads).
pub(crate) struct SmShared {
    db: Database,
    dir: PathBuf,
    /// Entries applied with `Durability::None` since the last durable commit.
    unsynced: AtomicU64,
    /// Serializes replacing the snapshot file.
    snapshot_file: Mutex<()>,
}

impl SmShared {
    /// Opens (or creates) `state.redb` in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Arc<Self>, StoreError> {
        // redb caches up to 1 GiB by default; the key space of a secrets store
        // is small, so a bounded cache keeps the resident set small.
        let db = redb::Builder::new()
            .set_cache_size(STATE_CACHE_BYTES)
            .create(dir.join(STATE_FILE))?;
        let txn = db.begin_write()?;
        txn.open_table(KV)?;
        txn.open_table(SM_META)?;
        txn.commit()?;
        Ok(Arc::new(Self {
            db,
            dir: dir.to_path_buf(),
            unsynced: AtomicU64::new(0),
            snapshot_file: Mutex::new(()),
        }))
    }

    /// The value under `key` (reserved keys read as absent).
    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if is_reserved_key(key) {
            return Ok(None);
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(KV)?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Direct children of `prefix`, `Physical::list` semantics.
    ///
    /// Seeks past each sub-folder instead of scanning it, so the cost grows
    /// with the number of children, not of descendants. Reserved keys are
    /// never listed.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if is_reserved_key(prefix) {
            return Ok(Vec::new());
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(KV)?;
        let mut out: Vec<String> = Vec::new();
        let mut from = prefix.to_string();
        loop {
            let mut next_from = None;
            for item in table.range::<&str>(from.as_str()..)? {
                let (k, _) = item?;
                let key = k.value();
                let Some(rest) = key.strip_prefix(prefix) else {
                    break;
                };
                if rest.is_empty() {
                    continue;
                }
                match rest.find('/') {
                    Some(i) => {
                        out.push(rest[..=i].to_string());
                        // Every key under `prefix + rest[..i] + "/"` sorts
                        // before `prefix + rest[..i] + "0"` ('0' follows '/').
                        next_from = Some(format!("{prefix}{}0", &rest[..i]));
                        break;
                    }
                    None => out.push(rest.to_string()),
                }
            }
            match next_from {
                Some(n) => from = n,
                None => break,
            }
        }
        if prefix.is_empty() {
            out.retain(|k| !is_reserved_key(k));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The last applied log id and membership, as of the latest commit.
    pub(crate) fn applied_state(&self) -> Result<(Option<LogId>, StoredMembership), StoreError> {
        let txn = self.db.begin_read()?;
        read_applied(&txn)
    }

    /// Makes every state-machine commit so far durable; returns the last
    /// applied log id that is now on disk (at least).
    pub(crate) fn persist(&self) -> Result<Option<LogId>, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let (last_applied, _) = read_applied_w(&txn)?;
        txn.commit()?;
        self.unsynced.store(0, Ordering::Relaxed);
        Ok(last_applied)
    }

    /// Applies committed entries in one transaction; one [`Applied`] per entry.
    fn apply(&self, entries: Vec<Entry>) -> Result<Vec<Applied>, StoreError> {
        let n = entries.len();
        let Some(last) = entries.last().map(|e| e.log_id) else {
            return Ok(Vec::new());
        };
        let mut txn = self.db.begin_write()?;
        let unsynced = self.unsynced.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let durable = unsynced >= SYNC_EVERY_ENTRIES;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        });
        let mut membership = None;
        let mut results = Vec::with_capacity(n);
        {
            let mut kv = txn.open_table(KV)?;
            for entry in entries {
                let mut applied = Applied::default();
                match entry.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Normal(req) => {
                        for op in req.txns.into_iter().flatten() {
                            match op {
                                TxnOp::Put { key, value } if key == RESTORE_COMMIT_KEY => {
                                    if let Err(reason) = restore_staged(&mut kv, &value)? {
                                        tracing::error!(
                                            log_id = %entry.log_id,
                                            reason,
                                            "snapshot restore refused; key space unchanged"
                                        );
                                        applied.restore_error = Some(reason);
                                    }
                                }
                                TxnOp::Put { key, value } => {
                                    kv.insert(key.as_str(), value.as_slice())?;
                                }
                                TxnOp::Delete { key } => {
                                    kv.remove(key.as_str())?;
                                }
                            }
                        }
                    }
                    EntryPayload::Membership(m) => {
                        membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    }
                }
                results.push(applied);
            }
        }
        {
            let mut meta = txn.open_table(SM_META)?;
            meta.insert(KEY_LAST_APPLIED, encode(&Some(last))?.as_slice())?;
            if let Some(m) = membership {
                meta.insert(KEY_LAST_MEMBERSHIP, encode(&m)?.as_slice())?;
            }
        }
        txn.commit()?;
        if durable {
            self.unsynced.store(0, Ordering::Relaxed);
        }
        Ok(results)
    }

    /// The client-visible key space (reserved keys left out), the applied
    /// log id and the membership, all from one read view.
    pub(crate) fn export(&self) -> Result<Export, StoreError> {
        let read = self.db.begin_read()?;
        let (last_applied, membership) = read_applied(&read)?;
        let (payload, keys) = encode_payload(&read, false)?;
        Ok(Export {
            last_applied,
            membership,
            payload,
            keys,
        })
    }

    /// Serializes the whole key space as of one consistent view, makes that
    /// view durable, and stores it as the current snapshot.
    fn build_snapshot(&self) -> Result<(SnapshotMeta, Vec<u8>), StoreError> {
        // 1. A read view: data + last_applied + membership, all consistent.
        let read = self.db.begin_read()?;
        let (last_applied, last_membership) = read_applied(&read)?;
        let (data, _) = encode_payload(&read, true)?;
        drop(read);
        // 2. Make (at least) that view durable: redb commits are ordered, so a
        //    durable commit started after the view was taken covers it. Only
        //    then may openraft purge the log up to `last_applied`.
        self.persist()?;

        let snapshot_id = match &last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, unix_millis()),
            None => format!("0-0-{}", unix_millis()),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership,
            snapshot_id,
        };
        self.write_snapshot_file(&meta, &data)?;
        Ok((meta, data))
    }

    /// Replaces the key space with a snapshot received from the leader.
    fn install_snapshot(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StoreError> {
        let entries = decode_payload(data)?;
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        txn.delete_table(KV)?;
        {
            let mut kv = txn.open_table(KV)?;
            for (k, v) in &entries {
                kv.insert(k.as_str(), v.as_slice())?;
            }
            let mut m = txn.open_table(SM_META)?;
            m.insert(KEY_LAST_APPLIED, encode(&meta.last_log_id)?.as_slice())?;
            m.insert(
                KEY_LAST_MEMBERSHIP,
                encode(&meta.last_membership)?.as_slice(),
            )?;
        }
        txn.commit()?;
        self.unsynced.store(0, Ordering::Relaxed);
        self.write_snapshot_file(meta, data)
    }

    /// Writes `snapshot.bin` atomically (temp file, fsync, rename, fsync dir),
    /// unless a newer snapshot is already stored.
    fn write_snapshot_file(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StoreError> {
        let _guard = self
            .snapshot_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((current, _)) = self.read_snapshot_file()? {
            if current.last_log_id > meta.last_log_id {
                return Ok(());
            }
        }
        let meta_bytes = encode(meta)?;
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(FILE_MAGIC)?;
            f.write_all(&(meta_bytes.len() as u64).to_le_bytes())?;
            f.write_all(&meta_bytes)?;
            f.write_all(data)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// The stored snapshot, if any.
    pub(crate) fn read_snapshot_file(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StoreError> {
        let mut f = match File::open(self.dir.join(SNAPSHOT_FILE)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        let bad = || StoreError::Invariant("snapshot file is truncated or corrupt".into());
        let rest = bytes.strip_prefix(FILE_MAGIC.as_slice()).ok_or_else(bad)?;
        let (len, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| bad())?;
        if rest.len() < len {
            return Err(bad());
        }
        let (meta, data) = rest.split_at(len);
        Ok(Some((decode(meta)?, data.to_vec())))
    }
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn read_applied(txn: &ReadTransaction) -> Result<(Option<LogId>, StoredMembership), StoreError> {
    let meta = txn.open_table(SM_META)?;
    decode_applied(
        meta.get(KEY_LAST_APPLIED)?.map(|v| v.value().to_vec()),
        meta.get(KEY_LAST_MEMBERSHIP)?.map(|v| v.value().to_vec()),
    )
}

fn read_applied_w(txn: &WriteTransaction) -> Result<(Option<LogId>, StoredMembership), StoreError> {
    let meta = txn.open_table(SM_META)?;
    let applied = meta.get(KEY_LAST_APPLIED)?.map(|v| v.value().to_vec());
    let membership = meta.get(KEY_LAST_MEMBERSHIP)?.map(|v| v.value().to_vec());
    decode_applied(applied, membership)
}

fn decode_applied(
    applied: Option<Vec<u8>>,
    membership: Option<Vec<u8>>,
) -> Result<(Option<LogId>, StoredMembership), StoreError> {
    let applied = match applied {
        Some(b) => decode::<Option<LogId>>(&b)?,
        None => None,
    };
    let membership = match membership {
        Some(b) => decode::<StoredMembership>(&b)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

/// Snapshot payload: magic, then exactly the bincode encoding of
/// `Vec<(String, Vec<u8>)>` (u64 count, then each key/value pair), written
/// pair by pair so the key space is copied only once. Raft snapshots include
/// the reserved keys (a staged restore must survive a snapshot install);
/// backups do not. Returns the payload and the number of pairs.
fn encode_payload(txn: &ReadTransaction, reserved: bool) -> Result<(Vec<u8>, u64), StoreError> {
    let table = txn.open_table(KV)?;
    let mut out = Vec::with_capacity(64 + table.len()? as usize * 64);
    out.extend_from_slice(PAYLOAD_MAGIC);
    let count_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut count = 0u64;
    for item in table.iter()? {
        let (k, v) = item?;
        if !reserved && is_reserved_key(k.value()) {
            continue;
        }
        push_bytes(&mut out, k.value().as_bytes());
        push_bytes(&mut out, v.value());
        count += 1;
    }
    out[count_at..count_at + 8].copy_from_slice(&count.to_le_bytes());
    Ok((out, count))
}

/// Swaps the whole key space for the restore staged under the commit's id,
/// inside the apply transaction. Deterministic: every member holds the same
/// staged chunks (they are ordinary replicated keys), so every member reaches
/// the same verdict. On a verdict against the restore, the staged chunks are
/// dropped and the key space is otherwise unchanged (`Ok(Err(reason))`).
fn restore_staged(
    kv: &mut redb::Table<&str, &[u8]>,
    commit: &[u8],
) -> Result<Result<(), String>, StoreError> {
    let commit: RestoreCommit = match decode(commit) {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("malformed restore commit: {e}"))),
    };
    let prefix = restore_chunk_prefix(&commit.id);
    let mut staged = Vec::new();
    let mut data = Vec::new();
    for item in kv.range::<&str>(prefix.as_str()..)? {
        let (k, v) = item?;
        if !k.value().starts_with(prefix.as_str()) {
            break;
        }
        staged.push(k.value().to_string());
        data.extend_from_slice(v.value());
    }
    let verdict = if staged.len() as u64 != commit.chunks {
        Err(format!(
            "restore {} has {} of {} chunks staged",
            commit.id,
            staged.len(),
            commit.chunks
        ))
    } else if <[u8; 32]>::from(Sha256::digest(&data)) != commit.sha256 {
        Err(format!("restore {} does not match its checksum", commit.id))
    } else {
        match decode_payload(&data) {
            Ok(pairs) if pairs.iter().any(|(k, _)| is_reserved_key(k)) => {
                Err("the snapshot holds reserved keys".to_string())
            }
            Ok(pairs) => Ok(pairs),
            Err(e) => Err(format!("restore {}: {e}", commit.id)),
        }
    };
    drop(data);
    match verdict {
        Ok(pairs) => {
            // Everything goes: the old key space, this staging area and any
            // abandoned one.
            kv.retain(|_, _| false)?;
            for (k, v) in &pairs {
                kv.insert(k.as_str(), v.as_slice())?;
            }
            Ok(Ok(()))
        }
        Err(reason) => {
            for k in &staged {
                kv.remove(k.as_str())?;
            }
            Ok(Err(reason))
        }
    }
}

/// Appends `bytes` as bincode encodes a `&str` / `&[u8]`: u64 LE length,
/// then the bytes (written in bulk, not element by element).
fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Takes one length-prefixed byte string off the front of `rest`.
fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    if tail.len() < len {
        return None;
    }
    let (bytes, tail) = tail.split_at(len);
    *rest = tail;
    Some(bytes)
}

/// Decodes a payload written by [`encode_payload`] (bounds-checked: the
/// payload may come from the network).
pub(crate) fn decode_payload(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let bad = |what: &str| StoreError::Invariant(format!("snapshot payload: {what}"));
    let mut rest = data
        .strip_prefix(PAYLOAD_MAGIC.as_slice())
        .ok_or_else(|| bad("unknown format"))?;
    let (count, tail) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| bad("truncated"))?;
    let count = u64::from_le_bytes(*count);
    rest = tail;
    // Each pair takes at least 16 bytes: do not trust the count for capacity.
    let mut pairs = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(rest.len() / 16));
    for _ in 0..count {
        let key = take_bytes(&mut rest).ok_or_else(|| bad("truncated"))?;
        let value = take_bytes(&mut rest).ok_or_else(|| bad("truncated"))?;
        let key = std::str::from_utf8(key).map_err(|_| bad("key is not UTF-8"))?;
        pairs.push((key.to_string(), value.to_vec()));
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(pairs)
}

/// openraft's handle on the state machine.
pub struct StateMachineStore {
    shared: Arc<SmShared>,
}

impl StateMachineStore {
    pub(crate) fn new(shared: Arc<SmShared>) -> Self {
        Self { shared }
    }
}

/// Builds snapshots concurrently with `apply` (openraft spawns it); a redb
/// read transaction gives it a consistent view.
pub struct SnapshotBuilder {
    shared: Arc<SmShared>,
}

fn sm_read_err(e: StoreError) -> StorageError {
    StorageIOError::read_state_machine(&e).into()
}

fn sm_write_err(e: StoreError) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let shared = self.shared.clone();
        let (meta, data) = blocking(move || shared.build_snapshot())
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_snapshot(None, &e)))?;
        tracing::info!(snapshot = %meta, bytes = data.len(), "raft snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let shared = self.shared.clone();
        blocking(move || shared.applied_state())
            .await
            .map_err(sm_read_err)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let shared = self.shared.clone();
        blocking(move || shared.apply(entries))
            .await
            .map_err(sm_write_err)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let shared = self.shared.clone();
        let owned_meta = meta.clone();
        let data = snapshot.into_inner();
        blocking(move || shared.install_snapshot(&owned_meta, &data))
            .await
            .map_err(|e| {
                StorageError::from(StorageIOError::write_snapshot(Some(meta.signature()), &e))
            })?;
        tracing::info!(snapshot = %meta, "raft snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let shared = self.shared.clone();
        let stored = blocking(move || shared.read_snapshot_file())
            .await
            .map_err(|e| StorageError::from(StorageIOError::read_snapshot(None, &e)))?;
        Ok(stored.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{restore_chunk_key, Request};

    fn put(k: &str, v: &[u8]) -> TxnOp {
        TxnOp::Put {
            key: k.into(),
            value: v.to_vec(),
        }
    }

    fn entry(index: u64, txns: Vec<Vec<TxnOp>>) -> Entry {
        Entry {
            log_id: LogId::new(openraft::CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Normal(Request { txns }),
        }
    }

    #[test]
    fn list_seeks_over_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sm = SmShared::open(dir.path()).expect("open");
        sm.apply(vec![entry(
            1,
            vec![vec![
                put("a/b", b"1"),
                put("a/b.x", b"1"),
                put("a/b/c", b"1"),
                put("a/b/d/e", b"1"),
                put("a/c", b"1"),
                put("a0", b"1"),
                put("b", b"1"),
            ]],
        )])
        .expect("apply");
        assert_eq!(sm.list("").expect("list"), vec!["a/", "a0", "b"]);
        assert_eq!(sm.list("a/").expect("list"), vec!["b", "b.x", "b/", "c"]);
        assert_eq!(sm.list("a/b/").expect("list"), vec!["c", "d/"]);
        assert!(sm.list("zz/").expect("list").is_empty());
    }

    #[test]
    fn snapshot_round_trip_and_install() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sm = SmShared::open(dir.path()).expect("open");
        sm.apply(vec![
            entry(1, vec![vec![put("x", b"1"), put("y/z", &[0, 255])]]),
            entry(2, vec![vec![TxnOp::Delete { key: "x".into() }]]),
        ])
        .expect("apply");
        let (meta, data) = sm.build_snapshot().expect("build");
        assert_eq!(meta.last_log_id.map(|l| l.index), Some(2));
        let (stored_meta, stored_data) = sm
            .read_snapshot_file()
            .expect("read")
            .expect("snapshot stored");
        assert_eq!(stored_meta, meta);
        assert_eq!(stored_data, data);
        assert_eq!(
            decode_payload(&data).expect("decode"),
            vec![("y/z".to_string(), vec![0, 255])]
        );

        let other = tempfile::tempdir().expect("tempdir");
        let sm2 = SmShared::open(other.path()).expect("open");
        sm2.apply(vec![entry(1, vec![vec![put("stale", b"1")]])])
            .expect("apply");
        sm2.install_snapshot(&meta, &data).expect("install");
        assert_eq!(sm2.get("stale").expect("get"), None);
        assert_eq!(sm2.get("y/z").expect("get"), Some(vec![0, 255]));
        assert_eq!(sm2.applied_state().expect("applied").0, meta.last_log_id);
    }

    fn restore_entries(index: u64, id: &str, payload: &[u8], sha: [u8; 32]) -> Vec<Entry> {
        let chunks: Vec<&[u8]> = payload.chunks(7).collect();
        let mut entries: Vec<Entry> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                entry(
                    index + i as u64,
                    vec![vec![put(&restore_chunk_key(id, i as u64), c)]],
                )
            })
            .collect();
        let commit = RestoreCommit {
            id: id.into(),
            chunks: chunks.len() as u64,
            sha256: sha,
        };
        entries.push(entry(
            index + chunks.len() as u64,
            vec![vec![put(
                RESTORE_COMMIT_KEY,
                &encode(&commit).expect("encode"),
            )]],
        ));
        entries
    }

    #[test]
    fn staged_restore_swaps_the_key_space() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sm = SmShared::open(dir.path()).expect("open");
        sm.apply(vec![entry(
            1,
            vec![vec![put("keep", b"1"), put("x/y", b"2")]],
        )])
        .expect("apply");
        let (payload, _) = {
            let other = tempfile::tempdir().expect("tempdir");
            let src = SmShared::open(other.path()).expect("open");
            src.apply(vec![entry(
                1,
                vec![vec![put("r/a", b"A"), put("r/b", &[0; 40])]],
            )])
            .expect("apply");
            let read = src.db.begin_read().expect("read");
            encode_payload(&read, false).expect("payload")
        };
        let good: [u8; 32] = Sha256::digest(&payload).into();

        // A commit whose checksum does not match is refused and its staged
        // chunks dropped; nothing else changes.
        let applied = sm
            .apply(restore_entries(2, "bad", &payload, [0; 32]))
            .expect("apply");
        let refused = applied.last().and_then(|a| a.restore_error.clone());
        assert!(refused.is_some_and(|r| r.contains("checksum")));
        assert_eq!(sm.list("").expect("list"), vec!["keep", "x/"]);
        let read = sm.db.begin_read().expect("read");
        assert_eq!(encode_payload(&read, true).expect("payload").1, 2);
        drop(read);

        // Chunks are invisible while staged; the commit swaps everything.
        let entries = restore_entries(100, "good", &payload, good);
        let (staging, commit) = entries.split_at(entries.len() - 1);
        sm.apply(staging.to_vec()).expect("stage");
        assert_eq!(sm.list("").expect("list"), vec!["keep", "x/"]);
        assert_eq!(sm.get(&restore_chunk_key("good", 0)).expect("get"), None);
        let applied = sm.apply(commit.to_vec()).expect("commit");
        assert_eq!(applied, vec![Applied::default()]);
        assert_eq!(sm.list("").expect("list"), vec!["r/"]);
        assert_eq!(sm.get("r/a").expect("get"), Some(b"A".to_vec()));
        assert_eq!(sm.get("keep").expect("get"), None);
        let read = sm.db.begin_read().expect("read");
        assert_eq!(encode_payload(&read, true).expect("payload").1, 2);
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let mut p = PAYLOAD_MAGIC.to_vec();
        assert!(decode_payload(&p).is_err());
        p.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_payload(&p).is_err(), "huge count, no data");
        let mut p = PAYLOAD_MAGIC.to_vec();
        p.extend_from_slice(&1u64.to_le_bytes());
        p.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_payload(&p).is_err(), "huge key length");
        let mut p = PAYLOAD_MAGIC.to_vec();
        p.extend_from_slice(&0u64.to_le_bytes());
        p.push(0);
        assert!(decode_payload(&p).is_err(), "trailing bytes");
        // The format is bincode's for Vec<(String, Vec<u8>)>.
        let pairs = vec![("k".to_string(), vec![1u8, 2]), ("é".to_string(), vec![])];
        let mut p = PAYLOAD_MAGIC.to_vec();
        p.extend_from_slice(&bincode::serialize(&pairs).expect("encode"));
        assert_eq!(decode_payload(&p).expect("decode"), pairs);
    }
}
