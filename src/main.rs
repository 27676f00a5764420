//! The `faultline` command; everything it does is in the library and `cli.rs`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
