//! A client workload as a scenario describes it, shared by every protocol whose clients
//! read and write keys (Raft, Multi-Paxos, gossip ...). Each protocol's client turns it into
//! requests; the history it records is what the linearizability checker judges.

use serde::{Deserialize, Serialize};
use sim_core::Duration;

crate::documented! {
    /// What the clients do.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct Workload {
        /// How many clients (`c1..cN`).
        pub clients: u32,
        /// Operations each client performs, one at a time; 0 = until the run ends.
        pub ops_per_client: u32,
        /// Keys the operations are spread over (`"k1".."kN"`).
        pub keys: u32,
        /// Relative weights of the operation kinds.
        pub mix: OpMix,
        /// Pause between one operation's completion and the next invoke: at least this ...
        pub think_min: Duration,
        /// ... and at most this.
        pub think_max: Duration,
        /// How long a client waits for an answer before it gives up (the outcome is then
        /// unknown: `info`).
        pub timeout: Duration,
        /// When the clients start.
        pub start: Duration,
    }
}

/// Relative weights of operation kinds (0 = never).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpMix {
    pub read: u32,
    pub write: u32,
    pub cas: u32,
    pub append: u32,
}

impl Default for OpMix {
    fn default() -> Self {
        OpMix {
            read: 2,
            write: 2,
            cas: 1,
            append: 0,
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: 0,
            ops_per_client: 0,
            keys: 1,
            mix: OpMix::default(),
            think_min: Duration::from_millis(10),
            think_max: Duration::from_millis(50),
            timeout: Duration::from_millis(500),
            start: Duration::ZERO,
        }
    }
}

impl Workload {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients > 0 && self.keys == 0 {
            return Err("workload keys is 0: expected at least one key".into());
        }
        if self.think_min > self.think_max {
            return Err(format!(
                "workload think_min {} is above think_max {}",
                self.think_min, self.think_max
            ));
        }
        if self.clients > 0 && self.timeout.is_zero() {
            return Err(
                "workload timeout is 0s: expected a positive duration such as \"500ms\"".into(),
            );
        }
        let m = &self.mix;
        if self.clients > 0 && m.read + m.write + m.cas + m.append == 0 {
            return Err(
                "workload mix is all zero: give at least one operation kind a weight".into(),
            );
        }
        Ok(())
    }
}
