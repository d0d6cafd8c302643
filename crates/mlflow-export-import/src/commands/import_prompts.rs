//! `import-prompts`: a directory made by `export-prompts` (ours or the Python tool's) →
//! tracking server, each prompt's versions in order under their own numbers.

use std::process::ExitCode;

use mlflow_transfer::{plan::Selection, select::ExperimentSpec};

use crate::cli::{GlobalArgs, ImportPromptsArgs};

pub async fn run(args: ImportPromptsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::Prompts { prompts: ExperimentSpec::All, version: None, single: false, dst_name: None };
    let (uri, dir) = (&args.tracking_uri, &args.input_dir);
    super::import_prompt::import("import-prompts", uri, dir, args.write.delete_prompt, selection, global).await
}
