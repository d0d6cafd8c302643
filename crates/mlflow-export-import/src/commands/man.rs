//! `man`: the man page, generated from the command-line definitions. One roff stream holds the
//! top page followed by a page per subcommand (`mlflow-export-import-<subcommand>`; none for
//! clap's `help`, which the top page covers), so a single `mlflow-export-import man >
//! mlflow-export-import.1` documents every option and `man -l` shows the pages one after the
//! other.

use std::{io::Write, process::ExitCode};

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

pub fn run() -> anyhow::Result<ExitCode> {
    write(&mut std::io::stdout().lock()).context("writing the man page")?;
    Ok(ExitCode::SUCCESS)
}

fn write(out: &mut dyn Write) -> std::io::Result<()> {
    let mut cli = Cli::command();
    // Built, the subcommands carry the global options and their full names.
    cli.build();
    clap_mangen::Man::new(cli.clone()).render(out)?;
    for sub in cli.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let page = sub
            .clone()
            .name(format!("{}-{}", cli.get_name(), sub.get_name()))
            .version(cli.get_version().unwrap_or_default().to_string());
        clap_mangen::Man::new(page).render(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_documents_every_subcommand() {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        for sub in Cli::command().get_subcommands() {
            let title = format!(".TH mlflow-export-import-{} 1", sub.get_name());
            assert!(page.contains(&title), "no page {title:?} in the man output");
        }
        assert!(page.contains("\\-\\-output\\-dir"), "no option in the man output");
    }
}
