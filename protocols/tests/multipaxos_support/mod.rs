//! The Multi-Paxos tests' set-up: the generic key-value store support (`kv_support`) for the
//! Multi-Paxos node.
#![allow(dead_code)]

#[path = "../kv_support/mod.rs"]
mod kv_support;

pub use kv_support::*;
use protocols::multipaxos::{Node, invariants};
use sim_core::{Checker, Simulation};

impl KvNode for Node {
    fn safety_checkers() -> Vec<Box<dyn Checker<Node>>> {
        invariants::safety_checkers()
    }
}

pub type MpSim = Simulation<Node, protocols::kv::KvClient>;
pub type Setup = kv_support::Setup<Node>;
