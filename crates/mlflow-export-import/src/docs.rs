//! The pages of `docs/commands/`, one per command plus an index, generated from the
//! command-line definitions so that the reference cannot drift from the binary. A test
//! compares them with the committed files; `UPDATE_DOCS=1 cargo test -p mlflow-export-import
//! docs` writes them instead.

use std::{fmt::Write, path::PathBuf};

use clap::{Arg, Command, CommandFactory};

use crate::cli::Cli;

const REGENERATE: &str = "UPDATE_DOCS=1 cargo test -p mlflow-export-import docs";

/// `(file name, contents)` of every page.
fn pages() -> Vec<(String, String)> {
    let mut cli = Cli::command();
    // Built, the subcommands know their full usage line and the global options are marked.
    cli.build();
    let mut pages = vec![("README.md".to_string(), index(&cli))];
    pages.extend(documented(&cli).map(|sub| (format!("{}.md", sub.get_name()), page(&cli, sub))));
    pages
}

/// The subcommands, without the `help` that clap adds.
fn documented(cli: &Command) -> impl Iterator<Item = &Command> {
    cli.get_subcommands().filter(|sub| sub.get_name() != "help")
}

fn header(out: &mut String, title: &str) {
    writeln!(out, "# {title}\n").unwrap();
    writeln!(out, "<!-- Generated from the command-line definitions by `{REGENERATE}`; do not edit. -->\n").unwrap();
}

fn index(cli: &Command) -> String {
    let mut out = String::new();
    header(&mut out, &format!("`{}` commands", cli.get_name()));
    writeln!(out, "{}\n", text(cli.get_long_about().or(cli.get_about()))).unwrap();
    usage(&mut out, cli);
    writeln!(out, "## Commands\n").unwrap();
    for sub in documented(cli) {
        let about = text(sub.get_about());
        writeln!(out, "- [`{0}`]({0}.md): {about}", sub.get_name()).unwrap();
    }
    writeln!(out, "\n## Global options\n").unwrap();
    writeln!(out, "Accepted by every command, before or after its name.\n").unwrap();
    for arg in cli.get_arguments().filter(|a| shown(a)) {
        argument(&mut out, arg);
    }
    out
}

fn page(cli: &Command, sub: &Command) -> String {
    let mut out = String::new();
    header(&mut out, &format!("`{} {}`", cli.get_name(), sub.get_name()));
    writeln!(out, "{}\n", text(sub.get_long_about().or(sub.get_about()))).unwrap();
    usage(&mut out, sub);
    let args: Vec<&Arg> = sub.get_arguments().filter(|a| shown(a) && !a.is_global_set()).collect();
    if !args.is_empty() {
        writeln!(out, "## Options\n").unwrap();
        for arg in args {
            argument(&mut out, arg);
        }
    }
    writeln!(out, "Plus the [global options](README.md#global-options).\n").unwrap();
    if let Some(examples) = sub.get_after_help().map(ToString::to_string) {
        let lines: Vec<&str> = examples.lines().skip_while(|l| l.trim() != "Examples:").skip(1).collect();
        writeln!(out, "## Examples\n\n```sh").unwrap();
        for line in lines {
            writeln!(out, "{}", line.strip_prefix("  ").unwrap_or(line)).unwrap();
        }
        writeln!(out, "```\n").unwrap();
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn usage(out: &mut String, cmd: &Command) {
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
    writeln!(out, "## Usage\n\n```text\n{usage}\n```\n").unwrap();
}

/// clap's own `--help` and `--version` are left out: every command has them.
fn shown(arg: &Arg) -> bool {
    !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version")
}

fn argument(out: &mut String, arg: &Arg) {
    // Not the action: the Python tool's valued booleans are flags that also take a value.
    let range = arg.get_num_args().unwrap_or_default();
    let takes_values = range.takes_values();
    let values = arg.get_value_names().map(|names| {
        let names: String = names.iter().map(|n| format!("<{n}>")).collect::<Vec<_>>().join(" ");
        if range.min_values() == 0 {
            format!(" [{names}]")
        } else {
            format!(" {names}")
        }
    });
    let name = match (arg.get_long(), arg.get_short()) {
        (Some(long), Some(short)) => format!("-{short}, --{long}"),
        (Some(long), None) => format!("--{long}"),
        (None, _) => String::new(),
    };
    let values = if takes_values { values.unwrap_or_default() } else { String::new() };
    let heading = if name.is_empty() { values.trim().to_string() } else { format!("{name}{values}") };
    writeln!(out, "### `{heading}`\n").unwrap();
    writeln!(out, "{}\n", text(arg.get_long_help().or(arg.get_help()))).unwrap();
    let mut facts = Vec::new();
    match (arg.is_required_set(), arg.get_env()) {
        (true, Some(env)) => facts.push(format!("Required unless `{}` is set.", env.to_string_lossy())),
        (true, None) => facts.push("Required.".to_string()),
        (false, _) => {}
    }
    let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
    if takes_values && !defaults.is_empty() {
        facts.push(format!("Default: `{}`.", defaults.join(",")));
    }
    let possible: Vec<String> = arg.get_possible_values().iter().map(|v| format!("`{}`", v.get_name())).collect();
    let long = arg.get_long().unwrap_or_default();
    if range.min_values() == 0 && possible.iter().any(|p| p == "`false`") {
        // The Python tool's valued booleans, which its scripts spell `--flag True`.
        facts.push(format!("A switch that also takes a value: `--{long}`, `--{long} True` or `--{long} false`."));
    } else if takes_values && !possible.is_empty() {
        facts.push(format!("Values: {}.", possible.join(", ")));
    }
    if let Some(aliases) = arg.get_visible_aliases().filter(|a| !a.is_empty()) {
        let aliases: Vec<String> = aliases.iter().map(|a| format!("`--{a}`")).collect();
        facts.push(format!("Also spelled {}.", aliases.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        facts.push(format!("Environment: `{}`.", env.to_string_lossy()));
    }
    for fact in facts {
        writeln!(out, "- {fact}").unwrap();
    }
    out.truncate(out.trim_end().len());
    out.push_str("\n\n");
}

fn text(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(ToString::to_string).unwrap_or_default().trim().to_string()
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands")
}

#[test]
fn command_docs_match_the_command_line() {
    let dir = folder();
    let pages = pages();
    let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !names.iter().any(|n| path.file_name().is_some_and(|f| f == *n)) {
                std::fs::remove_file(&path).unwrap();
            }
        }
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => stale.push(format!("docs/commands/{name} differs from the command-line definitions")),
            Err(_) => stale.push(format!("docs/commands/{name} is missing")),
        }
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !names.contains(&file.as_str()) {
            stale.push(format!("docs/commands/{file} documents no command"));
        }
    }
    assert!(stale.is_empty(), "{}\nregenerate with: {REGENERATE}", stale.join("\n"));
}
