//! Entry point: parse the command line, load the configuration, hand over to the library.

use clap::Parser;
use remote_assist::cli::{Cli, Command};

/// mimalloc instead of the system allocator: the media path allocates per packet on one thread
/// while others hash passwords (19 MiB each, argon2id) — glibc keeps such blocks in its arenas
/// after they are freed, mimalloc gives them back, and it is faster on the packet path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.global.load_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("remote-assist: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    remote_assist::init_logging(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => remote_assist::serve_main(config).await,
        Command::Admin(command) => remote_assist::cli::run_admin(&config, command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("remote-assist: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
