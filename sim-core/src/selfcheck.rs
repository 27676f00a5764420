//! The engine's self-checks (issue #14): cheap invariants of the engine itself, on in every
//! run, so that an engine bug is reported as one instead of passing as the protocol's
//! behaviour. A breach ends the run with `EndReason::EngineError`.
//!
//! What the network promises (docs/SCENARIOS.md, *Engine self-checks*), and is checked:
//!
//! - **conservation**: every message put on the wire (each send, plus each duplicate the
//!   network makes) is, when the run ends, delivered, dropped with a reason (loss, a cut,
//!   a receiver that is down), or still in flight (queued, or held for a paused node);
//! - **no delivery to a node that is down or paused**: no handler of a crashed or paused
//!   node runs (a message, a timer, a sync);
//! - **cuts**: a message is lost if a cut separating its ends exists when it is sent or is
//!   added while it is in flight; a heal does not bring it back, and a message sent after
//!   the heal is delivered. So nothing is delivered across a cut that existed at any time
//!   between its send and its arrival.
//!
//! The cut check keeps its own record of every cut (a copy, so a fault in the network's
//! table does not fool it), numbered by a generation that each cut and heal advance; a
//! message carries the generation it was sent in.

use crate::network::Cut;

/// A cut as the self-check saw it: in force from when it was added until `removed`.
struct CutRecord {
    cut: Cut,
    /// The generation of the heal that removed it (`u32::MAX` while in force).
    removed: u32,
}

#[derive(Default)]
pub(crate) struct SelfCheck {
    generation: u32,
    /// Every cut that may still matter to a message in flight, oldest first; their
    /// `removed` generations never decrease along the list.
    log: Vec<CutRecord>,
}

impl SelfCheck {
    /// The generation a message sent now carries.
    #[inline]
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn cut_added(&mut self, cut: &Cut) {
        self.generation += 1;
        self.log.push(CutRecord {
            cut: cut.clone(),
            removed: u32::MAX,
        });
    }

    /// Every cut is removed; records no message still in flight can have crossed (all
    /// sent in generation `oldest_in_flight` or later) are forgotten.
    pub(crate) fn healed(&mut self, oldest_in_flight: u32) {
        self.generation += 1;
        for r in &mut self.log {
            if r.removed == u32::MAX {
                r.removed = self.generation;
            }
        }
        self.log.retain(|r| r.removed > oldest_in_flight);
    }

    /// The generation a message held for a paused node carries: it has arrived (it waits
    /// in the node's buffer, as a process stopped by a GC pause finds its socket's data
    /// when it wakes), so no cut added after it arrived can have separated it.
    pub(crate) const ARRIVED: u32 = u32::MAX;

    /// No cut is on record, so no message in flight can have crossed one.
    #[inline]
    pub(crate) fn no_cuts(&self) -> bool {
        self.log.is_empty()
    }

    /// Did a cut separate `from` and `to` at any time since generation `sent`?
    #[inline]
    pub(crate) fn crossed_cut(&self, from: u32, to: u32, sent: u32) -> bool {
        for r in self.log.iter().rev() {
            if r.removed <= sent {
                break;
            }
            if r.cut.blocks(from, to) {
                return true;
            }
        }
        false
    }
}

/// A deliberately broken engine path, for the self-checks' own tests: each must be caught.
/// Outside those tests no path is ever broken (`Bus::broken` is `false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum BrokenPath {
    /// The network counts a duplicate but never delivers it.
    DuplicateNeverDelivered,
    /// A paused node's timers fire.
    TimersFireWhilePaused,
    /// A paused node's messages are delivered at once.
    DeliverWhilePaused,
    /// A crashed node's messages are not dropped.
    DeliverToCrashed,
    /// A new cut does not mark the messages in flight across it as lost.
    CutSparesInFlight,
    /// A send ignores the cuts in force.
    SendIgnoresCut,
}

#[cfg(test)]
mod tests {
    use super::BrokenPath;
    use crate::*;

    /// Every 3ms each node sends a numbered message to every other node.
    #[derive(Debug)]
    struct Chatter(u64);

    impl Process for Chatter {
        type Config = ();
        type Msg = u64;
        type Timer = ();
        type Durable = ();
        type Request = ();
        type Response = ();
        fn start(ctx: &mut Ctx<'_, Self>) -> Self {
            ctx.set_timer(Duration::from_millis(3), ());
            Chatter(0)
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: u64) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
            self.0 += 1;
            ctx.broadcast(self.0);
            ctx.set_timer(Duration::from_millis(3), ());
        }
    }

    fn ms(n: u64) -> Time {
        Time::ZERO.plus(Duration::from_millis(n))
    }

    /// Four nodes chatting for 2s over a lossy, duplicating link with latencies up to
    /// 40ms (so messages are in flight when faults strike), under every fault that
    /// touches delivery: partitions, one-way cuts, isolation, heals, pauses, crashes and
    /// restarts, overlapping.
    fn heavy(seed: u64, broken: Option<BrokenPath>) -> Report {
        let mut c = SimConfig::new(seed, 4, Limits::time(Duration::from_secs(2)));
        c.link = LinkConfig {
            latency: Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(40),
            },
            loss: Probability::new(0.05).unwrap(),
            duplicate: Probability::new(0.2).unwrap(),
        };
        c.trace = TraceLevel::Off;
        let mut sim: Simulation<Chatter> = Simulation::new(c, (), ()).unwrap();
        if let Some(b) = broken {
            sim.break_path(b);
        }
        let (n1, n2, n3, n4) = (NodeId(0), NodeId(1), NodeId(2), NodeId(3));
        let a = |n: NodeId| Addr::Node(n);
        let faults = [
            (
                100,
                Fault::Partition(vec![vec![a(n1), a(n2)], vec![a(n3), a(n4)]]),
            ),
            (150, Fault::Pause(n3)),
            (300, Fault::Heal),
            (320, Fault::Resume(n3)),
            (400, Fault::Isolate(n2)),
            (420, Fault::Crash(n4)),
            (600, Fault::Heal),
            (650, Fault::Restart(n4)),
            (
                700,
                Fault::OneWay {
                    from: vec![a(n1)],
                    to: vec![a(n3), a(n4)],
                },
            ),
            (750, Fault::Pause(n1)),
            (900, Fault::Heal),
            (950, Fault::Crash(n1)),
            (1000, Fault::Restart(n1)),
            (1100, Fault::Pause(n2)),
            (1150, Fault::Crash(n2)),
            (1200, Fault::Restart(n2)),
            (
                1300,
                Fault::Partition(vec![vec![a(n1)], vec![a(n2), a(n3), a(n4)]]),
            ),
            (1320, Fault::Heal),
            (
                1330,
                Fault::Partition(vec![vec![a(n4)], vec![a(n2), a(n3), a(n1)]]),
            ),
        ];
        for (at, f) in faults {
            sim.schedule(ms(at), f);
        }
        sim.run()
    }

    /// A cut added while a paused node holds messages that had arrived before it does not
    /// make their delivery on resume an engine error (overlapping faults: the nemesis with
    /// `concurrency` above 1 pauses and cuts at once).
    #[test]
    fn messages_held_by_a_paused_node_survive_a_later_cut() {
        for seed in 0..20 {
            let mut c = SimConfig::new(seed, 4, Limits::time(Duration::from_secs(1)));
            c.link = LinkConfig {
                latency: Latency::Uniform {
                    min: Duration::from_millis(1),
                    max: Duration::from_millis(20),
                },
                loss: Probability::new(0.0).unwrap(),
                duplicate: Probability::new(0.2).unwrap(),
            };
            c.trace = TraceLevel::Off;
            let mut sim: Simulation<Chatter> = Simulation::new(c, (), ()).unwrap();
            let (n1, n3) = (NodeId(0), NodeId(2));
            sim.schedule(ms(100), Fault::Pause(n3));
            sim.schedule(ms(150), Fault::Isolate(n3));
            sim.schedule(ms(200), Fault::Resume(n3));
            sim.schedule(
                ms(250),
                Fault::Partition(vec![
                    vec![Addr::Node(n1)],
                    vec![Addr::Node(NodeId(1)), Addr::Node(n3), Addr::Node(NodeId(3))],
                ]),
            );
            sim.schedule(ms(260), Fault::Pause(n1));
            sim.schedule(ms(270), Fault::Heal);
            sim.schedule(ms(280), Fault::Isolate(n1));
            sim.schedule(ms(300), Fault::Resume(n1));
            sim.schedule(ms(400), Fault::Heal);
            let r = sim.run();
            assert_eq!(
                r.end,
                EndReason::TimeLimit,
                "seed {seed}: {:?}",
                r.engine_error
            );
        }
    }

    #[test]
    fn a_healthy_engine_passes_every_self_check_under_heavy_faults() {
        for seed in 0..20 {
            let r = heavy(seed, None);
            assert_eq!(
                r.end,
                EndReason::TimeLimit,
                "seed {seed}: {:?}",
                r.engine_error
            );
            assert_eq!(r.engine_error, None);
            // The faults did what they are for: every kind of drop happened.
            assert!(r.stats.drops_loss > 0 && r.stats.drops_partition > 0);
            assert!(r.stats.drops_down > 0 && r.stats.duplicates > 0);
        }
    }

    fn caught(broken: BrokenPath, what: &str) {
        let found = (0..20).find_map(|seed| {
            let r = heavy(seed, Some(broken));
            (r.end == EndReason::EngineError).then(|| r.engine_error.expect("says why"))
        });
        let message = found.unwrap_or_else(|| panic!("{broken:?} was never caught"));
        assert!(message.starts_with(what), "{broken:?}: {message}");
    }

    #[test]
    fn a_duplicate_counted_but_never_delivered_breaks_conservation() {
        caught(BrokenPath::DuplicateNeverDelivered, "conservation: ");
    }

    #[test]
    fn timers_that_fire_during_a_pause_are_caught() {
        caught(BrokenPath::TimersFireWhilePaused, "pause: a handler of n");
    }

    #[test]
    fn a_delivery_to_a_paused_node_is_caught() {
        caught(BrokenPath::DeliverWhilePaused, "delivery: ");
    }

    #[test]
    fn a_delivery_to_a_crashed_node_is_caught() {
        caught(BrokenPath::DeliverToCrashed, "delivery: ");
    }

    #[test]
    fn a_cut_that_spares_messages_in_flight_is_caught() {
        caught(BrokenPath::CutSparesInFlight, "cut: ");
    }

    #[test]
    fn a_send_across_a_cut_is_caught() {
        caught(BrokenPath::SendIgnoresCut, "cut: ");
    }

    /// Four nodes chatting over a lossy link without duplication (so the network is
    /// plain between faults), through cuts, pauses, crashes, a slow-down, a clog,
    /// crash-after-send (whole and partial) and clog-after-send; `general` sends every
    /// delivery and message the general way.
    fn mixed(seed: u64, trace: TraceLevel, general: bool) -> (Report, (u64, u64)) {
        let mut c = SimConfig::new(seed, 4, Limits::time(Duration::from_secs(2)));
        c.link = LinkConfig {
            latency: Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(30),
            },
            loss: Probability::new(0.02).unwrap(),
            duplicate: Probability::new(0.0).unwrap(),
        };
        c.trace = trace;
        let mut sim: Simulation<Chatter> = Simulation::new(c, (), ()).unwrap();
        if general {
            sim.general_only();
        }
        let (n1, n2, n3, n4) = (NodeId(0), NodeId(1), NodeId(2), NodeId(3));
        let a = |n: NodeId| Addr::Node(n);
        let p = |x: f64| Probability::new(x).unwrap();
        let span = (Duration::from_millis(1), Duration::from_millis(50));
        let faults = [
            (100, Fault::Isolate(n2)),
            (180, Fault::Heal),
            (200, Fault::Pause(n3)),
            (260, Fault::Resume(n3)),
            (300, Fault::Crash(n4)),
            (380, Fault::Restart(n4)),
            (
                420,
                Fault::Slow {
                    on: DelayOn::Endpoint(a(n1)),
                    by: Latency::Constant(Duration::from_millis(7)),
                    until: ms(520),
                },
            ),
            (
                600,
                Fault::Clog {
                    on: DelayOn::Link {
                        from: a(n2),
                        to: a(n3),
                    },
                    until: ms(680),
                },
            ),
            (
                750,
                Fault::CrashAfterSend {
                    p: p(0.05),
                    restart: span,
                    kind: None,
                    node: None,
                    leader: false,
                    partial: false,
                    until: ms(950),
                },
            ),
            (
                1000,
                Fault::CrashAfterSend {
                    p: p(0.05),
                    restart: span,
                    kind: None,
                    node: Some(n2),
                    leader: false,
                    partial: true,
                    until: ms(1200),
                },
            ),
            (
                1300,
                Fault::ClogAfterSend {
                    p: p(0.05),
                    lasting: span,
                    kind: None,
                    until: ms(1500),
                },
            ),
            (
                1600,
                Fault::OneWay {
                    from: vec![a(n1)],
                    to: vec![a(n3)],
                },
            ),
            (1700, Fault::Heal),
        ];
        for (at, f) in faults {
            sim.schedule(ms(at), f);
        }
        let r = sim.run();
        let taken = sim.plain_taken();
        (r, taken)
    }

    /// The plain paths (a delivery to a live node with no crash-after-send in force, a
    /// send with nothing but loss and latency on its way) do exactly what the general
    /// paths do: same trace, fingerprint and stats with them and without, under faults
    /// that come and go, so the flags that open them are never stale.
    #[test]
    fn the_plain_paths_do_what_the_general_paths_do() {
        for seed in 0..12 {
            for trace in [TraceLevel::Off, TraceLevel::Full] {
                let (fast, taken) = mixed(seed, trace, false);
                let (slow, none) = mixed(seed, trace, true);
                assert_eq!(fast.end, EndReason::TimeLimit, "{:?}", fast.engine_error);
                assert_eq!(fast.fingerprint, slow.fingerprint, "seed {seed}");
                assert_eq!(fast.stats, slow.stats, "seed {seed}");
                assert_eq!(fast.trace.to_text(), slow.trace.to_text(), "seed {seed}");
                assert_eq!(none, (0, 0));
                // The plain paths ran, and so did the general ones (faults in force).
                assert!(taken.0 > 0 && taken.0 < fast.stats.deliveries, "{taken:?}");
                if trace == TraceLevel::Off {
                    assert!(taken.1 > 0 && taken.1 < fast.stats.sends, "{taken:?}");
                } else {
                    // A full trace sends every message the general way.
                    assert_eq!(taken.1, 0);
                }
                assert!(fast.stats.faults >= 13);
            }
        }
    }

    /// Sets, cancels and supersedes timers at random (some past the wheel's horizon),
    /// and chats now and then.
    #[derive(Debug, Default)]
    struct Juggler {
        /// Pending timers and their tags (unique, so a fired one is known by its tag).
        pending: Vec<(TimerId, u32)>,
        next: u32,
    }

    /// A random delay up to 800ms (past the queue's 537ms horizon), a few at 0.
    fn juggle_delay(rng: &mut SimRng) -> Duration {
        match rng.below(8) {
            0 => Duration::ZERO,
            _ => Duration::from_nanos(rng.below(800_000_000)),
        }
    }

    impl Juggler {
        fn juggle(&mut self, ctx: &mut Ctx<'_, Self>) {
            for _ in 0..ctx.rng().below(3) {
                if !self.pending.is_empty() {
                    let i = ctx.rng().below(self.pending.len() as u64) as usize;
                    let (t, _) = self.pending.swap_remove(i);
                    ctx.cancel_timer(t);
                }
            }
            while self.pending.len() < 4 {
                let after = juggle_delay(ctx.rng());
                self.next += 1;
                let id = ctx.set_timer(after, self.next);
                self.pending.push((id, self.next));
            }
        }
    }

    impl Process for Juggler {
        type Config = ();
        type Msg = u32;
        type Timer = u32;
        type Durable = ();
        type Request = ();
        type Response = ();
        fn start(ctx: &mut Ctx<'_, Self>) -> Self {
            let mut j = Juggler::default();
            j.juggle(ctx);
            j
        }
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _: NodeId, m: u32) {
            if m % 3 == 0 {
                self.juggle(ctx);
            }
        }
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, tag: u32) {
            self.pending.retain(|&(_, t)| t != tag);
            if tag % 2 == 0 {
                ctx.broadcast(tag);
            }
            self.juggle(ctx);
        }
    }

    /// A client that juggles timers the same way.
    #[derive(Default)]
    struct JugglerClient {
        pending: Vec<(TimerId, u32)>,
        next: u32,
    }

    impl JugglerClient {
        fn juggle(&mut self, ctx: &mut ClientCtx<'_, Juggler, Self>) {
            for _ in 0..ctx.rng().below(3) {
                if !self.pending.is_empty() {
                    let i = ctx.rng().below(self.pending.len() as u64) as usize;
                    let (t, _) = self.pending.swap_remove(i);
                    ctx.cancel_timer(t);
                }
            }
            while self.pending.len() < 3 {
                let after = juggle_delay(ctx.rng());
                self.next += 1;
                let id = ctx.set_timer(after, self.next);
                self.pending.push((id, self.next));
            }
        }
    }

    impl Client<Juggler> for JugglerClient {
        type Config = ();
        type Timer = u32;
        fn start(ctx: &mut ClientCtx<'_, Juggler, Self>) -> Self {
            let mut c = JugglerClient::default();
            c.juggle(ctx);
            c
        }
        fn on_response(
            &mut self,
            _: &mut ClientCtx<'_, Juggler, Self>,
            _: NodeId,
            _: RequestId,
            _: (),
        ) {
        }
        fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Juggler, Self>, tag: u32) {
            self.pending.retain(|&(_, t)| t != tag);
            self.juggle(ctx);
        }
    }

    fn juggled(seed: u64, trace: TraceLevel, general: bool) -> (Report, u64) {
        let mut c = SimConfig::new(seed, 4, Limits::time(Duration::from_secs(3))).with_clients(2);
        c.trace = trace;
        let mut sim: Simulation<Juggler, JugglerClient> = Simulation::new(c, (), ()).unwrap();
        if general {
            sim.general_only();
        }
        let (n2, n3, n4) = (NodeId(1), NodeId(2), NodeId(3));
        let faults = [
            (200, Fault::Pause(n3)),
            (700, Fault::Resume(n3)),
            (900, Fault::Crash(n4)),
            (1500, Fault::Restart(n4)),
            (1800, Fault::Isolate(n2)),
            (2100, Fault::Heal),
            (2200, Fault::Pause(n2)),
            (2300, Fault::Crash(n2)),
            (2600, Fault::Restart(n2)),
        ];
        for (at, f) in faults {
            sim.schedule(ms(at), f);
        }
        let r = sim.run();
        let discards = sim.discards();
        (r, discards)
    }

    /// Cancelled and superseded timers dropped in their queue slots (the step's fast
    /// path) run exactly as when `handle` looks at each: same trace, fingerprint and
    /// stats, through pauses (a paused node's timers wait), crashes and restarts.
    #[test]
    fn cancelled_timers_dropped_in_place_run_as_handle_runs_them() {
        for seed in 0..16 {
            for trace in [TraceLevel::Off, TraceLevel::Full] {
                let (fast, discards) = juggled(seed, trace, false);
                let (slow, none) = juggled(seed, trace, true);
                assert_eq!(fast.end, EndReason::TimeLimit, "{:?}", fast.engine_error);
                assert_eq!(fast.fingerprint, slow.fingerprint, "seed {seed}");
                assert_eq!(fast.stats, slow.stats, "seed {seed}");
                assert_eq!(fast.trace.to_text(), slow.trace.to_text(), "seed {seed}");
                assert_eq!(none, 0);
                // Many timers were cancelled and dropped in place, and many fired.
                assert!(discards > 100, "seed {seed}: {discards}");
                assert!(fast.stats.timers_fired > 100, "{:?}", fast.stats);
                assert!(fast.stats.timers_set >= fast.stats.timers_fired + discards);
            }
        }
    }

    #[test]
    fn a_message_sent_after_a_heal_is_delivered_and_one_sent_before_is_not() {
        // The documented model, pinned: n1 -> n2 is cut from 10ms to 20ms; latency is 15ms.
        let mut c = SimConfig::new(1, 2, Limits::time(Duration::from_millis(200)));
        c.link = LinkConfig {
            latency: Latency::Constant(Duration::from_millis(15)),
            ..LinkConfig::default()
        };
        let mut sim: Simulation<Chatter> = Simulation::new(c, (), ()).unwrap();
        let (a, b) = (Addr::Node(NodeId(0)), Addr::Node(NodeId(1)));
        sim.schedule(ms(10), Fault::Partition(vec![vec![a], vec![b]]));
        sim.schedule(ms(20), Fault::Heal);
        let r = sim.run();
        assert_eq!(r.engine_error, None);
        let text = r.trace.to_text();
        // Sent at 9ms (before the cut), due at 24ms (after the heal): lost.
        assert!(
            text.contains("    24.000ms  n1 -x n2  3  (lost: partition)"),
            "{text}"
        );
        // Sent at 21ms, after the heal: delivered at 36ms.
        assert!(text.contains("    36.000ms  n2 <- n1  7"), "{text}");
    }
}
