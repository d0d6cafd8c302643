//! `import-all`: a directory made by `export-all` (ours or the Python tool's) → tracking
//! server: every experiment and its runs, then every model, the prompts of `prompts/`, and
//! every evaluation dataset of its `evaluation_datasets/`.

use std::process::ExitCode;

use mlflow_transfer::{
    plan::Selection,
    select::{RunFilter, VersionFilter},
};

use crate::cli::{GlobalArgs, ImportAllArgs};

pub async fn run(args: ImportAllArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let webhook_secrets = super::webhook_secrets(&args.webhooks)?;
    let delete_datasets = args.datasets.delete_evaluation_dataset;
    let delete_prompt = args.prompts.delete_prompt;
    super::import_models::import(
        "import-all",
        args.models,
        delete_prompt,
        global,
        |rename_experiments, rename_models| Selection::All {
            versions: VersionFilter::default(),
            filter: RunFilter::default(),
            rename_experiments,
            rename_models,
            webhook_secrets,
            delete_datasets,
        },
    )
    .await
}
