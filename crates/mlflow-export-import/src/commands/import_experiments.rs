//! `import-experiments`: directory of experiments → tracking server, nested runs linked across
//! experiments.

use std::{path::Path, process::ExitCode, time::Instant};

use anyhow::Context;
use mlflow_transfer::experiments;

use crate::{
    cli::{GlobalArgs, ImportExperimentsArgs},
    settings,
};

pub async fn run(args: ImportExperimentsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let renames = match &args.experiment_rename_file {
        Some(f) => read_rename_file(f)?,
        None => Vec::new(),
    };
    let prefix = args.experiment_name_prefix.clone().unwrap_or_default();
    let items = experiments::bulk_items(&args.input_dir, |name| format!("{prefix}{}", rename(name, &renames)))?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let result = experiments::import(client.clone(), items, &ctx, global.concurrency).await;
    progress.finish();
    super::finish_job("import-experiments", global, &result, &[("destination", &client)], started)
}

/// `old_prefix,new_prefix` lines, as the Python tool reads them.
pub fn read_rename_file(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            l.split_once(',')
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                .with_context(|| format!("{}:{}: expected `old_prefix,new_prefix`", path.display(), i + 1))
        })
        .collect()
}

/// Replaces the first matching prefix.
pub fn rename(name: &str, renames: &[(String, String)]) -> String {
    renames
        .iter()
        .find_map(|(old, new)| name.strip_prefix(old.as_str()).map(|rest| format!("{new}{rest}")))
        .unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_prefix_is_replaced() {
        let r = vec![("/Users/a/".to_string(), "/Shared/".to_string()), ("/Users/".to_string(), "/Old/".to_string())];
        assert_eq!(rename("/Users/a/exp", &r), "/Shared/exp");
        assert_eq!(rename("/Users/b/exp", &r), "/Old/b/exp");
        assert_eq!(rename("other", &r), "other");
    }
}
