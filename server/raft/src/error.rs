//! Error types: the public [`RaftError`] returned by [`crate::RaftBackend::open`]
//! and the internal [`StoreError`] the storage modules use before mapping
//! failures to openraft's `StorageError` or to `PhysicalError`.

/// Errors opening or running the Raft backend.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// A file-system failure (creating the data directory, the snapshot file).
    #[error("raft storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The redb engine failed or a stored record could not be decoded.
    #[error("raft storage: {0}")]
    Storage(String),
    /// The data directory belongs to a node with a different id.
    #[error("raft data directory belongs to node {stored:?}, not {configured:?}")]
    NodeIdMismatch {
        /// The id recorded in the directory.
        stored: String,
        /// The id this process was configured with.
        configured: String,
    },
    /// The Raft configuration is invalid.
    #[error("invalid raft configuration: {0}")]
    Config(String),
    /// openraft refused an operation or stopped.
    #[error("raft: {0}")]
    Raft(String),
    /// The node did not become leader (and catch up) in time, or a cluster
    /// operation did not finish in time.
    #[error("raft: timed out: {0}")]
    Timeout(String),
    /// The operation needs the leader and this node is not (or no longer)
    /// the leader.
    #[error("this node is not the raft leader (leader: {})", .leader.as_deref().unwrap_or("unknown"))]
    NotLeader {
        /// The leader's node id, when known.
        leader: Option<String>,
    },
    /// A membership change was refused (unknown peer, id collision, last
    /// voter, a change already in progress, ...).
    #[error("raft membership: {0}")]
    Membership(String),
    /// A peer could not be reached or refused to talk over the cluster port.
    #[error("raft cluster network: {0}")]
    Network(String),
    /// Cluster TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A snapshot to restore is malformed, corrupt or was refused.
    #[error("invalid raft snapshot: {0}")]
    InvalidSnapshot(String),
}

/// A failure inside the log store or the state machine.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed (boxed: redb's error is large).
    #[error("redb: {0}")]
    Db(Box<redb::Error>),
    /// A stored record could not be encoded or decoded.
    #[error("codec: {0}")]
    Codec(#[from] bincode::Error),
    /// File-system failure (snapshot files).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A blocking task panicked or was cancelled.
    #[error("background task: {0}")]
    Join(String),
    /// A storage invariant does not hold.
    #[error("invariant violated: {0}")]
    Invariant(String),
}

macro_rules! redb_from {
    ($($t:ty),*) => {
        $(impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(Box::new(e.into()))
            }
        })*
    };
}

redb_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        StoreError::Join(e.to_string())
    }
}

impl From<StoreError> for RaftError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io(e) => RaftError::Io(e),
            other => RaftError::Storage(other.to_string()),
        }
    }
}

/// Runs blocking storage work (fsync, redb write transactions) off the async
/// worker threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}
