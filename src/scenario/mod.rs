//! Scenario files: one RON file describes one experiment (see `docs/SCENARIOS.md`).
//!
//! [`Scenario::parse`] reads a file, checks everything that does not depend on the
//! protocol (names, times, probabilities, the order of crashes and restarts) and keeps the
//! position of every value, so an error points at its token. What depends on the protocol
//! (its config, its checks, its clients) is checked by [`crate::runner::Prepared`].

mod file;
mod span;
mod write;

pub use file::{
    Expect, FaultSpec, LinkOverride, NemesisSpec, NetworkSpec, RunawaySpec, StorageSpec,
    TraceSetting,
};
pub use span::{ScenarioError, Span, Spanned};
pub(crate) use span::{parse_span, with_integer_bound};

use file::{File, NodesSpec};
use indexmap::IndexMap;
use protocols::Workload;
use sim_core::{
    Addr, ClientId, Duration, Fault, LinkConfig, NodeId, Pick, SimRng, SwarmDraw, Time, TraceLevel,
};
use std::sync::Arc;

/// A parsed and checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub(crate) file: String,
    pub(crate) source: Arc<str>,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) protocol: Spanned<String>,
    /// Where the protocol's `config: (...)` is written, if it is.
    pub(crate) config: Option<Span>,
    pub(crate) protocol_text: Span,
    pub(crate) nodes: Vec<String>,
    pub(crate) cluster_text: Span,
    /// Where `nodes: ...` is written, for errors about the cluster's size.
    pub(crate) nodes_span: Span,
    pub(crate) network: NetworkSpec,
    pub(crate) network_text: Option<Span>,
    pub(crate) storage: Option<StorageSpec>,
    pub(crate) storage_text: Option<Span>,
    pub(crate) workload: Workload,
    pub(crate) workload_span: Span,
    pub(crate) faults: Vec<Spanned<(Spanned<Duration>, FaultSpec)>>,
    pub(crate) nemesis: Option<Spanned<NemesisSpec>>,
    pub(crate) checks: Vec<Spanned<String>>,
    pub(crate) seed: u64,
    pub(crate) duration: Spanned<Duration>,
    pub(crate) max_events: Option<u64>,
    pub(crate) check_steps: Option<Spanned<u64>>,
    pub(crate) runaway: Option<Spanned<file::RunawaySpec>>,
    pub(crate) trace: TraceLevel,
    pub(crate) expect: Spanned<Expect>,
    /// The sometimes-properties the run must reach (checked against the protocol by
    /// [`crate::runner::Prepared`]).
    pub(crate) reach: Vec<Spanned<String>>,
    /// The config was replaced (swarm draws pinned by [`Scenario::pin_swarm`]): write it
    /// from `config`, not as the file had it.
    pub(crate) config_pinned: bool,
}

impl Scenario {
    /// Reads and checks the scenario file at `path`.
    pub fn load(path: &str) -> Result<Scenario, ScenarioError> {
        let text = crate::text::read_utf8(path).map_err(|e| match e {
            crate::text::ReadError::Io(e) => {
                ScenarioError::whole(path, format!("cannot read scenario file {path}: {e}"))
            }
            crate::text::ReadError::NotUtf8 { at, lossy } => {
                // The replacement character stands where the bad byte was.
                let span = at.offset..at.offset + char::REPLACEMENT_CHARACTER.len_utf8();
                ScenarioError::at(path, &Arc::from(lossy), span, at.message())
                    .label("not UTF-8")
                    .help("scenario files are UTF-8 text: save this one as UTF-8")
            }
        })?;
        Scenario::parse(path, &text)
    }

    /// Parses and checks `text`; `file` is the name errors and replay commands use. A
    /// UTF-8 byte-order mark at the start (some Windows editors write one) is skipped.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let source: Arc<str> = Arc::from(text);
        let parsed: File = span::parse_file(&source).map_err(|e| {
            let (span, message) =
                span::with_integer_bound(&source, e, |t, _| span::parse_file::<File>(t).err());
            if let Some(e) = unclosed_string(file, &source, span.start, &message) {
                return e;
            }
            let help = help_for(&message);
            let e = ScenarioError::at(file, &source, span, message);
            match help {
                Some(h) => e.help(h),
                None => e,
            }
        })?;
        let err = |span: Span, message: String| ScenarioError::at(file, &source, span, message);
        let nodes = match &parsed.cluster.value.nodes.value {
            NodesSpec::Count(0) => {
                return Err(err(parsed.cluster.value.nodes.span.clone(), "a cluster of 0 nodes".into())
                    .label("expected at least 1")
                    .help("write `cluster: (nodes: 3)` for n1, n2, n3, or list names: `cluster: (nodes: [\"a\", \"b\"])`"));
            }
            NodesSpec::Count(n) if *n > 1_000_000 => {
                return Err(err(
                    parsed.cluster.value.nodes.span.clone(),
                    format!("{n} nodes is too many"),
                )
                .label("expected at most 1000000"));
            }
            NodesSpec::Count(n) => (1..=*n).map(|i| format!("n{i}")).collect(),
            NodesSpec::Names(names) => {
                let mut seen = IndexMap::new();
                for n in names {
                    if n.value.is_empty() {
                        return Err(err(n.span.clone(), "a node name is empty".into())
                            .label("expected a name like \"n1\""));
                    }
                    if seen.insert(n.value.clone(), ()).is_some() {
                        return Err(err(
                            n.span.clone(),
                            format!("node {:?} is named twice", n.value),
                        )
                        .label("a second node with this name")
                        .help("node names must be unique"));
                    }
                }
                names.iter().map(|n| n.value.clone()).collect()
            }
        };
        let workload = parsed
            .workload
            .clone()
            .unwrap_or_else(|| Spanned::new(Workload::default()));
        let scenario = Scenario {
            file: file.to_string(),
            source: source.clone(),
            name: parsed.name,
            description: parsed.description,
            protocol: parsed.protocol.value.name.clone(),
            config: parsed
                .protocol
                .value
                .config
                .as_ref()
                .map(|c| c.span.clone()),
            protocol_text: parsed.protocol.span.clone(),
            nodes,
            cluster_text: parsed.cluster.span.clone(),
            nodes_span: parsed.cluster.value.nodes.span.clone(),
            network: parsed
                .network
                .as_ref()
                .map(|n| n.value.clone())
                .unwrap_or_default(),
            network_text: parsed.network.as_ref().map(|n| n.span.clone()),
            storage: parsed.storage.as_ref().map(|s| s.value.clone()),
            storage_text: parsed.storage.as_ref().map(|s| s.span.clone()),
            workload: workload.value,
            workload_span: workload.span,
            faults: parsed
                .faults
                .into_iter()
                .map(|f| Spanned {
                    value: (f.value.0, f.value.1),
                    span: f.span,
                })
                .collect(),
            nemesis: parsed.nemesis,
            checks: parsed.checks,
            seed: parsed.seed,
            duration: parsed.duration,
            max_events: parsed.max_events,
            check_steps: parsed.check_steps,
            runaway: parsed.runaway,
            trace: parsed
                .trace
                .map_or(TraceLevel::Summary, TraceSetting::level),
            expect: parsed.expect,
            reach: parsed.reach,
            config_pinned: false,
        };
        scenario.validate()?;
        Ok(scenario)
    }

    /// The file name it was read from (as given).
    pub fn file(&self) -> &str {
        &self.file
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn protocol(&self) -> &str {
        &self.protocol.value
    }
    /// The seed written in the file.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// How long the run lasts in virtual time.
    /// The step budget of each history check, per key (`check_steps`, else
    /// [`protocols::LINEARIZABLE_MAX_STEPS`]).
    pub fn check_steps(&self) -> u64 {
        self.check_steps
            .as_ref()
            .map_or(protocols::LINEARIZABLE_MAX_STEPS, |s| s.value)
    }

    pub fn duration(&self) -> Duration {
        self.duration.value
    }

    /// The runaway bound: the file's `runaway: (...)` over the default for its nodes and
    /// clients ([`sim_core::RunawayBound::default_for`]).
    pub fn runaway(&self) -> Option<sim_core::RunawayBound> {
        let mut bound =
            sim_core::RunawayBound::default_for(self.nodes.len() + self.clients().len());
        let spec = &self.runaway.as_ref()?.value;
        if let Some(r) = &spec.events_per_second {
            bound.events_per_second = r.value;
        }
        if let Some(p) = &spec.max_pending {
            bound.max_pending = p.value;
        }
        Some(bound)
    }
    /// The trace level the file asks for (`summary` unless it says otherwise).
    pub fn trace(&self) -> TraceLevel {
        self.trace
    }
    pub fn expect(&self) -> &Expect {
        &self.expect.value
    }
    /// The sometimes-properties the file requires (`reach: [...]`), as written.
    pub fn reach(&self) -> impl Iterator<Item = &str> {
        self.reach.iter().map(|r| r.value.as_str())
    }
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }
    /// How many timed faults the file lists.
    pub fn fault_count(&self) -> usize {
        self.faults.len()
    }
    pub fn has_nemesis(&self) -> bool {
        self.nemesis.is_some()
    }
    pub fn workload(&self) -> &Workload {
        &self.workload
    }
    pub fn checks(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().map(|c| c.value.as_str())
    }

    pub(crate) fn error(&self, span: Span, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(&self.file, &self.source, span, message)
    }

    /// Client names, `c1..cN` from the workload.
    pub fn clients(&self) -> Vec<String> {
        (1..=self.workload.clients)
            .map(|i| format!("c{i}"))
            .collect()
    }

    /// The default link of the network.
    pub(crate) fn link(&self) -> LinkConfig {
        LinkConfig {
            latency: self.network.latency.value,
            loss: self.network.loss,
            duplicate: self.network.duplicate,
        }
    }

    /// How the nodes' disks behave (the disk that loses nothing unless `storage` says).
    pub fn storage(&self) -> sim_core::StorageConfig {
        self.storage
            .as_ref()
            .map_or_else(sim_core::StorageConfig::default, StorageSpec::config)
    }

    /// Every endpoint name with its address.
    fn endpoints(&self) -> IndexMap<String, Addr> {
        let mut map = IndexMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            map.insert(n.clone(), Addr::Node(NodeId(i as u32)));
        }
        for i in 0..self.workload.clients {
            // Clients are named c1..cN; a node may not take one of those names (checked).
            map.entry(client_name(i))
                .or_insert(Addr::Client(ClientId(i)));
        }
        map
    }

    /// The address of a name written in the file, or an error pointing at it.
    pub(crate) fn resolve(
        &self,
        name: &Spanned<String>,
        nodes_only: bool,
    ) -> Result<Addr, ScenarioError> {
        if name.value.starts_with('@') {
            // A targeted fault's node (`"@leader:1"`, `"@1"`): a placeholder here; the
            // fault is wrapped as `Fault::Targeted` when lowered.
            self.target(name)?;
            return Ok(Addr::Node(NodeId(0)));
        }
        let endpoints = self.endpoints();
        match endpoints.get(name.value.as_str()) {
            Some(Addr::Client(_)) if nodes_only => Err(self
                .error(
                    name.span.clone(),
                    format!("{:?} is a client, and this fault takes a node", name.value),
                )
                .label("expected a node")
                .help(format!("nodes are {}", list(&self.nodes)))),
            Some(a) => Ok(*a),
            None => {
                let what = if nodes_only { "node" } else { "node or client" };
                let mut valid: Vec<String> = self.nodes.clone();
                if !nodes_only {
                    valid.extend(self.clients());
                }
                Err(self
                    .error(
                        name.span.clone(),
                        format!("unknown {what} {:?}", name.value),
                    )
                    .label(format!("not a {what} of this scenario"))
                    .help(format!("expected one of {}", list(&valid))))
            }
        }
    }

    /// A targeted fault's node: `"@leader:K"` (whoever leads when the fault happens, kept
    /// as slot K) or `"@K"` (the node slot K chose earlier); `None` for a plain name.
    pub(crate) fn target(&self, name: &Spanned<String>) -> Result<Option<Pick>, ScenarioError> {
        let Some(rest) = name.value.strip_prefix('@') else {
            return Ok(None);
        };
        let (leader, k) = match rest.strip_prefix("leader:") {
            Some(k) => (true, k),
            None => (false, rest),
        };
        match k.parse::<u32>() {
            Ok(k) if leader => Ok(Some(Pick::Leader(k))),
            Ok(k) => Ok(Some(Pick::Slot(k))),
            Err(_) => Err(self
                .error(name.span.clone(), format!("unknown target {:?}", name.value))
                .label("not a target")
                .help("expected \"@leader:N\" (the node that leads when the fault happens, kept as slot N) or \"@N\" (the node slot N chose)")),
        }
    }

    fn node(&self, name: &Spanned<String>) -> Result<NodeId, ScenarioError> {
        match self.resolve(name, true)? {
            Addr::Node(n) => Ok(n),
            Addr::Client(_) => unreachable!("resolve(nodes_only) returns nodes"),
        }
    }

    /// Everything that can be checked without knowing the protocol.
    pub(crate) fn validate(&self) -> Result<(), ScenarioError> {
        if self.duration.value.is_zero() {
            return Err(self
                .error(self.duration.span.clone(), "the run lasts 0s")
                .label("expected a positive duration")
                .help("write e.g. `duration: \"10s\"`"));
        }
        if let Some(steps) = self.check_steps.as_ref().filter(|s| s.value == 0) {
            return Err(self
                .error(
                    steps.span.clone(),
                    "check_steps is 0: no history could be decided",
                )
                .label("expected at least 1")
                .help(format!(
                    "leave it out for the default, {} steps per key",
                    protocols::LINEARIZABLE_MAX_STEPS
                )));
        }
        if let Some(spec) = &self.runaway {
            let fields = [
                ("events_per_second", &spec.value.events_per_second),
                ("max_pending", &spec.value.max_pending),
            ];
            for (name, field) in fields {
                if let Some(f) = field.as_ref().filter(|f| f.value == 0) {
                    return Err(self
                        .error(
                            f.span.clone(),
                            format!("runaway {name} is 0: every run would be a runaway"),
                        )
                        .label("expected at least 1")
                        .help(format!(
                            "leave `{name}` out for the default (docs/SCENARIOS.md, Runaway runs)"
                        )));
                }
            }
        }
        if self.max_events == Some(0) {
            return Err(self.error(
                0..0,
                "max_events is 0: expected at least 1, or leave it out",
            ));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if self.workload.clients > 0 && is_client_name(n, self.workload.clients) {
                return Err(self
                    .error(
                        self.cluster_text.clone(),
                        format!("node {n:?} has the name of a client"),
                    )
                    .label(format!("node {} is called {n:?}", i + 1))
                    .help(format!(
                        "clients are named c1..c{}: rename the node",
                        self.workload.clients
                    )));
            }
        }
        if let Err(e) = self.network.latency.value.validate() {
            return Err(self
                .error(self.network.latency.span.clone(), e)
                .label("invalid latency"));
        }
        if let Some(st) = &self.storage {
            if let Err(e) = st.sync_latency.value.validate() {
                return Err(self
                    .error(st.sync_latency.span.clone(), e)
                    .label("invalid sync latency"));
            }
        }
        for link in &self.network.links {
            let l = &link.value;
            for name in l.from.iter().chain(&l.to) {
                self.resolve(name, false)?;
            }
            if let Some(lat) = &l.latency {
                if let Err(e) = lat.validate() {
                    return Err(self.error(link.span.clone(), e).label("invalid latency"));
                }
            }
        }
        if let Err(e) = self.workload.validate() {
            return Err(self
                .error(self.workload_span.clone(), e)
                .label("invalid workload"));
        }
        self.validate_faults()?;
        if let Some(n) = &self.nemesis {
            if !n.value.swarm && (n.value.every.is_none() || n.value.lasting.is_none()) {
                let field = if n.value.every.is_none() {
                    "every"
                } else {
                    "lasting"
                };
                return Err(self
                    .error(n.span.clone(), format!("the nemesis has no `{field}`"))
                    .label(format!("expected `{field}: (\"min\", \"max\")`"))
                    .help("write e.g. `every: (\"1s\", \"3s\"), lasting: (\"500ms\", \"2s\")`, or `swarm: true` to draw them per seed"));
            }
            let checked = if n.value.swarm {
                n.value.swarm_bounds(0).validate()
            } else {
                n.value.to_nemesis().validate()
            };
            if let Err(e) = checked {
                return Err(self.error(n.span.clone(), e).label("invalid nemesis"));
            }
            let c = &n.value.concurrency;
            if c.value == 0 || c.value > sim_core::MAX_CONCURRENCY {
                return Err(self
                    .error(
                        c.span.clone(),
                        format!("a nemesis concurrency of {}", c.value),
                    )
                    .label(format!("expected 1 to {}", sim_core::MAX_CONCURRENCY))
                    .help("1 runs one fault at a time (the default); 2 or 3 let faults overlap"));
            }
            if let Err(e) = n.value.slow.value.validate() {
                return Err(self
                    .error(n.value.slow.span.clone(), e)
                    .label("invalid latency"));
            }
            if n.value.stop.value > self.duration.value {
                return Err(self
                    .error(n.value.stop.span.clone(), format!(
                        "the nemesis stops at {}, after the run ends at {}",
                        n.value.stop.value, self.duration.value
                    ))
                    .label("after the end of the run")
                    .help("stop the nemesis before `duration` and leave a quiet tail for liveness checks"));
            }
        }
        let mut seen = IndexMap::new();
        for c in &self.checks {
            if seen.insert(c.value.as_str(), ()).is_some() {
                return Err(self
                    .error(
                        c.span.clone(),
                        format!("check {:?} is listed twice", c.value),
                    )
                    .label("listed again"));
            }
        }
        let mut seen = IndexMap::new();
        for r in &self.reach {
            if seen.insert(r.value.as_str(), ()).is_some() {
                return Err(self
                    .error(
                        r.span.clone(),
                        format!("property {:?} is listed twice in `reach`", r.value),
                    )
                    .label("listed again"));
            }
        }
        if let Expect::Violation(check) = &self.expect.value {
            if !self.checks.iter().any(|c| c.value == check.value) {
                return Err(self
                    .error(
                        check.span.clone(),
                        format!(
                            "expects a violation of {:?}, which is not in `checks`",
                            check.value
                        ),
                    )
                    .label("not checked in this scenario")
                    .help(if self.checks.is_empty() {
                        format!("add it: `checks: [{:?}]`", check.value)
                    } else {
                        format!(
                            "checks are {}; add it to `checks`",
                            list_quoted(self.checks.iter().map(|c| &c.value))
                        )
                    }));
            }
        }
        Ok(())
    }

    fn validate_faults(&self) -> Result<(), ScenarioError> {
        // Time order, file order among equals: the order the engine applies them in.
        let mut order: Vec<usize> = (0..self.faults.len()).collect();
        order.sort_by_key(|&i| self.faults[i].value.0.value);
        let mut crashed = vec![false; self.nodes.len()];
        for i in order {
            let (at, fault) = &self.faults[i].value;
            if at.value > self.duration.value {
                return Err(self
                    .error(
                        at.span.clone(),
                        format!(
                            "this fault is at {}, after the run ends at {}",
                            at.value, self.duration.value
                        ),
                    )
                    .label("after the end of the run")
                    .help(format!(
                        "use a time up to {}, or make `duration` longer",
                        self.duration.value
                    )));
            }
            if target_node(fault).is_none() {
                if let Some(n) = fault_names(fault).find(|n| n.value.starts_with('@')) {
                    return Err(self
                        .error(n.span.clone(), format!("target {:?} in a fault on several nodes or a link", n.value))
                        .label("only for a fault on one node")
                        .help("a target like \"@leader:1\" names the one node of Crash, Restart, Pause, Isolate, ClockSkew, ClockDrift, CorruptRecord, Slow(node: ...) or Clog(node: ...)"));
                }
            }
            match fault {
                FaultSpec::Restart(n) if n.value.starts_with('@') => {
                    self.target(n)?;
                }
                FaultSpec::Partition(groups) => {
                    if groups.len() < 2 {
                        return Err(self
                            .error(self.faults[i].span.clone(), "a partition needs at least two groups")
                            .label("one group cuts nothing")
                            .help("write Partition([[\"n1\", \"n2\"], [\"n3\"]]); to cut one node off, use Isolate(\"n3\")"));
                    }
                    self.distinct(groups.iter().flatten(), "partition")?;
                }
                FaultSpec::OneWay { from, to } => {
                    self.distinct(from.iter().chain(to), "one-way cut")?
                }
                FaultSpec::Bridge {
                    left,
                    middle,
                    right,
                } => self.distinct(left.iter().chain(middle).chain(right), "bridge")?,
                FaultSpec::Heal => {}
                FaultSpec::ClogAfterSend { lasting, .. } => {
                    if lasting.0 > lasting.1 || lasting.1.is_zero() {
                        return Err(self
                            .error(
                                self.faults[i].span.clone(),
                                format!(
                                    "lasting ({}, {}): expected 0 < max and min <= max",
                                    lasting.0, lasting.1
                                ),
                            )
                            .label("expected (min, max) with min <= max"));
                    }
                }
                FaultSpec::CrashAfterSend { restart, node, .. } => {
                    if let Some(n) = node {
                        self.node(n)?;
                    }
                    if restart.0 > restart.1 {
                        return Err(self
                            .error(
                                self.faults[i].span.clone(),
                                format!(
                                    "restart ({}, {}): the shortest is above the longest",
                                    restart.0, restart.1
                                ),
                            )
                            .label("expected (min, max) with min <= max"));
                    }
                }
                FaultSpec::Crash(n) => {
                    let id = self.node(n)?;
                    crashed[id.index()] = true;
                }
                FaultSpec::Restart(n) => {
                    let id = self.node(n)?;
                    if !crashed[id.index()] {
                        return Err(self
                            .error(
                                n.span.clone(),
                                format!(
                                    "restart of {:?}, which is not crashed at {}",
                                    n.value, at.value
                                ),
                            )
                            .label("never crashed before this")
                            .help(format!(
                                "add At(\"...\", Crash({:?})) before this restart, or remove it",
                                n.value
                            )));
                    }
                    crashed[id.index()] = false;
                }
                FaultSpec::Pause { node, .. }
                | FaultSpec::Isolate(node)
                | FaultSpec::CorruptRecord(node)
                | FaultSpec::ClockSkew(node, _) => {
                    self.node(node)?;
                }
                FaultSpec::ClockDrift(node, ppm) => {
                    self.node(node)?;
                    let bound = sim_core::MAX_DRIFT_PPM;
                    if ppm.value.abs() > bound {
                        return Err(self
                            .error(
                                ppm.span.clone(),
                                format!(
                                    "a drift of {} ppm is outside the bound of ±{bound} ppm (a clock at half or one and a half times the true rate)",
                                    ppm.value
                                ),
                            )
                            .label(format!("expected -{bound} to {bound}"))
                            .help("real clocks drift by tens of ppm; 100000 is already a clock 10% fast"));
                    }
                }
                FaultSpec::Slow { node, from, to, .. } | FaultSpec::Clog { node, from, to, .. } => {
                    self.delay_links(self.faults[i].span.clone(), node, from, to)?;
                    if let FaultSpec::Slow { by, .. } = fault {
                        if let Err(e) = by.value.validate() {
                            return Err(self.error(by.span.clone(), e).label("invalid latency"));
                        }
                    }
                }
                FaultSpec::SetLoss { from, to, .. }
                | FaultSpec::SetDuplicate { from, to, .. }
                | FaultSpec::SetLatency { from, to, .. } => {
                    for name in from.iter().chain(to) {
                        self.resolve(name, false)?;
                    }
                    if let FaultSpec::SetLatency { latency, .. } = fault {
                        if let Err(e) = latency.value.validate() {
                            return Err(self
                                .error(latency.span.clone(), e)
                                .label("invalid latency"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A slow-down or clog names either a `node` or a link (`from` and `to`).
    fn delay_links(
        &self,
        span: Span,
        node: &Option<Spanned<String>>,
        from: &Option<Spanned<String>>,
        to: &Option<Spanned<String>>,
    ) -> Result<(), ScenarioError> {
        match (node, from, to) {
            (Some(n), None, None) => {
                self.resolve(n, false)?;
            }
            (None, Some(f), Some(t)) => {
                self.resolve(f, false)?;
                self.resolve(t, false)?;
            }
            _ => {
                return Err(self
                    .error(span, "a slow-down or clog needs a node, or a link")
                    .label("expected `node: \"n2\"`, or both `from` and `to`")
                    .help("write Slow(node: \"n2\", for: \"2s\") or Clog(from: \"n1\", to: \"n2\", for: \"1s\")"));
            }
        }
        Ok(())
    }

    /// Every name resolves, and none is named twice.
    fn distinct<'a>(
        &self,
        names: impl Iterator<Item = &'a Spanned<String>>,
        what: &str,
    ) -> Result<(), ScenarioError> {
        let mut seen: IndexMap<Addr, ()> = IndexMap::new();
        for n in names {
            let a = self.resolve(n, false)?;
            if seen.insert(a, ()).is_some() {
                return Err(self
                    .error(
                        n.span.clone(),
                        format!("this {what} names {:?} twice", n.value),
                    )
                    .label("named a second time")
                    .help("each node may be in one group only"));
            }
        }
        Ok(())
    }

    /// The faults in the order the engine gets them: the timed faults in file order (a
    /// pause expands to a pause and its resume), then the nemesis's draws for `seed`. In
    /// swarm mode, `swarm` is the seed's draw: each node's drift at time zero, then the
    /// drawn nemesis's schedule.
    pub fn fault_schedule(&self, seed: u64, swarm: Option<&SwarmDraw>) -> Vec<(Time, Fault)> {
        let mut out = Vec::new();
        for f in &self.faults {
            let (at, spec) = &f.value;
            let t = Time::ZERO.plus(at.value);
            self.lower(t, spec, &mut out);
        }
        out.extend(self.nemesis_schedule(seed, swarm));
        out
    }

    /// When the faults stop for `seed` (the liveness phase begins): the later of the
    /// nemesis's `stop` and the last timed fault (a pause counts until it resumes).
    pub fn faults_stop(&self, seed: u64, swarm: Option<&SwarmDraw>) -> Time {
        let last = self
            .fault_schedule(seed, swarm)
            .iter()
            .map(|(t, _)| *t)
            .max()
            .unwrap_or(Time::ZERO);
        let stop = self.nemesis.as_ref().map_or(Time::ZERO, |n| match swarm {
            Some(d) if n.value.swarm => Time::ZERO.plus(d.nemesis.stop),
            _ => Time::ZERO.plus(n.value.to_nemesis().stop),
        });
        last.max(stop)
    }

    /// What the nemesis (plain or swarm) adds to the timed faults for `seed`.
    fn nemesis_schedule(&self, seed: u64, swarm: Option<&SwarmDraw>) -> Vec<(Time, Fault)> {
        let Some(n) = &self.nemesis else {
            return Vec::new();
        };
        let mut rng = SimRng::new(seed, "nemesis");
        let nodes = self.nodes.len() as u32;
        match swarm {
            Some(d) if n.value.swarm => {
                let mut out: Vec<(Time, Fault)> = d
                    .drift_ppm
                    .iter()
                    .enumerate()
                    .filter(|(_, ppm)| **ppm != 0)
                    .map(|(i, ppm)| (Time::ZERO, Fault::ClockDrift(NodeId(i as u32), *ppm)))
                    .collect();
                let drawn = d.nemesis.schedule_with(&d.options, &mut rng, nodes);
                let steps = sim_core::swarm::leader_clock_steps(seed, &d.nemesis, &drawn);
                out.extend(drawn);
                out.extend(steps);
                out
            }
            _ => n
                .value
                .to_nemesis()
                .schedule_with(&n.value.options(), &mut rng, nodes),
        }
    }

    /// Is the nemesis in swarm mode?
    pub fn is_swarm(&self) -> bool {
        self.nemesis.as_ref().is_some_and(|n| n.value.swarm)
    }

    /// Swarm mode's draw for `seed` (from the seed's `swarm` stream), for a protocol that
    /// survives clock drift up to `max_drift_ppm`; `None` unless the nemesis is a swarm.
    pub fn swarm_draw(&self, seed: u64, max_drift_ppm: i64) -> Option<SwarmDraw> {
        self.swarm_draw_giving_up(seed, max_drift_ppm, None, Vec::new())
    }

    /// [`Scenario::swarm_draw`] for a protocol whose nodes give up waiting after
    /// `give_up` ([`sim_core::SwarmBounds::give_up`]) and that has these `node_kinds`
    /// ([`sim_core::SwarmBounds::node_kinds`]).
    pub fn swarm_draw_giving_up(
        &self,
        seed: u64,
        max_drift_ppm: i64,
        give_up: Option<(Duration, Duration)>,
        node_kinds: Vec<Vec<u32>>,
    ) -> Option<SwarmDraw> {
        let n = self.nemesis.as_ref().filter(|n| n.value.swarm)?;
        let mut rng = SimRng::new(seed, "swarm");
        let mut bounds = n.value.swarm_bounds(max_drift_ppm);
        bounds.give_up = give_up;
        bounds.node_kinds = node_kinds;
        Some(bounds.draw(&mut rng, self.nodes.len()))
    }

    /// The workload a swarm run of `seed` uses (`None` without swarm mode or clients),
    /// drawn within the file's workload from the seed's `swarm/workload` stream: in half
    /// the seeds one hot key instead of the file's keys; in a third each, reads or writes
    /// four times as frequent as the file says; in half, think times up to twice as long
    /// or down to a quarter. Read-heavy phases on one key are where stale reads show.
    pub fn swarm_workload(&self, seed: u64) -> Option<Workload> {
        if !self.is_swarm() || self.workload.clients == 0 {
            return None;
        }
        let mut rng = SimRng::new(seed, "swarm/workload");
        let mut w = self.workload.clone();
        if rng.below(2) == 1 {
            w.keys = 1;
        }
        match rng.below(3) {
            1 if w.mix.read > 0 => w.mix.read *= 4,
            2 if w.mix.write > 0 => w.mix.write *= 4,
            _ => {}
        }
        if rng.below(2) == 1 {
            let scale = |d: Duration, num: u64, den: u64| {
                Duration::from_millis(d.as_nanos() / 1_000_000 * num / den)
            };
            let (num, den) = if rng.below(2) == 1 { (2, 1) } else { (1, 4) };
            w.think_min = scale(w.think_min, num, den);
            w.think_max = scale(w.think_max, num, den).max(w.think_min);
        }
        Some(w)
    }

    /// The same scenario without swarm mode, its draw for `seed` pinned as plain fields:
    /// the network's latency, loss and duplication, each node's drift and the nemesis's
    /// faults as timed faults, and (if given) the protocol config as drawn. It runs for
    /// `seed` exactly as the swarm did.
    pub fn pin_swarm(&self, seed: u64, draw: &SwarmDraw, config_ron: Option<String>) -> Scenario {
        let mut out = self.clone();
        let drawn = self.nemesis_schedule(seed, Some(draw));
        if let Some(w) = self.swarm_workload(seed) {
            out.workload = w;
        }
        out.nemesis = None;
        out.network.latency = Spanned::new(draw.latency);
        out.network.loss = draw.loss;
        out.network.duplicate = draw.duplicate;
        let mut network = format!(
            "(latency: {}, loss: {}, duplicate: {}",
            draw.latency,
            draw.loss.value(),
            draw.duplicate.value()
        );
        if !self.network.links.is_empty() {
            let links: Vec<&str> = self
                .network
                .links
                .iter()
                .map(|l| &self.source[l.span.clone()])
                .collect();
            network.push_str(&format!(", links: [{}]", links.join(", ")));
        }
        network.push(')');
        out.network_text = Some(out.append_text(&network));
        if let Some(config) = config_ron {
            out.config = Some(out.append_text(&config));
            out.config_pinned = true;
        }
        out.push_drawn(&drawn);
        out
    }

    /// Adds `text` after the file's source (where nothing else points) and returns its
    /// span, so a written-back scenario can quote it like any other section.
    fn append_text(&mut self, text: &str) -> Span {
        let mut src = String::with_capacity(self.source.len() + text.len() + 1);
        src.push_str(&self.source);
        src.push('\n');
        let start = src.len();
        src.push_str(text);
        self.source = Arc::from(src);
        start..start + text.len()
    }

    /// The links of a checked slow-down or clog.
    fn delay_on(
        &self,
        node: &Option<Spanned<String>>,
        from: &Option<Spanned<String>>,
        to: &Option<Spanned<String>>,
    ) -> sim_core::DelayOn {
        let addr = |n: &Spanned<String>| self.resolve(n, false).expect("validated name");
        match (node, from, to) {
            (Some(n), _, _) => sim_core::DelayOn::Endpoint(addr(n)),
            (None, Some(f), Some(t)) => sim_core::DelayOn::Link {
                from: addr(f),
                to: addr(t),
            },
            _ => unreachable!("validated: a node or a link"),
        }
    }

    /// Turns one checked fault into engine faults (names were resolved by `validate`).
    fn lower(&self, t: Time, spec: &FaultSpec, out: &mut Vec<(Time, Fault)>) {
        let addr = |n: &Spanned<String>| self.resolve(n, false).expect("validated name");
        let node = |n: &Spanned<String>| self.node(n).expect("validated node");
        let addrs = |ns: &[Spanned<String>]| ns.iter().map(addr).collect::<Vec<_>>();
        let fault = match spec {
            FaultSpec::Partition(groups) => {
                Fault::Partition(groups.iter().map(|g| addrs(g)).collect())
            }
            FaultSpec::Heal => Fault::Heal,
            FaultSpec::Crash(n) => Fault::Crash(node(n)),
            FaultSpec::Restart(n) => Fault::Restart(node(n)),
            FaultSpec::Pause { node: n, r#for } => {
                let (pause, resume) = (Fault::Pause(node(n)), Fault::Resume(node(n)));
                let end = t.plus(r#for.value);
                match self.target(n).expect("validated target") {
                    Some(pick) => {
                        out.push((t, targeted(pick, pause)));
                        out.push((end, targeted(Pick::Slot(pick.slot()), resume)));
                    }
                    None => {
                        out.push((t, pause));
                        out.push((end, resume));
                    }
                }
                return;
            }
            FaultSpec::ClockSkew(n, by) => Fault::ClockSkew(node(n), by.value),
            FaultSpec::ClockDrift(n, ppm) => Fault::ClockDrift(node(n), ppm.value),
            FaultSpec::Isolate(n) => Fault::Isolate(node(n)),
            FaultSpec::CorruptRecord(n) => Fault::CorruptRecord(node(n)),
            FaultSpec::OneWay { from, to } => Fault::OneWay {
                from: addrs(from),
                to: addrs(to),
            },
            FaultSpec::Bridge {
                left,
                middle,
                right,
            } => Fault::Bridge {
                left: addrs(left),
                middle: addrs(middle),
                right: addrs(right),
            },
            FaultSpec::SetLoss { from, to, loss } => Fault::SetLink {
                from: from.as_ref().map(addr),
                to: to.as_ref().map(addr),
                update: sim_core::LinkUpdate {
                    loss: Some(*loss),
                    ..Default::default()
                },
            },
            FaultSpec::SetDuplicate {
                from,
                to,
                duplicate,
            } => Fault::SetLink {
                from: from.as_ref().map(addr),
                to: to.as_ref().map(addr),
                update: sim_core::LinkUpdate {
                    duplicate: Some(*duplicate),
                    ..Default::default()
                },
            },
            FaultSpec::Slow {
                node,
                from,
                to,
                by,
                r#for,
            } => Fault::Slow {
                on: self.delay_on(node, from, to),
                by: by.value,
                until: t.plus(r#for.value),
            },
            FaultSpec::Clog {
                node,
                from,
                to,
                r#for,
            } => Fault::Clog {
                on: self.delay_on(node, from, to),
                until: t.plus(r#for.value),
            },
            FaultSpec::SetLatency { from, to, latency } => Fault::SetLink {
                from: from.as_ref().map(addr),
                to: to.as_ref().map(addr),
                update: sim_core::LinkUpdate {
                    latency: Some(latency.value),
                    ..Default::default()
                },
            },
            FaultSpec::CrashAfterSend {
                p,
                restart,
                kind,
                node: on,
                leader,
                partial,
                r#for,
            } => Fault::CrashAfterSend {
                p: *p,
                restart: *restart,
                kind: *kind,
                node: on.as_ref().map(node),
                leader: *leader,
                partial: *partial,
                until: t.plus(r#for.value),
            },
            FaultSpec::ClogAfterSend {
                p,
                lasting,
                kind,
                r#for,
            } => Fault::ClogAfterSend {
                p: *p,
                lasting: *lasting,
                kind: *kind,
                until: t.plus(r#for.value),
            },
        };
        let pick = target_node(spec).and_then(|n| self.target(n).expect("validated target"));
        match pick {
            Some(pick) => out.push((t, targeted(pick, fault))),
            None => out.push((t, fault)),
        }
    }

    /// The same scenario with the nemesis's draws for `seed` written out as timed faults,
    /// so they can be read, edited and shrunk. Runs identically for that seed.
    pub fn materialize(&self, seed: u64) -> Scenario {
        let mut out = self.clone();
        if out.nemesis.is_none() {
            return out;
        }
        let drawn = self.nemesis_schedule(seed, None);
        out.nemesis = None;
        out.push_drawn(&drawn);
        out
    }

    /// Appends engine faults drawn by a nemesis as timed faults (a pause with its resume
    /// becomes one `Pause(for: ...)`).
    fn push_drawn(&mut self, drawn: &[(Time, Fault)]) {
        let out = self;
        let nodes = out.nodes.clone();
        let name = |a: &Addr| {
            Spanned::new(match a {
                Addr::Node(n) => nodes[n.index()].clone(),
                Addr::Client(c) => client_name(c.0),
            })
        };
        let names = |v: &[Addr]| v.iter().map(name).collect::<Vec<_>>();
        let delay_names = |on: &sim_core::DelayOn| match on {
            sim_core::DelayOn::Endpoint(a) => (Some(name(a)), None, None),
            sim_core::DelayOn::Link { from, to } => (None, Some(name(from)), Some(name(to))),
        };
        let mut used = vec![false; drawn.len()];
        for i in 0..drawn.len() {
            if used[i] {
                continue;
            }
            let (t, f) = &drawn[i];
            let (f, target) = match f {
                Fault::Targeted { pick, fault } => (fault.as_ref(), Some(*pick)),
                f => (f, None),
            };
            let mut spec = match f {
                Fault::Partition(groups) => {
                    FaultSpec::Partition(groups.iter().map(|g| names(g)).collect())
                }
                Fault::Isolate(n) => FaultSpec::Isolate(name(&Addr::Node(*n))),
                Fault::Bridge {
                    left,
                    middle,
                    right,
                } => FaultSpec::Bridge {
                    left: names(left),
                    middle: names(middle),
                    right: names(right),
                },
                Fault::OneWay { from, to } => FaultSpec::OneWay {
                    from: names(from),
                    to: names(to),
                },
                Fault::Heal => FaultSpec::Heal,
                Fault::Crash(n) => FaultSpec::Crash(name(&Addr::Node(*n))),
                Fault::Restart(n) => FaultSpec::Restart(name(&Addr::Node(*n))),
                Fault::Pause(n) => {
                    // Its resume is the next resume of the same node.
                    let end = (i + 1..drawn.len()).find(|&j| match (&drawn[j].1, target) {
                        (Fault::Resume(m), None) => m == n,
                        (Fault::Targeted { pick, fault }, Some(p)) => {
                            *pick == Pick::Slot(p.slot()) && matches!(**fault, Fault::Resume(_))
                        }
                        _ => false,
                    });
                    let until = match end {
                        Some(j) => {
                            used[j] = true;
                            drawn[j].0
                        }
                        None => Time::MAX,
                    };
                    FaultSpec::Pause {
                        node: name(&Addr::Node(*n)),
                        r#for: Spanned::new(until.since(*t)),
                    }
                }
                Fault::Resume(_) => continue,
                Fault::ClockSkew(n, by) => {
                    FaultSpec::ClockSkew(name(&Addr::Node(*n)), Spanned::new(*by))
                }
                Fault::ClockDrift(n, ppm) => {
                    FaultSpec::ClockDrift(name(&Addr::Node(*n)), Spanned::new(*ppm))
                }
                Fault::CorruptRecord(n) => FaultSpec::CorruptRecord(name(&Addr::Node(*n))),
                Fault::SetLink { .. } => continue,
                Fault::Slow { on, by, until } => {
                    let (node, from, to) = delay_names(on);
                    FaultSpec::Slow {
                        node,
                        from,
                        to,
                        by: Spanned::new(*by),
                        r#for: Spanned::new(until.since(*t)),
                    }
                }
                Fault::Clog { on, until } => {
                    let (node, from, to) = delay_names(on);
                    FaultSpec::Clog {
                        node,
                        from,
                        to,
                        r#for: Spanned::new(until.since(*t)),
                    }
                }
                Fault::CrashAfterSend {
                    p,
                    restart,
                    kind,
                    node,
                    leader,
                    partial,
                    until,
                } => FaultSpec::CrashAfterSend {
                    p: *p,
                    restart: *restart,
                    kind: *kind,
                    node: node.map(|n| name(&Addr::Node(n))),
                    leader: *leader,
                    partial: *partial,
                    r#for: Spanned::new(until.since(*t)),
                },
                Fault::ClogAfterSend {
                    p,
                    lasting,
                    kind,
                    until,
                } => FaultSpec::ClogAfterSend {
                    p: *p,
                    lasting: *lasting,
                    kind: *kind,
                    r#for: Spanned::new(until.since(*t)),
                },
                // Not drawn: a nemesis writes only one level of targeting.
                Fault::Targeted { .. } => continue,
            };
            if let Some(pick) = target {
                let label = match pick {
                    Pick::Leader(k) => format!("@leader:{k}"),
                    Pick::Slot(k) => format!("@{k}"),
                };
                match target_node_mut(&mut spec) {
                    Some(n) => *n = Spanned::new(label),
                    None => continue,
                }
            }
            out.faults
                .push(Spanned::new((Spanned::new(t.elapsed()), spec)));
        }
    }

    /// The scenario as a RON file that `faultline run` reads back.
    pub fn to_ron(&self) -> String {
        write::to_ron(self)
    }
}

fn client_name(i: u32) -> String {
    format!("c{}", i + 1)
}

fn is_client_name(name: &str, clients: u32) -> bool {
    name.strip_prefix('c')
        .and_then(|d| d.parse::<u32>().ok())
        .is_some_and(|k| k >= 1 && k <= clients && name == format!("c{k}"))
}

/// `a, b or c`
pub(crate) fn list(items: &[String]) -> String {
    match items {
        [] => "none".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `"a", "b" or "c"`
pub(crate) fn list_quoted<'a>(items: impl Iterator<Item = &'a String>) -> String {
    list(&items.map(|s| format!("{s:?}")).collect::<Vec<_>>())
}

/// A hint for the commonest RON mistakes.
/// A syntax error that a string left open explains: ron reads an unclosed string on to
/// the next quote (or the end of the file) and then trips over what follows. Say so, at
/// the string's start.
fn unclosed_string(
    file: &str,
    source: &Arc<str>,
    at: usize,
    message: &str,
) -> Option<ScenarioError> {
    let syntax = message.starts_with("expected a comma")
        || message.starts_with("the file ends too early")
        || message == "expected end of string";
    if !syntax {
        return None;
    }
    let (start, end) = span::unclosed_string_before(source, at)?;
    let e = ScenarioError::at(file, source, start..start + 1, "").line_col();
    let (line, col) = e.unwrap_or((1, 1));
    let error = ScenarioError::at(
        file,
        source,
        start..start + 1,
        format!("the string that starts at line {line}, column {col} is not closed"),
    );
    Some(match end {
        Some(end) => {
            let (l2, c2) = ScenarioError::at(file, source, end - 1..end, "")
                .line_col()
                .unwrap_or((line, col));
            error
                .label("this string has no closing `\"` on its line")
                .help(format!(
                    "add the closing `\"`; without it the string runs on to the quote at line {l2}, column {c2}"
                ))
        }
        None => error
            .label("this string is never closed")
            .help("add the closing `\"`"),
    })
}

fn help_for(message: &str) -> Option<String> {
    if message.contains("a clock offset needs its sign") {
        return Some(
            "a clock step is signed: \"+500ms\" moves the clock forward, \"-500ms\" back".into(),
        );
    }
    if message.contains("invalid duration") {
        return Some("durations are strings with a unit: \"150ms\", \"2s\", \"1.5s\"".into());
    }
    if message.starts_with("expected a comma") {
        return Some("separate the items of a list or struct with `,`".into());
    }
    if message == "expected string" {
        return Some("durations, clock offsets and names are written in quotes, e.g. \"800ms\", \"+500ms\", \"n1\"".into());
    }
    if message.contains("missing field named `seed`") {
        return Some("a scenario names its seed: add `seed: 1` (any number; `faultline run --seed N` overrides it)".into());
    }
    if let Some(rest) = message.strip_prefix("unexpected missing field named `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return Some(format!(
            "add `{field}: ...` here; docs/SCENARIOS.md lists every field"
        ));
    }
    if message.starts_with("unexpected field named") {
        return Some("check the spelling, and that the `(` before it is closed".into());
    }
    if message.contains("probability") {
        return Some("probabilities are numbers from 0 to 1, e.g. 0.05 for 5%".into());
    }
    None
}

/// Every `.ron` file under `dir`, recursively, sorted by path.
pub fn files_under(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "ron") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn targeted(pick: Pick, fault: Fault) -> Fault {
    Fault::Targeted {
        pick,
        fault: Box::new(fault),
    }
}

/// One match for [`target_node`] and [`target_node_mut`]: match ergonomics give `&` or
/// `&mut` from the same arms.
macro_rules! one_node {
    ($spec:expr) => {
        match $spec {
            FaultSpec::Crash(n)
            | FaultSpec::Restart(n)
            | FaultSpec::Pause { node: n, .. }
            | FaultSpec::ClockSkew(n, _)
            | FaultSpec::ClockDrift(n, _)
            | FaultSpec::Isolate(n)
            | FaultSpec::CorruptRecord(n) => Some(n),
            FaultSpec::Slow {
                node: Some(n),
                from: None,
                to: None,
                ..
            }
            | FaultSpec::Clog {
                node: Some(n),
                from: None,
                to: None,
                ..
            } => Some(n),
            _ => None,
        }
    };
}

/// The one node a fault names, for the faults a target (`"@leader:1"`) may name.
fn target_node(spec: &FaultSpec) -> Option<&Spanned<String>> {
    one_node!(spec)
}

/// Every name a fault writes.
fn fault_names(spec: &FaultSpec) -> Box<dyn Iterator<Item = &Spanned<String>> + '_> {
    match spec {
        FaultSpec::Partition(groups) => Box::new(groups.iter().flatten()),
        FaultSpec::OneWay { from, to } => Box::new(from.iter().chain(to)),
        FaultSpec::Bridge {
            left,
            middle,
            right,
        } => Box::new(left.iter().chain(middle).chain(right)),
        FaultSpec::Slow { node, from, to, .. } | FaultSpec::Clog { node, from, to, .. } => {
            Box::new(node.iter().chain(from).chain(to))
        }
        FaultSpec::SetLoss { from, to, .. }
        | FaultSpec::SetDuplicate { from, to, .. }
        | FaultSpec::SetLatency { from, to, .. } => Box::new(from.iter().chain(to)),
        FaultSpec::CrashAfterSend { node, .. } => Box::new(node.iter()),
        other => Box::new(target_node(other).into_iter()),
    }
}

/// [`target_node`], to rename it.
fn target_node_mut(spec: &mut FaultSpec) -> Option<&mut Spanned<String>> {
    one_node!(spec)
}
