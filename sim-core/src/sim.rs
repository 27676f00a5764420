//! The simulation: one seeded, single-threaded event loop over nodes, clients, a faulty
//! network and a virtual clock.

use crate::bus::{Bus, Ev, K_FAULT, K_START, K_SYNCED, K_TIMER, Wire};
use crate::check::{Checker, View, Violation};
use crate::clock::LocalClock;
use crate::fault::{DelayOn, Fault};
use crate::id::{Addr, ClientId, NodeId, TimerId};
use crate::network::{Cut, Delay, DelayRule, DelayTarget, LinkConfig, LinkUpdate, Network};
use crate::process::{Client, ClientCtx, Ctx, NoClients, Process};
use crate::queue::EventQueue;
use crate::rng::SimRng;
use crate::selfcheck::BrokenPath;
use crate::storage::{Disk, StorageConfig, Wal};
use crate::time::{Duration, Time};
use crate::trace::{DropReason, Fingerprint, Trace, TraceBudget, TraceKind, TraceLevel};
use lincheck::{History, ModelKind};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The pending-event bound is checked when the event count is a multiple of this plus 1.
const PENDING_CHECK_EVERY: u64 = (1 << 14) - 1;

/// Clusters at least this large prefetch the next event's node (see `prefetch_next`).
const PREFETCH_FROM_NODES: usize = 512;

/// When a run stops. Both bounds apply; at least one must be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_time: Option<Duration>,
    pub max_events: Option<u64>,
}

impl Limits {
    pub fn time(d: Duration) -> Limits {
        Limits {
            max_time: Some(d),
            max_events: None,
        }
    }
    pub fn events(n: u64) -> Limits {
        Limits {
            max_time: None,
            max_events: Some(n),
        }
    }
}

/// How a runaway run is told from a busy one (issue #14): a run that makes more than
/// `events_per_second` events per second of virtual time, measured over windows of
/// [`RUNAWAY_WINDOW`], or holds more than `max_pending` events at once, ends with
/// [`EndReason::Runaway`] and a diagnosis ([`Report::runaway`]), long before a storm of
/// messages fills memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunawayBound {
    pub events_per_second: u64,
    pub max_pending: u64,
}

/// The window over which [`RunawayBound::events_per_second`] is measured: a run breaches
/// it when it handles `events_per_second / 10` events in less than 100ms of virtual time.
pub const RUNAWAY_WINDOW: Duration = Duration::from_millis(100);

impl RunawayBound {
    /// Events per virtual second each node or client may cause, by default.
    pub const PER_ENDPOINT_PER_SECOND: u64 = 100_000;
    /// The default rate is never below this, whatever the cluster.
    pub const MIN_PER_SECOND: u64 = 1_000_000;
    /// Pending events each endpoint may hold, by default.
    pub const PER_ENDPOINT_PENDING: u64 = 1_000;
    /// The default pending bound is never below this.
    pub const MIN_PENDING: u64 = 1_000_000;

    /// No bound at all (the queue's own limits still hold).
    pub const OFF: RunawayBound = RunawayBound {
        events_per_second: u64::MAX,
        max_pending: u64::MAX,
    };

    /// The default for `endpoints` nodes and clients: 100,000 events per endpoint per
    /// virtual second (at least 1,000,000), and 1,000 pending events per endpoint (at
    /// least 1,000,000). Shipped protocols stay below a hundredth of the rate.
    pub fn default_for(endpoints: usize) -> RunawayBound {
        let e = endpoints as u64;
        RunawayBound {
            events_per_second: e
                .saturating_mul(Self::PER_ENDPOINT_PER_SECOND)
                .max(Self::MIN_PER_SECOND),
            max_pending: e
                .saturating_mul(Self::PER_ENDPOINT_PENDING)
                .max(Self::MIN_PENDING),
        }
    }

    /// Events allowed in one [`RUNAWAY_WINDOW`].
    fn per_window(&self) -> u64 {
        (self.events_per_second / 10).max(1)
    }
}

/// Everything about a run except the protocol's and the clients' own configuration.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    /// Node names, in id order (`["n1", "n2", "n3"]`).
    pub nodes: Vec<String>,
    /// Client names, in id order (`["c1"]`); empty for none.
    pub clients: Vec<String>,
    /// The link every pair of endpoints uses unless overridden.
    pub link: LinkConfig,
    pub trace: TraceLevel,
    /// What the trace may hold (default: everything its level records).
    pub trace_budget: TraceBudget,
    pub limits: Limits,
    /// Stop at the first violation (the default) or record them all.
    pub stop_on_violation: bool,
    /// The runaway bound; `None` for [`RunawayBound::default_for`] the cluster and clients.
    pub runaway: Option<RunawayBound>,
}

impl SimConfig {
    /// `n` nodes called `n1..nN`, no clients, default link, full trace, the given limits.
    pub fn new(seed: u64, nodes: usize, limits: Limits) -> SimConfig {
        SimConfig {
            seed,
            nodes: (1..=nodes).map(|i| format!("n{i}")).collect(),
            clients: Vec::new(),
            link: LinkConfig::default(),
            trace: TraceLevel::Full,
            trace_budget: TraceBudget::default(),
            limits,
            stop_on_violation: true,
            runaway: None,
        }
    }

    /// Adds `n` clients called `c1..cN`.
    pub fn with_clients(mut self, n: usize) -> SimConfig {
        self.clients = (1..=n).map(|i| format!("c{i}")).collect();
        self
    }

    pub fn with_trace(mut self, level: TraceLevel) -> SimConfig {
        self.trace = level;
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a cluster needs at least one node".into());
        }
        if self.limits.max_time.is_none() && self.limits.max_events.is_none() {
            return Err(
                "a run needs a bound: set a maximum virtual time, a maximum event count, or both"
                    .into(),
            );
        }
        let mut seen = indexmap::IndexSet::new();
        for name in self.nodes.iter().chain(&self.clients) {
            if name.is_empty() {
                return Err("an endpoint name is empty".into());
            }
            if !seen.insert(name.as_str()) {
                return Err(format!(
                    "the name {name:?} is used twice: node and client names must be unique"
                ));
            }
        }
        let total = self.nodes.len() + self.clients.len();
        if total > u32::MAX as usize / 2 {
            return Err(format!("{total} endpoints is too many"));
        }
        self.link.latency.validate()
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The maximum virtual time was reached.
    TimeLimit,
    /// The maximum number of events was reached.
    EventLimit,
    /// Nothing was left to happen.
    Quiescent,
    /// A checker failed and the run stops at the first violation.
    Violation,
    /// More events were pending (or scheduled) than the queue holds: see
    /// `sim_core::queue` for the bounds. A run this large is a runaway protocol.
    QueueFull,
    /// The run breached its [`RunawayBound`]: a message storm or a busy loop
    /// ([`Report::runaway`] says what was pending).
    Runaway,
    /// One of the engine's self-checks failed ([`Report::engine_error`]): a bug in the
    /// simulator, not in the protocol.
    EngineError,
}

/// Counters for a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub sends: u64,
    pub deliveries: u64,
    pub drops_loss: u64,
    pub drops_partition: u64,
    pub drops_down: u64,
    pub duplicates: u64,
    pub timers_set: u64,
    pub timers_fired: u64,
    pub requests: u64,
    pub responses: u64,
    pub faults: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub violations: u64,
}

impl Stats {
    pub fn drops(&self) -> u64 {
        self.drops_loss + self.drops_partition + self.drops_down
    }
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub end: EndReason,
    /// Virtual time when the run stopped.
    pub end_time: Time,
    pub stats: Stats,
    pub violations: Vec<Violation>,
    /// `(check, line)`: what checkers reported beyond their verdict ([`Checker::findings`]).
    pub findings: Vec<(String, String)>,
    /// For [`EndReason::Runaway`]: how the bound was breached and what filled the queue,
    /// e.g. `1.2 M events in 12.3ms of virtual time (bound: 1,000,000 per second);
    /// pending: n3 -> n1 Ping 98%`.
    pub runaway: Option<String>,
    /// For [`EndReason::EngineError`]: which self-check failed and how
    /// (see `sim_core::selfcheck` in docs/ARCHITECTURE.md).
    pub engine_error: Option<String>,
    /// Structural hash of every event; equal for equal runs even with the trace off.
    pub fingerprint: u64,
    /// The sometimes-properties the run reached, `(index, first reached at)`, in the order
    /// first reached ([`crate::Ctx::reached`]); not part of the trace or the fingerprint.
    pub reached: Vec<(usize, Time)>,
    pub trace: Trace,
    /// Set when the trace's budget ([`SimConfig::trace_budget`]) ran out: the time of the
    /// first event it left out. The trace holds every event before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_cut: Option<Time>,
    /// What the clients asked and got (model `kv` by default; callers may relabel it).
    #[serde(skip)]
    pub history: History,
}

/// In this order (`repr(C)`): what every handler reads (clock, timers) in the first cache
/// line, then the random stream (see [`Simulation::prefetch_next`]), then what only some
/// handlers touch (durable storage, the log).
#[repr(C)]
pub(crate) struct NodeMeta<P: Process> {
    pub(crate) clock: LocalClock,
    pub(crate) timers: Vec<TimerId>,
    pub(crate) parked: Vec<Ev<P>>,
    pub(crate) rng: SimRng,
    /// What survives a crash, and the write-ahead log (made on its first use, see
    /// [`crate::storage`]): here, so a handler's context reaches them through its one
    /// pointer to this node's entry.
    pub(crate) durable: P::Durable,
    pub(crate) disk: Option<Disk>,
}

struct ClientSlot<P: Process, C: Client<P>> {
    state: Option<C>,
    rng: SimRng,
    timers: Vec<(TimerId, C::Timer)>,
    process: u64,
    /// Where the open operation's invoke is in the history.
    open: Option<usize>,
}

/// A [`Fault::CrashAfterSend`] or [`Fault::ClogAfterSend`] in force.
#[derive(Clone, Copy, Debug)]
struct AfterSend {
    p: crate::rng::Probability,
    /// A crash's restart bounds, or how long a clog holds.
    span: (Duration, Duration),
    until: Time,
    kind: Option<u32>,
    node: Option<NodeId>,
    /// Only while the sender leads.
    leader: bool,
    /// In the middle of the handler's sends, decided before it runs.
    partial: bool,
    clog: bool,
}

/// A deterministic simulation of `P` nodes driven by `C` clients.
///
/// ```
/// # use sim_core::*;
/// # struct Echo;
/// # impl Process for Echo {
/// #   type Config = (); type Msg = u32; type Timer = (); type Durable = ();
/// #   type Request = (); type Response = ();
/// #   fn start(ctx: &mut Ctx<'_, Self>) -> Self { if ctx.id() == NodeId(0) { ctx.send(NodeId(1), 7) } Echo }
/// #   fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: u32) {}
/// #   fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
/// # }
/// let config = SimConfig::new(42, 2, Limits::time(Duration::from_secs(1)));
/// let mut sim: Simulation<Echo> = Simulation::new(config, (), ()).unwrap();
/// let report = sim.run();
/// assert_eq!(report.stats.deliveries, 1);
/// assert!(report.trace.to_text().contains("n2 <- n1  7"));
/// ```
pub struct Simulation<P: Process, C: Client<P> = NoClients> {
    seed: u64,
    bus: Bus<P>,
    // The three per-node slices have one entry per node each, from `new` on (boxed, so
    // their lengths never change): [`Self::run_handler`] relies on it. (Each node's
    // durable storage and write-ahead log are in its `meta`.)
    states: Box<[Option<P>]>,
    paused: Box<[bool]>,
    meta: Box<[NodeMeta<P>]>,
    clients: Vec<ClientSlot<P, C>>,
    client_config: C::Config,
    checkers: Vec<Box<dyn Checker<P>>>,
    /// Every checker [`Checker::reads_only_stamp`] (and none is forced to see every
    /// event): after a handler, only the checkers reading a place of its node's
    /// [`Process::check_stamp`] that changed since the last judgement are called.
    stamped: bool,
    /// Per checker, the stamp places it reads (all, when `stamped` is off).
    stamp_reads: Vec<u8>,
    /// Per mask of changed stamp places, the checkers reading one of them: bit `k` for
    /// checker `k` (the first 64 checkers; with more, [`Self::judge`] is used). Entry
    /// `u8::MAX` (no stamp to compare) holds every checker.
    stamp_calls: Box<[u64; 256]>,
    /// The test switch [`Simulation::judge_every_event`].
    every_event: bool,
    /// Per node, the stamp at the last judgement after an event on it.
    stamps: Vec<Option<crate::process::CheckStamp>>,
    limits: Limits,
    stop_on_violation: bool,
    stopped: bool,
    violations: Vec<Violation>,
    runaway: RunawayBound,
    /// Events allowed per runaway window, and where the current window began.
    window_budget: u64,
    window_start: Time,
    window_events: u64,
    /// When the run's time limit ends it ([`Time::MAX`] without one).
    end_time: Time,
    runaway_found: Option<String>,
    engine_error: Option<String>,
    /// The nodes targeted faults chose, by slot ([`Fault::Targeted`]).
    slots: std::collections::BTreeMap<u32, NodeId>,
    /// Draws among several leaders (or any node when none leads): only targeted faults.
    target_rng: SimRng,
    /// [`Fault::CrashAfterSend`] while in force, and its own stream.
    crash_after_send: Vec<AfterSend>,
    /// [`Fault::ClogAfterSend`]'s stream, and until when each node is held by it.
    clog_rng: SimRng,
    clogged_until: Vec<Time>,
    crash_rng: SimRng,
    /// [`Fault::CrashAfterSend`]'s `partial` crashes: their own stream, and the restart
    /// bounds of the one armed for the running handler.
    churn_rng: SimRng,
    armed: Option<(Duration, Duration)>,
}

impl<P: Process, C: Client<P>> Simulation<P, C> {
    /// Builds the cluster; nodes start at time zero in id order, then clients.
    pub fn new(
        config: SimConfig,
        node_config: P::Config,
        client_config: C::Config,
    ) -> Result<Self, String> {
        config.validate()?;
        let seed = config.seed;
        let n = config.nodes.len();
        let mut names = config.nodes;
        names.extend(config.clients.iter().cloned());
        let endpoints = names.len();
        let runaway = config
            .runaway
            .unwrap_or_else(|| RunawayBound::default_for(endpoints));
        let meta = names[..n]
            .iter()
            .map(|name| NodeMeta {
                rng: SimRng::new(seed, &format!("node/{name}")),
                clock: LocalClock::default(),
                timers: Vec::new(),
                parked: Vec::new(),
                durable: P::Durable::default(),
                disk: None,
            })
            .collect();
        let clients = config
            .clients
            .iter()
            .enumerate()
            .map(|(i, name)| ClientSlot {
                state: None,
                rng: SimRng::new(seed, &format!("client/{name}")),
                timers: Vec::new(),
                process: i as u64,
                open: None,
            })
            .collect::<Vec<_>>();
        let mut queue = EventQueue::new();
        for i in 0..n as u32 {
            queue
                .push(Time::ZERO, Ev::Start(i))
                .map_err(|_| "too many nodes for the event queue")?;
        }
        for i in 0..clients.len() as u32 {
            queue
                .push(Time::ZERO, Ev::ClientStart(i))
                .map_err(|_| "too many clients for the event queue")?;
        }
        let bus = Bus {
            now: Time::ZERO,
            node_count: n as u32,
            names,
            queue,
            network: Network::new(endpoints, config.link),
            net_rng: SimRng::new(seed, "net"),
            stats: Stats::default(),
            fingerprint: Fingerprint::default(),
            trace: Trace {
                level: config.trace,
                events: Vec::new(),
            },
            trace_budget: config.trace_budget,
            send_kinds: None,
            send_cut: None,
            trace_cut: None,
            next_id: 0,
            overflow: false,
            history: Vec::new(),
            record_history: true,
            next_process: clients.len() as u64,
            process_names: config
                .clients
                .iter()
                .enumerate()
                .map(|(i, name)| (i as u64, name.clone()))
                .collect(),
            selfcheck: crate::selfcheck::SelfCheck::default(),
            #[cfg(test)]
            broken: None,
            #[cfg(test)]
            general_only: false,
            #[cfg(test)]
            plain_taken: (0, 0),
            #[cfg(test)]
            discards: 0,
            reached: Default::default(),
            node_config,
            storage: StorageConfig::default(),
            seed,
            check_at: 0,
            plain_send: false,
            plain_uncut_send: false,
            plain_deliver: false,
            plain_latency: (0, 0),
        };
        let mut bus = bus;
        bus.refresh_send_path();
        Ok(Simulation {
            seed,
            bus,
            states: (0..n).map(|_| None).collect(),
            paused: vec![false; n].into_boxed_slice(),
            meta,
            clients,
            client_config,
            checkers: Vec::new(),
            stamped: false,
            stamp_reads: Vec::new(),
            stamp_calls: Box::new([0; 256]),
            every_event: false,
            stamps: vec![None; n],
            limits: config.limits,
            stop_on_violation: config.stop_on_violation,
            stopped: false,
            violations: Vec::new(),
            runaway,
            window_budget: runaway.per_window(),
            window_start: Time::ZERO,
            window_events: 0,
            end_time: config
                .limits
                .max_time
                .map_or(Time::MAX, |m| Time::ZERO.plus(m)),
            runaway_found: None,
            engine_error: None,
            slots: std::collections::BTreeMap::new(),
            target_rng: SimRng::new(seed, "nemesis/target"),
            crash_after_send: Vec::new(),
            crash_rng: SimRng::new(seed, "crash-after-send"),
            churn_rng: SimRng::new(seed, "crash-churn"),
            armed: None,
            clog_rng: SimRng::new(seed, "clog-after-send"),
            clogged_until: vec![Time::ZERO; n],
        })
    }

    // ----- setup and inspection -------------------------------------------------------

    /// Schedules a fault at `at` (faults at the same instant apply in scheduling order).
    pub fn schedule(&mut self, at: Time, fault: Fault) {
        self.bus.enqueue(at, Ev::Fault(Box::new(fault)));
    }

    /// Breaks one engine path on purpose (the self-checks' tests).
    #[cfg(test)]
    pub(crate) fn break_path(&mut self, path: BrokenPath) {
        self.bus.broken = Some(path);
    }

    /// Sends every delivery and message the general way (the plain paths' tests).
    #[cfg(test)]
    pub(crate) fn general_only(&mut self) {
        self.bus.general_only = true;
    }

    /// How many cancelled timers were dropped in their slots so far (tests only).
    #[cfg(test)]
    pub(crate) fn discards(&self) -> u64 {
        self.bus.discards
    }

    /// How many deliveries and sends took their plain paths so far (tests only).
    #[cfg(test)]
    pub(crate) fn plain_taken(&self) -> (u64, u64) {
        self.bus.plain_taken
    }

    /// Whether the clients' history is recorded (the default). A caller that will not
    /// read [`Report::history`] (no history check, no export) turns it off: the run is
    /// the same event for event (same fingerprint, stats and verdicts of every other
    /// check), only `history.events` stays empty. A trace (summary or full) records it
    /// anyway, since its invoke and complete lines come from it. Set it before the run.
    pub fn record_history(&mut self, on: bool) {
        self.bus.record_history = on;
    }

    /// Adds a checker; it sees every event from now on.
    pub fn add_checker(&mut self, checker: Box<dyn Checker<P>>) {
        let reads = checker.reads_only_stamp().unwrap_or(u8::MAX);
        let k = self.checkers.len();
        if k < 64 {
            for (changed, calls) in self.stamp_calls.iter_mut().enumerate() {
                if changed == usize::from(u8::MAX) || reads & changed as u8 != 0 {
                    *calls |= 1 << k;
                }
            }
        }
        self.stamp_reads.push(reads);
        self.checkers.push(checker);
        self.stamped =
            !self.every_event && self.checkers.iter().all(|c| c.reads_only_stamp().is_some());
    }

    /// Calls every checker after every event, even where [`Process::check_stamp`] says
    /// nothing they read changed (the tests that show the skipping changes no verdict).
    pub fn judge_every_event(&mut self) {
        self.every_event = true;
        self.stamped = false;
    }

    /// Sets how the nodes' disks behave (sync latency, what a crash loses); the default
    /// loses nothing. Set it before the run starts.
    pub fn set_storage(&mut self, storage: StorageConfig) {
        self.bus.storage = storage;
    }

    /// A node's write-ahead log as it is now; `None` if it was never appended to.
    pub fn log<R: 'static>(&self, id: NodeId) -> Option<&Wal<R>> {
        self.meta[id.index()].disk.as_ref()?.wal::<R>()
    }

    /// Overrides one link (or all links out of / into an endpoint) before or during a run.
    pub fn set_link(&mut self, from: Option<Addr>, to: Option<Addr>, update: LinkUpdate) {
        let (f, t) = (from.map(|a| self.endpoint(a)), to.map(|a| self.endpoint(a)));
        self.bus.network.update(f, t, &update);
        self.bus.refresh_send_path();
    }

    /// Looks a node or client up by name.
    pub fn addr(&self, name: &str) -> Option<Addr> {
        let i = self.bus.names.iter().position(|n| n == name)? as u32;
        Some(if i < self.bus.node_count {
            Addr::Node(NodeId(i))
        } else {
            Addr::Client(ClientId(i - self.bus.node_count))
        })
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        match self.addr(name)? {
            Addr::Node(n) => Some(n),
            Addr::Client(_) => None,
        }
    }

    pub fn name(&self, addr: Addr) -> &str {
        &self.bus.names[self.endpoint(addr) as usize]
    }

    pub fn node_count(&self) -> usize {
        self.bus.node_count as usize
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.bus.now
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A node's volatile state (`None` while crashed or before it starts).
    pub fn node(&self, id: NodeId) -> Option<&P> {
        self.states[id.index()].as_ref()
    }

    pub fn durable(&self, id: NodeId) -> &P::Durable {
        &self.meta[id.index()].durable
    }

    pub fn client(&self, id: ClientId) -> Option<&C> {
        self.clients[id.index()].state.as_ref()
    }

    /// What the node's wall clock reads now (steps and drift included).
    pub fn wall_clock(&self, id: NodeId) -> Time {
        self.meta[id.index()].clock.wall(self.bus.now)
    }

    /// What the node's monotonic clock reads now (drift included, steps not).
    pub fn monotonic(&self, id: NodeId) -> Time {
        self.meta[id.index()].clock.monotonic(self.bus.now)
    }

    pub fn is_paused(&self, id: NodeId) -> bool {
        self.paused[id.index()]
    }

    pub fn stats(&self) -> &Stats {
        &self.bus.stats
    }

    pub fn network(&self) -> &Network {
        &self.bus.network
    }

    /// The trace recorded so far (handed over to the [`Report`] when the run ends).
    pub fn trace(&self) -> &Trace {
        &self.bus.trace
    }

    /// Events still queued.
    pub fn pending(&self) -> usize {
        self.bus.queue.len()
    }

    fn endpoint(&self, a: Addr) -> u32 {
        match a {
            Addr::Node(n) => n.0,
            Addr::Client(c) => self.bus.node_count + c.0,
        }
    }

    // ----- running ------------------------------------------------------------------

    /// Runs to the end (limits, quiescence or the first violation) and reports.
    pub fn run(&mut self) -> Report {
        // One loop for each prefetch setting, so a small cluster's loop has no prefetch
        // test in it (the cluster size never changes during a run).
        let end = if self.meta.len() < PREFETCH_FROM_NODES {
            self.run_loop::<false>()
        } else {
            self.run_loop::<true>()
        };
        self.finish(end)
    }

    fn run_loop<const PREFETCH: bool>(&mut self) -> EndReason {
        loop {
            if let Some(end) = self.step_with::<PREFETCH>() {
                break end;
            }
        }
    }

    /// Runs every event up to and including virtual time `t` (or until the run ends);
    /// returns why it ended, if it did.
    pub fn run_until(&mut self, t: Time) -> Option<EndReason> {
        while self.bus.queue.peek_time().is_some_and(|next| next <= t) {
            if let Some(end) = self.step() {
                return Some(end);
            }
        }
        if self.limits.max_time.is_none_or(|m| t <= Time::ZERO.plus(m)) {
            self.bus.now = self.bus.now.max(t);
        }
        None
    }

    /// Handles one event; `Some(reason)` once the run is over.
    #[inline]
    pub fn step(&mut self) -> Option<EndReason> {
        if self.meta.len() < PREFETCH_FROM_NODES {
            self.step_with::<false>()
        } else {
            self.step_with::<true>()
        }
    }

    /// [`Self::step`], prefetching the next event's memory when `PREFETCH` (clusters of
    /// [`PREFETCH_FROM_NODES`] or more).
    #[inline(always)]
    fn step_with<const PREFETCH: bool>(&mut self) -> Option<EndReason> {
        let events = self.bus.stats.events;
        // A full queue, a stop and the event-count checks (runaway window, pending
        // bound, event limit) can only end the run at or after `check_at` (0 once the
        // queue overflowed or the run stopped): one compare per event until then.
        if events >= self.bus.check_at {
            if let Some(end) = self.count_checks(events) {
                return Some(end);
            }
        }
        let Some(next) = self.bus.queue.peek_time() else {
            return Some(EndReason::Quiescent);
        };
        if next > self.end_time {
            self.bus.now = self.end_time;
            return Some(EndReason::TimeLimit);
        }
        let (time, slot) = self.bus.queue.pop_slot().expect("peeked");
        if PREFETCH {
            self.prefetch_next();
        }
        self.bus.now = time;
        self.bus.stats.events += 1;
        self.bus.fingerprint.mix(time.as_nanos());
        // Deliveries are nearly every event: look at them in their queue slot and move
        // the message out once, straight into its handler. (Moving the whole event out
        // by value had the compiler split it into pieces and reassemble the message in
        // another layout, whose 16-byte reads then stalled on the pieces' stores: a fifth
        // of a pingstorm delivery at N=5.)
        // SAFETY: `slot` was just popped.
        if let &Ev::Deliver {
            from,
            to,
            lost,
            sent,
            ..
        } = unsafe { self.bus.queue.get_popped(slot) }
        {
            self.deliver(slot, from, to, lost, sent);
        } else if self.cancelled_timer(slot) {
            // What `handle` does with it, without moving the event out and calling it.
            #[cfg(test)]
            {
                self.bus.discards += 1;
            }
            self.bus.queue.discard(slot);
        } else {
            let ev = self.bus.queue.take(slot);
            self.handle(ev);
        }
        None
    }

    /// Is the event popped into `slot` a timer that was cancelled (or superseded), of a
    /// live, running node or of a client? [`Self::handle`] would just drop it: a client's
    /// deadline and retry are cancelled by nearly every answer, so about one event in
    /// seven on the Raft bench is one. (A timer of a node down or paused takes `handle`.)
    #[inline(always)]
    fn cancelled_timer(&self, slot: u32) -> bool {
        #[cfg(test)]
        {
            if self.bus.general_only {
                return false;
            }
        }
        // SAFETY: `slot` was just popped and not taken.
        match *unsafe { self.bus.queue.get_popped(slot) } {
            Ev::ClientTimer(i, id) => !self.clients[i as usize]
                .timers
                .iter()
                .any(|&(t, _)| t == id),
            Ev::NodeTimer(i, id, _) => {
                let idx = i as usize;
                self.states[idx].is_some()
                    && !self.paused[idx]
                    && !self.meta[idx].timers.contains(&id)
            }
            _ => false,
        }
    }

    /// A full queue's and a stop's end, then the runaway bound's and the event limit's
    /// checks, in that order, at event count `events` (at or after `check_at`); then the
    /// next count at which one can fire.
    #[cold]
    #[inline(never)]
    fn count_checks(&mut self, events: u64) -> Option<EndReason> {
        if self.bus.overflow {
            return Some(EndReason::QueueFull);
        }
        if self.stopped {
            return Some(if self.engine_error.is_some() {
                EndReason::EngineError
            } else {
                EndReason::Violation
            });
        }
        if (events - self.window_events >= self.window_budget || events & PENDING_CHECK_EVERY == 0)
            && self.breaches_runaway_bound()
        {
            return Some(EndReason::Runaway);
        }
        if self.limits.max_events.is_some_and(|m| events >= m) {
            return Some(EndReason::EventLimit);
        }
        self.bus.check_at = self.next_check(events);
        None
    }

    /// The first event count after `events` at which a count check can fire: the end of
    /// the runaway window's budget, the next pending check, the event limit.
    fn next_check(&self, events: u64) -> u64 {
        let window = self.window_events.saturating_add(self.window_budget);
        let pending = (events | PENDING_CHECK_EVERY) + 1;
        let limit = self.limits.max_events.unwrap_or(u64::MAX);
        window.min(pending).min(limit).max(events + 1)
    }

    /// Has the run breached its runaway bound? Called when the window's budget is spent
    /// (a window that lasted [`RUNAWAY_WINDOW`] or more starts afresh) and every 16,384
    /// events for the pending bound; on a breach it writes the diagnosis.
    #[cold]
    fn breaches_runaway_bound(&mut self) -> bool {
        let now = self.bus.now;
        let events = self.bus.stats.events;
        if events - self.window_events >= self.window_budget {
            let spent = now.since(self.window_start);
            if spent >= RUNAWAY_WINDOW {
                self.window_start = now;
                self.window_events = events;
            } else {
                let what = format!(
                    "{} events in {} of virtual time (bound: {} per second)",
                    count_text(events - self.window_events),
                    spent.readable(),
                    thousands(self.runaway.events_per_second)
                );
                self.runaway_found = Some(self.diagnose(what));
                return true;
            }
        }
        let pending = self.bus.queue.len() as u64;
        if pending > self.runaway.max_pending {
            let what = format!(
                "{} events pending at once (bound: {})",
                count_text(pending),
                thousands(self.runaway.max_pending)
            );
            self.runaway_found = Some(self.diagnose(what));
            return true;
        }
        false
    }

    /// `what`, then what the pending events mostly are:
    /// `pending: 12.3 k, 98% Ping, most on n3 -> n1 (40%)`. Looks at no more than 200,000.
    fn diagnose(&self, what: String) -> String {
        let mut kinds: indexmap::IndexMap<String, u64> = indexmap::IndexMap::new();
        let mut links: indexmap::IndexMap<(u32, u32), u64> = indexmap::IndexMap::new();
        let mut seen = 0u64;
        for ev in self.bus.queue.pending().take(200_000) {
            let kind = match ev {
                Ev::Deliver { from, to, wire, .. } => {
                    *links.entry((*from, *to)).or_default() += 1;
                    kind_of(&wire.describe()).to_string()
                }
                Ev::NodeTimer(_, _, tag) => format!("timer {}", kind_of(&format!("{tag:?}"))),
                Ev::ClientTimer(..) => "client timer".into(),
                Ev::Fault(_) => "fault".into(),
                Ev::Synced { .. } => "sync".into(),
                Ev::Start(_) | Ev::ClientStart(_) => "start".into(),
            };
            *kinds.entry(kind).or_default() += 1;
            seen += 1;
        }
        let pct = |n: u64| n * 100 / seen.max(1);
        let Some((kind, n)) = top(&kinds) else {
            return what;
        };
        let mut text = format!(
            "{what}; pending: {}, {}% {kind}",
            count_text(self.bus.queue.len() as u64),
            pct(n)
        );
        if let Some(((from, to), n)) = top(&links) {
            let _ = write!(
                text,
                ", most on {} -> {} ({}%)",
                self.bus.names[from as usize],
                self.bus.names[to as usize],
                pct(n)
            );
        }
        text
    }

    /// Memory hints for large clusters, where the next event's payload and its node's state
    /// are rarely in cache: start loading them while this event runs. Changes no result.
    #[inline]
    /// Small clusters stay in cache; there the hints cost more than they save, so only
    /// clusters of [`PREFETCH_FROM_NODES`] or more call this.
    fn prefetch_next(&self) {
        let queue = &self.bus.queue;
        queue.prefetch_second();
        if let Some(Ev::Deliver { to, .. }) = queue.peek() {
            if let Some(meta) = self.meta.get(*to as usize) {
                // The clock and timer list, and the lines of the random stream its next
                // draw reads (not the whole stream: most of it is read only on a refill).
                crate::prefetch::prefetch(meta);
                meta.rng.prefetch_next_draw();
                crate::prefetch::prefetch(&self.states[*to as usize]);
            }
        }
    }

    /// Runs the end-of-run checks and hands over the trace and history.
    fn finish(&mut self, end: EndReason) -> Report {
        // A runaway's end-of-run checks would judge a storm, and could take as long.
        if !matches!(
            end,
            EndReason::Violation | EndReason::Runaway | EndReason::EngineError
        ) {
            self.judge(None, u8::MAX);
        }
        // A full queue refused events, so what is in flight is not all that was sent.
        let end = if end != EndReason::QueueFull && self.engine_error.is_none() {
            match self.conservation() {
                Ok(()) => end,
                Err(e) => {
                    self.engine_error(e);
                    EndReason::EngineError
                }
            }
        } else {
            end
        };
        let findings = self
            .checkers
            .iter()
            .flat_map(|c| {
                let name = c.name().to_string();
                c.findings().into_iter().map(move |f| (name.clone(), f))
            })
            .collect();
        Report {
            seed: self.seed,
            end,
            end_time: self.bus.now,
            stats: self.bus.stats,
            violations: self.violations.clone(),
            findings,
            runaway: self.runaway_found.clone(),
            engine_error: self.engine_error.clone(),
            fingerprint: self.bus.fingerprint.value(),
            reached: self.bus.reached.take(),
            trace: Trace {
                level: self
                    .bus
                    .trace_cut
                    .map_or(self.bus.trace.level, |(_, level)| level),
                events: std::mem::take(&mut self.bus.trace.events),
            },
            trace_cut: self.bus.trace_cut.map(|(t, _)| t),
            history: History {
                model: ModelKind::Kv,
                init: None,
                events: std::mem::take(&mut self.bus.history),
                process_names: std::mem::take(&mut self.bus.process_names),
            },
        }
    }

    /// Every event but a delivery (those are handled in [`Self::step`]).
    #[inline(never)]
    fn handle(&mut self, ev: Ev<P>) {
        match ev {
            Ev::Deliver { .. } => unreachable!("deliveries are handled in step, in place"),
            Ev::Start(i) => {
                self.bus.fingerprint.mix(K_START << 32 | u64::from(i));
                self.start_node(i, false);
            }
            Ev::ClientStart(i) => {
                self.bus
                    .fingerprint
                    .mix(K_START << 32 | u64::from(self.bus.node_count + i));
                self.with_client(i, |state, ctx| *state = Some(C::start(ctx)));
            }
            Ev::NodeTimer(i, id, tag) => {
                let idx = i as usize;
                if self.states[idx].is_none() {
                    return;
                }
                if self.paused[idx] && !self.bus.broken(BrokenPath::TimersFireWhilePaused) {
                    self.meta[idx].parked.push(Ev::NodeTimer(i, id, tag));
                    return;
                }
                let timers = &mut self.meta[idx].timers;
                let Some(pos) = timers.iter().position(|&t| t == id) else {
                    return; // cancelled
                };
                timers.swap_remove(pos);
                self.bus.stats.timers_fired += 1;
                self.bus.fingerprint.mix(K_TIMER << 32 | u64::from(i));
                if self.bus.full() {
                    self.bus.record(TraceKind::Timer {
                        node: self.bus.name(i),
                        timer: format!("{tag:?}"),
                    });
                }
                self.with_node(i, |p, ctx| p.on_timer(ctx, tag));
            }
            Ev::ClientTimer(i, id) => {
                let timers = &mut self.clients[i as usize].timers;
                let Some(pos) = timers.iter().position(|(t, _)| *t == id) else {
                    return; // cancelled
                };
                let (_, tag) = timers.swap_remove(pos);
                self.bus.stats.timers_fired += 1;
                let endpoint = self.bus.node_count + i;
                self.bus
                    .fingerprint
                    .mix(K_TIMER << 32 | u64::from(endpoint));
                if self.bus.full() {
                    self.bus.record(TraceKind::Timer {
                        node: self.bus.name(endpoint),
                        timer: format!("{tag:?}"),
                    });
                }
                self.with_client(i, |state, ctx| {
                    if let Some(c) = state.as_mut() {
                        c.on_timer(ctx, tag);
                    }
                });
            }
            Ev::Fault(f) => self.apply_fault(*f),
            Ev::Synced { node, epoch, upto } => self.synced(node, epoch, upto),
        }
    }

    /// A sync completes, unless its node crashed since asking (then it never does).
    fn synced(&mut self, i: u32, epoch: u64, upto: u64) {
        let idx = i as usize;
        if self.states[idx].is_none() {
            return;
        }
        let Some(disk) = self.meta[idx].disk.as_mut() else {
            return;
        };
        if disk.epoch != epoch {
            return;
        }
        if self.paused[idx] {
            self.meta[idx].parked.push(Ev::Synced {
                node: i,
                epoch,
                upto,
            });
            return;
        }
        let newly = disk.mark_synced(upto);
        self.bus.fingerprint.mix(K_SYNCED << 32 | u64::from(i));
        if self.bus.summary() {
            let node = self.bus.name(i);
            let s = if newly == 1 { "" } else { "s" };
            self.bus.record(TraceKind::Disk {
                node,
                text: format!("synced {newly} record{s} (upto {upto})"),
            });
        }
        self.with_node(i, |p, ctx| p.on_synced(ctx, upto));
    }

    /// The message of the delivery in queue slot `slot` (popped, not yet taken).
    #[inline(always)]
    fn wire_at(&self, slot: u32) -> &Wire<P> {
        match self.bus.queue.get(slot) {
            Ev::Deliver { wire, .. } => wire,
            _ => unreachable!("slot {slot} holds a delivery"),
        }
    }

    /// Moves the message of the delivery in queue slot `slot` out, freeing the slot.
    #[inline(always)]
    fn take_wire(&mut self, slot: u32) -> Wire<P> {
        match self.bus.queue.take(slot) {
            Ev::Deliver { wire, .. } => wire,
            _ => unreachable!("slot {slot} holds a delivery"),
        }
    }

    /// Drops the delivery in queue slot `slot`, counting and tracing it.
    #[cold]
    #[inline(never)]
    fn drop_at(&mut self, slot: u32, from: u32, to: u32, reason: DropReason) {
        let wire = self.take_wire(slot);
        self.bus.drop_message(from, to, &wire, reason);
    }

    /// The delivery popped into queue slot `slot`: its message is moved out of the slot
    /// once, by whichever path takes it.
    #[inline(always)]
    fn deliver(&mut self, slot: u32, from: u32, to: u32, lost: bool, sent: u32) {
        // The common case in one flag and the node's state: no cut on record, no full
        // trace, no crash-after-send (`plain_deliver`), a message to a node that is up
        // and running. It does what the checks below would lead it to.
        if !lost && self.bus.plain_deliver && to < self.bus.node_count {
            let idx = to as usize;
            debug_assert!(idx < self.states.len() && idx < self.paused.len());
            // SAFETY: `to < node_count`, and every per-node slice has `node_count`
            // entries (built so in `new`; boxed slices never change length).
            let (up, paused) = unsafe {
                (
                    self.states.get_unchecked(idx).is_some(),
                    *self.paused.get_unchecked(idx),
                )
            };
            if up & !paused
                && matches!(self.wire_at(slot), Wire::Msg(_))
                && self.bus.plain_allowed(true)
            {
                debug_assert!(
                    self.crash_after_send.is_empty()
                        && !self.bus.full()
                        && !self.bus.selfcheck.crossed_cut(from, to, sent),
                    "plain_deliver is stale"
                );
                self.bus.delivered_plain(from, to);
                self.run_handler_in::<true>(to, |p, ctx| {
                    // SAFETY: `slot` was just popped and holds a message (checked
                    // above); a delivery's other fields are plain integers.
                    let m = unsafe { ctx.bus.queue.take_part_unchecked(slot, message_of::<P>) };
                    p.on_message(ctx, NodeId(from), m.into_inner())
                });
                return;
            }
        }
        self.deliver_checked(slot, from, to, lost, sent);
    }

    /// [`Self::deliver`] with every check in turn (a cut on record, a full trace, a
    /// crash-after-send, a node down or paused).
    #[inline(always)]
    fn deliver_checked(&mut self, slot: u32, from: u32, to: u32, lost: bool, sent: u32) {
        if lost {
            self.drop_at(slot, from, to, DropReason::Partition);
            return;
        }
        if self.bus.selfcheck.crossed_cut(from, to, sent) {
            let (f, t) = (self.bus.name(from), self.bus.name(to));
            let what = self.wire_at(slot).describe();
            self.bus.queue.take(slot);
            self.engine_error(format!(
                "cut: {f} -> {t} {what} arrives, but a cut between {f} and {t} was in force after it was sent",
            ));
            return;
        }
        if to < self.bus.node_count {
            let idx = to as usize;
            // The common case, in one test: a message to a live, running node with no
            // crash-after-send in force. It takes the path the checks below lead it to,
            // without their second look at the node and the fault bookkeeping.
            debug_assert!(idx < self.states.len() && idx < self.paused.len());
            // SAFETY: `to < node_count`, and every per-node slice has `node_count`
            // entries (built so in `new`; boxed slices never change length).
            let (up, paused) = unsafe {
                (
                    self.states.get_unchecked(idx).is_some(),
                    *self.paused.get_unchecked(idx),
                )
            };
            if up & !paused
                && self.crash_after_send.is_empty()
                && matches!(self.wire_at(slot), Wire::Msg(_))
                && self.bus.plain_allowed(true)
            {
                self.bus.delivered_at(from, to, slot);
                self.run_handler_in::<true>(to, |p, ctx| {
                    // SAFETY: `slot` was just popped and holds a message (checked
                    // above); a delivery's other fields are plain integers.
                    let m = unsafe { ctx.bus.queue.take_part_unchecked(slot, message_of::<P>) };
                    p.on_message(ctx, NodeId(from), m.into_inner())
                });
                return;
            }
            if self.states[idx].is_none() && !self.bus.broken(BrokenPath::DeliverToCrashed) {
                self.drop_at(slot, from, to, DropReason::Down);
                return;
            }
            if self.paused[idx] && !self.bus.broken(BrokenPath::DeliverWhilePaused) {
                // It has arrived: a cut added while it waits does not take it back.
                let wire = self.take_wire(slot);
                self.meta[idx].parked.push(Ev::Deliver {
                    from,
                    to,
                    wire,
                    lost: false,
                    sent: crate::selfcheck::SelfCheck::ARRIVED,
                });
                return;
            }
            if self.states[idx].is_none() || self.paused[idx] {
                let state = if self.paused[idx] { "paused" } else { "down" };
                let what = self.wire_at(slot).describe();
                self.bus.queue.take(slot);
                self.engine_error(format!(
                    "delivery: {} -> {} {what} is delivered while {} is {state}",
                    self.bus.name(from),
                    self.bus.name(to),
                    self.bus.name(to)
                ));
                return;
            }
            if matches!(self.wire_at(slot), Wire::Msg(_)) {
                self.bus.delivered_at(from, to, slot);
                // The message leaves its slot inside the handler's call, so it is moved
                // once, from the queue to the handler's argument.
                // Up and not paused (checked above): straight to the handler.
                let ran = self.run_handler(to, |p, ctx| {
                    // SAFETY: a delivery's other fields (endpoints, generation, flag)
                    // are plain integers and need no drop.
                    let m = unsafe { ctx.bus.queue.take_part(slot, message_of::<P>) }
                        .expect("the slot holds a message");
                    p.on_message(ctx, NodeId(from), m.into_inner())
                });
                if !ran {
                    self.bus.queue.take(slot);
                }
                return;
            }
            let wire = self.take_wire(slot);
            self.bus.delivered(from, to, &wire);
            match wire {
                Wire::Msg(_) => unreachable!("handled above"),
                Wire::Request(id, r) => {
                    let client = ClientId(from - self.bus.node_count);
                    self.with_node(to, |p, ctx| p.on_request(ctx, client, id, r));
                }
                Wire::Response(..) => unreachable!("nodes are never sent responses"),
            }
        } else {
            let wire = self.take_wire(slot);
            self.bus.delivered(from, to, &wire);
            if let Wire::Response(id, r) = wire {
                self.bus.stats.responses += 1;
                let node = NodeId(from);
                self.with_client(to - self.bus.node_count, |state, ctx| {
                    if let Some(c) = state.as_mut() {
                        c.on_response(ctx, node, id, r);
                    }
                });
            }
        }
    }

    fn start_node(&mut self, i: u32, restarted: bool) {
        let idx = i as usize;
        if self.bus.summary() {
            self.bus.record(TraceKind::Start {
                node: self.bus.name(i),
                restart: restarted,
            });
        }
        let mut ctx = Ctx {
            bus: &mut self.bus,
            me: NodeId(i),
            restarted,
            node: &mut self.meta[idx],
        };
        let state = P::start(&mut ctx);
        self.states[idx] = Some(state);
        self.run_checkers(NodeId(i));
    }

    /// Runs a handler on live node `i`, then the checkers.
    /// Whether it ran (not if the node is down, or paused: an engine error).
    #[inline]
    fn with_node(&mut self, i: u32, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) -> bool {
        let idx = i as usize;
        if self.paused[idx] {
            let name = self.bus.name(i);
            self.engine_error(format!(
                "pause: a handler of {name} runs while {name} is paused"
            ));
            return false;
        }
        self.run_handler(i, f)
    }

    /// [`Self::with_node`] for a node known not to be paused (a delivery, which checked).
    #[inline(always)]
    fn run_handler(&mut self, i: u32, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) -> bool {
        self.run_handler_in::<false>(i, f)
    }

    /// [`Self::run_handler`]; `PLAIN` when the caller checked that node `i` is up and no
    /// crash-after-send is in force (so there is no partial crash to arm, no sends to
    /// note and nothing to crash after them: `send_kinds` is on exactly while one is).
    #[inline(always)]
    fn run_handler_in<const PLAIN: bool>(
        &mut self,
        i: u32,
        f: impl FnOnce(&mut P, &mut Ctx<'_, P>),
    ) -> bool {
        let idx = i as usize;
        debug_assert!(!self.paused[idx], "run_handler on paused {i}");
        debug_assert!(
            !PLAIN
                || (self.states[idx].is_some()
                    && self.crash_after_send.is_empty()
                    && self.bus.send_kinds.is_none()
                    && self.armed.is_none())
        );
        // One bounds check (the next line's) for the node's four entries: the per-node
        // slices all have the same length (see the struct), so `idx` is in range in each.
        debug_assert!(
            self.meta.len() == self.states.len() && self.paused.len() == self.states.len()
        );
        if !PLAIN && !self.crash_after_send.is_empty() {
            self.arm_partial_crash(i);
        }
        let state = if PLAIN {
            // SAFETY: `idx < states.len()` and the node is up (the caller's check).
            unsafe {
                self.states
                    .get_unchecked_mut(idx)
                    .as_mut()
                    .unwrap_unchecked()
            }
        } else {
            let Some(state) = self.states[idx].as_mut() else {
                self.bus.send_cut = None;
                self.armed = None;
                return false;
            };
            state
        };
        // SAFETY: `idx < self.states.len()` (indexed above), which is the length of
        // `meta` too: built with one entry per node in `new`, boxed slices never change
        // length.
        let meta = unsafe { self.meta.get_unchecked_mut(idx) };
        let mut ctx = Ctx {
            bus: &mut self.bus,
            me: NodeId(i),
            restarted: false,
            node: meta,
        };
        if !PLAIN {
            if let Some((_, sent)) = ctx.bus.send_kinds.as_mut() {
                sent.clear();
            }
        }
        f(state, &mut ctx);
        let sent = !PLAIN
            && self
                .bus
                .send_kinds
                .as_ref()
                .is_some_and(|(_, sent)| !sent.is_empty());
        if self.stamped {
            // The checkers read only the stamp's fields: unchanged, they would find what
            // they found after the node's last judged event.
            let stamp = state.check_stamp(&self.meta[idx].durable);
            let changed = match (stamp, self.stamps[idx]) {
                // (A fixed-length loop without branches, which the compiler unrolls
                // into a few wide compares.)
                (Some(now), Some(then)) => {
                    let mut m = 0u8;
                    for k in 0..now.len() {
                        m |= u8::from(now[k] != then[k]) << k;
                    }
                    m
                }
                _ => u8::MAX,
            };
            if changed != 0 {
                self.stamps[idx] = stamp;
                if self.checkers.len() <= 64 {
                    // The checkers to call, looked up at once (not each one's test).
                    let calls = self.stamp_calls[usize::from(changed)];
                    if calls != 0 {
                        self.judge_calls(NodeId(i), calls);
                    }
                } else {
                    self.judge(Some(NodeId(i)), changed);
                }
            }
        } else {
            self.run_checkers(NodeId(i));
        }
        if PLAIN {
            return true;
        }
        if let Some(span) = self.armed.take() {
            let cut = self.bus.send_cut.take();
            if cut.is_some_and(|(_, n)| n > 0) && !self.stopped {
                let now = self.bus.now;
                let after = log_span(&mut self.churn_rng, span);
                self.apply_fault(Fault::Crash(NodeId(i)));
                self.schedule(now.plus(after), Fault::Restart(NodeId(i)));
                return true;
            }
        }
        if sent {
            self.maybe_crash_after_send(i);
        }
        true
    }

    /// [`Fault::CrashAfterSend`]'s `partial`: before node `i`'s handler runs, decide
    /// whether it crashes in the middle of its sends, and after how many.
    fn arm_partial_crash(&mut self, i: u32) {
        let now = self.bus.now;
        let n = self.states.len() as u64;
        for k in 0..self.crash_after_send.len() {
            let a = self.crash_after_send[k];
            if !a.partial || now >= a.until || a.node.is_some_and(|n| n.0 != i) {
                continue;
            }
            let Some(state) = self.states[i as usize].as_ref() else {
                return;
            };
            if a.leader && !state.leads() {
                continue;
            }
            if self.stopped || !self.churn_rng.chance(a.p) {
                continue;
            }
            let out = self.churn_rng.below(n.saturating_sub(1).max(1)) as u32;
            self.bus.send_cut = Some((out, 0));
            self.armed = Some(a.span);
            return;
        }
    }

    /// [`Fault::CrashAfterSend`], [`Fault::ClogAfterSend`]: node `i` just sent; it may
    /// crash, or have its links held, now (each in force in the order applied).
    fn maybe_crash_after_send(&mut self, i: u32) {
        if self.crash_after_send.is_empty() {
            return;
        }
        let now = self.bus.now;
        self.crash_after_send.retain(|a| now < a.until);
        if self.crash_after_send.is_empty() {
            self.bus.send_kinds = None;
            self.bus.refresh_send_path();
            return;
        }
        for k in 0..self.crash_after_send.len() {
            let a = self.crash_after_send[k];
            if a.partial || a.node.is_some_and(|n| n.0 != i) {
                continue;
            }
            if a.leader && !self.states[i as usize].as_ref().is_some_and(P::leads) {
                continue;
            }
            if let Some(kind) = a.kind {
                let (_, sent) = self.bus.send_kinds.as_ref().expect("on while in force");
                if !sent.contains(&kind) {
                    continue;
                }
            }
            if a.clog && now < self.clogged_until[i as usize] {
                continue;
            }
            if self.stopped {
                return;
            }
            let rng = if a.clog {
                &mut self.clog_rng
            } else {
                &mut self.crash_rng
            };
            if !rng.chance(a.p) {
                continue;
            }
            // Log-uniform: a restart within a message's latency (the interesting case: the
            // node is back before what was sent to it lands) is as likely as a long one.
            let (lo, hi) = a.span;
            let (lo_ns, hi_ns) = (lo.as_nanos().max(1) as f64, hi.as_nanos().max(1) as f64);
            let u = rng.unit_f64();
            let after = libm::exp(libm::log(lo_ns) + u * (libm::log(hi_ns) - libm::log(lo_ns)));
            let after = Duration::from_nanos(
                (after as u64).clamp(lo.as_nanos(), hi.as_nanos().max(lo.as_nanos())),
            );
            if a.clog {
                let until = now.plus(after).min(a.until);
                self.clogged_until[i as usize] = until;
                self.apply_fault(Fault::Clog {
                    on: DelayOn::Endpoint(Addr::Node(NodeId(i))),
                    until,
                });
            } else {
                self.apply_fault(Fault::Crash(NodeId(i)));
                self.schedule(now.plus(after), Fault::Restart(NodeId(i)));
                return;
            }
        }
    }

    /// The node a targeted fault reaches now, kept under its slot.
    fn pick(&mut self, pick: crate::fault::Pick) -> Option<NodeId> {
        match pick {
            crate::fault::Pick::Slot(k) => self.slots.get(&k).copied(),
            crate::fault::Pick::Leader(k) => {
                let live: Vec<NodeId> = (0..self.states.len())
                    .filter(|&i| self.states[i].is_some() && !self.paused[i])
                    .map(|i| NodeId(i as u32))
                    .collect();
                let leaders: Vec<NodeId> = live
                    .iter()
                    .copied()
                    .filter(|n| self.states[n.index()].as_ref().is_some_and(P::leads))
                    .collect();
                let from = if leaders.is_empty() { live } else { leaders };
                let n = match from.len() {
                    0 => None,
                    1 => Some(from[0]),
                    _ => self.target_rng.pick(&from).copied(),
                }?;
                self.slots.insert(k, n);
                Some(n)
            }
        }
    }

    fn with_client(&mut self, i: u32, f: impl FnOnce(&mut Option<C>, &mut ClientCtx<'_, P, C>)) {
        let slot = &mut self.clients[i as usize];
        let mut ctx = ClientCtx {
            bus: &mut self.bus,
            me: ClientId(i),
            config: &self.client_config,
            rng: &mut slot.rng,
            timers: &mut slot.timers,
            process: &mut slot.process,
            open: &mut slot.open,
        };
        f(&mut slot.state, &mut ctx);
    }

    #[inline(always)]
    fn run_checkers(&mut self, node: NodeId) {
        if !self.checkers.is_empty() {
            if self.stamped {
                let i = node.index();
                self.stamps[i] = self.states[i]
                    .as_ref()
                    .and_then(|s| s.check_stamp(&self.meta[i].durable));
            }
            self.judge(Some(node), u8::MAX);
        }
    }

    /// Asks every checker: after an event on `node`, or at the end of the run (`None`);
    /// after an event, only those reading a stamp place in `changed` (all: `u8::MAX`).
    fn judge(&mut self, node: Option<NodeId>, changed: u8) {
        let view = View {
            now: self.bus.now,
            states: &self.states,
            meta: &self.meta,
            paused: &self.paused,
            names: &self.bus.names,
        };
        let mut found = Vec::new();
        for (c, &reads) in self.checkers.iter_mut().zip(&self.stamp_reads) {
            if changed != u8::MAX && reads & changed == 0 {
                continue; // nothing it reads changed
            }
            let verdict = match node {
                Some(n) => c.after_event(&view, n),
                None => c.at_end(&view),
            };
            if let Err(message) = verdict {
                found.push((c.name().to_string(), message));
            }
        }
        for (check, message) in found {
            self.violation(check, message);
        }
    }

    /// [`Self::judge`] after an event on `node`, of the checkers whose bits are set in
    /// `calls` (from `stamp_calls`), in the same order: those reading a stamp place that
    /// changed.
    #[inline(never)]
    fn judge_calls(&mut self, node: NodeId, mut calls: u64) {
        debug_assert!(
            self.checkers.len() == 64
                || (self.checkers.len() < 64 && calls >> self.checkers.len() == 0)
        );
        let view = View {
            now: self.bus.now,
            states: &self.states,
            meta: &self.meta,
            paused: &self.paused,
            names: &self.bus.names,
        };
        let mut found = Vec::new();
        while calls != 0 {
            let k = calls.trailing_zeros() as usize;
            calls &= calls - 1;
            let c = &mut self.checkers[k];
            if let Err(message) = c.after_event(&view, node) {
                found.push((c.name().to_string(), message));
            }
        }
        for (check, message) in found {
            self.violation(check, message);
        }
    }

    /// The run ends before the next event (a violation, or an engine error).
    fn stop(&mut self) {
        self.stopped = true;
        self.bus.check_at = 0;
    }

    /// A self-check failed: the run stops, and the report says it is the engine's fault.
    #[cold]
    fn engine_error(&mut self, message: String) {
        if self.bus.summary() {
            self.bus.record(TraceKind::Violation {
                check: "engine-self-check".into(),
                message: message.clone(),
            });
        }
        if self.engine_error.is_none() {
            self.engine_error = Some(message);
        }
        self.stop();
    }

    /// Message conservation: sends and duplicates = deliveries + drops + in flight.
    fn conservation(&self) -> Result<(), String> {
        let st = &self.bus.stats;
        let queued = self
            .bus
            .queue
            .pending()
            .filter(|e| matches!(e, Ev::Deliver { .. }))
            .count() as u64;
        let parked = self
            .meta
            .iter()
            .flat_map(|m| &m.parked)
            .filter(|e| matches!(e, Ev::Deliver { .. }))
            .count() as u64;
        let put = st.sends + st.duplicates;
        let accounted = st.deliveries + st.drops() + queued + parked;
        if put == accounted {
            return Ok(());
        }
        Err(format!(
            "conservation: {} sends + {} duplicates = {put} messages, but {} delivered + {} dropped (loss {}, cut {}, down {}) + {} in flight + {} held for paused nodes = {accounted}",
            st.sends,
            st.duplicates,
            st.deliveries,
            st.drops(),
            st.drops_loss,
            st.drops_partition,
            st.drops_down,
            queued,
            parked
        ))
    }

    /// The oldest cut generation among the messages in flight (or held for paused nodes).
    fn oldest_in_flight(&self) -> u32 {
        let sent = |e: &Ev<P>| match e {
            Ev::Deliver { sent, .. } => Some(*sent),
            _ => None,
        };
        let queued = self.bus.queue.pending().filter_map(sent);
        // Held messages have arrived (`SelfCheck::ARRIVED`): no cut can matter to them.
        let parked = self
            .meta
            .iter()
            .flat_map(|m| &m.parked)
            .filter_map(sent)
            .filter(|&g| g != crate::selfcheck::SelfCheck::ARRIVED);
        queued
            .chain(parked)
            .min()
            .unwrap_or(self.bus.selfcheck.generation())
    }

    fn violation(&mut self, check: String, message: String) {
        self.bus.stats.violations += 1;
        if self.bus.summary() {
            self.bus.record(TraceKind::Violation {
                check: check.clone(),
                message: message.clone(),
            });
        }
        self.violations.push(Violation {
            check,
            time: self.bus.now,
            message,
        });
        if self.stop_on_violation {
            self.stop();
        }
    }

    // ----- faults -------------------------------------------------------------------

    fn names_of(&self, eps: &[u32]) -> String {
        let names: Vec<&str> = eps
            .iter()
            .map(|&e| self.bus.names[e as usize].as_str())
            .collect();
        format!("{{{}}}", names.join(" "))
    }

    fn endpoints(&self, addrs: &[Addr]) -> Vec<u32> {
        addrs.iter().map(|&a| self.endpoint(a)).collect()
    }

    fn add_cut(&mut self, cut: Cut) {
        self.bus.selfcheck.cut_added(&cut);
        self.bus.network.add_cut(cut);
        if self.bus.broken(BrokenPath::CutSparesInFlight) {
            return;
        }
        // Messages in flight across the new cut are lost.
        let Bus { queue, network, .. } = &mut self.bus;
        for ev in queue.pending_mut() {
            if let Ev::Deliver { from, to, lost, .. } = ev {
                if !*lost && network.is_cut(*from, *to) {
                    *lost = true;
                }
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        self.apply_fault_now(fault);
        // Cuts, link changes, delay rules and crash-after-send change which sends may
        // take the plain path.
        self.bus.refresh_send_path();
    }

    /// [`Self::apply_fault`], before the send path is looked at again.
    fn apply_fault_now(&mut self, fault: Fault) {
        if let Fault::Targeted { pick, fault } = fault {
            match self.pick(pick) {
                Some(n) => self.apply_fault_now(fault.with_node(n)),
                None => {
                    self.bus.stats.faults += 1;
                    self.record_fault(format!(
                        "{} on slot {} skipped: no node is up and running",
                        fault.kind(),
                        pick.slot()
                    ));
                }
            }
            return;
        }
        self.bus.stats.faults += 1;
        self.bus
            .fingerprint
            .mix(K_FAULT << 32 | fault.kind().len() as u64);
        let total = self.bus.names.len();
        let node_count = self.bus.node_count;
        let now = self.bus.now;
        let text = match &fault {
            Fault::Partition(groups) => {
                let groups: Vec<Vec<u32>> = groups.iter().map(|g| self.endpoints(g)).collect();
                let text = groups
                    .iter()
                    .map(|g| self.names_of(g))
                    .collect::<Vec<_>>()
                    .join(" | ");
                self.add_cut(Cut::groups(total, &groups));
                format!("partition {text}")
            }
            Fault::Isolate(n) => {
                let rest: Vec<u32> = (0..node_count).filter(|&x| x != n.0).collect();
                self.add_cut(Cut::groups(total, &[vec![n.0], rest]));
                format!("isolate {}", self.bus.names[n.index()])
            }
            Fault::OneWay { from, to } => {
                let (f, t) = (self.endpoints(from), self.endpoints(to));
                let text = format!("one-way {} -> {}", self.names_of(&f), self.names_of(&t));
                self.add_cut(Cut::one_way(total, &f, &t));
                text
            }
            Fault::Bridge {
                left,
                middle,
                right,
            } => {
                let (l, m, r) = (
                    self.endpoints(left),
                    self.endpoints(middle),
                    self.endpoints(right),
                );
                let text = format!(
                    "bridge {} | {} | {}",
                    self.names_of(&l),
                    self.names_of(&m),
                    self.names_of(&r)
                );
                self.add_cut(Cut::groups(total, &[l, r]));
                text
            }
            Fault::Heal => {
                self.bus.network.heal();
                let oldest = self.oldest_in_flight();
                self.bus.selfcheck.healed(oldest);
                "heal".to_string()
            }
            Fault::Crash(n) => {
                let idx = n.index();
                let name = self.bus.name(n.0);
                if self.states[idx].take().is_some() {
                    self.bus.stats.crashes += 1;
                    self.paused[idx] = false;
                    let meta = &mut self.meta[idx];
                    meta.timers.clear();
                    // Messages held for it while it was paused are lost with it.
                    let held = meta
                        .parked
                        .iter()
                        .filter(|e| matches!(e, Ev::Deliver { .. }))
                        .count() as u64;
                    self.bus.stats.drops_down += held;
                    meta.parked.clear();
                    let loss = match self.meta[idx].disk.as_mut() {
                        Some(disk) => disk.crash(&self.bus.storage),
                        None => crate::storage::CrashLoss { lost: 0, kept: 0 },
                    };
                    match (loss.lost, loss.kept) {
                        (0, _) => format!("crash {name}"),
                        (lost, 0) => format!(
                            "crash {name}: lost {lost} unsynced record{}",
                            if lost == 1 { "" } else { "s" }
                        ),
                        (lost, kept) => format!(
                            "crash {name}: lost {lost} unsynced record{}, kept {kept} (torn tail)",
                            if lost == 1 { "" } else { "s" }
                        ),
                    }
                } else {
                    format!("crash {name} ignored: it is down already")
                }
            }
            Fault::Restart(n) => {
                let idx = n.index();
                let name = self.bus.name(n.0);
                if self.states[idx].is_none() {
                    self.bus.stats.restarts += 1;
                    self.record_fault(format!("restart {name}"));
                    self.start_node(n.0, true);
                    return;
                }
                format!("restart {name} ignored: it is not crashed")
            }
            Fault::Pause(n) => {
                let idx = n.index();
                if self.states[idx].is_some() {
                    self.paused[idx] = true;
                    format!("pause {}", self.bus.names[idx])
                } else {
                    format!("pause {} ignored: it is down", self.bus.names[idx])
                }
            }
            Fault::Resume(n) => {
                let idx = n.index();
                let was = std::mem::replace(&mut self.paused[idx], false);
                let parked = std::mem::take(&mut self.meta[idx].parked);
                for ev in parked {
                    self.bus.enqueue(now, ev);
                }
                if was {
                    format!("resume {}", self.bus.names[idx])
                } else {
                    format!("resume {} ignored: it is not paused", self.bus.names[idx])
                }
            }
            Fault::ClockSkew(n, by) => {
                self.meta[n.index()].clock.skew(now, *by);
                format!("clock-skew {} {}", self.bus.names[n.index()], by.readable())
            }
            Fault::ClockDrift(n, ppm) => {
                self.meta[n.index()].clock.set_drift(now, *ppm);
                format!("clock-drift {} {ppm:+}ppm", self.bus.names[n.index()])
            }
            Fault::SetLink { from, to, update } => {
                let (f, t) = (from.map(|a| self.endpoint(a)), to.map(|a| self.endpoint(a)));
                self.bus.network.update(f, t, update);
                let side = |e: Option<u32>| {
                    e.map_or("*".to_string(), |e| self.bus.names[e as usize].clone())
                };
                let mut text = format!("set-link {} -> {}", side(f), side(t));
                if let Some(l) = update.latency {
                    let _ = write!(text, " latency={l}");
                }
                if let Some(p) = update.loss {
                    let _ = write!(text, " loss={}", p.value());
                }
                if let Some(p) = update.duplicate {
                    let _ = write!(text, " duplicate={}", p.value());
                }
                text
            }
            Fault::CorruptRecord(n) => {
                let idx = n.index();
                let name = self.bus.name(n.0);
                match self.meta[idx].disk.as_mut().and_then(Disk::corrupt_one) {
                    Some(index) => format!("corrupt-record {name} #{index}"),
                    None => format!("corrupt-record {name} ignored: no synced records"),
                }
            }
            Fault::Slow { on, by, until } => {
                let (target, text) = self.delay_target(on);
                self.bus.network.add_delay(DelayRule {
                    target,
                    delay: Delay::Slow(*by),
                    until: *until,
                });
                format!("slow {text} by {by} until {}", until.elapsed())
            }
            Fault::Clog { on, until } => {
                let (target, text) = self.delay_target(on);
                self.bus.network.add_delay(DelayRule {
                    target,
                    delay: Delay::Clog,
                    until: *until,
                });
                format!("clog {text} until {}", until.elapsed())
            }
            Fault::Targeted { .. } => unreachable!("resolved above"),
            Fault::CrashAfterSend {
                p,
                restart,
                kind,
                node,
                leader,
                partial,
                until,
            } => {
                self.crash_after_send.push(AfterSend {
                    p: *p,
                    span: *restart,
                    until: *until,
                    kind: *kind,
                    node: *node,
                    leader: *leader,
                    partial: *partial,
                    clog: false,
                });
                if self.bus.send_kinds.is_none() {
                    self.bus.send_kinds = Some((Vec::new(), Vec::new()));
                }
                let mut which = match kind {
                    Some(k) => format!(" of message kind #{k}"),
                    None => String::new(),
                };
                if let Some(n) = node {
                    which = format!("{which} by {}", self.name(Addr::Node(*n)));
                }
                if *leader {
                    which = format!("{which} by whoever leads");
                }
                if *partial {
                    which = format!("{which}, mid-send");
                }
                format!(
                    "crash-after-send{which} p={} restart {}..{} until {}",
                    p.value(),
                    restart.0,
                    restart.1,
                    until.elapsed()
                )
            }
            Fault::ClogAfterSend {
                p,
                lasting,
                kind,
                until,
            } => {
                self.crash_after_send.push(AfterSend {
                    p: *p,
                    span: *lasting,
                    until: *until,
                    kind: *kind,
                    node: None,
                    leader: false,
                    partial: false,
                    clog: true,
                });
                if self.bus.send_kinds.is_none() {
                    self.bus.send_kinds = Some((Vec::new(), Vec::new()));
                }
                let which = match kind {
                    Some(k) => format!(" of message kind #{k}"),
                    None => String::new(),
                };
                format!(
                    "clog-after-send{which} p={} for {}..{} until {}",
                    p.value(),
                    lasting.0,
                    lasting.1,
                    until.elapsed()
                )
            }
        };
        self.record_fault(text);
        if let Fault::Crash(n) | Fault::Pause(n) | Fault::Resume(n) = fault {
            self.run_checkers(n);
        }
    }

    /// The engine's form of a delay's links, and how the trace names them.
    fn delay_target(&self, on: &DelayOn) -> (DelayTarget, String) {
        match *on {
            DelayOn::Endpoint(a) => {
                let e = self.endpoint(a);
                (DelayTarget::Endpoint(e), self.bus.names[e as usize].clone())
            }
            DelayOn::Link { from, to } => {
                let (f, t) = (self.endpoint(from), self.endpoint(to));
                (
                    DelayTarget::Link(f, t),
                    format!(
                        "{} -> {}",
                        self.bus.names[f as usize], self.bus.names[t as usize]
                    ),
                )
            }
        }
    }

    fn record_fault(&mut self, text: String) {
        if self.bus.summary() {
            self.bus.record(TraceKind::Fault { fault: text });
        }
    }
}

/// The message of a delivery of a message (not a request or response).
#[inline(always)]
fn message_of<P: Process>(ev: &mut Ev<P>) -> Option<&mut crate::bus::Aligned<P::Msg>> {
    match ev {
        Ev::Deliver {
            wire: Wire::Msg(m), ..
        } => Some(m),
        _ => None,
    }
}

/// `1.2 M`, `34.5 k`, `812`: an event count as people say it.
fn count_text(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1} k", n as f64 / 1e3),
        _ => format!("{:.1} M", n as f64 / 1e6),
    }
}

/// `1,000,000`.
fn thousands(n: u64) -> String {
    if n == u64::MAX {
        return "unbounded".into();
    }
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The variant of a message's or timer's debug text: `Ping` of `Ping { n: 3 }`.
fn kind_of(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if end == 0 { text } else { &text[..end] }
}

/// The most frequent key of a tally (the first seen among equals).
fn top<K: Clone>(tally: &indexmap::IndexMap<K, u64>) -> Option<(K, u64)> {
    let mut best: Option<(K, u64)> = None;
    for (k, &n) in tally {
        if best.as_ref().is_none_or(|(_, b)| n > *b) {
            best = Some((k.clone(), n));
        }
    }
    best
}

/// A duration in `span`, log-uniform in nanoseconds (a short one as likely as a long one
/// per factor of ten), as crash-after-send draws its restarts.
fn log_span(rng: &mut SimRng, span: (Duration, Duration)) -> Duration {
    let (lo, hi) = span;
    let (lo_ns, hi_ns) = (lo.as_nanos().max(1) as f64, hi.as_nanos().max(1) as f64);
    let u = rng.unit_f64();
    let after = libm::exp(libm::log(lo_ns) + u * (libm::log(hi_ns) - libm::log(lo_ns)));
    Duration::from_nanos((after as u64).clamp(lo.as_nanos(), hi.as_nanos().max(lo.as_nanos())))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Idle;

    impl Process for Idle {
        type Config = ();
        type Msg = ();
        type Timer = ();
        type Durable = ();
        type Request = ();
        type Response = ();
        fn start(_: &mut Ctx<'_, Self>) -> Self {
            Idle
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
    }

    /// A checker reading stamp places `0`.
    struct Reads(u8);

    impl Checker<Idle> for Reads {
        fn name(&self) -> &str {
            "reads"
        }
        fn after_event(&mut self, _: &View<'_, Idle>, _: NodeId) -> Result<(), String> {
            Ok(())
        }
        fn reads_only_stamp(&self) -> Option<u8> {
            Some(self.0)
        }
    }

    /// `stamp_calls[changed]` holds exactly the checkers `judge` calls after an event
    /// with those places changed: those reading one of them, or all for `u8::MAX`.
    #[test]
    fn the_stamp_call_table_picks_the_checkers_judge_picks() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..64 {
            let config = SimConfig::new(round, 1, Limits::time(Duration::from_secs(1)));
            let mut sim: Simulation<Idle> = Simulation::new(config, (), ()).unwrap();
            let n = 1 + round as usize % 9;
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let reads = match x % 5 {
                    0 => 0,
                    1 => u8::MAX,
                    _ => (x >> 8) as u8,
                };
                sim.add_checker(Box::new(Reads(reads)));
            }
            for changed in 0..=u8::MAX {
                let want = sim
                    .stamp_reads
                    .iter()
                    .enumerate()
                    .filter(|&(_, &reads)| changed == u8::MAX || reads & changed != 0)
                    .fold(0u64, |m, (k, _)| m | 1 << k);
                assert_eq!(sim.stamp_calls[usize::from(changed)], want, "{changed:#x}");
            }
        }
    }
}
