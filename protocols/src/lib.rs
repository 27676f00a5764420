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
use serde::de::DeserializeOwned;
use sim_core::{Checker, Client, Process, Time};
use std::fmt::Debug;

pub mod election;
pub mod gossip;
pub mod kv;
pub mod multipaxos;
pub mod paxos;
pub mod pingstorm;
pub mod raft;
pub mod saga;
pub mod twopc;
pub mod workload;

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

/// When a check is judged (stateright's always / eventually / sometimes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// After every event (safety).
    Always,
    /// At the end of the run, after faults stop (liveness).
    Eventually,
    /// On the run's history (linearizability and other history checks).
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
    /// (`#[serde(deny_unknown_fields)]`) and every field must have a default.
    type Config: DeserializeOwned + Default + Debug + Clone;
    type Node: Process<Config = Self::Config>;
    /// The clients that drive the scenario's workload (`sim_core::NoClients` for none).
    type Client: Client<Self::Node>;

    /// The bug knobs, each with the mistake it models and the check that catches it.
    fn knobs() -> &'static [Knob];

    /// Every check this protocol offers.
    fn checks() -> &'static [CheckInfo];

    /// Builds the checker called `name` (an `Always` or `Eventually` check), or `None` if
    /// there is no such checker. History checks are run by the caller on the run's history.
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
    /// can pin a config that [`Protocol::swarm_config`] drew as plain fields. A protocol
    /// that draws must return it; the default (`None`) suits one that draws nothing.
    fn config_ron(config: &Self::Config) -> Option<String> {
        let _ = config;
        None
    }

    /// The largest clock drift (ppm, either way) that swarm mode may give a node running
    /// `config`: what the protocol promises to survive. The default, 10,000 ppm (1%), is
    /// far above real clocks; protocols whose safety rests on a drift bound return it.
    fn swarm_max_drift_ppm(config: &Self::Config) -> i64 {
        let _ = config;
        10_000
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
