//! The openraft type configuration and the data that travels through the log.
//!
//! This module owns what a log entry carries ([`Request`]), how a cluster member
//! is described ([`ClusterNode`]), how Vault-style string node ids map onto
//! openraft's `u64` ids ([`raft_node_id`]), and the binary codec used for
//! everything this crate writes to disk.

use std::fmt;
use std::io::Cursor;

use coffer_core::physical::TxnOp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The payload of one normal Raft log entry.
///
/// It holds one or more client transactions. They are applied in order, each
/// atomically, and the whole entry is applied in a single state machine
/// transaction. Several concurrent client writes share one entry: that is the
/// group commit (one log append and one fsync for the whole batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The client transactions, in the order they were accepted.
    pub txns: Vec<Vec<TxnOp>>,
}

impl Request {
    /// Number of individual operations in the entry.
    pub fn op_count(&self) -> usize {
        self.txns.iter().map(Vec::len).sum()
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request({} txns, {} ops)",
            self.txns.len(),
            self.op_count()
        )
    }
}

/// What the cluster knows about a member: its Vault-style string id and the
/// address other members reach it on (empty until the network layer exists).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// The configured node id, e.g. `node1`.
    pub node_id: String,
    /// The cluster address (`host:port`) Raft RPCs are sent to.
    pub cluster_addr: String,
}

impl fmt::Display for ClusterNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.node_id, self.cluster_addr)
    }
}

openraft::declare_raft_types!(
    /// Coffer's openraft type configuration.
    pub TypeConfig:
        D = Request,
        R = (),
        NodeId = u64,
        Node = ClusterNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// openraft's numeric node id type.
pub type NodeId = u64;
/// A log id of this configuration.
pub type LogId = openraft::LogId<NodeId>;
/// A log entry of this configuration.
pub type Entry = openraft::Entry<TypeConfig>;
/// A persisted membership configuration.
pub type StoredMembership = openraft::StoredMembership<NodeId, ClusterNode>;
/// Snapshot metadata of this configuration.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, ClusterNode>;
/// openraft's storage error for this configuration.
pub type StorageError = openraft::StorageError<NodeId>;

/// Maps a Vault-style string node id to openraft's `u64` id.
///
/// 64-bit FNV-1a: stable across Rust versions and platforms (unlike
/// `DefaultHasher`), so every member computes the same number for the same
/// name. The string itself travels in [`ClusterNode::node_id`] for reporting;
/// the HA join path must reject a newcomer whose hash collides with a member
/// of a different name.
pub fn raft_node_id(node_id: &str) -> NodeId {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    node_id
        .as_bytes()
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// Serializes a value with the on-disk codec (bincode 1, fixed options).
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, bincode::Error> {
    bincode::serialize(value)
}

/// Deserializes a value written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_hash_is_stable() {
        // Pinned values: changing the hash would orphan every existing cluster.
        assert_eq!(raft_node_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(raft_node_id("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(raft_node_id("node1"), raft_node_id("node2"));
    }

    #[test]
    fn entry_round_trips() {
        let req = Request {
            txns: vec![vec![
                TxnOp::Put {
                    key: "k".into(),
                    value: vec![1, 2, 3],
                },
                TxnOp::Delete { key: "d".into() },
            ]],
        };
        let entry = Entry {
            log_id: LogId::new(openraft::CommittedLeaderId::new(3, 7), 42),
            payload: openraft::EntryPayload::Normal(req.clone()),
        };
        let bytes = encode(&entry).expect("encode");
        let back: Entry = decode(&bytes).expect("decode");
        assert_eq!(back.log_id, entry.log_id);
        match back.payload {
            openraft::EntryPayload::Normal(r) => assert_eq!(r, req),
            other => panic!("unexpected payload {other:?}"),
        }
    }
}
