//! Raft RPC transport over the cluster port: TCP + mutual TLS.
//!
//! This module owns how members talk to each other: the wire format, the
//! client side ([`ClusterNetworkFactory`] / [`ClusterClient`], openraft's
//! `RaftNetworkFactory` / `RaftNetwork`), the listener that answers RPCs
//! (started by [`crate::RaftBackend::serve_cluster`]), and the cluster TLS
//! state the backend can replace at runtime.
//!
//! # Wire format
//!
//! One TLS 1.3 connection carries one request at a time. Every message is a
//! frame: a 4-byte big-endian length, then that many bytes of bincode (1.x,
//! fixed-int, the same codec as the log). Frames longer than [`MAX_FRAME`] are
//! refused and the connection dropped; a frame that does not decode gets a
//! `Refused` answer. Requests carry the protocol version and the numeric id of
//! the node they are meant for, so a member that moved to another address is
//! noticed instead of answering for someone else.
//!
//! # Robustness
//!
//! * Every call has a deadline (openraft's per-RPC TTL, or the backend's RPC
//!   timeout); a connection that timed out or failed is dropped, never reused.
//! * Idle connections go back to a small per-peer pool, so openraft's
//!   short-lived vote and leadership-check clients do not pay a handshake each
//!   time. A pooled connection that turns out dead is replaced once.
//! * AppendEntries payloads are capped at [`APPEND_BUDGET_BYTES`] per call: a
//!   longer run is cut and reported back to openraft as `PartialSuccess`, so a
//!   lagging follower catches up in bounded steps instead of one RPC that can
//!   never finish within the heartbeat-long TTL.
//! * Until cluster TLS is set ([`crate::RaftBackend::set_cluster_tls`]) the
//!   node neither dials nor accepts: it cannot speak Raft. Replacing the TLS
//!   material closes the connections made with the old one.
//! * [`crate::RaftBackend::set_partitioned`] is a fault-injection switch
//!   (tests, chaos drills) that cuts this node off: outgoing calls fail as
//!   unreachable and incoming connections are dropped.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openraft::error::{
    CheckIsLeaderError, InstallSnapshotError, NetworkError, RPCError, RaftError as OpenRaftError,
    RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{EntryPayload, Raft};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::{client, TlsAcceptor, TlsConnector};

use crate::tls::{ClusterTls, TlsConfigs};
use crate::types::{ClusterNode, Entry, LogId, NodeId, TypeConfig};

/// Version of the frame contents; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame accepted, in bytes.
pub const MAX_FRAME: usize = 64 << 20;

/// AppendEntries payloads are cut after about this many bytes of entries
/// (always at least one entry).
pub const APPEND_BUDGET_BYTES: usize = 1 << 20;

/// TLS handshake deadline on the listener side.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// A server connection with no request for this long is closed.
const SERVER_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A pooled client connection idle for longer is not reused (it stays well
/// below the server's idle timeout).
const POOL_IDLE: Duration = Duration::from_secs(20);
/// Idle connections kept per peer.
const POOL_PER_PEER: usize = 4;
/// Deadline for reading the body of a frame once its length arrived, and for
/// writing a response.
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// A request frame.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    version: u32,
    /// The node the sender means to reach; `None` accepts any (ping).
    target: Option<NodeId>,
    body: WireRequest,
}

#[derive(Debug, Serialize, Deserialize)]
enum WireRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Leader only: the log id a linearizable read must wait for.
    ReadIndex,
    /// Who are you? (identity and reachability check)
    Ping,
}

/// The error a leader returns for a read-index request.
type ReadIndexError = OpenRaftError<NodeId, CheckIsLeaderError<NodeId, ClusterNode>>;

#[derive(Debug, Serialize, Deserialize)]
enum WireResponse {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, OpenRaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, OpenRaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, OpenRaftError<NodeId, InstallSnapshotError>>,
    ),
    ReadIndex(Result<Option<LogId>, ReadIndexError>),
    Pong {
        node_id: String,
        raft_id: NodeId,
    },
    /// The request was not served (wrong node, version, malformed frame).
    Refused(String),
}

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The peer could not be reached (no TLS material, partitioned, connect
    /// or handshake failure).
    #[error("node {addr} unreachable: {reason}")]
    Unreachable { addr: String, reason: String },
    /// The connection failed during the exchange.
    #[error("talking to {addr}: {reason}")]
    Io { addr: String, reason: String },
    /// No answer in time.
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    /// The peer refused the request or answered nonsense.
    #[error("{addr} refused the request: {reason}")]
    Refused { addr: String, reason: String },
}

fn encode_frame<T: Serialize>(value: &T) -> Result<Vec<u8>, io::Error> {
    let bytes = bincode::serialize(value).map_err(io::Error::other)?;
    if bytes.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds {MAX_FRAME}", bytes.len()),
        ));
    }
    Ok(bytes)
}

fn decode_frame<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, bincode::Error> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(bytes.len() as u64)
        .deserialize(bytes)
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(bytes).await?;
    w.flush().await
}

/// Reads the 4-byte length of the next frame (waiting as long as it takes).
async fn read_len<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<usize> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME}"),
        ));
    }
    Ok(len)
}

/// Reads a frame body; the buffer grows with the data that actually arrives.
async fn read_body<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len.min(64 << 10));
    (&mut *r).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a frame",
        ));
    }
    Ok(buf)
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let len = read_len(r).await?;
    read_body(r, len).await
}

/// An established client connection.
struct Conn {
    stream: client::TlsStream<TcpStream>,
    generation: u64,
    idle_since: Instant,
}

/// Network state shared by the Raft clients, the listener and the backend.
pub(crate) struct NetShared {
    raft_id: NodeId,
    node_id: String,
    /// The current TLS material and its generation.
    tls: RwLock<Option<(u64, Arc<TlsConfigs>)>>,
    generation: AtomicU64,
    partitioned: AtomicBool,
    pool: Mutex<HashMap<(NodeId, String), Vec<Conn>>>,
}

impl std::fmt::Debug for NetShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetShared")
            .field("node_id", &self.node_id)
            .field("tls", &self.tls_configs().is_some())
            .field("partitioned", &self.is_partitioned())
            .finish_non_exhaustive()
    }
}

impl NetShared {
    pub(crate) fn new(raft_id: NodeId, node_id: String) -> Arc<Self> {
        Arc::new(Self {
            raft_id,
            node_id,
            tls: RwLock::new(None),
            generation: AtomicU64::new(0),
            partitioned: AtomicBool::new(false),
            pool: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the TLS material (`None`: stop speaking Raft). Connections
    /// made with the previous material are closed.
    pub(crate) fn set_tls(&self, configs: Option<TlsConfigs>) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *self.tls.write().unwrap_or_else(|p| p.into_inner()) =
            configs.map(|c| (generation, Arc::new(c)));
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn tls_configs(&self) -> Option<(u64, Arc<TlsConfigs>)> {
        self.tls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Fault injection: cut this node off the cluster network (both ways).
    pub(crate) fn set_partitioned(&self, on: bool) {
        self.partitioned.store(on, Ordering::SeqCst);
        if on {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    pub(crate) fn is_partitioned(&self) -> bool {
        self.partitioned.load(Ordering::SeqCst)
    }

    fn take_pooled(&self, key: &(NodeId, String)) -> Option<Conn> {
        let generation = self.generation();
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let conns = pool.get_mut(key)?;
        while let Some(conn) = conns.pop() {
            if conn.generation == generation && conn.idle_since.elapsed() < POOL_IDLE {
                return Some(conn);
            }
        }
        None
    }

    fn put_back(&self, key: (NodeId, String), mut conn: Conn) {
        if conn.generation != self.generation() || self.is_partitioned() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let conns = pool.entry(key).or_default();
        if conns.len() < POOL_PER_PEER {
            conns.push(conn);
        }
    }
}

/// A connection-owning client for one peer; used by openraft (through
/// [`ClusterClient`]) and by the backend (read index, ping).
pub(crate) struct Peer {
    shared: Arc<NetShared>,
    /// The numeric id the peer must have (`None`: anyone, for a ping).
    target: Option<NodeId>,
    addr: String,
    conn: Option<Conn>,
}

impl Peer {
    pub(crate) fn new(shared: Arc<NetShared>, target: Option<NodeId>, addr: String) -> Self {
        Self {
            shared,
            target,
            addr,
            conn: None,
        }
    }

    pub(crate) fn target(&self) -> Option<NodeId> {
        self.target
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> NetError {
        NetError::Unreachable {
            addr: self.addr.clone(),
            reason: reason.to_string(),
        }
    }

    async fn connect(&self) -> Result<Conn, NetError> {
        if self.shared.is_partitioned() {
            return Err(self.unreachable("this node is partitioned (fault injection)"));
        }
        let Some((generation, configs)) = self.shared.tls_configs() else {
            return Err(self.unreachable("cluster TLS is not configured on this node"));
        };
        if self.addr.is_empty() {
            return Err(self.unreachable("the member has no cluster address"));
        }
        let tcp = TcpStream::connect(self.addr.as_str())
            .await
            .map_err(|e| self.unreachable(e))?;
        let _ = tcp.set_nodelay(true);
        let stream = TlsConnector::from(configs.client.clone())
            .connect(configs.server_name.clone(), tcp)
            .await
            .map_err(|e| self.unreachable(format!("TLS handshake: {e}")))?;
        Ok(Conn {
            stream,
            generation,
            idle_since: Instant::now(),
        })
    }

    async fn exchange(conn: &mut Conn, frame: &[u8]) -> io::Result<Vec<u8>> {
        write_frame(&mut conn.stream, frame).await?;
        read_frame(&mut conn.stream).await
    }

    async fn call_inner(&mut self, frame: &[u8]) -> Result<WireResponse, NetError> {
        if self.shared.is_partitioned() {
            self.conn = None;
            return Err(self.unreachable("this node is partitioned (fault injection)"));
        }
        let key = (self.target.unwrap_or(0), self.addr.clone());
        let generation = self.shared.generation();
        let reused = self
            .conn
            .take()
            .filter(|c| c.generation == generation)
            .or_else(|| self.shared.take_pooled(&key));
        let (mut conn, was_reused) = match reused {
            Some(c) => (c, true),
            None => (self.connect().await?, false),
        };
        let answer = match Self::exchange(&mut conn, frame).await {
            Ok(a) => a,
            Err(_) if was_reused => {
                // The pooled connection went stale (peer restarted, idle
                // close): one attempt on a fresh one. Raft RPCs are
                // idempotent, so a request that did arrive is harmless.
                conn = self.connect().await?;
                Self::exchange(&mut conn, frame)
                    .await
                    .map_err(|e| NetError::Io {
                        addr: self.addr.clone(),
                        reason: e.to_string(),
                    })?
            }
            Err(e) => {
                return Err(NetError::Io {
                    addr: self.addr.clone(),
                    reason: e.to_string(),
                })
            }
        };
        let response: WireResponse = decode_frame(&answer).map_err(|e| NetError::Refused {
            addr: self.addr.clone(),
            reason: format!("undecodable answer: {e}"),
        })?;
        self.conn = Some(conn);
        match response {
            WireResponse::Refused(reason) => Err(NetError::Refused {
                addr: self.addr.clone(),
                reason,
            }),
            other => Ok(other),
        }
    }

    /// Sends one request and waits for its answer, at most `timeout`.
    async fn call(
        &mut self,
        body: WireRequest,
        timeout: Duration,
    ) -> Result<WireResponse, NetError> {
        let frame = encode_frame(&Envelope {
            version: PROTOCOL_VERSION,
            target: self.target,
            body,
        })
        .map_err(|e| NetError::Refused {
            addr: self.addr.clone(),
            reason: e.to_string(),
        })?;
        match tokio::time::timeout(timeout, self.call_inner(&frame)).await {
            Ok(r) => r,
            Err(_) => {
                // The connection (if any) was dropped with the future: an
                // answer arriving later cannot be mistaken for the next one.
                self.conn = None;
                Err(NetError::Timeout {
                    addr: self.addr.clone(),
                    timeout,
                })
            }
        }
    }

    /// Asks the peer who it is: its configured node id.
    pub(crate) async fn ping(&mut self, timeout: Duration) -> Result<String, NetError> {
        match self.call(WireRequest::Ping, timeout).await? {
            WireResponse::Pong { node_id, raft_id } => {
                if crate::types::raft_node_id(&node_id) != raft_id {
                    return Err(NetError::Refused {
                        addr: self.addr.clone(),
                        reason: format!("inconsistent identity {node_id:?} / {raft_id}"),
                    });
                }
                Ok(node_id)
            }
            other => Err(self.unexpected(&other)),
        }
    }

    /// Asks the (presumed) leader for the log id a linearizable read must
    /// wait for.
    pub(crate) async fn read_index(
        &mut self,
        timeout: Duration,
    ) -> Result<Result<Option<LogId>, ReadIndexError>, NetError> {
        match self.call(WireRequest::ReadIndex, timeout).await? {
            WireResponse::ReadIndex(r) => Ok(r),
            other => Err(self.unexpected(&other)),
        }
    }

    fn unexpected(&self, answer: &WireResponse) -> NetError {
        let kind = match answer {
            WireResponse::AppendEntries(_) => "append-entries",
            WireResponse::Vote(_) => "vote",
            WireResponse::InstallSnapshot(_) => "install-snapshot",
            WireResponse::ReadIndex(_) => "read-index",
            WireResponse::Pong { .. } => "pong",
            WireResponse::Refused(_) => "refused",
        };
        NetError::Refused {
            addr: self.addr.clone(),
            reason: format!("unexpected {kind} answer"),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.shared
                .put_back((self.target.unwrap_or(0), self.addr.clone()), conn);
        }
    }
}

/// Makes [`ClusterClient`]s for openraft.
#[derive(Debug, Clone)]
pub struct ClusterNetworkFactory {
    shared: Arc<NetShared>,
}

impl ClusterNetworkFactory {
    pub(crate) fn new(shared: Arc<NetShared>) -> Self {
        Self { shared }
    }
}

/// openraft's client for one target member. Connects lazily.
pub struct ClusterClient {
    peer: Peer,
    node: ClusterNode,
}

impl RaftNetworkFactory<TypeConfig> for ClusterNetworkFactory {
    type Network = ClusterClient;

    async fn new_client(&mut self, target: NodeId, node: &ClusterNode) -> ClusterClient {
        ClusterClient {
            peer: Peer::new(self.shared.clone(), Some(target), node.cluster_addr.clone()),
            node: node.clone(),
        }
    }
}

impl ClusterClient {
    fn target(&self) -> NodeId {
        self.peer.target.unwrap_or(0)
    }

    fn rpc_error<E: std::error::Error>(&self, e: NetError) -> RPCError<NodeId, ClusterNode, E> {
        match e {
            NetError::Unreachable { .. } | NetError::Refused { .. } => {
                RPCError::Unreachable(Unreachable::new(&e))
            }
            NetError::Io { .. } | NetError::Timeout { .. } => {
                RPCError::Network(NetworkError::new(&e))
            }
        }
    }

    fn remote<E: std::error::Error>(
        &self,
        e: OpenRaftError<NodeId, E>,
    ) -> RPCError<NodeId, ClusterNode, OpenRaftError<NodeId, E>> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target(),
            self.node.clone(),
            e,
        ))
    }

    fn unexpected<E: std::error::Error>(
        &self,
        answer: &WireResponse,
    ) -> RPCError<NodeId, ClusterNode, E> {
        let e = self.peer.unexpected(answer);
        RPCError::Network(NetworkError::new(&e))
    }
}

/// Rough size of an entry on the wire (for the AppendEntries budget).
fn entry_bytes(entry: &Entry) -> usize {
    const OVERHEAD: usize = 64;
    match &entry.payload {
        EntryPayload::Blank => OVERHEAD,
        EntryPayload::Normal(req) => OVERHEAD + req.approx_bytes(),
        EntryPayload::Membership(m) => OVERHEAD + 128 * m.nodes().count(),
    }
}

/// Cuts `rpc` down to about [`APPEND_BUDGET_BYTES`] of entries (at least
/// one). Returns the id of the last entry kept when something was cut.
fn limit_append(rpc: &mut AppendEntriesRequest<TypeConfig>) -> Option<LogId> {
    let mut bytes = 0usize;
    let mut keep = 0usize;
    for e in &rpc.entries {
        bytes = bytes.saturating_add(entry_bytes(e));
        if keep > 0 && bytes > APPEND_BUDGET_BYTES {
            break;
        }
        keep += 1;
    }
    if keep >= rpc.entries.len() {
        return None;
    }
    rpc.entries.truncate(keep);
    rpc.entries.last().map(|e| e.log_id)
}

impl RaftNetwork<TypeConfig> for ClusterClient {
    async fn append_entries(
        &mut self,
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ClusterNode, OpenRaftError<NodeId>>>
    {
        let cut = limit_append(&mut rpc);
        match self
            .peer
            .call(WireRequest::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(WireResponse::AppendEntries(Ok(AppendEntriesResponse::Success))) => match cut {
                // The follower took everything that was sent: tell openraft
                // how far that was; it sends the rest next.
                Some(last) => Ok(AppendEntriesResponse::PartialSuccess(Some(last))),
                None => Ok(AppendEntriesResponse::Success),
            },
            Ok(WireResponse::AppendEntries(Ok(r))) => Ok(r),
            Ok(WireResponse::AppendEntries(Err(e))) => Err(self.remote(e)),
            Ok(other) => Err(self.unexpected(&other)),
            Err(e) => Err(self.rpc_error(e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, ClusterNode, OpenRaftError<NodeId, InstallSnapshotError>>,
    > {
        match self
            .peer
            .call(WireRequest::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(WireResponse::InstallSnapshot(Ok(r))) => Ok(r),
            Ok(WireResponse::InstallSnapshot(Err(e))) => Err(self.remote(e)),
            Ok(other) => Err(self.unexpected(&other)),
            Err(e) => Err(self.rpc_error(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ClusterNode, OpenRaftError<NodeId>>> {
        match self
            .peer
            .call(WireRequest::Vote(rpc), option.hard_ttl())
            .await
        {
            Ok(WireResponse::Vote(Ok(r))) => Ok(r),
            Ok(WireResponse::Vote(Err(e))) => Err(self.remote(e)),
            Ok(other) => Err(self.unexpected(&other)),
            Err(e) => Err(self.rpc_error(e)),
        }
    }
}

/// Accepts cluster connections on `listener` and answers Raft RPCs for
/// `raft` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<NetShared>, raft: Raft<TypeConfig>) {
    let mut conns = JoinSet::new();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "cluster listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        conns.spawn(serve_conn(tcp, peer, shared.clone(), raft.clone()));
    }
}

async fn serve_conn(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<NetShared>,
    raft: Raft<TypeConfig>,
) {
    if shared.is_partitioned() {
        return;
    }
    let Some((generation, configs)) = shared.tls_configs() else {
        tracing::debug!(%peer, "cluster connection refused: cluster TLS is not configured");
        return;
    };
    let _ = tcp.set_nodelay(true);
    let acceptor = TlsAcceptor::from(configs.server.clone());
    let mut stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "cluster connection refused: TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "cluster connection refused: TLS handshake timed out");
            return;
        }
    };
    loop {
        let len = match tokio::time::timeout(SERVER_IDLE_TIMEOUT, read_len(&mut stream)).await {
            Ok(Ok(len)) => len,
            Ok(Err(e)) => {
                if e.kind() != io::ErrorKind::UnexpectedEof {
                    tracing::debug!(%peer, error = %e, "cluster connection closed");
                }
                return;
            }
            Err(_) => return,
        };
        let frame = match tokio::time::timeout(FRAME_TIMEOUT, read_body(&mut stream, len)).await {
            Ok(Ok(f)) => f,
            _ => return,
        };
        if shared.is_partitioned() || shared.generation() != generation {
            return;
        }
        let response = answer(&frame, &shared, &raft).await;
        if shared.is_partitioned() {
            return;
        }
        let bytes = match encode_frame(&response) {
            Ok(b) => b,
            Err(e) => match encode_frame(&WireResponse::Refused(e.to_string())) {
                Ok(b) => b,
                Err(_) => return,
            },
        };
        match tokio::time::timeout(FRAME_TIMEOUT, write_frame(&mut stream, &bytes)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

async fn answer(frame: &[u8], shared: &NetShared, raft: &Raft<TypeConfig>) -> WireResponse {
    let envelope: Envelope = match decode_frame(frame) {
        Ok(e) => e,
        Err(e) => return WireResponse::Refused(format!("malformed request: {e}")),
    };
    if envelope.version != PROTOCOL_VERSION {
        return WireResponse::Refused(format!(
            "protocol version {} is not supported (this node speaks {PROTOCOL_VERSION})",
            envelope.version
        ));
    }
    if let Some(target) = envelope.target {
        if target != shared.raft_id {
            return WireResponse::Refused(format!(
                "this is node {:?} ({}), not {target}",
                shared.node_id, shared.raft_id
            ));
        }
    }
    match envelope.body {
        WireRequest::AppendEntries(rpc) => {
            WireResponse::AppendEntries(raft.append_entries(rpc).await)
        }
        WireRequest::Vote(rpc) => WireResponse::Vote(raft.vote(rpc).await),
        WireRequest::InstallSnapshot(rpc) => {
            WireResponse::InstallSnapshot(raft.install_snapshot(rpc).await)
        }
        WireRequest::ReadIndex => {
            let read = raft.get_read_log_id().await.map(|(read, _applied)| read);
            if read.is_ok() {
                // Let followers learn the commit index now rather than at
                // the next heartbeat: the asking follower waits for it.
                let _ = raft.trigger().heartbeat().await;
            }
            WireResponse::ReadIndex(read)
        }
        WireRequest::Ping => WireResponse::Pong {
            node_id: shared.node_id.clone(),
            raft_id: shared.raft_id,
        },
    }
}

/// Checks that `addr` answers on the cluster port over mutual TLS made from
/// `tls`; returns the node id it answers as. (For a joining node's checks
/// and for operators' diagnostics.)
pub async fn ping(
    tls: &ClusterTls,
    addr: &str,
    timeout: Duration,
) -> Result<String, crate::RaftError> {
    let shared = NetShared::new(0, String::new());
    shared.set_tls(Some(TlsConfigs::build(tls)?));
    let mut peer = Peer::new(shared, None, addr.to_string());
    peer.ping(timeout)
        .await
        .map_err(|e| crate::RaftError::Network(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Request;
    use coffer_core::physical::TxnOp;

    fn entry(index: u64, bytes: usize) -> Entry {
        Entry {
            log_id: LogId::new(openraft::CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Normal(Request {
                txns: vec![vec![TxnOp::Put {
                    key: format!("k{index}"),
                    value: vec![0; bytes],
                }]],
            }),
        }
    }

    #[test]
    fn append_payloads_are_cut_to_the_budget() {
        let mut rpc = AppendEntriesRequest::<TypeConfig> {
            vote: openraft::Vote::new_committed(1, 0),
            prev_log_id: None,
            leader_commit: None,
            entries: (1..=10).map(|i| entry(i, 300 << 10)).collect(),
        };
        let last = limit_append(&mut rpc).expect("cut");
        assert_eq!(rpc.entries.len(), 3);
        assert_eq!(last.index, 3);
        // One oversized entry still goes out alone.
        let mut rpc = AppendEntriesRequest::<TypeConfig> {
            entries: vec![entry(1, 3 << 20), entry(2, 1)],
            ..rpc
        };
        assert_eq!(limit_append(&mut rpc).map(|l| l.index), Some(1));
        assert_eq!(rpc.entries.len(), 1);
        assert_eq!(limit_append(&mut rpc), None);
    }

    #[test]
    fn wire_messages_round_trip() {
        let req = Envelope {
            version: PROTOCOL_VERSION,
            target: Some(7),
            body: WireRequest::AppendEntries(AppendEntriesRequest {
                vote: openraft::Vote::new_committed(3, 1),
                prev_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(3, 1), 9)),
                leader_commit: None,
                entries: vec![entry(10, 5)],
            }),
        };
        let bytes = encode_frame(&req).expect("encode");
        let back: Envelope = decode_frame(&bytes).expect("decode");
        assert_eq!(back.target, Some(7));
        assert!(matches!(back.body, WireRequest::AppendEntries(r) if r.entries.len() == 1));

        let answers = vec![
            WireResponse::AppendEntries(Err(OpenRaftError::Fatal(openraft::error::Fatal::Stopped))),
            WireResponse::InstallSnapshot(Err(OpenRaftError::APIError(
                InstallSnapshotError::SnapshotMismatch(openraft::error::SnapshotMismatch {
                    expect: openraft::SnapshotSegmentId {
                        id: "a".into(),
                        offset: 0,
                    },
                    got: openraft::SnapshotSegmentId {
                        id: "b".into(),
                        offset: 5,
                    },
                }),
            ))),
            WireResponse::ReadIndex(Err(OpenRaftError::APIError(
                CheckIsLeaderError::ForwardToLeader(openraft::error::ForwardToLeader::new(
                    4,
                    ClusterNode {
                        node_id: "n4".into(),
                        cluster_addr: "h:1".into(),
                    },
                )),
            ))),
            WireResponse::Pong {
                node_id: "n".into(),
                raft_id: 1,
            },
        ];
        for a in answers {
            let bytes = encode_frame(&a).expect("encode");
            let back: WireResponse = decode_frame(&bytes).expect("decode");
            assert_eq!(format!("{back:?}"), format!("{a:?}"));
        }
    }

    #[test]
    fn malformed_frames_do_not_panic() {
        for junk in [
            &b""[..],
            b"\x00",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
            &[7u8; 64],
        ] {
            assert!(decode_frame::<Envelope>(junk).is_err());
        }
        // An AppendEntries claiming u64::MAX entries must fail, not allocate.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        bytes.push(0); // target: None
        bytes.extend_from_slice(&0u32.to_le_bytes()); // WireRequest::AppendEntries
        bytes.extend_from_slice(&1u64.to_le_bytes()); // vote.leader_id.term
        bytes.extend_from_slice(&0u64.to_le_bytes()); // vote.leader_id.node_id
        bytes.push(1); // vote.committed
        bytes.extend_from_slice(&[0, 0]); // prev_log_id, leader_commit: None
        bytes.extend_from_slice(&u64::MAX.to_le_bytes()); // entries.len()
        assert!(decode_frame::<Envelope>(&bytes).is_err());
    }

    #[tokio::test]
    async fn frames_enforce_the_limit() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            a.write_all(&u32::MAX.to_be_bytes()).await.expect("write");
            a
        });
        let err = read_frame(&mut b).await.expect_err("too long");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        drop(writer.await);

        let (mut a, mut b) = tokio::io::duplex(64);
        tokio::spawn(async move {
            let _ = a.write_all(&10u32.to_be_bytes()).await;
            let _ = a.write_all(b"short").await;
        });
        let err = read_frame(&mut b).await.expect_err("truncated");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
