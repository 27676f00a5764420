//! The shared resource: a storage node holding one register that leaders write to.
//!
//! It stands for whatever the leader is in charge of: a file on shared storage, a row in a
//! database, the lock-protected thing in Kleppmann's example. Each write carries the
//! writer's generation (its *fencing token*). With `fencing` on, the store remembers the
//! highest generation it has accepted (the fence) and refuses anything older, answering
//! `Fenced` so the stale leader learns it has been replaced. With `fencing` off it accepts
//! everything, and a write from a deposed leader silently overwrites the new leader's value:
//! a lost update, which the `fencing` check reports.
//!
//! The store keeps its register on disk (in the node's durable storage), so a crash of the
//! store loses nothing, and in particular not the fence.

use sim_core::{Ctx, NodeId, Process};
use std::fmt;

/// A generation (an epoch, a term, a fencing token): larger means a later election.
///
/// A counter, and for protocols whose elections need no quorum (bully) the elected node as
/// a tiebreak: ordered by counter, then node. Two bully coordinators can pick the same
/// counter (the two sides of a partition; a coordinator that restarts while another took
/// over), but never the same generation: generations are unique per leader, and a node
/// persists the counter it takes before it leads, so it never takes one twice. Lease
/// generations are counters alone; their quorums make them unique. Printed `2` (counter
/// alone) or `2/n5` (counter 2, node n5 by its default name).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gen {
    /// The election counter: one above the highest the winner has seen.
    pub counter: u64,
    /// Who was elected, where the protocol stamps it (bully).
    pub node: Option<NodeId>,
}

impl Gen {
    /// The generation before every election.
    pub const ZERO: Gen = Gen {
        counter: 0,
        node: None,
    };

    /// The next generation after `seen`, the highest the winner has seen, for `node`.
    pub fn next(seen: Gen, node: Option<NodeId>) -> Gen {
        Gen {
            counter: seen.counter + 1,
            node,
        }
    }
}

/// As [`fmt::Display`]: `2` or `2/n5` (timers and states print it in traces).
impl fmt::Debug for Gen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Gen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(f, "{}/n{}", self.counter, n.0 + 1),
            None => write!(f, "{}", self.counter),
        }
    }
}

/// One write as the store sees it: who sent it, under which generation, and the writer's
/// sequence number (its `w<seq>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Written {
    pub writer: NodeId,
    pub generation: Gen,
    pub seq: u64,
}

/// Messages between a leader and the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreMsg {
    /// Leader -> store: write my value, under my generation.
    Write { generation: Gen, seq: u64 },
    /// Store -> leader: accepted.
    Ack { generation: Gen, seq: u64 },
    /// Store -> leader: refused, a newer generation `fence` has written already.
    Fenced {
        generation: Gen,
        seq: u64,
        fence: Gen,
    },
}

impl fmt::Debug for StoreMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreMsg::Write { generation, seq } => write!(f, "Write gen={generation} w{seq}"),
            StoreMsg::Ack { generation, seq } => write!(f, "WriteAck gen={generation} w{seq}"),
            StoreMsg::Fenced {
                generation,
                seq,
                fence,
            } => write!(f, "Fenced gen={generation} w{seq} fence={fence}"),
        }
    }
}

/// The store's disk: the register, the fence, and counters the `fencing` check reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StoreLog {
    /// The highest generation accepted so far.
    pub fence: Gen,
    /// The register's current value: the write that set it.
    pub value: Option<Written>,
    /// The most recently accepted write and the value it replaced.
    pub last: Option<(Written, Option<Written>)>,
    /// How many writes were accepted.
    pub accepted: u64,
    /// How many writes were refused (fencing on only).
    pub refused: u64,
}

/// What the store did with a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted { replaced: Option<Written> },
    Refused { fence: Gen },
}

impl StoreLog {
    /// Applies a write. With `fencing`, a generation below the fence (the highest
    /// accepted) is refused; generations are unique per leader, so an equal one is the
    /// same leader's.
    pub fn apply(&mut self, w: Written, fencing: bool) -> Verdict {
        if fencing && w.generation < self.fence {
            self.refused += 1;
            return Verdict::Refused { fence: self.fence };
        }
        let replaced = self.value.replace(w);
        self.fence = self.fence.max(w.generation);
        self.last = Some((w, replaced));
        self.accepted += 1;
        Verdict::Accepted { replaced }
    }
}

/// The store's handler for a `Write`: applies it, notes what happened in words, and returns
/// the reply to send back to the writer.
/// The store node's whole message handling, shared by every election protocol: apply a
/// write to the durable log (fenced or not) and answer the writer. `log` picks the log out
/// of the protocol's durable state; `wrap` puts the answer in the protocol's message type.
///
/// `reach` names the protocol's sometimes-properties for what the store sees.
pub(crate) fn serve<P: Process>(
    ctx: &mut Ctx<'_, P>,
    from: NodeId,
    msg: StoreMsg,
    log: fn(&mut P::Durable) -> &mut StoreLog,
    wrap: fn(StoreMsg) -> P::Msg,
    fencing: bool,
    reach: StoreReach,
) {
    if let StoreMsg::Write { generation, seq } = msg {
        let mut taken = std::mem::take(log(ctx.durable_mut()));
        let reply = on_write(ctx, &mut taken, fencing, from, generation, seq);
        match &reply {
            StoreMsg::Fenced { .. } => ctx.reached(reach.fenced),
            StoreMsg::Ack { .. }
                if taken
                    .last
                    .is_some_and(|(w, old)| old.is_some_and(|o| o.generation > w.generation)) =>
            {
                ctx.reached(reach.lost_update)
            }
            _ => {}
        }
        *log(ctx.durable_mut()) = taken;
        ctx.send(from, wrap(reply));
    }
}

/// The sometimes-properties (indices) of a protocol with a store: a stale leader's write
/// refused by the fence, and one accepted over a newer generation's (a lost update).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreReach {
    pub fenced: usize,
    pub lost_update: usize,
}

pub(crate) fn on_write<P: Process>(
    ctx: &mut Ctx<'_, P>,
    log: &mut StoreLog,
    fencing: bool,
    from: NodeId,
    generation: Gen,
    seq: u64,
) -> StoreMsg {
    let w = Written {
        writer: from,
        generation,
        seq,
    };
    match log.apply(w, fencing) {
        Verdict::Refused { fence } => {
            if ctx.tracing() {
                let note = format!(
                    "store REFUSED {}'s write w{seq}: fencing token gen {generation} < fence {fence} (a deposed leader, stopped)",
                    ctx.name_of(from)
                );
                ctx.note(note);
            }
            StoreMsg::Fenced {
                generation,
                seq,
                fence,
            }
        }
        Verdict::Accepted { replaced } => {
            if ctx.tracing() {
                let who = ctx.name_of(from).to_string();
                let note = match replaced {
                    Some(old) if old.generation > generation => format!(
                        "store accepted {who}'s write w{seq} gen {generation}, overwriting {}'s w{} from newer gen {}: LOST UPDATE",
                        ctx.name_of(old.writer),
                        old.seq,
                        old.generation
                    ),
                    _ => format!("store accepted {who}'s write w{seq} gen {generation}"),
                };
                ctx.note(note);
            }
            StoreMsg::Ack { generation, seq }
        }
    }
}

/// A leader's side of writing: each write is checked against the leader's belief when it
/// starts and sent when its work is done, `write_work` later. That gap is real in every
/// system (a read-modify-write, a network hop, a GC pause) and is where a stale leader's
/// write comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Writer {
    next_seq: u64,
}

impl Writer {
    /// Starts a write and returns its sequence number.
    pub fn begin(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// How many writes were begun.
    pub fn begun(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(writer: u32, counter: u64, seq: u64) -> Written {
        Written {
            writer: NodeId(writer),
            generation: Gen {
                counter,
                node: Some(NodeId(writer)),
            },
            seq,
        }
    }

    #[test]
    fn fenced_store_refuses_older_generations() {
        let mut log = StoreLog::default();
        assert!(matches!(
            log.apply(w(0, 1, 1), true),
            Verdict::Accepted { replaced: None }
        ));
        assert!(matches!(
            log.apply(w(2, 2, 1), true),
            Verdict::Accepted { .. }
        ));
        assert_eq!(
            log.apply(w(0, 1, 2), true),
            Verdict::Refused {
                fence: w(2, 2, 1).generation
            }
        );
        // Same counter, lower node: a different, older leader, refused too.
        assert!(matches!(
            log.apply(w(1, 2, 1), true),
            Verdict::Refused { .. }
        ));
        assert_eq!(
            log.value,
            Some(w(2, 2, 1)),
            "the newer leader's value survives"
        );
        assert_eq!((log.accepted, log.refused), (2, 2));
    }

    #[test]
    fn unfenced_store_loses_the_newer_update() {
        let mut log = StoreLog::default();
        log.apply(w(2, 2, 1), false);
        let v = log.apply(w(0, 1, 7), false);
        assert_eq!(
            v,
            Verdict::Accepted {
                replaced: Some(w(2, 2, 1))
            }
        );
        assert_eq!(
            log.value,
            Some(w(0, 1, 7)),
            "the stale write won: n3's update is lost"
        );
        assert_eq!(log.fence, w(2, 2, 1).generation);
    }
}
