//! The checks. They read every node's durable store (a crashed service's reservations
//! still exist), which no real node can.

use super::{HUB, LAST, Node, Phase, STEPS, SagaConfig, SagaId, Store, service_node, show_id};
use sim_core::{Checker, NodeId, View};
use std::collections::BTreeSet;

/// Builds the checker called `name`.
pub fn checker(name: &str, config: &SagaConfig) -> Option<Box<dyn Checker<Node>>> {
    let _ = config;
    Some(match name {
        "no-double-booking" => Box::new(NoDoubleBooking),
        "compensation-order" => Box::new(CompensationOrder),
        "semantic-atomicity" => Box::new(SemanticAtomicity),
        "no-lost-message" => Box::new(NoLostMessage),
        _ => return None,
    })
}

fn cluster_ok(view: &View<'_, Node>) -> Result<(), String> {
    if view.node_count() != 1 + STEPS.len() {
        return Err(format!(
            "saga needs 5 nodes, the cluster has {}",
            view.node_count()
        ));
    }
    Ok(())
}

/// Node 0's store: durable, or in memory with `orchestrator_in_memory` (then the durable
/// one stays empty, which is what is left of it while node 0 is down).
fn hub<'a>(view: &View<'a, Node>) -> &'a super::HubStore {
    let durable = &view.durable(HUB).hub;
    match view.node(HUB) {
        Some(Node::Hub(h)) => h.store(durable),
        _ => durable,
    }
}

fn store<'a>(view: &View<'a, Node>, step: usize) -> &'a Store {
    view.durable(service_node(step))
}

/// The step of a service node, if it is one.
fn step_of(node: NodeId) -> Option<usize> {
    (node != HUB && node.index() <= STEPS.len()).then(|| node.index() - 1)
}

struct NoDoubleBooking;

impl Checker<Node> for NoDoubleBooking {
    fn name(&self) -> &str {
        "no-double-booking"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster_ok(view)?;
        let Some(step) = step_of(node) else {
            return Ok(());
        };
        let held = &store(view, step).service.held;
        // A saga's reservations are pushed at the end: checking the newest is enough
        // after every event, but check all (held is small).
        let mut seen = BTreeSet::new();
        for &s in held {
            if !seen.insert(s) {
                return Err(format!(
                    "{} holds two reservations for saga s{s}",
                    view.name(node)
                ));
            }
        }
        Ok(())
    }
}

struct CompensationOrder;

impl Checker<Node> for CompensationOrder {
    fn name(&self) -> &str {
        "compensation-order"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster_ok(view)?;
        let Some(step) = step_of(node) else {
            return Ok(());
        };
        let holds = |j: usize, s: SagaId| store(view, j).service.held.contains(&s);
        // This service compensated s while a later step still holds it ...
        for (&s, &n) in &store(view, step).service.undone {
            if n > 1 {
                return Err(format!(
                    "{} compensated saga s{s} {n} times",
                    view.name(node)
                ));
            }
            if let Some(j) = (step + 1..=LAST).find(|&j| holds(j, s)) {
                return Err(format!(
                    "{} compensated saga s{s} while {} (a later step) still holds it",
                    view.name(node),
                    view.name(service_node(j))
                ));
            }
        }
        // ... or this service holds s though an earlier step has compensated it.
        for &s in &store(view, step).service.held {
            if let Some(i) = (0..step).find(|&i| store(view, i).service.undone.contains_key(&s)) {
                return Err(format!(
                    "{} compensated saga s{s} while {} (a later step) still holds it",
                    view.name(service_node(i)),
                    view.name(node)
                ));
            }
        }
        Ok(())
    }
}

struct SemanticAtomicity;

impl Checker<Node> for SemanticAtomicity {
    fn name(&self) -> &str {
        "semantic-atomicity"
    }

    fn after_event(&mut self, view: &View<'_, Node>, _: NodeId) -> Result<(), String> {
        cluster_ok(view)
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        cluster_ok(view)?;
        let mut sagas: BTreeSet<SagaId> = BTreeSet::new();
        for step in 0..=LAST {
            let st = &store(view, step).service;
            sagas.extend(st.held.iter().copied());
            sagas.extend(st.undone.keys().copied());
        }
        for &s in &sagas {
            let holding: Vec<&str> = (0..=LAST)
                .filter(|&j| store(view, j).service.held.contains(&s))
                .map(|j| view.name(service_node(j)))
                .collect();
            if !holding.is_empty() && holding.len() != STEPS.len() {
                return Err(format!(
                    "saga s{s} is half-way at the end: held at {} only",
                    holding.join(", ")
                ));
            }
        }
        let hub = hub(view);
        let stuck: Vec<String> = hub
            .sagas
            .iter()
            .filter(|(_, r)| !r.phase.ended())
            .map(|(s, r)| format!("s{s} ({:?})", r.phase))
            .collect();
        if !stuck.is_empty() {
            return Err(format!(
                "{} saga(s) stuck at the end: {}",
                stuck.len(),
                stuck.into_iter().take(5).collect::<Vec<_>>().join(", ")
            ));
        }
        for (s, r) in &hub.sagas {
            let holding = (0..=LAST)
                .filter(|&j| store(view, j).service.held.contains(s))
                .count();
            let ok = match r.phase {
                Phase::Done => holding == STEPS.len(),
                _ => holding == 0,
            };
            if !ok {
                return Err(format!(
                    "saga s{s} ended {:?} at {} but is held at {holding} of {} services",
                    r.phase,
                    view.name(HUB),
                    STEPS.len()
                ));
            }
        }
        Ok(())
    }
}

struct NoLostMessage;

impl Checker<Node> for NoLostMessage {
    fn name(&self) -> &str {
        "no-lost-message"
    }

    fn after_event(&mut self, view: &View<'_, Node>, _: NodeId) -> Result<(), String> {
        cluster_ok(view)
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        cluster_ok(view)?;
        let hub = hub(view);
        for step in 0..=LAST {
            for &id in &store(view, step).service.committed {
                if !hub.received.contains(&id) {
                    return Err(format!(
                        "{}'s event {} was committed but never reached {}",
                        view.name(service_node(step)),
                        show_id(id),
                        view.name(HUB)
                    ));
                }
            }
        }
        if let Some((&id, o)) = hub.out.iter().find(|(_, o)| !o.answered && !o.dead) {
            return Err(format!(
                "{}'s message {} to {} was never answered nor dead-lettered ({} attempt(s))",
                view.name(HUB),
                show_id(id),
                view.name(o.to),
                o.attempts
            ));
        }
        Ok(())
    }
}
