//! Comparing what a migration left at its destination with its source, run by run.
//!
//! Either side is a tracking server's experiment or an experiment export folder. Destination
//! runs are matched to source runs by their source-identity tag (or by id, for exports, which
//! keep ids). Everything the tool carries is compared: name, status, times, user, lifecycle,
//! params, tags (our own bookkeeping tags aside; parent and root links through the match, when
//! the linked run is part of the comparison),
//! every metric point, dataset inputs, and the artifact files with their sizes; with
//! `checksums`, also the bytes of each file by SHA-256. Then the experiment's MLflow 3 logged
//! models and the runs' links to them (see [`logged_models`]), and its traces (see [`traces`]).
//!
//! An experiment may hold 100,000 runs, so nothing is held for all of them but ids and the
//! difference lines: the destination's runs are listed first with the source run each is a copy
//! of (from the search a plan makes, or each `run.json`), then each source run is read with its
//! copy, `concurrency` pairs at once, compared, and dropped. Artifact bytes are hashed as they
//! stream, never held whole.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use futures::{stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{
    identity,
    model::{ArtifactFile, MetricPoint, RunRecord},
    store::{
        dir::{read_run_dir, DirSource},
        tracking::TrackingSource,
        RunSource,
    },
    Error, Result,
};

mod logged_models;
mod traces;

/// Further reads of an artifact file after a transient failure while hashing it.
const HASH_RETRIES: u32 = 2;

/// How much is compared, and how much at once.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Run pairs read and compared at once (`--concurrency`).
    pub concurrency: usize,
    /// Artifact files of one pair hashed at once (`--transfers`).
    pub transfers: usize,
    /// Also compare artifact bytes by SHA-256, not only paths and sizes.
    pub checksums: bool,
}

/// One side of a comparison: where its runs are read from, and their ids. The runs themselves
/// are read only when compared.
pub struct Side {
    store: Store,
    ids: Vec<String>,
    /// The experiment's logged models and its runs' links to them.
    models: logged_models::Models,
    /// The experiment's MLflow 3 traces.
    traces: traces::Traces,
}

enum Store {
    Server(Arc<dyn TrackingSource>),
    /// An export folder, with each run's folder.
    Export(DirSource, HashMap<String, PathBuf>),
}

impl Side {
    /// The runs of an experiment of a server (deleted ones included), listed by one search
    /// whose results are kept for reading the runs without a request each.
    pub async fn server(source: Arc<dyn TrackingSource>, experiment: &str) -> Result<Self> {
        let exp = source.find_experiment(experiment).await?;
        let filter = crate::select::RunFilter { include_deleted: true, ..Default::default() };
        let ids: Vec<String> = source.plan_runs(&exp, &filter).await?.into_iter().map(|(id, _)| id).collect();
        let models = logged_models::Models::server(source.as_ref(), &exp.experiment_id, &ids).await?;
        let traces = traces::Traces::server(source.as_ref(), &exp.experiment_id).await?;
        Ok(Self { store: Store::Server(source), ids, models, traces })
    }

    /// The runs of an experiment export folder.
    pub fn export(dir: &Path) -> Result<Self> {
        let exp = crate::format::experiment_json::read_experiment_dir(dir).map_err(|e| Error::Input(e.to_string()))?;
        let ids = exp.runs.iter().map(|r| r.run_id.clone()).collect();
        let dirs: HashMap<String, PathBuf> = exp.runs.into_iter().map(|r| (r.run_id, r.dir)).collect();
        let source = DirSource::tree(dirs.iter().map(|(id, dir)| (id.clone(), dir.clone())));
        let models = logged_models::Models::export(dir, &dirs)?;
        let traces = traces::Traces::export(dir)?;
        Ok(Self { store: Store::Export(source, dirs), ids, models, traces })
    }

    /// How many runs the side holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn source(&self) -> &dyn RunSource {
        match &self.store {
            Store::Server(s) => s.as_ref(),
            Store::Export(s, _) => s,
        }
    }

    /// Each run with the source run it is a copy of: its source-identity tag, or its own id
    /// when it has none. Found without reading the runs: at a server in the listing's search
    /// results, in a database by a query of the tag alone; in an export from each `run.json`,
    /// parsed and dropped (the folder reader would keep each run's manifest until its files
    /// are listed).
    async fn copies(&self, concurrency: usize) -> Result<Vec<(String, String)>> {
        stream::iter(&self.ids)
            .map(|id| async move {
                let tag = match &self.store {
                    Store::Server(s) => s.run_tag(id, identity::SOURCE_RUN_ID).await?,
                    Store::Export(_, dirs) => {
                        let mut json = read_run_dir(&dirs[id])?;
                        json.run.tags.remove(identity::SOURCE_RUN_ID)
                    }
                };
                Ok((id.clone(), tag.unwrap_or_else(|| id.clone())))
            })
            .buffered(concurrency.max(1))
            .try_collect()
            .await
    }
}

/// Every difference found, as lines a person can read; empty when the sides agree. Source
/// runs come in their listed order, then the destination's runs that match none.
pub async fn verify(src: &Side, dst: &Side, opts: Options) -> Result<Vec<String>> {
    let dst_runs = dst.copies(opts.concurrency).await?;
    let mut diffs = compare(src.source(), &src.ids, dst.source(), &dst_runs, opts).await?;
    // Logged models follow runs through the runs' one copy each, as parent links do; traces
    // follow both.
    let runs = copies_of(&dst_runs);
    let runs = one_copy(&runs);
    diffs.extend(logged_models::compare(&src.models, &dst.models, &runs));
    let models = logged_models::one_copy(&src.models, &dst.models);
    let links = traces::Links { runs: &runs, models: &models };
    diffs.extend(traces::compare(&src.traces, &dst.traces, &links, opts.concurrency).await?);
    Ok(diffs)
}

/// Each source run's copies, from (destination run, source run) pairs.
fn copies_of(dst_runs: &[(String, String)]) -> HashMap<&str, Vec<&str>> {
    let mut copies: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, copy_of) in dst_runs {
        copies.entry(copy_of.as_str()).or_default().push(id.as_str());
    }
    copies
}

/// Source run → its copy, for the runs that have exactly one.
fn one_copy<'a>(copies: &HashMap<&'a str, Vec<&'a str>>) -> HashMap<&'a str, &'a str> {
    copies.iter().filter_map(|(s, d)| if let [d] = d[..] { Some((*s, d)) } else { None }).collect()
}

/// The comparison over any two run sources; `dst_runs` pairs each destination run id with the
/// source run it is a copy of.
async fn compare(
    src: &dyn RunSource,
    src_ids: &[String],
    dst: &dyn RunSource,
    dst_runs: &[(String, String)],
    opts: Options,
) -> Result<Vec<String>> {
    let copies = copies_of(dst_runs);
    // Source run → its one copy: what parent and root links are followed through.
    let mapped = one_copy(&copies);
    let (copies, mapped) = (&copies, &mapped);
    let mut diffs: Vec<String> = stream::iter(src_ids)
        .map(|id| async move {
            match copies.get(id.as_str()).map(Vec::as_slice) {
                None | Some([]) => Ok(vec![format!("run {id}: missing at the destination")]),
                Some([d]) => compare_pair(src, id, dst, d, mapped, opts).await,
                Some(many) => Ok(vec![format!("run {id}: {} copies at the destination", many.len())]),
            }
        })
        // In order, so the lines come out the same way every time.
        .buffered(opts.concurrency.max(1))
        .try_concat()
        .await?;
    let known: HashSet<&str> = src_ids.iter().map(String::as_str).collect();
    for (id, copy_of) in dst_runs {
        if !known.contains(copy_of.as_str()) {
            diffs.push(format!("run {id}: at the destination only"));
        }
    }
    Ok(diffs)
}

/// Reads a source run and its copy and compares them.
async fn compare_pair(
    src: &dyn RunSource,
    src_id: &str,
    dst: &dyn RunSource,
    dst_id: &str,
    mapped: &HashMap<&str, &str>,
    opts: Options,
) -> Result<Vec<String>> {
    let ((s, s_files), (d, d_files)) = futures::try_join!(read(src, src_id), read(dst, dst_id))?;
    let at = format!("run {src_id} -> {dst_id}");
    let mut diffs = Vec::new();
    compare_run(&s, &d, mapped, &at, &mut diffs);
    let same = compare_files(&s_files, &d_files, &at, &mut diffs);
    if opts.checksums {
        diffs.extend(compare_bytes((src, &s), (dst, &d), same, opts.transfers, &at).await?);
    }
    Ok(diffs)
}

/// A run read completely: full metric histories, artifact listing.
async fn read(source: &dyn RunSource, id: &str) -> Result<(RunRecord, Vec<ArtifactFile>)> {
    let mut run = source.read_run(id).await?;
    source.complete_metrics(&mut run).await?;
    let files = source.list_artifacts(&run).await?;
    Ok((run, files))
}

fn compare_run(s: &RunRecord, d: &RunRecord, mapped: &HashMap<&str, &str>, at: &str, diffs: &mut Vec<String>) {
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
    let ours = |k: &String| identity::is_own_tag(k);
    // A link to a run outside the compared experiment cannot be followed here; it is left out
    // on both sides rather than reported.
    let outside = |k: &String, v: &String| links.contains(&k.as_str()) && !mapped.contains_key(v.as_str());
    let skipped: Vec<&String> = s.tags.iter().filter(|(k, v)| outside(k, v)).map(|(k, _)| k).collect();
    let src_tags: BTreeMap<String, String> = s
        .tags
        .iter()
        .filter(|(k, v)| !ours(k) && !outside(k, v))
        .map(|(k, v)| (k.clone(), if links.contains(&k.as_str()) { mapped[v.as_str()].to_string() } else { v.clone() }))
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
        // A history is a multiset: two points at one step and time may come in either order.
        let sorted = |points: &[MetricPoint]| {
            let mut points = points.to_vec();
            points.sort_by_key(MetricPoint::key);
            points
        };
        let (a, b) = (sorted(a), sorted(b));
        if let Some(i) = a.iter().zip(&b).position(|(x, y)| x.key() != y.key()) {
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

/// Compares the listings by path and size. Returns the files on both sides whose sizes do
/// not differ (a size a listing did not give cannot be said to), in path order: the ones whose
/// bytes are worth hashing.
fn compare_files<'a>(
    a: &'a [ArtifactFile],
    b: &'a [ArtifactFile],
    at: &str,
    diffs: &mut Vec<String>,
) -> Vec<(&'a ArtifactFile, &'a ArtifactFile)> {
    let a: BTreeMap<&str, &ArtifactFile> = a.iter().map(|f| (f.path.as_str(), f)).collect();
    let b: BTreeMap<&str, &ArtifactFile> = b.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut same = Vec::new();
    for (p, f) in &a {
        match b.get(p) {
            None => diffs.push(format!("{at}: artifact {p}: missing at the destination")),
            Some(g) => match (f.size, g.size) {
                (Some(a), Some(b)) if a != b => diffs.push(format!("{at}: artifact {p}: {a} bytes != {b}")),
                _ => same.push((*f, *g)),
            },
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        diffs.push(format!("{at}: artifact {p}: at the destination only"));
    }
    same
}

/// Hashes both sides of each file pair, `transfers` pairs at once; a line for each pair whose
/// bytes differ.
async fn compare_bytes(
    (src, s): (&dyn RunSource, &RunRecord),
    (dst, d): (&dyn RunSource, &RunRecord),
    files: Vec<(&ArtifactFile, &ArtifactFile)>,
    transfers: usize,
    at: &str,
) -> Result<Vec<String>> {
    stream::iter(files)
        .map(|(a, b)| async move {
            let (x, y) = futures::try_join!(sha256(src, s, a), sha256(dst, d, b))?;
            Ok((x != y).then(|| format!("{at}: artifact {}: SHA-256 differs", a.path)))
        })
        .buffered(transfers.max(1))
        .try_filter_map(|diff| async move { Ok(diff) })
        .try_collect()
        .await
}

/// The SHA-256 (lowercase hex) of one artifact file, through the same store reader a copy
/// uses, hashed chunk by chunk as it streams. A transient failure reads it again from the
/// start: one dropped connection should not end a verify of a whole experiment.
async fn sha256(source: &dyn RunSource, run: &RunRecord, file: &ArtifactFile) -> Result<String> {
    let mut attempt = 0;
    loop {
        let hashed = async {
            let mut data = source.open_artifact(run, file).await?.stream;
            let mut hasher = Sha256::new();
            while let Some(chunk) = data.try_next().await.map_err(|e| Error::io(&file.path, e))? {
                hasher.update(&chunk);
            }
            Ok::<_, Error>(format!("{:x}", hasher.finalize()))
        }
        .await;
        match hashed {
            Ok(hash) => return Ok(hash),
            Err(e) if e.is_transient() && attempt < HASH_RETRIES => {
                attempt += 1;
                tracing::debug!(path = %file.path, error = %e, attempt, "reading artifact again");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            Err(e) => {
                let path = format!("{} of run {}", file.path, run.meta.run_id);
                return Err(Error::Artifact { path, source: Box::new(e) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::{
        model::{MetricPoint, RunMeta},
        store::ByteStream,
    };

    /// Runs in memory, each with one artifact `a`; counts the reads in flight.
    #[derive(Default)]
    struct Memory {
        runs: HashMap<String, (RunRecord, Vec<u8>)>,
        ids: Vec<String>,
        reading: AtomicUsize,
        most_reading: AtomicUsize,
        /// Lists files without their size, as some servers do.
        sizes_unknown: bool,
    }

    impl Memory {
        fn new(runs: Vec<RunRecord>) -> Self {
            let ids = runs.iter().map(|r| r.meta.run_id.clone()).collect();
            let runs = runs.into_iter().map(|r| (r.meta.run_id.clone(), (r, b"abc".to_vec()))).collect();
            Self { runs, ids, ..Default::default() }
        }

        /// As `Side::copies` lists them.
        fn copies(&self) -> Vec<(String, String)> {
            let copy_of = |id: &String| self.runs[id].0.tags.get(identity::SOURCE_RUN_ID).unwrap_or(id).clone();
            self.ids.iter().map(|id| (id.clone(), copy_of(id))).collect()
        }
    }

    #[async_trait]
    impl RunSource for Memory {
        async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
            let now = self.reading.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_reading.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.reading.fetch_sub(1, Ordering::SeqCst);
            Ok(self.runs[run_id].0.clone())
        }

        async fn list_artifacts(&self, run: &RunRecord) -> Result<Vec<ArtifactFile>> {
            let size = self.runs[&run.meta.run_id].1.len() as u64;
            let size = (!self.sizes_unknown).then_some(size);
            Ok(vec![ArtifactFile { path: "a".into(), size, sha256: None }])
        }

        /// The bytes one at a time, as a stream of many chunks.
        async fn open_artifact(&self, run: &RunRecord, _file: &ArtifactFile) -> Result<ByteStream> {
            let bytes = self.runs[&run.meta.run_id].1.clone();
            let chunks: Vec<std::io::Result<bytes::Bytes>> =
                bytes.iter().map(|b| Ok(bytes::Bytes::copy_from_slice(&[*b]))).collect();
            Ok(ByteStream { len: Some(bytes.len() as u64), stream: Box::pin(stream::iter(chunks)) })
        }
    }

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

    const OPTS: Options = Options { concurrency: 4, transfers: 2, checksums: false };

    async fn diffs(src: &Memory, dst: &Memory, opts: Options) -> Vec<String> {
        compare(src, &src.ids, dst, &dst.copies(), opts).await.unwrap()
    }

    #[tokio::test]
    async fn equal_copies_have_no_differences_and_links_go_through_the_match() {
        let src = Memory::new(vec![run("p", &[]), run("c", &[("mlflow.parentRunId", "p")])]);
        let dst = Memory::new(vec![
            run("P", &[(identity::SOURCE_RUN_ID, "p"), (identity::COMPLETE, "true")]),
            run("C", &[(identity::SOURCE_RUN_ID, "c"), ("mlflow.parentRunId", "P")]),
        ]);
        assert_eq!(diffs(&src, &dst, Options { checksums: true, ..OPTS }).await, Vec::<String>::new());
    }

    #[tokio::test]
    async fn every_kind_of_difference_is_named() {
        let src = Memory::new(vec![run("a", &[("t", "1")]), run("gone", &[]), run("twice", &[])]);
        let mut d = run("A", &[(identity::SOURCE_RUN_ID, "a"), ("t", "2")]);
        d.metrics.get_mut("m").unwrap()[0].step = 5;
        d.params.clear();
        let twice = |id| run(id, &[(identity::SOURCE_RUN_ID, "twice")]);
        let mut dst = Memory::new(vec![d, run("extra", &[]), twice("T1"), twice("T2")]);
        dst.runs.get_mut("A").unwrap().1 = b"ab".to_vec();
        let diffs = diffs(&src, &dst, OPTS).await;
        for want in [
            "tags.t",
            "params.p",
            "metric m: point 0",
            "artifact a: 3 bytes != 2",
            "run gone: missing",
            "run twice: 2 copies at the destination",
            "run extra: at the destination only",
        ] {
            assert!(diffs.iter().any(|d| d.contains(want)), "{want} not in {diffs:#?}");
        }
        assert_eq!(diffs.len(), 7, "{diffs:#?}");
    }

    #[tokio::test]
    async fn other_bytes_of_the_same_size_differ_only_by_checksum() {
        let src = Memory::new(vec![run("a", &[])]);
        let mut dst = Memory::new(vec![run("A", &[(identity::SOURCE_RUN_ID, "a")])]);
        dst.runs.get_mut("A").unwrap().1 = b"abd".to_vec();
        assert_eq!(diffs(&src, &dst, OPTS).await, Vec::<String>::new());
        let with = diffs(&src, &dst, Options { checksums: true, ..OPTS }).await;
        assert_eq!(with, vec!["run a -> A: artifact a: SHA-256 differs".to_string()]);
    }

    #[tokio::test]
    async fn a_file_listed_without_a_size_is_compared_by_its_bytes_only() {
        let src = Memory::new(vec![run("a", &[])]);
        let mut dst = Memory::new(vec![run("A", &[(identity::SOURCE_RUN_ID, "a")])]);
        dst.runs.get_mut("A").unwrap().1 = b"ab".to_vec();
        dst.sizes_unknown = true;
        assert_eq!(diffs(&src, &dst, OPTS).await, Vec::<String>::new());
        let with = diffs(&src, &dst, Options { checksums: true, ..OPTS }).await;
        assert_eq!(with, vec!["run a -> A: artifact a: SHA-256 differs".to_string()]);
    }

    #[tokio::test]
    async fn runs_are_read_at_most_concurrency_at_once_and_reported_in_order() {
        let runs = |prefix: &str, tagged: bool| {
            (0..20)
                .map(|i| {
                    let src = format!("s{i:02}");
                    let tags = if tagged { vec![(identity::SOURCE_RUN_ID, src.as_str())] } else { vec![] };
                    run(&format!("{prefix}{i:02}"), &tags)
                })
                .collect::<Vec<_>>()
        };
        let src = Memory::new(runs("s", false));
        let mut dst_runs = runs("d", true);
        for r in &mut dst_runs {
            r.params.insert("p".into(), "2".into());
        }
        let dst = Memory::new(dst_runs);
        let found = diffs(&src, &dst, Options { concurrency: 3, ..OPTS }).await;
        assert_eq!(found.len(), 20);
        assert!(found.windows(2).all(|w| w[0] < w[1]), "in source order: {found:#?}");
        for side in [&src, &dst] {
            assert_eq!(side.most_reading.load(Ordering::SeqCst), 3);
        }
    }

    /// Through the export folder reader: a copy of an export equals it until one byte of one
    /// file changes, which only `checksums` sees (the size still matches `run.json`'s manifest).
    #[tokio::test]
    async fn an_export_folder_is_hashed_through_its_reader() {
        let fixture = crate::testing::fixture("experiment/envelope-2025");
        let tmp = tempfile::tempdir().unwrap();
        crate::testing::copy_tree(&fixture, tmp.path());
        let (src, dst) = (Side::export(&fixture).unwrap(), Side::export(tmp.path()).unwrap());
        assert_eq!((src.len(), dst.len()), (2, 2));
        let checked = Options { checksums: true, ..OPTS };
        assert_eq!(verify(&src, &dst, checked).await.unwrap(), Vec::<String>::new());
        let run = "7359d81383e74902a03577f691db8abe";
        let victim = tmp.path().join("runs").join(run).join("artifacts/importance.csv");
        let mut bytes = std::fs::read(&victim).unwrap();
        bytes[0] ^= 0x01;
        std::fs::write(&victim, bytes).unwrap();
        assert_eq!(verify(&src, &dst, OPTS).await.unwrap(), Vec::<String>::new());
        let want = format!("run {run} -> {run}: artifact importance.csv: SHA-256 differs");
        assert_eq!(verify(&src, &dst, checked).await.unwrap(), vec![want]);
    }
}
