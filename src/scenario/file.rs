//! The shape of a scenario file, as serde reads it. Every struct rejects unknown fields,
//! so a misspelt field is an error, never a silently ignored line.

use super::span::Spanned;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sim_core::{Duration, Latency, Nemesis, NemesisFault, Offset, Probability, TraceLevel};
use std::fmt;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub(super) struct File {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub protocol: Spanned<ProtocolSpec>,
    pub cluster: Spanned<ClusterSpec>,
    #[serde(default)]
    pub network: Option<Spanned<NetworkSpec>>,
    #[serde(default)]
    pub storage: Option<Spanned<StorageSpec>>,
    #[serde(default)]
    pub workload: Option<Spanned<protocols::Workload>>,
    #[serde(default)]
    pub faults: Vec<Spanned<At>>,
    #[serde(default)]
    pub nemesis: Option<Spanned<NemesisSpec>>,
    #[serde(default)]
    pub checks: Vec<Spanned<String>>,
    pub seed: u64,
    pub duration: Spanned<Duration>,
    #[serde(default)]
    pub max_events: Option<u64>,
    /// The step budget of each history check (per key); the protocol's default if absent.
    #[serde(default)]
    pub check_steps: Option<Spanned<u64>>,
    /// The runaway bound; the default for the cluster if absent (`sim_core::RunawayBound`).
    #[serde(default)]
    pub runaway: Option<Spanned<RunawaySpec>>,
    #[serde(default)]
    pub trace: Option<TraceSetting>,
    pub expect: Spanned<Expect>,
    /// Sometimes-properties the run must reach (`reach: ["lease-read-served"]`); a run
    /// that misses one is `unreached`, never a pass.
    #[serde(default)]
    pub reach: Vec<Spanned<String>>,
}

/// `runaway: (events_per_second: 5000000, max_pending: 2000000)`: either field may be left
/// out for its default (`sim_core::RunawayBound::default_for` the cluster and clients).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "runaway")]
pub struct RunawaySpec {
    #[serde(default)]
    pub events_per_second: Option<Spanned<u64>>,
    #[serde(default)]
    pub max_pending: Option<Spanned<u64>>,
}

/// `At("2s", Crash("n3"))`: a fault at a time.
#[derive(Deserialize)]
#[serde(rename = "At")]
pub(super) struct At(pub Spanned<Duration>, pub FaultSpec);

/// `protocol: (name: "raft", config: (...))`
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "protocol")]
pub(super) struct ProtocolSpec {
    pub name: Spanned<String>,
    /// Parsed later, into the protocol's own config type.
    #[serde(default)]
    pub config: Option<Spanned<IgnoredAny>>,
}

/// `cluster: (nodes: 5)` or `cluster: (nodes: ["a", "b", "c"])`
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "cluster")]
pub(super) struct ClusterSpec {
    pub nodes: Spanned<NodesSpec>,
}

pub(super) enum NodesSpec {
    Count(u64),
    Names(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for NodesSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodesSpec, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NodesSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a node count like 5 or a list of names like [\"a\", \"b\"]")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodesSpec, E> {
                Ok(NodesSpec::Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodesSpec, E> {
                u64::try_from(v).map(NodesSpec::Count).map_err(|_| {
                    E::custom(format!("a cluster of {v} nodes: expected a positive count"))
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<NodesSpec, A::Error> {
                name_list(seq, "an empty list of nodes: expected at least one name")
                    .map(NodesSpec::Names)
            }
        }
        d.deserialize_any(V)
    }
}

/// `network: (latency: Uniform(min: "1ms", max: "10ms"), loss: 0.01, ...)`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "network")]
pub struct NetworkSpec {
    #[serde(default = "default_latency", deserialize_with = "spanned_latency")]
    pub latency: Spanned<Latency>,
    #[serde(default)]
    pub loss: Probability,
    #[serde(default)]
    pub duplicate: Probability,
    /// Per-link overrides, applied in order.
    #[serde(default)]
    pub links: Vec<Spanned<LinkOverride>>,
}

fn default_latency() -> Spanned<Latency> {
    Spanned::new(sim_core::LinkConfig::default().latency)
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: default_latency(),
            loss: Probability::ZERO,
            duplicate: Probability::ZERO,
            links: Vec::new(),
        }
    }
}

/// `storage: (sync_latency: Uniform(min: "1ms", max: "5ms"), lose_unsynced: true,
/// torn_tail: 0.3)`: how the nodes' write-ahead logs behave (`sim_core::storage`). Every
/// field defaults to the disk that loses nothing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "storage")]
pub struct StorageSpec {
    #[serde(default = "default_sync_latency", deserialize_with = "spanned_latency")]
    pub sync_latency: Spanned<Latency>,
    #[serde(default)]
    pub lose_unsynced: bool,
    #[serde(default)]
    pub torn_tail: Probability,
}

fn default_sync_latency() -> Spanned<Latency> {
    Spanned::new(sim_core::StorageConfig::default().sync_latency)
}

impl StorageSpec {
    pub(crate) fn config(&self) -> sim_core::StorageConfig {
        sim_core::StorageConfig {
            sync_latency: self.sync_latency.value,
            lose_unsynced: self.lose_unsynced,
            torn_tail: self.torn_tail,
        }
    }
}

/// One override: `(from: "n1", to: "n2", latency: Constant("50ms"), loss: 0.2)`. A
/// missing `from` or `to` means every endpoint on that side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "link")]
pub struct LinkOverride {
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "opt_latency")]
    pub latency: Option<Latency>,
    #[serde(default)]
    pub loss: Option<Probability>,
    #[serde(default)]
    pub duplicate: Option<Probability>,
}

fn opt_latency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Latency>, D::Error> {
    Ok(Some(LatencySpec::deserialize(d)?.into()))
}

/// Latency shapes as files write them; the same as `sim_core::Latency`, but strict about
/// unknown fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Latency")]
enum LatencySpec {
    Constant(Duration),
    Uniform {
        min: Duration,
        max: Duration,
    },
    Exponential {
        mean: Duration,
        max: Duration,
    },
    Normal {
        mean: Duration,
        std_dev: Duration,
        min: Duration,
        max: Duration,
    },
    LongTail {
        min: Duration,
        max: Duration,
        slow: Probability,
        slow_min: Duration,
        slow_max: Duration,
    },
}

impl From<LatencySpec> for Latency {
    fn from(l: LatencySpec) -> Latency {
        match l {
            LatencySpec::Constant(d) => Latency::Constant(d),
            LatencySpec::Uniform { min, max } => Latency::Uniform { min, max },
            LatencySpec::Exponential { mean, max } => Latency::Exponential { mean, max },
            LatencySpec::Normal {
                mean,
                std_dev,
                min,
                max,
            } => Latency::Normal {
                mean,
                std_dev,
                min,
                max,
            },
            LatencySpec::LongTail {
                min,
                max,
                slow,
                slow_min,
                slow_max,
            } => Latency::LongTail {
                min,
                max,
                slow,
                slow_min,
                slow_max,
            },
        }
    }
}

/// `Spanned<Latency>` read through [`LatencySpec`].
impl<'de> Deserialize<'de> for SpannedLatency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SpannedLatency, D::Error> {
        let s = Spanned::<LatencySpec>::deserialize(d)?;
        Ok(SpannedLatency(Spanned {
            value: s.value.into(),
            span: s.span,
        }))
    }
}

pub(super) struct SpannedLatency(Spanned<Latency>);

fn spanned_latency<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<Latency>, D::Error> {
    SpannedLatency::deserialize(d).map(|s| s.0)
}

/// One timed fault, as written after the time in `At("2s", ...)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "fault")]
pub enum FaultSpec {
    /// `Partition([["n1", "n2"], ["n3", "n4", "n5"]])`: no messages between groups.
    Partition(Vec<Vec<Spanned<String>>>),
    /// `Heal`: remove every cut.
    Heal,
    /// `Crash("n3")`
    Crash(Spanned<String>),
    /// `Restart("n3")`
    Restart(Spanned<String>),
    /// `Pause(node: "n1", for: "800ms")`: a stop-the-world pause, resumed after `for`.
    Pause {
        node: Spanned<String>,
        r#for: Spanned<Duration>,
    },
    /// `ClockSkew("n1", "+500ms")`: the node's clock jumps.
    ClockSkew(Spanned<String>, Spanned<Offset>),
    /// `ClockDrift("n1", 200)`: the clock runs 200 ppm fast (negative: slow).
    ClockDrift(Spanned<String>, Spanned<i64>),
    /// `Isolate("n2")`: cut one node off from every other node.
    Isolate(Spanned<String>),
    /// `OneWay(from: "n1", to: ["n2", "n3"])`: messages from one side are lost, not back.
    OneWay {
        #[serde(deserialize_with = "names")]
        from: Vec<Spanned<String>>,
        #[serde(deserialize_with = "names")]
        to: Vec<Spanned<String>>,
    },
    /// `Bridge(left: ["n1", "n2"], middle: "n3", right: ["n4", "n5"])`
    Bridge {
        #[serde(deserialize_with = "names")]
        left: Vec<Spanned<String>>,
        #[serde(deserialize_with = "names")]
        middle: Vec<Spanned<String>>,
        #[serde(deserialize_with = "names")]
        right: Vec<Spanned<String>>,
    },
    /// `SetLoss(loss: 0.1)` on every link, or `SetLoss(from: "n1", to: "n2", loss: 0.5)`.
    SetLoss {
        #[serde(default)]
        from: Option<Spanned<String>>,
        #[serde(default)]
        to: Option<Spanned<String>>,
        loss: Probability,
    },
    /// `SetDuplicate(duplicate: 0.05)`, with optional `from` / `to`.
    SetDuplicate {
        #[serde(default)]
        from: Option<Spanned<String>>,
        #[serde(default)]
        to: Option<Spanned<String>>,
        duplicate: Probability,
    },
    /// `SetLatency(latency: Constant("80ms"))`, with optional `from` / `to`.
    SetLatency {
        #[serde(default)]
        from: Option<Spanned<String>>,
        #[serde(default)]
        to: Option<Spanned<String>>,
        #[serde(deserialize_with = "spanned_latency")]
        latency: Spanned<Latency>,
    },
    /// `CorruptRecord("n2")`: one synced record of the node's log fails its checksum.
    CorruptRecord(Spanned<String>),
    /// `Slow(node: "n2", by: Uniform(min: "200ms", max: "800ms"), for: "2s")`: for `for`,
    /// every message into or out of `n2` (or, with `from` and `to` instead of `node`, on
    /// that one link) takes extra latency drawn from `by` (default 100-800ms).
    Slow {
        #[serde(default)]
        node: Option<Spanned<String>>,
        #[serde(default)]
        from: Option<Spanned<String>>,
        #[serde(default)]
        to: Option<Spanned<String>>,
        #[serde(default = "default_slow", deserialize_with = "spanned_latency")]
        by: Spanned<Latency>,
        r#for: Spanned<Duration>,
    },
    /// `Clog(node: "n2", for: "1s")`: for `for`, messages into or out of `n2` (or on the
    /// link `from` -> `to`) are held, then released reordered.
    Clog {
        #[serde(default)]
        node: Option<Spanned<String>>,
        #[serde(default)]
        from: Option<Spanned<String>>,
        #[serde(default)]
        to: Option<Spanned<String>>,
        r#for: Spanned<Duration>,
    },
    /// `CrashAfterSend(p: 0.01, restart: ("1ms", "50ms"), for: "5s")`: for `for`, a node
    /// whose handler sent a message crashes right after it with probability `p`, and
    /// restarts `restart` later (a crash at an interesting moment, like BUGGIFY).
    CrashAfterSend {
        p: Probability,
        restart: (Duration, Duration),
        /// Only after a message of the `kind`-th kind the run sends (from 0).
        #[serde(default)]
        kind: Option<u32>,
        /// Only after this node sends (default: any node).
        #[serde(default)]
        node: Option<Spanned<String>>,
        /// `leader: true`: only a sender that leads when its handler is done (whoever
        /// leads then; default false).
        #[serde(default)]
        leader: bool,
        /// `partial: true`: the crash comes in the middle of the handler's sends (decided
        /// before it runs): only a drawn number of its messages to nodes leave, the rest
        /// are lost with the crash (default false: after all of them).
        #[serde(default)]
        partial: bool,
        r#for: Spanned<Duration>,
    },
    /// `ClogAfterSend(p: 0.1, lasting: ("10ms", "800ms"), kind: Some(0), for: "5s")`: for
    /// `for`, a node whose handler sent a message (of the `kind`-th kind the run sends,
    /// default any) has, with probability `p`, every message into or out of it held for
    /// `lasting` (log-uniform), then released reordered: the answers to what it just asked
    /// arrive late.
    ClogAfterSend {
        p: Probability,
        lasting: (Duration, Duration),
        #[serde(default)]
        kind: Option<u32>,
        r#for: Spanned<Duration>,
    },
}

fn default_slow() -> Spanned<Latency> {
    Spanned::new(sim_core::NemesisOptions::default().slow)
}

/// A non-empty list of names, each with its place in the file; `empty` is the error
/// for `[]`.
fn name_list<'de, A: SeqAccess<'de>>(
    mut seq: A,
    empty: &str,
) -> Result<Vec<Spanned<String>>, A::Error> {
    let mut names = Vec::new();
    while let Some(n) = seq.next_element::<Spanned<String>>()? {
        names.push(n);
    }
    if names.is_empty() {
        return Err(de::Error::custom(empty));
    }
    Ok(names)
}

/// A name (`"n1"`) or a list of names (`["n1", "n2"]`).
fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Spanned<String>>, D::Error> {
    enum OneOrMany {
        One(String),
        Many(Vec<Spanned<String>>),
    }
    impl<'de> Deserialize<'de> for OneOrMany {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OneOrMany, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = OneOrMany;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a name like \"n1\" or a list of names like [\"n1\", \"n2\"]")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                    Ok(OneOrMany::One(v.to_string()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany, A::Error> {
                    name_list(seq, "an empty list: expected at least one name").map(OneOrMany::Many)
                }
            }
            d.deserialize_any(V)
        }
    }
    let s = Spanned::<OneOrMany>::deserialize(d)?;
    Ok(match s.value {
        OneOrMany::One(n) => vec![Spanned {
            value: n,
            span: s.span,
        }],
        OneOrMany::Many(v) => v,
    })
}

/// A random nemesis: `nemesis: (faults: [PartitionHalves, CrashRestart], every: ("1s",
/// "3s"), lasting: ("500ms", "2s"), stop: "8s")`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "nemesis")]
pub struct NemesisSpec {
    /// Swarm mode: each seed draws the fault mix itself (see `sim_core::swarm`); then
    /// `faults`, `every`, `lasting`, `max_skew` and `concurrency` are the bounds it draws
    /// within (`faults` defaults to every kind).
    #[serde(default)]
    pub swarm: bool,
    #[serde(default)]
    pub faults: Vec<NemesisFault>,
    #[serde(default)]
    pub start: Duration,
    /// After this the cluster is healed and left alone: the quiet tail.
    pub stop: Spanned<Duration>,
    /// Time between the end of one fault and the start of the next (min, max).
    #[serde(default)]
    pub every: Option<(Duration, Duration)>,
    /// How long each fault lasts (min, max).
    #[serde(default)]
    pub lasting: Option<(Duration, Duration)>,
    /// The largest clock jump a `ClockSkew` draws.
    #[serde(default = "default_skew")]
    pub max_skew: Duration,
    /// How many faults may be in force at once (1, the default: one at a time).
    #[serde(default = "default_concurrency")]
    pub concurrency: Spanned<u32>,
    /// The extra latency a `Slow` fault adds to each message (default 100-800ms).
    #[serde(default = "default_slow", deserialize_with = "spanned_latency")]
    pub slow: Spanned<Latency>,
    /// Whom the faults on one node reach: `Random` (the default: a node drawn with the
    /// schedule) or `Leader` (whoever leads when the fault starts). Swarm mode draws it
    /// per kind.
    #[serde(default)]
    pub target: sim_core::Target,
    /// `crash_after_send: 0.01`: from `start` to `stop`, a node that just sent crashes
    /// with this probability and restarts 1-50ms later (swarm mode draws it).
    #[serde(default)]
    pub crash_after_send: Option<Probability>,
}

/// Swarm mode's bounds when the file gives none.
pub(crate) const SWARM_EVERY: (Duration, Duration) =
    (Duration::from_millis(20), Duration::from_millis(2_000));
pub(crate) const SWARM_LASTING: (Duration, Duration) =
    (Duration::from_millis(20), Duration::from_millis(2_000));
/// The most link loss and duplication swarm mode draws.
pub(crate) const SWARM_MAX_LOSS: f64 = 0.1;
pub(crate) const SWARM_MAX_DUPLICATE: f64 = 0.1;

fn default_concurrency() -> Spanned<u32> {
    Spanned::new(1)
}

fn default_skew() -> Duration {
    Duration::from_millis(500)
}

impl NemesisSpec {
    pub(crate) fn to_nemesis(&self) -> Nemesis {
        let every = self.every.unwrap_or(SWARM_EVERY);
        let lasting = self.lasting.unwrap_or(SWARM_LASTING);
        Nemesis {
            faults: self.faults.clone(),
            start: self.start,
            stop: self.stop.value,
            interval_min: every.0,
            interval_max: every.1,
            duration_min: lasting.0,
            duration_max: lasting.1,
            max_skew: self.max_skew,
        }
    }

    /// The bounds swarm mode draws within, for a protocol that survives `max_drift_ppm`.
    pub(crate) fn swarm_bounds(&self, max_drift_ppm: i64) -> sim_core::SwarmBounds {
        sim_core::SwarmBounds {
            faults: self.faults.clone(),
            start: self.start,
            stop: self.stop.value,
            every: self.every.unwrap_or(SWARM_EVERY),
            lasting: self.lasting.unwrap_or(SWARM_LASTING),
            max_skew: self.max_skew,
            max_concurrency: self.concurrency.value,
            max_loss: SWARM_MAX_LOSS,
            max_duplicate: SWARM_MAX_DUPLICATE,
            max_drift_ppm,
            give_up: None,
            node_kinds: Vec::new(),
        }
    }

    pub(crate) fn options(&self) -> sim_core::NemesisOptions {
        sim_core::NemesisOptions {
            concurrency: self.concurrency.value,
            slow: self.slow.value,
            targets: [self.target; 9],
            crash_after_send: self.crash_after_send,
            ..Default::default()
        }
    }
}

/// How much of the run the trace records: `Off`, `Summary` (the default) or `Full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum TraceSetting {
    Off,
    Summary,
    Full,
}

impl TraceSetting {
    pub fn level(self) -> TraceLevel {
        match self {
            TraceSetting::Off => TraceLevel::Off,
            TraceSetting::Summary => TraceLevel::Summary,
            TraceSetting::Full => TraceLevel::Full,
        }
    }
}

/// What the run should end with.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum Expect {
    /// No check fails.
    Pass,
    /// This check fails (a scenario that demonstrates a bug).
    Violation(Spanned<String>),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Pass => f.write_str("Pass"),
            Expect::Violation(c) => write!(f, "Violation({:?})", c.value),
        }
    }
}
