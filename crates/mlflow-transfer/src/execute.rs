//! The executor: runs any plan. Steps go in levels, each step after everything it depends on;
//! within a level they run concurrently, bounded by `--concurrency`. A step that failed for a
//! reason that may be transient (network, throttling, 5xx) gets up to `retry_passes` more
//! attempts once the rest of its level is done, before anything that depends on it starts.
//! Every step runs, whatever its dependencies did: each mover decides what a failed
//! dependency means for its object (a version whose run failed says so), so one bad object
//! never stops the others and every failure is reported against the object it hit.

use std::sync::{Arc, Mutex};

use futures::{stream, StreamExt};

use crate::{
    job::{Deps, JobContext, JobResult, Outcome},
    plan::{Move, Plan, Step},
};

/// Runs every step of `plan`.
pub async fn execute(plan: Plan, ctx: &JobContext) -> JobResult {
    run(plan, ctx, false).await
}

/// What `plan` would do, writing nothing (`--dry-run` into a server): each run is looked up at
/// the destination and comes out created, resumed, updated or skipped; the copies `--delete`
/// would delete are listed. Other objects are not looked up. One pass, no retries.
pub async fn probe(plan: Plan, ctx: &JobContext) -> JobResult {
    run(plan, ctx, true).await
}

async fn run(plan: Plan, ctx: &JobContext, probing: bool) -> JobResult {
    let runs = plan.runs();
    ctx.reporter.runs_planned(runs);
    let passes = if probing { 1 } else { ctx.opts.retry_passes.saturating_add(1) };
    // Each outcome goes into its slot as it comes: a level of 100,000 runs is never held twice
    // (once as it finishes and once in the table). The lock is taken only between awaits, so
    // it is never contended; it lets the steps read the outcomes of earlier levels meanwhile.
    let outcomes: Mutex<Vec<Option<Arc<Outcome>>>> = Mutex::new(vec![None; plan.steps.len()]);
    for level in levels(&plan.steps) {
        let mut todo = level;
        for pass in 1..=passes {
            if pass > 1 {
                let runs = todo.iter().filter(|&&i| matches!(plan.steps[i].what, Move::Run(_))).count();
                tracing::info!(steps = todo.len(), pass, "retrying what failed transiently");
                ctx.reporter.runs_planned(runs);
            }
            let outcomes = &outcomes;
            let mut done = stream::iter(std::mem::take(&mut todo))
                .map(|i| {
                    let deps: Deps = {
                        let table = outcomes.lock().expect("poisoned");
                        plan.steps[i].deps.iter().filter_map(|&d| table[d].clone()).collect::<Vec<_>>().into()
                    };
                    let step = &plan.steps[i];
                    async move {
                        let outcome = match &step.what {
                            Move::Experiment(m) if probing => m.probe(&deps, ctx).await,
                            Move::Run(m) if probing => m.probe(&deps, ctx).await,
                            _ if probing => Outcome::Indexed,
                            _ => run_step(step, &deps, ctx).await,
                        };
                        (i, outcome)
                    }
                })
                .buffer_unordered(ctx.opts.concurrency.max(1));
            while let Some((i, mut outcome)) = done.next().await {
                set_attempts(&mut outcome, pass);
                if outcome.failure().is_some_and(|(_, retryable)| retryable) {
                    todo.push(i);
                }
                outcomes.lock().expect("poisoned")[i] = Some(Arc::new(outcome));
            }
            if todo.is_empty() {
                break;
            }
            todo.sort_unstable();
        }
    }
    // Every step is done, so no step holds an outcome any more: each is taken, not copied. The
    // steps go first.
    drop(plan);
    let outcomes = outcomes.into_inner().expect("poisoned").into_iter().flatten();
    JobResult::of(outcomes.map(|o| Arc::try_unwrap(o).unwrap_or_else(|shared| (*shared).clone())), runs)
}

async fn run_step(step: &Step, deps: &Deps, ctx: &JobContext) -> Outcome {
    tracing::debug!(step = %step.label(), "step");
    match &step.what {
        Move::Experiment(m) => m.execute(deps, ctx).await,
        Move::ExperimentIndex(m) => m.execute(deps, ctx).await,
        Move::Run(m) => m.execute(deps, ctx).await,
        Move::LoggedModel(m) => m.execute(deps, ctx).await,
        Move::Model(m) => m.execute(deps, ctx).await,
        Move::Version(m) => m.execute(deps, ctx).await,
        Move::ModelIndex(m) => m.execute(deps, ctx).await,
        Move::Scorers(m) => m.execute(deps, ctx).await,
        Move::Webhooks(m) => m.execute(deps, ctx).await,
        Move::Prompt(m) => m.execute(deps, ctx).await,
        Move::PromptIndex(m) => m.execute(deps, ctx).await,
        Move::Trace(m) => m.execute(deps, ctx).await,
        Move::Index(m) => m.execute(deps, ctx).await,
        Move::EvaluationDataset(m) => m.execute(deps, ctx).await,
    }
}

fn set_attempts(outcome: &mut Outcome, pass: u32) {
    match outcome {
        Outcome::Run(o) => o.attempts = pass,
        Outcome::LoggedModel(o) => o.attempts = pass,
        Outcome::Trace(o) => o.attempts = pass,
        Outcome::EvaluationDataset(o) => o.attempts = pass,
        _ => {}
    }
}

/// Groups steps so that each comes after every step it depends on (Kahn's algorithm, linear
/// in steps and links). Steps caught in a dependency cycle, which the planner never makes, go
/// last rather than hang the job.
fn levels(steps: &[Step]) -> Vec<Vec<usize>> {
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for &d in &s.deps {
            dependents[d].push(i);
        }
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut ready: Vec<usize> = (0..steps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut placed = 0;
    while !ready.is_empty() {
        let mut next = Vec::new();
        for &i in &ready {
            for &j in &dependents[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    next.push(j);
                }
            }
        }
        placed += ready.len();
        next.sort_unstable();
        out.push(std::mem::replace(&mut ready, next));
    }
    if placed < steps.len() {
        out.push((0..steps.len()).filter(|&i| waiting[i] > 0).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        job::Phase,
        model::ExperimentRecord,
        movers::experiment::{ExperimentDestination, ExperimentMove},
    };

    fn step(deps: &[usize]) -> Step {
        let what = ExperimentMove {
            record: ExperimentRecord::default(),
            destination: ExperimentDestination::Folder { dir: "/nonexistent".into(), system: Default::default() },
            phase: Phase::Open,
            error: None,
            shard: None,
        };
        Step::new(String::new(), deps.to_vec(), Move::Experiment(Box::new(what)))
    }

    #[test]
    fn dependencies_come_first() {
        // 0 <- 2 <- 1, 3 alone, 4 after 1 and 3.
        let steps = vec![step(&[]), step(&[2]), step(&[0]), step(&[]), step(&[1, 3])];
        assert_eq!(levels(&steps), vec![vec![0, 3], vec![2], vec![1], vec![4]]);
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let steps = vec![step(&[1]), step(&[0]), step(&[])];
        let got = levels(&steps);
        assert_eq!(got, vec![vec![2], vec![0, 1]]);
    }
}
