//! The Python tool's options that this tool does not have, as its scripts spell them.
//!
//! Scripts written for the Python tool pass them, often with an explicit `False`. Given false,
//! such an option asks for nothing, so it is dropped and the script runs. Given true, it asks
//! for something this tool does not do: the command is refused, saying what and why, instead
//! of clap's bare "unexpected argument" (or, worse, doing the job without it).
//! `--verbose True|False` (the Python tool's boolean) becomes our `--verbose` or nothing. An
//! option listed here that the command at hand does define (permissions of experiments and models) is
//! left to it.

use std::ffi::{OsStr, OsString};

use clap::builder::{BoolishValueParser, TypedValueParser};

/// Options this tool lacks, and why, as the refusal says it.
const UNSUPPORTED: [(&str, &str); 7] = [
    (
        "--export-permissions",
        "this command exports no permissions (Databricks access control lists); export-experiment(s) and export-model(s) do",
    ),
    (
        "--import-permissions",
        "this command sets no permissions (Databricks access control lists); import-experiment(s) and import-model(s) do",
    ),
    (
        "--copy-permissions",
        "this command copies no permissions (Databricks access control lists); copy-experiment and copy-model(s) do",
    ),
    (
        "--export-version-model",
        "the registry's own copy of a version's model is not exported (the run's artifacts, which hold the logged model, are)",
    ),
    (
        "--vrm-export-version-model",
        "the registry's own copy of a version's model is not exported (the run's artifacts, which hold the logged model, are)",
    ),
    (
        "--skip-download-run-artifacts",
        "a version's run is always exported with its artifacts, which hold the version's model",
    ),
    (
        "--import-metadata",
        "an experiment's metadata is not read from experiment.json (a model made by --create-model always gets the exported description and tags)",
    ),
];

/// `Some(value)` of a boolean literal, read by the parser of our own boolean options (which
/// takes what the Python tool's click options take: `True`, `false`, `yes`, `0`, ...).
fn boolean(text: &str) -> Option<bool> {
    BoolishValueParser::new().parse_ref(&clap::Command::new(env!("CARGO_BIN_NAME")), None, OsStr::new(text)).ok()
}

/// `args` with the options above dropped when false and `--verbose BOOL` made ours; `Err` with
/// the message of an option that asks for what this tool does not do.
pub fn adapt(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let command = args.iter().skip(1).filter_map(|a| a.to_str()).find_map(|a| cli.find_subcommand(a));
    let defined = |option: &str| {
        let long = option.trim_start_matches("--");
        command.is_some_and(|c| {
            c.get_arguments()
                .any(|a| a.get_long() == Some(long) || a.get_all_aliases().unwrap_or_default().contains(&long))
        })
    };
    let mut out = Vec::with_capacity(args.len());
    let mut rest = args.into_iter().peekable();
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str().map(str::to_string) else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(rest);
            break;
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (text.clone(), None),
        };
        let why = UNSUPPORTED.iter().find(|(option, _)| *option == name && !defined(option)).map(|(_, why)| *why);
        if why.is_none() && name != "--verbose" {
            out.push(arg);
            continue;
        }
        // The value: inline, or the next argument when it is a boolean literal.
        let value = match inline {
            Some(value) => Some(value),
            None => match rest.peek().and_then(|next| next.to_str()).filter(|next| boolean(next).is_some()) {
                Some(next) => {
                    let next = next.to_string();
                    rest.next();
                    Some(next)
                }
                None => None,
            },
        };
        let wanted = value.as_deref().map_or(Some(true), boolean);
        match (why, wanted) {
            (None, Some(true)) => out.push("--verbose".into()),
            (None, Some(false)) => {}
            (None, None) => return Err(format!("{name}: expected true or false, got {:?}", value.unwrap_or_default())),
            (Some(_), Some(false)) => {}
            (Some(why), _) => {
                return Err(format!("{name} is not supported: {why}; run without it (or with {name} false)"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapted(args: &str) -> Result<String, String> {
        let args = args.split(' ').map(OsString::from).collect();
        adapt(args).map(|out| out.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn false_options_are_dropped_true_ones_refused_with_why() {
        assert_eq!(
            adapted("eim export-all --export-permissions False --output-dir d").unwrap(),
            "eim export-all --output-dir d"
        );
        assert_eq!(
            adapted("eim import-run --import-permissions=false --input-dir d").unwrap(),
            "eim import-run --input-dir d"
        );
        let err = adapted("eim export-all --export-permissions True --output-dir d").unwrap_err();
        assert!(err.contains("--export-permissions is not supported") && err.contains("access control"), "{err}");
        let err = adapted("eim export-model --export-version-model --model m").unwrap_err();
        assert!(err.contains("--export-version-model"), "{err}");
        assert_eq!(
            adapted("eim import-run --dst-notebook-dir /Users/me --input-dir d").unwrap(),
            "eim import-run --dst-notebook-dir /Users/me --input-dir d"
        );
    }

    #[test]
    fn the_python_tools_verbose_boolean_becomes_ours() {
        assert_eq!(
            adapted("eim import-models --verbose True --input-dir d").unwrap(),
            "eim import-models --verbose --input-dir d"
        );
        assert_eq!(
            adapted("eim import-models --verbose false --input-dir d").unwrap(),
            "eim import-models --input-dir d"
        );
        assert_eq!(adapted("eim -vv --verbose --input-dir d").unwrap(), "eim -vv --verbose --input-dir d");
        assert!(adapted("eim import-models --verbose=maybe").unwrap_err().contains("expected true or false"));
    }

    #[test]
    fn nothing_after_a_double_dash_and_no_other_option_is_touched() {
        assert_eq!(
            adapted("eim copy-run --run-id r -- --export-permissions").unwrap(),
            "eim copy-run --run-id r -- --export-permissions"
        );
        assert_eq!(
            adapted("eim export-run --run-id 1 --output out").unwrap(),
            "eim export-run --run-id 1 --output out"
        );
    }

    #[test]
    fn every_listed_option_is_one_some_command_does_not_define() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        for (option, _) in UNSUPPORTED {
            let long = option.trim_start_matches("--");
            assert!(
                cli.get_subcommands().any(|sub| sub
                    .get_arguments()
                    .all(|a| a.get_long() != Some(long) && !a.get_all_aliases().unwrap_or_default().contains(&long))),
                "every command defines {option}: the entry is dead"
            );
        }
    }

    #[test]
    fn a_command_that_defines_a_listed_option_gets_it_as_given() {
        for args in [
            "eim export-experiment --experiment e --export-permissions True --output-dir d",
            "eim --quiet copy-experiment --copy-permissions --src-uri a",
            "eim import-experiments --import-permissions false --input-dir d",
            "eim export-model --model m --export-permissions True --output-dir d",
            "eim copy-models --models a,b --copy-permissions",
        ] {
            assert_eq!(adapted(args).unwrap(), args);
        }
    }
}
