//! # faultline: scenarios, runs, sweeps and shrinking
//!
//! The library behind the `faultline` command. A scenario file (RON, see
//! `docs/SCENARIOS.md`) is read into a [`Scenario`] with [`Scenario::load`]; every error
//! in it names the file, line and column. [`runner::run`] runs it with a seed;
//! [`sweep::sweep`] runs many seeds on many threads; [`shrink::shrink`] turns a failing
//! run into the smallest scenario that still fails the same way.
//!
//! ```
//! use faultline::{Scenario, runner};
//!
//! let text = r#"(
//!     name: "tiny",
//!     protocol: (name: "pingstorm", config: (fanout: 1)),
//!     cluster: (nodes: 3),
//!     faults: [At("20ms", Crash("n2")), At("40ms", Restart("n2"))],
//!     seed: 7,
//!     duration: "50ms",
//!     expect: Pass,
//! )"#;
//! let scenario = Scenario::parse("tiny.ron", text).unwrap();
//! let result = runner::run(&scenario, scenario.seed(), scenario.trace()).unwrap();
//! assert!(result.matched);
//! assert!(result.report.trace.summary_text().contains("!! crash n2"));
//! ```
//!
//! The engine, the protocols and the history checker are re-exported, so a test of your
//! own protocol needs only this crate: implement [`sim_core::Process`], build a
//! [`sim_core::Simulation`], add [`sim_core::Checker`]s, and judge the clients' history
//! with [`lincheck::check_history`].
//!
//! Everything that runs a scenario is generic over [`protocols::Protocol`]
//! ([`runner::Prepared`], [`shrink::shrink_with`]); the functions without a type parameter
//! look the protocol up by name in the [`registry`].
//!
//! For a protocol of your own, [`testing::Check`] sweeps a scenario from `cargo test` and
//! panics with the lowest failing seed and its replay commands, and
//! `faultline::cli::main(Registry::builtin().with::<MyProtocol>())` is a command line with
//! every subcommand for it (docs/OWN-PROTOCOL.md).

pub mod cli;
pub mod compare;
pub mod config;
pub mod determinism;
pub mod export;
pub mod html;
pub mod output;
pub mod progress;
pub mod registry;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sweep;
pub mod testing;
pub mod text;
pub mod view;

pub use lincheck;
pub use protocols;
pub use registry::Registry;
pub use runner::{Outcome, RunResult};
pub use scenario::{Scenario, ScenarioError};
pub use serde;
pub use sim_core;

// `cli.rs` names this crate `faultline::`, as a program using it would.
extern crate self as faultline;
