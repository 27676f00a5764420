//! # Leader election, split-brain, and what keeps it harmless
//!
//! Many systems want exactly one node in charge: one node that writes to the disk array,
//! holds the lock, orders the log. Electing it is easy when the network is kind. The hard
//! part is the moment the network splits or the leader freezes, because then a node cannot
//! tell "the leader is dead" from "the leader is slow" or "I cannot reach the leader". If
//! two nodes each decide they are in charge, that is **split-brain**; what matters is
//! whether the damage they can do together is prevented. This module has two election
//! protocols and one shared resource so that a class can watch both the problem and the
//! cure, deterministically, from one seed.
//!
//! ## The bully algorithm (Garcia-Molina 1982)
//!
//! H. Garcia-Molina, "Elections in a Distributed Computing System", IEEE Transactions on
//! Computers C-31(1), 1982. Every node has a fixed priority (its id). A node that stops
//! hearing from the coordinator *holds an election*: it sends `Election` to every node with
//! a higher id. Anyone higher who is alive answers (`Answer`) and holds its own election;
//! if nobody higher answers within a timeout, the node declares itself coordinator and
//! tells everyone (`Coordinator`). The highest live id always wins, which is why it is
//! called the bully. The paper assumes a reliable network where a silent node is a crashed
//! node. Under a partition that assumption fails: each side hears nothing from the other,
//! so each side elects its own highest node. Nothing in the algorithm stops it. See
//! [`bully`].
//!
//! ## Leases (Gray & Cheriton 1989)
//!
//! C. Gray and D. Cheriton, "Leases: An Efficient Fault-Tolerant Mechanism for Distributed
//! File Cache Consistency", SOSP 1989. A lease is a promise with an expiry: "for the next
//! `lease_ms` I will not let anyone else lead". A candidate asks every node for a lease and
//! leads only once a **majority** granted it; two majorities always share a node, and that
//! node grants to one holder at a time, so two nodes cannot both hold valid leases — *if*
//! clocks measure durations honestly. The leader renews before expiry and stops acting
//! when its lease runs out, measured on its own clock from when it *asked*, shortened by
//! the drift the system assumes clocks may have. The two classic ways this goes wrong are
//! exactly what the lease demos show: a clock that jumps (the leader reads a wall clock
//! that an NTP step set back, so its lease seems to last longer), and a long pause (a
//! stop-the-world GC freezes the leader between checking its lease and using it; when it
//! wakes up it acts on a belief that expired seconds ago). See [`lease`].
//!
//! ## Generation clocks and fencing tokens
//!
//! Every election in both protocols produces a **generation** (a term, an epoch): a number
//! larger than any the winner has seen. Every write the leader sends to the shared resource
//! carries it. A resource that remembers the highest generation it has accepted and refuses
//! anything older is *fenced*: even when an old leader still believes in itself, its writes
//! bounce. M. Kleppmann, "How to do distributed locking" (2016) and *Designing
//! Data-Intensive Applications* ch. 8 ("The leader and the lock", "Fencing tokens") make the
//! argument: no lease or timeout can rule out a paused process, so safety must come from the
//! resource checking tokens. See [`resource`].
//!
//! ## Checks
//!
//! [`invariants`] has three, all "always" properties judged after every event:
//! - `split-brain`: at most one live, running node believes it is leader at any instant.
//!   The simulator can see this; no real node can.
//! - `one-leader-per-gen`: no generation ever has two leaders (the quorum guarantee).
//! - `fencing`: the resource never accepts a write from an older generation after one from
//!   a newer generation (a lost update).
//!
//! Bully violates `split-brain` under any partition. Leases hold it under partitions,
//! crashes and clock steps, but not under a long pause; fencing keeps the resource safe in
//! every case.

pub mod bully;
pub mod invariants;
pub mod lease;
pub mod resource;

pub use invariants::{ElectionNode, EventuallyOneLeader, Fencing, OneLeaderPerGen, SplitBrain};
pub use resource::{Gen, StoreLog};

use sim_core::Time;

/// An instant as the election reports print it: seconds with three decimals (`2.350s`).
pub fn secs(t: Time) -> String {
    let ms = t.as_nanos() / 1_000_000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

use crate::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use sim_core::Checker;

const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "split-brain",
        kind: CheckKind::Always,
        promise: "at most one running node believes it is leader at any instant",
    },
    CheckInfo {
        name: "one-leader-per-gen",
        kind: CheckKind::Always,
        promise: "no generation ever has two leaders",
    },
    CheckInfo {
        name: "fencing",
        kind: CheckKind::Always,
        promise: "the store never accepts a write from an older generation after one from a newer generation",
    },
    CheckInfo {
        name: "eventually-one-leader",
        kind: CheckKind::Eventually,
        promise: "within liveness_bound after the faults stop (or liveness_from), exactly one running node acts as leader, and still does at the end",
    },
];

/// The lease's checks: the election checks and the lease's own safety property.
const LEASE_CHECKS: &[CheckInfo] = &[
    CHECKS[0],
    CHECKS[1],
    CHECKS[2],
    CHECKS[3],
    CheckInfo {
        name: "exclusive-lease",
        kind: CheckKind::Always,
        promise: "whenever a leader acts on its lease (begins a write), no majority of the acceptors grants the lease to another node (what a lease measured on a monotonic clock promises; a pause alone does not break it, a stepped clock read as the lease does)",
    },
];

/// Swarm mode's write intervals (bully: all; lease: up to 1s), in ms.
const WRITE_INTERVALS_MS: &[u64] = &[20, 50, 100, 200, 500, 1_000, 2_000, 5_000];
/// Swarm mode's `write_work` (between deciding to write and the write leaving), in ms.
const WRITE_WORK_MS: &[u64] = &[1, 10, 50, 100, 200];

const FENCE_IN_MEMORY_KNOB: Knob = Knob {
    name: "fence_in_memory",
    mistake: "the store keeps its fence (the highest generation it accepted) in memory only: a crash of the store forgets it, and a deposed leader's write is accepted after a newer leader's",
    caught_by: "fencing",
};

const FENCING_KNOB: Knob = Knob {
    name: "fencing",
    mistake: "set to false: the store accepts any write, whatever its generation, so a deposed leader's write overwrites the new leader's (a lost update)",
    caught_by: "fencing",
};

fn election_checker<P: ElectionNode + 'static>(
    name: &str,
    liveness: (Option<sim_core::Duration>, sim_core::Duration),
) -> Option<Box<dyn Checker<P>>> {
    match name {
        "eventually-one-leader" => Some(Box::new(EventuallyOneLeader::new(liveness.0, liveness.1))),
        "split-brain" => Some(Box::new(SplitBrain::new())),
        "one-leader-per-gen" => Some(Box::new(OneLeaderPerGen::new())),
        "fencing" => Some(Box::new(Fencing::new())),
        _ => None,
    }
}

fn no_clients(name: &str, workload: &Workload) -> Result<(), String> {
    if workload.clients > 0 {
        return Err(format!(
            "{name} has no clients (the leaders write to the store themselves): remove the workload or set clients: 0"
        ));
    }
    Ok(())
}

crate::sometimes! {
    /// What a good bully test reaches.
    pub enum BullyReach {
        LeaderDeposed => "leader-deposed",
            "a coordinator stepped down: it heard from a higher node, or the store fenced it out";
        CoordinatorLost => "coordinator-lost",
            "a follower heard nothing from its coordinator in time and held an election";
        Bullied => "bullied",
            "a higher node answered a lower node's election or claim and took over from it";
        StaleWriteFenced => "stale-write-fenced",
            "the store refused a deposed coordinator's write: its generation was below the fence";
        StaleWriteAccepted => "stale-write-accepted",
            "the store accepted a write of an older generation over a newer one's (a lost update; only without fencing)";
    }
}

crate::sometimes! {
    /// What a good lease test reaches.
    pub enum LeaseReach {
        LeaderDeposed => "leader-deposed",
            "a leader stepped down: its lease expired, or the store fenced it out";
        LeaseExpired => "lease-expired",
            "a leader's lease ran out before a majority renewed it";
        GrantRefused => "grant-refused",
            "a candidate gave up a round because too many nodes refused it (they had granted another)";
        StaleWriteFenced => "stale-write-fenced",
            "the store refused a deposed leader's write: its generation was below the fence";
        StaleWriteAccepted => "stale-write-accepted",
            "the store accepted a write of an older generation over a newer one's (a lost update; only without fencing)";
        LeaderMovedUp => "leader-moved-up",
            "a leader refused for a higher generation renewed on a new one and a majority granted it";
        GrantReleased => "grant-released",
            "an acceptor dropped the grant it gave a candidate that gave up";
    }
}

/// The bully algorithm as a scenario protocol.
pub struct BullyProtocol;

/// The candidates and, if `store`, the store (the last node): two kinds of node.
fn with_store(store: bool, nodes: usize) -> Vec<Vec<u32>> {
    let n = nodes as u32;
    if store && n > 1 {
        vec![(0..n - 1).collect(), vec![n - 1]]
    } else {
        vec![(0..n).collect()]
    }
}

impl Protocol for BullyProtocol {
    const NAME: &'static str = "bully";
    const SUMMARY: &'static str =
        "bully leader election (Garcia-Molina 1982): two leaders under a partition";
    /// Every node that starts holds an election with every higher node, and each of those
    /// holds its own: the cost grows faster than N cubed (2s of 200 nodes take 3.4s, of
    /// 400 nodes 50s; docs/PERFORMANCE.md), so a teaching-sized cluster.
    const MAX_NODES: usize = 200;
    type Config = bully::BullyConfig;
    type Node = bully::BullyNode;
    type Client = sim_core::NoClients;

    /// Candidates, and the store (the last node) when there is one.
    fn swarm_node_kinds(config: &Self::Config, nodes: usize) -> Vec<Vec<u32>> {
        with_store(config.store, nodes)
    }

    fn knobs() -> &'static [Knob] {
        &[
            FENCING_KNOB,
            FENCE_IN_MEMORY_KNOB,
            Knob {
                name: "never_yield",
                mistake: "a coordinator never yields to a higher node's Coordinator or heartbeat: after a partition heals, both sides' coordinators stay in charge",
                caught_by: "eventually-one-leader",
            },
            Knob {
                name: "gen_without_node_id",
                mistake: "generations are bare counters with no node id as a tiebreak, so a coordinator that restarts while another took over (or each side of a partition) takes the same generation as another leader, and the store accepts both leaders' writes",
                caught_by: "one-leader-per-gen",
            },
        ]
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        BullyReach::ALL
    }

    fn checker(name: &str, config: &Self::Config) -> Option<Box<dyn Checker<Self::Node>>> {
        election_checker(name, (config.liveness_from, config.liveness_bound))
    }

    /// Swarm mode: bully's timing within what it promises to converge in (one coordinator
    /// within `liveness_bound`, 3s by default, after the faults stop): heartbeats of
    /// 20-150ms, a leader timeout of 4-6 heartbeats (three lost in a row under 10% loss
    /// must not depose it), answer and coordinator waits of
    /// 50-150ms and 150-400ms; and the coordinator's writes, every 20ms to 5s (a busy
    /// coordinator and one that rarely writes, so the store's fence is not what makes two
    /// coordinators give way), each 1-200ms in the making.
    fn swarm_config(
        config: &Self::Config,
        rng: &mut sim_core::SimRng,
    ) -> (Self::Config, Vec<(&'static str, String)>) {
        let ms = sim_core::Duration::from_millis;
        let mut c = config.clone();
        let heartbeat = rng.between(20, 150);
        c.heartbeat = ms(heartbeat);
        c.leader_timeout = ms(heartbeat * rng.between(4, 6));
        c.answer_timeout = ms(rng.between(50, 150));
        c.coordinator_timeout = ms(rng.between(150, 400));
        c.write_interval = ms(*rng.pick(WRITE_INTERVALS_MS).expect("non-empty"));
        c.write_work = ms(*rng.pick(WRITE_WORK_MS).expect("non-empty"));
        let drawn = vec![
            ("heartbeat", c.heartbeat.to_string()),
            ("leader_timeout", c.leader_timeout.to_string()),
            ("answer_timeout", c.answer_timeout.to_string()),
            ("coordinator_timeout", c.coordinator_timeout.to_string()),
            ("write_interval", c.write_interval.to_string()),
            ("write_work", c.write_work.to_string()),
        ];
        (c, drawn)
    }

    fn client_config(workload: &Workload, _: &Self::Config) -> Result<(), String> {
        no_clients(Self::NAME, workload)
    }
}

/// Lease-based election with generations and a fenced store, as a scenario protocol.
pub struct LeaseProtocol;

impl Protocol for LeaseProtocol {
    const NAME: &'static str = "lease";
    const SUMMARY: &'static str =
        "majority leases with generation numbers and a fenced store (Gray & Cheriton 1989)";
    /// Each round asks every candidate, a message per candidate and one back: cheap (2s of
    /// 1,000 nodes take 0.05s), but a lease among more is not what this teaches.
    const MAX_NODES: usize = 1_000;
    type Config = lease::LeaseConfig;
    type Node = lease::LeaseNode;
    type Client = sim_core::NoClients;

    fn knobs() -> &'static [Knob] {
        &[
            FENCING_KNOB,
            FENCE_IN_MEMORY_KNOB,
            Knob {
                name: "lease_on_wall_clock",
                mistake: "the leader compares the wall clock with a lease deadline instead of measuring a duration on a monotonic clock, so a clock stepped back stretches its lease",
                caught_by: "exclusive-lease",
            },
            Knob {
                name: "half_is_quorum",
                mistake: "half the candidates count as a quorum, so both halves of a split elect a leader, with the same generation",
                caught_by: "one-leader-per-gen",
            },
            Knob {
                name: "renew_on_old_generation",
                mistake: "the leader keeps renewing on the generation it was elected with, so acceptors that promised a higher one to a failed candidate refuse it for good and campaign on: a leader on a bare majority loses its lease to one lost message a round",
                caught_by: "eventually-one-leader",
            },
        ]
    }

    fn checks() -> &'static [CheckInfo] {
        LEASE_CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        LeaseReach::ALL
    }

    fn checker(name: &str, config: &Self::Config) -> Option<Box<dyn Checker<Self::Node>>> {
        if name == "exclusive-lease" {
            return Some(Box::new(lease::ExclusiveLease::new(config)));
        }
        election_checker(name, (config.liveness_from, config.liveness_bound))
    }

    /// Swarm mode: the lease's timing within what it promises (one leader again within
    /// `liveness_bound`, 3s by default: about three rounds of `lease +
    /// election_timeout_max`, so neither is drawn above its default): a lease of
    /// 600ms-1s renewed every fourth to third of it (a renewal round must outlast a
    /// round trip), election timeouts from 50-200ms above the renewal interval (a
    /// follower hears a renewal before it gives up on the leader) up to 50-300ms more
    /// (at most 600ms), and the leader's writes every 20ms to 1s, each 1-200ms in the
    /// making (a write decided on a valid lease may leave after it ran out: what the
    /// store's fence is for). `max_drift_ppm` stays the file's.
    fn swarm_config(
        config: &Self::Config,
        rng: &mut sim_core::SimRng,
    ) -> (Self::Config, Vec<(&'static str, String)>) {
        let ms = sim_core::Duration::from_millis;
        let mut c = config.clone();
        let lease = rng.between(600, 1_000);
        c.lease = ms(lease);
        let renew = rng.between(lease / 4, lease / 3);
        c.renew_interval = ms(renew);
        let min = rng.between(renew + 50, renew + 200);
        c.election_timeout_min = ms(min);
        c.election_timeout_max = ms((min + rng.between(50, 300)).min(600).max(min));
        let writes = &WRITE_INTERVALS_MS[..WRITE_INTERVALS_MS.len() - 2];
        c.write_interval = ms(*rng.pick(writes).expect("non-empty"));
        c.write_work = ms(*rng.pick(WRITE_WORK_MS).expect("non-empty"));
        let drawn = vec![
            ("lease", c.lease.to_string()),
            ("renew_interval", c.renew_interval.to_string()),
            ("election_timeout_min", c.election_timeout_min.to_string()),
            ("election_timeout_max", c.election_timeout_max.to_string()),
            ("write_interval", c.write_interval.to_string()),
            ("write_work", c.write_work.to_string()),
        ];
        (c, drawn)
    }

    /// Candidates, and the store (the last node) when there is one.
    fn swarm_node_kinds(config: &Self::Config, nodes: usize) -> Vec<Vec<u32>> {
        with_store(config.store, nodes)
    }

    /// The drift the leader's lease arithmetic assumes (`max_drift_ppm`): swarm never
    /// draws a clock that drifts beyond what the config promises to survive.
    fn swarm_max_drift_ppm(config: &Self::Config) -> i64 {
        i64::from(config.max_drift_ppm)
    }

    fn client_config(workload: &Workload, _: &Self::Config) -> Result<(), String> {
        no_clients(Self::NAME, workload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_prints_three_decimals() {
        assert_eq!(secs(Time::from_nanos(2_350_000_000)), "2.350s");
        assert_eq!(secs(Time::from_nanos(999_999)), "0.000s");
        assert_eq!(secs(Time::from_nanos(12_004_000_000)), "12.004s");
    }
}
