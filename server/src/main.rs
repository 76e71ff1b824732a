//! Entry point: parse the command line, load the configuration, hand over to the library.

use clap::Parser;
use remote_assist::cli::{Cli, Command};

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
