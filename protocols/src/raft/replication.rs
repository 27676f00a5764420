//! Log replication (§5.3), the commit rule (§5.4.2), applying to the state machine, client
//! requests (§8) and lease reads.

use super::{Entries, Entry, Msg, Node, RaftReach, Role, Timer};
use crate::kv::{KvRequest, KvResponse};
use sim_core::{ClientId, Ctx, Duration, NodeId, RequestId, Time};
use std::rc::Rc;

impl Node {
    /// The leader's periodic round: AppendEntries to every follower, retransmitting from
    /// the last acknowledged index to followers that are behind. A follower that has not
    /// answered since the last round (down, cut off, or its answers lost) is only probed
    /// with an empty AppendEntries; its answer brings the entries it needs (raft-rs and
    /// etcd call this the probe state). Without it, a leader would copy up to
    /// `max_entries_per_append` entries every round into messages nobody receives.
    pub(super) fn heartbeat(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        for peer in ctx.peers() {
            let i = peer.index();
            if self.responded[i] {
                self.next_index[i] = self.next_index[i].min(self.match_index[i] + 1);
                self.send_append(ctx, peer);
            } else {
                self.send_entries(ctx, peer, 0);
            }
            self.responded[i] = false;
        }
        let every = ctx.config().heartbeat;
        self.heartbeat_timer = Some(ctx.set_timer(every, Timer::Heartbeat));
    }

    /// Sends `peer` the entries from its `next_index` on (at most `max_entries_per_append`)
    /// and moves `next_index` past them (pipelining; a refusal or a heartbeat backs it up).
    fn send_append(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        let max = u64::from(ctx.config().max_entries_per_append);
        self.send_entries(ctx, peer, max);
    }

    /// AppendEntries to `peer` from its `next_index` with at most `max` entries (0: a probe
    /// or a heartbeat that only carries the commit index).
    #[inline]
    fn send_entries(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId, max: u64) {
        let i = peer.index();
        let d = ctx.durable();
        let next = self.next_index[i].clamp(1, d.last_index() + 1);
        let prev = next - 1;
        let prev_term = d.term_at(prev).expect("prev is within the log");
        let entries = if max == 0 {
            Entries::default() // a probe: no slice to look at
        } else {
            Entries::from_slice(d.entries(next, prev.saturating_add(max)))
        };
        self.next_index[i] = next + entries.len() as u64;
        let msg = Msg::AppendEntries {
            term: d.current_term(),
            prev_log_index: prev,
            prev_log_term: prev_term,
            entries,
            leader_commit: self.commit_index,
            stamp: Self::stamp(ctx),
        };
        ctx.send(peer, msg);
    }

    /// AppendEntries arrived (§5.3, Figure 2 "Receiver implementation").
    #[allow(clippy::too_many_arguments)]
    pub(super) fn append_entries(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Entries,
        leader_commit: u64,
        stamp: Time,
    ) {
        let current = ctx.durable().current_term();
        if term < current {
            let reply = Msg::AppendEntriesResponse {
                term: current,
                success: false,
                index: 0,
                stamp,
            };
            ctx.send(from, reply);
            return;
        }
        if term > current || self.role != Role::Follower {
            self.become_follower(ctx, term);
        }
        self.leader = Some(from);
        self.fresh_from_restart = false;
        if ctx.config().sticky_leader() {
            // Read only by `leader_is_fresh`, which answers no without a sticky leader.
            self.leader_contact = Some(ctx.monotonic());
        }
        self.reset_election_timer_inline(ctx);

        // The consistency check: our log must hold the entry just before the new ones.
        let d = ctx.durable();
        let ok = d.term_at(prev_index) == Some(prev_term)
            || (ctx.config().skip_prev_log_check && prev_index <= d.last_index());
        if !ok {
            ctx.reached(RaftReach::AppendRefused);
            let d = ctx.durable();
            let hint = if prev_index > d.last_index() {
                d.last_index() + 1
            } else {
                d.first_index_of_term(prev_index)
            };
            let reply = Msg::AppendEntriesResponse {
                term,
                success: false,
                index: hint.max(1),
                stamp,
            };
            ctx.send(from, reply);
            return;
        }
        // Append what is new; delete a conflicting suffix first (never entries that match:
        // a stale, reordered AppendEntries must not cut off newer ones).
        let last_new = prev_index + entries.len() as u64;
        // Heartbeats and probes carry nothing: no iterator is built for them.
        if !entries.is_empty() {
            for (k, entry) in entries.into_iter().enumerate() {
                let index = prev_index + 1 + k as u64;
                match ctx.durable().term_at(index) {
                    Some(t) if t == entry.term => continue,
                    Some(_) => {
                        ctx.reached(RaftReach::FollowerEntryOverwritten);
                        ctx.durable_mut().truncate_from(index);
                    }
                    None => {}
                }
                ctx.durable_mut().append(entry);
            }
        }
        if leader_commit > self.commit_index {
            self.commit_index = leader_commit.min(last_new).max(self.commit_index);
            self.apply(ctx);
        }
        let reply = Msg::AppendEntriesResponse {
            term,
            success: true,
            index: last_new,
            stamp,
        };
        ctx.send(from, reply); // after the entries are durable
    }

    /// A follower answered AppendEntries.
    pub(super) fn append_entries_response(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        success: bool,
        index: u64,
        stamp: Time,
    ) {
        let current = ctx.durable().current_term();
        if term > current {
            self.become_follower(ctx, term);
            return;
        }
        if self.role != Role::Leader || term < current {
            return;
        }
        let i = from.index();
        self.responded[i] = true;
        if self.acked_stamp[i].is_none_or(|s| s < stamp) {
            self.acked_stamp[i] = Some(stamp);
            self.extend_lease(ctx);
        }
        if success {
            if index > self.match_index[i] {
                self.match_index[i] = index;
                // The commit rule reads only the match indexes above the commit index
                // (and the leader's own log, its term and the commit index, which did
                // not change here): a match that stays at or below it changes nothing
                // the last call did not see. (Most acknowledgements after the majority's
                // are such; issue #17.)
                if index > self.commit_index {
                    self.advance_commit(ctx);
                } else {
                    debug_assert_eq!(self.commit_candidate(ctx), None, "skipped a commit");
                }
            }
            self.next_index[i] = self.next_index[i].max(self.match_index[i] + 1);
            if self.next_index[i] <= ctx.durable().last_index() && index + 1 >= self.next_index[i] {
                self.send_append(ctx, from); // more to send, and nothing else in flight
            }
        } else {
            // Back up to the hint and retry at once (never below what is known to match).
            self.next_index[i] = index.max(self.match_index[i] + 1);
            self.send_append(ctx, from);
        }
    }

    /// The commit rule (§5.3, §5.4.2): the highest index stored on a majority is
    /// committed if its entry is from the current term.
    #[inline]
    fn advance_commit(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Some(n) = self.commit_candidate(ctx) {
            self.commit_index = n;
            self.apply(ctx);
        }
    }

    /// Where the commit rule moves the commit index to, if anywhere. It reads the match
    /// indexes only above the commit index, the leader's own log and term, and the commit
    /// index.
    fn commit_candidate(&self, ctx: &Ctx<'_, Self>) -> Option<u64> {
        let d = ctx.durable();
        let (me, own_last, majority) = (ctx.id().index(), d.last_index(), ctx.majority());
        // The majority match is above the commit index only if a majority of servers are:
        // a count answers most acknowledgements (the first, and those after the commit)
        // without sorting.
        //
        // The same pass keeps the lowest index above it: when exactly a majority are
        // above (the usual case, three of five), the majority-th largest of all is that
        // lowest one (every other is at or below the commit index), with nothing copied
        // or sorted; with more above, the full sort decides (issue #17).
        let c = self.commit_index;
        let (mut above, mut lowest) = (0usize, u64::MAX);
        if own_last > c {
            above = 1;
            lowest = own_last;
        }
        // The leader's own slot stays 0 (no server acknowledges itself), so it is never
        // above the commit index and needs no test in the loop.
        debug_assert_eq!(self.match_index[me], 0);
        for &m in &self.match_index {
            if m > c {
                above += 1;
                lowest = lowest.min(m);
            }
        }
        if above < majority {
            return None;
        }
        let n = if above == majority {
            lowest
        } else {
            self.majority_match(me, own_last, majority)
        };
        debug_assert_eq!(n, self.majority_match(me, own_last, majority));
        if n <= self.commit_index {
            return None;
        }
        let own_term = d.term_at(n) == Some(d.current_term());
        (own_term || ctx.config().commit_earlier_term_by_counting).then_some(n)
    }

    /// The highest index stored on at least `majority` servers (the leader's own log
    /// counts as `own_last`): the `majority`-th largest match index. Runs on every
    /// acknowledgement, so it sorts on the stack for clusters of up to 16.
    fn majority_match(&self, me: usize, own_last: u64, majority: usize) -> u64 {
        let n = self.match_index.len();
        let mut small = [0u64; 16];
        let mut large = Vec::new();
        let matched: &mut [u64] = if n <= small.len() {
            small[..n].copy_from_slice(&self.match_index);
            &mut small[..n]
        } else {
            large.extend_from_slice(&self.match_index);
            &mut large
        };
        matched[me] = own_last;
        matched.sort_unstable_by(|a, b| b.cmp(a));
        matched[majority - 1]
    }

    /// Applies committed entries in log order; the leader answers their clients.
    #[inline]
    fn apply(&mut self, ctx: &mut Ctx<'_, Self>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let index = self.last_applied;
            let entry = ctx
                .durable()
                .entry(index)
                .expect("committed entries are in the log");
            let seq = entry.command.seq;
            let (result, duplicate) = self.store.apply_checked(&entry.command);
            if duplicate {
                ctx.reached(RaftReach::DuplicateApplied);
            }
            // Only a leader has clients waiting (followers skip the map).
            let waiting = match self.pending.front() {
                Some(&(at, client, id)) if at == index => {
                    self.pending.pop_front();
                    Some((client, id))
                }
                _ => None,
            };
            if let Some((client, id)) = waiting {
                if let Some(result) = result {
                    let result = result.clone();
                    ctx.reply(client, id, KvResponse::Done { seq, result });
                }
            }
        }
    }

    /// The clock the leader's lease is measured on: the monotonic clock, which a
    /// `ClockSkew` step does not move (drift still does, and the lease allows for it).
    /// Knob `lease_on_wall_clock` reads the wall clock instead, so a step back stretches
    /// the lease by as much.
    fn lease_clock(ctx: &Ctx<'_, Self>) -> Time {
        if ctx.config().lease_on_wall_clock {
            ctx.wall_clock() // bug knob
        } else {
            ctx.monotonic()
        }
    }

    /// The stamp an AppendEntries carries: the lease clock with lease reads; without, no
    /// one reads it (only [`Node::extend_lease`] does, and it returns at once), so the
    /// clock is not read for it (issue #17: every AppendEntries paid for a reading).
    fn stamp(ctx: &Ctx<'_, Self>) -> Time {
        if ctx.config().lease_read {
            Self::lease_clock(ctx)
        } else {
            Time::ZERO
        }
    }

    /// The lease starts when the majority-th most recent acknowledged stamp was sent
    /// (the leader counts itself as now) and lasts the minimum election timeout, shortened
    /// for clock drift: `min * (1 - rho) / (1 + rho)`.
    fn extend_lease(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !ctx.config().lease_read {
            return;
        }
        let me = ctx.id().index();
        let now = Self::lease_clock(ctx);
        let mut stamps: Vec<Time> = (0..self.acked_stamp.len())
            .filter_map(|i| {
                if i == me {
                    Some(now)
                } else {
                    self.acked_stamp[i]
                }
            })
            .collect();
        if stamps.len() < ctx.majority() {
            return;
        }
        stamps.sort_unstable_by(|a, b| b.cmp(a));
        let start = stamps[ctx.majority() - 1];
        let c = ctx.config();
        let min = c.election_timeout_min.as_nanos() as u128;
        let length = if c.lease_without_clock_bound {
            min // bug knob: no allowance for drift
        } else {
            let rho = u128::from(c.lease_drift_bound_ppm);
            min * (1_000_000 - rho) / (1_000_000 + rho)
        };
        let until = start.plus(Duration::from_nanos(length as u64));
        if until > self.lease_until {
            self.lease_until = until;
        }
    }

    /// A client request (§8). Followers redirect; the leader appends it to its log and
    /// answers once it is applied, or answers a read from its lease.
    pub(super) fn client_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        request: Rc<KvRequest>,
    ) {
        if self.role != Role::Leader {
            // The network may deliver a request twice, and a client retries: if a copy
            // reached us while we led, its entry is in our log and may yet commit, and the
            // client must not take this refusal for "it did not happen". (Found by swarm
            // testing: a duplicate delayed past a step-down was recorded as failed.)
            let has_entry = ctx.durable().has_command(request.client, request.seq);
            let refusal = KvResponse::NotLeader {
                hint: self.leader,
                has_entry,
            };
            ctx.reply(client, id, refusal);
            return;
        }
        if request.op.is_read() && self.can_read_locally(ctx) {
            ctx.reached(RaftReach::LeaseReadServed);
            let result = self.store.get_shared(request.op.key());
            ctx.reply(
                client,
                id,
                KvResponse::Done {
                    seq: request.seq,
                    result,
                },
            );
            return;
        }
        let term = ctx.durable().current_term();
        // The client's own copy of the request, shared: no allocation here.
        ctx.durable_mut().append(Entry {
            term,
            command: request,
        });
        let index = ctx.durable().last_index();
        debug_assert!(self.pending.back().is_none_or(|&(at, ..)| at < index));
        self.pending.push_back((index, client, id));
        for peer in ctx.peers() {
            // Followers with nothing in flight get it now; the rest after their answer.
            if self.next_index[peer.index()] == index {
                self.send_append(ctx, peer);
            }
        }
        // A cluster of one commits at once. In a larger one this append changes nothing
        // the commit rule reads: the leader's own last index is above every match index
        // (a follower acknowledges only what the leader sent), so it is never the
        // majority-th largest when the majority is two or more, and the rule answered
        // the same after the last acknowledgement (issue #17: a tenth of its calls).
        if ctx.majority() == 1 {
            self.advance_commit(ctx);
        } else {
            debug_assert_eq!(self.commit_candidate(ctx), None, "skipped a commit");
        }
    }

    /// A lease read is safe when the lease holds and this leader has committed an entry of
    /// its own term (so it knows every committed entry, §8) and applied everything.
    fn can_read_locally(&self, ctx: &Ctx<'_, Self>) -> bool {
        let d = ctx.durable();
        ctx.config().lease_read
            && Self::lease_clock(ctx) < self.lease_until
            && d.term_at(self.commit_index) == Some(d.current_term())
            && self.last_applied == self.commit_index
    }
}
