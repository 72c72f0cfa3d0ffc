//! The backup snapshot format of [`crate::RaftBackend::snapshot_bytes`] and
//! [`crate::RaftBackend::restore_snapshot`] (`sys/storage/raft/snapshot`).
//!
//! Layout:
//!
//! ```text
//! "CFRBAK01" | u64 LE meta length | meta (bincode BackupMeta) | payload | SHA-256 of all before
//! ```
//!
//! The payload is the state machine's snapshot payload (magic, count, then
//! key/value pairs) of the client-visible key space: the same encoding Raft
//! snapshots use, without the backend's reserved keys. The meta records where
//! the snapshot was taken; restoring ignores it (a restore replaces the data,
//! never the membership of the cluster it is restored into).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::RaftError;
use crate::state_machine::decode_payload;
use crate::types::{decode, encode, is_reserved_key, LogId, StoredMembership};

const BACKUP_MAGIC: &[u8; 8] = b"CFRBAK01";

/// Where and when a backup snapshot was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupMeta {
    /// The node that produced it.
    pub node_id: String,
    /// The last log entry the snapshot includes.
    pub last_log_id: Option<LogId>,
    /// The membership as of that entry.
    pub membership: StoredMembership,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Number of keys in the snapshot.
    pub keys: u64,
}

fn invalid(msg: impl Into<String>) -> RaftError {
    RaftError::InvalidSnapshot(msg.into())
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// Assembles a backup from its meta and payload.
pub(crate) fn encode_backup(meta: &BackupMeta, payload: &[u8]) -> Result<Vec<u8>, RaftError> {
    let meta = encode(meta).map_err(|e| RaftError::Storage(e.to_string()))?;
    let mut out = Vec::with_capacity(BACKUP_MAGIC.len() + 8 + meta.len() + payload.len() + 32);
    out.extend_from_slice(BACKUP_MAGIC);
    out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(payload);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

/// Checks a backup (format, checksum, payload decodes, no reserved keys) and
/// returns its meta and payload.
pub(crate) fn parse_backup(bytes: &[u8]) -> Result<(BackupMeta, &[u8]), RaftError> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or_else(|| invalid("too short"))?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum {
        return Err(invalid("checksum mismatch (truncated or corrupt)"));
    }
    let rest = body
        .strip_prefix(BACKUP_MAGIC.as_slice())
        .ok_or_else(|| invalid("not a coffer raft snapshot"))?;
    let (len, rest) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| invalid("truncated header"))?;
    let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| invalid("bad header"))?;
    if rest.len() < len {
        return Err(invalid("truncated header"));
    }
    let (meta, payload) = rest.split_at(len);
    let meta: BackupMeta = decode(meta).map_err(|e| invalid(format!("meta: {e}")))?;
    let pairs = decode_payload(payload).map_err(|e| invalid(format!("payload: {e}")))?;
    if pairs.iter().any(|(k, _)| is_reserved_key(k)) {
        return Err(invalid("the snapshot holds reserved keys"));
    }
    if pairs.len() as u64 != meta.keys {
        return Err(invalid("key count does not match the meta"));
    }
    Ok((meta, payload))
}

/// Reads the meta of a backup snapshot after verifying the whole of it.
pub fn inspect_snapshot(bytes: &[u8]) -> Result<BackupMeta, RaftError> {
    parse_backup(bytes).map(|(meta, _)| meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(pairs: &[(&str, &[u8])]) -> Vec<u8> {
        let owned: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        let mut out = b"CFRKV001".to_vec();
        out.extend_from_slice(&bincode::serialize(&owned).expect("encode"));
        out
    }

    fn meta(keys: u64) -> BackupMeta {
        BackupMeta {
            node_id: "n1".into(),
            last_log_id: None,
            membership: StoredMembership::default(),
            created_unix_ms: 1,
            keys,
        }
    }

    #[test]
    fn round_trip_and_corruption() {
        let p = payload(&[("a", b"1"), ("b/c", b"2")]);
        let bytes = encode_backup(&meta(2), &p).expect("encode");
        let (m, back) = parse_backup(&bytes).expect("parse");
        assert_eq!(m, meta(2));
        assert_eq!(back, p.as_slice());
        assert_eq!(inspect_snapshot(&bytes).expect("inspect").keys, 2);

        for i in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(parse_backup(&bad).is_err(), "flipped byte {i}");
        }
        assert!(parse_backup(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse_backup(b"").is_err());
        // Consistent but lying about the key count.
        assert!(parse_backup(&encode_backup(&meta(3), &p).expect("encode")).is_err());
        // Reserved keys cannot be smuggled in.
        let p = payload(&[("\0coffer-raft/x", b"1")]);
        assert!(parse_backup(&encode_backup(&meta(1), &p).expect("encode")).is_err());
    }
}
