//! `import-all`: a directory made by `export-all` (ours or the Python tool's) → tracking
//! server: every experiment and its runs, then every model, and every evaluation dataset of its
//! `evaluation_datasets/`.

use std::process::ExitCode;

use mlflow_transfer::{
    plan::Selection,
    select::{RunFilter, VersionFilter},
};

use crate::cli::{GlobalArgs, ImportAllArgs};

pub async fn run(args: ImportAllArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let delete_datasets = args.datasets.delete_evaluation_dataset;
    super::import_models::import("import-all", args.models, global, |rename_experiments, rename_models| {
        Selection::All {
            versions: VersionFilter::default(),
            filter: RunFilter::default(),
            rename_experiments,
            rename_models,
            delete_datasets,
        }
    })
    .await
}
