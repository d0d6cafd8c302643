//! Moving many runs: bounded concurrency, parents before children, a second pass for failures
//! that may be transient.
//!
//! A child's `mlflow.parentRunId` must name its parent's *destination* id when the child is
//! written, so runs go in levels: those whose parent is not part of the job first, then their
//! children, and so on. Within a level runs move concurrently. Because the id map is shared
//! across the whole job, links also resolve across experiments in a bulk import.

use std::{collections::HashMap, sync::Arc};

use futures::{stream, StreamExt};

use crate::{
    report::{Action, RunOutcome},
    store::{RunSink, RunSource},
    transfer::{transfer_run, JobContext},
};

/// One run to move and where it goes.
#[derive(Clone)]
pub struct PlannedRun {
    pub run_id: String,
    /// The run's parent (`mlflow.parentRunId`), if any.
    pub parent: Option<String>,
    pub source: Arc<dyn RunSource>,
    pub sink: Arc<dyn RunSink>,
}

/// Groups runs so that each run's parent, when it is part of the job, is in an earlier group.
pub fn levels(runs: Vec<PlannedRun>) -> Vec<Vec<PlannedRun>> {
    let parents: HashMap<String, Option<String>> = runs.iter().map(|r| (r.run_id.clone(), r.parent.clone())).collect();
    let depth = |id: &str| {
        let mut d = 0usize;
        let mut cur = parents.get(id).cloned().flatten();
        // A cycle (corrupt data) must not hang the job: stop after as many steps as runs.
        while let Some(p) = cur.filter(|p| parents.contains_key(p)) {
            d += 1;
            if d > parents.len() {
                break;
            }
            cur = parents.get(&p).cloned().flatten();
        }
        d
    };
    let mut out: Vec<Vec<PlannedRun>> = Vec::new();
    for run in runs {
        let d = depth(&run.run_id);
        if out.len() <= d {
            out.resize_with(d + 1, Vec::new);
        }
        out[d].push(run);
    }
    out
}

/// Moves every planned run; never stops at a failure. Runs that failed for a reason that may
/// be transient get up to `retry_passes` more attempts, each pass after all others are done.
pub async fn transfer_all(runs: Vec<PlannedRun>, ctx: &JobContext, concurrency: usize) -> Vec<RunOutcome> {
    ctx.reporter.runs_planned(runs.len());
    let mut outcomes: Vec<RunOutcome> = Vec::with_capacity(runs.len());
    let by_id: HashMap<String, PlannedRun> = runs.iter().map(|r| (r.run_id.clone(), r.clone())).collect();
    for level in levels(runs) {
        outcomes.extend(run_level(level, ctx, concurrency).await);
    }
    for pass in 2..=ctx.opts.retry_passes.saturating_add(1) {
        let retry: Vec<PlannedRun> = outcomes
            .iter()
            .filter(|o| o.action == Action::Failed && o.retryable)
            .filter_map(|o| by_id.get(&o.source_run_id).cloned())
            .collect();
        if retry.is_empty() {
            break;
        }
        tracing::info!(runs = retry.len(), pass, "retrying runs that failed transiently");
        ctx.reporter.runs_planned(retry.len());
        let mut again: HashMap<String, RunOutcome> = HashMap::new();
        for level in levels(retry) {
            again.extend(run_level(level, ctx, concurrency).await.into_iter().map(|o| (o.source_run_id.clone(), o)));
        }
        for o in &mut outcomes {
            if let Some(mut next) = again.remove(&o.source_run_id) {
                next.attempts = pass;
                *o = next;
            }
        }
    }
    outcomes
}

async fn run_level(level: Vec<PlannedRun>, ctx: &JobContext, concurrency: usize) -> Vec<RunOutcome> {
    stream::iter(level)
        .map(|r| async move { transfer_run(r.source.as_ref(), r.sink.as_ref(), &r.run_id, ctx).await })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    #[async_trait::async_trait]
    impl RunSource for Nothing {
        async fn read_run(&self, _: &str) -> crate::Result<crate::model::RunRecord> {
            unreachable!()
        }
        async fn list_artifacts(&self, _: &crate::model::RunRecord) -> crate::Result<Vec<crate::model::ArtifactFile>> {
            unreachable!()
        }
        async fn open_artifact(
            &self,
            _: &crate::model::RunRecord,
            _: &crate::model::ArtifactFile,
        ) -> crate::Result<crate::store::ByteStream> {
            unreachable!()
        }
    }

    fn planned(id: &str, parent: Option<&str>) -> PlannedRun {
        let sink: Arc<dyn RunSink> = Arc::new(crate::store::dir::DirSink::new("/nonexistent", Default::default()));
        PlannedRun { run_id: id.into(), parent: parent.map(Into::into), source: Arc::new(Nothing), sink }
    }

    fn ids(levels: &[Vec<PlannedRun>]) -> Vec<Vec<&str>> {
        levels.iter().map(|l| l.iter().map(|r| r.run_id.as_str()).collect()).collect()
    }

    #[test]
    fn parents_come_before_children() {
        let got = levels(vec![
            planned("grandchild", Some("child")),
            planned("child", Some("root")),
            planned("root", None),
            planned("orphan", Some("outside-the-job")),
        ]);
        assert_eq!(ids(&got), vec![vec!["root", "orphan"], vec!["child"], vec!["grandchild"]]);
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let got = levels(vec![planned("a", Some("b")), planned("b", Some("a"))]);
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 2);
    }
}
