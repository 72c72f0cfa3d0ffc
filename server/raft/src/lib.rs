//! Raft-replicated physical storage for Coffer (openraft 0.9 + redb).
//!
//! [`RaftBackend`] implements [`coffer_core::physical::Physical`]. Every
//! write is proposed through `Raft::client_write` and acknowledged only once
//! its log entry is committed (durably appended on a quorum of voters) and
//! applied to the local state machine; reads are served from the local state
//! machine ([`RaftBackend::ensure_linearizable`] first makes them
//! linearizable, on followers too). A write on a node that is not the leader
//! fails with `PhysicalError::NotWritable` naming the leader.
//!
//! # Modules
//!
//! * [`types`]: the openraft type configuration, the log payload, the reserved
//!   key space and the string → `u64` node id mapping.
//! * [`log_store`]: the Raft log, vote and log pointers (`raft-log.redb`).
//! * [`state_machine`]: the key space (`state.redb`), snapshots
//!   (`snapshot.bin`) and applying a staged restore.
//! * [`network`]: the cluster port: Raft RPCs (append-entries, vote,
//!   install-snapshot, read index, ping) as length-prefixed bincode frames over
//!   mutual TLS, client and listener.
//! * [`tls`]: the cluster CA, node certificates and the rustls configurations
//!   (TLS 1.3, aws-lc-rs, the cluster CA as the only trust anchor).
//! * [`backup`]: the backup snapshot format (`sys/storage/raft/snapshot`).
//! * [`backend`]: opening (bootstrap or join-pending), the write batcher
//!   (group commit), reads, leadership, membership, read index, backup and
//!   restore, the listener's lifetime and shutdown.
//!
//! # Cluster
//!
//! * **Forming.** A node opened with [`OpenMode::Bootstrap`] (the default)
//!   on an empty directory becomes a single-voter cluster. A node opened with
//!   [`OpenMode::Pending`] waits: the leader's [`RaftBackend::add_voter`]
//!   checks over the cluster port that it answers under the expected id, adds
//!   it as a learner, waits until it caught up (entries or a snapshot) and
//!   promotes it. [`RaftBackend::remove_peer`] removes a member;
//!   [`RaftBackend::configuration`] lists them.
//! * **Transport security.** Nothing is spoken on the cluster port before
//!   [`RaftBackend::set_cluster_tls`]: both sides must present a certificate
//!   signed by the cluster CA ([`ClusterCa`]) and verify the peer against that
//!   CA only. The material can be replaced at runtime (it lives behind the
//!   barrier, so the server installs it after unseal).
//! * **Leadership.** [`RaftBackend::is_leader`] and
//!   [`RaftBackend::leader_watch`] report this node as leader only while a
//!   quorum acknowledged it within the lease (`election_timeout_max`, the
//!   time followers refuse to vote for anyone else after hearing from it), so
//!   a leader cut off from its quorum stops calling itself leader before
//!   another can be elected. Its writes are not acknowledged; the entries it
//!   could not commit are discarded when it rejoins.
//! * **Failover.** With the defaults a new leader is elected about 0.9–1.2 s
//!   after the old one's last heartbeat (openraft waits the lease plus an
//!   election timeout).
//! * **Backup and restore.** [`RaftBackend::snapshot_bytes`] exports the
//!   client-visible key space after a read index, from one read view;
//!   [`RaftBackend::restore_snapshot`] stages a backup through the log in
//!   bounded chunks and swaps the key space on every member at one log index
//!   (see [`types`] for the reserved keys this uses). Membership is never
//!   restored.
//!
//! # Durability design
//!
//! The invariant is: *an acknowledged write survives `kill -9` (and power
//! loss)*, and after any crash the state machine can be rebuilt exactly.
//!
//! 1. **The log is the source of truth.** A batch is acknowledged only after
//!    its entry was appended in a redb transaction committed with
//!    `Durability::Immediate` (fsync) — openraft reports the append to the
//!    commit logic only through the `LogFlushed` callback we fire after that
//!    commit — and then applied.
//! 2. **The state machine may lag on disk.** `apply` writes the data together
//!    with `last_applied` and `last_membership` in *one* redb transaction, so
//!    the on-disk state machine is always exactly "the log applied up to
//!    `last_applied`". Most applies use `Durability::None` (no fsync; visible
//!    immediately, persisted by the next durable commit); one in
//!    [`state_machine::SYNC_EVERY_ENTRIES`] entries commits durably. After a
//!    crash redb rolls back to the last durable commit, and openraft re-applies
//!    the log from the durable `last_applied` up to the stored committed id at
//!    startup; anything after that is committed again by the next leader (a
//!    single voter: itself, and [`RaftBackend::open`] waits until it has all
//!    been applied before returning).
//! 3. **Purging never outruns the durable state machine.** Entries after the
//!    durable `last_applied` must stay in the log. Openraft purges only up to
//!    the last snapshot; the snapshot builder takes its read view first and
//!    *then* forces a durable commit (redb commits are ordered, so that commit
//!    covers the view), and the log store's `purge` itself forces the state
//!    machine to disk and refuses to purge past its durable `last_applied`
//!    (on a follower installing a snapshot it waits for the install first).
//! 4. **Snapshots** serialize the whole key space from one redb read view;
//!    installing one replaces the key space, `last_applied` and membership in
//!    one durable transaction before the snapshot file is (atomically)
//!    replaced.
//! 5. **Vote, truncation and purge** are durable before they return; the
//!    committed id is written with the next durable log transaction (it may lag,
//!    which only means a little more replay).
//!
//! # Group commit
//!
//! openraft 0.9's core waits for each append's flush before it handles the
//! next client write, so it does not batch appends by itself: one
//! `client_write` costs one fsync. The backend therefore batches above
//! openraft: concurrent transactions queue in a channel and a batcher packs
//! everything queued into one log entry ([`types::Request`] holds several
//! transactions, each still applied atomically and in order). By default one
//! entry is in flight at a time ([`RaftConfig::max_inflight_batches`]): while
//! it is being appended and applied the next batch grows, so the number of
//! fsyncs per second stays at the disk's ceiling and throughput grows with
//! concurrency.

pub mod backend;
pub mod backup;
pub mod error;
pub mod log_store;
pub mod network;
pub mod state_machine;
pub mod tls;
pub mod types;

pub use backend::{LeaderState, OpenMode, PeerInfo, RaftBackend, RaftConfig};
pub use backup::{inspect_snapshot, BackupMeta};
pub use error::RaftError;
pub use network::{ping, ClusterClient, ClusterNetworkFactory};
pub use tls::{ClusterCa, ClusterTls, TlsError};
pub use types::{raft_node_id, Applied, ClusterNode, NodeId, Request, TypeConfig};
