//! The simulation: one seeded, single-threaded event loop over nodes, clients, a faulty
//! network and a virtual clock.

use crate::check::{Checker, View, Violation};
use crate::clock::LocalClock;
use crate::fault::Fault;
use crate::id::{Addr, ClientId, NodeId, RequestId, TimerId};
use crate::network::{Cut, LinkConfig, LinkUpdate, Network};
use crate::process::{Client, ClientCtx, ClientOut, Ctx, NoClients, NodeOut, Process};
use crate::queue::EventQueue;
use crate::rng::SimRng;
use crate::time::{Duration, Time};
use crate::trace::{DropReason, Fingerprint, Trace, TraceEvent, TraceKind, TraceLevel};
use lincheck::{Event as HistoryEvent, EventKind, History, ModelKind, Value};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

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
            return Err("a run needs a bound: set a maximum virtual time, a maximum event count, or both".into());
        }
        let mut seen = indexmap::IndexSet::new();
        for name in self.nodes.iter().chain(&self.clients) {
            if name.is_empty() {
                return Err("an endpoint name is empty".into());
            }
            if !seen.insert(name.as_str()) {
                return Err(format!("the name {name:?} is used twice: node and client names must be unique"));
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
    /// Structural hash of every event; equal for equal runs even with the trace off.
    pub fingerprint: u64,
    pub trace: Trace,
    /// What the clients asked and got (model `kv` by default; callers may relabel it).
    #[serde(skip)]
    pub history: History,
}

enum Wire<P: Process> {
    Msg(P::Msg),
    Request(RequestId, P::Request),
    Response(RequestId, P::Response),
}

impl<P: Process> Clone for Wire<P> {
    fn clone(&self) -> Self {
        match self {
            Wire::Msg(m) => Wire::Msg(m.clone()),
            Wire::Request(i, r) => Wire::Request(*i, r.clone()),
            Wire::Response(i, r) => Wire::Response(*i, r.clone()),
        }
    }
}

impl<P: Process> Wire<P> {
    fn describe(&self) -> String {
        match self {
            Wire::Msg(m) => format!("{m:?}"),
            Wire::Request(id, r) => format!("{r:?} ({id})"),
            Wire::Response(id, r) => format!("{r:?} ({id})"),
        }
    }
}

enum Ev<P: Process, C: Client<P>> {
    Start(u32),
    ClientStart(u32),
    Deliver {
        from: u32,
        to: u32,
        wire: Wire<P>,
        lost: bool,
    },
    NodeTimer(u32, TimerId, P::Timer),
    ClientTimer(u32, TimerId, C::Timer),
    Fault(Fault),
}

struct NodeMeta<P: Process, C: Client<P>> {
    rng: SimRng,
    net_rng: SimRng,
    clock: LocalClock,
    timers: Vec<TimerId>,
    parked: Vec<Ev<P, C>>,
}

struct ClientSlot<C> {
    state: Option<C>,
    rng: SimRng,
    net_rng: SimRng,
    timers: Vec<TimerId>,
    /// History process id; a new one after every `info`.
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
    now: Time,
    names: Vec<String>,
    node_count: u32,
    states: Vec<Option<P>>,
    durables: Vec<P::Durable>,
    paused: Vec<bool>,
    meta: Vec<NodeMeta<P, C>>,
    clients: Vec<ClientSlot<C>>,
    node_config: P::Config,
    client_config: C::Config,
    queue: EventQueue<Ev<P, C>>,
    network: Network,
    checkers: Vec<Box<dyn Checker<P>>>,
    node_out: Vec<NodeOut<P>>,
    client_out: Vec<ClientOut<P, C>>,
    next_id: u64,
    next_process: u64,
    limits: Limits,
    stop_on_violation: bool,
    stopped: bool,
    stats: Stats,
    fingerprint: Fingerprint,
    trace: Trace,
    violations: Vec<Violation>,
    history: Vec<HistoryEvent>,
}

const K_START: u64 = 1;
const K_DELIVER: u64 = 2;
const K_TIMER: u64 = 3;
const K_FAULT: u64 = 4;
const K_DROP: u64 = 5;
const K_SEND: u64 = 6;

impl<P: Process, C: Client<P>> Simulation<P, C> {
    /// Builds the cluster; nodes start at time zero in id order, then clients.
    pub fn new(config: SimConfig, node_config: P::Config, client_config: C::Config) -> Result<Self, String> {
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
                net_rng: SimRng::new(seed, &format!("net/{name}")),
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
                net_rng: SimRng::new(seed, &format!("net/{name}")),
                timers: Vec::new(),
                process: i as u64,
                open: None,
            })
            .collect::<Vec<_>>();
        let next_process = clients.len() as u64;
        let mut queue = EventQueue::new();
        for i in 0..n as u32 {
            queue.push(Time::ZERO, Ev::Start(i));
        }
        for i in 0..config.clients.len() as u32 {
            queue.push(Time::ZERO, Ev::ClientStart(i));
        }
        Ok(Simulation {
            seed,
            now: Time::ZERO,
            names,
            node_count: n as u32,
            states: (0..n).map(|_| None).collect(),
            durables: (0..n).map(|_| P::Durable::default()).collect(),
            paused: vec![false; n],
            meta,
            clients,
            node_config,
            client_config,
            queue,
            network: Network::new(endpoints, config.link),
            checkers: Vec::new(),
            node_out: Vec::new(),
            client_out: Vec::new(),
            next_id: 0,
            next_process,
            limits: config.limits,
            stop_on_violation: config.stop_on_violation,
            stopped: false,
            stats: Stats::default(),
            fingerprint: Fingerprint::default(),
            trace: Trace {
                level: config.trace,
                events: Vec::new(),
            },
            violations: Vec::new(),
            history: Vec::new(),
        })
    }

    // ----- setup and inspection -------------------------------------------------------

    /// Schedules a fault at `at` (faults at the same instant apply in scheduling order).
    pub fn schedule(&mut self, at: Time, fault: Fault) {
        self.queue.push(at, Ev::Fault(fault));
    }

    /// Adds a checker; it sees every event from now on.
    pub fn add_checker(&mut self, checker: Box<dyn Checker<P>>) {
        self.checkers.push(checker);
    }

    /// Overrides one link (or all links out of / into an endpoint) before or during a run.
    pub fn set_link(&mut self, from: Option<Addr>, to: Option<Addr>, update: LinkUpdate) {
        let (f, t) = (from.map(|a| self.endpoint(a)), to.map(|a| self.endpoint(a)));
        self.network.update(f, t, &update);
    }

    /// Looks a node or client up by name.
    pub fn addr(&self, name: &str) -> Option<Addr> {
        let i = self.names.iter().position(|n| n == name)? as u32;
        Some(if i < self.node_count {
            Addr::Node(NodeId(i))
        } else {
            Addr::Client(ClientId(i - self.node_count))
        })
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        match self.addr(name)? {
            Addr::Node(n) => Some(n),
            Addr::Client(_) => None,
        }
    }

    pub fn name(&self, addr: Addr) -> &str {
        &self.names[self.endpoint(addr) as usize]
    }

    pub fn node_count(&self) -> usize {
        self.node_count as usize
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.now
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

    /// What the node's clock reads now.
    pub fn local_time(&self, id: NodeId) -> Time {
        self.meta[id.index()].clock.read(self.now)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Events still queued.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    fn endpoint(&self, a: Addr) -> u32 {
        match a {
            Addr::Node(n) => n.0,
            Addr::Client(c) => self.node_count + c.0,
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
        while self.queue.peek_time().is_some_and(|next| next <= t) {
            if let Some(end) = self.step() {
                return Some(end);
            }
        }
        if self.limits.max_time.is_none_or(|m| t <= Time::ZERO.plus(m)) {
            self.now = self.now.max(t);
        }
        None
    }

    /// Handles one event; `Some(reason)` once the run is over.
    pub fn step(&mut self) -> Option<EndReason> {
        if self.stopped {
            return Some(EndReason::Violation);
        }
        if self.limits.max_events.is_some_and(|m| self.stats.events >= m) {
            return Some(EndReason::EventLimit);
        }
        let Some(next) = self.queue.peek_time() else {
            return Some(EndReason::Quiescent);
        };
        if let Some(max) = self.limits.max_time {
            let end = Time::ZERO.plus(max);
            if next > end {
                self.now = end;
                return Some(EndReason::TimeLimit);
            }
        }
        let (time, ev) = self.queue.pop().expect("peeked");
        self.now = time;
        self.stats.events += 1;
        self.fingerprint.mix(time.as_nanos());
        self.handle(ev);
        if self.stopped {
            return Some(EndReason::Violation);
        }
        None
    }

    /// Runs the end-of-run checks and hands over the trace and history.
    fn finish(&mut self, end: EndReason) -> Report {
        if end != EndReason::Violation {
            let view = View {
                now: self.now,
                states: &self.states,
                durables: &self.durables,
                paused: &self.paused,
                names: &self.names,
            };
            let mut found = Vec::new();
            for c in &mut self.checkers {
                if let Err(message) = c.at_end(&view) {
                    found.push((c.name().to_string(), message));
                }
            }
            for (check, message) in found {
                self.violation(check, message);
            }
        }
        // Operations still open when the run ends are unknown (`info`) by definition.
        Report {
            seed: self.seed,
            end,
            end_time: self.now,
            stats: self.stats,
            violations: self.violations.clone(),
            fingerprint: self.fingerprint.value(),
            trace: std::mem::take(&mut self.trace),
            history: History {
                model: ModelKind::Kv,
                init: None,
                events: std::mem::take(&mut self.history),
            },
        }
    }

    fn handle(&mut self, ev: Ev<P, C>) {
        match ev {
            Ev::Start(i) => {
                self.fingerprint.mix(K_START << 32 | u64::from(i));
                self.start_node(i, false);
            }
            Ev::ClientStart(i) => {
                self.fingerprint.mix(K_START << 32 | u64::from(self.node_count + i));
                self.with_client(i, None, |_, _| {});
            }
            Ev::Deliver { from, to, wire, lost } => self.deliver(from, to, wire, lost),
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
                self.stats.timers_fired += 1;
                self.fingerprint.mix(K_TIMER << 32 | u64::from(i));
                if self.trace.level == TraceLevel::Full {
                    self.record(TraceKind::Timer {
                        node: self.names[idx].clone(),
                        timer: format!("{tag:?}"),
                    });
                }
                self.with_node(i, |p, ctx| p.on_timer(ctx, tag));
            }
            Ev::ClientTimer(i, id, tag) => {
                let timers = &mut self.clients[i as usize].timers;
                let Some(pos) = timers.iter().position(|&t| t == id) else {
                    return;
                };
                timers.swap_remove(pos);
                self.stats.timers_fired += 1;
                self.fingerprint.mix(K_TIMER << 32 | u64::from(self.node_count + i));
                if self.trace.level == TraceLevel::Full {
                    self.record(TraceKind::Timer {
                        node: self.names[(self.node_count + i) as usize].clone(),
                        timer: format!("{tag:?}"),
                    });
                }
                self.with_client(i, Some(tag), |_, _| {});
            }
            Ev::Fault(f) => self.apply_fault(f),
        }
    }

    fn deliver(&mut self, from: u32, to: u32, wire: Wire<P>, lost: bool) {
        if lost {
            self.drop_message(from, to, &wire, DropReason::Partition);
            return;
        }
        if to < self.node_count {
            let idx = to as usize;
            if self.states[idx].is_none() {
                self.drop_message(from, to, &wire, DropReason::Down);
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
            self.count_delivery(from, to, &wire);
            match wire {
                Wire::Msg(m) => self.with_node(to, |p, ctx| p.on_message(ctx, NodeId(from), m)),
                Wire::Request(id, r) => {
                    let client = ClientId(from - self.node_count);
                    self.with_node(to, |p, ctx| p.on_request(ctx, client, id, r));
                }
                Wire::Response(..) => unreachable!("nodes are never sent responses"),
            }
        } else {
            let c = to - self.node_count;
            self.count_delivery(from, to, &wire);
            if let Wire::Response(id, r) = wire {
                self.stats.responses += 1;
                let node = NodeId(from);
                self.with_client_response(c, node, id, r);
            }
        }
    }

    fn count_delivery(&mut self, from: u32, to: u32, wire: &Wire<P>) {
        self.stats.deliveries += 1;
        self.fingerprint.mix(K_DELIVER << 48 | u64::from(from) << 24 | u64::from(to));
        if self.trace.level == TraceLevel::Full {
            self.record(TraceKind::Deliver {
                from: self.names[from as usize].clone(),
                to: self.names[to as usize].clone(),
                msg: wire.describe(),
            });
        }
    }

    fn drop_message(&mut self, from: u32, to: u32, wire: &Wire<P>, reason: DropReason) {
        match reason {
            DropReason::Loss => self.stats.drops_loss += 1,
            DropReason::Partition => self.stats.drops_partition += 1,
            DropReason::Down => self.stats.drops_down += 1,
        }
        self.fingerprint.mix(K_DROP << 48 | u64::from(from) << 24 | u64::from(to));
        if self.trace.level == TraceLevel::Full {
            self.record(TraceKind::Drop {
                from: self.names[from as usize].clone(),
                to: self.names[to as usize].clone(),
                msg: wire.describe(),
                reason,
            });
        }
    }

    /// Puts a message on the wire from endpoint `from` to endpoint `to`.
    fn transmit(&mut self, from: u32, to: u32, wire: Wire<P>) {
        self.stats.sends += 1;
        self.fingerprint.mix(K_SEND << 48 | u64::from(from) << 24 | u64::from(to));
        if self.trace.level == TraceLevel::Full {
            self.record(TraceKind::Send {
                from: self.names[from as usize].clone(),
                to: self.names[to as usize].clone(),
                msg: wire.describe(),
            });
        }
        if self.network.is_cut(from, to) {
            self.drop_message(from, to, &wire, DropReason::Partition);
            return;
        }
        let link = *self.network.link(from, to);
        let rng = if from < self.node_count {
            &mut self.meta[from as usize].net_rng
        } else {
            &mut self.clients[(from - self.node_count) as usize].net_rng
        };
        if rng.chance(link.loss) {
            self.drop_message(from, to, &wire, DropReason::Loss);
            return;
        }
        let latency = link.latency.sample(rng);
        if rng.chance(link.duplicate) {
            let again = link.latency.sample(rng);
            self.stats.duplicates += 1;
            if self.trace.level == TraceLevel::Full {
                self.record(TraceKind::Duplicate {
                    from: self.names[from as usize].clone(),
                    to: self.names[to as usize].clone(),
                    msg: wire.describe(),
                });
            }
            self.queue.push(
                self.now.plus(again),
                Ev::Deliver {
                    from,
                    to,
                    wire: wire.clone(),
                    lost: false,
                },
            );
        }
        self.queue.push(
            self.now.plus(latency),
            Ev::Deliver {
                from,
                to,
                wire,
                lost: false,
            },
        );
    }

    fn start_node(&mut self, i: u32, restarted: bool) {
        let idx = i as usize;
        if self.trace.level >= TraceLevel::Summary {
            self.record(TraceKind::Start {
                node: self.names[idx].clone(),
                restart: restarted,
            });
        }
        let meta = &mut self.meta[idx];
        let mut ctx = Ctx {
            me: NodeId(i),
            nodes: self.node_count,
            local: meta.clock.read(self.now),
            restarted,
            tracing: self.trace.level >= TraceLevel::Summary,
            config: &self.node_config,
            rng: &mut meta.rng,
            durable: &mut self.durables[idx],
            out: &mut self.node_out,
            next_id: &mut self.next_id,
        };
        let state = P::start(&mut ctx);
        self.states[idx] = Some(state);
        self.flush_node(i);
    }

    /// Runs a handler on live node `i` and applies what it asked for.
    #[inline]
    fn with_node(&mut self, i: u32, f: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let idx = i as usize;
        let Some(state) = self.states[idx].as_mut() else {
            return;
        };
        let meta = &mut self.meta[idx];
        let mut ctx = Ctx {
            me: NodeId(i),
            nodes: self.node_count,
            local: meta.clock.read(self.now),
            restarted: false,
            tracing: self.trace.level >= TraceLevel::Summary,
            config: &self.node_config,
            rng: &mut meta.rng,
            durable: &mut self.durables[idx],
            out: &mut self.node_out,
            next_id: &mut self.next_id,
        };
        f(state, &mut ctx);
        self.flush_node(i);
    }

    fn flush_node(&mut self, i: u32) {
        let idx = i as usize;
        let mut out = std::mem::take(&mut self.node_out);
        for o in out.drain(..) {
            match o {
                NodeOut::Send(to, m) => self.transmit(i, to.0, Wire::Msg(m)),
                NodeOut::Reply(c, id, r) => self.transmit(i, self.node_count + c.0, Wire::Response(id, r)),
                NodeOut::SetTimer(id, after, tag) => {
                    self.stats.timers_set += 1;
                    let meta = &mut self.meta[idx];
                    let span = meta.clock.virtual_span(after);
                    meta.timers.push(id);
                    self.queue.push(self.now.plus(span), Ev::NodeTimer(i, id, tag));
                }
                NodeOut::CancelTimer(id) => {
                    let timers = &mut self.meta[idx].timers;
                    if let Some(pos) = timers.iter().position(|&t| t == id) {
                        timers.swap_remove(pos);
                    }
                }
                NodeOut::Note(text) => self.record(TraceKind::Note {
                    node: self.names[idx].clone(),
                    text,
                }),
            }
        }
        self.node_out = out;
        self.run_checkers(NodeId(i));
    }

    fn run_checkers(&mut self, node: NodeId) {
        if self.checkers.is_empty() {
            return;
        }
        let view = View {
            now: self.now,
            states: &self.states,
            durables: &self.durables,
            paused: &self.paused,
            names: &self.names,
        };
        let mut found = Vec::new();
        for c in &mut self.checkers {
            if let Err(message) = c.after_event(&view, node) {
                found.push((c.name().to_string(), message));
            }
        }
        for (check, message) in found {
            self.violation(check, message);
        }
    }

    fn violation(&mut self, check: String, message: String) {
        self.stats.violations += 1;
        if self.trace.level >= TraceLevel::Summary {
            self.record(TraceKind::Violation {
                check: check.clone(),
                message: message.clone(),
            });
        }
        self.violations.push(Violation {
            check,
            time: self.now,
            message,
        });
        if self.stop_on_violation {
            self.stopped = true;
        }
    }

    fn with_client(&mut self, i: u32, timer: Option<C::Timer>, _: impl FnOnce(&mut C, &mut ClientCtx<'_, P, C>)) {
        let slot = &mut self.clients[i as usize];
        let mut ctx = ClientCtx {
            me: ClientId(i),
            nodes: self.node_count,
            now: self.now,
            config: &self.client_config,
            rng: &mut slot.rng,
            out: &mut self.client_out,
            next_id: &mut self.next_id,
        };
        match (slot.state.as_mut(), timer) {
            (None, _) => slot.state = Some(C::start(&mut ctx)),
            (Some(c), Some(tag)) => c.on_timer(&mut ctx, tag),
            (Some(_), None) => {}
        }
        self.flush_client(i);
    }

    fn with_client_response(&mut self, i: u32, from: NodeId, id: RequestId, response: P::Response) {
        let slot = &mut self.clients[i as usize];
        let Some(state) = slot.state.as_mut() else {
            return;
        };
        let mut ctx = ClientCtx {
            me: ClientId(i),
            nodes: self.node_count,
            now: self.now,
            config: &self.client_config,
            rng: &mut slot.rng,
            out: &mut self.client_out,
            next_id: &mut self.next_id,
        };
        state.on_response(&mut ctx, from, id, response);
        self.flush_client(i);
    }

    fn flush_client(&mut self, i: u32) {
        let ep = self.node_count + i;
        let mut out = std::mem::take(&mut self.client_out);
        for o in out.drain(..) {
            match o {
                ClientOut::Request(to, id, r) => {
                    self.stats.requests += 1;
                    self.transmit(ep, to.0, Wire::Request(id, r));
                }
                ClientOut::SetTimer(id, after, tag) => {
                    self.stats.timers_set += 1;
                    self.clients[i as usize].timers.push(id);
                    self.queue.push(self.now.plus(after), Ev::ClientTimer(i, id, tag));
                }
                ClientOut::CancelTimer(id) => {
                    let timers = &mut self.clients[i as usize].timers;
                    if let Some(pos) = timers.iter().position(|&t| t == id) {
                        timers.swap_remove(pos);
                    }
                }
                ClientOut::Invoke(f, key, value) => self.history_invoke(i, f, key, value),
                ClientOut::Complete(kind, value, error) => self.history_complete(i, kind, value, error),
            }
        }
        self.client_out = out;
    }

    fn history_invoke(&mut self, i: u32, f: String, key: Option<Value>, value: Value) {
        let slot = &mut self.clients[i as usize];
        assert!(
            slot.open.is_none(),
            "client {} invoked {f} while an operation was open: a client has one operation at a time",
            self.names[(self.node_count + i) as usize]
        );
        let process = slot.process;
        slot.open = Some((f.clone(), key.clone(), value.clone()));
        if self.trace.level >= TraceLevel::Summary {
            self.record(TraceKind::Invoke {
                client: self.names[(self.node_count + i) as usize].clone(),
                process,
                op: describe_op(&f, key.as_ref(), &value),
            });
        }
        self.history.push(HistoryEvent {
            process,
            kind: EventKind::Invoke,
            f,
            key,
            value,
            time: Some(self.now.as_nanos()),
            error: None,
        });
    }

    fn history_complete(&mut self, i: u32, kind: EventKind, value: Value, error: Option<String>) {
        let slot = &mut self.clients[i as usize];
        let Some((f, key, _)) = slot.open.take() else {
            panic!(
                "client {} completed an operation it never invoked",
                self.names[(self.node_count + i) as usize]
            );
        };
        let process = slot.process;
        if kind == EventKind::Info {
            slot.process = self.next_process;
            self.next_process += 1;
        }
        if self.trace.level >= TraceLevel::Summary {
            let outcome = match kind {
                EventKind::Ok => "ok",
                EventKind::Fail => "fail",
                EventKind::Info => "info",
                EventKind::Invoke => "invoke",
            };
            let mut op = describe_op(&f, key.as_ref(), &value);
            if let Some(e) = &error {
                let _ = write!(op, " [{e}]");
            }
            self.record(TraceKind::Complete {
                client: self.names[(self.node_count + i) as usize].clone(),
                process,
                outcome: outcome.to_string(),
                op,
            });
        }
        self.history.push(HistoryEvent {
            process,
            kind,
            f,
            key,
            value,
            time: Some(self.now.as_nanos()),
            error,
        });
    }

    fn record(&mut self, kind: TraceKind) {
        if self.trace.level == TraceLevel::Off {
            return;
        }
        self.trace.events.push(TraceEvent { time: self.now, kind });
    }

    // ----- faults -------------------------------------------------------------------

    fn names_of(&self, eps: &[u32]) -> String {
        let mut s = String::from("{");
        for (k, e) in eps.iter().enumerate() {
            if k > 0 {
                s.push(' ');
            }
            s.push_str(&self.names[*e as usize]);
        }
        s.push('}');
        s
    }

    fn endpoints(&self, addrs: &[Addr]) -> Vec<u32> {
        addrs.iter().map(|&a| self.endpoint(a)).collect()
    }

    fn add_cut(&mut self, cut: Cut) {
        self.network.add_cut(cut);
        // Messages in flight across the new cut are lost.
        let network = &self.network;
        for ev in self.queue.pending_mut() {
            if let Ev::Deliver { from, to, lost, .. } = ev {
                if !*lost && network.is_cut(*from, *to) {
                    *lost = true;
                }
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        self.stats.faults += 1;
        self.fingerprint.mix(K_FAULT << 32 | fault.kind().len() as u64);
        let total = self.names.len();
        let text = match &fault {
            Fault::Partition(groups) => {
                let groups: Vec<Vec<u32>> = groups.iter().map(|g| self.endpoints(g)).collect();
                let text = groups.iter().map(|g| self.names_of(g)).collect::<Vec<_>>().join(" | ");
                self.add_cut(Cut::groups(total, &groups));
                format!("partition {text}")
            }
            Fault::Isolate(n) => {
                let rest: Vec<u32> = (0..self.node_count).filter(|&x| x != n.0).collect();
                self.add_cut(Cut::groups(total, &[vec![n.0], rest]));
                format!("isolate {}", self.names[n.index()])
            }
            Fault::OneWay { from, to } => {
                let (f, t) = (self.endpoints(from), self.endpoints(to));
                let text = format!("one-way {} -> {}", self.names_of(&f), self.names_of(&t));
                self.add_cut(Cut::one_way(total, &f, &t));
                text
            }
            Fault::Bridge { left, middle, right } => {
                let (l, m, r) = (self.endpoints(left), self.endpoints(middle), self.endpoints(right));
                let text = format!("bridge {} | {} | {}", self.names_of(&l), self.names_of(&m), self.names_of(&r));
                self.add_cut(Cut::groups(total, &[l, r]));
                text
            }
            Fault::Heal => {
                self.network.heal();
                "heal".to_string()
            }
            Fault::Crash(n) => {
                let idx = n.index();
                let name = self.names[idx].clone();
                if self.states[idx].take().is_some() {
                    self.stats.crashes += 1;
                    self.paused[idx] = false;
                    let meta = &mut self.meta[idx];
                    meta.timers.clear();
                    meta.parked.clear();
                    format!("crash {name}")
                } else {
                    format!("crash {name} (already down)")
                }
            }
            Fault::Restart(n) => {
                let idx = n.index();
                let name = self.names[idx].clone();
                if self.states[idx].is_none() {
                    self.stats.restarts += 1;
                    self.record_fault(format!("restart {name}"));
                    self.start_node(n.0, true);
                    return;
                }
                format!("restart {name} ignored: it is not crashed")
            }
            Fault::Pause(n) => {
                let idx = n.index();
                self.paused[idx] = self.states[idx].is_some();
                format!("pause {}", self.names[idx])
            }
            Fault::Resume(n) => {
                let idx = n.index();
                let was = std::mem::replace(&mut self.paused[idx], false);
                let parked = std::mem::take(&mut self.meta[idx].parked);
                for ev in parked {
                    self.queue.push(self.now, ev);
                }
                if was {
                    format!("resume {}", self.names[idx])
                } else {
                    format!("resume {} ignored: it is not paused", self.names[idx])
                }
            }
            Fault::ClockSkew(n, by) => {
                self.meta[n.index()].clock.skew(self.now, *by);
                format!("clock-skew {} {by}", self.names[n.index()])
            }
            Fault::ClockDrift(n, ppm) => {
                self.meta[n.index()].clock.set_drift(self.now, *ppm);
                format!("clock-drift {} {ppm:+}ppm", self.names[n.index()])
            }
            Fault::SetLink { from, to, update } => {
                let (f, t) = (from.map(|a| self.endpoint(a)), to.map(|a| self.endpoint(a)));
                self.network.update(f, t, update);
                let side = |e: Option<u32>| e.map_or("*".to_string(), |e| self.names[e as usize].clone());
                let mut text = format!("set-link {} -> {}", side(f), side(t));
                if let Some(l) = update.latency {
                    let _ = write!(text, " latency={l:?}");
                }
                if let Some(p) = update.loss {
                    let _ = write!(text, " loss={}", p.value());
                }
                if let Some(p) = update.duplicate {
                    let _ = write!(text, " duplicate={}", p.value());
                }
                text
            }
        };
        self.record_fault(text);
        if let Fault::Crash(n) | Fault::Pause(n) | Fault::Resume(n) = fault {
            self.run_checkers(n);
        }
    }

    fn record_fault(&mut self, text: String) {
        if self.trace.level >= TraceLevel::Summary {
            self.record(TraceKind::Fault { fault: text });
        }
    }
}

/// `put x 5`, `read`, `cas [1, 2]`: an operation as the trace shows it.
fn describe_op(f: &str, key: Option<&Value>, value: &Value) -> String {
    let mut s = f.to_string();
    if let Some(k) = key {
        let _ = write!(s, " {}", show_value(k));
    }
    if *value != Value::Null {
        let _ = write!(s, " {}", show_value(value));
    }
    s
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::List(items) => format!("[{}]", items.iter().map(show_value).collect::<Vec<_>>().join(", ")),
    }
}
