//! Protocol state machines for faultline.
//!
//! Each protocol is a module with its messages, its state machine implementing
//! [`sim_core::Process`], its configuration (deserialized from a scenario), its invariants
//! ([`sim_core::Checker`]s) and its bug knobs: named, documented, deliberate mistakes a
//! scenario can switch on to show what the checkers catch. Each module opens with an essay
//! on the algorithm and the paper it follows.
//!
//! A module makes itself runnable from scenario files by implementing [`Protocol`]; the
//! `faultline` crate's registry lists every such type.

use lincheck::{CheckOptions, History, ModelKind, Verdict};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sim_core::{Checker, Client, Process, Time};
use std::fmt::Debug;

mod documented;
pub mod election;
pub mod gossip;
pub mod kv;
pub mod multipaxos;
pub mod paxos;
pub mod pingstorm;
pub mod raft;
pub mod saga;
pub mod serial;
pub mod twopc;
pub mod workload;

pub use documented::{Documented, FieldDoc, Renamed};
pub use workload::Workload;

/// A deliberate mistake a scenario can switch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knob {
    /// The config field that switches it on, e.g. `"vote_without_log_check"`.
    pub name: &'static str,
    /// The mistake it models, in a sentence.
    pub mistake: &'static str,
    /// The check (by name) that catches it.
    pub caught_by: &'static str,
}

/// A sometimes-property: a state a good test of the protocol should reach (stateright's
/// `Property::sometimes`, Antithesis' `sometimes` assertions). The protocol signals it
/// with [`sim_core::Ctx::reached`]; a run reports which it reached, `sweep --coverage`
/// counts the seeds that reached each, and a scenario can require them (`reach: [...]`).
/// Declare them with [`sometimes!`], which numbers them for the engine's bitset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sometimes {
    /// Kebab-case, as scenarios write it in `reach: [...]`: `"lease-read-served"`.
    pub name: &'static str,
    /// What reaching it means, in one line.
    pub meaning: &'static str,
}

/// Declares a protocol's sometimes-properties as an enum whose variants index
/// `Enum::ALL` (what [`Protocol::sometimes`] returns), so `ctx.reached(Enum::Variant)`
/// costs one bit test and the names live in one list.
///
/// ```
/// protocols::sometimes! {
///     /// What a ping test should see.
///     pub enum PingReach {
///         Lost => "ping-lost", "a ping was lost";
///         Echoed => "ping-echoed", "a ping came back";
///     }
/// }
/// assert_eq!(PingReach::ALL[usize::from(PingReach::Echoed)].name, "ping-echoed");
/// ```
#[macro_export]
macro_rules! sometimes {
    ($(#[$m:meta])* $vis:vis enum $name:ident {
        $($(#[$vm:meta])* $variant:ident => $text:literal, $meaning:literal;)*
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        $vis enum $name { $($(#[$vm])* $variant),* }

        impl $name {
            /// Every property, in index order.
            pub const ALL: &'static [$crate::Sometimes] = &[
                $($crate::Sometimes { name: $text, meaning: $meaning }),*
            ];
        }

        impl From<$name> for usize {
            #[inline(always)]
            fn from(p: $name) -> usize {
                p as usize
            }
        }

        const _: () = assert!($name::ALL.len() <= 64, "at most 64 sometimes-properties (sim_core::MAX_PROPERTIES)");
    };
}

/// When a check is judged (stateright's always / eventually / sometimes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// After every event (safety).
    Always,
    /// At the end of the run, after faults stop (liveness).
    Eventually,
    /// On the run's history: what the clients asked and were told (linearizability and
    /// other history checks). A scenario can list one only with clients. Most are judged
    /// on the recorded history when the run ends ([`Protocol::history_check`]); one whose
    /// protocol builds a checker for it ([`Protocol::checker`]) follows what the clients
    /// are told as the run goes instead (2PC's `history`).
    History,
}

/// A check a protocol offers to scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckInfo {
    pub name: &'static str,
    pub kind: CheckKind,
    pub promise: &'static str,
}

/// Why a history check did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryFailure {
    /// The check failed: the message says plainly what broke.
    Violated(String),
    /// The check could not decide within its bound (a step budget, never wall time, so
    /// the answer is the same on every machine). Neither a pass nor a violation.
    Undecided(String),
}

impl From<String> for HistoryFailure {
    fn from(message: String) -> Self {
        HistoryFailure::Violated(message)
    }
}

impl HistoryFailure {
    pub fn message(&self) -> &str {
        match self {
            HistoryFailure::Violated(m) | HistoryFailure::Undecided(m) => m,
        }
    }
}

/// The default step budget of the `linearizable` check when a scenario is run, swept or
/// shrunk (a scenario's `check_steps` changes it): per key, search steps of the lincheck
/// crate. Counted in steps, not seconds, so a
/// history that runs out of it is `undecided` on every machine alike. Enough for every
/// history the shipped scenarios and the 1,000-seed sweeps produce; see
/// docs/PERFORMANCE.md for what it costs.
pub const LINEARIZABLE_MAX_STEPS: u64 = 2_000_000;

/// A protocol as scenario files see it: its name, config, clients, checks and knobs.
pub trait Protocol {
    /// The scenario's name for it (`"raft"`).
    const NAME: &'static str;
    /// One line for `faultline list`.
    const SUMMARY: &'static str;
    /// The largest cluster (server nodes, clients not counted) this protocol supports: a
    /// scenario with more is an error before the run starts, not an allocation failure
    /// halfway. Say what it costs at this size in docs/PERFORMANCE.md.
    const MAX_NODES: usize;
    /// Protocol configuration, bug knobs included, as written in a scenario's
    /// `protocol: (name: "...", config: (...))`. Unknown fields must be rejected
    /// (`#[serde(deny_unknown_fields)]`) and every field must have a default. Declare it
    /// inside [`documented!`] so that `faultline list` and `faultline new` can print it as
    /// RON with each field's doc comment.
    type Config: DeserializeOwned + Serialize + Default + Debug + Clone + Documented;
    type Node: Process<Config = Self::Config>;
    /// The clients that drive the scenario's workload (`sim_core::NoClients` for none).
    type Client: Client<Self::Node>;

    /// The bug knobs, each with the mistake it models and the check that catches it.
    fn knobs() -> &'static [Knob];

    /// Every check this protocol offers.
    fn checks() -> &'static [CheckInfo];

    /// The states a good test of this protocol should reach, indexed as the protocol
    /// passes them to [`sim_core::Ctx::reached`] (declare them with [`sometimes!`]).
    fn sometimes() -> &'static [Sometimes] {
        &[]
    }

    /// Builds the checker called `name` (an `Always` or `Eventually` check, or a `History`
    /// check that watches the run), or `None` if there is no such checker. History checks
    /// with no checker are run by the caller on the run's history.
    fn checker(name: &str, config: &Self::Config) -> Option<Box<dyn Checker<Self::Node>>>;

    /// The clients' configuration from the scenario's workload; an error says what is
    /// wrong with the workload for this protocol.
    fn client_config(
        workload: &Workload,
        config: &Self::Config,
    ) -> Result<<Self::Client as Client<Self::Node>>::Config, String>;

    /// Checks that a cluster of `nodes` nodes suits this config (e.g. has room for every
    /// role); an error says what is missing. The default accepts any cluster.
    fn validate_cluster(config: &Self::Config, nodes: usize) -> Result<(), String> {
        let _ = (config, nodes);
        Ok(())
    }

    /// The config `faultline new` writes into a starting scenario that runs for `duration`
    /// with no faults and must pass every check: the default, unless a check needs a field
    /// set to judge such a run (gossip's clients must stop writing before `convergence`
    /// can hold). The template marks each field that differs from its default.
    fn starting_config(duration: sim_core::Duration) -> Self::Config {
        let _ = duration;
        Self::Config::default()
    }

    /// What a finished run shows beyond its checks' verdicts, as `(label, line)` pairs
    /// read from its report (its trace holds what the run recorded, maybe nothing): the
    /// runner adds them to [`sim_core::Report::findings`] after the checkers' own, and
    /// the CLI prints each as `label: line`. The default finds nothing.
    fn findings(report: &sim_core::Report) -> Vec<(String, String)> {
        let _ = report;
        Vec::new()
    }

    /// Swarm mode (`nemesis: (swarm: true, ...)`): draws from `rng` (the seed's own
    /// `swarm/protocol` stream) the timing parameters and options this protocol promises
    /// to survive, within the bounds it declares here, starting from the file's
    /// `config` (bug knobs are never drawn). Returns the config to run and what was
    /// drawn, `(field, value)`, for the run's header. A violation under any draw is a
    /// real bug, so declare only ranges the protocol is meant to be correct in. The
    /// default draws nothing.
    fn swarm_config(
        config: &Self::Config,
        rng: &mut sim_core::SimRng,
    ) -> (Self::Config, Vec<(&'static str, String)>) {
        let _ = rng;
        (config.clone(), Vec::new())
    }

    /// The config as a scenario file writes it (`(field: value, ...)`), so that `shrink`
    /// can pin a config that [`Protocol::swarm_config`] drew as plain fields. The default
    /// writes it with its serde serialization (durations as `"150ms"`); `None` if that
    /// fails.
    fn config_ron(config: &Self::Config) -> Option<String> {
        ron::ser::to_string(config).ok()
    }

    /// The largest clock drift (ppm, either way) that swarm mode may give a node running
    /// `config`: what the protocol promises to survive. The default, 10,000 ppm (1%), is
    /// far above real clocks; protocols whose safety rests on a drift bound return it.
    fn swarm_max_drift_ppm(config: &Self::Config) -> i64 {
        let _ = config;
        10_000
    }

    /// How long a node running `config` waits for answers before it gives up and starts
    /// again (Raft: its election timeouts), `(min, max)`; swarm mode holds a node's links
    /// right after it asked for about that long (`ClogAfterSend`), so the answers reach
    /// the round after. `None` (the default): not declared; the file's `lasting` is used.
    fn swarm_give_up(config: &Self::Config) -> Option<(sim_core::Duration, sim_core::Duration)> {
        let _ = config;
        None
    }

    /// The kinds of node a cluster of `nodes` running `config` has, each a list of node
    /// indexes (servers and a store, a coordinator and participants): swarm mode aims a
    /// crash-after-send at a drawn kind first, then a node of it. The default: one kind.
    fn swarm_node_kinds(config: &Self::Config, nodes: usize) -> Vec<Vec<u32>> {
        let _ = config;
        vec![(0..nodes as u32).collect()]
    }

    /// The sequential model the clients' history follows (what `--history-out` writes in
    /// the header and what `"linearizable"` checks against); `None` if the clients record
    /// no history.
    fn history_model() -> Option<ModelKind> {
        None
    }

    /// Runs the `History` check `name` on a finished run's `history` (the run ended at
    /// `end`) within `max_steps` search steps per key (a check that searches must give up
    /// past it, as [`HistoryFailure::Undecided`]): `Ok(())` when it holds, else what
    /// failed or why it is undecided. The
    /// default knows `"linearizable"`, checked against [`Protocol::history_model`] with
    /// the lincheck crate; protocols with other history checks override this.
    fn history_check(
        name: &str,
        history: &History,
        config: &Self::Config,
        end: Time,
        max_steps: u64,
    ) -> Result<(), HistoryFailure> {
        let _ = (config, end);
        match name {
            "linearizable" => linearizable(history, Self::history_model(), max_steps),
            other => Err(format!("{} has no history check {other:?}", Self::NAME).into()),
        }
    }

    /// [`Protocol::history_check`] on the history of a simulated run, whose faults
    /// stopped at `faults_stop` (the later of the nemesis's stop and the last timed
    /// fault; `Time::ZERO` without faults): a liveness check on the history (Raft's and
    /// Multi-Paxos's `clients-complete`) counts from there, as every eventually check does
    /// ([`sim_core::LivenessStart`]). The runner calls this; the default ignores
    /// `faults_stop`.
    fn history_check_in_run(
        name: &str,
        history: &History,
        config: &Self::Config,
        end: Time,
        faults_stop: Time,
        max_steps: u64,
    ) -> Result<(), HistoryFailure> {
        let _ = faults_stop;
        Self::history_check(name, history, config, end, max_steps)
    }
}

/// Checks `history` against `model` within `max_steps` search steps per key (scenarios:
/// [`LINEARIZABLE_MAX_STEPS`] unless they set `check_steps`) and turns anything
/// but "linearizable" into a plain message with lincheck's explanation (the longest
/// linearizable prefix and the operations that cannot come next). Running out of the
/// step budget is [`HistoryFailure::Undecided`], never a pass.
pub fn linearizable(
    history: &History,
    model: Option<ModelKind>,
    max_steps: u64,
) -> Result<(), HistoryFailure> {
    let Some(model) = model else {
        return Err("this protocol's clients record no history to check"
            .to_string()
            .into());
    };
    let mut history = history.clone();
    history.model = model;
    let options = CheckOptions {
        max_steps: Some(max_steps),
        ..CheckOptions::default()
    };
    let report = lincheck::check_history(&history, &options)
        .map_err(|e| format!("the run's history is malformed: {e}"))?;
    match report.verdict {
        Verdict::Linearizable => Ok(()),
        Verdict::NotLinearizable => Err(format!(
            "the clients' history is not linearizable ({} model)\n{}",
            model.name(),
            report.render_text().trim_end()
        )
        .into()),
        Verdict::Unknown => Err(HistoryFailure::Undecided(format!(
            "linearizability undecided: the checker's budget of {max_steps} steps per key ran out ({} model, {} history events)",
            model.name(),
            history.events.len()
        ))),
    }
}

/// pingstorm as a scenario protocol: no clients, no checks, no knobs.
pub struct PingstormProtocol;

impl Protocol for PingstormProtocol {
    const NAME: &'static str = "pingstorm";
    const SUMMARY: &'static str = "a storm of messages: the engine's smoke test and benchmark";
    /// The engine's own bound (scenario files allow 1,000,000 nodes); 100,000 nodes take
    /// about 100 MB (docs/PERFORMANCE.md).
    const MAX_NODES: usize = 1_000_000;
    type Config = pingstorm::PingstormConfig;
    type Node = pingstorm::Pingstorm;
    type Client = sim_core::NoClients;

    fn knobs() -> &'static [Knob] {
        &[]
    }

    fn checks() -> &'static [CheckInfo] {
        &[]
    }

    fn sometimes() -> &'static [Sometimes] {
        pingstorm::PingReach::ALL
    }

    fn checker(_: &str, _: &Self::Config) -> Option<Box<dyn Checker<Self::Node>>> {
        None
    }

    fn client_config(workload: &Workload, _: &Self::Config) -> Result<(), String> {
        if workload.clients > 0 {
            return Err("pingstorm has no clients: remove the workload or set clients: 0".into());
        }
        Ok(())
    }
}
