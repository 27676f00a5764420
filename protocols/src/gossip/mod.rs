//! # Gossip: a leaderless, fully replicated store that converges
//!
//! Follows the design of Dynamo (DeCandia et al., "Dynamo: Amazon's Highly Available
//! Key-value Store", SOSP 2007) with Riak's *dotted version vectors* (Preguiça, Baquero,
//! Almeida, Fonte, Gonçalves, "Dotted Version Vectors: Logical Clocks for Optimistic
//! Replication", 2010; the form used here is Almeida et al.'s 2014 "Scalable and Accurate
//! Causality Tracking for Eventually Consistent Stores"), and the anti-entropy of Demers
//! et al., "Epidemic Algorithms for Replicated Database Maintenance" (PODC 1987).
//!
//! Every node holds every key, and a client may read or write at any node: there is no
//! leader, no quorum and no agreement, so the store stays available through any partition.
//! What it gives up is a single order of writes. Two clients that write one key on the two
//! sides of a partition both succeed, and when the partition heals the store must decide
//! what the key holds. It decides nothing: it keeps both as **siblings**, and the next
//! client that reads them, and writes, resolves them.
//!
//! **Versions (the store, [`store`]).** To tell "this write replaces that one" from "these
//! two writes are concurrent" a replica needs causality, not time. Each key's state is a
//! version vector (which writes this replica has seen: an entry per node that coordinated
//! a write, so vectors are *sparse*) and the siblings, each tagged with a *dot*, the
//! (node, counter) pair that names its write. A read returns the siblings and the vector as
//! the *causal context*; the client's next write sends that context back, and the
//! coordinating replica removes exactly the siblings the context covers and adds the new
//! write with a fresh dot. A write whose context did not cover a sibling did not see it, so
//! the sibling stays. Tagging each sibling with one dot, rather than each with a whole
//! vector as early Dynamo and Riak did, is what keeps concurrent clients writing through one
//! node from making every older sibling look concurrent (*sibling explosion*).
//!
//! **Anti-entropy (Demers et al., [`node`]).** Every `gossip_interval` each replica
//! picks `fanout` random peers (its own random stream) and runs *push-pull*: it sends a
//! digest (each key with its version summary); the peer answers with the states the sender
//! lacks and the keys it lacks itself, and the sender pushes those. Two replicas that
//! exchange are then identical, so an update reaches everyone in about log N rounds
//! (Demers et al.'s analysis; `docs/PERFORMANCE.md` measures it). With `rumor_hops` above
//! 0 a fresh write is also *rumor-mongered*: pushed at once to `fanout` peers, who forward
//! what was news to them while hops remain. With `read_repair` a read also runs a one-key
//! exchange with `fanout` peers (Dynamo's read repair). Membership is static.
//!
//! **Last-writer-wins (`lww`).** Instead of vectors, each write is stamped with the
//! coordinator's clock and the highest stamp wins. With `lww: wall` the stamp is the wall
//! clock, which NTP steps and drift move (`ClockSkew`): a node whose clock is behind makes
//! writes that lose to older writes. With `lww: hlc` the stamp is a hybrid logical clock
//! (Kulkarni et al., 2014; [`sim_core::Hlc`]) that observes every stamp the node receives,
//! including the one in the client's context, so a write always beats what its client had
//! read. Either way concurrent writes lose all but one: that is what LWW means, and what
//! the vector mode keeps as siblings.
//!
//! **Sessions.** With `sessions` on (the default) a client sticks to one replica and sends
//! with each read what its session has seen of the key (its reads' contexts and its own
//! writes' dots); a replica that has not seen that much answers `Behind` and the client
//! asks another. This gives read-your-writes and monotonic reads (Terry et al., 1994),
//! checked from the history by [`lincheck::session`].
//!
//! ## Checks ([`invariants`])
//!
//! - `no-lost-update` (always): no replica discards a write unless a write it keeps covers
//!   it. "Covers" is judged from the writes' *real* causal history, which every stored write
//!   carries as ghost data (what its client had read) and which the protocol never reads,
//!   so a bug in the vectors cannot hide itself. A write counts as acknowledged once its
//!   coordinator stored it (it answers the client at once). In `lww` mode discarding a
//!   concurrent write is allowed; discarding one that causally followed the winner is not.
//! - `convergence` (eventually): within `converge_within` of the faults stopping (the
//!   liveness phase), or of `converge_from` when that is later (clients stop writing then:
//!   nothing converges while they write), every live replica holds the same state of every
//!   key, and still does at the end. The report lists when each key converged.
//! - `read-your-writes`, `monotonic-reads` (history): the session guarantees.
//!
//! ## Bug knobs
//!
//! Each is a field of [`GossipConfig`], off by default; [`KNOBS`] names the check that
//! catches each. `lww: wall` is listed with them: it is a mode a real store offers, and the
//! mistake it teaches is trusting it under clock skew.
//!
//! - `merge_takes_one_side`: the vector merge must be the pairwise maximum (a join), or a
//!   replica forgets writes it has seen, its own among them, and hands out a dot twice;
//!   merges then take two writes for one and drop one (`no-lost-update`).
//! - `lww: wall`: a clock stepped back stamps new writes below what they overwrite; the
//!   write its client made after reading loses at once (`no-lost-update`). `lww: hlc`
//!   under the same skew is clean: the hybrid clock observed what the client read.
//! - `read_repair_keeps_one`: a repair must write back every sibling it merged; keeping
//!   one while the vector claims all deletes the rest everywhere (`no-lost-update`).
//! - `gossip_same_peer`: partners must be drawn afresh each round; a fixed choice makes a
//!   fixed, often disconnected gossip graph, and what each side of a partition wrote
//!   never meets (`convergence`).
//!
//! `protocols/tests/gossip_knobs.rs` finds each within 1,000 seeds and sweeps 1,000 seeds
//! with it off (in release in CI); `scenarios/gossip/` has one file per knob.

pub mod client;
pub mod clock;
pub mod invariants;
pub mod node;
pub mod store;

use crate::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use serde::{Deserialize, Serialize};
use sim_core::{Checker, Duration, Time};

pub use client::{GossipClient, GossipClientConfig};
pub use node::{Node, Store};

/// Last-writer-wins instead of version vectors, and which clock stamps the writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LwwMode {
    /// Dotted version vectors with siblings.
    #[default]
    Off,
    /// The coordinator's wall clock (`ctx.wall_clock()`: ClockSkew steps and drift move it).
    Wall,
    /// A hybrid logical clock on the wall clock.
    Hlc,
}

crate::documented! {
    /// The gossip store's configuration, bug knobs included.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct GossipConfig {
        /// How often each replica starts an anti-entropy exchange.
        pub gossip_interval: Duration,
        /// How many random peers each round (and each rumor, each read repair) goes to.
        pub fanout: u32,
        /// Rumor mongering: a fresh write is pushed at once and forwarded this many hops
        /// (0: off, anti-entropy only).
        pub rumor_hops: u32,
        /// A read also runs a one-key exchange with `fanout` peers.
        pub read_repair: bool,
        /// Session guarantees (read-your-writes, monotonic reads) for clients.
        pub sessions: bool,
        /// `off` (vectors), `wall` or `hlc`.
        pub lww: LwwMode,
        /// Every replica writes key `k1` once when it first starts (the benchmark's load).
        pub write_at_start: bool,
        /// When clients stop writing; `convergence` counts from it or from when the faults
        /// stop, whichever is later.
        pub converge_from: Duration,
        /// How long after `converge_from` every key must have converged.
        pub converge_within: Duration,
        // ----- bug knobs --------------------------------------------------------------
        /// Merging two version vectors takes the other side's counter instead of the max.
        pub merge_takes_one_side: bool,
        /// Read repair keeps one arbitrary sibling and drops the rest.
        pub read_repair_keeps_one: bool,
        /// A replica draws its gossip partners once and keeps them for good.
        pub gossip_same_peer: bool,
    }
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            gossip_interval: Duration::from_millis(100),
            fanout: 1,
            rumor_hops: 0,
            read_repair: true,
            sessions: true,
            lww: LwwMode::Off,
            write_at_start: false,
            converge_from: Duration::ZERO,
            converge_within: Duration::from_secs(2),
            merge_takes_one_side: false,
            read_repair_keeps_one: false,
            gossip_same_peer: false,
        }
    }
}

impl GossipConfig {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.gossip_interval.is_zero() {
            return Err(
                "gossip gossip_interval is 0s: expected a positive duration such as \"100ms\""
                    .into(),
            );
        }
        if self.fanout == 0 || self.fanout > 64 {
            return Err(format!(
                "gossip fanout {} must be between 1 and 64",
                self.fanout
            ));
        }
        if self.rumor_hops > 64 {
            return Err(format!(
                "gossip rumor_hops {} must be at most 64",
                self.rumor_hops
            ));
        }
        if self.read_repair_keeps_one && !self.read_repair {
            return Err(
                "gossip read_repair_keeps_one needs read_repair: true (it is a bug in read repair)"
                    .into(),
            );
        }
        if self.merge_takes_one_side && self.lww != LwwMode::Off {
            return Err(
                "gossip merge_takes_one_side is a version-vector bug: it needs lww: off".into(),
            );
        }
        Ok(())
    }
}

/// The gossip store as a scenario protocol.
pub struct GossipProtocol;

/// The bug knobs.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "merge_takes_one_side",
        mistake: "merging two version vectors takes the incoming side's counter for each node instead of the pairwise maximum, so a replica forgets writes it has seen (its own included) and reuses a dot for a different write; merges then treat two writes as one and drop one of them",
        caught_by: "no-lost-update",
    },
    Knob {
        name: "lww: wall",
        mistake: "last-writer-wins by wall clock: under clock skew a node whose clock is behind stamps its writes lower than older writes it has already seen, so a write made after reading the current value loses to it (why Dynamo kept vector clocks)",
        caught_by: "no-lost-update",
    },
    Knob {
        name: "read_repair_keeps_one",
        mistake: "read repair \"resolves\" siblings by keeping an arbitrary one while its version vector still claims the others, so gossip then deletes them everywhere",
        caught_by: "no-lost-update",
    },
    Knob {
        name: "gossip_same_peer",
        mistake: "a replica picks its gossip partners once instead of afresh every round: the gossip graph is then a fixed sparse graph, often disconnected, and the writes made on either side of a partition never meet",
        caught_by: "convergence",
    },
];

/// The checks.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "no-lost-update",
        kind: CheckKind::Always,
        promise: "no replica discards a write unless a write it keeps covers it by the writes' real causal history (lww: unless the two were concurrent)",
    },
    CheckInfo {
        name: "convergence",
        kind: CheckKind::Eventually,
        promise: "within converge_within after the faults stop (or converge_from, when the clients stop writing, if later) every live replica holds the same state of every key, and still does at the end; reports when each key converged",
    },
    CheckInfo {
        name: "read-your-writes",
        kind: CheckKind::History,
        promise: "a client's read sees every write its session completed before it (multi-value register model)",
    },
    CheckInfo {
        name: "monotonic-reads",
        kind: CheckKind::History,
        promise: "a client's read sees everything its session's earlier reads of the key saw",
    },
];

crate::sometimes! {
    /// What a good test of the gossip store reaches.
    pub enum GossipReach {
        ConflictMerged => "conflict-merged",
            "anti-entropy merged a replica's state with concurrent writes into siblings";
        SiblingsResolved => "siblings-resolved",
            "siblings of a key were resolved to one value by a write or merge that covered them";
        LwwWriteLost => "lww-write-lost",
            "a last-writer-wins write lost at once to a value with a higher stamp";
        ReadBehind => "read-behind-session",
            "a replica refused a session read because it had not seen what the client had (read-your-writes)";
        RepairMerged => "read-repair-merged",
            "a read repair changed a replica's value";
        RestartedWithKeys => "restarted-with-keys",
            "a replica restarted with keys in its durable store";
    }
}

impl Protocol for GossipProtocol {
    const NAME: &'static str = "gossip";
    const SUMMARY: &'static str = "a leaderless gossip store (Dynamo 2007, Demers 1987): dotted version vectors with siblings, push-pull anti-entropy, lww by wall clock or HLC";
    /// The 10,000-node convergence bench (lww: hlc) runs in 23 MB; with vectors, N concurrent
    /// writes are N siblings on every replica (N² in all), measured to 1,000 nodes.
    const MAX_NODES: usize = 10_000;
    type Config = GossipConfig;
    type Node = Node;
    type Client = GossipClient;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        GossipReach::ALL
    }

    fn checker(name: &str, config: &GossipConfig) -> Option<Box<dyn Checker<Node>>> {
        invariants::checker(name, config)
    }

    fn history_model() -> Option<lincheck::ModelKind> {
        // Lines have a register's shape; the semantics are lincheck::session's
        // multi-value register.
        Some(lincheck::ModelKind::Register)
    }

    fn history_check(
        name: &str,
        history: &lincheck::History,
        _config: &GossipConfig,
        _end: Time,
        _max_steps: u64,
    ) -> Result<(), crate::HistoryFailure> {
        // The session checks are one pass over the history: no search, no step budget.
        match name {
            "read-your-writes" => Ok(lincheck::session::read_your_writes(history)?),
            "monotonic-reads" => Ok(lincheck::session::monotonic_reads(history)?),
            other => Err(format!("gossip has no history check {other:?}").into()),
        }
    }

    /// The clients stop writing 2s before the end, and every key converges within 1s.
    fn starting_config(duration: Duration) -> GossipConfig {
        GossipConfig {
            converge_from: duration.saturating_sub(Duration::from_secs(2)),
            converge_within: Duration::from_secs(1),
            ..GossipConfig::default()
        }
    }

    fn client_config(
        workload: &Workload,
        config: &GossipConfig,
    ) -> Result<GossipClientConfig, String> {
        workload.validate()?;
        config.validate()?;
        if workload.clients > 0 && (workload.mix.cas > 0 || workload.mix.append > 0) {
            return Err(format!(
                "gossip clients read and write only: set the workload mix's cas and append to 0 (found cas: {}, append: {})",
                workload.mix.cas, workload.mix.append
            ));
        }
        if workload.clients > 0 && workload.mix.read + workload.mix.write == 0 {
            return Err("gossip workload mix: give read or write a weight".into());
        }
        Ok(GossipClientConfig {
            workload: workload.clone(),
            sessions: config.sessions,
            writes_until: (!config.converge_from.is_zero())
                .then(|| Time::ZERO.plus(config.converge_from)),
            backoff: Duration::from_millis(20),
        })
    }
}
