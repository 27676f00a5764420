//! The world outside the nodes: the clock, the event queue, the network, the trace, the
//! stats and the history. Handlers reach it through their context, so a send goes onto the
//! wire the moment it is made, with no intermediate buffer.

use crate::fault::Fault;
use crate::id::{RequestId, TimerId};
use crate::network::Network;
use crate::process::Process;
use crate::queue::EventQueue;
use crate::rng::SimRng;
use crate::selfcheck::BrokenPath;
use crate::sim::Stats;
use crate::time::{Duration, Time};
use crate::trace::{
    DropReason, Fingerprint, Trace, TraceBudget, TraceEvent, TraceKind, TraceLevel,
};
use lincheck::Event as HistoryEvent;

/// A message held at a 16-byte boundary inside the event, so the copies that carry it
/// from the queue to its handler move it in whole, matching 16-byte words.
///
/// The marker after it gives [`Wire`] a niche, so a message on the wire carries no tag
/// word in front of it: with one, the compiler copied the tag and the message as one
/// block, in 16-byte pieces 8 bytes off the message's own, which stalled on the writes
/// that had just built the message (store-to-load forwarding fails on a read that
/// spans two writes).
#[repr(align(16))]
pub(crate) struct Aligned<T>(
    pub(crate) T,
    #[allow(dead_code, reason = "never read: it is there for its niche")] Niche,
);

/// A one-value marker (its other byte values are the niche [`Aligned`] lends [`Wire`]).
#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum Niche {
    Msg = 0,
}

impl<T> Aligned<T> {
    #[inline(always)]
    pub(crate) fn new(msg: T) -> Self {
        Aligned(msg, Niche::Msg)
    }

    /// The message. A method, so a closure that calls it captures the whole aligned
    /// value rather than (by precise capture) the unaligned field alone.
    #[inline(always)]
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

/// What travels on a link.
pub(crate) enum Wire<P: Process> {
    Msg(Aligned<P::Msg>),
    Request(RequestId, P::Request),
    Response(RequestId, P::Response),
}

impl<P: Process> Clone for Wire<P> {
    fn clone(&self) -> Self {
        match self {
            Wire::Msg(m) => Wire::Msg(Aligned::new(m.0.clone())),
            Wire::Request(i, r) => Wire::Request(*i, r.clone()),
            Wire::Response(i, r) => Wire::Response(*i, r.clone()),
        }
    }
}

impl<P: Process> Wire<P> {
    pub(crate) fn describe(&self) -> String {
        match self {
            Wire::Msg(m) => format!("{:?}", m.0),
            Wire::Request(id, r) => format!("{r:?} ({id})"),
            Wire::Response(id, r) => format!("{r:?} ({id})"),
        }
    }
}

/// A queued event. Client timer tags stay in the client's slot, so events do not depend
/// on the client type.
///
/// Aligned to 16 bytes so its size is a whole number of 16-byte words: an event is moved
/// several times between the queue and its handler, and a size like 84 bytes made the
/// compiler copy it with overlapping 16-byte moves, whose reads stall on the partly
/// overlapping writes just before them (a third of a pingstorm delivery's time at N=5).
#[repr(align(16))]
pub(crate) enum Ev<P: Process> {
    Start(u32),
    ClientStart(u32),
    Deliver {
        from: u32,
        to: u32,
        wire: Wire<P>,
        lost: bool,
        /// The cut generation it was sent in ([`crate::selfcheck`]).
        sent: u32,
    },
    NodeTimer(u32, TimerId, P::Timer),
    ClientTimer(u32, TimerId),
    Fault(Box<Fault>),
    /// A node's sync completes: `upto` records are durable (unless the node crashed since
    /// the sync was asked, which bumped its disk's `epoch`).
    Synced {
        node: u32,
        epoch: u64,
        upto: u64,
    },
}

pub(crate) const K_START: u64 = 1;
const K_DELIVER: u64 = 2;
pub(crate) const K_TIMER: u64 = 3;
pub(crate) const K_FAULT: u64 = 4;
const K_DROP: u64 = 5;
const K_SEND: u64 = 6;
pub(crate) const K_SYNCED: u64 = 7;

pub(crate) struct Bus<P: Process> {
    pub(crate) now: Time,
    pub(crate) node_count: u32,
    /// Node names then client names: endpoint `e` is called `names[e]`.
    pub(crate) names: Vec<String>,
    pub(crate) queue: EventQueue<Ev<P>>,
    pub(crate) network: Network,
    /// The network's stream: loss, latency and duplication draws for every link.
    pub(crate) net_rng: SimRng,
    pub(crate) stats: Stats,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) trace: Trace,
    pub(crate) trace_budget: TraceBudget,
    /// When the budget ran out: the time of the first event left out and the level the
    /// trace recorded at until then.
    pub(crate) trace_cut: Option<(Time, TraceLevel)>,
    pub(crate) next_id: u64,
    /// The queue refused an event: the run ends.
    pub(crate) overflow: bool,
    /// The next event count at which the event loop looks up from its fast path: the
    /// runaway window's and pending bound's checks, the event limit, and (set to 0 by
    /// [`Self::halt`] and by a stop) the end of a run that overflowed or stopped. One
    /// compare per event stands for all of them.
    pub(crate) check_at: u64,
    /// Every send may take [`Self::transmit`]'s plain path: no crash-after-send
    /// bookkeeping, no full trace, a plain network (no link overrides, duplication or
    /// delay rules) and no cut. Set by [`Self::refresh_send_path`] wherever one of these
    /// changes; a stale `false` only sends a message the general way (same result).
    pub(crate) plain_send: bool,
    /// As `plain_send`, but with a cut in force (a partition): a send on a link no cut
    /// blocks may take the plain path from [`Self::transmit_any`], which tests the cuts
    /// first. (The Raft bench is partitioned for much of a run, and every send then
    /// took the general path.) Set with `plain_send`, and like it never stale `true`.
    pub(crate) plain_uncut_send: bool,
    /// Every delivery to a live, running node may take the plain path: no full trace
    /// (nothing to record), no crash-after-send in force (`send_kinds` is off exactly
    /// then) and no cut on the self-check's record (none can have been crossed). Set
    /// with `plain_send`, by [`Self::refresh_send_path`]; a stale `false` only delivers
    /// the general way (same result), a stale `true` trips a debug assertion.
    pub(crate) plain_deliver: bool,
    /// The default link's uniform latency as its draw needs it: the low end and the
    /// span `hi - lo + 1` (0 when the latency is not uniform, or spans every value:
    /// then the latency draws itself), set with `plain_send`.
    pub(crate) plain_latency: (u64, u64),
    pub(crate) history: Vec<HistoryEvent>,
    /// Whether clients' operations go into `history` (off when nothing will read it).
    pub(crate) record_history: bool,
    pub(crate) next_process: u64,
    /// The client each history process belongs to (its name), for explanations.
    pub(crate) process_names: std::collections::BTreeMap<u64, String>,
    pub(crate) selfcheck: crate::selfcheck::SelfCheck,
    /// A deliberately broken path, in the self-checks' tests only.
    #[cfg(test)]
    pub(crate) broken: Option<BrokenPath>,
    /// In tests only: every delivery and send takes the general path (`general_only`),
    /// and how many took the plain ones (deliveries, sends), so a test can compare the
    /// two and see that the plain ones ran.
    #[cfg(test)]
    pub(crate) general_only: bool,
    #[cfg(test)]
    pub(crate) plain_taken: (u64, u64),
    /// In tests only: how many cancelled timers were dropped in their slots (none when
    /// `general_only`: then `handle` sees every timer).
    #[cfg(test)]
    pub(crate) discards: u64,
    /// The sometimes-properties reached so far (beside the trace, never in it).
    pub(crate) reached: crate::reach::Reached,
    /// While [`crate::Fault::CrashAfterSend`] is in force: the message kinds seen (the
    /// Debug form's first word), in the order first sent, and the ones sent during the
    /// current handler (indexes into `kinds`). `None` otherwise (nothing is formatted).
    pub(crate) send_kinds: Option<(Vec<String>, Vec<u32>)>,
    /// A crash in the middle of the current handler's sends (see
    /// [`crate::Fault::CrashAfterSend`]'s `partial`): how many of its messages to nodes
    /// may leave, and how many it has sent so far; the rest are lost. Only while
    /// `send_kinds` is on (so every send takes [`Self::transmit_any`]).
    pub(crate) send_cut: Option<(u32, u32)>,
    /// What every node's context reads (kept here, so a handler's context needs no
    /// pointer of its own to them): the nodes' configuration, the disks' behaviour and
    /// the run's seed.
    pub(crate) node_config: P::Config,
    pub(crate) storage: crate::storage::StorageConfig,
    pub(crate) seed: u64,
}

impl<P: Process> Bus<P> {
    /// Is this engine path deliberately broken (the self-checks' tests)? Always false
    /// outside them.
    #[inline(always)]
    #[allow(unused_variables)]
    pub(crate) fn broken(&self, b: crate::selfcheck::BrokenPath) -> bool {
        #[cfg(test)]
        {
            self.broken == Some(b)
        }
        #[cfg(not(test))]
        {
            false
        }
    }

    /// May this delivery or send take its plain path? Always outside the tests.
    #[inline(always)]
    pub(crate) fn plain_allowed(&mut self, delivery: bool) -> bool {
        #[cfg(test)]
        {
            if self.general_only {
                return false;
            }
            if delivery {
                self.plain_taken.0 += 1;
            } else {
                self.plain_taken.1 += 1;
            }
        }
        let _ = delivery;
        true
    }

    /// Looks again at whether sends may take the plain path (see `plain_send`).
    pub(crate) fn refresh_send_path(&mut self) {
        self.plain_latency = match self.network.default_link().latency {
            crate::network::Latency::Uniform { min, max } => (
                min.as_nanos(),
                (max.as_nanos() - min.as_nanos())
                    .checked_add(1)
                    .unwrap_or(0),
            ),
            _ => (0, 0),
        };
        let plain = self.send_kinds.is_none() && !self.full() && self.network.plain();
        self.plain_send = plain && !self.network.has_cuts();
        self.plain_uncut_send = plain && self.network.has_cuts();
        self.plain_deliver = self.send_kinds.is_none() && !self.full() && self.selfcheck.no_cuts();
    }

    /// The queue refused an event: the run ends before the next event.
    #[cold]
    pub(crate) fn halt(&mut self) {
        self.overflow = true;
        self.check_at = 0;
    }

    #[inline]
    pub(crate) fn enqueue(&mut self, at: Time, ev: Ev<P>) {
        if self.queue.push(at, ev).is_err() {
            self.halt();
        }
    }

    /// [`Self::enqueue`] of the event `make` builds, built straight in its queue slot
    /// (a timer's event built first was copied into the slot at the whole event's size).
    #[inline(always)]
    pub(crate) fn enqueue_with(&mut self, at: Time, make: impl FnOnce() -> Ev<P>) {
        if self.queue.push_with(at, make).is_err() {
            self.halt();
        }
    }

    #[inline]
    pub(crate) fn full(&self) -> bool {
        self.trace.level == TraceLevel::Full
    }

    /// The history is recorded when asked for, and always with a trace (whose invoke and
    /// complete lines are built from it).
    #[inline]
    pub(crate) fn records_history(&self) -> bool {
        self.record_history || self.summary()
    }

    #[inline]
    pub(crate) fn summary(&self) -> bool {
        self.trace.level >= TraceLevel::Summary
    }

    pub(crate) fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn record(&mut self, kind: TraceKind) {
        if self.trace.level != TraceLevel::Off {
            if self.now < self.trace_budget.full_from && !kind.in_summary() {
                return;
            }
            if self.trace.events.len() >= self.trace_budget.max_events {
                self.cut_trace();
                return;
            }
            self.trace.events.push(TraceEvent {
                time: self.now,
                kind,
            });
        }
    }

    /// The budget is spent: keep only the events before this instant (so the trace holds
    /// every event it covers) and record nothing more.
    #[cold]
    fn cut_trace(&mut self) {
        let t = self.now;
        while self.trace.events.last().is_some_and(|e| e.time >= t) {
            self.trace.events.pop();
        }
        self.trace_cut = Some((t, self.trace.level));
        self.trace.level = TraceLevel::Off;
        self.refresh_send_path();
    }

    pub(crate) fn name(&self, endpoint: u32) -> String {
        self.names[endpoint as usize].clone()
    }

    pub(crate) fn drop_message(&mut self, from: u32, to: u32, wire: &Wire<P>, reason: DropReason) {
        match reason {
            DropReason::Loss => self.stats.drops_loss += 1,
            DropReason::Partition => self.stats.drops_partition += 1,
            DropReason::Down => self.stats.drops_down += 1,
        }
        self.fingerprint
            .mix(K_DROP << 48 | u64::from(from) << 24 | u64::from(to));
        if self.full() {
            self.record(TraceKind::Drop {
                from: self.name(from),
                to: self.name(to),
                msg: wire.describe(),
                reason,
            });
        }
    }

    /// A message reached its live, running receiver.
    #[inline]
    pub(crate) fn delivered(&mut self, from: u32, to: u32, wire: &Wire<P>) {
        self.stats.deliveries += 1;
        self.message_event(K_DELIVER, from, to, wire);
    }

    /// A message reached its live, running receiver; the message is still in queue slot
    /// `slot` (popped, not yet taken).
    #[inline]
    pub(crate) fn delivered_at(&mut self, from: u32, to: u32, slot: u32) {
        self.stats.deliveries += 1;
        self.fingerprint
            .mix(K_DELIVER << 48 | u64::from(from) << 24 | u64::from(to));
        if self.full() {
            self.record_delivery_at(from, to, slot);
        }
    }

    /// [`Self::delivered_at`] when nothing is recorded (`plain_deliver`: no full trace).
    #[inline(always)]
    pub(crate) fn delivered_plain(&mut self, from: u32, to: u32) {
        debug_assert!(!self.full());
        self.stats.deliveries += 1;
        self.fingerprint
            .mix(K_DELIVER << 48 | u64::from(from) << 24 | u64::from(to));
    }

    #[cold]
    #[inline(never)]
    fn record_delivery_at(&mut self, from: u32, to: u32, slot: u32) {
        let msg = match self.queue.get(slot) {
            Ev::Deliver { wire, .. } => wire.describe(),
            _ => unreachable!("slot {slot} holds a delivery"),
        };
        let (from, to) = (self.name(from), self.name(to));
        self.record(TraceKind::Deliver { from, to, msg });
    }

    /// Fingerprints a send or delivery and, at full trace, records it.
    #[inline(always)]
    fn message_event(&mut self, code: u64, from: u32, to: u32, wire: &Wire<P>) {
        self.fingerprint
            .mix(code << 48 | u64::from(from) << 24 | u64::from(to));
        if self.full() {
            self.record_message(code, from, to, wire);
        }
    }

    /// The full trace's line for a send or delivery (out of line: the hot path skips it).
    #[cold]
    #[inline(never)]
    fn record_message(&mut self, code: u64, from: u32, to: u32, wire: &Wire<P>) {
        let (from, to, msg) = (self.name(from), self.name(to), wire.describe());
        self.record(if code == K_SEND {
            TraceKind::Send { from, to, msg }
        } else {
            TraceKind::Deliver { from, to, msg }
        });
    }

    /// Puts a message on the wire from endpoint `from` to endpoint `to`: a cut or the
    /// link's loss may drop it, the link's latency delays it, its duplication may send it
    /// twice (each copy with its own latency, so copies can arrive out of order).
    ///
    /// The common case (no full trace, no crash-after-send bookkeeping, the link not cut,
    /// no duplication, no delay rules) inlines into the sender and builds the queued
    /// event straight in its queue slot, so the message is written once where it waits
    /// (built in the handler, then moved into a temporary event and the event into its
    /// slot, its wide copies stalled on the handler's narrow writes: half of a pingstorm
    /// send at N = 5). It does exactly what [`Self::transmit_any`] does in that case,
    /// the same draws in the same order; everything else goes there.
    #[inline(always)]
    pub(crate) fn transmit(&mut self, from: u32, to: u32, wire: Wire<P>) {
        self.transmit_with(from, to, move || wire);
    }

    /// [`Self::transmit`] of the message `make` builds, built only where it goes: in the
    /// common case straight in its queue slot (a message built first, even as the
    /// argument of the call, sat in a temporary whose wide copy into the slot stalled on
    /// the narrow writes that had just built it).
    #[inline(always)]
    pub(crate) fn transmit_with(&mut self, from: u32, to: u32, make: impl FnOnce() -> Wire<P>) {
        debug_assert!(
            !self.plain_send
                || (self.send_kinds.is_none()
                    && !self.full()
                    && self.network.plain()
                    && !self.network.has_cuts()),
            "plain_send is stale"
        );
        if !self.plain_send || !self.plain_allowed(false) {
            return self.transmit_any(from, to, make());
        }
        self.transmit_plain(from, to, make);
    }

    /// [`Self::transmit`]'s plain path (see `plain_send` and `plain_uncut_send`): what
    /// [`Self::transmit_any`] does on an uncut default link without duplication, delay
    /// rules, full trace or crash-after-send, the same draws in the same order.
    #[inline(always)]
    fn transmit_plain(&mut self, from: u32, to: u32, make: impl FnOnce() -> Wire<P>) {
        // Plain: this link is the default one, without duplication or delay rules.
        let link = self.network.default_link();
        self.stats.sends += 1;
        self.fingerprint
            .mix(K_SEND << 48 | u64::from(from) << 24 | u64::from(to));
        // (No loss, the common case, tested first: `chance` draws nothing then.)
        if !link.loss.is_zero() && self.net_rng.chance(link.loss) {
            self.lose(from, to, make());
            return;
        }
        // `Latency::sample`'s uniform draw (`between`), its match and range done once.
        let latency = match self.plain_latency {
            (lo, span) if span != 0 => Duration::from_nanos(lo + self.net_rng.below(span)),
            _ => link.latency.sample(&mut self.net_rng),
        };
        let arrive = self.now.plus(latency);
        let sent = self.selfcheck.generation();
        let pushed = self.queue.push_with(arrive, move || Ev::Deliver {
            from,
            to,
            wire: make(),
            lost: false,
            sent,
        });
        if pushed.is_err() {
            self.halt();
        }
    }

    /// The link's loss took a message [`Self::transmit`] sent.
    #[cold]
    #[inline(never)]
    fn lose(&mut self, from: u32, to: u32, wire: Wire<P>) {
        self.drop_message(from, to, &wire, DropReason::Loss);
    }

    /// [`Self::transmit`] for every case: cuts, loss, duplication, delay rules, the full
    /// trace and crash-after-send's bookkeeping.
    #[inline(never)]
    fn transmit_any(&mut self, from: u32, to: u32, wire: Wire<P>) {
        if self.plain_uncut_send && !self.network.is_cut(from, to) && self.plain_allowed(false) {
            debug_assert!(
                self.send_kinds.is_none() && !self.full() && self.network.plain(),
                "plain_uncut_send is stale"
            );
            return self.transmit_plain(from, to, move || wire);
        }
        self.stats.sends += 1;
        if let (Some((kinds, sent)), Wire::Msg(m)) = (self.send_kinds.as_mut(), &wire) {
            let text = format!("{:?}", m.0);
            let end = text
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(text.len());
            let kind = &text[..end];
            let i = match kinds.iter().position(|k| k == kind) {
                Some(i) => i,
                None => {
                    kinds.push(kind.to_string());
                    kinds.len() - 1
                }
            };
            sent.push(i as u32);
        }
        self.message_event(K_SEND, from, to, &wire);
        if let (Some((out, sent)), Wire::Msg(_)) = (self.send_cut.as_mut(), &wire) {
            *sent += 1;
            if *sent > *out {
                self.drop_message(from, to, &wire, DropReason::Loss);
                return;
            }
        }
        if self.network.is_cut(from, to) && !self.broken(BrokenPath::SendIgnoresCut) {
            self.drop_message(from, to, &wire, DropReason::Partition);
            return;
        }
        let link = self.network.link(from, to);
        let rng = &mut self.net_rng;
        if rng.chance(link.loss) {
            self.drop_message(from, to, &wire, DropReason::Loss);
            return;
        }
        let latency = link.latency.sample(rng);
        if rng.chance(link.duplicate) {
            let again = link.latency.sample(rng);
            let mut arrive = self.now.plus(again);
            if self.network.has_delays() {
                arrive = self
                    .network
                    .delayed(self.now, from, to, arrive, &mut self.net_rng);
            }
            self.stats.duplicates += 1;
            if self.full() {
                self.record(TraceKind::Duplicate {
                    from: self.name(from),
                    to: self.name(to),
                    msg: wire.describe(),
                });
            }
            let copy = Ev::Deliver {
                from,
                to,
                wire: wire.clone(),
                lost: false,
                sent: self.selfcheck.generation(),
            };
            if !self.broken(BrokenPath::DuplicateNeverDelivered) {
                self.enqueue(arrive, copy);
            }
        }
        let mut arrive = self.now.plus(latency);
        if self.network.has_delays() {
            arrive = self
                .network
                .delayed(self.now, from, to, arrive, &mut self.net_rng);
            // Expired rules go here: the plain path may be open again.
            self.refresh_send_path();
        }
        let sent = self.selfcheck.generation();
        let pushed = self.queue.push_with(arrive, move || Ev::Deliver {
            from,
            to,
            wire,
            lost: false,
            sent,
        });
        if pushed.is_err() {
            self.halt();
        }
    }
}
