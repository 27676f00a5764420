# The commands CI runs; each recipe is one plain cargo command that works without just.

# fmt check, clippy -D warnings, every test (what CI runs)
ci:
    bash .ci/run

# every test
test:
    cargo test --workspace

# run a scenario: just run scenarios/pingstorm/smoke.ron --seed 3
run FILE *ARGS:
    cargo run --release -- run {{FILE}} {{ARGS}}

# every benchmark (figures go in docs/PERFORMANCE.md): the engine against its bare-loop
# yardstick, Raft, the linearizability checker, and the bench scenarios with --stats
bench:
    cargo bench -p protocols --bench pingstorm
    cargo bench -p protocols --bench bare_loop
    cargo bench -p protocols --bench raft
    cargo bench -p protocols --bench gossip
    cargo bench -p lincheck --bench porcupine
    cargo run --release -- run scenarios/bench/pingstorm-5.ron --stats
    cargo run --release -- run scenarios/bench/pingstorm-100.ron --stats
    cargo run --release -- run scenarios/bench/pingstorm-10000.ron --stats
    cargo run --release -- run scenarios/bench/twopc-30s.ron --stats
    cargo run --release -- run scenarios/bench/gossip-10000.ron --stats
