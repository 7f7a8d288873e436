//! The `coalesce` binary: parses the command line and runs it (see `server::cli`).

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = server::cli::Cli::parse();
    if let Err(message) = server::cli::run(cli) {
        eprintln!("coalesce: {message}");
        std::process::exit(1);
    }
}
