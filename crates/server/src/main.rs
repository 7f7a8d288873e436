//! The `coalesce` binary: parses the command line and runs it (see `server::cli`).

use clap::Parser;

fn main() {
    let cli = server::cli::Cli::parse();
    server::logging::init(cli.log_format);
    if let Err(message) = server::cli::run(cli) {
        eprintln!("coalesce: {message}");
        std::process::exit(1);
    }
}
