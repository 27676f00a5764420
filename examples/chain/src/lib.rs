//! # Chain replication, as a protocol of your own
//!
//! Van Renesse and Schneider's chain replication (OSDI 2004) puts the replicas in a line:
//! `n1` (the *head*) takes every update, applies it, and forwards it to `n2`, which does the
//! same, down to the *tail*. The tail answers the client once it has applied the update,
//! and the tail alone answers queries. So a reply means every replica has the update, and
//! a read sees exactly the updates that were answered: the service is linearizable with
//! no consensus round at all, because the chain's order is the one order.
//!
//! The paper's invariant (§3, *Update Propagation*): each replica's history of updates is
//! a prefix of its predecessor's. The check `chain-prefix` watches it after every event;
//! `linearizable` judges the clients' history at the end.
//!
//! This crate is the example of docs/OWN-PROTOCOL.md: it depends on `faultline` only,
//! reuses its key-value client and store ([`faultline::protocols::kv`]), and keeps the
//! chain fixed (no master reconfiguring it): a crashed replica comes back from its durable
//! log, and the one behind it waits. Lost, duplicated and reordered forwards are resent
//! from what the successor acknowledged.
//!
//! The bug knob `ack_at_head` makes the head answer an update as soon as it has applied it,
//! before the tail has: a read at the tail right after can miss an answered write.

mod checks;
mod node;

pub use checks::{ChainPrefix, prefix_violation};
pub use node::{Durable, Entry, Msg, Node, Timer};

use faultline::protocols::kv::{KvClient, KvClientConfig};
use faultline::protocols::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use faultline::serde::{Deserialize, Serialize};
use faultline::sim_core::{Checker, Duration};

faultline::protocols::documented! {
    /// The chain's settings, as a scenario writes them in `protocol: (name: "chain", config:
    /// (...))`. Every field has a default; an unknown field is an error at its position.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(crate = "faultline::serde", deny_unknown_fields, default)]
    pub struct ChainConfig {
        /// How often a replica resends what its successor has not acknowledged.
        pub resend_every: Duration,
        /// The most updates one forward carries.
        pub batch: u32,
        /// Bug knob: the head answers an update before the tail has it.
        pub ack_at_head: bool,
    }
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            resend_every: Duration::from_millis(20),
            batch: 64,
            ack_at_head: false,
        }
    }
}

const KNOBS: &[Knob] = &[Knob {
    name: "ack_at_head",
    mistake: "the head answers an update before the tail has applied it",
    caught_by: "linearizable",
}];

const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "chain-prefix",
        kind: CheckKind::Always,
        promise: "each replica's updates are a prefix of its predecessor's",
    },
    CheckInfo {
        name: "linearizable",
        kind: CheckKind::History,
        promise: "the clients' history is linearizable (kv model)",
    },
];

/// Chain replication as scenario files name it: `protocol: (name: "chain")`.
pub struct ChainProtocol;

impl Protocol for ChainProtocol {
    const NAME: &'static str = "chain";
    const SUMMARY: &'static str = "chain replication (van Renesse & Schneider 2004): updates at the head, answers at the tail";
    const MAX_NODES: usize = 64;
    type Config = ChainConfig;
    type Node = Node;
    type Client = KvClient;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn checker(name: &str, _: &ChainConfig) -> Option<Box<dyn Checker<Node>>> {
        match name {
            "chain-prefix" => Some(Box::new(ChainPrefix)),
            _ => None,
        }
    }

    fn history_model() -> Option<faultline::lincheck::ModelKind> {
        Some(faultline::lincheck::ModelKind::Kv)
    }

    fn client_config(workload: &Workload, config: &ChainConfig) -> Result<KvClientConfig, String> {
        workload.validate()?;
        if config.batch == 0 {
            return Err("chain batch is 0: expected at least 1 update per forward".into());
        }
        if config.resend_every.is_zero() {
            return Err("chain resend_every is 0s: expected a duration such as \"20ms\"".into());
        }
        Ok(KvClientConfig::new(workload.clone()))
    }
}
