//! The `weir` command: a thin layer that turns flags into library calls.
//!
//! Exit codes (also in `weir --help`):
//! 0 success; 1 failure (the message says what and where); 2 usage error;
//! 3 more records rejected than `--max-rejected` allows (nothing committed);
//! 4 `weir verify` found a mismatch.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let args = match cli::Cli::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    args.init_logging();
    match args.execute(&matches) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::error_chain(&e));
            ExitCode::from(cli::exit_code_of(&e))
        }
    }
}
