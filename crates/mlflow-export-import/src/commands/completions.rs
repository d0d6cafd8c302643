//! `completions`: the shell completion script, generated from the command-line definitions so
//! it always offers the options this build has.

use std::{io::Write, process::ExitCode};

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(&script(args.shell)).context("writing the completion script")?;
    Ok(ExitCode::SUCCESS)
}

/// The script in memory: `clap_complete` panics when its writer fails (as stdout does when
/// piped into `head`); writing it ourselves turns that into an error.
fn script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_shell_completes_subcommands_and_options() {
        for shell in clap_complete::Shell::value_variants() {
            let script = String::from_utf8(script(*shell)).unwrap();
            assert!(script.contains("export-experiment"), "{shell}: no subcommand in\n{script}");
            assert!(script.contains("output-dir"), "{shell}: no option in\n{script}");
        }
    }
}
