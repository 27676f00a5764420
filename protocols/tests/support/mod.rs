//! The Raft tests' set-up: the generic key-value store support (`kv_support`) for the
//! Raft node.
#![allow(dead_code)]

#[path = "../kv_support/mod.rs"]
mod kv_support;

pub use kv_support::*;
use protocols::raft::{Node, invariants};
use sim_core::{Checker, Simulation};

impl KvNode for Node {
    fn safety_checkers() -> Vec<Box<dyn Checker<Node>>> {
        invariants::safety_checkers()
    }
}

pub type RaftSim = Simulation<Node, protocols::kv::KvClient>;
pub type Setup = kv_support::Setup<Node>;
