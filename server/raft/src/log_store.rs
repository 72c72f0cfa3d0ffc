//! The Raft log, the vote and the log pointers, in `raft-log.redb`.
//!
//! This module owns the log database (tables `log`: index → entry and
//! `meta`: vote, committed, last purged, node id) and implements openraft's
//! [`RaftLogStorage`] and [`RaftLogReader`].
//!
//! Durability:
//!
//! * `append`, `save_vote`, `truncate` and `purge` commit with
//!   [`Durability::Immediate`] (fsync) before they report completion; the
//!   `append` callback fires only after the fsync. In openraft 0.9 the core
//!   waits for that callback before it handles the next message, so every
//!   append costs one fsync: the group commit happens above, in the backend's
//!   write batcher, which packs many client transactions into one entry.
//! * `save_committed` is only recorded in memory and written inside the next
//!   durable transaction (normally the next append) or at shutdown. A lagging
//!   committed id is harmless: on restart openraft re-applies up to the stored
//!   one, and everything after it is committed again by the first election
//!   (a single voter commits its whole log when it wins).
//! * `purge` first forces the state machine to disk
//!   (`SmShared::persist`) and refuses to drop entries the durable state
//!   machine does not contain. On a follower installing a snapshot, openraft
//!   asks for the purge before the state machine worker has installed it;
//!   `purge` waits for the install instead of failing.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use redb::{Database, Durability, ReadableTable, TableDefinition, WriteTransaction};

/// Page cache of the log database (recent entries are what is read back).
const LOG_CACHE_BYTES: usize = 8 << 20;

use crate::error::{blocking, StoreError};
use crate::state_machine::SmShared;
use crate::types::{decode, encode, Entry, LogId, NodeId, StorageError, TypeConfig};

/// Log entries by index, bincode-encoded.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Vote, committed id, last purged id and the node id.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_PURGED: &str = "last_purged";
const KEY_NODE_ID: &str = "node_id";

/// How long a purge waits for the state machine to reach the purge point
/// (a snapshot being installed) before giving up.
const PURGE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// File name of the log database inside the data directory.
pub(crate) const LOG_FILE: &str = "raft-log.redb";

/// State shared by the log store (owned by openraft's core), its readers and
/// the backend (for the final flush at shutdown).
pub(crate) struct LogShared {
    db: Database,
    /// A committed id openraft reported that is not yet written.
    pending_committed: Mutex<Option<LogId>>,
}

impl LogShared {
    /// Opens (or creates) the log database and checks it belongs to `node_id`.
    ///
    /// Returns the stored node id when it differs from `node_id`.
    pub(crate) fn open(
        dir: &Path,
        node_id: &str,
    ) -> Result<(Arc<Self>, Option<String>), StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(LOG_CACHE_BYTES)
            .create(dir.join(LOG_FILE))?;
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        let stored = {
            let mut meta = txn.open_table(META)?;
            let stored = meta
                .get(KEY_NODE_ID)?
                .map(|v| String::from_utf8_lossy(v.value()).into_owned());
            if stored.is_none() {
                meta.insert(KEY_NODE_ID, node_id.as_bytes())?;
            }
            stored
        };
        txn.commit()?;
        let mismatch = stored.filter(|s| s != node_id);
        let shared = Arc::new(Self {
            db,
            pending_committed: Mutex::new(None),
        });
        Ok((shared, mismatch))
    }

    fn take_pending_committed(&self) -> Option<LogId> {
        self.pending_committed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Writes a pending committed id inside `txn`.
    fn write_pending_committed(&self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if let Some(c) = self.take_pending_committed() {
            let mut meta = txn.open_table(META)?;
            meta.insert(KEY_COMMITTED, encode(&Some(c))?.as_slice())?;
        }
        Ok(())
    }

    /// Durably writes the pending committed id, if any (used at shutdown).
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        self.write_pending_committed(&txn)?;
        txn.commit()?;
        Ok(())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        match meta.get(key)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    fn read_entries(&self, range: (Bound<u64>, Bound<u64>)) -> Result<Vec<Entry>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(LOG)?;
        let mut out = Vec::new();
        for item in table.range::<u64>(range)? {
            let (_, v) = item?;
            out.push(decode::<Entry>(v.value())?);
        }
        Ok(out)
    }

    fn log_state(&self) -> Result<(Option<LogId>, Option<LogId>), StoreError> {
        let last_purged: Option<LogId> = self.get_meta::<Option<LogId>>(KEY_PURGED)?.flatten();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(LOG)?;
        let last = match table.last()? {
            Some((_, v)) => Some(decode::<Entry>(v.value())?.log_id),
            None => last_purged,
        };
        Ok((last_purged, last))
    }

    fn append(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(LOG)?;
            for e in &entries {
                table.insert(e.log_id.index, encode(e)?.as_slice())?;
            }
        }
        self.write_pending_committed(&txn)?;
        txn.commit()?;
        Ok(())
    }

    fn save_vote(&self, vote: &Vote<NodeId>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(KEY_VOTE, encode(vote)?.as_slice())?;
        }
        self.write_pending_committed(&txn)?;
        txn.commit()?;
        Ok(())
    }

    /// Removes entries with index >= `since`.
    fn truncate(&self, since: u64) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(LOG)?;
            table.retain_in(since.., |_, _| false)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes entries with index <= `upto.index` and records `upto` as purged.
    fn purge(&self, upto: LogId) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(LOG)?;
            table.retain_in(..=upto.index, |_, _| false)?;
            let mut meta = txn.open_table(META)?;
            meta.insert(KEY_PURGED, encode(&Some(upto))?.as_slice())?;
        }
        self.write_pending_committed(&txn)?;
        txn.commit()?;
        Ok(())
    }
}

/// openraft's handle on the log.
pub struct LogStore {
    shared: Arc<LogShared>,
    sm: Arc<SmShared>,
}

impl LogStore {
    pub(crate) fn new(shared: Arc<LogShared>, sm: Arc<SmShared>) -> Self {
        Self { shared, sm }
    }
}

/// A read-only view of the log for openraft's replication and apply paths.
#[derive(Clone)]
pub struct LogReader {
    shared: Arc<LogShared>,
}

fn read_logs_err(e: StoreError) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

fn write_logs_err(e: StoreError) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

fn to_bounds<RB: RangeBounds<u64>>(range: &RB) -> (Bound<u64>, Bound<u64>) {
    (range.start_bound().cloned(), range.end_bound().cloned())
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.shared
            .read_entries(to_bounds(&range))
            .map_err(read_logs_err)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.shared
            .read_entries(to_bounds(&range))
            .map_err(read_logs_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (last_purged_log_id, last_log_id) = self.shared.log_state().map_err(read_logs_err)?;
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader {
            shared: self.shared.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let shared = self.shared.clone();
        let vote = *vote;
        blocking(move || shared.save_vote(&vote))
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.shared
            .get_meta::<Vote<NodeId>>(KEY_VOTE)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        if let Some(c) = committed {
            *self
                .shared
                .pending_committed
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(c);
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.shared
            .get_meta::<Option<LogId>>(KEY_COMMITTED)
            .map(Option::flatten)
            .map_err(read_logs_err)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        if entries.is_empty() {
            callback.log_io_completed(Ok(()));
            return Ok(());
        }
        let shared = self.shared.clone();
        match blocking(move || shared.append(entries)).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_logs_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let shared = self.shared.clone();
        blocking(move || shared.truncate(log_id.index))
            .await
            .map_err(write_logs_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let shared = self.shared.clone();
        let sm = self.sm.clone();
        blocking(move || {
            // Never drop an entry the on-disk state machine lacks: after a
            // crash it would have to be re-applied from the log. On a
            // follower that receives a snapshot, openraft issues the purge
            // right after handing the snapshot to the state machine worker,
            // without waiting for the install: wait for it here (the worker
            // does not need the core to finish).
            let deadline = std::time::Instant::now() + PURGE_WAIT;
            loop {
                let (applied, _) = sm.applied_state()?;
                if applied.map(|l| l.index) >= Some(log_id.index)
                    || std::time::Instant::now() >= deadline
                {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let durable = sm.persist()?;
            if durable.map(|l| l.index) < Some(log_id.index) {
                return Err(StoreError::Invariant(format!(
                    "refusing to purge the log up to {log_id}: the state machine has only applied up to {durable:?}"
                )));
            }
            shared.purge(log_id)
        })
        .await
        .map_err(write_logs_err)
    }
}
