//! The `coffer` binary: parses the command line and runs the server.

use std::process::ExitCode;

use coffer::cli::{self, Command};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(1);
        }
    };
    match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("Coffer v{}", coffer::VERSION);
            ExitCode::SUCCESS
        }
        Command::Server(args) => match run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn run(args: &cli::ServerArgs) -> anyhow::Result<()> {
    coffer::tls::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(coffer::run::run_server(args))?;
    Ok(())
}
