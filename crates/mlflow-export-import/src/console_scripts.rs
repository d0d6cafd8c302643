//! Running under the name of one of the Python tool's console scripts, busybox-style: a link
//! named `export-experiment` to this executable behaves as `mlflow-export-import
//! export-experiment`, so scripts written for the Python tool keep working unchanged with a
//! folder of such links (see the `aliases` subcommand) first on PATH.

use std::{ffi::OsString, path::Path};

/// The Python tool's console scripts (its `setup.py` entry points) that this tool implements
/// under the same name. Its other scripts (list-models, export-traces, ...) get no
/// link: a link to a command that does not exist would only fail later and more obscurely.
pub const SCRIPTS: [&str; 33] = [
    "export-run",
    "import-run",
    "copy-run",
    "export-experiment",
    "import-experiment",
    "export-experiments",
    "import-experiments",
    "export-model",
    "import-model",
    "export-models",
    "import-models",
    "export-all",
    "import-all",
    "copy-model-version",
    "export-model-version",
    "import-model-version",
    "export-prompt",
    "import-prompt",
    "export-prompts",
    "import-prompts",
    "export-logged-model",
    "import-logged-model",
    "export-logged-models",
    "import-logged-models",
    "export-trace",
    "import-trace",
    "export-traces",
    "import-traces",
    "export-evaluation-dataset",
    "import-evaluation-dataset",
    "export-evaluation-datasets",
    "import-evaluation-datasets",
    "download-notebook",
];

/// The arguments to parse: unchanged when invoked under our own name, otherwise with the
/// script's name inserted as the subcommand (and our name in front, for usage messages).
pub fn arguments(mut args: Vec<OsString>) -> Vec<OsString> {
    let script = args.first().and_then(|argv0| invoked_as(Path::new(argv0)));
    if let Some(script) = script {
        args[0] = OsString::from(env!("CARGO_BIN_NAME"));
        args.insert(1, OsString::from(script));
    }
    args
}

/// The console script that `argv0` names: its file name, without a folder nor (on Windows)
/// `.exe`.
fn invoked_as(argv0: &Path) -> Option<&'static str> {
    let exe = cfg!(windows) && argv0.extension().is_some_and(|e| e.eq_ignore_ascii_case("exe"));
    let name = if exe { argv0.file_stem() } else { argv0.file_name() }?.to_str()?;
    SCRIPTS.into_iter().find(|s| *s == name)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn every_script_is_a_subcommand() {
        let cli = Cli::command();
        for script in SCRIPTS {
            assert!(cli.find_subcommand(script).is_some(), "{script} is not a subcommand");
        }
    }

    #[test]
    fn a_script_name_becomes_the_subcommand() {
        let got = arguments(args(&["/opt/links/export-run", "--run-id", "r"]));
        assert_eq!(got, args(&["mlflow-export-import", "export-run", "--run-id", "r"]));
    }

    #[test]
    fn our_own_name_and_unknown_names_are_left_alone() {
        for argv0 in ["mlflow-export-import", "/usr/bin/mlflow-export-import", "list-models", "verify"] {
            let given = args(&[argv0, "export-run"]);
            assert_eq!(arguments(given.clone()), given);
        }
    }

    #[test]
    fn windows_exe_suffix_is_stripped_only_on_windows() {
        let got = arguments(args(&["export-run.exe"]));
        assert_eq!(got.len() == 2, cfg!(windows));
    }
}
