//! Raft RPC transport.
//!
//! This module owns how this node talks to other members. A single-voter
//! cluster never sends an RPC, so for now [`SingleNodeNetwork`] refuses every
//! call with `Unreachable`; the HA work replaces this module with a real
//! transport (AppendEntries, Vote and snapshot streaming over the cluster
//! port) without touching storage.

use openraft::error::{InstallSnapshotError, RPCError, RaftError as OpenRaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::types::{ClusterNode, NodeId, TypeConfig};

/// Why every RPC fails.
#[derive(Debug, thiserror::Error)]
#[error("raft networking is not available: node {target} ({addr:?}) cannot be reached from a single-node cluster")]
pub struct NoNetwork {
    target: NodeId,
    addr: String,
}

/// Creates [`SingleNodeNetwork`] clients.
#[derive(Debug, Clone, Default)]
pub struct SingleNodeNetworkFactory;

/// A client for one target that refuses every RPC.
#[derive(Debug, Clone)]
pub struct SingleNodeNetwork {
    target: NodeId,
    node: ClusterNode,
}

impl SingleNodeNetwork {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, ClusterNode, E> {
        let err = NoNetwork {
            target: self.target,
            addr: self.node.cluster_addr.clone(),
        };
        RPCError::Unreachable(Unreachable::new(&err))
    }
}

impl RaftNetworkFactory<TypeConfig> for SingleNodeNetworkFactory {
    type Network = SingleNodeNetwork;

    async fn new_client(&mut self, target: NodeId, node: &ClusterNode) -> SingleNodeNetwork {
        SingleNodeNetwork {
            target,
            node: node.clone(),
        }
    }
}

impl RaftNetwork<TypeConfig> for SingleNodeNetwork {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ClusterNode, OpenRaftError<NodeId>>>
    {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, ClusterNode, OpenRaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ClusterNode, OpenRaftError<NodeId>>> {
        Err(self.unreachable())
    }
}
