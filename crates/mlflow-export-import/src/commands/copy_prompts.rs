//! `copy-prompts`: several (or all) prompts, server to server.

use std::process::ExitCode;

use mlflow_transfer::{plan::Selection, select::ExperimentSpec};

use crate::cli::{CopyPromptsArgs, GlobalArgs};

pub async fn run(args: CopyPromptsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::Prompts {
        prompts: ExperimentSpec::parse(&args.prompts)?,
        version: None,
        single: false,
        dst_name: None,
    };
    super::copy_prompt::copy("copy-prompts", &args.src_uri, &args.dst_uri, args.write.delete_prompt, selection, global)
        .await
}
