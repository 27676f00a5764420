//! Which protocols scenario files can name, and how to reach the generic code for one.
//!
//! Everything that runs a scenario is generic over [`protocols::Protocol`]; the CLI knows
//! a protocol only by the name in the file. A [`Registry`] is a value that turns the name
//! into the type: each protocol in it is the generic code monomorphized for it, behind a
//! trait object, so a program can add its own protocol to the built-in ones and get every
//! subcommand for it:
//!
//! ```no_run
//! # use faultline::protocols::PingstormProtocol as MyProtocol;
//! use faultline::registry::Registry;
//!
//! fn main() -> std::process::ExitCode {
//!     faultline::cli::main(Registry::builtin().with::<MyProtocol>())
//! }
//! ```
//!
//! Adding a protocol to the shipped binary is one line in the `registry!` list at the
//! bottom of this file. The free functions ([`names`], [`infos`], and `runner::run`,
//! `sweep::sweep` ... elsewhere) use [`Registry::builtin`].

use crate::compare;
use crate::determinism::{self, Difference};
use crate::runner::{Prepared, RunResult};
use crate::scenario::{Scenario, ScenarioError, list};
use crate::shrink::{self, ShrinkError, Shrunk};
use crate::sweep::{self, SweepError, SweepSummary};
use protocols::{CheckKind, Protocol};
use sim_core::{TraceBudget, TraceLevel};
use std::io::Write;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::LazyLock;

/// A protocol as `faultline list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub name: &'static str,
    pub summary: &'static str,
    /// The largest cluster it supports ([`Protocol::MAX_NODES`]).
    pub max_nodes: usize,
    /// `(name, mistake, caught by)`
    pub knobs: Vec<(&'static str, &'static str, &'static str)>,
    /// `(name, kind, promise)`
    pub checks: Vec<(&'static str, CheckKind, &'static str)>,
    /// The default config as RON to paste into a scenario: one field a line under its
    /// doc comment ([`crate::config::default_config`]).
    pub config: String,
    /// Its sometimes-properties ([`Protocol::sometimes`]).
    pub sometimes: &'static [protocols::Sometimes],
}

impl Info {
    pub fn of<P: Protocol>() -> Info {
        Info {
            name: P::NAME,
            summary: P::SUMMARY,
            max_nodes: P::MAX_NODES,
            knobs: P::knobs()
                .iter()
                .map(|k| (k.name, k.mistake, k.caught_by))
                .collect(),
            checks: P::checks()
                .iter()
                .map(|c| (c.name, c.kind, c.promise))
                .collect(),
            config: crate::config::default_config::<P>(),
            sometimes: P::sometimes(),
        }
    }
}

/// The generic code for one protocol, monomorphized: one method per thing the CLI does
/// with a scenario. A new operation is a method here and a line in `Typed`'s impl.
trait Entry: Send + Sync {
    fn name(&self) -> &'static str;
    fn info(&self) -> Info;
    fn check(&self, s: &Scenario) -> Result<(), ScenarioError>;
    fn run(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
        budget: TraceBudget,
    ) -> Result<RunResult, ScenarioError>;
    fn sweep(
        &self,
        s: &Scenario,
        seeds: &[u64],
        jobs: usize,
        out: &mut dyn Write,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<SweepSummary, SweepError>;
    fn shrink(
        &self,
        s: &Scenario,
        seed: u64,
        log: &mut dyn FnMut(&str),
        on_run: &mut dyn FnMut(usize),
    ) -> Result<Shrunk, ShrinkError>;
    fn check_determinism(
        &self,
        s: &Scenario,
        seeds: Range<u64>,
        on_seed: &mut dyn FnMut(u64),
    ) -> Result<Option<Difference>, ScenarioError>;
    fn template(&self) -> String;
    fn sometimes(&self) -> &'static [protocols::Sometimes];
    fn compare_check(&self, s: &Scenario) -> Result<(), ScenarioError>;
    fn compare_run(
        &self,
        s: &Scenario,
        seeds: Range<u64>,
    ) -> Result<compare::Summary, ScenarioError>;
}

/// `P` as an [`Entry`].
struct Typed<P>(PhantomData<fn() -> P>);

impl<P: Protocol + 'static> Entry for Typed<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn info(&self) -> Info {
        Info::of::<P>()
    }
    fn check(&self, s: &Scenario) -> Result<(), ScenarioError> {
        Prepared::<P>::new(s).map(|_| ())
    }
    fn run(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
        budget: TraceBudget,
    ) -> Result<RunResult, ScenarioError> {
        Prepared::<P>::new(s)?.run_budgeted(s, seed, trace, budget)
    }
    fn sweep(
        &self,
        s: &Scenario,
        seeds: &[u64],
        jobs: usize,
        out: &mut dyn Write,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<SweepSummary, SweepError> {
        sweep::sweep_with::<P>(s, seeds, jobs, out, progress)
    }
    fn shrink(
        &self,
        s: &Scenario,
        seed: u64,
        log: &mut dyn FnMut(&str),
        on_run: &mut dyn FnMut(usize),
    ) -> Result<Shrunk, ShrinkError> {
        shrink::shrink_with_progress::<P>(s, seed, log, on_run)
    }
    fn check_determinism(
        &self,
        s: &Scenario,
        seeds: Range<u64>,
        on_seed: &mut dyn FnMut(u64),
    ) -> Result<Option<Difference>, ScenarioError> {
        determinism::check_determinism_with::<P>(s, seeds, on_seed)
    }
    fn template(&self) -> String {
        crate::config::template::<P>()
    }
    fn sometimes(&self) -> &'static [protocols::Sometimes] {
        P::sometimes()
    }
    fn compare_check(&self, s: &Scenario) -> Result<(), ScenarioError> {
        compare::check_with::<P>(s)
    }
    fn compare_run(
        &self,
        s: &Scenario,
        seeds: Range<u64>,
    ) -> Result<compare::Summary, ScenarioError> {
        compare::summarize::<P>(s, seeds)
    }
}

/// The protocols a program knows by name: the built-in ones, and any it adds with
/// [`Registry::with`]. Every subcommand of [`crate::cli::main`] looks protocols up here.
pub struct Registry {
    protocols: Vec<Box<dyn Entry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// No protocols at all.
    pub fn empty() -> Registry {
        Registry {
            protocols: Vec::new(),
        }
    }

    /// The protocols shipped with faultline (what the `faultline` binary knows).
    pub fn builtin() -> Registry {
        builtin()
    }

    /// This registry with `P` added after the others (`faultline list` shows them in
    /// this order).
    ///
    /// # Panics
    /// If a protocol called [`Protocol::NAME`] is there already: a scenario's
    /// `protocol: (name: ...)` must name one protocol. This is a mistake in the program
    /// that builds the registry, found when it starts, never a user's input.
    pub fn with<P: Protocol + 'static>(mut self) -> Registry {
        assert!(
            !self.names().contains(&P::NAME),
            "the registry already has a protocol called {:?}: give yours another Protocol::NAME",
            P::NAME
        );
        self.protocols.push(Box::new(Typed::<P>(PhantomData)));
        self
    }

    /// The names scenario files may write in `protocol: (name: ...)`, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.protocols.iter().map(|p| p.name()).collect()
    }

    /// Every protocol, for `faultline list`.
    pub fn infos(&self) -> Vec<Info> {
        self.protocols.iter().map(|p| p.info()).collect()
    }

    /// Is there a protocol called `name`?
    pub fn contains(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    /// The entry of the protocol called `name`: the one lookup every method uses.
    fn entry(&self, name: &str) -> Option<&dyn Entry> {
        self.protocols
            .iter()
            .find(|p| p.name() == name)
            .map(|p| &**p)
    }

    fn get(&self, s: &Scenario, name: &str) -> Result<&dyn Entry, ScenarioError> {
        self.entry(name).ok_or_else(|| self.unknown_protocol(s))
    }

    /// Checks the protocol-specific parts of a scenario without running it
    /// ([`crate::runner::check`] with this registry).
    pub fn check(&self, s: &Scenario) -> Result<(), ScenarioError> {
        self.get(s, s.protocol())?.check(s)
    }

    /// Runs a scenario with `seed` ([`crate::runner::run`] with this registry).
    pub fn run(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
    ) -> Result<RunResult, ScenarioError> {
        self.run_budgeted(s, seed, trace, TraceBudget::default())
    }

    /// [`Registry::run`] with a bound on what the trace records
    /// ([`crate::runner::run_budgeted`] with this registry).
    pub fn run_budgeted(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
        budget: TraceBudget,
    ) -> Result<RunResult, ScenarioError> {
        self.get(s, s.protocol())?.run(s, seed, trace, budget)
    }

    /// [`sweep::sweep`] with this registry.
    pub fn sweep(
        &self,
        s: &Scenario,
        seeds: &[u64],
        jobs: usize,
        out: &mut dyn Write,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<SweepSummary, SweepError> {
        self.get(s, s.protocol())
            .map_err(SweepError::Scenario)?
            .sweep(s, seeds, jobs, out, progress)
    }

    /// [`shrink::shrink_with_progress_of`] with this registry: `log` hears each step,
    /// `on_run` the number of runs so far (for a progress display).
    pub fn shrink(
        &self,
        s: &Scenario,
        seed: u64,
        log: &mut dyn FnMut(&str),
        on_run: &mut dyn FnMut(usize),
    ) -> Result<Shrunk, ShrinkError> {
        self.get(s, s.protocol())?.shrink(s, seed, log, on_run)
    }

    /// [`determinism::check_determinism_with_progress`] with this registry: `on_seed`
    /// hears how many seeds are checked after each.
    pub fn check_determinism(
        &self,
        s: &Scenario,
        seeds: Range<u64>,
        on_seed: &mut dyn FnMut(u64),
    ) -> Result<Option<Difference>, ScenarioError> {
        self.get(s, s.protocol())?
            .check_determinism(s, seeds, on_seed)
    }

    /// The sometimes-properties of the protocol called `name`
    /// ([`Protocol::sometimes`]); `None` if there is none.
    pub fn sometimes(&self, name: &str) -> Option<&'static [protocols::Sometimes]> {
        self.entry(name).map(|p| p.sometimes())
    }

    /// The commented starting scenario ([`crate::config::template`]) for the protocol
    /// called `name`; `None` if there is none.
    pub fn template(&self, name: &str) -> Option<String> {
        self.entry(name).map(|p| p.template())
    }

    /// [`compare::compare`] with this registry.
    pub fn compare(
        &self,
        s: &Scenario,
        protocols: &[String],
        seeds: Range<u64>,
    ) -> Result<Vec<compare::Summary>, ScenarioError> {
        // Every protocol is checked before anything runs.
        let mut variants = Vec::new();
        for name in protocols {
            let v = compare::variant(s, name);
            self.get(&v, name)?.compare_check(&v)?;
            variants.push(v);
        }
        variants
            .iter()
            .map(|v| self.get(v, v.protocol())?.compare_run(v, seeds.clone()))
            .collect()
    }

    /// The error for a scenario naming a protocol this registry lacks.
    pub fn unknown_protocol(&self, s: &Scenario) -> ScenarioError {
        let known: Vec<String> = self.names().iter().map(|n| format!("{n:?}")).collect();
        s.error(
            s.protocol.span.clone(),
            format!("unknown protocol {:?}", s.protocol.value),
        )
        .label("no such protocol")
        .help(format!(
            "expected {}; `faultline list` shows them",
            list(&known)
        ))
    }
}

static BUILTIN: LazyLock<Registry> = LazyLock::new(builtin);

/// The built-in registry, built once: what the free functions (`runner::run` ...) use.
pub fn builtin_ref() -> &'static Registry {
    &BUILTIN
}

/// The names scenario files may write in `protocol: (name: ...)` (built-in protocols).
pub fn names() -> Vec<&'static str> {
    BUILTIN.names()
}

/// The sometimes-properties of the built-in protocol called `name`; `None` if there is
/// none.
pub fn sometimes(name: &str) -> Option<&'static [protocols::Sometimes]> {
    BUILTIN.sometimes(name)
}

/// Every built-in protocol, for `faultline list`.
pub fn infos() -> Vec<Info> {
    BUILTIN.infos()
}

/// Code that is generic over a built-in protocol: [`with_protocol`] calls `visit::<P>()`
/// with the one a name stands for. For tests and tools that need the type itself (a
/// [`Registry`] hides it behind its entries); a program's own protocols are not in it.
pub trait Visit {
    type Output;
    fn visit<P: Protocol>(self) -> Self::Output;
}

macro_rules! registry {
    ($($protocol:ty),* $(,)?) => {
        fn builtin() -> Registry {
            Registry::empty()$(.with::<$protocol>())*
        }

        /// Calls `v.visit::<P>()` for the built-in protocol called `name`; `None` if there
        /// is none.
        pub fn with_protocol<V: Visit>(name: &str, v: V) -> Option<V::Output> {
            $(
                if name == <$protocol as Protocol>::NAME {
                    return Some(v.visit::<$protocol>());
                }
            )*
            let _ = v;
            None
        }
    };
}

// One line per protocol.
registry! {
    protocols::PingstormProtocol,
    protocols::raft::RaftProtocol,
    protocols::election::BullyProtocol,
    protocols::election::LeaseProtocol,
    protocols::twopc::TwopcProtocol,
    protocols::gossip::GossipProtocol,
    protocols::paxos::PaxosProtocol,
    protocols::multipaxos::MultiPaxosProtocol,
    protocols::saga::SagaProtocol,
}
