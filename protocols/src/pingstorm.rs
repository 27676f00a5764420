//! # pingstorm: the engine's smoke test and benchmark workload
//!
//! Not a protocol from a paper: a storm of messages that exercises exactly the engine's hot
//! path. Each of N nodes, when it starts, sends `fanout` messages (K = 4 by default) with a
//! 64-byte payload to peers drawn uniformly from its own random stream. Every delivered
//! message makes the receiver send one new message to a random peer, so the number of
//! messages in flight stays at N * K forever (minus losses) and the run is bounded only by
//! its limits. With latency uniform in 1-10 ms, the trace shows the network's reordering.
//!
//! There is nothing to get wrong here, so there are no bug knobs and no invariants; what
//! it checks is the engine itself (determinism, fault semantics) and its speed.

use serde::{Deserialize, Serialize};
use sim_core::{Ctx, NodeId, Process};
use std::fmt;

crate::documented! {
    /// How many messages each node starts with, and whether restarted nodes start again.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct PingstormConfig {
        /// Messages each node sends when it starts (K).
        pub fanout: u32,
    }
}

impl Default for PingstormConfig {
    fn default() -> Self {
        PingstormConfig { fanout: 4 }
    }
}

crate::sometimes! {
    /// What a run of the storm reaches.
    pub enum PingReach {
        Restarted => "node-restarted",
            "a crashed node restarted from its durable start count and sent a new storm";
        LongPath => "long-path",
            "a ping was relayed 100 times (LONG_PATH_HOPS) without being lost";
    }
}

/// The hops after which a ping's path counts as long ([`PingReach::LongPath`]).
pub const LONG_PATH_HOPS: u32 = 100;

/// One storm message: where it came from, how many hops it has made, and 64 bytes of load.
#[derive(Clone, PartialEq, Eq)]
pub struct Ping {
    pub origin: NodeId,
    pub hops: u32,
    pub payload: [u8; 64],
}

impl fmt::Debug for Ping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ping{{origin: {}, hops: {}}}",
            self.origin.0 + 1,
            self.hops
        )
    }
}

/// A pingstorm node: it only counts what it saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pingstorm {
    pub received: u64,
}

/// What survives a crash: how many times this node has started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Starts(pub u32);

fn random_peer(ctx: &mut Ctx<'_, Pingstorm>) -> Option<NodeId> {
    let n = ctx.node_count() as u64;
    if n < 2 {
        return None;
    }
    // Uniform over the n - 1 others: draw in 0..n-1 and skip over ourselves.
    let me = u64::from(ctx.id().0);
    let r = ctx.rng().below(n - 1);
    Some(NodeId((if r >= me { r + 1 } else { r }) as u32))
}

impl Process for Pingstorm {
    type Config = PingstormConfig;
    type Msg = Ping;
    type Timer = ();
    type Durable = Starts;
    type Request = ();
    type Response = ();

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.durable_mut().0 += 1;
        let starts = ctx.durable().0;
        if ctx.restarted() {
            ctx.reached(PingReach::Restarted);
            ctx.note(format_args!("restarted, start #{starts}"));
        }
        for k in 0..ctx.config().fanout {
            if let Some(to) = random_peer(ctx) {
                let mut payload = [0u8; 64];
                payload[0] = k as u8;
                ctx.send(
                    to,
                    Ping {
                        origin: ctx.id(),
                        hops: 0,
                        payload,
                    },
                );
            }
        }
        Pingstorm::default()
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, msg: Ping) {
        self.received += 1;
        if msg.hops == LONG_PATH_HOPS {
            ctx.reached(PingReach::LongPath);
        }
        if let Some(to) = random_peer(ctx) {
            ctx.send(
                to,
                Ping {
                    origin: msg.origin,
                    hops: msg.hops + 1,
                    payload: msg.payload,
                },
            );
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, _timer: ()) {}
}
