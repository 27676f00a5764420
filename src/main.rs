//! The `faultline` command: [`faultline::cli::main`] with the built-in protocols. A
//! program of your own passes a registry with its protocols added (docs/OWN-PROTOCOL.md).

fn main() -> std::process::ExitCode {
    faultline::cli::main(faultline::registry::Registry::builtin())
}
