//! Comparing the MLflow 3 logged models of two experiments, and the links their runs have to
//! them. A destination model is matched to its source by its source-identity tag (or its own
//! id, in an export, which keeps ids); runs through the run match.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use mlflow_client::types::{LoggedModelMetric, ModelInput, ModelOutput};

use crate::{
    identity,
    model::LoggedModelRecord,
    store::{
        dir::{read_logged_models, read_run_dir},
        tracking::TrackingSource,
    },
    Result,
};

/// One side's logged models, and each run's model inputs and outputs (read only when the
/// experiment has logged models).
#[derive(Default)]
pub(super) struct Models {
    records: Vec<LoggedModelRecord>,
    links: HashMap<String, (Vec<ModelInput>, Vec<ModelOutput>)>,
}

impl Models {
    pub(super) async fn server(source: &dyn TrackingSource, experiment_id: &str, run_ids: &[String]) -> Result<Self> {
        let records = source.list_logged_models(experiment_id).await?;
        if records.is_empty() {
            return Ok(Self::default());
        }
        let links = run_ids.iter().cloned().zip(source.model_links(run_ids).await?).collect();
        Ok(Self { records, links })
    }

    pub(super) fn export(dir: &Path, runs: &HashMap<String, PathBuf>) -> Result<Self> {
        let records = read_logged_models(dir)?;
        if records.is_empty() {
            return Ok(Self::default());
        }
        let mut links = HashMap::new();
        for (id, run_dir) in runs {
            let run = read_run_dir(run_dir)?.run;
            links.insert(id.clone(), (run.model_inputs, run.model_outputs));
        }
        Ok(Self { records, links })
    }

    /// Each model with the source model it is a copy of.
    fn copy_of(m: &LoggedModelRecord) -> &str {
        m.tags.get(identity::SOURCE_MODEL_ID).unwrap_or(&m.model_id)
    }

    /// The models by the source model each is a copy of.
    fn by_source(&self) -> HashMap<&str, Vec<&LoggedModelRecord>> {
        let mut copies: HashMap<&str, Vec<&LoggedModelRecord>> = HashMap::new();
        for m in &self.records {
            copies.entry(Self::copy_of(m)).or_default().push(m);
        }
        copies
    }
}

/// Each source model with its one copy at the destination (those with none or several are
/// left out).
pub(super) fn one_copy(src: &Models, dst: &Models) -> HashMap<String, String> {
    let copies = dst.by_source();
    src.records
        .iter()
        .filter_map(|s| match copies.get(s.model_id.as_str()).map(Vec::as_slice) {
            Some([d]) => Some((s.model_id.clone(), d.model_id.clone())),
            _ => None,
        })
        .collect()
}

/// Every difference between the sides' logged models and run links; `runs` maps each source
/// run to its one copy.
pub(super) fn compare(src: &Models, dst: &Models, runs: &HashMap<&str, &str>) -> Vec<String> {
    let mut diffs = Vec::new();
    let copies = dst.by_source();
    let known: BTreeSet<&str> = src.records.iter().map(|m| m.model_id.as_str()).collect();
    let mut mapped: HashMap<&str, &str> = HashMap::new();
    for s in &src.records {
        let at = format!("logged model {}", s.model_id);
        match copies.get(s.model_id.as_str()).map(Vec::as_slice) {
            None | Some([]) => diffs.push(format!("{at}: missing at the destination")),
            Some([d]) => {
                mapped.insert(&s.model_id, &d.model_id);
                compare_model(s, d, runs, &format!("{at} -> {}", d.model_id), &mut diffs);
            }
            Some(many) => diffs.push(format!("{at}: {} copies at the destination", many.len())),
        }
    }
    for d in &dst.records {
        if !known.contains(Models::copy_of(d)) {
            diffs.push(format!("logged model {}: at the destination only", d.model_id));
        }
    }
    // Each source run's links, through the model match, against its copy's.
    let mut src_runs: Vec<&String> = src.links.keys().collect();
    src_runs.sort();
    for run in src_runs {
        let Some(copy) = runs.get(run.as_str()) else { continue };
        let (s_in, s_out) = &src.links[run];
        let (d_in, d_out) = dst.links.get(*copy).cloned().unwrap_or_default();
        let want_in: BTreeSet<&str> = s_in.iter().filter_map(|i| mapped.get(i.model_id.as_str()).copied()).collect();
        let have_in: BTreeSet<&str> = d_in.iter().map(|i| i.model_id.as_str()).collect();
        if want_in != have_in {
            diffs.push(format!("run {run} -> {copy}: model inputs: {want_in:?} != {have_in:?}"));
        }
        let want_out: BTreeSet<(&str, i64)> =
            s_out.iter().filter_map(|o| Some((*mapped.get(o.model_id.as_str())?, o.step))).collect();
        let have_out: BTreeSet<(&str, i64)> = d_out.iter().map(|o| (o.model_id.as_str(), o.step)).collect();
        if want_out != have_out {
            diffs.push(format!("run {run} -> {copy}: model outputs: {want_out:?} != {have_out:?}"));
        }
    }
    diffs
}

fn compare_model(
    s: &LoggedModelRecord,
    d: &LoggedModelRecord,
    runs: &HashMap<&str, &str>,
    at: &str,
    diffs: &mut Vec<String>,
) {
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{at}: {name}: {a} != {b}"));
        }
    };
    field("name", s.name.clone(), d.name.clone());
    // A server answers "" for a model without a type; a file store holds none.
    let model_type = |m: &LoggedModelRecord| m.model_type.clone().unwrap_or_default();
    field("model_type", model_type(s), model_type(d));
    field("params", format!("{:?}", s.params), format!("{:?}", d.params));
    field("status", s.final_status().to_string(), d.final_status().to_string());
    // The registry writes `mlflow.modelVersions` itself as versions are made from the copy.
    let kept = |tags: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        tags.iter()
            .filter(|(k, _)| !k.starts_with(identity::PREFIX) && k.as_str() != "mlflow.modelVersions")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    field("tags", format!("{:?}", kept(&s.tags)), format!("{:?}", kept(&d.tags)));
    // A run outside the compared experiment cannot be followed; it is left out on both sides.
    let through = |run: &Option<String>| run.as_deref().map(|r| runs.get(r).copied().unwrap_or(r).to_string());
    if s.source_run_id.as_deref().is_none_or(|r| runs.contains_key(r)) {
        field("source_run_id", format!("{:?}", through(&s.source_run_id)), format!("{:?}", d.source_run_id));
    }
    let points = |ms: &[LoggedModelMetric], map: bool| -> Vec<String> {
        let mut out: Vec<String> = ms
            .iter()
            .filter(|m| !map || m.run_id.as_deref().is_some_and(|r| runs.contains_key(r)))
            .map(|m| {
                let run = if map { through(&m.run_id) } else { m.run_id.clone() };
                format!(
                    "{} = {} at step {}, time {}, run {:?}, dataset {:?} {:?}",
                    m.key, m.value, m.step, m.timestamp, run, m.dataset_name, m.dataset_digest
                )
            })
            .collect();
        out.sort();
        out
    };
    let (a, b) = (points(&s.metrics, true), points(&d.metrics, false));
    if a != b {
        diffs.push(format!("{at}: metrics: {a:?} != {b:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, run: &str, tags: &[(&str, &str)]) -> LoggedModelRecord {
        LoggedModelRecord {
            model_id: id.into(),
            name: "echo".into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            source_run_id: Some(run.into()),
            metrics: vec![LoggedModelMetric {
                key: "acc".into(),
                value: 0.5,
                run_id: Some(run.into()),
                dataset_name: Some("d".into()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn side(m: LoggedModelRecord, run: &str, step: i64) -> Models {
        let out = vec![ModelOutput { model_id: m.model_id.clone(), step }];
        Models { records: vec![m], links: [(run.to_string(), (Vec::new(), out))].into() }
    }

    #[test]
    fn copies_match_through_their_tag_and_differences_are_named() {
        let runs: HashMap<&str, &str> = [("r1", "r2")].into();
        let src = side(model("m-1", "r1", &[("team", "a")]), "r1", 3);
        let same = side(model("m-2", "r2", &[("team", "a"), (identity::SOURCE_MODEL_ID, "m-1")]), "r2", 3);
        assert_eq!(compare(&src, &same, &runs), Vec::<String>::new());
        let mut other = model("m-2", "r2", &[("team", "b"), (identity::SOURCE_MODEL_ID, "m-1")]);
        other.metrics[0].dataset_name = None;
        other.status = Some(crate::model::LOGGED_MODEL_PENDING.into());
        let diffs = compare(&src, &side(other, "r2", 4), &runs);
        assert_eq!(diffs.len(), 4, "{diffs:?}");
        assert!(diffs[0].contains("status: LOGGED_MODEL_READY != LOGGED_MODEL_PENDING"), "{diffs:?}");
        assert!(diffs[1].contains("tags") && diffs[2].contains("metrics") && diffs[3].contains("model outputs"));
        let missing = compare(&src, &Models::default(), &runs);
        assert_eq!(missing, vec!["logged model m-1: missing at the destination".to_string()]);
    }
}
