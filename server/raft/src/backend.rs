//! [`RaftBackend`]: the `Physical` implementation on top of openraft.
//!
//! This module owns opening the data directory, starting (bootstrapping or
//! waiting to be joined) the Raft node, the write batcher that turns
//! concurrent client transactions into shared log entries (group commit), the
//! read path, leadership (lease-checked status and change notifications),
//! membership changes, linearizable reads, backup snapshots and restore, the
//! cluster listener's lifetime, and shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use coffer_core::physical::{Physical, PhysicalError, TxnOp};
use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, RaftError as OpenRaftError};
use openraft::{ChangeMembers, Raft, RaftMetrics, ServerState, SnapshotPolicy};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::backup::{encode_backup, now_unix_ms, parse_backup, BackupMeta};
use crate::error::{blocking, RaftError, StoreError};
use crate::log_store::{LogShared, LogStore};
use crate::network::{serve, ClusterNetworkFactory, NetShared, Peer};
use crate::state_machine::{SmShared, StateMachineStore};
use crate::tls::{ClusterTls, TlsConfigs};
use crate::types::{
    encode, is_reserved_key, raft_node_id, restore_chunk_key, txn_bytes, Applied, ClusterNode,
    NodeId, Request, RestoreCommit, TypeConfig, RESTORE_COMMIT_KEY,
};

/// Bytes of snapshot payload per staged restore chunk (one log entry each).
const RESTORE_CHUNK_BYTES: usize = 512 << 10;

/// How [`RaftBackend::open_with_config`] treats an empty data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMode {
    /// Initialise it as a new single-voter cluster with this node as the only
    /// member, and wait until the node leads (what a standalone or first node
    /// does).
    #[default]
    Bootstrap,
    /// Join-pending: leave it uninitialised. The node serves nothing and
    /// accepts no writes until a leader adds it
    /// ([`RaftBackend::add_voter`] on the leader, after this node has its
    /// cluster TLS and listener), or until [`RaftBackend::bootstrap`] makes it
    /// a new cluster. A directory that already holds a cluster is opened as
    /// usual in either mode.
    Pending,
}

/// Tunables for [`RaftBackend::open_with_config`].
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// Address other members reach this node on (recorded in the membership
    /// when this node bootstraps a cluster).
    pub cluster_addr: String,
    /// What to do with an empty data directory.
    pub mode: OpenMode,
    /// Build a snapshot (and purge the log) every this many log entries.
    pub snapshot_threshold: u64,
    /// Log entries kept behind the latest snapshot for lagging followers.
    pub trailing_logs: u64,
    /// Leader heartbeat interval. openraft 0.9 also uses it as the deadline
    /// of every AppendEntries RPC.
    pub heartbeat_interval: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout. Followers refuse to
    /// vote for this long after hearing from a leader, so it is also the
    /// leader lease: a leader whose last quorum acknowledgement is older stops
    /// calling itself leader ([`RaftBackend::is_leader`]).
    ///
    /// Failover takes about `election_timeout_max` plus a random
    /// `election_timeout_min..election_timeout_max` after the leader's last
    /// heartbeat (openraft adds the lease to the election timeout).
    pub election_timeout_max: Duration,
    /// How long `open` (and [`RaftBackend::bootstrap`]) wait for a
    /// single-voter node to become leader.
    pub leader_timeout: Duration,
    /// At most this many operations go into one log entry.
    pub max_batch_ops: usize,
    /// At most about this many key + value bytes go into one log entry.
    pub max_batch_bytes: usize,
    /// Log entries proposed but not yet applied, at most. openraft 0.9 appends
    /// (and fsyncs) entries one at a time, so 1 is best: while an entry is in
    /// flight the next batch grows instead of costing another fsync.
    pub max_inflight_batches: usize,
    /// A single transaction larger than this (key + value bytes) is refused:
    /// every entry must replicate within one heartbeat-long RPC.
    pub max_txn_bytes: usize,
    /// A write not committed within this long fails with an "outcome unknown"
    /// error (e.g. on a leader cut off from its quorum).
    pub write_timeout: Duration,
    /// Deadline of the backend's own cluster calls (read index, ping) and of
    /// [`RaftBackend::ensure_linearizable`].
    pub rpc_timeout: Duration,
    /// How long [`RaftBackend::add_voter`] waits for a new member to catch
    /// up, and membership changes to commit.
    pub join_timeout: Duration,
    /// Deadline for sending one snapshot chunk and, for the last one,
    /// installing the snapshot on the follower.
    pub snapshot_rpc_timeout: Duration,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            cluster_addr: String::new(),
            mode: OpenMode::Bootstrap,
            snapshot_threshold: 10_000,
            trailing_logs: 1_000,
            heartbeat_interval: Duration::from_millis(150),
            election_timeout_min: Duration::from_millis(300),
            election_timeout_max: Duration::from_millis(600),
            leader_timeout: Duration::from_secs(30),
            max_batch_ops: 4_096,
            max_batch_bytes: 1 << 20,
            max_inflight_batches: 1,
            max_txn_bytes: 4 << 20,
            write_timeout: Duration::from_secs(15),
            rpc_timeout: Duration::from_secs(5),
            join_timeout: Duration::from_secs(120),
            snapshot_rpc_timeout: Duration::from_secs(10),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RaftConfig {
    fn openraft(&self) -> Result<openraft::Config, RaftError> {
        openraft::Config {
            cluster_name: "coffer".into(),
            heartbeat_interval: millis(self.heartbeat_interval),
            election_timeout_min: millis(self.election_timeout_min),
            election_timeout_max: millis(self.election_timeout_max),
            install_snapshot_timeout: millis(self.snapshot_rpc_timeout),
            snapshot_max_chunk_size: 1 << 20,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_threshold),
            max_in_snapshot_log_to_keep: self.trailing_logs,
            ..Default::default()
        }
        .validate()
        .map_err(|e| RaftError::Config(e.to_string()))
    }

    fn lease_ms(&self) -> u64 {
        millis(self.election_timeout_max)
    }
}

/// Who leads the cluster, as this node sees it; published through
/// [`RaftBackend::leader_watch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderState {
    /// The leader's node id, `None` while there is no leader this node
    /// trusts (elections, lost quorum, shut down).
    pub leader: Option<String>,
    /// The current Raft term.
    pub term: u64,
    /// Whether this node is the leader: openraft says so *and* a quorum
    /// acknowledged it within the lease ([`RaftConfig::election_timeout_max`]).
    pub is_self: bool,
}

/// One member of the cluster, for `sys/storage/raft/configuration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The member's node id.
    pub node_id: String,
    /// Its cluster address.
    pub address: String,
    /// Whether it is the current leader.
    pub leader: bool,
    /// Whether it votes (false: a learner still catching up).
    pub voter: bool,
    /// The last log index known to be replicated to it (autopilot's
    /// `last_index`): known on the leader only, `None` elsewhere.
    pub last_index: Option<u64>,
}

/// Leadership as seen in one metrics sample: the state and the leader's
/// numeric id.
fn leader_state(
    m: &RaftMetrics<NodeId, ClusterNode>,
    raft_id: NodeId,
    lease_ms: u64,
) -> (LeaderState, Option<NodeId>) {
    let membership = m.membership_config.membership();
    let name = |id: NodeId| {
        membership
            .get_node(&id)
            .map(|n| n.node_id.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let leader = if m.state == ServerState::Leader && m.current_leader == Some(raft_id) {
        let fresh = m.millis_since_quorum_ack.is_some_and(|ms| ms <= lease_ms);
        fresh.then_some(raft_id)
    } else {
        m.current_leader.filter(|id| *id != raft_id)
    };
    (
        LeaderState {
            leader: leader.map(name),
            term: m.current_term,
            is_self: leader == Some(raft_id),
        },
        leader,
    )
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

/// Background tasks owned by the backend.
#[derive(Default)]
struct Tasks {
    cluster: Option<JoinHandle<()>>,
    watcher: Option<JoinHandle<()>>,
}

/// Raft-replicated physical storage (openraft + redb), `storage_type` `raft`.
///
/// Call [`RaftBackend::shutdown`] before dropping it. Dropping it without
/// shutdown is safe (the listener stops, the Raft tasks stop once the last
/// handle is gone and the next open replays the log), it just skips the final
/// flush.
pub struct RaftBackend {
    raft: Raft<TypeConfig>,
    node_id: String,
    raft_id: NodeId,
    config: RaftConfig,
    net: Arc<NetShared>,
    /// The open databases; `None` once shut down.
    stores: RwLock<Option<Stores>>,
    writes: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    batcher: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    leader_tx: Arc<watch::Sender<LeaderState>>,
    /// A connection to the leader for follower read-index requests.
    leader_peer: tokio::sync::Mutex<Option<Peer>>,
    tasks: Mutex<Tasks>,
}

impl std::fmt::Debug for RaftBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftBackend")
            .field("node_id", &self.node_id)
            .field("raft_id", &self.raft_id)
            .finish_non_exhaustive()
    }
}

impl Drop for RaftBackend {
    fn drop(&mut self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in [tasks.cluster, tasks.watcher].into_iter().flatten() {
            handle.abort();
        }
    }
}

fn map_write_error(e: OpenRaftError<NodeId, ClientWriteError<NodeId, ClusterNode>>) -> RaftError {
    match e {
        OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => RaftError::NotLeader {
            leader: f
                .leader_node
                .map(|n| n.node_id)
                .or(f.leader_id.map(|id| id.to_string())),
        },
        OpenRaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            RaftError::Membership(e.to_string())
        }
        OpenRaftError::Fatal(e) => RaftError::Raft(format!("raft stopped: {e}")),
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
    /// node as the only member ([`OpenMode::Bootstrap`], the default) or leaves
    /// it for a leader to join ([`OpenMode::Pending`]). When this node is the
    /// only voter (first start or restart), it waits until the node is leader
    /// and has applied its whole log, so everything written before is readable
    /// when this returns. A member of a multi-voter cluster returns at once;
    /// it takes part in the cluster once its cluster TLS is set and its
    /// listener runs.
    pub async fn open_with_config(
        dir: &Path,
        node_id: String,
        config: RaftConfig,
    ) -> Result<RaftBackend, RaftError> {
        let raft_config = Arc::new(config.openraft()?);
        std::fs::create_dir_all(dir)?;
        let raft_id = raft_node_id(&node_id);

        let (sm, log) = open_files(dir, &node_id).await?;
        let net = NetShared::new(raft_id, node_id.clone());

        let raft = Raft::new(
            raft_id,
            raft_config,
            ClusterNetworkFactory::new(net.clone()),
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

        let (leader_tx, _) = watch::channel(LeaderState::default());
        let leader_tx = Arc::new(leader_tx);
        let watcher = tokio::spawn(watch_leader(
            raft.metrics(),
            leader_tx.clone(),
            raft_id,
            config.lease_ms(),
        ));
        let (tx, rx) = mpsc::channel(8_192);
        let batcher = tokio::spawn(run_batcher(raft.clone(), rx, config.clone(), raft_id));
        Ok(RaftBackend {
            raft,
            node_id,
            raft_id,
            config,
            net,
            stores: RwLock::new(Some(Stores { sm, log })),
            writes: Mutex::new(Some(tx)),
            batcher: tokio::sync::Mutex::new(Some(batcher)),
            leader_tx,
            leader_peer: tokio::sync::Mutex::new(None),
            tasks: Mutex::new(Tasks {
                cluster: None,
                watcher: Some(watcher),
            }),
        })
    }

    /// The openraft handle (metrics, low-level control).
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

    /// The cluster address this node was configured with.
    pub fn cluster_addr(&self) -> &str {
        &self.config.cluster_addr
    }

    /// Whether the node belongs to a cluster (bootstrapped, or added by a
    /// leader). `false` for a join-pending node.
    pub async fn is_initialized(&self) -> Result<bool, RaftError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| RaftError::Raft(e.to_string()))
    }

    /// Makes a join-pending node the first member of a new single-voter
    /// cluster (what `sys/init` does on a fresh node) and waits until it
    /// leads. A node that already belongs to a cluster is left as it is.
    pub async fn bootstrap(&self) -> Result<(), RaftError> {
        let config = RaftConfig {
            mode: OpenMode::Bootstrap,
            ..self.config.clone()
        };
        start(&self.raft, self.raft_id, &self.node_id, &config).await
    }

    /// Installs (or replaces) the cluster TLS material. Until it is set this
    /// node neither dials nor accepts Raft connections; connections made with
    /// earlier material are closed.
    pub fn set_cluster_tls(&self, tls: &ClusterTls) -> Result<(), RaftError> {
        self.net.set_tls(Some(TlsConfigs::build(tls)?));
        Ok(())
    }

    /// Forgets the cluster TLS material (e.g. when sealing): the node stops
    /// speaking Raft.
    pub fn clear_cluster_tls(&self) {
        self.net.set_tls(None);
    }

    /// Serves Raft RPCs on `listener` (the cluster port) until shutdown;
    /// replaces an earlier listener. Returns the bound address.
    pub fn serve_cluster(&self, listener: TcpListener) -> Result<SocketAddr, RaftError> {
        let addr = listener.local_addr()?;
        let handle = tokio::spawn(serve(listener, self.net.clone(), self.raft.clone()));
        let old = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cluster
            .replace(handle);
        if let Some(old) = old {
            old.abort();
        }
        tracing::info!(node_id = %self.node_id, %addr, "raft cluster listener started");
        Ok(addr)
    }

    /// Binds `addr` and serves Raft RPCs on it; see [`RaftBackend::serve_cluster`].
    pub async fn listen_cluster(&self, addr: &str) -> Result<SocketAddr, RaftError> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_cluster(listener)
    }

    /// Fault injection (tests, chaos drills): while on, this node's cluster
    /// traffic is dropped in both directions, as if its cluster port were
    /// firewalled.
    pub fn set_partitioned(&self, on: bool) {
        self.net.set_partitioned(on);
    }

    /// Whether this node currently is the Raft leader: openraft says so and a
    /// quorum acknowledged it within the lease. A leader cut off from its
    /// quorum stops being leader here within about
    /// [`RaftConfig::election_timeout_max`], before the rest elect another.
    pub fn is_leader(&self) -> bool {
        self.leader_now().0.is_self
    }

    fn leader_now(&self) -> (LeaderState, Option<NodeId>, Option<ClusterNode>) {
        let m = self.raft.metrics().borrow().clone();
        let (state, id) = leader_state(&m, self.raft_id, self.config.lease_ms());
        let node = id.and_then(|id| m.membership_config.membership().get_node(&id).cloned());
        (state, id, node)
    }

    /// The leader's node id and cluster address, if there is a leader.
    pub fn leader(&self) -> Option<(String, String)> {
        let (_, _, node) = self.leader_now();
        node.map(|n| (n.node_id, n.cluster_addr))
    }

    /// Leadership changes: `(leader, term, is_self)` updates whenever the
    /// leader, the term or this node's lease-checked leadership change. The
    /// server steps up when `is_self` turns true and down when it turns false.
    pub fn leader_watch(&self) -> watch::Receiver<LeaderState> {
        self.leader_tx.subscribe()
    }

    /// Waits until some node leads; returns its node id and cluster address.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<(String, String), RaftError> {
        let deadline = Instant::now() + timeout;
        let mut rx = self.leader_watch();
        loop {
            if let Some(leader) = self.leader() {
                return Ok(leader);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RaftError::Timeout(format!(
                    "no raft leader within {timeout:?}"
                )));
            }
            // Re-check at least every 50 ms: the address comes from the
            // membership, which may arrive just after the leader.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), rx.changed()).await;
        }
    }

    /// The members: node id, address, whether leader, whether voter (sorted
    /// by node id).
    pub fn configuration(&self) -> Vec<PeerInfo> {
        let m = self.raft.metrics().borrow().clone();
        let (_, leader) = leader_state(&m, self.raft_id, self.config.lease_ms());
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let matched = |id: &NodeId| {
            m.replication
                .as_ref()
                .and_then(|r| r.get(id).cloned())
                .map(|l| l.map(|l| l.index).unwrap_or(0))
        };
        let mut peers: Vec<PeerInfo> = membership
            .nodes()
            .map(|(id, n)| PeerInfo {
                node_id: n.node_id.clone(),
                address: n.cluster_addr.clone(),
                leader: Some(*id) == leader,
                voter: voters.contains(id),
                last_index: matched(id),
            })
            .collect();
        peers.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        peers
    }

    fn require_leader(&self) -> Result<(), RaftError> {
        let (state, _, _) = self.leader_now();
        if state.is_self {
            Ok(())
        } else {
            Err(RaftError::NotLeader {
                leader: state.leader,
            })
        }
    }

    /// Adds `node_id` (reachable on `cluster_addr`) as a voter. Leader only.
    ///
    /// Checks over mutual TLS that the node answers on `cluster_addr` under
    /// that id, adds it as a learner, waits until it has caught up (log
    /// entries or a snapshot), then promotes it to voter. A node that does not
    /// catch up within [`RaftConfig::join_timeout`] is removed again. Adding
    /// an existing voter with the same address is a no-op.
    pub async fn add_voter(&self, node_id: String, cluster_addr: String) -> Result<(), RaftError> {
        self.require_leader()?;
        let id = raft_node_id(&node_id);
        let (existed, is_voter) = {
            let m = self.raft.metrics().borrow().clone();
            let membership = m.membership_config.membership();
            match membership.get_node(&id) {
                Some(n) if n.node_id != node_id => {
                    return Err(RaftError::Membership(format!(
                        "node id {node_id:?} collides with member {:?}; choose another node id",
                        n.node_id
                    )))
                }
                Some(n) if n.cluster_addr != cluster_addr => {
                    return Err(RaftError::Membership(format!(
                        "{node_id:?} is already a member at {:?}; remove it first to change its address",
                        n.cluster_addr
                    )))
                }
                Some(_) => (true, membership.voter_ids().any(|v| v == id)),
                None => (false, false),
            }
        };
        if is_voter {
            return Ok(());
        }

        // Ask without naming the target, to report who answers instead.
        let mut peer = Peer::new(self.net.clone(), None, cluster_addr.clone());
        let answered = peer
            .ping(self.config.rpc_timeout)
            .await
            .map_err(|e| RaftError::Network(format!("cannot reach {node_id:?}: {e}")))?;
        drop(peer);
        if answered != node_id {
            return Err(RaftError::Membership(format!(
                "{cluster_addr} answers as {answered:?}, not {node_id:?}"
            )));
        }

        let node = ClusterNode {
            node_id: node_id.clone(),
            cluster_addr,
        };
        let caught_up = tokio::time::timeout(
            self.config.join_timeout,
            self.raft.add_learner(id, node, true),
        )
        .await;
        let failure = match caught_up {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(map_write_error(e)),
            Err(_) => Some(RaftError::Timeout(format!(
                "{node_id:?} did not catch up within {:?}",
                self.config.join_timeout
            ))),
        };
        if let Some(e) = failure {
            if !existed {
                let undo = self
                    .raft
                    .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false);
                if let Ok(Err(undo_err)) = tokio::time::timeout(self.config.rpc_timeout, undo).await
                {
                    tracing::warn!(node_id, error = %undo_err, "removing a learner that failed to join");
                }
            }
            return Err(e);
        }
        self.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await?;
        tracing::info!(node_id, "raft voter added");
        Ok(())
    }

    /// Removes `node_id` from the cluster (voter or learner). Leader only.
    /// The last voter cannot be removed. Removing the leader itself is
    /// allowed: it steps down once the change commits.
    pub async fn remove_peer(&self, node_id: &str) -> Result<(), RaftError> {
        self.require_leader()?;
        let id = raft_node_id(node_id);
        let change = {
            let m = self.raft.metrics().borrow().clone();
            let membership = m.membership_config.membership();
            if membership.get_node(&id).map(|n| n.node_id.as_str()) != Some(node_id) {
                return Err(RaftError::Membership(format!(
                    "{node_id:?} is not a member"
                )));
            }
            let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
            if voters.contains(&id) {
                if voters.len() == 1 {
                    return Err(RaftError::Membership("cannot remove the last voter".into()));
                }
                ChangeMembers::RemoveVoters(BTreeSet::from([id]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([id]))
            }
        };
        self.change_membership(change).await?;
        tracing::info!(node_id, "raft peer removed");
        Ok(())
    }

    async fn change_membership(
        &self,
        change: ChangeMembers<NodeId, ClusterNode>,
    ) -> Result<(), RaftError> {
        match tokio::time::timeout(
            self.config.join_timeout,
            self.raft.change_membership(change, false),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(map_write_error(e)),
            Err(_) => Err(RaftError::Timeout(format!(
                "membership change not committed within {:?}",
                self.config.join_timeout
            ))),
        }
    }

    /// Read index: returns once this node's state machine holds every write
    /// acknowledged (anywhere in the cluster) before the call, so local reads
    /// that follow are linearizable. On the leader this confirms leadership
    /// with a quorum; on a follower it asks the leader for its commit index
    /// over the cluster port and waits until it has applied that far. Returns
    /// the read index. Fails after [`RaftConfig::rpc_timeout`] without a
    /// reachable leader holding a quorum.
    pub async fn ensure_linearizable(&self) -> Result<u64, RaftError> {
        let timeout = self.config.rpc_timeout;
        match tokio::time::timeout(timeout, self.read_index()).await {
            Ok(r) => r,
            Err(_) => Err(RaftError::Timeout(format!(
                "no linearizable read index within {timeout:?}"
            ))),
        }
    }

    async fn read_index(&self) -> Result<u64, RaftError> {
        let is_leader = {
            let m = self.raft.metrics();
            let m = m.borrow();
            m.state == ServerState::Leader
        };
        if is_leader {
            match self.raft.ensure_linearizable().await {
                Ok(read) => return Ok(read.map(|l| l.index).unwrap_or(0)),
                Err(OpenRaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {}
                Err(e) => return Err(RaftError::Raft(e.to_string())),
            }
        }
        // A follower that just started (or lived through an election) may not
        // know the leader yet: wait for one (the caller's deadline applies).
        let mut watch = self.leader_watch();
        let (leader_id, node) = loop {
            if let (_, Some(id), Some(node)) = self.leader_now() {
                break (id, node);
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), watch.changed()).await;
        };
        let read = {
            let mut cached = self.leader_peer.lock().await;
            let reuse = cached
                .as_ref()
                .is_some_and(|p| p.target() == Some(leader_id) && p.addr() == node.cluster_addr);
            if !reuse {
                *cached = Some(Peer::new(
                    self.net.clone(),
                    Some(leader_id),
                    node.cluster_addr.clone(),
                ));
            }
            let Some(peer) = cached.as_mut() else {
                return Err(RaftError::NotLeader { leader: None });
            };
            peer.read_index(self.config.rpc_timeout)
                .await
                .map_err(|e| RaftError::Network(e.to_string()))?
        };
        let index = match read {
            Ok(read) => read.map(|l| l.index).unwrap_or(0),
            Err(OpenRaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                return Err(RaftError::NotLeader {
                    leader: f.leader_node.map(|n| n.node_id),
                })
            }
            Err(e) => return Err(RaftError::Raft(format!("leader {}: {e}", node.node_id))),
        };
        self.raft
            .wait(None)
            .applied_index_at_least(Some(index), "read index")
            .await
            .map_err(|e| RaftError::Raft(e.to_string()))?;
        Ok(index)
    }

    /// A consistent backup of the whole client-visible key space (see
    /// [`crate::backup`] for the format): taken after a read index, so it
    /// holds every write acknowledged before the call, from one read view of
    /// the state machine.
    pub async fn snapshot_bytes(&self) -> Result<Vec<u8>, RaftError> {
        self.ensure_linearizable().await?;
        let sm = self
            .state_machine()
            .map_err(|e| RaftError::Storage(e.to_string()))?;
        let export = blocking(move || sm.export()).await?;
        let meta = BackupMeta {
            node_id: self.node_id.clone(),
            last_log_id: export.last_applied,
            membership: export.membership,
            created_unix_ms: now_unix_ms(),
            keys: export.keys,
        };
        encode_backup(&meta, &export.payload)
    }

    /// Replaces the whole key space with a backup made by
    /// [`RaftBackend::snapshot_bytes`] (of this or another cluster). Leader
    /// only. The membership is kept.
    ///
    /// The backup is verified first, then staged in the log in bounded chunks
    /// (ordinary replicated entries), then one commit entry makes every member
    /// swap its key space for the staged payload in a single state machine
    /// transaction at the same log index, so followers stay consistent and a
    /// member that was down catches up through the log or a Raft snapshot as
    /// usual. If the restore fails before its commit, nothing visible changed.
    pub async fn restore_snapshot(&self, bytes: &[u8]) -> Result<(), RaftError> {
        let (meta, payload) = parse_backup(bytes)?;
        self.require_leader()?;
        static RESTORES: AtomicU64 = AtomicU64::new(0);
        let id = format!(
            "{:016x}-{}-{}",
            self.raft_id,
            now_unix_ms(),
            RESTORES.fetch_add(1, Ordering::Relaxed)
        );
        let chunks: Vec<&[u8]> = payload.chunks(RESTORE_CHUNK_BYTES).collect();
        for (seq, chunk) in chunks.iter().enumerate() {
            let put = TxnOp::Put {
                key: restore_chunk_key(&id, seq as u64),
                value: chunk.to_vec(),
            };
            if let Err(e) = self.propose(vec![put]).await {
                self.discard_staged(&id, seq).await;
                return Err(e);
            }
        }
        let commit = RestoreCommit {
            id: id.clone(),
            chunks: chunks.len() as u64,
            sha256: Sha256::digest(payload).into(),
        };
        let commit = TxnOp::Put {
            key: RESTORE_COMMIT_KEY.to_string(),
            value: encode(&commit).map_err(|e| RaftError::Storage(e.to_string()))?,
        };
        let applied = match self.propose(vec![commit]).await {
            Ok(a) => a,
            Err(e) => {
                self.discard_staged(&id, chunks.len()).await;
                return Err(e);
            }
        };
        if let Some(reason) = applied.restore_error {
            return Err(RaftError::InvalidSnapshot(reason));
        }
        tracing::info!(
            keys = meta.keys,
            from_node = meta.node_id,
            "raft snapshot restored"
        );
        Ok(())
    }

    /// Best effort: deletes the first `n` staged chunks of a failed restore.
    async fn discard_staged(&self, id: &str, n: usize) {
        let ops = (0..n as u64)
            .map(|seq| TxnOp::Delete {
                key: restore_chunk_key(id, seq),
            })
            .collect::<Vec<_>>();
        if ops.is_empty() {
            return;
        }
        if let Err(e) = self.propose(ops).await {
            tracing::warn!(restore = id, error = %e, "could not discard a failed restore's chunks");
        }
    }

    /// Proposes one transaction directly (bypassing the batcher) and waits
    /// for it to be applied.
    async fn propose(&self, ops: Vec<TxnOp>) -> Result<Applied, RaftError> {
        let timeout = self.config.write_timeout;
        match tokio::time::timeout(timeout, self.raft.client_write(Request { txns: vec![ops] }))
            .await
        {
            Ok(Ok(r)) => Ok(r.data),
            Ok(Err(e)) => Err(map_write_error(e)),
            Err(_) => Err(RaftError::Timeout(format!(
                "raft write not committed within {timeout:?}; it may or may not take effect"
            ))),
        }
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

    /// Stops accepting writes, waits for proposed batches, stops the cluster
    /// listener and Raft, flushes both databases and closes them (the
    /// directory can be opened again as soon as this returns). Later reads and
    /// writes fail. Idempotent.
    pub async fn shutdown(&self) {
        // Closing the channel makes the batcher finish its in-flight batches and exit.
        drop(self.writes.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(handle) = self.batcher.lock().await.take() {
            if let Err(e) = handle.await {
                if !e.is_cancelled() {
                    tracing::warn!(error = %e, "raft write batcher ended abnormally");
                }
            }
        }
        let cluster = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cluster
            .take();
        if let Some(handle) = cluster {
            handle.abort();
            let _ = handle.await;
        }
        self.leader_peer.lock().await.take();
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft core ended abnormally");
        }
        self.leader_tx.send_if_modified(|s| {
            let changed = s.leader.is_some() || s.is_self;
            s.leader = None;
            s.is_self = false;
            changed
        });
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
        if ops.iter().any(|op| match op {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } => is_reserved_key(key),
        }) {
            return Err(PhysicalError::Io(
                "keys starting with a NUL character are reserved by the raft backend".into(),
            ));
        }
        let bytes = txn_bytes(&ops);
        if bytes > self.config.max_txn_bytes {
            return Err(PhysicalError::Io(format!(
                "transaction of {bytes} bytes exceeds the raft limit of {} bytes",
                self.config.max_txn_bytes
            )));
        }
        let sender = self
            .writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let stopped = || PhysicalError::NotWritable("raft storage is shut down".into());
        let sender = sender.ok_or_else(stopped)?;
        let (done, outcome) = oneshot::channel();
        let timeout = self.config.write_timeout;
        let waited = tokio::time::timeout(timeout, async move {
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
        })
        .await;
        match waited {
            Ok(r) => r,
            Err(_) => Err(PhysicalError::Io(format!(
                "raft write not committed within {timeout:?}; it may or may not take effect"
            ))),
        }
    }
}

/// Publishes [`LeaderState`] from openraft's metrics. A leader's metrics are
/// refreshed on every tick, so an expired lease shows within a tick.
async fn watch_leader(
    mut metrics: watch::Receiver<RaftMetrics<NodeId, ClusterNode>>,
    tx: Arc<watch::Sender<LeaderState>>,
    raft_id: NodeId,
    lease_ms: u64,
) {
    loop {
        let state = {
            let m = metrics.borrow_and_update();
            leader_state(&m, raft_id, lease_ms).0
        };
        tx.send_if_modified(|cur| {
            if *cur == state {
                false
            } else {
                if state.is_self != cur.is_self || state.leader != cur.leader {
                    tracing::info!(leader = ?state.leader, term = state.term, is_self = state.is_self, "raft leadership changed");
                }
                *cur = state;
                true
            }
        });
        if metrics.changed().await.is_err() {
            break;
        }
    }
    tx.send_if_modified(|s| {
        let changed = s.leader.is_some() || s.is_self;
        s.leader = None;
        s.is_self = false;
        changed
    });
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

/// Initialises a pristine node as a single-voter cluster (in
/// [`OpenMode::Bootstrap`]) and, when this node is the only voter, waits until
/// it leads and has applied its whole log.
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
        if config.mode == OpenMode::Pending {
            tracing::info!(
                node_id,
                "raft node is join-pending: waiting to be added by a leader"
            );
            return Ok(());
        }
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
    raft_id: NodeId,
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
        let mut bytes = txn_bytes(&first.ops);
        let mut batch = vec![first];
        while ops < cfg.max_batch_ops && bytes < cfg.max_batch_bytes {
            match rx.try_recv() {
                Ok(req) => {
                    ops += req.ops.len();
                    bytes += txn_bytes(&req.ops);
                    batch.push(req);
                }
                Err(_) => break,
            }
        }
        // Reap finished batches so the set does not grow.
        while inflight.try_join_next().is_some() {}
        let raft = raft.clone();
        let cfg = cfg.clone();
        inflight.spawn(async move {
            let _permit = permit;
            commit_batch(&raft, batch, &cfg, raft_id).await;
        });
    }
    while inflight.join_next().await.is_some() {}
}

async fn commit_batch(
    raft: &Raft<TypeConfig>,
    mut batch: Vec<WriteRequest>,
    cfg: &RaftConfig,
    raft_id: NodeId,
) {
    let lease_lost = {
        let m = raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader
            && m.millis_since_quorum_ack
                .is_some_and(|ms| ms > cfg.lease_ms())
    };
    let outcome = if lease_lost {
        // Proposing would only queue an entry this node cannot commit.
        Outcome::NotWritable(format!(
            "this node is not the raft leader (leader: unknown): node {raft_id} lost contact with a quorum"
        ))
    } else {
        let txns = batch
            .iter_mut()
            .map(|r| std::mem::take(&mut r.ops))
            .collect();
        match tokio::time::timeout(cfg.write_timeout, raft.client_write(Request { txns })).await {
            Err(_) => Outcome::Failed(format!(
                "raft write not committed within {:?}; it may or may not take effect",
                cfg.write_timeout
            )),
            Ok(Ok(_)) => Outcome::Committed,
            Ok(Err(OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                let leader = f
                    .leader_node
                    .map(|n| n.node_id)
                    .or(f.leader_id.map(|id| id.to_string()))
                    .unwrap_or_else(|| "unknown".into());
                Outcome::NotWritable(format!(
                    "this node is not the raft leader (leader: {leader})"
                ))
            }
            Ok(Err(OpenRaftError::APIError(e))) => Outcome::Failed(e.to_string()),
            Ok(Err(OpenRaftError::Fatal(Fatal::Stopped))) => {
                Outcome::NotWritable("raft is shut down".into())
            }
            Ok(Err(OpenRaftError::Fatal(e))) => Outcome::Failed(format!("raft stopped: {e}")),
        }
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

    async fn raft_indexes(&self) -> Option<(u64, u64)> {
        Some((self.committed_index().await, self.applied_index().await))
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
        // A two-voter cluster whose other member does not exist (and no
        // cluster TLS): this node can never win an election, so it never leads.
        {
            let (sm, log) = open_files(dir.path(), "node1").await.expect("files");
            let config = RaftConfig::default().openraft().expect("config");
            let raft = Raft::new(
                raft_node_id("node1"),
                Arc::new(config),
                ClusterNetworkFactory::new(NetShared::new(raft_node_id("node1"), "node1".into())),
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
