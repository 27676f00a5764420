//! Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012; TigerBeetle's
//! `options_swarm`): each seed also draws the fault mix itself — which nemesis kinds are
//! on, their rates and durations, how many overlap, the network's latency shape, loss
//! and duplication, and each node's clock drift — within bounds. Runs then differ in
//! kind, not only in detail, and a bug that one mix hides another exposes.
//!
//! Every draw comes from the seed's `swarm` stream, made for this alone, so nothing else
//! (the network, the nodes, the nemesis's own schedule) shifts when a draw is added.

use crate::fault::{LeaderClock, Nemesis, NemesisFault, NemesisOptions, Target};
use crate::network::Latency;
use crate::rng::{Probability, SimRng};
use crate::time::Duration;

/// What a swarm may draw from.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmBounds {
    /// The kinds it picks among (each on with probability 1/2, at least one).
    pub faults: Vec<NemesisFault>,
    pub start: Duration,
    pub stop: Duration,
    /// Bounds of the time between faults: the drawn `(min, max)` lies within them.
    pub every: (Duration, Duration),
    /// Bounds of each fault's length.
    pub lasting: (Duration, Duration),
    /// The largest clock jump a drawn `max_skew` may reach.
    pub max_skew: Duration,
    /// At most this many faults at once.
    pub max_concurrency: u32,
    /// The largest link loss and duplication probabilities.
    pub max_loss: f64,
    pub max_duplicate: f64,
    /// The largest clock drift, either way, in ppm (the protocol's promise).
    pub max_drift_ppm: i64,
    /// How long the protocol's nodes wait for answers before they give up and move on
    /// (Raft's election timeouts), as it declares them (`None`: not declared). Clogs
    /// after a send are drawn around it: long enough for the node's timer to fire, short
    /// enough for the late answers to reach the round that followed.
    pub give_up: Option<(Duration, Duration)>,
    /// The kinds of node the protocol declares (servers, a store, ...), each a list of
    /// node indexes (empty: one kind, every node). An aimed crash-after-send draws a kind,
    /// then a node of it, so a lone store is as likely as all the servers together.
    pub node_kinds: Vec<Vec<u32>>,
}

/// One seed's draw.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmDraw {
    pub nemesis: Nemesis,
    pub options: NemesisOptions,
    /// The default link.
    pub latency: Latency,
    pub loss: Probability,
    pub duplicate: Probability,
    /// Each node's drift in ppm, in node order (all zero for "no drift").
    pub drift_ppm: Vec<i64>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A duration between `lo` and `hi`, in whole milliseconds (readable when pinned).
fn between(rng: &mut SimRng, lo: Duration, hi: Duration) -> Duration {
    let (lo, hi) = (lo.as_nanos().div_ceil(1_000_000), hi.as_nanos() / 1_000_000);
    ms(rng.between(lo, hi.max(lo)))
}

/// A duration between `lo` and `hi`, log-uniform in whole milliseconds: short spans are
/// as likely as long ones per factor of ten, so a seed may draw a fault every 30ms or
/// every second (swarm testing's point is runs that differ in kind).
fn log_between(rng: &mut SimRng, lo: Duration, hi: Duration) -> Duration {
    let lo_ms = (lo.as_nanos().div_ceil(1_000_000)).max(1) as f64;
    let hi_ms = ((hi.as_nanos() / 1_000_000) as f64).max(lo_ms);
    let u = rng.unit_f64();
    let x = libm::exp(libm::log(lo_ms) + u * (libm::log(hi_ms) - libm::log(lo_ms)));
    let floor = lo.as_nanos().div_ceil(1_000_000);
    ms((libm::round(x) as u64).clamp(floor, (hi.as_nanos() / 1_000_000).max(floor)))
}

/// A probability log-uniform in `lo..=hi`, in hundred-thousandths.
fn log_probability(rng: &mut SimRng, lo: f64, hi: f64) -> Probability {
    let u = rng.unit_f64();
    let p = libm::exp(libm::log(lo) + u * (libm::log(hi) - libm::log(lo)));
    Probability::new(((p * 100_000.0).round() / 100_000.0).clamp(0.0, 1.0))
        .unwrap_or(Probability::ZERO)
}

/// A probability up to `max`, zero half the time, in thousandths.
fn probability(rng: &mut SimRng, max: f64) -> Probability {
    let on = rng.below(2) == 1;
    let p = rng.unit_f64() * max;
    let p = if on {
        (p * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    Probability::new(p.clamp(0.0, 1.0)).unwrap_or(Probability::ZERO)
}

impl SwarmBounds {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.every.0 > self.every.1 || self.every.1.is_zero() {
            return Err(format!(
                "swarm every ({}, {}): expected 0 < max and min <= max",
                self.every.0, self.every.1
            ));
        }
        if self.lasting.0 > self.lasting.1 {
            return Err(format!(
                "swarm lasting ({}, {}): expected min <= max",
                self.lasting.0, self.lasting.1
            ));
        }
        if self.start > self.stop {
            return Err(format!(
                "nemesis start {} is after its stop {}",
                self.start, self.stop
            ));
        }
        Ok(())
    }

    /// Draws one seed's fault mix from `rng` (the seed's `swarm` stream) for `nodes`.
    pub fn draw(&self, rng: &mut SimRng, nodes: usize) -> SwarmDraw {
        let kinds: &[NemesisFault] = if self.faults.is_empty() {
            &NemesisFault::ALL
        } else {
            &self.faults
        };
        let mut faults: Vec<NemesisFault> = kinds
            .iter()
            .copied()
            .filter(|_| rng.below(2) == 1)
            .collect();
        if faults.is_empty() {
            faults.push(*rng.pick(kinds).expect("non-empty"));
        }
        let every_max = log_between(rng, self.every.0.max(ms(1)), self.every.1);
        let every_min = log_between(rng, self.every.0, every_max);
        let lasting_max = log_between(rng, self.lasting.0, self.lasting.1);
        let lasting_min = log_between(rng, self.lasting.0, lasting_max);
        let max_skew = between(rng, Duration::ZERO, self.max_skew);
        let concurrency = rng.between(1, u64::from(self.max_concurrency.max(1))) as u32;
        let slow_min = between(rng, ms(50), ms(200));
        let slow_max = between(rng, slow_min, ms(1_000));
        let latency = match rng.below(4) {
            0 => Latency::Uniform {
                min: ms(1),
                max: ms(10),
            },
            1 => Latency::Uniform {
                min: ms(1),
                max: between(rng, ms(20), ms(60)),
            },
            2 => {
                let slow = Probability::new(rng.between(5, 50) as f64 / 1000.0)
                    .unwrap_or(Probability::ZERO);
                let slow_min = between(rng, ms(50), ms(150));
                Latency::LongTail {
                    min: ms(1),
                    max: ms(10),
                    slow,
                    slow_min,
                    slow_max: between(rng, slow_min.max(ms(200)), ms(800)),
                }
            }
            _ => Latency::Exponential {
                mean: between(rng, ms(2), ms(10)),
                max: between(rng, ms(100), ms(400)),
            },
        };
        let loss = probability(rng, self.max_loss);
        let duplicate = probability(rng, self.max_duplicate);
        let drift = rng.below(2) == 1 && self.max_drift_ppm > 0;
        let bound = self.max_drift_ppm.max(0) as u64;
        let drift_ppm: Vec<i64> = (0..nodes)
            .map(|_| {
                if drift {
                    rng.between(0, 2 * bound) as i64 - bound as i64
                } else {
                    0
                }
            })
            .collect();
        // Drawn last, so that what was drawn before them is as it was without them.
        // Each kind that names one node reaches the leader in half the seeds.
        let mut targets = [Target::Random; 9];
        for (i, kind) in NemesisFault::ALL.iter().enumerate() {
            if kind.targetable() && rng.below(2) == 1 {
                targets[i] = Target::Leader;
            }
        }
        // Crash right after a send in half the seeds: after any message (per-send
        // probability log-uniform in 0.1%..30%) or, in half of those, only after one
        // kind of message, one of the first four the run sends (log-uniform 1%..100%): a
        // crash between receiving X and acting on it. Restarts are log-uniform in 1ms up
        // to a drawn 1-20ms: often back before what was sent to the node lands.
        let on = rng.below(2) == 1;
        let crash_kind = (rng.below(2) == 1).then(|| rng.below(4) as u32);
        let (lo, hi) = if crash_kind.is_some() {
            (0.01, 1.0)
        } else {
            (0.001, 0.3)
        };
        let u = rng.unit_f64();
        let p = libm::exp(libm::log(lo) + u * (libm::log(hi) - libm::log(lo)));
        let crash_after_send = on.then(|| {
            Probability::new(((p * 100_000.0).round() / 100_000.0).min(1.0))
                .unwrap_or(Probability::ZERO)
        });
        let crash_kind = crash_kind.filter(|_| on);
        let restart_max = log_between(rng, ms(1), ms(20));
        let restart_min = ms(1);
        // In half the seeds with drift, every clock drifts near the edge of the bound
        // (80-100% of it, each its own way): the promise is tested where it is tightest.
        let mut drift_ppm: Vec<i64> = drift_ppm;
        if drift && rng.below(2) == 1 {
            let b = bound as i64;
            for d in &mut drift_ppm {
                let edge = b * 8 / 10 + d.abs() / 5;
                *d = if *d < 0 { -edge } else { edge };
            }
        }
        // In half the seeds with drift, the worst case for a lease or a promise not to
        // vote: whoever leads drifts slow at 80-100% of the bound, every other clock as
        // fast, re-aimed at the leader of the moment every 100ms-2s (log-uniform), so a
        // leader cut off or deposed meanwhile still has the slow clock; in half of those
        // each re-aim also steps the leader's wall clock back by a drawn step
        // (10-100% of the bounds' `max_skew`), as a misbehaving NTP server would.
        let leader_clock = (drift && rng.below(2) == 1).then(|| {
            let b = bound as i64;
            let m = b * 8 / 10 + rng.between(0, bound / 5) as i64;
            drift_ppm.fill(m);
            let every = log_between(rng, ms(100), ms(2_000));
            let step = if rng.below(2) == 1 && self.max_skew >= ms(10) {
                between(
                    rng,
                    Duration::from_nanos(self.max_skew.as_nanos() / 10),
                    self.max_skew,
                )
            } else {
                Duration::ZERO
            };
            LeaderClock {
                slow: -m,
                fast: m,
                every,
                step,
            }
        });
        // Drawn after everything above, so that it is as it was without these.
        // In half the seeds of a protocol that declares several kinds of node, a second
        // crash-after-send aimed at one node (of a kind drawn first, then a node of it;
        // any message it sends; log-uniform 5%..100%): a node that only answers (a store)
        // crashes right after its answers, where the first draw, spread over every node
        // and often aimed at a kind the leaders send, rarely reaches it.
        let crash_node = (rng.below(2) == 1 && self.node_kinds.len() > 1).then(|| {
            let all: Vec<u32> = (0..nodes.max(1) as u32).collect();
            let kind = rng.pick(&self.node_kinds).unwrap_or(&all);
            let node = crate::id::NodeId(*rng.pick(kind).unwrap_or(&0));
            (log_probability(rng, 0.05, 1.0), node)
        });
        // In half the seeds, clog-after-send: right after a node sends a message of the
        // first kind the run sends (what starts a round: a vote, a lease request, a
        // prepare; p log-uniform 10%..100%), its links are held for a while (log-uniform
        // from the protocol's declared `give_up` minimum to the sum of both bounds, else
        // within the file's `lasting`): the answers to what it asked arrive after its
        // timer fired and it moved on (a stale vote, an old promise or acknowledgement).
        let clog_after_send = (rng.below(2) == 1).then(|| {
            let kind = 0;
            let p = log_probability(rng, 0.1, 1.0);
            let (lo, hi) = match self.give_up {
                Some((lo, hi)) => {
                    let lo = lo.max(ms(1));
                    (lo, Duration::from_nanos(lo.as_nanos() + hi.as_nanos()))
                }
                None => {
                    let lo = self.lasting.0.max(ms(10));
                    (lo, log_between(rng, lo, self.lasting.1.max(lo)))
                }
            };
            (p, (lo, hi), Some(kind))
        });
        SwarmDraw {
            nemesis: Nemesis {
                faults,
                start: self.start,
                stop: self.stop,
                interval_min: every_min,
                interval_max: every_max,
                duration_min: lasting_min,
                duration_max: lasting_max,
                max_skew,
            },
            options: NemesisOptions {
                concurrency,
                slow: Latency::Uniform {
                    min: slow_min,
                    max: slow_max,
                },
                targets,
                crash_after_send,
                crash_restart: (restart_min, restart_max),
                crash_kind,
                crash_node,
                clog_after_send,
                leader_clock,
            },
            latency,
            loss,
            duplicate,
            drift_ppm,
        }
    }
}

impl SwarmDraw {
    /// What was drawn, as `(name, value)` pairs in the scenario file's own notation.
    pub fn fields(&self) -> Vec<(String, String)> {
        let n = &self.nemesis;
        let kinds: Vec<String> = n.faults.iter().map(|k| format!("{k:?}")).collect();
        let drift: Vec<String> = self.drift_ppm.iter().map(|d| format!("{d:+}")).collect();
        let leader: Vec<String> = NemesisFault::ALL
            .iter()
            .filter(|k| n.faults.contains(k) && self.options.target(**k) == Target::Leader)
            .map(|k| format!("{k:?}"))
            .collect();
        vec![
            ("faults".into(), format!("[{}]", kinds.join(", "))),
            (
                "every".into(),
                format!("(\"{}\", \"{}\")", n.interval_min, n.interval_max),
            ),
            (
                "lasting".into(),
                format!("(\"{}\", \"{}\")", n.duration_min, n.duration_max),
            ),
            ("concurrency".into(), self.options.concurrency.to_string()),
            ("max_skew".into(), format!("\"{}\"", n.max_skew)),
            ("slow".into(), self.options.slow.to_string()),
            ("latency".into(), self.latency.to_string()),
            ("loss".into(), self.loss.value().to_string()),
            ("duplicate".into(), self.duplicate.value().to_string()),
            ("drift_ppm".into(), format!("[{}]", drift.join(", "))),
            ("leader_targets".into(), format!("[{}]", leader.join(", "))),
            (
                "leader_clock".into(),
                match self.options.leader_clock {
                    Some(c) => format!("{:+} every \"{}\" step \"-{}\"", c.slow, c.every, c.step),
                    None => "off".into(),
                },
            ),
            (
                "crash_after_send".into(),
                match self.options.crash_after_send {
                    Some(p) => format!(
                        "{} restart (\"{}\", \"{}\") kind {}",
                        p.value(),
                        self.options.crash_restart.0,
                        self.options.crash_restart.1,
                        self.options
                            .crash_kind
                            .map_or("any".to_string(), |k| format!("#{k}"))
                    ),
                    None => "off".into(),
                },
            ),
            (
                "crash_node".into(),
                match self.options.crash_node {
                    Some((p, n)) => format!("{} node #{}", p.value(), n.0),
                    None => "off".into(),
                },
            ),
            (
                "clog_after_send".into(),
                match self.options.clog_after_send {
                    Some((p, (lo, hi), kind)) => format!(
                        "{} for (\"{lo}\", \"{hi}\") kind {}",
                        p.value(),
                        kind.map_or("any".to_string(), |k| format!("#{k}"))
                    ),
                    None => "off".into(),
                },
            ),
        ]
    }
}

/// Clock steps on a leader the nemesis cuts off (issue #14): in every seed whose mix has
/// `ClockSkew`, each leader-targeted isolate, pause, slow-down or clog of `schedule` is
/// followed, 1-300ms after it starts, by a step of the same node's clock (either way,
/// log-uniform from 10ms up to the drawn `max_skew`): NTP stepping a clock
/// while its node cannot reach the others, the moment a lease read off the wall clock
/// stretches. Drawn from the seed's own `swarm/clock-steps` stream, so nothing else moves.
pub fn leader_clock_steps(
    seed: u64,
    nemesis: &Nemesis,
    schedule: &[(crate::time::Time, crate::fault::Fault)],
) -> Vec<(crate::time::Time, crate::fault::Fault)> {
    use crate::fault::{Fault, Pick};
    let mut rng = SimRng::new(seed, "swarm/clock-steps");
    let max = nemesis.max_skew;
    if !nemesis.faults.contains(&NemesisFault::ClockSkew) || max < ms(10) {
        return Vec::new();
    }
    let stop = crate::time::Time::ZERO.plus(nemesis.stop);
    let mut out = Vec::new();
    for (t, f) in schedule {
        let Fault::Targeted {
            pick: Pick::Leader(slot),
            fault,
        } = f
        else {
            continue;
        };
        let cuts_off = matches!(
            **fault,
            Fault::Isolate(_) | Fault::Pause(_) | Fault::Slow { .. } | Fault::Clog { .. }
        );
        if !cuts_off {
            continue;
        }
        let at = t.plus(between(&mut rng, ms(1), ms(300)));
        let by = log_between(&mut rng, ms(10), max)
            .as_nanos()
            .min(i64::MAX as u64) as i64;
        let by = if rng.below(2) == 0 { -by } else { by };
        if at >= stop {
            continue;
        }
        let node = crate::id::NodeId(0); // replaced by the slot's node when it fires
        out.push((
            at,
            Fault::Targeted {
                pick: Pick::Slot(*slot),
                fault: Box::new(Fault::ClockSkew(node, crate::time::Offset::from_nanos(by))),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> SwarmBounds {
        SwarmBounds {
            faults: Vec::new(),
            start: ms(0),
            stop: ms(10_000),
            every: (ms(50), ms(2_000)),
            lasting: (ms(50), ms(2_000)),
            max_skew: ms(500),
            max_concurrency: 3,
            max_loss: 0.1,
            max_duplicate: 0.1,
            max_drift_ppm: 1_000,
            give_up: None,
            node_kinds: Vec::new(),
        }
    }

    #[test]
    fn draws_are_seeded_within_bounds_and_vary() {
        let b = bounds();
        b.validate().unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        let mut conc = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let d = b.draw(&mut SimRng::new(seed, "swarm"), 5);
            assert_eq!(d, b.draw(&mut SimRng::new(seed, "swarm"), 5));
            d.nemesis.validate().unwrap();
            d.latency.validate().unwrap();
            assert!(!d.nemesis.faults.is_empty());
            assert!(d.nemesis.interval_min >= ms(50) && d.nemesis.interval_max <= ms(2_000));
            assert!(d.nemesis.duration_max <= ms(2_000));
            assert!(d.loss.value() <= 0.1 && d.duplicate.value() <= 0.1);
            assert!(d.drift_ppm.iter().all(|p| p.abs() <= 1_000));
            assert!((1..=3).contains(&d.options.concurrency));
            kinds.insert(d.nemesis.faults.len());
            conc.insert(d.options.concurrency);
        }
        assert!(kinds.len() > 4, "the mix varies: {kinds:?}");
        // The leader's clock the slowest, others the fastest, in some seeds: within the
        // bound, at 80-100% of it, every clock fast from the start.
        let clocks: Vec<(LeaderClock, Vec<i64>)> = (0..200)
            .filter_map(|seed| {
                let d = b.draw(&mut SimRng::new(seed, "swarm"), 5);
                d.options.leader_clock.map(|c| (c, d.drift_ppm))
            })
            .collect();
        assert!((20..80).contains(&clocks.len()), "{}", clocks.len());
        for (c, drift) in &clocks {
            assert!(
                (800..=1_000).contains(&c.fast) && c.slow == -c.fast,
                "{c:?}"
            );
            assert!(drift.iter().all(|d| *d == c.fast));
            assert!(c.every >= ms(100) && c.every <= ms(2_000));
            assert!(c.step.is_zero() || (c.step >= ms(50) && c.step <= ms(500)));
        }
        assert!(clocks.iter().any(|(c, _)| c.step.is_zero()));
        assert!(clocks.iter().any(|(c, _)| !c.step.is_zero()));
        assert_eq!(conc.len(), 3);
    }

    #[test]
    fn after_send_faults_are_drawn_within_the_declared_kinds_and_timeouts() {
        let mut b = bounds();
        // One kind of node: no aimed crash-after-send; clogs within the file's `lasting`.
        let mut clogs = 0;
        for seed in 0..200 {
            let d = b.draw(&mut SimRng::new(seed, "swarm"), 5);
            assert!(d.options.crash_node.is_none());
            if let Some((p, (lo, hi), kind)) = d.options.clog_after_send {
                clogs += 1;
                assert_eq!(kind, Some(0));
                assert!((0.1..=1.0).contains(&p.value()), "{p:?}");
                assert!(lo == ms(50) && hi >= lo && hi <= ms(2_000), "{lo} {hi}");
            }
        }
        assert!((60..140).contains(&clogs), "{clogs}");
        // Servers 0-4 and a store 5: the store is aimed at about as often as the servers
        // together; clogs last from the shortest give-up to the sum of both bounds.
        b.node_kinds = vec![(0..5).collect(), vec![5]];
        b.give_up = Some((ms(150), ms(300)));
        let (mut store, mut servers) = (0, 0);
        for seed in 0..400 {
            let d = b.draw(&mut SimRng::new(seed, "swarm"), 6);
            if let Some((p, n)) = d.options.crash_node {
                assert!((0.05..=1.0).contains(&p.value()), "{p:?}");
                if n.0 == 5 { store += 1 } else { servers += 1 }
            }
            if let Some((_, span, _)) = d.options.clog_after_send {
                assert_eq!(span, (ms(150), ms(450)));
            }
        }
        assert!(
            store > 60 && servers > 60,
            "store {store}, servers {servers}"
        );
    }

    #[test]
    fn a_cut_off_leader_has_its_clock_stepped_only_when_steps_are_drawn() {
        use crate::fault::{Fault, Pick};
        let b = bounds();
        let (mut stepped, mut seeds_with_steps) = (0, 0);
        for seed in 0..200 {
            let d = b.draw(&mut SimRng::new(seed, "swarm"), 5);
            let sched = d
                .nemesis
                .schedule_with(&d.options, &mut SimRng::new(seed, "nemesis"), 5);
            let steps = leader_clock_steps(seed, &d.nemesis, &sched);
            assert_eq!(steps, leader_clock_steps(seed, &d.nemesis, &sched));
            if !d.nemesis.faults.contains(&NemesisFault::ClockSkew) {
                assert!(steps.is_empty(), "seed {seed}: no ClockSkew, no steps");
                continue;
            }
            seeds_with_steps += usize::from(!steps.is_empty());
            for (at, f) in &steps {
                let Fault::Targeted {
                    pick: Pick::Slot(slot),
                    fault,
                } = f
                else {
                    panic!("seed {seed}: {f:?}");
                };
                let Fault::ClockSkew(_, by) = **fault else {
                    panic!("seed {seed}: {fault:?}");
                };
                assert!(by.as_nanos().unsigned_abs() <= d.nemesis.max_skew.as_nanos());
                assert!(*at < crate::time::Time::ZERO.plus(d.nemesis.stop));
                // It follows the leader-targeted cut-off that chose the slot, within 300ms.
                let (start, _) = sched
                    .iter()
                    .find(|(_, f)| {
                        matches!(f, Fault::Targeted { pick: Pick::Leader(k), .. } if k == slot)
                    })
                    .expect("its cut-off");
                assert!(*start < *at && *at <= start.plus(ms(300)), "seed {seed}");
                stepped += 1;
            }
        }
        assert!(
            stepped > 20 && seeds_with_steps > 5,
            "{stepped} steps in {seeds_with_steps} seeds"
        );
    }
}
