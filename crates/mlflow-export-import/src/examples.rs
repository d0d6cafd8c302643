//! The "Examples:" block of each command's `--help`. They are real command lines, and a
//! test parses every one of them, so an example cannot outlive a renamed or removed option.

pub const EXPORT_RUN: &str = "\
Examples:
  mlflow-export-import export-run --tracking-uri http://localhost:5000 \\
    --run-id 50fa90e751eb4b3f9ba9cef0efe8ea30 --output-dir out/run
  mlflow-export-import export-run --tracking-uri http://localhost:5000 \\
    --run-id 50fa90e751eb4b3f9ba9cef0efe8ea30 --output run.zip";

pub const IMPORT_RUN: &str = "\
Examples:
  mlflow-export-import import-run --tracking-uri http://new-server:5000 \\
    --input-dir out/run --experiment-name imported --use-src-user-id";

pub const COPY_RUN: &str = "\
Examples:
  mlflow-export-import copy-run \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --run-id 50fa90e751eb4b3f9ba9cef0efe8ea30 --experiment-name copied";

pub const EXPORT_EXPERIMENT: &str = "\
Examples:
  mlflow-export-import export-experiment --tracking-uri http://localhost:5000 \\
    --experiment sklearn-wine --output-dir out/sklearn-wine
  mlflow-export-import export-experiment --tracking-uri http://localhost:5000 \\
    --experiment 3 --output-dir out/since-june \\
    --run-start-time 2025-06-01 --export-deleted-runs";

pub const IMPORT_EXPERIMENT: &str = "\
Examples:
  mlflow-export-import import-experiment \\
    --tracking-uri http://new-server:5000 --input-dir out/sklearn-wine \\
    --experiment-name sklearn-wine --use-src-user-id True";

pub const COPY_EXPERIMENT: &str = "\
Examples:
  mlflow-export-import copy-experiment \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-experiment sklearn-wine --dst-experiment-name sklearn-wine
  mlflow-export-import --shard 1/2 copy-experiment \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-experiment 3 --dst-experiment-name big-experiment
  mlflow-export-import copy-experiment \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-experiment 3 --dst-experiment-name big-experiment \\
    --dst-backend-store-uri postgresql://mlflow@db-host/mlflow \\
    --dst-artifact-root mlflow-artifacts:/ \\
    --dst-artifacts-destination /srv/mlflow/artifacts";

pub const EXPORT_EXPERIMENTS: &str = "\
Examples:
  mlflow-export-import export-experiments \\
    --tracking-uri http://localhost:5000 --experiments all --output-dir out/all
  mlflow-export-import export-experiments \\
    --tracking-uri http://localhost:5000 --experiments 'team-a-*' \\
    --output-dir out/team-a";

pub const IMPORT_EXPERIMENTS: &str = "\
Examples:
  mlflow-export-import import-experiments \\
    --tracking-uri http://new-server:5000 --input-dir out/all --use-src-user-id
  mlflow-export-import import-experiments \\
    --tracking-uri http://new-server:5000 --input-dir out/all \\
    --experiment-name-prefix migrated/";

pub const EXPORT_MODEL: &str = "\
Examples:
  mlflow-export-import export-model --tracking-uri http://localhost:5000 \\
    --model sklearn-wine --output-dir out/model
  mlflow-export-import export-model --tracking-uri http://localhost:5000 \\
    --model sklearn-wine --output-dir out/model --stages Production,Staging";

pub const IMPORT_MODEL: &str = "\
Examples:
  mlflow-export-import import-model --tracking-uri http://new-server:5000 \\
    --input-dir out/model --model sklearn-wine \\
    --experiment-name sklearn-wine-versions";

pub const COPY_MODEL: &str = "\
Examples:
  mlflow-export-import copy-model \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-model sklearn-wine
  mlflow-export-import copy-model \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-model sklearn-wine --dst-model wine-classifier --versions 3,4";

pub const COPY_MODEL_VERSION: &str = "\
Examples:
  mlflow-export-import copy-model-version \\
    --src-registry-uri http://old-server:5000 \\
    --dst-registry-uri http://new-server:5000 \\
    --src-model sklearn-wine --src-version 3 --dst-model sklearn-wine \\
    --copy-stages-and-aliases";

pub const EXPORT_MODEL_VERSION: &str = "\
Examples:
  mlflow-export-import export-model-version \\
    --tracking-uri http://localhost:5000 \\
    --model sklearn-wine --version 3 --output-dir out/sklearn-wine-v3";

pub const IMPORT_MODEL_VERSION: &str = "\
Examples:
  mlflow-export-import import-model-version \\
    --tracking-uri http://new-server:5000 \\
    --input-dir out/sklearn-wine-v3 --model sklearn-wine \\
    --experiment-name sklearn-wine-versions --create-model
  mlflow-export-import import-model-version \\
    --tracking-uri http://new-server:5000 \\
    --input-dir out/sklearn-wine-v3 --model sklearn-wine \\
    --experiment-name sklearn-wine-versions --import-stages-and-aliases";

pub const DOWNLOAD_NOTEBOOK: &str = "\
Examples:
  mlflow-export-import download-notebook --tracking-uri databricks \\
    --notebook /Users/me@example.com/train --output-dir out/notebook
  mlflow-export-import download-notebook --tracking-uri databricks://prod \\
    --notebook /Users/me@example.com/train --output-dir out/notebook \\
    --notebook-formats source,html";

pub const LIST_REGISTERED_MODELS: &str = "\
Examples:
  mlflow-export-import list-registered-models \\
    --tracking-uri http://localhost:5000
  mlflow-export-import list-registered-models \\
    --tracking-uri http://localhost:5000 --output-file models.json";

pub const EXPORT_MODELS: &str = "\
Examples:
  mlflow-export-import export-models --tracking-uri http://localhost:5000 \\
    --models all --output-dir out/models
  mlflow-export-import export-models --tracking-uri http://localhost:5000 \\
    --models sklearn-wine,xgb-churn --output-dir out/models \\
    --export-all-runs";

pub const IMPORT_MODELS: &str = "\
Examples:
  mlflow-export-import import-models --tracking-uri http://new-server:5000 \\
    --input-dir out/models --use-src-user-id";

pub const EXPORT_ALL: &str = "\
Examples:
  mlflow-export-import export-all --tracking-uri http://localhost:5000 \\
    --output-dir out/all
  mlflow-export-import export-all --tracking-uri http://localhost:5000 \\
    --output-dir out/recent --run-start-time 2025-06-01 \\
    --stages Production,Staging --export-deleted-runs";

pub const IMPORT_ALL: &str = "\
Examples:
  mlflow-export-import import-all --tracking-uri http://new-server:5000 \\
    --input-dir out/all --use-src-user-id
  mlflow-export-import import-all --tracking-uri http://new-server:5000 \\
    --input-dir out/all --model-rename-file model-renames.csv";

pub const COPY_ALL: &str = "\
Examples:
  mlflow-export-import copy-all \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000
  mlflow-export-import --report copy.json copy-all \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --export-deleted-runs --use-src-user-id";

pub const COPY_MODELS: &str = "\
Examples:
  mlflow-export-import copy-models --models all \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000
  mlflow-export-import copy-models --models 'churn*' --stages Production \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --use-src-user-id";

pub const SYNC: &str = "\
Examples:
  mlflow-export-import sync \\
    --src-uri http://primary:5000 --dst-uri http://replica:5000
  mlflow-export-import --report sync.json sync \\
    --src-uri http://primary:5000 --dst-uri http://replica:5000 \\
    --use-src-user-id --delete --max-delete 100";

pub const VERIFY: &str = "\
Examples:
  mlflow-export-import verify \\
    --src-uri http://old-server:5000 --src-experiment sklearn-wine \\
    --dst-uri http://new-server:5000 --dst-experiment sklearn-wine
  mlflow-export-import verify --src-dir out/sklearn-wine \\
    --dst-uri http://new-server:5000 --dst-experiment sklearn-wine \\
    --checksums";

pub const VERSION: &str = "\
Examples:
  mlflow-export-import version --tracking-uri http://old-server:5000
  mlflow-export-import --log-format json version \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000";

pub const COMPLETIONS: &str = "\
Examples:
  mlflow-export-import completions bash \\
    > /etc/bash_completion.d/mlflow-export-import
  mlflow-export-import completions zsh > ~/.zfunc/_mlflow-export-import";

pub const MAN: &str = "\
Examples:
  mlflow-export-import man > /usr/local/share/man/man1/mlflow-export-import.1";

pub const ALIASES: &str = "\
Examples:
  mlflow-export-import aliases --dir ~/.local/mlflow-export-import-aliases
  mlflow-export-import aliases --dir /opt/mlflow-tools/bin --force";

pub const EXPORT_PROMPT: &str = "\
Examples:
  mlflow-export-import export-prompt --tracking-uri http://localhost:5000 \\
    --prompt-name greeting --prompt-version 3 --output-dir out/greeting_v3";

pub const IMPORT_PROMPT: &str = "\
Examples:
  mlflow-export-import import-prompt --tracking-uri http://new-server:5000 \\
    --input-dir out/greeting_v3
  mlflow-export-import import-prompt --tracking-uri http://new-server:5000 \\
    --input-dir out/greeting_v3 --prompt-name greeting-copy --delete-prompt";

pub const EXPORT_PROMPTS: &str = "\
Examples:
  mlflow-export-import export-prompts --tracking-uri http://localhost:5000 \\
    --prompts all --output-dir out/prompts
  mlflow-export-import export-prompts --tracking-uri http://localhost:5000 \\
    --prompts greeting,summarize --output-dir out/prompts";

pub const IMPORT_PROMPTS: &str = "\
Examples:
  mlflow-export-import import-prompts --tracking-uri http://new-server:5000 \\
    --input-dir out/prompts";

pub const COPY_PROMPT: &str = "\
Examples:
  mlflow-export-import copy-prompt \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-prompt greeting
  mlflow-export-import copy-prompt \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --src-prompt greeting --dst-prompt greeting-v2 --delete-prompt";

pub const COPY_PROMPTS: &str = "\
Examples:
  mlflow-export-import copy-prompts \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --prompts all";

pub const EXPORT_LOGGED_MODEL: &str = "\
Examples:
  mlflow-export-import export-logged-model \\
    --tracking-uri http://localhost:5000 \\
    --model-id m-0123456789abcdef0123456789abcdef --output-dir out/model";

pub const IMPORT_LOGGED_MODEL: &str = "\
Examples:
  mlflow-export-import import-logged-model \\
    --tracking-uri http://new-server:5000 \\
    --input-dir out/model --experiment-name agents";

pub const EXPORT_LOGGED_MODELS: &str = "\
Examples:
  mlflow-export-import export-logged-models \\
    --tracking-uri http://localhost:5000 \\
    --experiment-ids 1,2 --output-dir out/models
  mlflow-export-import export-logged-models \\
    --tracking-uri http://localhost:5000 \\
    --experiment-ids all --output-dir out/models";

pub const IMPORT_LOGGED_MODELS: &str = "\
Examples:
  mlflow-export-import import-logged-models \\
    --tracking-uri http://new-server:5000 --input-dir out/models
  mlflow-export-import import-logged-models \\
    --tracking-uri http://new-server:5000 --input-dir out/models \\
    --experiment-name models";

pub const COPY_LOGGED_MODEL: &str = "\
Examples:
  mlflow-export-import copy-logged-model \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --model-id m-0123456789abcdef0123456789abcdef
  mlflow-export-import copy-logged-model \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --model-id m-0123456789abcdef0123456789abcdef \\
    --dst-experiment-name agents-2025 --mlmodel-fix false";

pub const COPY_LOGGED_MODELS: &str = "\
Examples:
  mlflow-export-import copy-logged-models \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --experiment-ids all";

pub const EXPORT_TRACE: &str = "\
Examples:
  mlflow-export-import export-trace \\
    --tracking-uri http://localhost:5000 \\
    --request-id tr-0123456789abcdef0123456789abcdef --output-dir out/trace";

pub const IMPORT_TRACE: &str = "\
Examples:
  mlflow-export-import import-trace \\
    --tracking-uri http://new-server:5000 --input-dir out/trace \\
    --experiment-name agents";

pub const EXPORT_TRACES: &str = "\
Examples:
  mlflow-export-import export-traces --tracking-uri http://localhost:5000 \\
    --experiment-ids all --output-dir out/traces
  mlflow-export-import export-traces --tracking-uri http://localhost:5000 \\
    --experiment-ids 1,7 --output-dir out/traces \\
    --trace-start-time 2025-01-01 --traces-until 2025-02-01";

pub const IMPORT_TRACES: &str = "\
Examples:
  mlflow-export-import import-traces \\
    --tracking-uri http://new-server:5000 --input-dir out/traces";

pub const COPY_TRACES: &str = "\
Examples:
  mlflow-export-import copy-traces \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --experiment agents
  mlflow-export-import copy-traces \\
    --src-uri http://old-server:5000 --dst-uri http://new-server:5000 \\
    --experiment agents --dst-experiment-name agents-2025 \\
    --trace-start-time 2025-01-01";

pub const EXPORT_EVALUATION_DATASET: &str = "\
Examples:
  mlflow-export-import export-evaluation-dataset \\
    --tracking-uri http://localhost:5000 \\
    --dataset-name qa-golden --output-dir out/qa-golden";

pub const IMPORT_EVALUATION_DATASET: &str = "\
Examples:
  mlflow-export-import import-evaluation-dataset \\
    --tracking-uri http://new-server:5000 --input-dir out/qa-golden \\
    --evaluation-dataset-name qa-golden-copy";

pub const COPY_EVALUATION_DATASET: &str = "\
Examples:
  mlflow-export-import copy-evaluation-dataset \\
    --src-uri http://old:5000 --dst-uri http://new:5000 \\
    --dataset-id d-1ae847a3888642a89efb4b406c60d0f0";

pub const EXPORT_EVALUATION_DATASETS: &str = "\
Examples:
  mlflow-export-import export-evaluation-datasets \\
    --tracking-uri http://localhost:5000 --evaluation-datasets all \\
    --experiment-ids 1,2 --output-dir out/datasets";

pub const IMPORT_EVALUATION_DATASETS: &str = "\
Examples:
  mlflow-export-import import-evaluation-datasets \\
    --tracking-uri http://new-server:5000 --input-dir out/datasets \\
    --delete-evaluation-dataset";

pub const COPY_EVALUATION_DATASETS: &str = "\
Examples:
  mlflow-export-import copy-evaluation-datasets \\
    --src-uri http://old:5000 --dst-uri http://new:5000 \\
    --evaluation-datasets qa-golden,qa-hard";

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::Cli;

    /// Help text is wrapped at the terminal's width; examples narrower than a classic
    /// terminal are shown as written.
    const WIDTH: usize = 79;

    /// The command lines of an "Examples:" block: lines starting with the program name, each
    /// joined with the lines its trailing `\` continues.
    fn command_lines(block: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let mut current = String::new();
        for line in block.lines().skip_while(|l| l.trim() != "Examples:").skip(1) {
            let line = line.trim();
            let (text, continued) = match line.strip_suffix('\\') {
                Some(head) => (head.trim_end(), true),
                None => (line, false),
            };
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(text);
            if !continued {
                lines.push(std::mem::take(&mut current));
            }
        }
        lines.retain(|l| l.starts_with(env!("CARGO_BIN_NAME")));
        lines
    }

    /// Words of a command line, with single-quoted words kept whole and the shell's
    /// redirection (`> file`) left out.
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut rest = line.split(' ').filter(|w| !w.is_empty());
        while let Some(w) = rest.next() {
            match w {
                ">" => {
                    rest.next();
                }
                quoted if quoted.starts_with('\'') && quoted.ends_with('\'') && quoted.len() > 1 => {
                    words.push(quoted[1..quoted.len() - 1].to_string())
                }
                plain => words.push(plain.to_string()),
            }
        }
        words
    }

    #[test]
    fn every_command_shows_examples_that_parse() {
        for sub in Cli::command().get_subcommands() {
            let help = sub.get_after_help().map(ToString::to_string).unwrap_or_default();
            let wide: Vec<&str> = help.lines().filter(|l| l.chars().count() > WIDTH).collect();
            assert!(wide.is_empty(), "{} --help: examples wider than {WIDTH} columns wrap: {wide:?}", sub.get_name());
            let lines = command_lines(&help);
            assert!(!lines.is_empty(), "{} --help shows no example", sub.get_name());
            for line in lines {
                let args = words(&line);
                assert!(
                    args.iter().any(|a| a == sub.get_name()),
                    "an example of {} runs another command: {line}",
                    sub.get_name()
                );
                if let Err(e) = Cli::try_parse_from(&args) {
                    panic!("the example of {} does not parse: {line}\n{e}", sub.get_name());
                }
            }
        }
    }
}
