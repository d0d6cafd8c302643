//! Source identity: the tags that tie a destination object to the object it was copied from.
//!
//! Every run we create carries these tags from the moment it is created, and the completion
//! marker is written last, after data, artifacts and final status. A re-run looks the source
//! run up at the destination: complete means skip, present but incomplete means finish it in
//! place (every write we make is an idempotent upsert), absent means create. The destination's
//! tags are the truth; nothing else needs to survive an interruption.

use std::collections::BTreeMap;

/// A tracking URI as recorded on a copy: without credentials.
pub use mlflow_client::redact;

/// Namespace of every tag the tool itself writes.
pub const PREFIX: &str = "mlflow_export_import.";
/// Tracking URI of the server the object was first read from (credentials removed).
pub const SOURCE_TRACKING_URI: &str = "mlflow_export_import.source.tracking_uri";
/// Id of the source run.
pub const SOURCE_RUN_ID: &str = "mlflow_export_import.source.run_id";
/// Id of the source run's experiment.
pub const SOURCE_EXPERIMENT_ID: &str = "mlflow_export_import.source.experiment_id";
/// Name of the source run's experiment, when known.
pub const SOURCE_EXPERIMENT_NAME: &str = "mlflow_export_import.source.experiment_name";
/// Written last: the run holds everything the source had.
pub const COMPLETE: &str = "mlflow_export_import.complete";
/// What the source run looked like when its copy was last brought in step ([`run_state`]): a
/// later job compares it with the source's state now, from the run-search pages both sides are
/// read in anyway, so an unchanged run costs no request of its own.
pub const SOURCE_STATE: &str = "mlflow_export_import.source.state";

/// Tag on a copied model version naming the source model.
pub const SOURCE_MODEL: &str = "mlflow_export_import.source.model";
/// Tag on a copied model version naming the source version number.
pub const SOURCE_VERSION: &str = "mlflow_export_import.source.version";
/// Tag on a model version created only to advance the numbering; such versions are deleted.
pub const PLACEHOLDER: &str = "mlflow_export_import.placeholder";
/// Tag on a copied logged model naming the source model id.
pub const SOURCE_MODEL_ID: &str = "mlflow_export_import.source.model_id";
/// Tag on a copied trace naming the source trace id.
pub const SOURCE_TRACE_ID: &str = "mlflow_export_import.source.trace_id";

/// A tag the destination refused to store (Databricks forbids `mlflow.user`, …): the copy keeps
/// its value under this prefix and the key, so that nothing is lost and a later copy to a
/// destination that takes the tag puts it back ([`restore_refused`]).
pub const REFUSED_TAG: &str = "mlflow_export_import.refused_tag.";

/// The user of a source run whose copy's destination records its own caller instead (a
/// workspace's token user): kept so that a later copy out restores it ([`restore_refused`]).
pub const REFUSED_USER: &str = "mlflow_export_import.refused_field.user_id";

/// The stage of a source version whose copy is in a registry without stages (Unity Catalog).
pub const REFUSED_STAGE: &str = "mlflow_export_import.refused_field.current_stage";

/// Moves each of `keys` present in `tags` to a [`REFUSED_TAG`] tag; returns the keys moved.
pub fn refuse_tags(tags: &mut BTreeMap<String, String>, keys: &[&str]) -> Vec<String> {
    let mut refused = Vec::new();
    for key in keys {
        if let Some(value) = tags.remove(*key) {
            tags.insert(format!("{REFUSED_TAG}{key}"), value);
            refused.push((*key).to_string());
        }
    }
    refused
}

/// Puts each [`REFUSED_TAG`] tag back under its own key and removes the refused tags: they
/// describe the copy they sit on, not the next one. The kept value wins over one under the key:
/// a destination that refuses a tag may set it itself (a workspace's `mlflow.user` is the
/// token's user), and the source's value is the one to copy on.
pub fn restore_refused(tags: &mut BTreeMap<String, String>) {
    let refused: Vec<(String, String)> =
        tags.iter().filter_map(|(k, v)| Some((k.strip_prefix(REFUSED_TAG)?.to_string(), v.clone()))).collect();
    for (key, value) in refused {
        tags.remove(&format!("{REFUSED_TAG}{key}"));
        tags.insert(key, value);
    }
}

/// Prefixes inside [`PREFIX`] that are lineage, not identity: the Python tool's 1.0 and 1.1
/// releases wrote the source's export metadata, run info and `mlflow.*` tags under them into
/// `run.json` (`--export-source-tags`; builds of early 2022 wrote `metadata.` with
/// `--export-metadata-tags`), and their importer logged them like any other tag. They are the
/// export's data, to be copied, and say nothing about the copy they sit on.
pub const LINEAGE_PREFIXES: [&str; 3] =
    ["mlflow_export_import.metadata.", "mlflow_export_import.run_info.", "mlflow_export_import.mlflow."];

/// The Python tool's `--import-source-tags` namespace for an object's source fields.
const SOURCE_FIELD: &str = "mlflow_exim.field";

/// `--import-source-tags` as the Python tool writes it on experiments and model versions:
/// each source field as `mlflow_exim.field.<name>`, and each epoch-ms timestamp both as is and
/// as UTC text under `mlflow_exim.field._<name>`. An absent field is left out (the Python tool
/// writes the text `None`).
pub fn source_field_tags(
    fields: &[(&str, Option<String>)],
    timestamps: &[(&str, Option<i64>)],
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> =
        fields.iter().filter_map(|(k, v)| Some((format!("{SOURCE_FIELD}.{k}"), v.clone()?))).collect();
    for (k, ms) in timestamps {
        if let Some(ms) = ms {
            tags.insert(format!("{SOURCE_FIELD}.{k}"), ms.to_string());
            tags.insert(format!("{SOURCE_FIELD}._{k}"), crate::format::utc_text(ms.div_euclid(1000)));
        }
    }
    tags
}

/// Whether `key` is a tag this tool writes about the object it sits on (identity, completion,
/// placeholder), as opposed to data, lineage from an old export included.
pub fn is_own_tag(key: &str) -> bool {
    key.starts_with(PREFIX) && !LINEAGE_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The source version a destination model version is our copy of, by its identity tags.
pub fn copied_version<'a>(
    v: &'a mlflow_client::types::ModelVersion,
    src_model: &str,
    tracking_uri: Option<&str>,
) -> Option<&'a str> {
    copied_from(|k| v.tags.iter().find(|t| t.key == k).map(|t| t.value.as_str()), src_model, tracking_uri)
}

/// The source version an object with these tags (`tag` looks one up) is our copy of: its
/// source model is `src_model`, from the server `tracking_uri` when both sides know it.
pub fn copied_from<'a>(
    tag: impl Fn(&str) -> Option<&'a str>,
    src_model: &str,
    tracking_uri: Option<&str>,
) -> Option<&'a str> {
    let same_server = tracking_uri.is_none_or(|u| tag(SOURCE_TRACKING_URI).is_none_or(|t| same_server(t, u)));
    (tag(SOURCE_MODEL) == Some(src_model) && same_server).then(|| tag(SOURCE_VERSION)).flatten()
}

/// Whether two tracking URIs name the same server, however they are spelled: a user may copy
/// once via `http://localhost:5000/` and again via `http://127.0.0.1:5000`, and the second job
/// must find the first one's copies. Compared on [`server_key`].
pub fn same_server(a: &str, b: &str) -> bool {
    a == b || server_key(a) == server_key(b)
}

/// A tracking URI reduced to what names the server: scheme and host in lower case, every
/// loopback name as `localhost`, no default port, no credentials, query or fragment, and a path
/// without empty segments or trailing slash. A URI that does not parse is kept as written.
pub fn server_key(uri: &str) -> String {
    let Ok(u) = url::Url::parse(uri.trim()) else { return uri.trim().to_string() };
    let host = match u.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => "localhost".to_string(),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => "localhost".to_string(),
        Some(h) => h.to_string().to_ascii_lowercase(),
        None => String::new(),
    };
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path: Vec<&str> = u.path().split('/').filter(|s| !s.is_empty()).collect();
    format!("{}://{host}{port}/{}", u.scheme(), path.join("/"))
}

/// Who a destination object stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIdentity {
    pub tracking_uri: Option<String>,
    pub run_id: String,
    pub experiment_id: String,
    pub experiment_name: Option<String>,
}

impl SourceIdentity {
    /// The identity a run carries at its destination (the tracking URI without credentials).
    pub fn of_run(run: &crate::model::RunRecord) -> Self {
        SourceIdentity {
            tracking_uri: run.origin.tracking_uri.as_deref().map(mlflow_client::redact),
            run_id: run.meta.run_id.clone(),
            experiment_id: run.meta.experiment_id.clone(),
            experiment_name: run.origin.experiment_name.clone(),
        }
    }

    pub fn tags(&self) -> Vec<(String, String)> {
        let mut t = vec![
            (SOURCE_RUN_ID.to_string(), self.run_id.clone()),
            (SOURCE_EXPERIMENT_ID.to_string(), self.experiment_id.clone()),
        ];
        if let Some(u) = &self.tracking_uri {
            t.push((SOURCE_TRACKING_URI.to_string(), u.clone()));
        }
        if let Some(n) = &self.experiment_name {
            t.push((SOURCE_EXPERIMENT_NAME.to_string(), n.clone()));
        }
        t
    }

    /// Whether a destination object's tags name this source. An unknown tracking URI on
    /// either side matches on the run id alone (exports from old tools do not record it);
    /// known ones are compared as servers ([`same_server`]), not as strings.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(SOURCE_RUN_ID) == Some(&self.run_id)
            && self.same_server_as(tags.get(SOURCE_TRACKING_URI).map(String::as_str))
    }

    /// The server half of [`Self::matches`], for a copy already found by its source run id:
    /// whether the tracking URI it records (if any) names this source's server.
    pub fn same_server_as(&self, tracking_uri: Option<&str>) -> bool {
        match (&self.tracking_uri, tracking_uri) {
            (Some(a), Some(b)) => same_server(a, b),
            _ => true,
        }
    }
}

/// A digest of everything about a run that can still change once it exists: name, status, end
/// time, params, tags (other than ours), the latest point of each metric, and dataset inputs.
/// Start time and user are fixed at creation; lifecycle (deleted or not) is followed on its
/// own; artifacts are not in the run-search pages, so a run whose files alone changed is not
/// seen as changed. A source that gives full metric histories (an export) and one that gives
/// latest points (a server's search) agree: the latest point is chosen as MLflow chooses it,
/// by step, then timestamp, then value.
pub fn run_state(run: &crate::model::RunRecord) -> String {
    let mut text = String::new();
    let mut line = |parts: &[&str]| {
        for p in parts {
            // Lengths first: no value can make two different runs write the same text.
            text.push_str(&format!("{}:{p};", p.len()));
        }
        text.push('\n');
    };
    let m = &run.meta;
    let status = serde_json::to_string(&m.status).unwrap_or_default();
    line(&[
        "run",
        m.run_name.as_deref().unwrap_or(""),
        &status,
        &m.end_time.map(|t| t.to_string()).unwrap_or_default(),
    ]);
    for (k, v) in &run.params {
        line(&["param", k, v]);
    }
    for (k, v) in run.tags.iter().filter(|(k, _)| !k.starts_with(PREFIX)) {
        line(&["tag", k, v]);
    }
    for (k, points) in &run.metrics {
        if let Some(p) = crate::model::MetricPoint::latest(points) {
            let (step, ts, value) = p.key();
            line(&["metric", k, &value.to_string(), &ts.to_string(), &step.to_string()]);
        }
    }
    for d in &run.dataset_inputs {
        line(&["dataset", &d.dataset.name, &d.dataset.digest]);
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes());
    format!("{digest:x}")[..32].to_string()
}

/// Whether the completion marker is set.
pub fn is_complete(tags: &BTreeMap<String, String>) -> bool {
    tags.get(COMPLETE).map(String::as_str) == Some("true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MetricPoint, RunRecord};

    fn point(value: f64, timestamp: i64, step: i64) -> MetricPoint {
        MetricPoint { value, timestamp, step }
    }

    #[test]
    fn refused_tags_are_kept_aside_and_put_back_by_the_next_copy() {
        let tags_of = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let original = tags_of(&[("mlflow.user", "ann"), ("team", "a")]);
        let mut tags = original.clone();
        assert_eq!(refuse_tags(&mut tags, &["mlflow.user", "mlflow.rootRunId"]), ["mlflow.user"]);
        assert_eq!(tags.get("mlflow.user"), None);
        assert_eq!(tags["mlflow_export_import.refused_tag.mlflow.user"], "ann");
        assert!(is_own_tag("mlflow_export_import.refused_tag.mlflow.user"), "not copied as data");
        restore_refused(&mut tags);
        assert_eq!(tags, original);
        // The destination's own value under the key gives way to the source's.
        let mut set_there = tags_of(&[("mlflow.user", "token-user"), ("team", "a")]);
        set_there.insert("mlflow_export_import.refused_tag.mlflow.user".into(), "ann".into());
        restore_refused(&mut set_there);
        assert_eq!(set_there, original);
    }

    #[test]
    fn a_run_state_is_the_same_from_a_full_history_and_from_its_latest_point() {
        let mut full = RunRecord::default();
        full.metrics.insert("loss".into(), vec![point(0.5, 9, 1), point(f64::NAN, 5, 3), point(0.1, 1, 2)]);
        full.tags.insert("team".into(), "a".into());
        let mut latest = full.clone();
        latest.metrics.insert("loss".into(), vec![point(f64::NAN, 5, 3)]);
        // Our own tags are not the source's state.
        latest.tags.insert(COMPLETE.into(), "true".into());
        assert_eq!(run_state(&full), run_state(&latest));
        for change in [
            |r: &mut RunRecord| r.metrics.get_mut("loss").unwrap().push(point(0.0, 1, 4)),
            |r: &mut RunRecord| drop(r.tags.insert("team".into(), "b".into())),
            |r: &mut RunRecord| drop(r.params.insert("lr".into(), "1".into())),
            |r: &mut RunRecord| r.meta.end_time = Some(7),
            |r: &mut RunRecord| r.meta.status = mlflow_client::types::RunStatus::Finished,
        ] {
            let mut changed = full.clone();
            change(&mut changed);
            assert_ne!(run_state(&full), run_state(&changed));
        }
    }

    #[test]
    fn spellings_of_one_server_are_one_server() {
        let same = [
            ("http://localhost:5000", "http://127.0.0.1:5000/"),
            ("http://LOCALHOST:5000/mlflow/", "http://127.0.0.1:5000//mlflow"),
            ("http://[::1]:5000", "http://localhost:5000"),
            ("https://Host.Example/", "https://host.example:443"),
            ("http://user:pw@host:80/x?token=1", "http://host/x/"),
        ];
        for (a, b) in same {
            assert!(same_server(a, b), "{a} vs {b}");
        }
        let different = [
            ("http://localhost:5000", "http://localhost:5001"),
            ("http://host:5000/a", "http://host:5000/b"),
            ("http://host:5000", "https://host:5000"),
            ("http://10.0.0.1:5000", "http://localhost:5000"),
            ("databricks://prod", "databricks://dev"),
        ];
        for (a, b) in different {
            assert!(!same_server(a, b), "{a} vs {b}");
        }
    }

    #[test]
    fn a_run_copied_via_another_spelling_is_found() {
        let id = SourceIdentity {
            tracking_uri: Some("http://127.0.0.1:5000".into()),
            run_id: "r1".into(),
            experiment_id: "1".into(),
            experiment_name: None,
        };
        let mut tags: BTreeMap<String, String> = [(SOURCE_RUN_ID.to_string(), "r1".to_string())].into_iter().collect();
        tags.insert(SOURCE_TRACKING_URI.into(), "http://localhost:5000/".into());
        assert!(id.matches(&tags));
        tags.insert(SOURCE_TRACKING_URI.into(), "http://other:5000".into());
        assert!(!id.matches(&tags));
    }
}
