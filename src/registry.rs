//! Which protocols scenario files can name, and how to reach the generic code for one.
//!
//! Everything that runs a scenario is generic over [`protocols::Protocol`]; the CLI knows
//! a protocol only by the name in the file. [`with_protocol`] turns the name into the type
//! by calling a [`Visit`] with it. Adding a protocol is one line in the `registry!` list
//! at the bottom of this file.

use protocols::{CheckKind, Protocol};

/// Code that is generic over the protocol: `with_protocol` calls `visit::<P>()` with the
/// protocol the scenario names.
pub trait Visit {
    type Output;
    fn visit<P: Protocol>(self) -> Self::Output;
}

/// A protocol as `faultline list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub name: &'static str,
    pub summary: &'static str,
    /// The largest cluster it supports ([`Protocol::MAX_NODES`]).
    pub max_nodes: usize,
    /// `(name, mistake, caught by)`
    pub knobs: Vec<(&'static str, &'static str, &'static str)>,
    /// `(name, kind, promise)`
    pub checks: Vec<(&'static str, CheckKind, &'static str)>,
    /// The default config, as `Debug` prints it.
    pub config: String,
    /// Its sometimes-properties ([`Protocol::sometimes`]).
    pub sometimes: &'static [protocols::Sometimes],
}

impl Info {
    pub fn of<P: Protocol>() -> Info {
        Info {
            name: P::NAME,
            summary: P::SUMMARY,
            max_nodes: P::MAX_NODES,
            knobs: P::knobs()
                .iter()
                .map(|k| (k.name, k.mistake, k.caught_by))
                .collect(),
            checks: P::checks()
                .iter()
                .map(|c| (c.name, c.kind, c.promise))
                .collect(),
            config: format!("{:#?}", P::Config::default()),
            sometimes: P::sometimes(),
        }
    }
}

macro_rules! registry {
    ($($protocol:ty),* $(,)?) => {
        /// The names scenario files may write in `protocol: (name: ...)`.
        pub fn names() -> Vec<&'static str> {
            vec![$(<$protocol as Protocol>::NAME),*]
        }

        /// Calls `v.visit::<P>()` for the protocol called `name`; `None` if there is none.
        pub fn with_protocol<V: Visit>(name: &str, v: V) -> Option<V::Output> {
            $(
                if name == <$protocol as Protocol>::NAME {
                    return Some(v.visit::<$protocol>());
                }
            )*
            let _ = v;
            None
        }

        /// The sometimes-properties of the protocol called `name`; `None` if there is none.
        pub fn sometimes(name: &str) -> Option<&'static [protocols::Sometimes]> {
            $(
                if name == <$protocol as Protocol>::NAME {
                    return Some(<$protocol as Protocol>::sometimes());
                }
            )*
            None
        }

        /// Every protocol, for `faultline list`.
        pub fn infos() -> Vec<Info> {
            vec![$(Info::of::<$protocol>()),*]
        }
    };
}

// One line per protocol.
registry! {
    protocols::PingstormProtocol,
    protocols::raft::RaftProtocol,
    protocols::election::BullyProtocol,
    protocols::election::LeaseProtocol,
    protocols::twopc::TwopcProtocol,
    protocols::gossip::GossipProtocol,
    protocols::paxos::PaxosProtocol,
    protocols::multipaxos::MultiPaxosProtocol,
    protocols::saga::SagaProtocol,
}
