//! Leader election (§5.2, §5.4.1) and PreVote (thesis §9.6): timeouts, votes, roles.

use super::{Msg, Node, RaftReach, Role, Timer};
use sim_core::{Ctx, Duration, NodeId};

impl Node {
    /// Sets a fresh random election timeout (§5.2): the election starts that long from now
    /// unless it is reset again first.
    ///
    /// Followers reset it on every AppendEntries, so the engine timer is not replaced
    /// each time: the deadline moves, and a timer that fires before the deadline only
    /// re-arms itself for the rest (see [`Node::election_timer_fired`]). The timer is
    /// replaced only when the new deadline is earlier than the pending timer.
    #[inline]
    pub(super) fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.reset_election_timer_inline(ctx);
    }

    /// [`Node::reset_election_timer`] inlined into its caller: for the follower's
    /// AppendEntries handler, which runs it at every heartbeat (a call's register saves
    /// and restores were a fifth of it; issue #17).
    #[inline(always)]
    pub(super) fn reset_election_timer_inline(&mut self, ctx: &mut Ctx<'_, Self>) {
        let c = ctx.config();
        let (lo, hi) = (
            c.election_timeout_min.as_nanos(),
            c.election_timeout_max.as_nanos(),
        );
        let after = Duration::from_nanos(ctx.rng().between(lo, hi));
        let deadline = ctx.monotonic().plus(after);
        self.election_deadline = deadline;
        if self.election_timer.is_some() && self.election_timer_at <= deadline {
            return; // it fires first and re-arms for the rest
        }
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        self.election_timer = Some(ctx.set_timer(after, Timer::Election));
        self.election_timer_at = deadline;
    }

    /// The election timer fired: start an election, unless the timeout was reset to a
    /// later deadline since the timer was set; then wait for the rest of it. (The rest is
    /// measured from when this timer was due, not from the clock now, so a run behaves as
    /// if every reset had replaced the timer, whatever the clock did meanwhile.)
    pub(super) fn election_timer_fired(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.election_timer = None;
        if self.election_deadline > self.election_timer_at {
            let rest = self.election_deadline.since(self.election_timer_at);
            self.election_timer = Some(ctx.set_timer(rest, Timer::Election));
            self.election_timer_at = self.election_deadline;
            return;
        }
        self.election_timeout(ctx);
    }

    /// Adopts a newer term (persisted first) and becomes a follower (§5.1).
    pub(super) fn become_follower(&mut self, ctx: &mut Ctx<'_, Self>, term: u64) {
        if term > ctx.durable().current_term() {
            ctx.durable_mut().set_term(term);
            self.leader = None;
            if self.role == Role::Follower {
                ctx.note(format_args!("role=follower term={term}"));
            }
        }
        if self.role == Role::Leader {
            if ctx.durable().last_index() > self.commit_index {
                ctx.reached(RaftReach::LeaderChangedUncommitted);
            }
            // Requests in flight may still commit under the next leader: answering
            // NotLeader would be a lie. Their clients time out and retry.
            self.pending.clear();
            if let Some(t) = self.heartbeat_timer.take() {
                ctx.cancel_timer(t);
            }
            self.reset_election_timer(ctx);
        }
        self.set_role(ctx, Role::Follower);
    }

    /// The election timer fired: no leader was heard from in time.
    pub(super) fn election_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            return;
        }
        if ctx.config().pre_vote {
            self.become_pre_candidate(ctx);
        } else {
            self.become_candidate(ctx);
        }
    }

    fn start_counting(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.votes.clear();
        self.votes.insert(ctx.id().0);
    }

    fn has_majority(&self, ctx: &Ctx<'_, Self>) -> bool {
        self.votes.len() >= ctx.majority()
    }

    /// PreVote: ask whether we could win the next term, without changing any term.
    fn become_pre_candidate(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.leader = None;
        self.set_role(ctx, Role::PreCandidate);
        self.start_counting(ctx);
        self.reset_election_timer(ctx);
        if self.has_majority(ctx) {
            self.become_candidate(ctx);
            return;
        }
        let d = ctx.durable();
        ctx.broadcast(Msg::RequestVote {
            term: d.current_term() + 1,
            last_log_index: d.last_index(),
            last_log_term: d.last_term(),
            pre_vote: true,
        });
    }

    /// Starts an election: new term, vote for self (both persisted before any message
    /// leaves), ask everyone (§5.2).
    pub(super) fn become_candidate(&mut self, ctx: &mut Ctx<'_, Self>) {
        let term = ctx.durable().current_term() + 1;
        ctx.durable_mut().set_term(term);
        let me = ctx.id();
        ctx.durable_mut().vote(me);
        self.leader = None;
        // Force the note even if we were a candidate already: the term changed.
        self.role = Role::Follower;
        self.set_role(ctx, Role::Candidate);
        self.start_counting(ctx);
        self.reset_election_timer(ctx);
        if self.has_majority(ctx) {
            self.become_leader(ctx);
            return;
        }
        let d = ctx.durable();
        ctx.broadcast(Msg::RequestVote {
            term,
            last_log_index: d.last_index(),
            last_log_term: d.last_term(),
            pre_vote: false,
        });
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        let d = ctx.durable();
        if d.last_index() > self.commit_index && d.last_term() < d.current_term() {
            ctx.reached(RaftReach::LeaderChangedUncommitted);
        }
        self.set_role(ctx, Role::Leader);
        self.leader = Some(ctx.id());
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        let next = ctx.durable().last_index() + 1;
        let n = ctx.node_count();
        self.next_index = vec![next; n];
        self.match_index = vec![0; n];
        self.acked_stamp = vec![None; n];
        self.responded = vec![false; n];
        self.lease_until = sim_core::Time::ZERO;
        self.heartbeat(ctx);
    }

    /// Would the election restriction let a candidate with this log win our vote?
    /// (§5.4.1: its last term is higher, or equal with a log at least as long.)
    fn log_up_to_date(&self, ctx: &Ctx<'_, Self>, last_index: u64, last_term: u64) -> bool {
        if ctx.config().vote_without_log_check {
            return true; // bug knob
        }
        let d = ctx.durable();
        last_term > d.last_term() || (last_term == d.last_term() && last_index >= d.last_index())
    }

    /// Has a leader been heard from within the minimum election timeout? Then a server
    /// keeps its promise not to help elect anyone else (leases, PreVote).
    fn leader_is_fresh(&self, ctx: &Ctx<'_, Self>) -> bool {
        if !ctx.config().sticky_leader() {
            return false;
        }
        if self.role == Role::Leader {
            return true;
        }
        let min = ctx.config().election_timeout_min;
        self.leader_contact
            .is_some_and(|t| ctx.monotonic().since(t) < min)
    }

    /// RequestVote (and its PreVote form) arrived.
    pub(super) fn request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        last_index: u64,
        last_term: u64,
        pre_vote: bool,
    ) {
        let current = ctx.durable().current_term();
        if pre_vote {
            let granted = term > current
                && !self.leader_is_fresh(ctx)
                && self.log_up_to_date(ctx, last_index, last_term);
            let reply_term = if granted { term } else { current };
            ctx.send(
                from,
                Msg::RequestVoteResponse {
                    term: reply_term,
                    granted,
                    pre_vote: true,
                },
            );
            return;
        }
        if term > current && self.leader_is_fresh(ctx) {
            // Ignore: a current leader exists; do not even adopt the term (thesis §4.2.3).
            ctx.send(
                from,
                Msg::RequestVoteResponse {
                    term: current,
                    granted: false,
                    pre_vote: false,
                },
            );
            return;
        }
        if term > current {
            self.become_follower(ctx, term);
        }
        let d = ctx.durable();
        let granted = term == d.current_term()
            && d.voted_for().is_none_or(|v| v == from)
            && self.log_up_to_date(ctx, last_index, last_term);
        if granted {
            if self.fresh_from_restart {
                ctx.reached(RaftReach::VotedAfterRestart);
            }
            ctx.durable_mut().vote(from); // persisted before the answer leaves
            self.reset_election_timer(ctx);
        }
        let term = ctx.durable().current_term();
        ctx.send(
            from,
            Msg::RequestVoteResponse {
                term,
                granted,
                pre_vote: false,
            },
        );
    }

    /// A vote (or pre-vote) came back.
    pub(super) fn request_vote_response(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        term: u64,
        granted: bool,
        pre_vote: bool,
    ) {
        let current = ctx.durable().current_term();
        if !pre_vote && term < current {
            ctx.reached(RaftReach::StaleVoteReply);
        }
        if term > current && !(pre_vote && granted) {
            self.become_follower(ctx, term);
            return;
        }
        if !granted {
            return;
        }
        match (self.role, pre_vote) {
            (Role::PreCandidate, true) if term == current + 1 => {
                self.votes.insert(from.0);
                if self.has_majority(ctx) {
                    self.become_candidate(ctx);
                }
            }
            // A grant from an earlier term was a vote for an earlier candidacy: it says
            // nothing about this one (bug knob `count_stale_votes` counts it anyway).
            (Role::Candidate, false)
                if term == current || (ctx.config().count_stale_votes && term < current) =>
            {
                self.votes.insert(from.0);
                if self.has_majority(ctx) {
                    self.become_leader(ctx);
                }
            }
            _ => {}
        }
    }
}
