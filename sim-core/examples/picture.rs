//! Writes an SVG picture of a small faulty run: `cargo run -p sim-core --example picture > run.svg`.
use sim_core::*;

#[derive(Debug)]
struct Gossip;

impl Process for Gossip {
    type Config = ();
    type Msg = &'static str;
    type Timer = ();
    type Durable = ();
    type Request = ();
    type Response = ();
    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.set_timer(Duration::from_millis(20), ());
        Gossip
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: &'static str) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
        let n = ctx.node_count() as u64;
        let to = NodeId(ctx.rng().below(n) as u32);
        if to != ctx.id() {
            ctx.send(to, "hello");
        }
        ctx.note("tick");
        ctx.set_timer(Duration::from_millis(20), ());
    }
}

fn main() {
    let config = SimConfig::new(7, 4, Limits::time(Duration::from_millis(400)));
    let mut sim: Simulation<Gossip> = Simulation::new(config, (), ()).unwrap();
    let n = |i| Addr::Node(NodeId(i));
    let ms = |m: u64| Time::from_nanos(m * 1_000_000);
    sim.schedule(
        ms(100),
        Fault::Partition(vec![vec![n(0), n(1)], vec![n(2), n(3)]]),
    );
    sim.schedule(ms(200), Fault::Heal);
    sim.schedule(ms(250), Fault::Crash(NodeId(3)));
    sim.schedule(ms(320), Fault::Restart(NodeId(3)));
    let report = sim.run();
    print!(
        "{}",
        diagram::svg(
            &report.trace,
            "4 nodes, partition 100-200ms, n4 crashed 250-320ms"
        )
    );
}
