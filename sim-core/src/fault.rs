//! Faults: what the world does to the cluster, at a time, and the nemesis that draws them.

use crate::id::{Addr, NodeId};
use crate::network::{Latency, LinkUpdate};
use crate::rng::SimRng;
use crate::time::{Duration, Offset, Time};
use serde::{Deserialize, Serialize};

/// One fault, applied at an instant of virtual time.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Cut every link between different groups. Endpoints not named are not affected.
    /// Messages in flight across the new cut are lost.
    Partition(Vec<Vec<Addr>>),
    /// Cut one node off from every other node (clients still reach it unless named).
    Isolate(NodeId),
    /// Messages from `from` to `to` are lost; the other direction still works.
    OneWay { from: Vec<Addr>, to: Vec<Addr> },
    /// `left` and `right` cannot talk to each other, but both reach `middle`.
    Bridge {
        left: Vec<Addr>,
        middle: Vec<Addr>,
        right: Vec<Addr>,
    },
    /// Remove every cut.
    Heal,
    /// The node stops; its volatile state is gone, its durable storage stays.
    Crash(NodeId),
    /// A crashed node starts again from its durable storage.
    Restart(NodeId),
    /// The node freezes (a stop-the-world GC, a suspended VM): messages and timers for it
    /// wait, its clock keeps running.
    Pause(NodeId),
    /// A paused node runs again; what waited is handled now, in arrival order.
    Resume(NodeId),
    /// The node's clock jumps.
    ClockSkew(NodeId, Offset),
    /// The node's clock runs fast (positive) or slow (negative), in parts per million.
    ClockDrift(NodeId, i64),
    /// Change links at run time: one link, all links out of / into an endpoint, or all.
    SetLink {
        from: Option<Addr>,
        to: Option<Addr>,
        update: LinkUpdate,
    },
    /// One synced record of the node's write-ahead log (drawn from its disk's stream)
    /// fails its checksum from now on (see [`crate::storage`]). Nothing if none is synced.
    CorruptRecord(NodeId),
    /// Until `until`, every message sent on the chosen links takes extra latency drawn
    /// from `by` (a latency spike: hundreds of milliseconds outlive election timeouts).
    /// Several slow-downs may be in force at once, each with its own end.
    Slow {
        on: DelayOn,
        by: Latency,
        until: Time,
    },
    /// Until `until`, messages sent on the chosen links are held; when it ends they are
    /// released within [`crate::network::CLOG_RELEASE_SPREAD`], in an order drawn from
    /// the seed, and then take the link's latency (FoundationDB's clogging).
    Clog { on: DelayOn, until: Time },
    /// A fault whose node is chosen when it happens, not when it was drawn (Jepsen's
    /// nemeses that target the primary): `fault` is written for a placeholder node and
    /// applied to the node [`Pick`] names then. The engine records the chosen node under
    /// the pick's slot, so the fault's end (`Pick::Slot`) reaches the same node.
    Targeted { pick: Pick, fault: Box<Fault> },
    /// From now until `until`, each time a node's handler sends at least one message, the
    /// node crashes right after it with probability `p` (drawn from the run's own
    /// `crash-after-send` stream) and restarts `restart.0..=restart.1` later (log-uniform:
    /// short restarts as likely as long ones per factor of ten): a crash at an
    /// interesting moment (FoundationDB's BUGGIFY), between a message and what the sender
    /// would have done next, rather than at a random instant.
    CrashAfterSend {
        p: crate::rng::Probability,
        restart: (Duration, Duration),
        /// Only after sending a message of this kind: kinds are numbered from 0 in the
        /// order the run first sends them (a message's kind is its Debug form's first
        /// word); `None`: after any message.
        kind: Option<u32>,
        /// Only after this node sends (`None`: any node). A node that only answers (a
        /// store, a participant) is crashed right after its answers this way.
        node: Option<NodeId>,
        /// Only while the sender leads ([`crate::Process::leads`]) after its handler: a
        /// leader crashed right after it sent (replicated to some, not all), whoever
        /// leads at the time, so each new leader is a target in turn.
        leader: bool,
        /// The crash comes in the middle of the handler's sends (decided before it runs,
        /// from the run's own `crash-churn` stream): only a drawn number of its messages
        /// to nodes (0 up to one fewer than the nodes) leave, the rest are lost with the
        /// crash (counted as loss: the same as a lossy link then a crash right after).
        /// A leader's entry reaches a minority, a promise is lost with its acceptor.
        partial: bool,
        until: Time,
    },
    /// From now until `until`, each time a node's handler sends a message of kind `kind`
    /// (numbered as for [`Fault::CrashAfterSend`]; `None`: any), with probability `p`
    /// (drawn from the run's own `clog-after-send` stream) every message into or out of
    /// that node is held from then for `lasting.0..=lasting.1` (log-uniform, at most until
    /// `until`), then released reordered, as [`Fault::Clog`] does. A node that just asked
    /// (a vote, a promise, a write) gets the answers late, after its timers fired and it
    /// moved on: what a stale-reply bug needs. A node already held this way is not held
    /// again until that ends.
    ClogAfterSend {
        p: crate::rng::Probability,
        lasting: (Duration, Duration),
        kind: Option<u32>,
        until: Time,
    },
}

/// Which node a [`Fault::Targeted`] reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A node that believes it leads now ([`crate::Process::leads`]), up and not paused
    /// (one drawn among several); if none does, any node that is up and not paused. Its
    /// choice is kept under this slot. No such node: the fault is skipped.
    Leader(u32),
    /// The node kept under this slot by an earlier pick (the end of a targeted fault).
    Slot(u32),
}

impl Pick {
    pub fn slot(self) -> u32 {
        match self {
            Pick::Leader(k) | Pick::Slot(k) => k,
        }
    }
}

/// Whom a nemesis fault of one kind reaches (`target:` in a scenario's nemesis).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// A node drawn when the schedule is drawn (the default).
    #[default]
    Random,
    /// The node that leads when the fault starts (see [`Pick::Leader`]).
    Leader,
}

/// The links a [`Fault::Slow`] or [`Fault::Clog`] applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelayOn {
    /// Every message into or out of this node or client.
    Endpoint(Addr),
    /// Messages from `from` to `to`, one direction.
    Link { from: Addr, to: Addr },
}

impl Fault {
    /// A short tag for the trace and stats.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Partition(_) => "partition",
            Fault::Isolate(_) => "isolate",
            Fault::OneWay { .. } => "one-way",
            Fault::Bridge { .. } => "bridge",
            Fault::Heal => "heal",
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::ClockSkew(..) => "clock-skew",
            Fault::ClockDrift(..) => "clock-drift",
            Fault::SetLink { .. } => "set-link",
            Fault::CorruptRecord(_) => "corrupt-record",
            Fault::Slow { .. } => "slow",
            Fault::Clog { .. } => "clog",
            Fault::Targeted { fault, .. } => fault.kind(),
            Fault::CrashAfterSend { .. } => "crash-after-send",
            Fault::ClogAfterSend { .. } => "clog-after-send",
        }
    }

    /// The same fault on node `n` instead of the node it names (a [`Fault::Targeted`]'s
    /// placeholder); faults that name no single node are returned as they are.
    pub fn with_node(&self, n: NodeId) -> Fault {
        match self {
            Fault::Isolate(_) => Fault::Isolate(n),
            Fault::Crash(_) => Fault::Crash(n),
            Fault::Restart(_) => Fault::Restart(n),
            Fault::Pause(_) => Fault::Pause(n),
            Fault::Resume(_) => Fault::Resume(n),
            Fault::ClockSkew(_, by) => Fault::ClockSkew(n, *by),
            Fault::ClockDrift(_, ppm) => Fault::ClockDrift(n, *ppm),
            Fault::CorruptRecord(_) => Fault::CorruptRecord(n),
            Fault::Slow { by, until, .. } => Fault::Slow {
                on: DelayOn::Endpoint(Addr::Node(n)),
                by: *by,
                until: *until,
            },
            Fault::Clog { until, .. } => Fault::Clog {
                on: DelayOn::Endpoint(Addr::Node(n)),
                until: *until,
            },
            other => other.clone(),
        }
    }
}

/// The kinds of fault a random nemesis may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NemesisFault {
    /// Split the nodes into two random halves (the majority side is random too).
    PartitionHalves,
    /// Cut one random node off.
    Isolate,
    /// Two sides that both reach one random middle node.
    Bridge,
    /// Crash a random node, restart it when the fault ends.
    CrashRestart,
    /// Pause a random node, resume it when the fault ends.
    Pause,
    /// Jump a random node's clock by up to `max_skew`, either way.
    ClockSkew,
    /// Corrupt one synced record of a random node's write-ahead log.
    CorruptRecord,
    /// A random node's messages (in and out) take extra latency (the nemesis's `slow`
    /// shape) while the fault lasts.
    Slow,
    /// A random node's messages (in and out) are held while the fault lasts, then
    /// released reordered.
    Clog,
}

impl NemesisFault {
    /// Every kind, in declaration order (swarm mode draws from these).
    pub const ALL: [NemesisFault; 9] = [
        NemesisFault::PartitionHalves,
        NemesisFault::Isolate,
        NemesisFault::Bridge,
        NemesisFault::CrashRestart,
        NemesisFault::Pause,
        NemesisFault::ClockSkew,
        NemesisFault::CorruptRecord,
        NemesisFault::Slow,
        NemesisFault::Clog,
    ];

    /// Does this kind cut links (and end with a `Heal`)?
    pub fn is_cut(self) -> bool {
        matches!(
            self,
            NemesisFault::PartitionHalves | NemesisFault::Isolate | NemesisFault::Bridge
        )
    }

    /// Can this kind reach the leader ([`Target::Leader`])? Every kind that names one node.
    pub fn targetable(self) -> bool {
        !matches!(self, NemesisFault::PartitionHalves | NemesisFault::Bridge)
    }

    /// Does this kind hold one node for a while (crash, pause, slow, clog)?
    fn holds_node(self) -> bool {
        matches!(
            self,
            NemesisFault::CrashRestart
                | NemesisFault::Pause
                | NemesisFault::Slow
                | NemesisFault::Clog
        )
    }
}

/// The nemesis's options beyond [`Nemesis`]'s bounds; the default is the nemesis as it
/// always was (one fault at a time), so schedules drawn without them are unchanged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NemesisOptions {
    /// How many faults may be in force at once: `concurrency` independent lanes, each
    /// drawing faults as the single nemesis does, each fault with its own end. Lane 0
    /// draws from the nemesis stream exactly as a nemesis of concurrency 1 does; lane
    /// `k` from a stream seeded after lane 0's draws. Two rules keep every fault's end
    /// its own: at most one cut (partition, isolate, bridge: a heal ends all cuts) is in
    /// force at a time, and a node is held by at most one crash, pause, slow-down or clog
    /// at a time (another lane's fault takes the next free node, or, if none or if a cut
    /// is already in force, is skipped).
    pub concurrency: u32,
    /// The extra latency of a `Slow` fault, drawn per message.
    pub slow: Latency,
    /// Whom each kind of fault reaches, indexed like [`NemesisFault::ALL`]: a kind whose
    /// target is [`Target::Leader`] (isolate, crash, pause, clock skew, corrupt record,
    /// slow, clog) is written as a [`Fault::Targeted`]. All `Random` (the default) draws
    /// exactly the schedule it always did.
    pub targets: [Target; 9],
    /// Turns on [`Fault::CrashAfterSend`] with this probability from the nemesis's start
    /// to its stop, restarting after `crash_restart` (`None`, the default: off).
    pub crash_after_send: Option<crate::rng::Probability>,
    pub crash_restart: (Duration, Duration),
    /// Only after a message of this kind (see [`Fault::CrashAfterSend`]).
    pub crash_kind: Option<u32>,
    /// A second [`Fault::CrashAfterSend`], of any message kind, aimed at one node (`None`,
    /// the default: off), restarting after `crash_restart`: a node that only answers
    /// crashes right after its answers.
    pub crash_node: Option<(crate::rng::Probability, NodeId)>,
    /// [`Fault::ClogAfterSend`] from the nemesis's start to its stop: probability, how
    /// long, message kind (`None`, the default: off).
    pub clog_after_send: Option<(crate::rng::Probability, (Duration, Duration), Option<u32>)>,
    /// The leader's clock the slowest (`None`, the default: off): see [`LeaderClock`].
    pub leader_clock: Option<LeaderClock>,
}

/// The worst case for anything that trusts a clock bound (a leader lease, a follower's
/// promise not to vote): whoever leads has the slowest clock and everyone else the
/// fastest. Every `every` from the nemesis's start to its stop (zero: never), and at
/// every fault aimed at the leader, the node the last re-aim chose drifts `fast` ppm
/// again and whoever leads now (the node that fault chose) drifts `slow` ppm (targeted
/// [`Fault::ClockDrift`]s; the periodic ones use slots from [`LeaderClock::SLOTS`] on),
/// and, unless `step` is zero, its wall clock steps back by `step` (a [`Fault::ClockSkew`]: an NTP
/// step, which the monotonic clock does not see). Clocks drift `fast` from the start:
/// set by whoever draws this (swarm mode sets every node's drift).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeaderClock {
    pub slow: i64,
    pub fast: i64,
    pub every: Duration,
    pub step: Duration,
}

impl LeaderClock {
    /// The first slot its targeted faults use (lanes use `lane * 10_000` on).
    pub const SLOTS: u32 = 900_000;
}

impl Default for NemesisOptions {
    fn default() -> Self {
        NemesisOptions {
            concurrency: 1,
            slow: Latency::Uniform {
                min: Duration::from_millis(100),
                max: Duration::from_millis(800),
            },
            targets: [Target::Random; 9],
            crash_after_send: None,
            crash_restart: (Duration::from_millis(1), Duration::from_millis(50)),
            crash_kind: None,
            crash_node: None,
            clog_after_send: None,
            leader_clock: None,
        }
    }
}

impl NemesisOptions {
    /// Whom faults of `kind` reach.
    pub fn target(&self, kind: NemesisFault) -> Target {
        let i = NemesisFault::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind");
        self.targets[i]
    }
}

/// The most lanes a nemesis may run ([`NemesisOptions::concurrency`]).
pub const MAX_CONCURRENCY: u32 = 16;

/// A fault the schedule holds for a while: what it occupies, from `start` to `end`.
struct Busy {
    start: Time,
    end: Time,
    cut: bool,
    node: Option<NodeId>,
}

/// A random nemesis: every `interval_min..=interval_max` it starts one fault of a random
/// kind lasting `duration_min..=duration_max`, from `start` until `stop`, after which the
/// cluster is healed and left alone (the quiet tail where liveness is judged). At most one
/// fault is active at a time, so each one's effect can be read from the trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nemesis {
    pub faults: Vec<NemesisFault>,
    pub start: Duration,
    pub stop: Duration,
    pub interval_min: Duration,
    pub interval_max: Duration,
    pub duration_min: Duration,
    pub duration_max: Duration,
    pub max_skew: Duration,
}

impl Nemesis {
    /// Checks bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.faults.is_empty() {
            return Err("the nemesis has no fault kinds: expected at least one".into());
        }
        if self.interval_min > self.interval_max {
            return Err(format!(
                "nemesis interval_min {} is above interval_max {}",
                self.interval_min, self.interval_max
            ));
        }
        if self.interval_max.is_zero() {
            return Err("nemesis interval_max must be above 0s".into());
        }
        if self.duration_min > self.duration_max {
            return Err(format!(
                "nemesis duration_min {} is above duration_max {}",
                self.duration_min, self.duration_max
            ));
        }
        if self.start > self.stop {
            return Err(format!(
                "nemesis start {} is after its stop {}",
                self.start, self.stop
            ));
        }
        Ok(())
    }

    /// Draws the whole schedule up front from `rng` (the `"nemesis"` stream), so it can be
    /// printed, materialized into a scenario, and shrunk. One fault at a time.
    pub fn schedule(&self, rng: &mut SimRng, nodes: u32) -> Vec<(Time, Fault)> {
        self.schedule_with(&NemesisOptions::default(), rng, nodes)
    }

    /// [`Nemesis::schedule`] with options: several lanes of faults at once (see
    /// [`NemesisOptions`]), in time order (lane order among equal times).
    pub fn schedule_with(
        &self,
        options: &NemesisOptions,
        rng: &mut SimRng,
        nodes: u32,
    ) -> Vec<(Time, Fault)> {
        let mut busy = Vec::new();
        let mut out = self.lane(options, rng, nodes, &mut busy, 0);
        for k in 1..options.concurrency.min(MAX_CONCURRENCY) {
            let mut lane_rng = SimRng::new(rng.next_u64(), &format!("nemesis/lane{k}"));
            out.extend(self.lane(options, &mut lane_rng, nodes, &mut busy, k));
        }
        if let Some(p) = options.crash_after_send {
            let stop = Time::ZERO.plus(self.stop);
            out.push((
                Time::ZERO.plus(self.start).min(stop),
                Fault::CrashAfterSend {
                    p,
                    restart: options.crash_restart,
                    kind: options.crash_kind,
                    node: None,
                    leader: false,
                    partial: false,
                    until: stop,
                },
            ));
        }
        let start = Time::ZERO.plus(self.start).min(Time::ZERO.plus(self.stop));
        if let Some((p, node)) = options.crash_node {
            out.push((
                start,
                Fault::CrashAfterSend {
                    p,
                    restart: options.crash_restart,
                    kind: None,
                    node: Some(node),
                    leader: false,
                    partial: false,
                    until: Time::ZERO.plus(self.stop),
                },
            ));
        }
        if let Some((p, lasting, kind)) = options.clog_after_send {
            out.push((
                start,
                Fault::ClogAfterSend {
                    p,
                    lasting,
                    kind,
                    until: Time::ZERO.plus(self.stop),
                },
            ));
        }
        if let Some(c) = options.leader_clock {
            out.extend(self.leader_clock(&c, &out));
        }
        // Stable: equal times keep lane order, and lane 0 alone is already in order.
        out.sort_by_key(|(t, _)| *t);
        out
    }

    /// One lane of faults, skipping or moving what would overlap `busy`.
    fn lane(
        &self,
        options: &NemesisOptions,
        rng: &mut SimRng,
        nodes: u32,
        busy: &mut Vec<Busy>,
        lane: u32,
    ) -> Vec<(Time, Fault)> {
        let mut out = Vec::new();
        // Slots of targeted faults: unique per lane, in draw order.
        let mut slots = lane * 10_000;
        if nodes == 0 || self.faults.is_empty() {
            return out;
        }
        let draw = |rng: &mut SimRng, lo: Duration, hi: Duration| {
            Duration::from_nanos(rng.between(lo.as_nanos(), hi.as_nanos()))
        };
        let overlaps = |b: &Busy, t: Time, end: Time| {
            b.start < end.max(t.plus(Duration::from_nanos(1))) && t < b.end
        };
        let mut t = Time::ZERO.plus(self.start);
        let stop = Time::ZERO.plus(self.stop);
        loop {
            t = t.plus(draw(rng, self.interval_min, self.interval_max));
            if t >= stop {
                break;
            }
            let kind = *rng.pick(&self.faults).expect("non-empty");
            let len = draw(rng, self.duration_min, self.duration_max);
            let end = t.plus(len).min(stop);
            let mut node = NodeId(rng.below(u64::from(nodes)) as u32);
            let mut all: Vec<NodeId> = (0..nodes).map(NodeId).collect();
            let cut = kind.is_cut() && (nodes >= 2 || kind == NemesisFault::Isolate);
            if cut && busy.iter().any(|b| b.cut && overlaps(b, t, end)) {
                t = end;
                continue;
            }
            let targeted = options.target(kind) == Target::Leader && kind.targetable();
            if kind.holds_node() && !targeted {
                let free = (0..nodes).map(|k| NodeId((node.0 + k) % nodes)).find(|n| {
                    !busy
                        .iter()
                        .any(|b| b.node == Some(*n) && overlaps(b, t, end))
                });
                match free {
                    Some(n) => node = n,
                    None => {
                        t = end;
                        continue;
                    }
                }
                busy.push(Busy {
                    start: t,
                    end,
                    cut: false,
                    node: Some(node),
                });
            }
            if cut {
                busy.push(Busy {
                    start: t,
                    end,
                    cut: true,
                    node: None,
                });
            }
            let from = out.len();
            match kind {
                NemesisFault::PartitionHalves | NemesisFault::Bridge if nodes >= 2 => {
                    rng.shuffle(&mut all);
                    let addrs =
                        |ns: &[NodeId]| ns.iter().copied().map(Addr::Node).collect::<Vec<_>>();
                    if kind == NemesisFault::Bridge && nodes >= 3 {
                        let middle = all[0];
                        let rest = &all[1..];
                        let half = rest.len() / 2;
                        out.push((
                            t,
                            Fault::Bridge {
                                left: addrs(&rest[..half]),
                                middle: vec![Addr::Node(middle)],
                                right: addrs(&rest[half..]),
                            },
                        ));
                    } else {
                        let half = (nodes as usize).div_ceil(2);
                        let mut a = all[..half].to_vec();
                        let mut b = all[half..].to_vec();
                        a.sort();
                        b.sort();
                        out.push((t, Fault::Partition(vec![addrs(&a), addrs(&b)])));
                    }
                    out.push((end, Fault::Heal));
                }
                NemesisFault::Isolate => {
                    out.push((t, Fault::Isolate(node)));
                    out.push((end, Fault::Heal));
                }
                NemesisFault::CrashRestart => {
                    out.push((t, Fault::Crash(node)));
                    out.push((end, Fault::Restart(node)));
                }
                NemesisFault::Pause => {
                    out.push((t, Fault::Pause(node)));
                    out.push((end, Fault::Resume(node)));
                }
                NemesisFault::ClockSkew => {
                    let mag = rng
                        .between(0, self.max_skew.as_nanos())
                        .min(i64::MAX as u64) as i64;
                    let by = if rng.below(2) == 0 { mag } else { -mag };
                    out.push((t, Fault::ClockSkew(node, Offset::from_nanos(by))));
                }
                NemesisFault::CorruptRecord => {
                    out.push((t, Fault::CorruptRecord(node)));
                }
                NemesisFault::Slow => {
                    out.push((
                        t,
                        Fault::Slow {
                            on: DelayOn::Endpoint(Addr::Node(node)),
                            by: options.slow,
                            until: end,
                        },
                    ));
                }
                NemesisFault::Clog => {
                    out.push((
                        t,
                        Fault::Clog {
                            on: DelayOn::Endpoint(Addr::Node(node)),
                            until: end,
                        },
                    ));
                }
                _ => {}
            }
            if targeted {
                // The faults just drawn for `node` reach whoever leads when they start;
                // their end reaches the same node.
                slots += 1;
                let mut first = true;
                for (_, f) in out.iter_mut().skip(from) {
                    if matches!(f, Fault::Heal) {
                        continue;
                    }
                    let pick = if first {
                        Pick::Leader(slots)
                    } else {
                        Pick::Slot(slots)
                    };
                    first = false;
                    *f = Fault::Targeted {
                        pick,
                        fault: Box::new(f.clone()),
                    };
                }
            }
            t = end;
        }
        out
    }
}

impl Nemesis {
    /// The re-aims of a [`LeaderClock`] (see there): every `every` from the start to the
    /// stop, and at each fault of `faults` aimed at the leader, right after it picks its
    /// node, so a leader cut off, paused or crashed by the nemesis has the slow clock.
    fn leader_clock(&self, c: &LeaderClock, faults: &[(Time, Fault)]) -> Vec<(Time, Fault)> {
        // (when, the slot to make slow, whether this re-aim picks the leader itself).
        let mut aims: Vec<(Time, u32, bool)> = faults
            .iter()
            .filter_map(|(t, f)| match f {
                Fault::Targeted {
                    pick: Pick::Leader(k),
                    ..
                } => Some((*t, *k, false)),
                _ => None,
            })
            .collect();
        let stop = Time::ZERO.plus(self.stop);
        if !c.every.is_zero() {
            let mut t = Time::ZERO.plus(self.start).plus(c.every);
            let mut slot = LeaderClock::SLOTS;
            while t < stop {
                aims.push((t, slot, true));
                slot += 1;
                t = t.plus(c.every);
            }
        }
        aims.sort_by_key(|(t, _, _)| *t);
        let targeted = |pick, fault| Fault::Targeted {
            pick,
            fault: Box::new(fault),
        };
        let mut out = Vec::new();
        let mut prev = None;
        for (t, slot, own) in aims {
            if let Some(p) = prev {
                out.push((
                    t,
                    targeted(Pick::Slot(p), Fault::ClockDrift(NodeId(0), c.fast)),
                ));
            }
            let pick = if own {
                Pick::Leader(slot)
            } else {
                Pick::Slot(slot)
            };
            out.push((t, targeted(pick, Fault::ClockDrift(NodeId(0), c.slow))));
            if !c.step.is_zero() {
                let back = -(c.step.as_nanos().min(i64::MAX as u64) as i64);
                out.push((
                    t,
                    targeted(
                        Pick::Slot(slot),
                        Fault::ClockSkew(NodeId(0), Offset::from_nanos(back)),
                    ),
                ));
            }
            prev = Some(slot);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nemesis() -> Nemesis {
        Nemesis {
            faults: vec![
                NemesisFault::PartitionHalves,
                NemesisFault::CrashRestart,
                NemesisFault::Pause,
                NemesisFault::Bridge,
                NemesisFault::Isolate,
                NemesisFault::ClockSkew,
                NemesisFault::CorruptRecord,
            ],
            start: Duration::from_secs(1),
            stop: Duration::from_secs(20),
            interval_min: Duration::from_secs(1),
            interval_max: Duration::from_secs(3),
            duration_min: Duration::from_millis(500),
            duration_max: Duration::from_secs(2),
            max_skew: Duration::from_millis(300),
        }
    }

    #[test]
    fn schedule_is_seeded_bounded_and_paired() {
        let n = nemesis();
        n.validate().unwrap();
        let a = n.schedule(&mut SimRng::new(5, "nemesis"), 5);
        let b = n.schedule(&mut SimRng::new(5, "nemesis"), 5);
        let c = n.schedule(&mut SimRng::new(6, "nemesis"), 5);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(!a.is_empty());
        let stop = Time::ZERO.plus(n.stop);
        let mut crashed = 0i32;
        for (t, f) in &a {
            assert!(*t <= stop && *t > Time::ZERO.plus(n.start));
            match f {
                Fault::Crash(_) => crashed += 1,
                Fault::Restart(_) => crashed -= 1,
                _ => {}
            }
            assert!((0..=1).contains(&crashed), "one fault at a time");
        }
        assert_eq!(crashed, 0, "every crash is followed by its restart");
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    }

    /// Does the schedule ever crash a node while a cut is in force, or restart one while
    /// another is isolated?
    fn overlaps(schedule: &[(Time, Fault)]) -> (bool, bool) {
        let (mut cut, mut isolated, mut crash_in_cut, mut restart_in_isolate) =
            (false, false, false, false);
        for (_, f) in schedule {
            match f {
                Fault::Partition(_) | Fault::Bridge { .. } => cut = true,
                Fault::Isolate(_) => (cut, isolated) = (true, true),
                Fault::Heal => (cut, isolated) = (false, false),
                Fault::Crash(_) => crash_in_cut |= cut,
                Fault::Restart(_) => restart_in_isolate |= isolated,
                _ => {}
            }
        }
        (crash_in_cut, restart_in_isolate)
    }

    #[test]
    fn concurrency_overlaps_faults_each_with_its_own_end() {
        let n = nemesis();
        let one = NemesisOptions::default();
        let two = NemesisOptions {
            concurrency: 2,
            ..one
        };
        let (mut with, mut without) = ((false, false), (false, false));
        for seed in 0..50 {
            let a = n.schedule_with(&one, &mut SimRng::new(seed, "nemesis"), 5);
            assert_eq!(
                a,
                n.schedule(&mut SimRng::new(seed, "nemesis"), 5),
                "concurrency 1 is the nemesis as it was"
            );
            let o = overlaps(&a);
            (without.0, without.1) = (without.0 | o.0, without.1 | o.1);
            let b = n.schedule_with(&two, &mut SimRng::new(seed, "nemesis"), 5);
            assert!(b.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
            let o = overlaps(&b);
            (with.0, with.1) = (with.0 | o.0, with.1 | o.1);
            // Each fault keeps its own end: never two cuts at once, a node is held by one
            // fault at a time, so every crash is followed by its own restart.
            let mut cuts = 0i32;
            let mut held = [0i32; 5];
            for (_, f) in &b {
                match f {
                    Fault::Partition(_) | Fault::Bridge { .. } | Fault::Isolate(_) => cuts += 1,
                    Fault::Heal => cuts -= 1,
                    Fault::Crash(m) | Fault::Pause(m) => held[m.index()] += 1,
                    Fault::Restart(m) | Fault::Resume(m) => held[m.index()] -= 1,
                    _ => {}
                }
                assert!((0..=1).contains(&cuts), "seed {seed}: two cuts at once");
                assert!(held.iter().all(|h| (0..=1).contains(h)), "seed {seed}");
            }
        }
        assert_eq!(without, (false, false), "one at a time never overlaps");
        assert_eq!(with, (true, true), "concurrency 2 crashes during cuts");
    }

    #[test]
    fn the_leader_clock_follows_every_fault_aimed_at_the_leader() {
        let n = Nemesis {
            faults: vec![NemesisFault::Isolate],
            start: Duration::from_millis(100),
            stop: Duration::from_secs(5),
            interval_min: Duration::from_millis(100),
            interval_max: Duration::from_millis(400),
            duration_min: Duration::from_millis(50),
            duration_max: Duration::from_millis(300),
            max_skew: Duration::ZERO,
        };
        let plain = NemesisOptions {
            targets: [Target::Leader; 9],
            ..NemesisOptions::default()
        };
        let clock = LeaderClock {
            slow: -400_000,
            fast: 400_000,
            every: Duration::from_secs(1),
            step: Duration::from_millis(300),
        };
        let with = NemesisOptions {
            leader_clock: Some(clock),
            ..plain
        };
        let rng = || SimRng::new(7, "nemesis");
        let a = n.schedule_with(&plain, &mut rng(), 5);
        let b = n.schedule_with(&with, &mut rng(), 5);
        // The schedule without it is unchanged: the re-aims only add faults.
        let added: Vec<&(Time, Fault)> = b.iter().filter(|x| !a.contains(x)).collect();
        assert_eq!(a.len() + added.len(), b.len());
        let isolates: Vec<(Time, u32)> = a
            .iter()
            .filter_map(|(t, f)| match f {
                Fault::Targeted {
                    pick: Pick::Leader(k),
                    ..
                } => Some((*t, *k)),
                _ => None,
            })
            .collect();
        assert!(isolates.len() > 3, "{a:?}");
        let drift = |pick: Pick, ppm: i64| Fault::Targeted {
            pick,
            fault: Box::new(Fault::ClockDrift(NodeId(0), ppm)),
        };
        let step = |k: u32| Fault::Targeted {
            pick: Pick::Slot(k),
            fault: Box::new(Fault::ClockSkew(
                NodeId(0),
                Offset::from_nanos(-300_000_000),
            )),
        };
        // Each isolate of the leader makes the node it picked the slow one, right after
        // it (same instant, later in the list), and steps its wall clock back.
        for (t, k) in &isolates {
            let at = b
                .iter()
                .position(|(u, f)| {
                    u == t && matches!(f, Fault::Targeted { pick: Pick::Leader(j), .. } if j == k)
                })
                .expect("the isolate");
            let rest = &b[at..];
            assert!(
                rest.contains(&(*t, drift(Pick::Slot(*k), -400_000))),
                "{rest:?}"
            );
            assert!(rest.contains(&(*t, step(*k))));
        }
        // Once a second, whoever leads is picked afresh; every re-aim after the first
        // makes the previous slow node fast again.
        let own: Vec<&(Time, Fault)> = added
            .iter()
            .copied()
            .filter(|(_, f)| {
                matches!(
                    f,
                    Fault::Targeted {
                        pick: Pick::Leader(_),
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(own.len(), 4, "1.1s, 2.1s, 3.1s, 4.1s: {own:?}");
        assert_eq!(own[0].0, Time::ZERO.plus(Duration::from_millis(1_100)));
        let fast = added
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Targeted { fault, .. } if **fault == Fault::ClockDrift(NodeId(0), 400_000)))
            .count();
        assert_eq!(fast, isolates.len() + own.len() - 1);
        assert!(b.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
        // Without `every` and `step`: only the re-aims at the isolates, no steps.
        let still = NemesisOptions {
            leader_clock: Some(LeaderClock {
                every: Duration::ZERO,
                step: Duration::ZERO,
                ..clock
            }),
            ..plain
        };
        let c = n.schedule_with(&still, &mut rng(), 5);
        assert_eq!(c.len(), a.len() + 2 * isolates.len() - 1);
        assert!(!c.iter().any(|(_, f)| f.kind() == "clock-skew"));
    }

    #[test]
    fn validation_names_the_problem() {
        let mut n = nemesis();
        n.interval_min = Duration::from_secs(9);
        assert!(
            n.validate()
                .unwrap_err()
                .contains("interval_min 9s is above interval_max 3s")
        );
        let mut n = nemesis();
        n.faults.clear();
        assert!(n.validate().is_err());
    }
}
