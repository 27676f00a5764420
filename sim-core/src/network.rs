//! The simulated network: a topology of links, each with a latency distribution, a loss
//! probability and a duplication probability, and the partitions (cuts) in force.
//!
//! Every endpoint (node or client) has a dense index. Links not configured otherwise use the
//! default link; per-link overrides are edges of a petgraph `DiGraphMap`. Cuts are rules
//! (groups, one-way, bridge) evaluated per message, so a partition of 10,000 nodes costs a
//! group table, not 10^8 cut edges. Reordering is not a separate knob: it follows from
//! latency, as on a real network.

use crate::rng::{Probability, SimRng};
use crate::time::{Duration, Time};
use petgraph::graphmap::DiGraphMap;
use serde::{Deserialize, Serialize};

/// How long a message takes on a link.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Latency {
    /// Always the same.
    Constant(Duration),
    /// Uniform between `min` and `max` inclusive.
    Uniform { min: Duration, max: Duration },
    /// Exponential with the given mean, cut at `max`.
    Exponential { mean: Duration, max: Duration },
    /// Normal with `mean` and `std_dev`, clamped to `[min, max]`.
    Normal {
        mean: Duration,
        std_dev: Duration,
        min: Duration,
        max: Duration,
    },
    /// Long-tailed: mostly uniform in `[min, max]`, but with probability `slow` uniform in
    /// `[slow_min, slow_max]` (a few messages very late: a GC pause on the path, a
    /// retransmission, a congested switch). The recommended shape for nemesis scenarios.
    LongTail {
        min: Duration,
        max: Duration,
        slow: Probability,
        slow_min: Duration,
        slow_max: Duration,
    },
}

impl std::fmt::Display for Latency {
    /// The scenario-file form: `Uniform(min: "1ms", max: "10ms")`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Latency::Constant(d) => write!(f, "Constant(\"{d}\")"),
            Latency::Uniform { min, max } => write!(f, "Uniform(min: \"{min}\", max: \"{max}\")"),
            Latency::Exponential { mean, max } => {
                write!(f, "Exponential(mean: \"{mean}\", max: \"{max}\")")
            }
            Latency::Normal {
                mean,
                std_dev,
                min,
                max,
            } => write!(
                f,
                "Normal(mean: \"{mean}\", std_dev: \"{std_dev}\", min: \"{min}\", max: \"{max}\")"
            ),
            Latency::LongTail {
                min,
                max,
                slow,
                slow_min,
                slow_max,
            } => write!(
                f,
                "LongTail(min: \"{min}\", max: \"{max}\", slow: {}, slow_min: \"{slow_min}\", slow_max: \"{slow_max}\")",
                slow.value()
            ),
        }
    }
}

impl Latency {
    /// Checks the parameters, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Latency::Constant(_) => Ok(()),
            Latency::Uniform { min, max } | Latency::Normal { min, max, .. } if min > max => Err(
                format!("latency min {min} is above max {max}: expected min <= max"),
            ),
            Latency::Exponential { mean, max } if mean > max => Err(format!(
                "exponential latency mean {mean} is above its max {max}: expected mean <= max"
            )),
            Latency::LongTail { min, max, .. } if min > max => Err(format!(
                "latency min {min} is above max {max}: expected min <= max"
            )),
            Latency::LongTail {
                slow_min, slow_max, ..
            } if slow_min > slow_max => Err(format!(
                "latency slow_min {slow_min} is above slow_max {slow_max}: expected slow_min <= slow_max"
            )),
            _ => Ok(()),
        }
    }

    /// Draws one latency. Integer math, or `libm` (bit-identical everywhere) for the
    /// exponential and normal shapes.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> Duration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { min, max } => {
                Duration::from_nanos(rng.between(min.as_nanos(), max.as_nanos()))
            }
            _ => self.sample_shaped(rng),
        }
    }

    /// The floating-point shapes, kept out of line so the common ones inline into a send.
    #[inline(never)]
    fn sample_shaped(&self, rng: &mut SimRng) -> Duration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { min, max } => {
                Duration::from_nanos(rng.between(min.as_nanos(), max.as_nanos()))
            }
            Latency::Exponential { mean, max } => {
                let u = rng.unit_f64();
                let x = -(mean.as_nanos() as f64) * libm::log(1.0 - u);
                Duration::from_nanos((x as u64).min(max.as_nanos()))
            }
            Latency::Normal {
                mean,
                std_dev,
                min,
                max,
            } => {
                let u1 = 1.0 - rng.unit_f64(); // (0, 1]
                let u2 = rng.unit_f64();
                let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2);
                let x = mean.as_nanos() as f64 + z * std_dev.as_nanos() as f64;
                let x = x.clamp(min.as_nanos() as f64, max.as_nanos() as f64);
                Duration::from_nanos(x as u64)
            }
            Latency::LongTail {
                min,
                max,
                slow,
                slow_min,
                slow_max,
            } => {
                let (lo, hi) = if rng.chance(slow) {
                    (slow_min, slow_max)
                } else {
                    (min, max)
                };
                Duration::from_nanos(rng.between(lo.as_nanos(), hi.as_nanos()))
            }
        }
    }
}

/// One direction of a link between two endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkConfig {
    pub latency: Latency,
    pub loss: Probability,
    pub duplicate: Probability,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(10),
            },
            loss: Probability::ZERO,
            duplicate: Probability::ZERO,
        }
    }
}

/// A change to links at run time; `None` fields stay as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkUpdate {
    pub latency: Option<Latency>,
    pub loss: Option<Probability>,
    pub duplicate: Option<Probability>,
}

impl LinkUpdate {
    fn apply(&self, link: &mut LinkConfig) {
        if let Some(l) = self.latency {
            link.latency = l;
        }
        if let Some(p) = self.loss {
            link.loss = p;
        }
        if let Some(p) = self.duplicate {
            link.duplicate = p;
        }
    }
}

/// A rule that cuts some messages. Endpoints a rule does not name are not affected by it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cut {
    /// `group[e]` for each endpoint (`NONE` = not named): cut between different groups.
    /// Bridge members are in no group, so they reach both sides.
    Groups(Vec<u32>),
    /// Cut messages from any endpoint in `from` to any endpoint in `to`, not back.
    OneWay { from: Vec<bool>, to: Vec<bool> },
}

const NONE: u32 = u32::MAX;

impl Cut {
    pub(crate) fn groups(endpoints: usize, groups: &[Vec<u32>]) -> Cut {
        let mut g = vec![NONE; endpoints];
        for (i, members) in groups.iter().enumerate() {
            for &m in members {
                g[m as usize] = i as u32;
            }
        }
        Cut::Groups(g)
    }

    pub(crate) fn one_way(endpoints: usize, from: &[u32], to: &[u32]) -> Cut {
        let mut f = vec![false; endpoints];
        let mut t = vec![false; endpoints];
        for &e in from {
            f[e as usize] = true;
        }
        for &e in to {
            t[e as usize] = true;
        }
        Cut::OneWay { from: f, to: t }
    }

    #[inline]
    pub(crate) fn blocks(&self, from: u32, to: u32) -> bool {
        match self {
            Cut::Groups(g) => {
                let (a, b) = (g[from as usize], g[to as usize]);
                a != NONE && b != NONE && a != b
            }
            Cut::OneWay { from: f, to: t } => f[from as usize] && t[to as usize],
        }
    }
}

/// Which messages a delay rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DelayTarget {
    /// Every message into or out of this endpoint.
    Endpoint(u32),
    /// Messages from the first endpoint to the second (one direction).
    Link(u32, u32),
}

impl DelayTarget {
    #[inline]
    fn matches(self, from: u32, to: u32) -> bool {
        match self {
            DelayTarget::Endpoint(e) => from == e || to == e,
            DelayTarget::Link(a, b) => from == a && to == b,
        }
    }
}

/// How a delay rule changes a message's arrival.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Delay {
    /// Extra latency, drawn per message from this shape, on top of the link's own.
    Slow(Latency),
    /// The message is held until the rule ends, then released within
    /// [`CLOG_RELEASE_SPREAD`] of the end, in an order drawn from the network's stream,
    /// and then takes the link's own latency (FoundationDB's clogging).
    Clog,
}

/// Held messages leave a clog spread over this much time after it ends, each at a point
/// drawn from the seed, so they arrive reordered.
pub const CLOG_RELEASE_SPREAD: Duration = Duration::from_millis(20);

/// A time-bounded slow-down or clog (see [`crate::Fault::Slow`], [`crate::Fault::Clog`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DelayRule {
    pub(crate) target: DelayTarget,
    pub(crate) delay: Delay,
    /// The rule applies to messages sent before this instant.
    pub(crate) until: Time,
}

/// The links and the cuts in force.
#[derive(Clone, Debug)]
pub struct Network {
    endpoints: usize,
    default: LinkConfig,
    /// Per-link overrides (edges `from -> to`). Deterministic: `DiGraphMap` is IndexMap-backed.
    overrides: DiGraphMap<u32, LinkConfig>,
    cuts: Vec<Cut>,
    /// Slow-downs and clogs, each with its own end; expired ones are dropped lazily.
    delays: Vec<DelayRule>,
    /// No per-link overrides, no duplication on the default link, no delay rules: every
    /// link is the default and a send draws only loss and latency. Kept by every method
    /// that changes those ([`Self::replan`]), read on every send ([`Self::plain`]).
    plain: bool,
}

impl Network {
    pub(crate) fn new(endpoints: usize, default: LinkConfig) -> Network {
        Network {
            endpoints,
            default,
            overrides: DiGraphMap::new(),
            cuts: Vec::new(),
            delays: Vec::new(),
            plain: default.duplicate.is_zero(),
        }
    }

    /// Recomputes [`Self::plain`] after a change of the links or the delay rules.
    fn replan(&mut self) {
        self.plain = self.overrides.edge_count() == 0
            && self.default.duplicate.is_zero()
            && self.delays.is_empty();
    }

    /// Is every link the default one, without duplication, and no delay rule in force (or
    /// not yet found expired)? Then a send's link is [`Self::default_link`].
    #[inline(always)]
    pub(crate) fn plain(&self) -> bool {
        debug_assert_eq!(
            self.plain,
            self.overrides.edge_count() == 0
                && self.default.duplicate.is_zero()
                && self.delays.is_empty(),
            "the network's plain flag is stale"
        );
        self.plain
    }

    /// The link every pair has unless overridden.
    #[inline(always)]
    pub(crate) fn default_link(&self) -> &LinkConfig {
        &self.default
    }

    /// Adds a slow-down or clog.
    pub(crate) fn add_delay(&mut self, rule: DelayRule) {
        self.delays.push(rule);
        self.replan();
    }

    /// Are any slow-downs or clogs in force (or not yet found expired)?
    #[inline]
    pub(crate) fn has_delays(&self) -> bool {
        !self.delays.is_empty()
    }

    /// When a message sent `now` from `from` to `to`, due at `due` by the link's latency,
    /// arrives given the delay rules in force: each matching slow-down adds its extra
    /// latency, a matching clog holds it until the clog ends (then within
    /// [`CLOG_RELEASE_SPREAD`]) and the link's latency. Draws only for matching rules,
    /// so a run without them draws exactly what it did before they existed.
    pub(crate) fn delayed(
        &mut self,
        now: Time,
        from: u32,
        to: u32,
        due: Time,
        rng: &mut SimRng,
    ) -> Time {
        self.delays.retain(|r| r.until > now);
        self.replan();
        let mut at = due;
        for r in &self.delays {
            if !r.target.matches(from, to) {
                continue;
            }
            match r.delay {
                Delay::Slow(extra) => at = at.plus(extra.sample(rng)),
                Delay::Clog => {
                    let spread = rng.between(0, CLOG_RELEASE_SPREAD.as_nanos());
                    let release = r.until.plus(Duration::from_nanos(spread));
                    at = at.max(release.plus(due.since(now)));
                }
            }
        }
        at
    }

    /// The link `from -> to`.
    #[inline]
    pub fn link(&self, from: u32, to: u32) -> &LinkConfig {
        if self.overrides.edge_count() == 0 {
            return &self.default;
        }
        self.overrides
            .edge_weight(from, to)
            .unwrap_or(&self.default)
    }

    /// Is `from -> to` cut right now?
    #[inline]
    pub fn is_cut(&self, from: u32, to: u32) -> bool {
        !self.cuts.is_empty() && self.cuts.iter().any(|c| c.blocks(from, to))
    }

    pub fn has_cuts(&self) -> bool {
        !self.cuts.is_empty()
    }

    pub(crate) fn add_cut(&mut self, cut: Cut) {
        self.cuts.push(cut);
    }

    pub(crate) fn heal(&mut self) {
        self.cuts.clear();
    }

    /// Sets one link (`Some`, `Some`), all links out of or into an endpoint, or (`None`,
    /// `None`) the default and every override.
    pub(crate) fn update(&mut self, from: Option<u32>, to: Option<u32>, update: &LinkUpdate) {
        match (from, to) {
            (None, None) => {
                update.apply(&mut self.default);
                let edges: Vec<(u32, u32)> =
                    self.overrides.all_edges().map(|(a, b, _)| (a, b)).collect();
                for (a, b) in edges {
                    if let Some(l) = self.overrides.edge_weight_mut(a, b) {
                        update.apply(l);
                    }
                }
            }
            (Some(a), Some(b)) => self.update_edge(a, b, update),
            (Some(a), None) => {
                for b in 0..self.endpoints as u32 {
                    if b != a {
                        self.update_edge(a, b, update);
                    }
                }
            }
            (None, Some(b)) => {
                for a in 0..self.endpoints as u32 {
                    if a != b {
                        self.update_edge(a, b, update);
                    }
                }
            }
        }
        self.replan();
    }

    fn update_edge(&mut self, a: u32, b: u32, update: &LinkUpdate) {
        let mut link = *self.link(a, b);
        update.apply(&mut link);
        self.overrides.add_edge(a, b, link);
    }

    /// Which endpoints among `members` can exchange messages both ways right now: the
    /// strongly connected components of the reachability graph, each sorted, in order of
    /// their smallest member. For reports and pictures; O(members^2).
    pub fn components(&self, members: &[u32]) -> Vec<Vec<u32>> {
        let mut g: DiGraphMap<u32, ()> = DiGraphMap::new();
        for &a in members {
            g.add_node(a);
        }
        for &a in members {
            for &b in members {
                if a != b && !self.is_cut(a, b) {
                    g.add_edge(a, b, ());
                }
            }
        }
        let mut comps: Vec<Vec<u32>> = petgraph::algo::kosaraju_scc(&g)
            .into_iter()
            .map(|mut c| {
                c.sort_unstable();
                c
            })
            .collect();
        comps.sort();
        comps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cut_across_and_not_within() {
        let mut net = Network::new(6, LinkConfig::default());
        net.add_cut(Cut::groups(6, &[vec![0, 1], vec![2, 3, 4]]));
        assert!(!net.is_cut(0, 1));
        assert!(!net.is_cut(2, 4));
        assert!(net.is_cut(0, 2) && net.is_cut(4, 1));
        assert!(
            !net.is_cut(5, 0) && !net.is_cut(3, 5),
            "endpoint 5 is not named"
        );
        assert_eq!(
            net.components(&[0, 1, 2, 3, 4]),
            vec![vec![0, 1], vec![2, 3, 4]]
        );
        net.heal();
        assert!(!net.is_cut(0, 2));
    }

    #[test]
    fn one_way_is_one_way() {
        let mut net = Network::new(3, LinkConfig::default());
        net.add_cut(Cut::one_way(3, &[0], &[1]));
        assert!(net.is_cut(0, 1));
        assert!(!net.is_cut(1, 0));
        assert!(!net.is_cut(0, 2));
        assert_eq!(
            net.components(&[0, 1, 2]),
            vec![vec![0, 1, 2]],
            "0 reaches 1 through 2"
        );
    }

    #[test]
    fn link_updates() {
        let mut net = Network::new(3, LinkConfig::default());
        let loss = Probability::new(0.5).unwrap();
        net.update(
            Some(0),
            None,
            &LinkUpdate {
                loss: Some(loss),
                ..Default::default()
            },
        );
        assert_eq!(net.link(0, 1).loss, loss);
        assert_eq!(net.link(0, 2).loss, loss);
        assert_eq!(net.link(1, 0).loss, Probability::ZERO);
        net.update(
            None,
            None,
            &LinkUpdate {
                duplicate: Some(loss),
                ..Default::default()
            },
        );
        assert_eq!(net.link(1, 0).duplicate, loss);
        assert_eq!(net.link(0, 1).duplicate, loss);
    }

    #[test]
    fn latency_shapes_stay_in_bounds() {
        let mut rng = SimRng::new(9, "t");
        let ms = Duration::from_millis;
        let shapes = [
            Latency::Constant(ms(3)),
            Latency::Uniform {
                min: ms(1),
                max: ms(10),
            },
            Latency::Exponential {
                mean: ms(5),
                max: ms(50),
            },
            Latency::Normal {
                mean: ms(10),
                std_dev: ms(3),
                min: ms(2),
                max: ms(20),
            },
            Latency::LongTail {
                min: ms(1),
                max: ms(10),
                slow: Probability::new(0.1).unwrap(),
                slow_min: ms(100),
                slow_max: ms(500),
            },
        ];
        for shape in shapes {
            shape.validate().unwrap();
            for _ in 0..1000 {
                let d = shape.sample(&mut rng);
                match shape {
                    Latency::Constant(c) => assert_eq!(d, c),
                    Latency::Uniform { min, max } | Latency::Normal { min, max, .. } => {
                        assert!(d >= min && d <= max)
                    }
                    Latency::Exponential { max, .. } => assert!(d <= max),
                    Latency::LongTail {
                        min,
                        max,
                        slow_min,
                        slow_max,
                        ..
                    } => assert!((d >= min && d <= max) || (d >= slow_min && d <= slow_max)),
                }
            }
        }
        assert!(
            Latency::Uniform {
                min: ms(5),
                max: ms(1)
            }
            .validate()
            .is_err()
        );
    }
}
