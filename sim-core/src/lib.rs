//! # sim-core: faultline's deterministic engine
//!
//! One seed decides everything that happens in a run: which node runs when, which message
//! is lost, delayed, duplicated or reordered, when a partition starts, which node crashes
//! and what it remembers when it restarts. Run it again with the same seed and you get the
//! same trace, byte for byte.
//!
//! A protocol implements [`Process`]: pure handlers for start, message, timer and client
//! request that act only through their [`Ctx`]. Clients that drive a workload implement
//! [`Client`] and record a history that the `lincheck` crate can judge. A [`Simulation`]
//! runs them over a faulty [`Network`] under scheduled [`Fault`]s or a random [`Nemesis`],
//! lets [`Checker`]s look at every node after every event, and returns a [`Report`].
//!
//! What a node keeps across a crash is either its [`Process::Durable`] value (written at
//! once) or its write-ahead log ([`storage`]): [`Ctx::append`] records, [`Ctx::sync`]
//! them, and [`Process::on_synced`] says when they are durable; a crash may cut the
//! unsynced tail, as a real disk's page cache does.
//!
//! ```
//! use sim_core::*;
//!
//! /// Each node pings the next one, forever, once every 100ms of its own clock.
//! struct Ring;
//!
//! #[derive(Clone, Debug)]
//! struct Tick;
//!
//! impl Process for Ring {
//!     type Config = ();
//!     type Msg = &'static str;
//!     type Timer = Tick;
//!     type Durable = ();
//!     type Request = ();
//!     type Response = ();
//!
//!     fn start(ctx: &mut Ctx<'_, Self>) -> Self {
//!         ctx.set_timer(Duration::from_millis(100), Tick);
//!         Ring
//!     }
//!     fn on_message(&mut self, _ctx: &mut Ctx<'_, Self>, _from: NodeId, _msg: &'static str) {}
//!     fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Tick) {
//!         let next = NodeId((ctx.id().0 + 1) % ctx.node_count() as u32);
//!         ctx.send(next, "ping");
//!         ctx.set_timer(Duration::from_millis(100), Tick);
//!     }
//! }
//!
//! let run = |seed| {
//!     let config = SimConfig::new(seed, 3, Limits::time("1s".parse().unwrap()));
//!     let mut sim: Simulation<Ring> = Simulation::new(config, (), ()).unwrap();
//!     sim.schedule(Time::from_nanos(500_000_000), Fault::Crash(NodeId(1)));
//!     sim.run()
//! };
//! let (a, b) = (run(7), run(7));
//! assert_eq!(a.trace.to_text(), b.trace.to_text()); // same seed, same trace
//! assert!(a.stats.drops_down > 0); // pings to the crashed n2 are lost
//! ```

mod bus;
pub mod check;
pub mod clock;
pub mod diagram;
pub mod fault;
pub mod id;
pub mod logical;
pub mod network;
mod prefetch;
pub mod process;
pub mod queue;
pub mod reach;
pub mod rng;
mod selfcheck;
pub mod sim;
pub mod storage;
pub mod swarm;
pub mod time;
pub mod timeline;
pub mod trace;

pub use check::{Checker, LivenessStart, View, Violation};
pub use clock::{LocalClock, MAX_DRIFT_PPM};
pub use fault::{
    DelayOn, Fault, LeaderClock, MAX_CONCURRENCY, Nemesis, NemesisFault, NemesisOptions, Pick,
    Target,
};
pub use id::{Addr, ClientId, NodeId, RequestId, TimerId};
pub use lincheck::{self, Value};
pub use logical::{Causality, Hlc, Lamport, VectorClock};
pub use network::{CLOG_RELEASE_SPREAD, Latency, LinkConfig, LinkUpdate, Network};
pub use process::{CheckStamp, Client, ClientCtx, Ctx, NoClients, Process};
pub use reach::MAX_PROPERTIES;
pub use rng::{Probability, SimRng};
pub use sim::{
    EndReason, Limits, RUNAWAY_WINDOW, Report, RunawayBound, SimConfig, Simulation, Stats,
};
pub use storage::{Corrupt, StorageConfig, Wal};
pub use swarm::{SwarmBounds, SwarmDraw};
pub use time::{Duration, DurationError, Offset, Readable, Time};
pub use trace::{DropReason, Trace, TraceBudget, TraceEvent, TraceKind, TraceLevel};
