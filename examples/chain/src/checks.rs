//! The chain's invariant, watched after every event.

use crate::node::{Entry, Node};
use faultline::sim_core::{Checker, NodeId, View};

/// `chain-prefix`: each replica's log is a prefix of its predecessor's (the paper's
/// Update Propagation Invariant, §3). Logs are durable, so a crashed replica counts too.
pub struct ChainPrefix;

impl Checker<Node> for ChainPrefix {
    fn name(&self) -> &str {
        "chain-prefix"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        // Only the pairs this node is part of can have changed.
        let first = node.0.saturating_sub(1);
        let last = (node.0 + 1).min(view.node_count() as u32 - 1);
        let logs: Vec<(&str, &[Entry])> = (first..=last)
            .map(|i| (view.name(NodeId(i)), view.durable(NodeId(i)).log.as_slice()))
            .collect();
        prefix_violation(&logs).map_or(Ok(()), Err)
    }
}

/// The first pair of neighbours `(name, log)` in chain order whose successor's log is not
/// a prefix of its predecessor's, said plainly; `None` if every one is.
pub fn prefix_violation(chain: &[(&str, &[Entry])]) -> Option<String> {
    for pair in chain.windows(2) {
        let ((p, before), (s, after)) = (pair[0], pair[1]);
        if let Some(i) = (0..after.len()).find(|&i| before.get(i) != Some(&after[i])) {
            let theirs = before
                .get(i)
                .map_or("nothing".to_string(), |e| format!("{:?}", e.request));
            return Some(format!(
                "{s}'s update #{i} is {:?} but its predecessor {p} has {theirs} there: {s} holds an update out of the chain's order",
                after[i].request
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline::protocols::kv::{KvOp, KvRequest};
    use faultline::sim_core::{ClientId, RequestId};

    fn put(seq: u64, value: &str) -> Entry {
        Entry {
            id: RequestId(seq),
            request: KvRequest {
                client: ClientId(0),
                seq,
                op: KvOp::Put {
                    key: "k1".into(),
                    value: value.into(),
                },
            },
        }
    }

    // Chain replication §3, Update Propagation Invariant: Hist(j) is a prefix of Hist(i)
    // for i before j. The check must fail on a successor that skipped an update.
    #[test]
    fn chain_3_update_propagation_a_gap_is_a_violation() {
        let head = [put(1, "a"), put(2, "b"), put(3, "c")];
        let middle = [put(1, "a"), put(3, "c")];
        let tail = [put(1, "a")];
        let chain = [("n1", &head[..]), ("n2", &middle[..]), ("n3", &tail[..])];
        let message = prefix_violation(&chain).expect("a gap breaks the prefix");
        assert!(
            message.starts_with("n2's update #1 is c1#3 put k1 \"c\""),
            "{message}"
        );
        assert!(message.contains("n1 has c1#2 put k1 \"b\""), "{message}");
    }

    #[test]
    fn chain_3_update_propagation_a_lagging_successor_is_fine() {
        let head = [put(1, "a"), put(2, "b")];
        let middle = [put(1, "a")];
        let chain = [("n1", &head[..]), ("n2", &middle[..]), ("n3", &[][..])];
        assert_eq!(prefix_violation(&chain), None);
    }

    #[test]
    fn chain_3_update_propagation_a_successor_ahead_is_a_violation() {
        let head = [put(1, "a")];
        let tail = [put(1, "a"), put(2, "b")];
        let message = prefix_violation(&[("n1", &head[..]), ("n2", &tail[..])]).unwrap();
        assert!(message.contains("n1 has nothing there"), "{message}");
    }
}
