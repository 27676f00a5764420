//! Identities of the things on the simulated network.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A server node, `0..node_count`. Names (`"n1"`) live in the simulation's name table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

/// A simulated client, `0..client_count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientId(pub u32);

/// Anything with a network address: a node or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Addr {
    Node(NodeId),
    Client(ClientId),
}

/// A client request's id, unique within a run; replies carry it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// A timer's handle, unique within a run, so a stale handle never cancels a newer timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerId(pub u64);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ClientId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl From<NodeId> for Addr {
    fn from(n: NodeId) -> Addr {
        Addr::Node(n)
    }
}

impl From<ClientId> for Addr {
    fn from(c: ClientId) -> Addr {
        Addr::Client(c)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}
