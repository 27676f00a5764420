//! The `faultline` command: [`faultline::cli::main`] with the built-in protocols. A
//! program of your own passes a registry with its protocols added (docs/OWN-PROTOCOL.md).

/// A faster allocator for the command (a sweep allocates and frees a log entry, a message
/// and a checker record per event); it changes no result, only how memory is handed out.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    faultline::cli::main(faultline::registry::Registry::builtin())
}
