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
use crate::storage::{Disk, StorageConfig, Wal};
use crate::time::{Duration, Time};
use crate::trace::{DropReason, Fingerprint, Trace, TraceKind, TraceLevel};
use lincheck::{History, ModelKind, Value};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

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
    pub limits: Limits,
    /// Stop at the first violation (the default) or record them all.
    pub stop_on_violation: bool,
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
            limits,
            stop_on_violation: true,
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
    /// Structural hash of every event; equal for equal runs even with the trace off.
    pub fingerprint: u64,
    pub trace: Trace,
    /// What the clients asked and got (model `kv` by default; callers may relabel it).
    #[serde(skip)]
    pub history: History,
}

struct NodeMeta<P: Process> {
    rng: SimRng,
    clock: LocalClock,
    timers: Vec<TimerId>,
    parked: Vec<Ev<P>>,
}

struct ClientSlot<P: Process, C: Client<P>> {
    state: Option<C>,
    rng: SimRng,
    timers: Vec<(TimerId, C::Timer)>,
    process: u64,
    open: Option<(String, Option<Value>, Value)>,
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
    states: Vec<Option<P>>,
    durables: Vec<P::Durable>,
    paused: Vec<bool>,
    meta: Vec<NodeMeta<P>>,
    /// Each node's write-ahead log, made on its first use (see [`crate::storage`]).
    disks: Vec<Option<Disk>>,
    storage: StorageConfig,
    clients: Vec<ClientSlot<P, C>>,
    node_config: P::Config,
    client_config: C::Config,
    checkers: Vec<Box<dyn Checker<P>>>,
    limits: Limits,
    stop_on_violation: bool,
    stopped: bool,
    violations: Vec<Violation>,
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
        let meta = names[..n]
            .iter()
            .map(|name| NodeMeta {
                rng: SimRng::new(seed, &format!("node/{name}")),
                clock: LocalClock::default(),
                timers: Vec::new(),
                parked: Vec::new(),
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
            next_id: 0,
            overflow: false,
            history: Vec::new(),
            next_process: clients.len() as u64,
            process_names: config
                .clients
                .iter()
                .enumerate()
                .map(|(i, name)| (i as u64, name.clone()))
                .collect(),
        };
        Ok(Simulation {
            seed,
            bus,
            states: (0..n).map(|_| None).collect(),
            durables: (0..n).map(|_| P::Durable::default()).collect(),
            paused: vec![false; n],
            meta,
            disks: (0..n).map(|_| None).collect(),
            storage: StorageConfig::default(),
            clients,
            node_config,
            client_config,
            checkers: Vec::new(),
            limits: config.limits,
            stop_on_violation: config.stop_on_violation,
            stopped: false,
            violations: Vec::new(),
        })
    }

    // ----- setup and inspection -------------------------------------------------------

    /// Schedules a fault at `at` (faults at the same instant apply in scheduling order).
    pub fn schedule(&mut self, at: Time, fault: Fault) {
        self.bus.enqueue(at, Ev::Fault(Box::new(fault)));
    }

    /// Adds a checker; it sees every event from now on.
    pub fn add_checker(&mut self, checker: Box<dyn Checker<P>>) {
        self.checkers.push(checker);
    }

    /// Sets how the nodes' disks behave (sync latency, what a crash loses); the default
    /// loses nothing. Set it before the run starts.
    pub fn set_storage(&mut self, storage: StorageConfig) {
        self.storage = storage;
    }

    /// A node's write-ahead log as it is now; `None` if it was never appended to.
    pub fn log<R: 'static>(&self, id: NodeId) -> Option<&Wal<R>> {
        self.disks[id.index()].as_ref()?.wal::<R>()
    }

    /// Overrides one link (or all links out of / into an endpoint) before or during a run.
    pub fn set_link(&mut self, from: Option<Addr>, to: Option<Addr>, update: LinkUpdate) {
        let (f, t) = (from.map(|a| self.endpoint(a)), to.map(|a| self.endpoint(a)));
        self.bus.network.update(f, t, &update);
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
        &self.durables[id.index()]
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
        let end = loop {
            if let Some(end) = self.step() {
                break end;
            }
        };
        self.finish(end)
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
        if self.bus.overflow {
            return Some(EndReason::QueueFull);
        }
        if self.stopped {
            return Some(EndReason::Violation);
        }
        if self
            .limits
            .max_events
            .is_some_and(|m| self.bus.stats.events >= m)
        {
            return Some(EndReason::EventLimit);
        }
        let Some(next) = self.bus.queue.peek_time() else {
            return Some(EndReason::Quiescent);
        };
        if let Some(max) = self.limits.max_time {
            let end = Time::ZERO.plus(max);
            if next > end {
                self.bus.now = end;
                return Some(EndReason::TimeLimit);
            }
        }
        let (time, ev) = self.bus.queue.pop().expect("peeked");
        self.prefetch_next();
        self.bus.now = time;
        self.bus.stats.events += 1;
        self.bus.fingerprint.mix(time.as_nanos());
        self.handle(ev);
        None
    }

    /// Memory hints for large clusters, where the next event's payload and its node's state
    /// are rarely in cache: start loading them while this event runs. Changes no result.
    #[inline]
    fn prefetch_next(&self) {
        // Small clusters stay in cache; there the hints cost more than they save.
        if self.meta.len() < PREFETCH_FROM_NODES {
            return;
        }
        let queue = &self.bus.queue;
        queue.prefetch_second();
        if let Some(Ev::Deliver { to, .. }) = queue.peek() {
            if let Some(meta) = self.meta.get(*to as usize) {
                crate::prefetch::prefetch_all(meta);
                crate::prefetch::prefetch(&self.states[*to as usize]);
            }
        }
    }

    /// Runs the end-of-run checks and hands over the trace and history.
    fn finish(&mut self, end: EndReason) -> Report {
        if end != EndReason::Violation {
            self.judge(None);
        }
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
            fingerprint: self.bus.fingerprint.value(),
            trace: Trace {
                level: self.bus.trace.level,
                events: std::mem::take(&mut self.bus.trace.events),
            },
            history: History {
                model: ModelKind::Kv,
                init: None,
                events: std::mem::take(&mut self.bus.history),
                process_names: std::mem::take(&mut self.bus.process_names),
            },
        }
    }

    #[inline]
    fn handle(&mut self, ev: Ev<P>) {
        match ev {
            Ev::Deliver {
                from,
                to,
                wire,
                lost,
            } => self.deliver(from, to, wire, lost),
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
                if self.paused[idx] {
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
        let Some(disk) = self.disks[idx].as_mut() else {
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

    #[inline]
    fn deliver(&mut self, from: u32, to: u32, wire: Wire<P>, lost: bool) {
        if lost {
            self.bus
                .drop_message(from, to, &wire, DropReason::Partition);
            return;
        }
        if to < self.bus.node_count {
            let idx = to as usize;
            if self.states[idx].is_none() {
                self.bus.drop_message(from, to, &wire, DropReason::Down);
                return;
            }
            if self.paused[idx] {
                self.meta[idx].parked.push(Ev::Deliver {
                    from,
                    to,
                    wire,
                    lost: false,
                });
                return;
            }
            self.bus.delivered(from, to, &wire);
            match wire {
                Wire::Msg(m) => {
                    self.with_node(to, |p, ctx| p.on_message(ctx, NodeId(from), m.into_inner()))
                }
                Wire::Request(id, r) => {
                    let client = ClientId(from - self.bus.node_count);
                    self.with_node(to, |p, ctx| p.on_request(ctx, client, id, r));
                }
                Wire::Response(..) => unreachable!("nodes are never sent responses"),
            }
        } else {
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
        let meta = &mut self.meta[idx];
        let mut ctx = Ctx {
            clock: meta.clock,
            bus: &mut self.bus,
            me: NodeId(i),
            restarted,
            config: &self.node_config,
            rng: &mut meta.rng,
            durable: &mut self.durables[idx],
            timers: &mut meta.timers,
            disk: &mut self.disks[idx],
            storage: &self.storage,
            seed: self.seed,
        };
        let state = P::start(&mut ctx);
        self.states[idx] = Some(state);
        self.run_checkers(NodeId(i));
    }

    /// Runs a handler on live node `i`, then the checkers.
    #[inline]
    fn with_node(&mut self, i: u32, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let idx = i as usize;
        let Some(state) = self.states[idx].as_mut() else {
            return;
        };
        let meta = &mut self.meta[idx];
        let mut ctx = Ctx {
            clock: meta.clock,
            bus: &mut self.bus,
            me: NodeId(i),
            restarted: false,
            config: &self.node_config,
            rng: &mut meta.rng,
            durable: &mut self.durables[idx],
            timers: &mut meta.timers,
            disk: &mut self.disks[idx],
            storage: &self.storage,
            seed: self.seed,
        };
        f(state, &mut ctx);
        self.run_checkers(NodeId(i));
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

    #[inline]
    fn run_checkers(&mut self, node: NodeId) {
        if !self.checkers.is_empty() {
            self.judge(Some(node));
        }
    }

    /// Asks every checker: after an event on `node`, or at the end of the run (`None`).
    fn judge(&mut self, node: Option<NodeId>) {
        let view = View {
            now: self.bus.now,
            states: &self.states,
            durables: &self.durables,
            paused: &self.paused,
            names: &self.bus.names,
            disks: &self.disks,
        };
        let mut found = Vec::new();
        for c in &mut self.checkers {
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
            self.stopped = true;
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
        self.bus.network.add_cut(cut);
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
                    meta.parked.clear();
                    let loss = match self.disks[idx].as_mut() {
                        Some(disk) => disk.crash(&self.storage),
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
                match self.disks[idx].as_mut().and_then(Disk::corrupt_one) {
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
