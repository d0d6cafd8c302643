//! Comparing what a migration left at its destination with its source, run by run.
//!
//! Either side is a tracking server's experiment or an experiment export folder. Destination
//! runs are matched to source runs by their source-identity tag (or by id, for exports, which
//! keep ids). Everything the tool carries is compared: name, status, times, user, lifecycle,
//! params, tags (our own bookkeeping tags aside; parent and root links through the match, when
//! the linked run is part of the comparison),
//! every metric point, dataset inputs, and the artifact files with their sizes.

use std::collections::{BTreeMap, HashMap};

use crate::{
    identity,
    model::{ArtifactFile, RunRecord},
    store::RunSource,
    Result,
};

/// One side of a comparison: its runs, each with its artifact files.
pub struct Side {
    pub runs: Vec<(RunRecord, Vec<ArtifactFile>)>,
}

impl Side {
    /// Reads `run_ids` from `source` completely (full metric histories, artifact listings).
    pub async fn read(source: &dyn RunSource, run_ids: &[String]) -> Result<Self> {
        let mut runs = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            let mut run = source.read_run(id).await?;
            source.complete_metrics(&mut run).await?;
            let files = source.list_artifacts(&run).await?;
            runs.push((run, files));
        }
        Ok(Self { runs })
    }
}

/// The runs of an experiment of a server (deleted ones included), read completely.
pub async fn server_side(source: &crate::store::rest::RestSource, experiment: &str) -> Result<Side> {
    let exp = source.find_experiment(experiment).await?;
    let filter = crate::select::RunFilter { include_deleted: true, ..Default::default() };
    let ids: Vec<String> = source.plan_runs(&exp, &filter).await?.into_iter().map(|(id, _)| id).collect();
    Side::read(source, &ids).await
}

/// The runs of an experiment export folder, read completely.
pub async fn export_side(dir: &std::path::Path) -> Result<Side> {
    let exp =
        crate::format::experiment_json::read_experiment_dir(dir).map_err(|e| crate::Error::Input(e.to_string()))?;
    let source = crate::store::dir::DirSource::tree(exp.runs.iter().map(|r| (r.run_id.clone(), r.dir.clone())));
    let ids: Vec<String> = exp.runs.into_iter().map(|r| r.run_id).collect();
    Side::read(&source, &ids).await
}

/// Every difference found, as lines a person can read; empty when the sides agree.
pub fn compare(src: &Side, dst: &Side) -> Vec<String> {
    let mut diffs = Vec::new();
    let key = |r: &RunRecord| r.tags.get(identity::SOURCE_RUN_ID).cloned().unwrap_or_else(|| r.meta.run_id.clone());
    let mut by_source: HashMap<String, Vec<&(RunRecord, Vec<ArtifactFile>)>> = HashMap::new();
    for d in &dst.runs {
        by_source.entry(key(&d.0)).or_default().push(d);
    }
    let mapped: HashMap<String, String> =
        by_source.iter().filter(|(_, v)| v.len() == 1).map(|(k, v)| (k.clone(), v[0].0.meta.run_id.clone())).collect();
    for (s, s_files) in &src.runs {
        let id = &s.meta.run_id;
        match by_source.get(id).map(Vec::as_slice) {
            None | Some([]) => diffs.push(format!("run {id}: missing at the destination")),
            Some([(d, d_files)]) => {
                let at = format!("run {id} -> {}", d.meta.run_id);
                compare_run(s, d, &mapped, &at, &mut diffs);
                compare_files(s_files, d_files, &at, &mut diffs);
            }
            Some(many) => diffs.push(format!("run {id}: {} copies at the destination", many.len())),
        }
    }
    let known: std::collections::HashSet<&str> = src.runs.iter().map(|(r, _)| r.meta.run_id.as_str()).collect();
    for (d, _) in &dst.runs {
        if !known.contains(key(d).as_str()) {
            diffs.push(format!("run {}: at the destination only", d.meta.run_id));
        }
    }
    diffs
}

fn compare_run(s: &RunRecord, d: &RunRecord, mapped: &HashMap<String, String>, at: &str, diffs: &mut Vec<String>) {
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{at}: {name}: {a} != {b}"));
        }
    };
    field("run_name", format!("{:?}", s.meta.run_name), format!("{:?}", d.meta.run_name));
    field("status", format!("{:?}", s.meta.status), format!("{:?}", d.meta.status));
    field("start_time", format!("{:?}", s.meta.start_time), format!("{:?}", d.meta.start_time));
    field("end_time", format!("{:?}", s.meta.end_time), format!("{:?}", d.meta.end_time));
    field("user_id", format!("{:?}", s.meta.user_id), format!("{:?}", d.meta.user_id));
    field("lifecycle_stage", s.meta.lifecycle_stage.clone(), d.meta.lifecycle_stage.clone());
    field("dataset_inputs", format!("{:?}", s.dataset_inputs), format!("{:?}", d.dataset_inputs));
    compare_maps("params", &s.params, &d.params, at, diffs);
    let links = ["mlflow.parentRunId", "mlflow.rootRunId"];
    let ours = |k: &String| k.starts_with(identity::PREFIX) && !k.starts_with("mlflow_export_import.metadata.");
    // A link to a run outside the compared experiment cannot be followed here; it is left out
    // on both sides rather than reported.
    let outside = |k: &String, v: &String| links.contains(&k.as_str()) && !mapped.contains_key(v);
    let skipped: Vec<&String> = s.tags.iter().filter(|(k, v)| outside(k, v)).map(|(k, _)| k).collect();
    let src_tags: BTreeMap<String, String> = s
        .tags
        .iter()
        .filter(|(k, v)| !ours(k) && !outside(k, v))
        .map(|(k, v)| (k.clone(), if links.contains(&k.as_str()) { mapped[v].clone() } else { v.clone() }))
        .collect();
    let dst_tags: BTreeMap<String, String> =
        d.tags.iter().filter(|(k, _)| !ours(k) && !skipped.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    compare_maps("tags", &src_tags, &dst_tags, at, diffs);
    for key in s.metrics.keys().chain(d.metrics.keys().filter(|k| !s.metrics.contains_key(*k))) {
        let (a, b) = (s.metrics.get(key), d.metrics.get(key));
        let (a, b) = (a.map_or(&[][..], Vec::as_slice), b.map_or(&[][..], Vec::as_slice));
        if a.len() != b.len() {
            diffs.push(format!("{at}: metric {key}: {} points != {}", a.len(), b.len()));
            continue;
        }
        if let Some(i) = a.iter().zip(b).position(|(x, y)| {
            x.step != y.step
                || x.timestamp != y.timestamp
                || !(x.value == y.value || x.value.is_nan() && y.value.is_nan())
        }) {
            diffs.push(format!("{at}: metric {key}: point {i}: {:?} != {:?}", a[i], b[i]));
        }
    }
}

fn compare_maps(
    what: &str,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    at: &str,
    diffs: &mut Vec<String>,
) {
    for (k, v) in a {
        match b.get(k) {
            None => diffs.push(format!("{at}: {what}.{k}: missing at the destination")),
            Some(w) if w != v => diffs.push(format!("{at}: {what}.{k}: {v:?} != {w:?}")),
            Some(_) => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        diffs.push(format!("{at}: {what}.{k}: at the destination only"));
    }
}

fn compare_files(a: &[ArtifactFile], b: &[ArtifactFile], at: &str, diffs: &mut Vec<String>) {
    let a: BTreeMap<&str, Option<u64>> = a.iter().map(|f| (f.path.as_str(), f.size)).collect();
    let b: BTreeMap<&str, Option<u64>> = b.iter().map(|f| (f.path.as_str(), f.size)).collect();
    for (p, size) in &a {
        match (size, b.get(p)) {
            (_, None) => diffs.push(format!("{at}: artifact {p}: missing at the destination")),
            // A size a listing did not give cannot be said to differ.
            (Some(size), Some(Some(s))) if s != size => diffs.push(format!("{at}: artifact {p}: {size} bytes != {s}")),
            _ => {}
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        diffs.push(format!("{at}: artifact {p}: at the destination only"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MetricPoint, RunMeta};

    fn run(id: &str, tags: &[(&str, &str)]) -> RunRecord {
        let mut r = RunRecord {
            meta: RunMeta { run_id: id.into(), lifecycle_stage: "active".into(), ..Default::default() },
            ..Default::default()
        };
        r.tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        r.params.insert("p".into(), "1".into());
        r.metrics.insert("m".into(), vec![MetricPoint { value: f64::NAN, timestamp: 1, step: 0 }]);
        r
    }

    fn side(runs: Vec<RunRecord>) -> Side {
        Side {
            runs: runs
                .into_iter()
                .map(|r| (r, vec![ArtifactFile { path: "a".into(), size: Some(3), sha256: None }]))
                .collect(),
        }
    }

    #[test]
    fn equal_copies_have_no_differences_and_links_go_through_the_match() {
        let src = side(vec![run("p", &[]), run("c", &[("mlflow.parentRunId", "p")])]);
        let dst = side(vec![
            run("P", &[(identity::SOURCE_RUN_ID, "p"), (identity::COMPLETE, "true")]),
            run("C", &[(identity::SOURCE_RUN_ID, "c"), ("mlflow.parentRunId", "P")]),
        ]);
        assert_eq!(compare(&src, &dst), Vec::<String>::new());
    }

    #[test]
    fn every_kind_of_difference_is_named() {
        let src = side(vec![run("a", &[("t", "1")]), run("gone", &[])]);
        let mut d = run("A", &[(identity::SOURCE_RUN_ID, "a"), ("t", "2")]);
        d.metrics.get_mut("m").unwrap()[0].step = 5;
        d.params.clear();
        let mut dst = side(vec![d, run("extra", &[])]);
        dst.runs[0].1[0].size = Some(2);
        let diffs = compare(&src, &dst);
        for want in [
            "tags.t",
            "params.p",
            "metric m: point 0",
            "artifact a: 3 bytes != 2",
            "run gone: missing",
            "run extra: at the destination only",
        ] {
            assert!(diffs.iter().any(|d| d.contains(want)), "{want} not in {diffs:#?}");
        }
    }
}
