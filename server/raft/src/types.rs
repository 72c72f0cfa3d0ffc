//! The openraft type configuration and the data that travels through the log.
//!
//! This module owns what a log entry carries ([`Request`]), what applying one
//! reports back ([`Applied`]), how a cluster member is described
//! ([`ClusterNode`]), how Vault-style string node ids map onto openraft's `u64`
//! ids ([`raft_node_id`]), the reserved key space the backend uses for its own
//! bookkeeping, and the binary codec used for everything this crate writes to
//! disk.
//!
//! # Reserved keys
//!
//! Keys starting with a NUL character ([`is_reserved_key`]) belong to the
//! backend; clients can neither write nor read them. A snapshot restore uses
//! them to stay an ordinary, bounded-size log entry stream: the payload is
//! staged in chunks under `"\0coffer-raft/restore/<id>/"` (so it is part of the
//! key space, replicated, and included in Raft snapshots like any key), and a
//! final transaction holding a single put of `"\0coffer-raft/restore-commit"`
//! makes every member swap the whole key space for the staged payload in one
//! state machine transaction. The log format stays `Request { txns }`.

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
///
/// Its serde encoding is exactly the derived one of
/// `struct Request { txns: Vec<Vec<TxnOp>> }`, except that values go through
/// `serialize_bytes` / `deserialize_byte_buf`: in bincode that is the same
/// bytes (length, then the raw bytes) but copied in bulk instead of one `u8`
/// at a time, which matters for the log and for replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The client transactions, in the order they were accepted.
    pub txns: Vec<Vec<TxnOp>>,
}

mod request_serde {
    use coffer_core::physical::TxnOp;
    use serde::ser::{SerializeSeq, SerializeStruct, SerializeStructVariant};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Request;

    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    struct Op<'a>(&'a TxnOp);

    impl Serialize for Op<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                TxnOp::Put { key, value } => {
                    let mut v = s.serialize_struct_variant("TxnOp", 0, "Put", 2)?;
                    v.serialize_field("key", key)?;
                    v.serialize_field("value", &Bytes(value))?;
                    v.end()
                }
                TxnOp::Delete { key } => {
                    let mut v = s.serialize_struct_variant("TxnOp", 1, "Delete", 1)?;
                    v.serialize_field("key", key)?;
                    v.end()
                }
            }
        }
    }

    struct Txn<'a>(&'a [TxnOp]);

    impl Serialize for Txn<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for op in self.0 {
                seq.serialize_element(&Op(op))?;
            }
            seq.end()
        }
    }

    struct Txns<'a>(&'a [Vec<TxnOp>]);

    impl Serialize for Txns<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for txn in self.0 {
                seq.serialize_element(&Txn(txn))?;
            }
            seq.end()
        }
    }

    impl Serialize for Request {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("Request", 1)?;
            st.serialize_field("txns", &Txns(&self.txns))?;
            st.end()
        }
    }

    fn byte_buf<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(V)
    }

    #[derive(Deserialize)]
    #[serde(rename = "TxnOp")]
    enum OpDe {
        Put {
            key: String,
            #[serde(deserialize_with = "byte_buf")]
            value: Vec<u8>,
        },
        Delete {
            key: String,
        },
    }

    #[derive(Deserialize)]
    #[serde(rename = "Request")]
    struct RequestDe {
        txns: Vec<Vec<OpDe>>,
    }

    impl<'de> Deserialize<'de> for Request {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let r = RequestDe::deserialize(d)?;
            Ok(Request {
                txns: r
                    .txns
                    .into_iter()
                    .map(|t| {
                        t.into_iter()
                            .map(|op| match op {
                                OpDe::Put { key, value } => TxnOp::Put { key, value },
                                OpDe::Delete { key } => TxnOp::Delete { key },
                            })
                            .collect()
                    })
                    .collect(),
            })
        }
    }
}

impl Request {
    /// Number of individual operations in the entry.
    pub fn op_count(&self) -> usize {
        self.txns.iter().map(Vec::len).sum()
    }

    /// Key and value bytes in the entry (about its encoded size).
    pub fn approx_bytes(&self) -> usize {
        self.txns.iter().map(|t| txn_bytes(t)).sum()
    }
}

/// Key and value bytes of one transaction, plus a little per operation.
pub fn txn_bytes(ops: &[TxnOp]) -> usize {
    ops.iter()
        .map(|op| match op {
            TxnOp::Put { key, value } => 16 + key.len() + value.len(),
            TxnOp::Delete { key } => 8 + key.len(),
        })
        .sum()
}

/// What applying one log entry reports to the node that proposed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Set when the entry commits a snapshot restore that was refused (the
    /// staged payload did not verify); the key space is then unchanged.
    pub restore_error: Option<String>,
}

/// Whether `key` is in the reserved key space (starts with NUL).
pub fn is_reserved_key(key: &str) -> bool {
    key.starts_with('\0')
}

/// Prefix of staged restore chunks: `<prefix><restore id>/<seq:010>`.
pub(crate) const RESTORE_CHUNK_PREFIX: &str = "\0coffer-raft/restore/";
/// A put of this key commits a staged restore (value: [`RestoreCommit`]).
pub(crate) const RESTORE_COMMIT_KEY: &str = "\0coffer-raft/restore-commit";

/// The value of a restore commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RestoreCommit {
    /// Which staging area to use.
    pub(crate) id: String,
    /// How many chunks were staged.
    pub(crate) chunks: u64,
    /// SHA-256 of the concatenated chunks (the snapshot payload).
    pub(crate) sha256: [u8; 32],
}

/// The staging prefix of restore `id`.
pub(crate) fn restore_chunk_prefix(id: &str) -> String {
    format!("{RESTORE_CHUNK_PREFIX}{id}/")
}

/// The key of chunk `seq` of restore `id` (sorts in sequence order).
pub(crate) fn restore_chunk_key(id: &str, seq: u64) -> String {
    format!("{RESTORE_CHUNK_PREFIX}{id}/{seq:010}")
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
        R = Applied,
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

    /// The hand-written encoding is byte for byte the derived one logs were
    /// written with before.
    #[test]
    fn request_encoding_matches_the_derived_format() {
        #[derive(Serialize)]
        struct Derived {
            txns: Vec<Vec<TxnOp>>,
        }
        let txns = vec![
            vec![
                TxnOp::Put {
                    key: "k".into(),
                    value: (0..=255).collect(),
                },
                TxnOp::Delete { key: "d".into() },
            ],
            vec![],
            vec![TxnOp::Put {
                key: String::new(),
                value: vec![],
            }],
        ];
        let derived = encode(&Derived { txns: txns.clone() }).expect("encode");
        let req = Request { txns };
        assert_eq!(encode(&req).expect("encode"), derived);
        assert_eq!(decode::<Request>(&derived).expect("decode"), req);
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
