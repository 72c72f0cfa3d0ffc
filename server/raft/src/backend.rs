//! [`RaftBackend`]: the `Physical` implementation on top of openraft.
//!
//! This module owns opening the data directory, starting (and on first start
//! initialising) the Raft node, the write batcher that turns concurrent client
//! transactions into shared log entries (group commit), the read path, the
//! status accessors for `sys/leader`, and shutdown.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use coffer_core::physical::{Physical, PhysicalError, TxnOp};
use openraft::error::{ClientWriteError, Fatal, RaftError as OpenRaftError};
use openraft::{Raft, ServerState, SnapshotPolicy};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{blocking, RaftError, StoreError};
use crate::log_store::{LogShared, LogStore};
use crate::network::SingleNodeNetworkFactory;
use crate::state_machine::{SmShared, StateMachineStore};
use crate::types::{raft_node_id, ClusterNode, NodeId, Request, TypeConfig};

/// Tunables for [`RaftBackend::open_with_config`].
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// Address other members reach this node on (recorded in the membership).
    pub cluster_addr: String,
    /// Build a snapshot (and purge the log) every this many log entries.
    pub snapshot_threshold: u64,
    /// Log entries kept behind the latest snapshot for lagging followers.
    pub trailing_logs: u64,
    /// Leader heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max: Duration,
    /// How long `open` waits for a single-voter node to become leader.
    pub leader_timeout: Duration,
    /// At most this many operations go into one log entry.
    pub max_batch_ops: usize,
    /// At most about this many key + value bytes go into one log entry.
    pub max_batch_bytes: usize,
    /// Log entries proposed but not yet applied, at most. openraft 0.9 appends
    /// (and fsyncs) entries one at a time, so 1 is best: while an entry is in
    /// flight the next batch grows instead of costing another fsync.
    pub max_inflight_batches: usize,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            cluster_addr: String::new(),
            snapshot_threshold: 10_000,
            trailing_logs: 1_000,
            heartbeat_interval: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(500),
            election_timeout_max: Duration::from_millis(1_000),
            leader_timeout: Duration::from_secs(30),
            max_batch_ops: 4_096,
            max_batch_bytes: 4 << 20,
            max_inflight_batches: 1,
        }
    }
}

impl RaftConfig {
    fn openraft(&self) -> Result<openraft::Config, RaftError> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        openraft::Config {
            cluster_name: "coffer".into(),
            heartbeat_interval: ms(self.heartbeat_interval),
            election_timeout_min: ms(self.election_timeout_min),
            election_timeout_max: ms(self.election_timeout_max),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_threshold),
            max_in_snapshot_log_to_keep: self.trailing_logs,
            ..Default::default()
        }
        .validate()
        .map_err(|e| RaftError::Config(e.to_string()))
    }
}

/// One client transaction waiting for the batcher.
struct WriteRequest {
    ops: Vec<TxnOp>,
    done: oneshot::Sender<Outcome>,
}

/// The result of a batch, copied to every transaction in it.
#[derive(Debug, Clone)]
enum Outcome {
    Committed,
    NotWritable(String),
    Failed(String),
}

impl From<Outcome> for Result<(), PhysicalError> {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Committed => Ok(()),
            Outcome::NotWritable(m) => Err(PhysicalError::NotWritable(m)),
            Outcome::Failed(m) => Err(PhysicalError::Io(m)),
        }
    }
}

/// Both databases, shared with openraft's storage handles.
struct Stores {
    sm: Arc<SmShared>,
    log: Arc<LogShared>,
}

/// Raft-replicated physical storage (openraft + redb), `storage_type` `raft`.
///
/// Call [`RaftBackend::shutdown`] before dropping it. Dropping it without
/// shutdown is safe (the Raft tasks stop once the last handle is gone and the
/// next open replays the log), it just skips the final flush.
pub struct RaftBackend {
    raft: Raft<TypeConfig>,
    node_id: String,
    raft_id: NodeId,
    /// The open databases; `None` once shut down.
    stores: RwLock<Option<Stores>>,
    writes: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    batcher: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for RaftBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftBackend")
            .field("node_id", &self.node_id)
            .field("raft_id", &self.raft_id)
            .finish_non_exhaustive()
    }
}

impl RaftBackend {
    /// Opens the node's data directory with the default [`RaftConfig`].
    ///
    /// See [`RaftBackend::open_with_config`].
    pub async fn open(dir: &Path, node_id: String) -> Result<RaftBackend, RaftError> {
        Self::open_with_config(dir, node_id, RaftConfig::default()).await
    }

    /// Opens (creating if needed) the data directory `dir` for node `node_id`.
    ///
    /// On an empty directory it initialises a single-voter cluster with this
    /// node as the only member. When this node is the only voter (first start
    /// or restart), it waits until the node is leader and has applied its
    /// whole log, so everything written before is readable when this returns.
    pub async fn open_with_config(
        dir: &Path,
        node_id: String,
        config: RaftConfig,
    ) -> Result<RaftBackend, RaftError> {
        let raft_config = Arc::new(config.openraft()?);
        std::fs::create_dir_all(dir)?;
        let raft_id = raft_node_id(&node_id);

        let (sm, log) = open_files(dir, &node_id).await?;

        let raft = Raft::new(
            raft_id,
            raft_config,
            SingleNodeNetworkFactory,
            LogStore::new(log.clone(), sm.clone()),
            StateMachineStore::new(sm.clone()),
        )
        .await
        .map_err(|e| RaftError::Raft(e.to_string()))?;

        if let Err(e) = start(&raft, raft_id, &node_id, &config).await {
            // Release the data directory before reporting the failure.
            let _ = raft.shutdown().await;
            return Err(e);
        }

        let (tx, rx) = mpsc::channel(8_192);
        let batcher = tokio::spawn(run_batcher(raft.clone(), rx, config));
        Ok(RaftBackend {
            raft,
            node_id,
            raft_id,
            stores: RwLock::new(Some(Stores { sm, log })),
            writes: Mutex::new(Some(tx)),
            batcher: tokio::sync::Mutex::new(Some(batcher)),
        })
    }

    /// The openraft handle (membership changes, metrics, snapshots).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// The configured (Vault-style) node id, e.g. `node1`.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// openraft's numeric id for this node ([`raft_node_id`] of the string id).
    pub fn raft_node_id(&self) -> NodeId {
        self.raft_id
    }

    /// Whether this node currently is the Raft leader.
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.raft_id)
    }

    /// The highest log index known committed (`raft_committed_index`).
    pub async fn committed_index(&self) -> u64 {
        match self
            .raft
            .with_raft_state(|st| st.committed.map(|l| l.index))
            .await
        {
            Ok(c) => c.unwrap_or(0),
            Err(_) => self.applied_index().await,
        }
    }

    /// The highest log index applied to the state machine (`raft_applied_index`).
    pub async fn applied_index(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0)
    }

    /// Stops accepting writes, waits for proposed batches, stops Raft,
    /// flushes both databases and closes them (the directory can be opened
    /// again as soon as this returns). Later reads and writes fail. Idempotent.
    pub async fn shutdown(&self) {
        // Closing the channel makes the batcher finish its in-flight batches and exit.
        drop(self.writes.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(handle) = self.batcher.lock().await.take() {
            if let Err(e) = handle.await {
                tracing::warn!(error = %e, "raft write batcher ended abnormally");
            }
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft core ended abnormally");
        }
        let Some(Stores { sm, log }) = self
            .stores
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        // openraft's state machine worker and snapshot task stop on their own
        // after the core; wait until they let go of the databases.
        let deadline = Instant::now() + Duration::from_secs(10);
        while (Arc::strong_count(&sm) > 1 || Arc::strong_count(&log) > 1)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let flushed = blocking(move || {
            sm.persist()?;
            log.flush()
        })
        .await;
        if let Err(e) = flushed {
            tracing::warn!(error = %e, "flushing raft storage at shutdown failed");
        }
    }

    fn state_machine(&self) -> Result<Arc<SmShared>, PhysicalError> {
        self.stores
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.sm.clone())
            .ok_or_else(|| PhysicalError::Io("raft storage is shut down".into()))
    }

    async fn submit(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        if ops.is_empty() {
            return Ok(());
        }
        let sender = self
            .writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let stopped = || PhysicalError::NotWritable("raft storage is shut down".into());
        let sender = sender.ok_or_else(stopped)?;
        let (done, outcome) = oneshot::channel();
        sender
            .send(WriteRequest { ops, done })
            .await
            .map_err(|_| stopped())?;
        // Do not keep the channel open while waiting: shutdown waits for it to close.
        drop(sender);
        match outcome.await {
            Ok(o) => o.into(),
            Err(_) => Err(PhysicalError::Io(
                "raft stopped before the write's outcome was known".into(),
            )),
        }
    }
}

/// Opens both redb files, retrying briefly while a backend dropped in this
/// process still holds them (its Raft tasks stop asynchronously).
async fn open_files(
    dir: &Path,
    node_id: &str,
) -> Result<(Arc<SmShared>, Arc<LogShared>), RaftError> {
    let mut attempts = 0;
    loop {
        let d = dir.to_path_buf();
        let id = node_id.to_string();
        let opened = blocking(move || {
            let sm = SmShared::open(&d)?;
            let (log, mismatch) = LogShared::open(&d, &id)?;
            Ok((sm, log, mismatch))
        })
        .await;
        match opened {
            Ok((_, _, Some(stored))) => {
                return Err(RaftError::NodeIdMismatch {
                    stored,
                    configured: node_id.to_string(),
                })
            }
            Ok((sm, log, None)) => return Ok((sm, log)),
            Err(StoreError::Db(e))
                if matches!(*e, redb::Error::DatabaseAlreadyOpen) && attempts < 100 =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Initialises a pristine node as a single-voter cluster and, when this node
/// is the only voter, waits until it leads and has applied its whole log.
async fn start(
    raft: &Raft<TypeConfig>,
    raft_id: NodeId,
    node_id: &str,
    config: &RaftConfig,
) -> Result<(), RaftError> {
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| RaftError::Raft(e.to_string()))?;
    if !initialized {
        let members = BTreeMap::from([(
            raft_id,
            ClusterNode {
                node_id: node_id.to_string(),
                cluster_addr: config.cluster_addr.clone(),
            },
        )]);
        raft.initialize(members)
            .await
            .map_err(|e| RaftError::Raft(format!("initialize: {e}")))?;
        tracing::info!(node_id, raft_id, "initialised a single-voter raft cluster");
    }

    let voters = raft
        .with_raft_state(|st| {
            st.membership_state
                .effective()
                .voter_ids()
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| RaftError::Raft(e.to_string()))?;
    if voters == [raft_id] {
        wait_for_leadership(raft, raft_id, config.leader_timeout).await
    } else {
        // With other voters this node cannot lead alone; it serves local
        // reads and refuses writes until the cluster elects it.
        tracing::info!(
            node_id,
            ?voters,
            "multi-voter membership: not waiting for leadership"
        );
        Ok(())
    }
}

async fn wait_for_leadership(
    raft: &Raft<TypeConfig>,
    raft_id: NodeId,
    timeout: Duration,
) -> Result<(), RaftError> {
    raft.wait(Some(timeout))
        .metrics(
            |m| m.state == ServerState::Leader && m.current_leader == Some(raft_id),
            "single voter becomes leader",
        )
        .await
        .map_err(|e| RaftError::Timeout(e.to_string()))?;
    // Wait until everything in the log is committed and applied, so reads
    // served locally see all writes acknowledged before the restart.
    let read = tokio::time::timeout(timeout, raft.ensure_linearizable())
        .await
        .map_err(|_| RaftError::Timeout("applying the log after startup".into()))?;
    read.map_err(|e| RaftError::Raft(e.to_string()))?;
    Ok(())
}

/// Collects queued client transactions into log entries: while earlier
/// entries are being appended (fsync) and applied, new requests pile up in the
/// channel and the next entry takes all of them.
async fn run_batcher(
    raft: Raft<TypeConfig>,
    mut rx: mpsc::Receiver<WriteRequest>,
    cfg: RaftConfig,
) {
    let permits = Arc::new(Semaphore::new(cfg.max_inflight_batches.max(1)));
    let mut inflight = JoinSet::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut ops = first.ops.len();
        let mut bytes = op_bytes(&first.ops);
        let mut batch = vec![first];
        while ops < cfg.max_batch_ops && bytes < cfg.max_batch_bytes {
            match rx.try_recv() {
                Ok(req) => {
                    ops += req.ops.len();
                    bytes += op_bytes(&req.ops);
                    batch.push(req);
                }
                Err(_) => break,
            }
        }
        // Reap finished batches so the set does not grow.
        while inflight.try_join_next().is_some() {}
        let raft = raft.clone();
        inflight.spawn(async move {
            let _permit = permit;
            commit_batch(&raft, batch).await;
        });
    }
    while inflight.join_next().await.is_some() {}
}

fn op_bytes(ops: &[TxnOp]) -> usize {
    ops.iter()
        .map(|op| match op {
            TxnOp::Put { key, value } => key.len() + value.len(),
            TxnOp::Delete { key } => key.len(),
        })
        .sum()
}

async fn commit_batch(raft: &Raft<TypeConfig>, mut batch: Vec<WriteRequest>) {
    let txns = batch
        .iter_mut()
        .map(|r| std::mem::take(&mut r.ops))
        .collect();
    let outcome = match raft.client_write(Request { txns }).await {
        Ok(_) => Outcome::Committed,
        Err(OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            let leader = f
                .leader_node
                .map(|n| n.node_id)
                .or(f.leader_id.map(|id| id.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Outcome::NotWritable(format!(
                "this node is not the raft leader (leader: {leader})"
            ))
        }
        Err(OpenRaftError::APIError(e)) => Outcome::Failed(e.to_string()),
        Err(OpenRaftError::Fatal(Fatal::Stopped)) => {
            Outcome::NotWritable("raft is shut down".into())
        }
        Err(OpenRaftError::Fatal(e)) => Outcome::Failed(format!("raft stopped: {e}")),
    };
    for req in batch {
        let _ = req.done.send(outcome.clone());
    }
}

#[async_trait]
impl Physical for RaftBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError> {
        self.state_machine()?
            .get(key)
            .map_err(|e| PhysicalError::Io(e.to_string()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        self.state_machine()?
            .list(prefix)
            .map_err(|e| PhysicalError::Io(e.to_string()))
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        self.submit(ops).await
    }

    fn storage_type(&self) -> &'static str {
        "raft"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> (NodeId, ClusterNode) {
        (
            raft_node_id(name),
            ClusterNode {
                node_id: name.into(),
                cluster_addr: String::new(),
            },
        )
    }

    #[tokio::test]
    async fn writes_on_a_non_leader_are_not_writable() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A two-voter cluster whose other member does not exist: this node
        // can never win an election, so it never leads.
        {
            let (sm, log) = open_files(dir.path(), "node1").await.expect("files");
            let config = RaftConfig::default().openraft().expect("config");
            let raft = Raft::new(
                raft_node_id("node1"),
                Arc::new(config),
                SingleNodeNetworkFactory,
                LogStore::new(log, sm.clone()),
                StateMachineStore::new(sm),
            )
            .await
            .expect("raft");
            raft.initialize(BTreeMap::from([member("node1"), member("node2")]))
                .await
                .expect("initialize");
            raft.shutdown().await.expect("shutdown");
        }
        let b = RaftBackend::open(dir.path(), "node1".into())
            .await
            .expect("open");
        assert!(!b.is_leader());
        match b.put("k", b"v".to_vec()).await {
            Err(PhysicalError::NotWritable(msg)) => {
                assert!(msg.contains("not the raft leader"), "{msg}")
            }
            other => panic!("expected NotWritable, got {other:?}"),
        }
        assert!(matches!(
            b.delete("k").await,
            Err(PhysicalError::NotWritable(_))
        ));
        // Local reads are still served.
        assert_eq!(b.get("k").await.expect("get"), None);
        assert!(b.list("").await.expect("list").is_empty());
        b.shutdown().await;
    }

    #[tokio::test]
    async fn node_id_is_bound_to_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = RaftBackend::open(dir.path(), "node1".into())
            .await
            .expect("open");
        assert_eq!(b.raft_node_id(), raft_node_id("node1"));
        b.shutdown().await;
        b.shutdown().await; // idempotent
        assert!(b.get("x").await.is_err(), "reads fail after shutdown");
        match RaftBackend::open(dir.path(), "node2".into()).await {
            Err(RaftError::NodeIdMismatch { stored, configured }) => {
                assert_eq!(stored, "node1");
                assert_eq!(configured, "node2");
            }
            other => panic!("expected NodeIdMismatch, got {other:?}"),
        }
        let b = RaftBackend::open(dir.path(), "node1".into())
            .await
            .expect("reopen with the right id");
        b.put("x", b"1".to_vec()).await.expect("put");
        b.shutdown().await;
    }

    #[test]
    fn invalid_config_is_rejected() {
        let cfg = RaftConfig {
            election_timeout_min: Duration::from_millis(10),
            heartbeat_interval: Duration::from_millis(50),
            ..RaftConfig::default()
        };
        assert!(matches!(cfg.openraft(), Err(RaftError::Config(_))));
    }
}
