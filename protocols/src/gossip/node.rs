//! A replica: the store it keeps (durable), client reads and writes, and anti-entropy.

use super::clock::{Dot, Stamp, VersionVector};
use super::store::{Dvv, Ghost, KeyState, Lww, Sibling, Summary, WriteId};
use super::{GossipConfig, GossipReach, LwwMode};
use sim_core::{ClientId, Ctx, Duration, Hlc, NodeId, Process, RequestId};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Messages between replicas: one push-pull exchange is `Digest` (A to B), `Reply` (B to
/// A: what A lacks, and which keys B wants), `Push` (A to B: those keys). Rumors are
/// `Push`es with hops left.
#[derive(Clone)]
pub enum Msg {
    /// Every key the sender holds and a summary of what it has seen of each. `repair`
    /// marks a read repair's one-key exchange.
    Digest {
        keys: Vec<(u32, Summary)>,
        repair: bool,
    },
    Reply {
        states: Vec<(u32, KeyState)>,
        want: Vec<u32>,
        repair: bool,
    },
    /// States to merge; a receiver that learns something forwards it while `hops` > 0.
    Push {
        states: Vec<(u32, KeyState)>,
        hops: u32,
    },
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |ks: &mut dyn Iterator<Item = u32>| {
            ks.map(|k| format!("k{}", k + 1))
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Msg::Digest { keys: ks, repair } => {
                let tag = if *repair { "RepairDigest" } else { "Digest" };
                write!(f, "{tag} [{}]", keys(&mut ks.iter().map(|k| k.0)))
            }
            Msg::Reply {
                states,
                want,
                repair,
            } => {
                let tag = if *repair { "RepairReply" } else { "Reply" };
                write!(
                    f,
                    "{tag} send=[{}] want=[{}]",
                    keys(&mut states.iter().map(|s| s.0)),
                    keys(&mut want.iter().copied())
                )
            }
            Msg::Push { states, hops } => write!(
                f,
                "Push [{}] hops={hops}",
                keys(&mut states.iter().map(|s| s.0))
            ),
        }
    }
}

/// A client's request.
#[derive(Clone)]
pub enum Request {
    /// Read a key. With session guarantees on, `min` is what the client's session has
    /// seen of it: a replica that has not seen that much answers `Behind`.
    Get { key: u32, min: Option<Summary> },
    /// Write a key with the causal context of the client's last read of it (`None`: a
    /// blind write). `covers` is ghost data (what the client read), for the checker only.
    Put {
        key: u32,
        id: WriteId,
        ctx: Option<Summary>,
        covers: Ghost,
    },
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Get { key, .. } => write!(f, "get k{}", key + 1),
            Request::Put { key, id, ctx, .. } => match ctx {
                Some(c) => write!(f, "put k{} {id:?} ctx={c:?}", key + 1),
                None => write!(f, "put k{} {id:?}", key + 1),
            },
        }
    }
}

/// A replica's answer.
#[derive(Clone)]
pub enum Response {
    /// Every sibling and their joint causal context (`None`: the key was never written).
    Read {
        values: Vec<WriteId>,
        ctx: Option<Summary>,
    },
    /// The write is stored here; `seen` names it (its dot as a vector, or its stamp) for
    /// the client's session.
    Written { seen: Summary },
    /// This replica has not yet seen what the client's session has: ask another.
    Behind,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Read { values, .. } => write!(f, "Read {values:?}"),
            Response::Written { seen } => write!(f, "Written {seen:?}"),
            Response::Behind => write!(f, "Behind"),
        }
    }
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Time for an anti-entropy round.
    Gossip,
}

/// What a replica keeps on disk: every key's state. It survives crashes, so a restarted
/// replica serves what it had and catches up by gossip.
#[derive(Debug, Default)]
pub struct Store {
    /// Each key's state and its fingerprint.
    keys: BTreeMap<u32, (KeyState, u64)>,
    hlc: Hlc,
    /// Writes this replica coordinated (numbers its own writes in lww mode).
    writes: u32,
    /// Bumped on every change, so checkers can skip replicas that did not change.
    changes: u64,
    /// Per client: the highest operation number written through this replica. A request
    /// the network delivers twice, or late, is applied once.
    client_seq: BTreeMap<u32, u32>,
    /// Ghost: the last write this replica coordinated and accepted, for the checker
    /// (a last-writer-wins write can be discarded the moment it arrives).
    last_write: Option<(u32, Sibling, Option<Stamp>)>,
}

impl Store {
    pub fn get(&self, key: u32) -> Option<&KeyState> {
        self.keys.get(&key).map(|e| &e.0)
    }

    /// Every key with its state and fingerprint.
    pub fn keys(&self) -> impl Iterator<Item = (u32, &KeyState, u64)> {
        self.keys.iter().map(|(k, (s, fp))| (*k, s, *fp))
    }

    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The last write this replica coordinated: key, the write, its stamp (lww).
    pub fn last_write(&self) -> Option<(u32, &Sibling, Option<Stamp>)> {
        self.last_write.as_ref().map(|(k, s, t)| (*k, s, *t))
    }

    /// The hybrid logical clock (hlc mode).
    pub fn hlc(&self) -> Hlc {
        self.hlc
    }

    fn put(&mut self, key: u32, state: KeyState) {
        let fp = state.fingerprint();
        self.keys.insert(key, (state, fp));
        self.changes += 1;
    }

    fn summary_or_empty(&self, key: u32, lww: LwwMode) -> Summary {
        match self.get(key) {
            Some(s) => s.summary(),
            None if lww == LwwMode::Off => Summary::Vv(VersionVector::new()),
            None => Summary::Stamp(Stamp::default()),
        }
    }
}

/// A replica's volatile state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The `gossip_same_peer` bug: the partners drawn in the first round, kept for good.
    fixed_peers: Vec<NodeId>,
}

impl Node {
    /// `fanout` distinct random peers (the node's RNG), for a gossip round, a rumor or a
    /// read repair.
    fn pick_peers(&mut self, ctx: &mut Ctx<'_, Self>) -> Vec<NodeId> {
        if ctx.config().gossip_same_peer && !self.fixed_peers.is_empty() {
            return self.fixed_peers.clone();
        }
        let peers = random_peers(ctx, ctx.config().fanout as usize);
        if ctx.config().gossip_same_peer {
            self.fixed_peers = peers.clone();
        }
        peers
    }

    /// An anti-entropy round: a digest of every key to each partner.
    fn gossip_round(&mut self, ctx: &mut Ctx<'_, Self>) {
        let peers = self.pick_peers(ctx);
        if !peers.is_empty() {
            let keys: Vec<(u32, Summary)> = ctx
                .durable()
                .keys()
                .map(|(k, s, _)| (k, s.summary()))
                .collect();
            for p in peers {
                ctx.send(
                    p,
                    Msg::Digest {
                        keys: keys.clone(),
                        repair: false,
                    },
                );
            }
        }
        let every = ctx.config().gossip_interval;
        ctx.set_timer(every, Timer::Gossip);
    }

    /// B's half of push-pull: send A what it lacks, ask for what B lacks.
    fn on_digest(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        keys: Vec<(u32, Summary)>,
        repair: bool,
    ) {
        let store = ctx.durable();
        let mut states = Vec::new();
        let mut want = Vec::new();
        for (k, theirs) in &keys {
            match store.get(*k) {
                Some(mine) => {
                    if mine.news_for(theirs) {
                        states.push((*k, mine.clone()));
                    }
                    if !mine.summary().covers(theirs) {
                        want.push(*k);
                    }
                }
                None => want.push(*k),
            }
        }
        if !repair {
            // Keys the other side has never heard of.
            let mut i = 0;
            for (k, mine, _) in store.keys() {
                while i < keys.len() && keys[i].0 < k {
                    i += 1;
                }
                if i >= keys.len() || keys[i].0 != k {
                    states.push((k, mine.clone()));
                }
            }
            states.sort_by_key(|s| s.0);
        }
        if !states.is_empty() || !want.is_empty() {
            ctx.send(
                from,
                Msg::Reply {
                    states,
                    want,
                    repair,
                },
            );
        }
    }

    /// A's second half: merge what B sent, push what B wants.
    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        states: Vec<(u32, KeyState)>,
        want: Vec<u32>,
        repair: bool,
    ) {
        for (k, s) in &states {
            self.merge_key(ctx, from, *k, s, repair);
        }
        let push: Vec<(u32, KeyState)> = want
            .iter()
            .filter_map(|k| ctx.durable().get(*k).map(|s| (*k, s.clone())))
            .collect();
        if !push.is_empty() {
            ctx.send(
                from,
                Msg::Push {
                    states: push,
                    hops: 0,
                },
            );
        }
    }

    fn on_push(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        states: Vec<(u32, KeyState)>,
        hops: u32,
    ) {
        let mut news = Vec::new();
        for (k, s) in &states {
            if self.merge_key(ctx, from, *k, s, false) && hops > 0 {
                news.push(*k);
            }
        }
        if !news.is_empty() {
            self.spread_rumor(ctx, &news, hops - 1);
        }
    }

    /// Rumor mongering: push fresh keys to `fanout` random peers at once.
    fn spread_rumor(&mut self, ctx: &mut Ctx<'_, Self>, keys: &[u32], hops: u32) {
        let states: Vec<(u32, KeyState)> = keys
            .iter()
            .filter_map(|k| ctx.durable().get(*k).map(|s| (*k, s.clone())))
            .collect();
        for p in self.pick_peers(ctx) {
            ctx.send(
                p,
                Msg::Push {
                    states: states.clone(),
                    hops,
                },
            );
        }
    }

    /// Merges another replica's state of `key` into ours; true if ours changed.
    fn merge_key(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        key: u32,
        theirs: &KeyState,
        repair: bool,
    ) -> bool {
        let cfg = ctx.config();
        let (take_other, keep_one, hlc_mode) = (
            cfg.merge_takes_one_side,
            repair && cfg.read_repair_keeps_one,
            cfg.lww == LwwMode::Hlc,
        );
        let now = ctx.wall_clock();
        let store = ctx.durable_mut();
        let before = store.get(key).map(KeyState::sibling_count);
        let merged = match (store.get(key), theirs) {
            (None, t) => Some(t.clone()),
            (Some(KeyState::Dvv(mine)), KeyState::Dvv(t)) => {
                let mut m = mine.clone();
                let changed = m.merge(t, take_other);
                changed.then_some(KeyState::Dvv(m))
            }
            (Some(KeyState::Lww(mine)), KeyState::Lww(t)) => {
                t.beats(mine).then(|| KeyState::Lww(t.clone()))
            }
            _ => None, // the other replica runs another mode: a config error, ignored
        };
        if hlc_mode {
            if let KeyState::Lww(t) = theirs {
                let h = store.hlc;
                if (t.stamp.wall, t.stamp.logical) > (h.wall, h.logical) {
                    store.hlc.observe(
                        Hlc {
                            wall: t.stamp.wall,
                            logical: t.stamp.logical,
                        },
                        now,
                    );
                }
            }
        }
        let Some(mut merged) = merged else {
            return false;
        };
        let mut dropped = Vec::new();
        if keep_one {
            // The bug: a read repair that "resolves" siblings by keeping the first.
            if let KeyState::Dvv(d) = &mut merged {
                if d.sibs.len() > 1 {
                    dropped = d.sibs.split_off(1).into_iter().map(|s| s.id).collect();
                }
            }
        }
        store.put(key, merged);
        let after = store.get(key).expect("just put");
        let count = after.sibling_count();
        if count > 1 && before.is_some() {
            ctx.reached(GossipReach::ConflictMerged);
        }
        if count == 1 && before > Some(1) {
            ctx.reached(GossipReach::SiblingsResolved);
        }
        if repair {
            ctx.reached(GossipReach::RepairMerged);
        }
        if ctx.tracing() && (before != Some(count) && (count > 1 || before > Some(1))) {
            let ids = ctx.durable().get(key).expect("just put").ids();
            let who = ctx.name_of(from).to_string();
            ctx.note(format_args!(
                "k{} siblings={ids:?} (merged from {who})",
                key + 1
            ));
        }
        if !dropped.is_empty() && ctx.tracing() {
            ctx.note(format_args!(
                "k{} read repair kept one sibling, dropped {dropped:?}",
                key + 1
            ));
        }
        true
    }

    fn client_get(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        key: u32,
        min: Option<Summary>,
    ) {
        let lww = ctx.config().lww;
        let summary = ctx.durable().summary_or_empty(key, lww);
        let behind = ctx.config().sessions && min.as_ref().is_some_and(|m| !summary.covers(m));
        if behind {
            ctx.reached(GossipReach::ReadBehind);
            ctx.reply(client, id, Response::Behind);
        } else {
            let (values, c) = match ctx.durable().get(key) {
                Some(s) => (s.ids(), Some(s.summary())),
                None => (Vec::new(), None),
            };
            ctx.reply(client, id, Response::Read { values, ctx: c });
        }
        if ctx.config().read_repair {
            for p in self.pick_peers(ctx) {
                ctx.send(
                    p,
                    Msg::Digest {
                        keys: vec![(key, summary.clone())],
                        repair: true,
                    },
                );
            }
        }
    }

    /// A write coordinated here: a new dot (vectors) or a new stamp (lww).
    fn coordinate_write(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        key: u32,
        wid: WriteId,
        context: Option<Summary>,
        covers: Ghost,
    ) -> Summary {
        let me = ctx.id().0;
        let lww = ctx.config().lww;
        let now = ctx.wall_clock();
        let tracing = ctx.tracing();
        let before = ctx.durable().get(key).map_or(0, KeyState::sibling_count);
        let store = ctx.durable_mut();
        store.writes += 1;
        let seen;
        let mut lost_to = None;
        match lww {
            LwwMode::Off => {
                let ctx_vv = match context {
                    Some(Summary::Vv(v)) => v,
                    _ => VersionVector::new(),
                };
                let mut d = match store.get(key) {
                    Some(KeyState::Dvv(d)) => d.clone(),
                    _ => Dvv::default(),
                };
                let dot = d.write(me, &ctx_vv, wid, covers.clone());
                seen = Summary::Vv(VersionVector::from_entries([(dot.node, dot.counter)]));
                store.last_write = Some((
                    key,
                    Sibling {
                        dot,
                        id: wid,
                        covers,
                    },
                    None,
                ));
                store.put(key, KeyState::Dvv(d));
            }
            LwwMode::Wall | LwwMode::Hlc => {
                let stamp = if lww == LwwMode::Wall {
                    Stamp {
                        wall: now.as_nanos(),
                        logical: 0,
                        node: me,
                    }
                } else {
                    let h = match context {
                        Some(Summary::Stamp(s)) => store.hlc.observe(
                            Hlc {
                                wall: s.wall,
                                logical: s.logical,
                            },
                            now,
                        ),
                        _ => store.hlc.tick(now),
                    };
                    Stamp {
                        wall: h.wall,
                        logical: h.logical,
                        node: me,
                    }
                };
                let sib = Sibling {
                    dot: Dot {
                        node: me,
                        counter: store.writes,
                    },
                    id: wid,
                    covers,
                };
                let new = Lww { stamp, sib };
                store.last_write = Some((key, new.sib.clone(), Some(stamp)));
                match store.get(key) {
                    Some(KeyState::Lww(cur)) if cur.beats(&new) => {
                        lost_to = Some((cur.sib.id, cur.stamp));
                        store.changes += 1;
                    }
                    _ => store.put(key, KeyState::Lww(new)),
                }
                seen = Summary::Stamp(stamp);
            }
        }
        if lost_to.is_some() {
            ctx.reached(GossipReach::LwwWriteLost);
        }
        if before > 1 && ctx.durable().get(key).map_or(0, KeyState::sibling_count) == 1 {
            ctx.reached(GossipReach::SiblingsResolved);
        }
        if tracing {
            let count = ctx.durable().get(key).map_or(0, KeyState::sibling_count);
            match lost_to {
                Some((winner, at)) => ctx.note(format_args!(
                    "k{} write {wid:?} stamped {seen:?} loses at once to {winner:?} stamped {at:?}",
                    key + 1
                )),
                None if count > 1 => {
                    let ids = ctx.durable().get(key).expect("written").ids();
                    ctx.note(format_args!("k{} write {wid:?} siblings={ids:?}", key + 1));
                }
                None => ctx.note(format_args!("k{} write {wid:?} {seen:?}", key + 1)),
            }
        }
        seen
    }
}

/// `k` distinct peers drawn from the node's RNG (fewer if the cluster is smaller).
fn random_peers(ctx: &mut Ctx<'_, Node>, k: usize) -> Vec<NodeId> {
    let n = ctx.node_count();
    let me = ctx.id().0 as u64;
    let k = k.min(n.saturating_sub(1));
    let mut out: Vec<NodeId> = Vec::with_capacity(k);
    while out.len() < k {
        let r = ctx.rng().below(n as u64 - 1);
        let p = NodeId(if r >= me { r + 1 } else { r } as u32);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

impl Process for Node {
    type Config = GossipConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = Store;
    type Request = Request;
    type Response = Response;

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        let mut node = Node {
            fixed_peers: Vec::new(),
        };
        // The first round at a random point of the interval, so replicas do not gossip
        // in lockstep.
        let every = ctx.config().gossip_interval.as_nanos().max(1);
        let first = Duration::from_nanos(1 + ctx.rng().below(every));
        ctx.set_timer(first, Timer::Gossip);
        if ctx.restarted() {
            let keys = ctx.durable().keys.len();
            if keys > 0 {
                ctx.reached(GossipReach::RestartedWithKeys);
            }
            ctx.note(format_args!("restarted with {keys} keys"));
        } else if ctx.config().write_at_start {
            let me = ctx.id().0;
            node.coordinate_write(ctx, 0, WriteId::node(me, 1), None, Arc::from(Vec::new()));
        }
        node
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Digest { keys, repair } => self.on_digest(ctx, from, keys, repair),
            Msg::Reply {
                states,
                want,
                repair,
            } => self.on_reply(ctx, from, states, want, repair),
            Msg::Push { states, hops } => self.on_push(ctx, from, states, hops),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Gossip => self.gossip_round(ctx),
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        request: Request,
    ) {
        match request {
            Request::Get { key, min } => self.client_get(ctx, client, id, key, min),
            Request::Put {
                key,
                id: wid,
                ctx: context,
                covers,
            } => {
                let (who, seq) = wid.client_seq();
                let last = ctx.durable_mut().client_seq.entry(who).or_insert(0);
                if seq <= *last {
                    return; // a duplicate: the first copy was written and answered
                }
                *last = seq;
                let seen = self.coordinate_write(ctx, key, wid, context, covers);
                ctx.reply(client, id, Response::Written { seen });
                let hops = ctx.config().rumor_hops;
                if hops > 0 {
                    self.spread_rumor(ctx, &[key], hops - 1);
                }
            }
        }
    }
}
