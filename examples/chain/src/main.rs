//! The `faultline` command with chain replication added: every subcommand (run, sweep,
//! shrink, check-determinism, list, compare, --html and --export) for it.
use faultline::Registry;

fn main() -> std::process::ExitCode {
    faultline::cli::main(Registry::builtin().with::<chain_replication::ChainProtocol>())
}
