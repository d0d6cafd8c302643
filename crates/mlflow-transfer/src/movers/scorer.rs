//! The scorer mover: every scorer registered on one experiment, each name with all its
//! versions in order. Scorers carry no tags, so an earlier copy is found by content: the
//! destination's versions of a name must be the source's first ones (then only the rest are
//! registered) or end with the source's latest (then it is up to date). Anything else was
//! made at the destination by someone else and is left alone, with an error saying so.

use std::sync::Arc;

use crate::{
    job::{Deps, JobContext, Outcome, ScorerOutcome},
    store::{Scorer, ScorerStore},
    Result,
};

/// The scorers of one experiment to move.
pub struct ScorerMove {
    /// The source experiment's id, and its name for the report.
    pub experiment_id: String,
    pub experiment_name: String,
    pub source: Arc<dyn ScorerStore>,
    /// At a server, the experiment is the one its `Open` step (a dependency) found or made.
    pub sink: Arc<dyn ScorerStore>,
}

impl ScorerMove {
    pub async fn execute(&self, deps: &Deps, _ctx: &JobContext) -> Outcome {
        if deps.iter().any(|d| matches!(d, Outcome::Failed { .. })) {
            // The destination experiment could not be prepared; its own outcome says why.
            return Outcome::Scorers(Vec::new());
        }
        let destination = deps
            .iter()
            .find_map(|d| match d {
                Outcome::ExperimentReady { experiment_id, .. } => Some(experiment_id.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        match self.transfer(destination).await {
            Ok(outcomes) => Outcome::Scorers(outcomes),
            Err(e) => Outcome::Scorers(vec![ScorerOutcome {
                experiment: self.experiment_name.clone(),
                name: "(all)".into(),
                versions_created: 0,
                versions_skipped: 0,
                error: Some(e.to_string()),
                retryable: e.is_transient(),
            }]),
        }
    }

    async fn transfer(&self, destination: &str) -> Result<Vec<ScorerOutcome>> {
        let source = self.source.scorers(&self.experiment_id).await?;
        if source.is_empty() {
            return Ok(Vec::new());
        }
        let have = self.sink.scorers(destination).await?;
        let mut outcomes = Vec::new();
        for (name, versions) in source {
            let mut outcome = ScorerOutcome {
                experiment: self.experiment_name.clone(),
                name: name.clone(),
                versions_created: 0,
                versions_skipped: 0,
                error: None,
                retryable: false,
            };
            match missing_from(&versions, have.get(&name).map_or(&[], Vec::as_slice)) {
                Ok(first_missing) => {
                    let todo = &versions[first_missing..];
                    match self.sink.add_scorer_versions(destination, &name, todo).await {
                        Ok(()) => (outcome.versions_created, outcome.versions_skipped) = (todo.len(), first_missing),
                        Err(e) => (outcome.error, outcome.retryable) = (Some(e.to_string()), e.is_transient()),
                    }
                }
                Err(why) => outcome.error = Some(format!("scorer {name:?}: {why}")),
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

/// Where the source's versions the destination lacks begin (`source.len()` when it lacks
/// none), or why the destination's versions are not a copy of them.
fn missing_from(source: &[Scorer], have: &[Scorer]) -> std::result::Result<usize, String> {
    let same = |a: &Scorer, b: &Scorer| a.serialized_scorer == b.serialized_scorer;
    if have.len() <= source.len() && have.iter().zip(source).all(|(h, s)| same(h, s)) {
        return Ok(have.len());
    }
    if let (Some(h), Some(s)) = (have.last(), source.last()) {
        if same(h, s) {
            return Ok(source.len());
        }
    }
    Err(format!(
        "the destination holds {} version(s) that are not the source's first ones and do not end with its \
         latest; left as they are",
        have.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(texts: &[&str]) -> Vec<Scorer> {
        (1..)
            .zip(texts)
            .map(|(version, t)| Scorer {
                name: "s".into(),
                version,
                serialized_scorer: t.to_string(),
                creation_time: None,
                scorer_id: None,
            })
            .collect()
    }

    #[test]
    fn only_what_the_destination_lacks_is_registered() {
        let source = versions(&["a", "b", "c"]);
        assert_eq!(missing_from(&source, &[]), Ok(0));
        assert_eq!(missing_from(&source, &versions(&["a"])), Ok(1));
        assert_eq!(missing_from(&source, &versions(&["a", "b", "c"])), Ok(3));
        // Re-registered at the destination after the copy: up to date.
        assert_eq!(missing_from(&source, &versions(&["a", "b", "c", "x", "c"])), Ok(3));
        // Someone else's scorer of that name.
        assert!(missing_from(&source, &versions(&["x"])).is_err());
        assert!(missing_from(&source, &versions(&["a", "b", "c", "d"])).is_err());
    }
}
