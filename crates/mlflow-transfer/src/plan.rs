//! The planner: turns what a command selects (one run, an experiment, a list of them, one or
//! many registered models, a whole server) into a plan: every object's move as a step, with
//! the steps it depends on. A run depends on its destination experiment and its parent run;
//! a logged model on its run; a model version on its model, its run or logged model and the
//! version before it; a container's closing step (its export file, its aliases) on everything
//! inside it.
//!
//! Planning only reads the source (and the export's files); it writes nothing, so a plan can be
//! printed instead of executed (`--dry-run`). The [`crate::execute`] executor runs any plan.

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
};

use mlflow_client::MlflowClient;
use sha2::{Digest, Sha256};

use crate::{
    format::{
        experiment_json::{read_experiment_dir, read_experiments_dir},
        index_json::{read_index, IndexKind, IndexedExperiment, LOGGED_MODELS_INDEX, TRACES_INDEX},
        model_json::{read_model_dir, read_models_dir, VERSION_RUN_DIR},
        prompt_json::{read_prompt_dir, read_prompts_dir, SUMMARY_FILE},
        trace_json::{read_trace_info, read_tracking_uri, TRACES, TRACES_JSON, TRACE_JSON},
        ExportSystem,
    },
    job::Phase,
    model::{ExperimentRecord, RegisteredModelRecord},
    movers::{
        evaluation_dataset::EvaluationDatasetMove,
        experiment::{ExperimentDestination, ExperimentIndex, ExperimentMove},
        index::IndexMove,
        logged_model::LoggedModelMove,
        model_version::{VersionDestination, VersionMove},
        prompt::{PromptDestination, PromptIndex, PromptMove},
        registered_model::{ModelDestination, ModelIndex, ModelMove},
        run::{RunDestination, RunMove},
        scorer::ScorerMove,
        trace::TraceMove,
        webhook::WebhookMove,
    },
    select::{ExperimentSpec, Renames, RunFilter, VersionFilter},
    store::{
        datasets::{EvaluationDatasetSink, EvaluationDatasetSource},
        dir::{read_run_dir, DirLoggedModelSink, DirLoggedModels, DirSink, DirSource, ModelFolders},
        dir_datasets::{list_dataset_dirs, read_dataset_dir, DirDatasetSink, DirDatasets, EVALUATION_DATASETS},
        lists::{DirScorers, DirWebhooks},
        rest::{traces::RestTraces, ListedModels, RestDatasetSink, RestLoggedModelSink, RestServer},
        sql::SqlSink,
        traces::{DirTraces, ListedTrace, TraceSink, TraceSource},
        tracking::TrackingSource,
        ExperimentSink, LoggedModelSink, LoggedModelSource, RunSink, RunSource, ScorerStore, WebhookStore,
    },
    Error, Result,
};

/// The runs an experiment's listing found, plus the `pinned` ones it did not (each with its
/// parent link, which a server answers from the version lookup that located the run).
async fn with_pinned(
    src: &dyn TrackingSource,
    mut runs: Vec<(String, Option<String>)>,
    pinned: &[String],
) -> Result<Vec<(String, Option<String>)>> {
    // One set of the found ids, not a scan of every run per pinned one.
    let mut have: BTreeSet<String> = runs.iter().map(|(id, _)| id.clone()).collect();
    for id in pinned {
        if have.insert(id.clone()) {
            runs.push((id.clone(), src.run_tag(id, "mlflow.parentRunId").await?));
        }
    }
    Ok(runs)
}

/// One object's move. Every kind but a run is boxed: a plan holds one step per run, and an
/// unboxed experiment's move made every step 392 bytes where a run needs 80 (26 MB of a
/// 100,000-run plan).
pub enum Move {
    Experiment(Box<ExperimentMove>),
    ExperimentIndex(Box<ExperimentIndex>),
    Run(RunMove),
    LoggedModel(Box<LoggedModelMove>),
    Model(Box<ModelMove>),
    Version(Box<VersionMove>),
    ModelIndex(Box<ModelIndex>),
    Scorers(Box<ScorerMove>),
    Webhooks(Box<WebhookMove>),
    Prompt(Box<PromptMove>),
    PromptIndex(Box<PromptIndex>),
    Trace(Box<TraceMove>),
    /// The index of a bulk export of traces or logged models.
    Index(Box<IndexMove>),
    EvaluationDataset(Box<EvaluationDatasetMove>),
}

/// A move and the steps (indices into the plan) that must be done before it.
pub struct Step {
    label: Label,
    pub deps: Vec<usize>,
    pub what: Move,
}

/// What a step moves where ([`Step::label`]).
enum Label {
    Text(String),
    /// A run's, made when shown from its id and where it goes, which the runs into one
    /// experiment share: 100,000 labels of their own took 14 MB.
    Run(Arc<str>),
}

impl Step {
    pub(crate) fn new(label: String, deps: Vec<usize>, what: Move) -> Self {
        Step { label: Label::Text(label), deps, what }
    }

    /// What moves where, for `--dry-run` and logs.
    pub fn label(&self) -> Cow<'_, str> {
        match (&self.label, &self.what) {
            (Label::Run(to), Move::Run(run)) => Cow::Owned(format!("run {} -> {to}", run.run_id)),
            (Label::Run(to), _) => Cow::Borrowed(to),
            (Label::Text(text), _) => Cow::Borrowed(text),
        }
    }
}

/// Every step of a job, in the order they were planned.
#[derive(Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    fn add(&mut self, label: String, deps: Vec<usize>, what: Move) -> usize {
        self.steps.push(Step::new(label, deps, what));
        self.steps.len() - 1
    }

    /// One line per step, for `--dry-run`.
    pub fn describe(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.label().into_owned()).collect()
    }

    /// How many runs the plan moves.
    pub fn runs(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.what, Move::Run(_))).count()
    }

    /// Keeps shard `k` of `n` (1-based). The objects of the job are split into groups that
    /// must move together: a run with its parent's chain, a registered model with its versions,
    /// the runs behind them and their logged models, a trace with its run (every step joined
    /// to another by a dependency, and every run to its parent). Each group goes to the shard
    /// its least key hashes to, so links resolve within one process and no object is written
    /// by two. The steps every shard needs (destination experiments) stay in all; the webhooks
    /// go with shard 1. An export's files that list every object (`experiment.json`,
    /// `experiments.json`, `models.json`, `manifest.json`, the trace, logged-model and prompt
    /// indexes) are written in parts, completed by the shard that finishes last. Independent
    /// processes (or machines) running shards 1..n of the same job together do it once.
    pub fn shard(self, k: u32, n: u32) -> Result<Plan> {
        if n == 0 || k == 0 || k > n {
            return Err(Error::Input(format!("--shard {k}/{n}: expected K/N with 1 <= K <= N")));
        }
        let shares: Vec<Share> = self.steps.iter().map(|s| share(&s.what)).collect();
        let keep: Vec<bool> = {
            let mut groups: Vec<usize> = (0..self.steps.len()).collect();
            let run_step: HashMap<&str, usize> = self
                .steps
                .iter()
                .enumerate()
                .filter_map(|(i, s)| if let Move::Run(r) = &s.what { Some((r.run_id.as_str(), i)) } else { None })
                .collect();
            for (i, step) in self.steps.iter().enumerate() {
                if !matches!(shares[i], Share::Group(_)) {
                    continue;
                }
                // A parent outside the dependencies (a link left out as a cycle) still joins.
                let parent = match &step.what {
                    Move::Run(r) => r.parent.as_deref().and_then(|p| run_step.get(p)).copied(),
                    _ => None,
                };
                for d in step.deps.iter().copied().chain(parent) {
                    if matches!(shares[d], Share::Group(_)) {
                        join(&mut groups, i, d);
                    }
                }
            }
            // Each group's least key names it alike in every process, whatever the order.
            let mut least: HashMap<usize, &str> = HashMap::new();
            for (i, share) in shares.iter().enumerate() {
                if let Share::Group(key) = share {
                    let g = find(&mut groups, i);
                    let entry = least.entry(g).or_insert(key);
                    if key.as_str() < *entry {
                        *entry = key;
                    }
                }
            }
            let least: HashMap<usize, u32> = least.into_iter().map(|(g, key)| (g, shard_of(key, n))).collect();
            (0..self.steps.len())
                .map(|i| match &shares[i] {
                    Share::Every => true,
                    Share::First => k == 1,
                    Share::Group(_) => least[&find(&mut groups, i)] == k - 1,
                })
                .collect()
        };
        let mut index = vec![usize::MAX; keep.len()];
        let mut steps = Vec::new();
        for (i, step) in self.steps.into_iter().enumerate() {
            if keep[i] {
                index[i] = steps.len();
                steps.push(step);
            }
        }
        for step in &mut steps {
            step.deps = step.deps.iter().map(|&d| index[d]).filter(|&d| d != usize::MAX).collect();
            let shard = Some((k, n));
            match &mut step.what {
                Move::Experiment(e) => e.shard = shard,
                Move::ExperimentIndex(i) => i.shard = shard,
                Move::ModelIndex(i) => i.shard = shard,
                Move::PromptIndex(i) => i.shard = shard,
                Move::Index(i) => i.shard = shard,
                _ => {}
            }
        }
        Ok(Plan { steps })
    }

    /// Makes each run depend on its parent's step when the parent is in the plan, so parents
    /// are written first and children link to their copies. Links that would close a cycle
    /// (corrupt data) are left out: a run whose chain of parents runs into a cycle gets no
    /// link. Linear in runs: each run's depth is computed once ([`depths`]), where walking up
    /// from every run made a deep nesting (a chain of n runs) quadratic.
    fn link_parents(&mut self) {
        let by_id: HashMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| if let Move::Run(r) = &s.what { Some((r.run_id.as_str(), i)) } else { None })
            .collect();
        let parent: Vec<Option<usize>> = self
            .steps
            .iter()
            .map(|s| match &s.what {
                Move::Run(r) => r.parent.as_deref().and_then(|p| by_id.get(p)).copied(),
                _ => None,
            })
            .collect();
        let depth = depths(&parent);
        let links: Vec<(usize, usize)> =
            (0..parent.len()).filter_map(|i| parent[i].filter(|&p| depth[p] < depth[i]).map(|p| (i, p))).collect();
        for (child, parent) in links {
            self.steps[child].deps.push(parent);
        }
    }
}

/// Depth of each node in the forest `parent` (0 for a node without parent), or `usize::MAX`
/// for a node whose chain of parents runs into a cycle. Each node is walked over once.
fn depths(parent: &[Option<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX - 1;
    const ON_PATH: usize = usize::MAX - 2;
    const CYCLE: usize = usize::MAX;
    let mut depth = vec![UNSEEN; parent.len()];
    let mut path = Vec::new();
    for start in 0..parent.len() {
        let mut cur = Some(start);
        // Walk up to a node of known depth, the top, or back onto this walk (a cycle).
        let base = loop {
            match cur {
                None => break 0,
                Some(c) if depth[c] == ON_PATH => break CYCLE,
                Some(c) if depth[c] != UNSEEN => break if depth[c] == CYCLE { CYCLE } else { depth[c] + 1 },
                Some(c) => {
                    depth[c] = ON_PATH;
                    path.push(c);
                    cur = parent[c];
                }
            }
        };
        let mut d = base;
        while let Some(c) = path.pop() {
            depth[c] = d;
            d = if d == CYCLE { CYCLE } else { d + 1 };
        }
    }
    depth
}

/// Which shards take a step.
enum Share {
    /// Every shard: the destination experiments each needs, the indexes each writes a part of.
    Every,
    /// Shard 1 alone: what belongs to no object of the job (the webhooks).
    First,
    /// The shard of its group, named by this key.
    Group(String),
}

fn share(what: &Move) -> Share {
    match what {
        Move::Experiment(_)
        | Move::ExperimentIndex(_)
        | Move::ModelIndex(_)
        | Move::PromptIndex(_)
        | Move::Index(_) => Share::Every,
        Move::Webhooks(_) => Share::First,
        Move::Run(r) => Share::Group(format!("run {}", r.run_id)),
        Move::LoggedModel(m) => Share::Group(format!("logged model {}", m.model_id)),
        Move::Model(m) => Share::Group(format!("registered model {}", m.record.name)),
        Move::Version(v) => Share::Group(format!("registered model {}", v.model.name)),
        Move::Prompt(p) => Share::Group(format!("prompt {}", p.record.name)),
        Move::Trace(t) => Share::Group(format!("trace {}", t.trace_id)),
        Move::EvaluationDataset(d) => Share::Group(format!("evaluation dataset {}", d.dataset_id)),
        Move::Scorers(s) => Share::Group(format!("scorers of experiment {}", s.experiment_id)),
    }
}

/// The group of `i` in the union-find forest `groups` (halving the path on the way).
fn find(groups: &mut [usize], mut i: usize) -> usize {
    while groups[i] != i {
        groups[i] = groups[groups[i]];
        i = groups[i];
    }
    i
}

fn join(groups: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(groups, a), find(groups, b));
    groups[a.max(b)] = a.min(b);
}

/// `id` when it can be a folder name (no separator, not `..`), as an export needs every id it
/// joins into a path to be.
fn folder_name<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if crate::paths::is_single_segment(id) && !id.is_empty() {
        Ok(id)
    } else {
        Err(Error::Input(format!("the server returned {what} {id:?}, which cannot be a folder name; refusing it")))
    }
}

/// Which of `n` shards a group of steps goes to: a hash that every process computes alike.
fn shard_of(key: &str, n: u32) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"));
    u32::try_from(head % u64::from(n)).expect("less than n")
}

/// What a job reads.
pub enum Source {
    /// A tracking server.
    Server(Arc<dyn TrackingSource>),
    /// A folder written by an export command (a zip is unpacked into one first).
    Export(PathBuf),
}

/// Where a job writes.
pub enum Destination {
    /// An export folder.
    Folder { out: PathBuf, system: ExportSystem },
    /// A tracking server.
    Server(MlflowClient),
    /// A tracking server's database, written directly (`--dst-backend-store-uri`): runs and
    /// experiments only for now; a selection holding other kinds is refused at planning.
    Database(Arc<SqlSink>),
}

/// What a job covers.
pub enum Selection {
    /// One run (from a server: by id; from an export: the run in the folder), into
    /// `experiment` at a server.
    Run { run_id: Option<String>, experiment: Option<String> },
    /// One experiment: from a server (with `filter`) or the export folder; at a server it gets
    /// `name`, in a folder it is written to the folder itself.
    Experiment { experiment: Option<ExperimentRecord>, name: String, filter: RunFilter },
    /// Several experiments, each in `<out>/<id>/` of a bulk export with `experiments.json`.
    /// From a server: `experiments` (and those that could not be read, as (name, why)); from
    /// an export: every experiment it lists, renamed.
    Experiments {
        experiments: Vec<ExperimentRecord>,
        unreadable: Vec<(String, String)>,
        filter: RunFilter,
        rename: Renames,
        prefix: String,
    },
    /// One registered model with the runs (and logged models) behind its versions. At a
    /// server it is named `dst_name` and its runs go to `dst_experiment` (from a server: by
    /// default each run's experiment of the same name).
    Model { name: String, versions: VersionFilter, dst_name: String, dst_experiment: Option<String> },
    /// One version of a registered model from a server. Into a folder: the `export-model-version`
    /// layout, `model.json`, `version.json` and the version's run in `run/` (such a folder is
    /// imported as a [`Selection::Model`], which reads either layout). At the same server: a new
    /// version of `dst_name` that points at the source version's own run, nothing else copied
    /// (`copy-model-version`'s shallow mode; the job's id map must send the run to itself).
    ModelVersion { name: String, version: String, dst_name: String },
    /// Several registered models in the `export-models` layout: the versions' runs (or every
    /// run of their experiments with `all_runs`) in `experiments/`, the models in `models/`.
    Models {
        names: Vec<String>,
        versions: VersionFilter,
        all_runs: bool,
        /// With `all_runs`: which of the experiments' other runs (`--run-start-time`,
        /// `--runs-until`, `--export-deleted-runs`); the versions' runs are taken whatever it says.
        filter: RunFilter,
        rename_experiments: Renames,
        rename_models: Renames,
    },
    /// A whole server (`export-all`, `copy-all`, `import-all`): every registered model with
    /// the versions `versions` selects, and every experiment (those behind the versions and
    /// every active one) with the runs `filter` selects plus the runs behind the versions, in
    /// the `export-models` layout with a top `manifest.json`. From an export: everything it
    /// holds, renamed, experiments and runs before the models. Webhooks too, created at a
    /// server with the secrets given by name in `webhook_secrets`, and every evaluation dataset
    /// (`evaluation_datasets/` of the folder), `delete_datasets` as `delete_first` of
    /// [`Selection::EvaluationDatasets`].
    All {
        versions: VersionFilter,
        filter: RunFilter,
        rename_experiments: Renames,
        rename_models: Renames,
        webhook_secrets: Arc<BTreeMap<String, String>>,
        delete_datasets: bool,
    },
    /// GenAI evaluation datasets. From a server: those `names` names (names or ids), or with
    /// `None` every one (linked to one of `experiment_ids`, when given); from an export: the
    /// dataset of the folder (`single`) or every one of the bulk folder. In a folder: the
    /// folder itself (`single`) or `<out>/<name>_<id>/`. At a server the copy is named
    /// `dst_name` (default: the source's name); `delete_first` replaces a dataset of that name
    /// that is not our copy.
    EvaluationDatasets {
        names: Option<Vec<String>>,
        experiment_ids: Vec<String>,
        single: bool,
        dst_name: Option<String>,
        delete_first: bool,
    },
    /// Prompts (prompt registry), each with every version in order. From a server: those
    /// `prompts` names (`all`, a prefix, a list), all versions or only `version`; into a
    /// folder, `<out>/<name>_v<version>/prompt.json` with `prompts_summary.json`, or with
    /// `single` the one version's `prompt.json` in `<out>` itself. From an export: the
    /// folder's `prompt.json` (`single`) or every prompt of a bulk prompts folder. At a server
    /// a single prompt may be renamed `dst_name`.
    Prompts { prompts: ExperimentSpec, version: Option<String>, single: bool, dst_name: Option<String> },
    /// MLflow 3 logged models on their own (`export-logged-model(s)`, `import-logged-model(s)`,
    /// `copy-logged-model(s)`), without their runs: at a server a copy joins the copy an
    /// earlier job made of its run, if there is one. From a server: `model_ids`, or every
    /// model of `experiments`; into a folder, the folder itself (`single`) or `<out>/<id>/`
    /// with `<out>/logged_models.json`; at a server, into `dst_experiment`, else the
    /// experiment of the source experiment's name. From an export: the folder's model
    /// (`single`) or every model its `logged_models.json` lists, into the experiment that
    /// names (or `dst_experiment`).
    LoggedModels {
        model_ids: Vec<String>,
        experiments: Vec<ExperimentRecord>,
        single: bool,
        dst_experiment: Option<String>,
    },
    /// One MLflow 3 trace (`export-trace`, `import-trace`): from a server by id, into a folder
    /// of its own; from such a folder, into experiment `dst_experiment` at a server.
    Trace { trace_id: Option<String>, dst_experiment: Option<String> },
    /// The MLflow 3 traces of experiments (`export-traces`, `import-traces`, `copy-traces`):
    /// from a server those of `experiments` that `window` selects, into `<out>/<id>/` with
    /// `<out>/traces.json`, or into `dst_experiment` (else the experiment of the same name)
    /// at a server; from an export, every trace it lists, into the experiment `traces.json`
    /// names (or `dst_experiment`).
    Traces { experiments: Vec<ExperimentRecord>, window: TraceWindow, dst_experiment: Option<String> },
}

/// Traces started (`timestamp_ms`) in `[after, before)`, epoch ms; either end open.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceWindow {
    pub after: Option<i64>,
    pub before: Option<i64>,
}

impl TraceWindow {
    /// The `traces/search` filter of the window, if it is not the whole time.
    pub fn filter(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.after.map(|t| format!("trace.timestamp_ms >= {t}")),
            self.before.map(|t| format!("trace.timestamp_ms < {t}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" AND "))
    }
}

/// What a bulk model job takes along with the models.
enum Along {
    /// `export-models`: the runs behind the versions, or with `all_runs` every run of the
    /// versions' experiments.
    TheirExperiments { all_runs: bool, filter: RunFilter },
    /// `export-all`, `copy-all`: every experiment, with the runs the filter selects and the
    /// runs behind the versions whatever it says (a version needs its run).
    Everything(RunFilter),
}

/// Plans a job.
pub async fn plan(source: &Source, selection: Selection, destination: &Destination) -> Result<Plan> {
    if let Destination::Database(db) = destination {
        if !matches!(selection, Selection::Run { .. } | Selection::Experiment { .. } | Selection::Experiments { .. }) {
            return Err(Error::Unsupported(format!(
                "{}: a database destination (--dst-backend-store-uri) takes runs and experiments only for now; \
                 copy the rest through the tracking server",
                db.uri()
            )));
        }
    }
    let server = match destination {
        Destination::Server(client) => Some((Arc::new(RestServer::new(client.clone())), client.base_url().to_string())),
        Destination::Folder { .. } | Destination::Database(_) => None,
    };
    let mut p = Planner {
        plan: Plan::default(),
        runs: HashMap::new(),
        server,
        dst_client: match destination {
            Destination::Server(client) => Some(client.clone()),
            Destination::Folder { .. } | Destination::Database(_) => None,
        },
        database: match destination {
            Destination::Database(db) => Some(db.clone()),
            _ => None,
        },
        logged_models: HashMap::new(),
        experiment_opens: HashMap::new(),
    };
    let all_datasets = match &selection {
        Selection::All { delete_datasets, .. } => Some(*delete_datasets),
        _ => None,
    };
    match (source, selection) {
        (Source::Server(src), Selection::Prompts { prompts, version, single, dst_name }) => {
            let names = src.select_prompts(&prompts).await?;
            p.server_prompts(src, &names, version.as_deref(), single, dst_name.as_deref(), destination).await?;
        }
        (Source::Export(dir), Selection::Prompts { single, dst_name, .. }) => {
            p.exported_prompts(dir, single, dst_name.as_deref(), destination)?;
        }
        (Source::Server(src), Selection::Run { run_id, experiment }) => {
            let run_id = run_id.ok_or_else(|| Error::Input("no run id given".into()))?;
            let sink = p.run_sink(destination, experiment.as_deref(), None)?;
            p.run(src.clone(), run_id, None, sink);
        }
        (Source::Export(dir), Selection::Run { experiment, .. }) => {
            let (source, run_id) = DirSource::single(dir)?;
            let sink = p.run_sink(destination, experiment.as_deref(), None)?;
            p.run(Arc::new(source), run_id, None, sink);
        }
        (Source::Server(src), Selection::Experiment { experiment, name, filter }) => {
            let exp = experiment.ok_or_else(|| Error::Input("no experiment given".into()))?;
            p.server_experiment(src, exp, &filter, destination, ExperimentTarget::Single(&name), &[]).await?;
        }
        (Source::Export(dir), Selection::Experiment { name, .. }) => {
            p.exported_experiment(dir, &name, destination)?;
        }
        (Source::Server(src), Selection::Experiments { experiments, unreadable, filter, .. }) => {
            let mut closes = Vec::new();
            for exp in experiments {
                closes.push(p.server_experiment(src, exp, &filter, destination, ExperimentTarget::Bulk, &[]).await?);
            }
            for (name, why) in unreadable {
                closes.push(p.unreadable_experiment(name, why, destination));
            }
            p.experiment_index(destination, None, closes);
        }
        (Source::Export(dir), Selection::Experiments { rename, prefix, .. }) => {
            for entry in read_experiments_dir(dir)? {
                let name = format!("{prefix}{}", rename.apply(&entry.name));
                p.exported_experiment(&entry.dir, &name, destination)?;
            }
        }
        (Source::Server(src), Selection::Model { name, versions, dst_name, dst_experiment }) => {
            let model = src.read_model(&name, &versions).await?;
            p.server_model(src, model, destination, &dst_name, dst_experiment.as_deref())?;
        }
        (Source::Export(dir), Selection::Model { dst_name, dst_experiment, .. }) => {
            let experiment = dst_experiment.ok_or_else(|| Error::Input("no destination experiment given".into()))?;
            let md = read_model_dir(dir)?;
            let source: Arc<dyn RunSource> =
                Arc::new(DirSource::tree(md.runs.iter().map(|r| (r.run_id.clone(), r.dir.clone()))));
            for r in &md.runs {
                let parent = read_run_dir(&r.dir).ok().and_then(|j| j.run.tags.get("mlflow.parentRunId").cloned());
                let dst = p.experiment_sink(&experiment, ExperimentRecord::default());
                p.run(source.clone(), r.run_id.clone(), parent, dst);
            }
            let models: Arc<dyn LoggedModelSource> = Arc::new(DirLoggedModels::new(dir));
            p.model(Arc::new(md.model), models, md.tracking_uri, destination, &dst_name)?;
        }
        (Source::Server(src), Selection::ModelVersion { name, version, dst_name }) => {
            let filter = VersionFilter { versions: Some(vec![version.clone()]), ..Default::default() };
            let model = src.read_model(&name, &filter).await?;
            if model.versions.is_empty() {
                return Err(Error::Input(format!("model {name:?} has no version {version}")));
            }
            match destination {
                Destination::Folder { .. } => p.server_model_version(src, model, destination)?,
                Destination::Server(_) | Destination::Database(_) => {
                    p.shallow_version(src, model, destination, &dst_name)?
                }
            };
        }
        (Source::Export(_), Selection::ModelVersion { .. }) => {
            return Err(Error::Unsupported("a version export is imported as a model (Selection::Model)".into()));
        }
        (Source::Server(src), Selection::Models { names, versions, all_runs, filter, .. }) => {
            p.server_models(src, &names, &versions, Along::TheirExperiments { all_runs, filter }, destination).await?;
        }
        (Source::Server(src), Selection::All { versions, filter, webhook_secrets, .. }) => {
            let names = src.select_models(&ExperimentSpec::All).await?;
            p.server_models(src, &names, &versions, Along::Everything(filter), destination).await?;
            p.webhooks(src.webhooks(), destination, webhook_secrets);
            let prompts = src.select_prompts(&ExperimentSpec::All).await?;
            let summary = p.server_prompts(src, &prompts, None, false, None, &prompts_destination(destination)).await?;
            // The manifest stays the export's last file.
            let manifest = p.plan.steps.iter().rposition(|s| matches!(s.what, Move::ModelIndex(_)));
            if let (Some(summary), Some(manifest)) = (summary, manifest) {
                p.plan.steps[manifest].deps.push(summary);
            }
        }
        (Source::Export(dir), Selection::All { rename_experiments, rename_models, webhook_secrets, .. }) => {
            p.exported_models(dir, &rename_experiments, &rename_models, destination)?;
            if dir.join(PROMPTS_DIR).is_dir() {
                p.exported_prompts(&dir.join(PROMPTS_DIR), false, None, destination)?;
            }
            p.webhooks(Arc::new(DirWebhooks::new(dir, Arc::default())), destination, webhook_secrets);
        }
        (Source::Export(dir), Selection::Models { rename_experiments, rename_models, .. }) => {
            p.exported_models(dir, &rename_experiments, &rename_models, destination)?;
        }
        (Source::Server(src), Selection::LoggedModels { model_ids, experiments, single, dst_experiment }) => {
            let mut groups = Vec::new();
            for id in model_ids {
                let (model, experiment) = src.logged_model_with_experiment(&id).await?;
                groups.push((experiment, vec![model]));
            }
            for exp in experiments {
                let models = src.list_logged_models(&exp.experiment_id).await?;
                groups.push((exp, models));
            }
            p.server_logged_models(src, groups, single, dst_experiment, destination).await?;
        }
        (Source::Export(dir), Selection::LoggedModels { single, dst_experiment, .. }) => {
            p.exported_logged_models(dir, single, dst_experiment).await?;
        }
        (Source::Server(src), Selection::Trace { trace_id, dst_experiment }) => {
            let trace_id = trace_id.ok_or_else(|| Error::Input("no trace id given".into()))?;
            let to = match destination {
                Destination::Folder { out, system } => {
                    TraceTo::Folder(Arc::new(DirTraces::single(out, system.clone())))
                }
                Destination::Server(_) | Destination::Database(_) => TraceTo::Server(
                    dst_experiment.ok_or_else(|| Error::Input("no destination experiment given".into()))?,
                ),
            };
            let source = src.traces();
            let tracking_uri = Some(src.tracking_uri());
            let listed = ListedTrace { id: trace_id, ..ListedTrace::default() };
            p.trace_steps(&source, &tracking_uri, vec![listed], &to)?;
        }
        (Source::Export(dir), Selection::Trace { dst_experiment, .. }) => {
            let experiment = dst_experiment.ok_or_else(|| Error::Input("no destination experiment given".into()))?;
            let info = read_trace_info(dir)?;
            let id = info["trace_id"].as_str().filter(|id| !id.is_empty());
            let id = id.ok_or_else(|| Error::Input(format!("{}: the trace has no trace_id", dir.display())))?;
            let source: Arc<dyn TraceSource> = Arc::new(DirTraces::single(dir, ExportSystem::default()));
            let tracking_uri = read_tracking_uri(&dir.join(TRACE_JSON));
            let listed = ListedTrace::of_info(id.to_string(), &info);
            p.trace_steps(&source, &tracking_uri, vec![listed], &TraceTo::Server(experiment))?;
        }
        (Source::Server(src), Selection::Traces { experiments, window, dst_experiment }) => {
            let source = src.traces();
            let tracking_uri = Some(src.tracking_uri());
            let (mut indexed, mut steps, mut errors) = (Vec::new(), Vec::new(), Vec::new());
            let folder = match destination {
                Destination::Folder { out, system } => Some((out.clone(), system.clone())),
                Destination::Server(_) | Destination::Database(_) => None,
            };
            for exp in experiments {
                let listed = match src.list_traces(&exp.experiment_id, window.filter().as_deref()).await {
                    Ok(listed) => listed,
                    Err(e) => {
                        errors.push(format!("experiment {:?}: {e}", exp.name));
                        continue;
                    }
                };
                let to = match &folder {
                    Some((out, system)) => TraceTo::Folder(Arc::new(DirTraces::under(out, system.clone()))),
                    None => TraceTo::Server(dst_experiment.clone().unwrap_or_else(|| exp.name.clone())),
                };
                let ids = listed.iter().map(|t| t.id.clone()).collect();
                steps.extend(p.trace_steps(&source, &tracking_uri, listed, &to)?);
                indexed.push(IndexedExperiment { id: exp.experiment_id, name: exp.name, items: ids });
            }
            let error = (!errors.is_empty()).then(|| ("traces".to_string(), errors.join("; ")));
            let (dir, system) = folder.map_or((None, ExportSystem::default()), |(out, system)| (Some(out), system));
            p.trace_index(dir, system, indexed, steps, error);
        }
        (Source::Export(dir), Selection::Traces { dst_experiment, .. }) => {
            let source = Arc::new(DirTraces::under(dir, ExportSystem::default()));
            let tracking_uri = read_tracking_uri(&dir.join(TRACES_JSON));
            for e in read_index(&TRACES_INDEX, dir)? {
                let name = indexed_destination(&TRACES_INDEX, dir, &e, &dst_experiment)?;
                let listed = e.items.iter().map(|id| exported_trace(&source, id)).collect();
                let dyn_source: Arc<dyn TraceSource> = source.clone();
                p.trace_steps(&dyn_source, &tracking_uri, listed, &TraceTo::Server(name))?;
            }
        }
        (
            Source::Server(src),
            Selection::EvaluationDatasets { names, experiment_ids, single, dst_name, delete_first },
        ) => {
            let ids = src.select_datasets(names.as_deref(), &experiment_ids).await?;
            if single && ids.len() > 1 {
                // Names need not be unique; one folder holds one dataset.
                return Err(Error::Input(format!(
                    "{} evaluation datasets are named {:?} ({}): choose one by id",
                    ids.len(),
                    names.unwrap_or_default().join(","),
                    ids.join(", ")
                )));
            }
            let source: Arc<dyn EvaluationDatasetSource> = src.clone();
            let sink = dataset_sink(destination, if single { None } else { Some("") });
            for id in ids {
                p.evaluation_dataset(id, dst_name.clone(), delete_first, source.clone(), sink.clone());
            }
        }
        (Source::Export(dir), Selection::EvaluationDatasets { single, dst_name, delete_first, .. }) => {
            let dirs = if single { vec![dir.clone()] } else { list_dataset_dirs(dir)? };
            let mut found = Vec::new();
            for d in dirs {
                found.push((read_dataset_dir(&d)?.dataset_id, d));
            }
            let source: Arc<dyn EvaluationDatasetSource> = Arc::new(DirDatasets::new(found.iter().cloned().collect()));
            let sink = dataset_sink(destination, if single { None } else { Some("") });
            for (id, _) in found {
                p.evaluation_dataset(id, dst_name.clone(), delete_first, source.clone(), sink.clone());
            }
        }
    }
    if let Some(delete_first) = all_datasets {
        p.whole_server_datasets(source, destination, delete_first).await?;
    }
    p.plan.link_parents();
    Ok(p.plan)
}

impl Planner {
    /// Everything of an `export-models` (or `export-all`) folder: its experiments with their
    /// runs, then its models.
    fn exported_models(
        &mut self,
        dir: &Path,
        rename_experiments: &Renames,
        rename_models: &Renames,
        destination: &Destination,
    ) -> Result<()> {
        let entries = read_models_dir(dir)?;
        for entry in read_experiments_dir(&dir.join("experiments"))? {
            self.exported_experiment(&entry.dir, &rename_experiments.apply(&entry.name), destination)?;
        }
        for entry in entries {
            let dst_name = rename_models.apply(&entry.name);
            match read_model_dir(&entry.dir) {
                Ok(md) => {
                    let models: Arc<dyn LoggedModelSource> = Arc::new(DirLoggedModels::new(&entry.dir));
                    self.model(Arc::new(md.model), models, md.tracking_uri, destination, &dst_name)?;
                }
                Err(e) => {
                    let record = RegisteredModelRecord { name: entry.name.clone(), ..Default::default() };
                    self.failed_model(record, e.to_string(), destination, &dst_name);
                }
            }
        }
        Ok(())
    }

    /// The step moving a server's webhooks (from an export: those it holds).
    fn webhooks(
        &mut self,
        source: Arc<dyn WebhookStore>,
        destination: &Destination,
        secrets: Arc<BTreeMap<String, String>>,
    ) -> usize {
        let (sink, to): (Arc<dyn WebhookStore>, String) = match destination {
            Destination::Server(client) => (Arc::new(client.clone()), client.base_url().to_string()),
            Destination::Database(_) => {
                unreachable!("a database destination takes runs and experiments only (refused in plan)")
            }
            Destination::Folder { out, system } => (
                Arc::new(DirWebhooks::new(out, Arc::new(system.clone()))),
                out.join(crate::store::lists::WEBHOOKS_FILE).display().to_string(),
            ),
        };
        let what = WebhookMove { source, sink, secrets };
        self.plan.add(format!("webhooks -> {to}"), Vec::new(), Move::Webhooks(Box::new(what)))
    }
}

/// The folder of a bulk export (`export-all`) that holds its prompts.
pub const PROMPTS_DIR: &str = "prompts";

/// Where the prompts of a whole-server job go: `prompts/` of an export folder.
fn prompts_destination(destination: &Destination) -> Destination {
    match destination {
        Destination::Folder { out, system } => {
            Destination::Folder { out: out.join(PROMPTS_DIR), system: system.clone() }
        }
        Destination::Server(client) => Destination::Server(client.clone()),
        Destination::Database(db) => Destination::Database(db.clone()),
    }
}

/// An exported trace with its run and logged model, which order it after their steps; a trace
/// whose files cannot be read fails when its step runs.
fn exported_trace(traces: &DirTraces, trace_id: &str) -> ListedTrace {
    match traces.dir_of(trace_id).ok().and_then(|d| read_trace_info(&d).ok()) {
        Some(info) => ListedTrace::of_info(trace_id.to_string(), &info),
        None => ListedTrace { id: trace_id.to_string(), ..ListedTrace::default() },
    }
}

/// Where planned traces go.
enum TraceTo {
    /// An export folder.
    Folder(Arc<DirTraces>),
    /// The experiment of this name at the destination server.
    Server(String),
}

/// Where evaluation datasets go: a folder (the folder itself for one dataset, `None`; for a
/// bulk export a subfolder each in `bulk` of it), or a server.
fn dataset_sink(destination: &Destination, bulk: Option<&str>) -> Arc<dyn EvaluationDatasetSink> {
    match destination {
        Destination::Folder { out, system } => match bulk {
            None => Arc::new(DirDatasetSink::new(out, false, system.clone())),
            Some(sub) => Arc::new(DirDatasetSink::new(out.join(sub), true, system.clone())),
        },
        Destination::Server(client) => Arc::new(RestDatasetSink::new(client.clone())),
        Destination::Database(_) => {
            unreachable!("a database destination takes runs and experiments only (refused in plan)")
        }
    }
}

impl Planner {
    /// One evaluation dataset's step: it depends on nothing (the experiments it is linked to
    /// are found or created by name at the destination).
    fn evaluation_dataset(
        &mut self,
        dataset_id: String,
        dst_name: Option<String>,
        delete_first: bool,
        source: Arc<dyn EvaluationDatasetSource>,
        sink: Arc<dyn EvaluationDatasetSink>,
    ) -> usize {
        let label = format!(
            "evaluation dataset {dataset_id}{}",
            dst_name.as_ref().map(|n| format!(" as {n:?}")).unwrap_or_default()
        );
        let what = EvaluationDatasetMove { dataset_id, dst_name, delete_first, source, sink };
        self.plan.add(label, Vec::new(), Move::EvaluationDataset(Box::new(what)))
    }

    /// Every evaluation dataset of a whole-server job: from a server, all it lists (none from
    /// one that has no datasets: a file store, MLflow before 3.4); from an export, those of its
    /// `evaluation_datasets/` folder, when it has one.
    async fn whole_server_datasets(
        &mut self,
        source: &Source,
        destination: &Destination,
        delete_first: bool,
    ) -> Result<()> {
        let sink = dataset_sink(destination, Some(EVALUATION_DATASETS));
        match source {
            Source::Server(src) => {
                let ids = match src.select_datasets(None, &[]).await {
                    Ok(ids) => ids,
                    Err(Error::Client(e)) if e.status().is_some() => {
                        tracing::warn!(error = %e, "the source lists no evaluation datasets; none are moved");
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                let from: Arc<dyn EvaluationDatasetSource> = src.clone();
                for id in ids {
                    self.evaluation_dataset(id, None, delete_first, from.clone(), sink.clone());
                }
            }
            Source::Export(dir) => {
                let bulk = dir.join(EVALUATION_DATASETS);
                if !bulk.is_dir() {
                    return Ok(());
                }
                let mut found = Vec::new();
                for d in list_dataset_dirs(&bulk)? {
                    found.push((read_dataset_dir(&d)?.dataset_id, d));
                }
                let from: Arc<dyn EvaluationDatasetSource> =
                    Arc::new(DirDatasets::new(found.iter().cloned().collect()));
                for (id, _) in found {
                    self.evaluation_dataset(id, None, delete_first, from.clone(), sink.clone());
                }
            }
        }
        Ok(())
    }
}

/// Resolves `--experiments` at a server. Experiments named one by one are looked up one by
/// one: one that cannot be read (no such experiment, permission denied) comes back as
/// (name, why) and does not stop the others. Any other failure (the server unreachable, a
/// wrong login) stops the job.
pub async fn select_experiments(
    source: &dyn TrackingSource,
    spec: &ExperimentSpec,
) -> Result<(Vec<ExperimentRecord>, Vec<(String, String)>)> {
    let ExperimentSpec::List(names) = spec else {
        return Ok((source.select_experiments(spec).await?, Vec::new()));
    };
    let (mut found, mut failed) = (Vec::<ExperimentRecord>::new(), Vec::new());
    for name in names {
        match source.find_experiment(name).await {
            Ok(e) => {
                if !found.iter().any(|x| x.experiment_id == e.experiment_id) {
                    found.push(e);
                }
            }
            Err(e) if unreadable(&e) => failed.push((name.clone(), e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok((found, failed))
}

/// Whether a lookup failed because of the object itself, not the server or the login.
fn unreadable(e: &Error) -> bool {
    match e {
        Error::NotFound(_) => true,
        Error::Client(c) => matches!(c.status(), Some(403 | 404)),
        _ => false,
    }
}

/// Checks that a folder is a readable experiment export, so that a command can refuse it
/// before touching its destination.
pub fn check_experiment_dir(dir: &Path) -> Result<()> {
    Ok(read_experiment_dir(dir).map(drop)?)
}

/// The traces of an experiment, as planned: the experiment, where it goes, its traces (id and
/// run) or why they could not be listed, where they are read.
struct TracesOf {
    record: ExperimentRecord,
    destination: ExperimentDestination,
    listed: std::result::Result<Vec<ListedTrace>, String>,
    source: Arc<dyn TraceSource>,
    tracking_uri: Option<String>,
}

/// Where an experiment exported from a server goes in a folder.
enum ExperimentTarget<'a> {
    /// The folder itself, or the experiment `name` at a server.
    Single(&'a str),
    /// `<out>/<id>/`, or the experiment of the same name at a server.
    Bulk,
}

struct Planner {
    plan: Plan,
    /// Step of each run planned, by source run id.
    runs: HashMap<String, usize>,
    /// The destination server and its URL, for jobs that write to one.
    server: Option<(Arc<RestServer>, String)>,
    /// The destination server's client, for the stores of the kinds it holds.
    dst_client: Option<MlflowClient>,
    /// Step of each logged model planned, by destination and source model id: one copy
    /// however many versions (of however many models) use it.
    logged_models: HashMap<String, usize>,
    /// `Open` step of each destination experiment planned, by name: finding it by scanning
    /// every step made planning quadratic (once per run of a model's versions, once per
    /// experiment of a bulk job).
    experiment_opens: HashMap<String, usize>,
    /// The destination database, for jobs that write into one directly.
    database: Option<Arc<SqlSink>>,
}

impl Planner {
    /// A run step; planned once however many models' versions need the run.
    fn run(&mut self, source: Arc<dyn RunSource>, run_id: String, parent: Option<String>, dst: RunTarget) -> usize {
        if let Some(&step) = self.runs.get(&run_id) {
            return step;
        }
        let what = Move::Run(RunMove { run_id: run_id.clone(), parent, source, sink: dst.sink });
        self.plan.steps.push(Step { label: Label::Run(dst.label), deps: dst.open.into_iter().collect(), what });
        let step = self.plan.steps.len() - 1;
        self.runs.insert(run_id, step);
        step
    }

    /// Where single runs go: a folder, or experiment `experiment` at a server.
    fn run_sink(
        &mut self,
        destination: &Destination,
        experiment: Option<&str>,
        dir: Option<&Path>,
    ) -> Result<RunTarget> {
        match destination {
            Destination::Folder { out, system } => {
                let dir = dir.unwrap_or(out);
                let sink: Arc<dyn RunSink> = Arc::new(DirSink::new(dir, system.clone()));
                Ok(RunTarget { open: None, sink: RunDestination::Ready(sink), label: dir.display().to_string().into() })
            }
            Destination::Server(_) | Destination::Database(_) => {
                let name = experiment.ok_or_else(|| Error::Input("no destination experiment given".into()))?;
                Ok(self.experiment_sink(name, ExperimentRecord::default()))
            }
        }
    }

    /// The `Open` step of experiment `name` at a server (planned once per name), as the target
    /// of its runs.
    fn experiment_sink(&mut self, name: &str, source: ExperimentRecord) -> RunTarget {
        let (server, url) = self.experiment_store();
        let label = format!("experiment {name:?} at {url}");
        let open = match self.experiment_opens.get(name) {
            Some(&step) => step,
            None => {
                let what = ExperimentMove {
                    record: source,
                    destination: ExperimentDestination::Server { server, name: name.to_string() },
                    phase: Phase::Open,
                    error: None,
                    shard: None,
                };
                let step =
                    self.plan.add(format!("{label} (find or create)"), Vec::new(), Move::Experiment(Box::new(what)));
                self.experiment_opens.insert(name.to_string(), step);
                step
            }
        };
        RunTarget { open: Some(open), sink: RunDestination::Experiment, label: label.into() }
    }

    /// Experiment `name` at the destination server.
    fn experiment_destination(&self, name: String) -> ExperimentDestination {
        let (server, _) = self.experiment_store();
        ExperimentDestination::Server { server, name }
    }

    /// Where experiments are found or created: the destination database, or server.
    fn experiment_store(&self) -> (Arc<dyn ExperimentSink>, String) {
        if let Some(db) = &self.database {
            return (db.clone(), db.uri().to_string());
        }
        let (server, url) = self.server.clone().expect("only a server destination has experiments to open");
        (server, url)
    }

    /// A database destination takes an experiment's runs only: one with logged models or
    /// traces (or whose traces cannot be listed) is refused before anything is written.
    fn runs_only(
        &self,
        name: &str,
        models: &mut Option<ExperimentModels>,
        traces: &std::result::Result<Vec<ListedTrace>, String>,
    ) -> Result<()> {
        let Some(db) = &self.database else { return Ok(()) };
        let logged_models = models.as_ref().map_or(0, |m| m.records.len());
        let traces = traces.as_ref().map_err(|e| Error::Input(format!("experiment {name:?}: {e}")))?.len();
        if logged_models + traces > 0 {
            return Err(Error::Unsupported(format!(
                "experiment {name:?} has {logged_models} logged models and {traces} traces: a database destination \
                 ({}) takes runs only for now; copy the experiment through the tracking server",
                db.uri()
            )));
        }
        *models = None;
        Ok(())
    }

    /// An experiment read from a server, with its runs; returns its closing step.
    async fn server_experiment(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        exp: ExperimentRecord,
        filter: &RunFilter,
        destination: &Destination,
        target: ExperimentTarget<'_>,
        pinned: &[String],
    ) -> Result<usize> {
        let (dst, record) = match (destination, &target) {
            (Destination::Folder { out, system }, ExperimentTarget::Single(_)) => {
                (ExperimentDestination::Folder { dir: out.clone(), system: system.clone() }, exp)
            }
            (Destination::Folder { out, system }, ExperimentTarget::Bulk) => {
                let dir = out.join(folder_name("experiment id", &exp.experiment_id)?);
                (ExperimentDestination::Folder { dir, system: system.clone() }, exp)
            }
            (Destination::Server(_) | Destination::Database(_), target) => {
                let name = match target {
                    ExperimentTarget::Single(n) => n.to_string(),
                    ExperimentTarget::Bulk => exp.name.clone(),
                };
                (self.experiment_destination(name), exp)
            }
        };
        // Runs `pinned` are taken whatever the filter says; reading their version located them,
        // so their parent link is known without a request.
        let found = match src.plan_runs(&record, filter).await {
            Ok(runs) => with_pinned(src.as_ref(), runs, pinned).await,
            Err(e) => Err(e),
        };
        // Run ids become folder names in an export: a server's answer is not trusted to be one.
        let found = found.and_then(|runs| {
            runs.iter().try_for_each(|(id, _)| folder_name("run id", id).map(drop))?;
            Ok(runs)
        });
        // Every logged model of the experiment, with or without a run, and (when it has any)
        // the links its runs have to them.
        let found = match found {
            Ok(runs) => match src.list_logged_models(&record.experiment_id).await {
                Ok(records) if records.is_empty() => Ok((runs, records, Vec::new())),
                Ok(records) => {
                    let ids: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
                    src.model_links(&ids).await.map(|links| (runs, records, links))
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (found, models) = match found {
            Ok((runs, records, run_links)) => {
                let mut links = ModelLinks::default();
                for ((id, _), (inputs, outputs)) in runs.iter().zip(run_links) {
                    links.add(id, inputs, outputs);
                }
                let source: Arc<dyn LoggedModelSource> = Arc::new(ListedModels::new(src.clone(), records.clone()));
                let tracking_uri = Some(src.tracking_uri());
                (Ok(runs), Some(ExperimentModels { source, records, links, tracking_uri }))
            }
            Err(e) => (Err(e), None),
        };
        let source: Arc<dyn RunSource> = src.clone();
        let scorers = src.scorers();
        let label = format!("experiment {} {:?}", record.experiment_id, record.name);
        let traces = src.traces();
        let listed = src.list_traces(&record.experiment_id, None).await.map_err(|e| e.to_string());
        let mut models = models;
        self.runs_only(&record.name, &mut models, &listed)?;
        let tracking_uri = Some(src.tracking_uri());
        let planned =
            TracesOf { record: record.clone(), destination: dst.clone(), listed, source: traces, tracking_uri };
        let extras = Extras { models, scorers: Some(scorers) };
        let close = self.experiment(label, record, dst, found.map_err(|e| e.to_string()), source, extras);
        self.experiment_traces(planned)?;
        Ok(close)
    }

    /// An experiment folder of an export, imported as `name`.
    fn exported_experiment(&mut self, dir: &Path, name: &str, destination: &Destination) -> Result<usize> {
        let (Destination::Server(_) | Destination::Database(_)) = destination else {
            return Err(Error::Unsupported("an export can only be imported into a server".into()));
        };
        let dst = self.experiment_destination(name.to_string());
        let exp = match read_experiment_dir(dir) {
            Ok(exp) => exp,
            Err(e) => {
                let record = ExperimentRecord { name: name.to_string(), ..ExperimentRecord::default() };
                let label = format!("experiment {}", dir.display());
                return Ok(self.experiment(
                    label,
                    record,
                    dst,
                    Err(e.to_string()),
                    Arc::new(DirSource::tree([])),
                    Extras::default(),
                ));
            }
        };
        let record = ExperimentRecord { name: name.to_string(), ..exp.experiment.clone() };
        let label = format!("experiment {} {:?}", exp.experiment.experiment_id, exp.experiment.name);
        // The parent link is needed to order runs; a run whose files cannot be read fails when
        // its step runs, with the same error, and does not hold up the others.
        let mut links = ModelLinks::default();
        let runs = exp
            .runs
            .iter()
            .map(|r| {
                let run = read_run_dir(&r.dir).ok().map(|j| j.run);
                let parent = run.as_ref().and_then(|run| run.tags.get("mlflow.parentRunId").cloned());
                if let Some(run) = run {
                    links.add(&r.run_id, run.model_inputs, run.model_outputs);
                }
                (r.run_id.clone(), parent)
            })
            .collect();
        let source: Arc<dyn RunSource> =
            Arc::new(DirSource::tree(exp.runs.iter().map(|r| (r.run_id.clone(), r.dir.clone()))));
        let scorers: Arc<dyn ScorerStore> = Arc::new(DirScorers::new(dir, Arc::default()));
        let (runs, models) = match crate::store::dir::read_logged_models(dir) {
            Ok(records) => {
                let source: Arc<dyn LoggedModelSource> = Arc::new(DirLoggedModels::new(dir));
                (Ok(runs), Some(ExperimentModels { source, records, links, tracking_uri: None }))
            }
            Err(e) => (Err(e.to_string()), None),
        };
        let traces = Arc::new(DirTraces::of_experiment(dir, ExportSystem::default()));
        let listed = read_index(&TRACES_INDEX, &dir.join(TRACES))
            .map_err(|e| e.to_string())
            .map(|index| index.into_iter().flat_map(|e| e.items).map(|id| exported_trace(&traces, &id)).collect());
        let mut models = models;
        self.runs_only(name, &mut models, &listed)?;
        let planned = TracesOf {
            record: record.clone(),
            destination: dst.clone(),
            listed,
            source: traces,
            tracking_uri: exp.tracking_uri,
        };
        let close = self.experiment(label, record, dst, runs, source, Extras { models, scorers: Some(scorers) });
        self.experiment_traces(planned)?;
        Ok(close)
    }

    /// A step per trace of an experiment, after the experiment's `Open` and its run; into a
    /// folder, `traces/traces.json` after them. Traces that could not be listed are one
    /// failure of the experiment's traces.
    fn experiment_traces(&mut self, of: TracesOf) -> Result<()> {
        let (ids, error) = match of.listed {
            Ok(ids) if ids.is_empty() => return Ok(()),
            Ok(ids) => (ids, None),
            Err(e) => (Vec::new(), Some((format!("traces of experiment {:?}", of.record.name), e))),
        };
        let (to, dir, system) = match &of.destination {
            ExperimentDestination::Folder { dir, system } => (
                TraceTo::Folder(Arc::new(DirTraces::of_experiment(dir, system.clone()))),
                Some(dir.join(TRACES)),
                system.clone(),
            ),
            ExperimentDestination::Server { name, .. } => {
                (TraceTo::Server(name.clone()), None, ExportSystem::default())
            }
        };
        let source = of.source;
        let traces = ids.iter().map(|t| t.id.clone()).collect();
        let steps = self.trace_steps(&source, &of.tracking_uri, ids, &to)?;
        if dir.is_some() || error.is_some() {
            let indexed = IndexedExperiment { id: of.record.experiment_id, name: of.record.name, items: traces };
            self.trace_index(dir, system, vec![indexed], steps, error);
        }
        Ok(())
    }

    /// A step per trace: into a server after the destination experiment's `Open` and the
    /// trace's run and logged model when the job moves them.
    fn trace_steps(
        &mut self,
        source: &Arc<dyn TraceSource>,
        tracking_uri: &Option<String>,
        traces: Vec<ListedTrace>,
        to: &TraceTo,
    ) -> Result<Vec<usize>> {
        let (sink, open): (Arc<dyn TraceSink>, Option<usize>) = match to {
            TraceTo::Folder(dir) => (dir.clone(), None),
            TraceTo::Server(name) => {
                let (server, _) = self.server.as_ref().expect("a server destination");
                let sink = Arc::new(RestTraces::new(server.client().clone()));
                (sink, self.experiment_sink(name, ExperimentRecord::default()).open)
            }
        };
        let mut steps = Vec::new();
        for t in traces {
            let label = match to {
                TraceTo::Folder(dir) => format!("trace {} -> {}", t.id, dir.dir_of(&t.id)?.display()),
                TraceTo::Server(name) => format!("trace {} -> experiment {name:?}", t.id),
            };
            let mut deps: Vec<usize> = open.into_iter().chain(t.run.and_then(|r| self.runs.get(&r).copied())).collect();
            // At a server its logged model's copy is named by the copy's id (an export keeps
            // the trace as read).
            if let TraceTo::Server(_) = to {
                deps.extend(t.model.and_then(|m| self.logged_models.get(&m).copied()));
            }
            let what = TraceMove {
                trace_id: t.id,
                source: source.clone(),
                sink: sink.clone(),
                to_server: matches!(to, TraceTo::Server(_)),
                source_tracking_uri: tracking_uri.clone(),
            };
            steps.push(self.plan.add(label, deps, Move::Trace(Box::new(what))));
        }
        Ok(steps)
    }

    /// `traces.json` in `dir` after the trace `steps`, and the failure to list traces, if any.
    fn trace_index(
        &mut self,
        dir: Option<PathBuf>,
        system: ExportSystem,
        experiments: Vec<IndexedExperiment>,
        steps: Vec<usize>,
        error: Option<(String, String)>,
    ) {
        let label = match &dir {
            Some(d) => format!("traces index -> {}", d.join("traces.json").display()),
            None => "traces that could not be listed".to_string(),
        };
        let index = IndexMove { kind: &TRACES_INDEX, dir, experiments, system, error, shard: None };
        self.plan.add(label, steps, Move::Index(Box::new(index)));
    }

    /// An experiment named for a job that could not be read.
    fn unreadable_experiment(&mut self, name: String, why: String, destination: &Destination) -> usize {
        let label = format!("experiment {name:?}");
        let record = ExperimentRecord { name: name.clone(), ..ExperimentRecord::default() };
        let dst = match destination {
            Destination::Folder { out, system } => {
                ExperimentDestination::Folder { dir: out.clone(), system: system.clone() }
            }
            Destination::Server(_) | Destination::Database(_) => self.experiment_destination(name),
        };
        self.experiment(label, record, dst, Err(why), Arc::new(DirSource::tree([])), Extras::default())
    }

    /// An experiment's steps: `Open` (at a server), its runs, its logged models and scorers
    /// (`Extras`), `Close`. `runs` is (id, parent) of each run, or why they could not be listed.
    fn experiment(
        &mut self,
        describe: String,
        record: ExperimentRecord,
        dst: ExperimentDestination,
        runs: std::result::Result<Vec<(String, Option<String>)>, String>,
        source: Arc<dyn RunSource>,
        Extras { models, scorers }: Extras,
    ) -> usize {
        let mut deps = Vec::new();
        if let Ok(runs) = &runs {
            let target = match &dst {
                ExperimentDestination::Server { name, .. } => {
                    let t = self.experiment_sink(name, record.clone());
                    deps.extend(t.open);
                    Some(t)
                }
                ExperimentDestination::Folder { .. } => None,
            };
            let shared_system = match &dst {
                ExperimentDestination::Folder { system, .. } => Some(Arc::new(system.clone())),
                ExperimentDestination::Server { .. } => None,
            };
            // Room for every run at once: grown by doubling, the steps of 100,000 runs were
            // held once and a half over.
            self.plan.steps.reserve(runs.len());
            deps.reserve(runs.len());
            for (run_id, parent) in runs {
                let run_target = match (&target, &dst) {
                    (Some(t), _) => {
                        RunTarget { open: t.open, sink: RunDestination::Experiment, label: t.label.clone() }
                    }
                    (None, ExperimentDestination::Folder { dir, .. }) => {
                        let dir = dir.join("runs").join(run_id);
                        let system = shared_system.clone().expect("a folder destination");
                        let sink: Arc<dyn RunSink> = Arc::new(DirSink::new(&dir, system));
                        let label = dir.display().to_string().into();
                        RunTarget { open: None, sink: RunDestination::Ready(sink), label }
                    }
                    (None, ExperimentDestination::Server { .. }) => unreachable!("server targets are opened"),
                };
                deps.push(self.run(source.clone(), run_id.clone(), parent.clone(), run_target));
            }
            if let Some(models) = models {
                deps.extend(self.experiment_models(models, &dst, target.as_ref().and_then(|t| t.open)));
            }
            if let Some(from) = scorers {
                deps.push(self.scorers(&record, from, &dst, target.and_then(|t| t.open)));
            }
        }
        let to = match &dst {
            ExperimentDestination::Folder { dir, .. } => dir.join("experiment.json").display().to_string(),
            ExperimentDestination::Server { name, .. } => {
                let at =
                    self.database.as_ref().map(|db| db.uri()).or(self.server.as_ref().map(|(_, url)| url.as_str()));
                format!("experiment {name:?} at {}", at.unwrap_or(""))
            }
        };
        let what = ExperimentMove { record, destination: dst, phase: Phase::Close, error: runs.err(), shard: None };
        self.plan.add(format!("{describe} -> {to}"), deps, Move::Experiment(Box::new(what)))
    }

    /// The step moving an experiment's scorers, after its destination is open (`open`).
    fn scorers(
        &mut self,
        record: &ExperimentRecord,
        source: Arc<dyn ScorerStore>,
        dst: &ExperimentDestination,
        open: Option<usize>,
    ) -> usize {
        let (sink, to): (Arc<dyn ScorerStore>, String) = match dst {
            ExperimentDestination::Server { name, .. } if self.database.is_some() => {
                (self.database.clone().expect("a database destination"), format!("experiment {name:?}"))
            }
            ExperimentDestination::Server { name, .. } => {
                (Arc::new(self.dst_client.clone().expect("a server destination")), format!("experiment {name:?}"))
            }
            ExperimentDestination::Folder { dir, system } => (
                Arc::new(DirScorers::new(dir, Arc::new(system.clone()))),
                dir.join(crate::store::lists::SCORERS_FILE).display().to_string(),
            ),
        };
        let what = ScorerMove {
            experiment_id: record.experiment_id.clone(),
            experiment_name: record.name.clone(),
            source,
            sink,
        };
        let label = format!("scorers of experiment {:?} -> {to}", record.name);
        self.plan.add(label, open.into_iter().collect(), Move::Scorers(Box::new(what)))
    }

    /// `experiments.json` of a bulk export, after every experiment; its step, if one is planned.
    fn experiment_index(&mut self, destination: &Destination, dir: Option<&Path>, closes: Vec<usize>) -> Option<usize> {
        let Destination::Folder { out, system } = destination else { return None };
        let out = dir.unwrap_or(out).to_path_buf();
        let label = format!("experiments index -> {}", out.join("experiments.json").display());
        Some(self.plan.add(
            label,
            closes,
            Move::ExperimentIndex(Box::new(ExperimentIndex { out, system: system.clone(), shard: None })),
        ))
    }

    /// A model read from a server: the runs behind its versions, then the model.
    fn server_model(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        model: RegisteredModelRecord,
        destination: &Destination,
        dst_name: &str,
        dst_experiment: Option<&str>,
    ) -> Result<usize> {
        let source: Arc<dyn RunSource> = src.clone();
        for run_id in version_runs(&model) {
            let Some(v) = model.versions.iter().find(|v| v.run_id.as_deref() == Some(run_id.as_str())) else {
                continue;
            };
            let target = match destination {
                Destination::Folder { out, .. } => {
                    self.run_sink(destination, None, Some(&out.join(folder_name("run id", &run_id)?)))?
                }
                Destination::Server(_) | Destination::Database(_) => {
                    let Some(experiment) = dst_experiment.map(str::to_string).or_else(|| v.experiment_name.clone())
                    else {
                        continue; // The run no longer exists at the source; its versions fail with that reason.
                    };
                    self.experiment_sink(&experiment, ExperimentRecord::default())
                }
            };
            self.run(source.clone(), run_id, None, target);
        }
        let models: Arc<dyn LoggedModelSource> = src.clone();
        let tracking_uri = Some(src.tracking_uri());
        self.model(Arc::new(model), models, tracking_uri, destination, dst_name)
    }

    /// The one version of `model` into a folder in the `export-model-version` layout: its run
    /// in `<out>/run/`, then `model.json` and `version.json`. Returns the closing step.
    fn server_model_version(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        model: RegisteredModelRecord,
        destination: &Destination,
    ) -> Result<usize> {
        let Destination::Folder { out, system } = destination else {
            return Err(Error::Unsupported("a model version alone is exported to a folder".into()));
        };
        let source: Arc<dyn RunSource> = src.clone();
        for run_id in version_runs(&model) {
            let target = self.run_sink(destination, None, Some(&out.join(VERSION_RUN_DIR)))?;
            self.run(source.clone(), run_id, None, target);
        }
        let models: Arc<dyn LoggedModelSource> = src.clone();
        let tracking_uri = Some(src.tracking_uri());
        let close = self.model(Arc::new(model), models, tracking_uri, destination, "")?;
        if let Move::Model(m) = &mut self.plan.steps[close].what {
            m.destination = ModelDestination::VersionFolder { dir: out.clone(), system: system.clone() };
        }
        Ok(close)
    }

    /// The one version of `model` as a new version of `dst_name` at its own server, pointing at
    /// the source version's run: no run step, so the version's files are found in the run itself.
    fn shallow_version(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        model: RegisteredModelRecord,
        destination: &Destination,
        dst_name: &str,
    ) -> Result<usize> {
        let Destination::Server(dst) = destination else {
            return Err(Error::Unsupported("a shallow version copy goes to a server".into()));
        };
        if dst.base_url() != src.tracking_uri() {
            return Err(Error::Unsupported(
                "a version can share its source run only at the same server: copy the run too".into(),
            ));
        }
        if model.versions.iter().any(|v| v.logged_model_id().is_some()) {
            return Err(Error::Unsupported(
                "a version registered from an MLflow 3 logged model is not copied shallow: copy its run too".into(),
            ));
        }
        let models: Arc<dyn LoggedModelSource> = src.clone();
        let tracking_uri = Some(src.tracking_uri());
        self.model(Arc::new(model), models, tracking_uri, destination, dst_name)
    }

    /// Several models from a server with what `along` says goes with them. Into a folder: the
    /// `export-models` layout (experiments in `experiments/`, models in `models/`, the indexes
    /// and `manifest.json` last). Into a server (`Along::Everything` only): the experiments
    /// with their runs, then each model after the runs of its versions.
    async fn server_models(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        names: &[String],
        filter: &VersionFilter,
        along: Along,
        destination: &Destination,
    ) -> Result<()> {
        let (mut models, mut failed) = (Vec::new(), Vec::new());
        for name in names {
            match src.read_model(name, filter).await {
                Ok(m) => models.push(m),
                Err(e) => failed.push((name.clone(), e.to_string())),
            }
        }
        // The runs behind the versions, by the name of their experiment.
        // A run goes under the experiment named by the first of its model's versions that has
        // it, once per experiment; sets, not scans, so that thousands of versions stay linear.
        let mut pinned: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut placed: BTreeSet<(String, String)> = BTreeSet::new();
        for m in &models {
            let mut first_of_run = BTreeSet::new();
            for v in &m.versions {
                let Some(run_id) = v.run_id.as_ref().filter(|r| first_of_run.insert((*r).clone())) else { continue };
                if let Some(experiment) = &v.experiment_name {
                    if placed.insert((experiment.clone(), run_id.clone())) {
                        pinned.entry(experiment.clone()).or_default().push(run_id.clone());
                    }
                }
            }
        }
        let mut experiments = Vec::new();
        for name in pinned.keys() {
            experiments.push(src.find_experiment(name).await?);
        }
        let run_filter = match along {
            // The versions' runs come `pinned`, so the filter only picks the others.
            Along::TheirExperiments { all_runs: true, filter } => filter,
            Along::TheirExperiments { all_runs: false, .. } => {
                let run_ids: Vec<String> = pinned.values().flatten().cloned().collect();
                RunFilter { include_deleted: true, run_ids: Some(run_ids), ..RunFilter::default() }
            }
            Along::Everything(filter) => {
                let mut have: BTreeSet<String> = experiments.iter().map(|e| e.experiment_id.clone()).collect();
                for e in src.select_experiments(&ExperimentSpec::All).await? {
                    if have.insert(e.experiment_id.clone()) {
                        experiments.push(e);
                    }
                }
                filter
            }
        };
        let Destination::Folder { out, system } = destination else {
            for exp in experiments {
                let runs = pinned.get(&exp.name).cloned().unwrap_or_default();
                self.server_experiment(src, exp, &run_filter, destination, ExperimentTarget::Bulk, &runs).await?;
            }
            for m in models {
                let name = m.name.clone();
                self.server_model(src, m, destination, &name, None)?;
            }
            for (name, why) in failed {
                let record = RegisteredModelRecord { name: name.clone(), ..Default::default() };
                self.failed_model(record, why, destination, &name);
            }
            return Ok(());
        };
        let experiments_dir = out.join("experiments");
        let folder = Destination::Folder { out: experiments_dir.clone(), system: system.clone() };
        let mut closes = Vec::new();
        for exp in experiments {
            let runs = pinned.get(&exp.name).cloned().unwrap_or_default();
            closes.push(self.server_experiment(src, exp, &run_filter, &folder, ExperimentTarget::Bulk, &runs).await?);
        }
        let experiments_index = self.experiment_index(&folder, Some(&experiments_dir), closes.clone());
        let models_dir = out.join("models");
        let mut model_closes = Vec::new();
        for m in models {
            let dst_name = m.name.clone();
            if !crate::paths::is_single_segment(&m.name) {
                let why = format!("model {:?}: its name cannot be a folder name", m.name);
                model_closes.push(self.failed_model(m, why, destination, &dst_name));
                continue;
            }
            let dir = models_dir.join(&m.name);
            let to = Destination::Folder { out: dir, system: system.clone() };
            let lms: Arc<dyn LoggedModelSource> = src.clone();
            let tracking_uri = Some(src.tracking_uri());
            model_closes.push(self.model(Arc::new(m), lms, tracking_uri, &to, &dst_name)?);
        }
        for (name, why) in failed {
            let record = RegisteredModelRecord { name: name.clone(), ..Default::default() };
            model_closes.push(self.failed_model(record, why, destination, &name));
        }
        let label = format!(
            "models index -> {}, manifest -> {}",
            models_dir.join("models.json").display(),
            out.join("manifest.json").display()
        );
        // After the experiments too: the manifest counts them and is the export's last file.
        let deps = model_closes.into_iter().chain(closes).chain(experiments_index).collect();
        let index = ModelIndex { dir: models_dir, manifest: out.clone(), system: system.clone(), shard: None };
        self.plan.add(label, deps, Move::ModelIndex(Box::new(index)));
        Ok(())
    }

    /// A model that cannot be moved: its closing step reports why.
    fn failed_model(
        &mut self,
        record: RegisteredModelRecord,
        why: String,
        destination: &Destination,
        dst_name: &str,
    ) -> usize {
        let dst = self.model_destination(destination, dst_name, None);
        let label = format!("registered model {:?} (cannot be moved: {why})", record.name);
        let what = ModelMove { record: Arc::new(record), destination: dst, phase: Phase::Close, error: Some(why) };
        self.plan.add(label, Vec::new(), Move::Model(Box::new(what)))
    }

    fn model_destination(
        &self,
        destination: &Destination,
        dst_name: &str,
        tracking_uri: Option<String>,
    ) -> ModelDestination {
        match destination {
            Destination::Folder { out, system } => {
                ModelDestination::Folder { dir: out.clone(), system: system.clone() }
            }
            Destination::Server(_) | Destination::Database(_) => ModelDestination::Server {
                sink: self.server.as_ref().expect("a server destination").0.clone(),
                name: dst_name.to_string(),
                source_tracking_uri: tracking_uri,
            },
        }
    }

    /// A model's steps, once its runs are planned: its logged models, `Open` (at a server),
    /// each version after the one before, `Close`. Returns the closing step.
    fn model(
        &mut self,
        model: Arc<RegisteredModelRecord>,
        logged_models: Arc<dyn LoggedModelSource>,
        tracking_uri: Option<String>,
        destination: &Destination,
        dst_name: &str,
    ) -> Result<usize> {
        let dst = self.model_destination(destination, dst_name, tracking_uri.clone());
        let (to, lm_sink, version_dst): (String, Arc<dyn LoggedModelSink>, VersionDestination) = match destination {
            Destination::Folder { out, .. } => (
                out.join("model.json").display().to_string(),
                Arc::new(DirLoggedModelSink::new(out)),
                VersionDestination::Folder,
            ),
            Destination::Server(client) => (
                format!("{dst_name:?} at {}", client.base_url()),
                Arc::new(RestLoggedModelSink::new(client.clone())),
                VersionDestination::Server {
                    sink: self.server.as_ref().expect("a server destination").0.clone(),
                    source_tracking_uri: tracking_uri.clone(),
                },
            ),
            Destination::Database(_) => {
                unreachable!("a database destination takes runs and experiments only (refused in plan)")
            }
        };
        let open = match &dst {
            ModelDestination::Server { .. } => {
                let what =
                    ModelMove { record: model.clone(), destination: dst.clone(), phase: Phase::Open, error: None };
                Some(self.plan.add(
                    format!("registered model {:?} -> {to} (find or create)", model.name),
                    Vec::new(),
                    Move::Model(Box::new(what)),
                ))
            }
            ModelDestination::Folder { .. } | ModelDestination::VersionFolder { .. } => None,
        };
        let mut previous: Option<usize> = None;
        let mut versions = Vec::new();
        for v in &model.versions {
            let mut deps: Vec<usize> = open.into_iter().chain(previous).collect();
            let run_step = v.run_id.as_ref().and_then(|r| self.runs.get(r)).copied();
            deps.extend(run_step);
            if let Some(id) = v.logged_model_id() {
                // One copy per destination: per server, or per model folder of an export.
                let key = match destination {
                    Destination::Folder { out, .. } => ModelFolders::Beside(out.clone()).key(id),
                    Destination::Server(_) | Destination::Database(_) => id.to_string(),
                };
                let step = match self.logged_models.get(&key) {
                    Some(&s) => s,
                    None => {
                        // At a server the copy joins its run's copy; in a folder it needs no run.
                        let lm_deps = match destination {
                            Destination::Server(_) | Destination::Database(_) => run_step.into_iter().collect(),
                            Destination::Folder { .. } => Vec::new(),
                        };
                        let label = match destination {
                            Destination::Folder { out, .. } => format!(
                                "logged model {id} -> {}",
                                out.join(crate::store::dir::LOGGED_MODELS).join(id).display()
                            ),
                            Destination::Server(_) | Destination::Database(_) => {
                                format!("logged model {id} -> the experiment of its run's copy ({to})")
                            }
                        };
                        let what = LoggedModelMove {
                            model_id: id.to_string(),
                            source: logged_models.clone(),
                            sink: lm_sink.clone(),
                            source_tracking_uri: tracking_uri.clone(),
                            run_id: v.run_id.clone(),
                            inputs: Vec::new(),
                            outputs: Vec::new(),
                        };
                        let s = self.plan.add(label, lm_deps, Move::LoggedModel(Box::new(what)));
                        self.logged_models.insert(key, s);
                        s
                    }
                };
                deps.push(step);
            }
            let what = VersionMove { model: model.clone(), version: v.clone(), destination: version_dst.clone() };
            let step = self.plan.add(
                format!("model version {:?} {} -> {to}", model.name, v.version),
                deps,
                Move::Version(Box::new(what)),
            );
            versions.push(step);
            previous = Some(step);
        }
        let deps: Vec<usize> = open.into_iter().chain(versions).collect();
        let what = ModelMove { record: model.clone(), destination: dst, phase: Phase::Close, error: None };
        Ok(self.plan.add(format!("registered model {:?} -> {to}", model.name), deps, Move::Model(Box::new(what))))
    }
}

impl Planner {
    /// Prompts read from a server, one step each; into a bulk folder, `prompts_summary.json`
    /// after them (its step is returned). A prompt that cannot be read (missing, a registered
    /// model) fails alone.
    async fn server_prompts(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        names: &[String],
        version: Option<&str>,
        single: bool,
        dst_name: Option<&str>,
        destination: &Destination,
    ) -> Result<Option<usize>> {
        let tracking_uri = Some(src.tracking_uri());
        let mut steps = Vec::new();
        for name in names {
            let (record, error) = match src.read_prompt(name, version).await {
                Ok(r) => (r, None),
                Err(e) if unreadable(&e) || matches!(e, Error::Input(_)) => {
                    (RegisteredModelRecord { name: name.clone(), ..Default::default() }, Some(e.to_string()))
                }
                Err(e) => return Err(e),
            };
            let dst_name = dst_name.unwrap_or(name).to_string();
            steps.push(self.prompt(record, error, tracking_uri.clone(), destination, single, dst_name));
        }
        Ok(self.prompt_index(destination, single, steps))
    }

    /// The prompts of an export: the one version in `dir/prompt.json` (`single`), or every
    /// prompt of a bulk prompts folder.
    fn exported_prompts(
        &mut self,
        dir: &Path,
        single: bool,
        dst_name: Option<&str>,
        destination: &Destination,
    ) -> Result<()> {
        if single {
            let e = read_prompt_dir(dir)?;
            let dst_name = dst_name.unwrap_or(&e.prompt.name).to_string();
            self.prompt(e.prompt, None, e.tracking_uri, destination, true, dst_name);
            return Ok(());
        }
        let mut steps = Vec::new();
        for entry in read_prompts_dir(dir)? {
            let step = match entry {
                Ok(e) => {
                    let dst_name = dst_name.unwrap_or(&e.prompt.name).to_string();
                    self.prompt(e.prompt, None, e.tracking_uri, destination, false, dst_name)
                }
                Err((folder, why)) => {
                    let record = RegisteredModelRecord { name: folder.clone(), ..Default::default() };
                    self.prompt(record, Some(why), None, destination, false, folder)
                }
            };
            steps.push(step);
        }
        self.prompt_index(destination, single, steps);
        Ok(())
    }

    fn prompt(
        &mut self,
        record: RegisteredModelRecord,
        error: Option<String>,
        tracking_uri: Option<String>,
        destination: &Destination,
        single: bool,
        dst_name: String,
    ) -> usize {
        let (to, dst) = match destination {
            Destination::Folder { out, system } => (
                out.display().to_string(),
                PromptDestination::Folder { dir: out.clone(), system: system.clone(), single },
            ),
            Destination::Server(client) => (
                format!("{dst_name:?} at {}", client.base_url()),
                PromptDestination::Server {
                    sink: self.server.as_ref().expect("a server destination").0.clone(),
                    name: dst_name,
                    source_tracking_uri: tracking_uri,
                },
            ),
            Destination::Database(_) => {
                unreachable!("a database destination takes runs and experiments only (refused in plan)")
            }
        };
        let label = match &error {
            Some(why) => format!("prompt {:?} (cannot be moved: {why})", record.name),
            None => format!("prompt {:?} ({} versions) -> {to}", record.name, record.versions.len()),
        };
        let what = PromptMove { record: Arc::new(record), destination: dst, error };
        self.plan.add(label, Vec::new(), Move::Prompt(Box::new(what)))
    }

    /// `prompts_summary.json` of a bulk prompts folder, after its prompts.
    fn prompt_index(&mut self, destination: &Destination, single: bool, prompts: Vec<usize>) -> Option<usize> {
        let (Destination::Folder { out, system }, false) = (destination, single) else { return None };
        let label = format!("prompts summary -> {}", out.join(SUMMARY_FILE).display());
        let index = PromptIndex { dir: out.clone(), system: system.clone(), shard: None };
        Some(self.plan.add(label, prompts, Move::PromptIndex(Box::new(index))))
    }
}

impl Planner {
    /// The steps of an experiment's logged models, after the runs they name (their own run,
    /// the runs their metrics were logged through, the runs that take or output them) and, at a
    /// server, the experiment's `Open` step (for a model without a run). One copy per
    /// destination, shared with the versions that use it.
    fn experiment_models(
        &mut self,
        models: ExperimentModels,
        dst: &ExperimentDestination,
        open: Option<usize>,
    ) -> Vec<usize> {
        match dst {
            ExperimentDestination::Folder { dir, .. } => {
                let sink = Arc::new(DirLoggedModelSink::new(dir));
                let to = ModelsTo::Folder(ModelFolders::Beside(dir.clone()), sink);
                self.model_steps(models, &to, open)
            }
            ExperimentDestination::Server { name, .. } => {
                let to = self.models_to_server(name);
                self.model_steps(models, &to, open)
            }
        }
    }

    /// Where logged models go at the destination server: into experiment `name`.
    fn models_to_server(&self, name: &str) -> ModelsTo {
        let client = self.server.as_ref().expect("a server destination").0.client().clone();
        let sink = Arc::new(RestLoggedModelSink::in_experiment(client, name.to_string()));
        ModelsTo::Server(name.to_string(), sink)
    }

    /// A step per logged model, after the runs they name that the job moves (their own run,
    /// the runs their metrics were logged through, the runs that take or output them) and, at
    /// a server, after `open` (the destination experiment's step). One copy per destination,
    /// shared with the versions that use it.
    fn model_steps(&mut self, models: ExperimentModels, to: &ModelsTo, open: Option<usize>) -> Vec<usize> {
        let sink: Arc<dyn LoggedModelSink> = match to {
            ModelsTo::Folder(_, sink) => sink.clone(),
            ModelsTo::Server(_, sink) => sink.clone(),
        };
        let mut steps = Vec::new();
        for m in models.records {
            let key = match to {
                ModelsTo::Folder(folders, _) => folders.key(&m.model_id),
                ModelsTo::Server(..) => m.model_id.clone(),
            };
            if let Some(&s) = self.logged_models.get(&key) {
                steps.push(s);
                continue;
            }
            let inputs = models.links.inputs.get(&m.model_id).cloned().unwrap_or_default();
            let outputs = models.links.outputs.get(&m.model_id).cloned().unwrap_or_default();
            let what = LoggedModelMove {
                model_id: m.model_id.clone(),
                source: models.source.clone(),
                sink: sink.clone(),
                source_tracking_uri: models.tracking_uri.clone(),
                run_id: m.source_run_id.clone(),
                inputs,
                outputs,
            };
            let mut deps: Vec<usize> = open.into_iter().collect();
            if let ModelsTo::Server(..) = to {
                deps.extend(what.named_runs(&m).into_iter().filter_map(|r| self.runs.get(r)).copied());
            }
            let label = match to {
                ModelsTo::Folder(..) => format!("logged model {} -> {key}", m.model_id),
                ModelsTo::Server(name, _) => format!("logged model {} -> experiment {name:?}", m.model_id),
            };
            let s = self.plan.add(label, deps, Move::LoggedModel(Box::new(what)));
            self.logged_models.insert(key, s);
            steps.push(s);
        }
        steps
    }

    /// Logged models of a server moved on their own, grouped by source experiment: into a
    /// folder (the folder itself for `single`, else a folder each and the index), or into
    /// `dst_experiment` (else the source experiment's name) at a server. Each model's run
    /// links are those of the run that logged it.
    async fn server_logged_models(
        &mut self,
        src: &Arc<dyn TrackingSource>,
        groups: Vec<(ExperimentRecord, Vec<crate::model::LoggedModelRecord>)>,
        single: bool,
        dst_experiment: Option<String>,
        destination: &Destination,
    ) -> Result<()> {
        let tracking_uri = Some(src.tracking_uri());
        let source: Arc<dyn LoggedModelSource> = src.clone();
        let (mut steps, mut indexed) = (Vec::new(), Vec::new());
        for (exp, records) in groups {
            let runs: Vec<String> =
                records.iter().filter_map(|m| m.source_run_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
            let mut links = ModelLinks::default();
            for (run, (inputs, outputs)) in runs.iter().zip(src.model_links(&runs).await?) {
                links.add(run, inputs, outputs);
            }
            indexed.push(IndexedExperiment {
                id: exp.experiment_id.clone(),
                name: exp.name.clone(),
                items: records.iter().map(|m| m.model_id.clone()).collect(),
            });
            let models =
                ExperimentModels { source: source.clone(), records, links, tracking_uri: tracking_uri.clone() };
            let (to, open) = match destination {
                Destination::Folder { out, .. } => {
                    let folders =
                        if single { ModelFolders::Single(out.clone()) } else { ModelFolders::Under(out.clone()) };
                    (ModelsTo::Folder(folders.clone(), Arc::new(DirLoggedModelSink::at(folders))), None)
                }
                Destination::Server(_) | Destination::Database(_) => {
                    let name = dst_experiment.clone().unwrap_or_else(|| exp.name.clone());
                    let open = self.experiment_sink(&name, ExperimentRecord::default()).open;
                    (self.models_to_server(&name), open)
                }
            };
            steps.extend(self.model_steps(models, &to, open));
        }
        if let (Destination::Folder { out, system }, false) = (destination, single) {
            let label = format!("logged models index -> {}", out.join(LOGGED_MODELS_INDEX.file).display());
            let index = IndexMove {
                kind: &LOGGED_MODELS_INDEX,
                dir: Some(out.clone()),
                experiments: indexed,
                system: system.clone(),
                error: None,
                shard: None,
            };
            self.plan.add(label, steps, Move::Index(Box::new(index)));
        }
        Ok(())
    }

    /// Logged models of an export moved on their own into a server: the model of an
    /// `export-logged-model` folder (`single`) or every model an `export-logged-models` folder
    /// lists, each into `dst_experiment`, else the experiment its index names.
    async fn exported_logged_models(&mut self, dir: &Path, single: bool, dst_experiment: Option<String>) -> Result<()> {
        if self.server.is_none() {
            return Err(Error::Unsupported("an export can only be imported into a server".into()));
        }
        let folders =
            if single { ModelFolders::Single(dir.to_path_buf()) } else { ModelFolders::Under(dir.to_path_buf()) };
        let source = Arc::new(DirLoggedModels::at(folders));
        let groups: Vec<(String, Vec<crate::model::LoggedModelRecord>)> = if single {
            let name = dst_experiment.ok_or_else(|| Error::Input("no destination experiment given".into()))?;
            vec![(name, vec![crate::store::dir::read_single_logged_model(dir)?])]
        } else {
            let mut groups = Vec::new();
            for e in read_index(&LOGGED_MODELS_INDEX, dir)? {
                let name = indexed_destination(&LOGGED_MODELS_INDEX, dir, &e, &dst_experiment)?;
                let mut records = Vec::new();
                for id in e.items {
                    // A model whose files cannot be read fails when its step runs.
                    let record = source.read_logged_model(&id).await;
                    records
                        .push(record.unwrap_or(crate::model::LoggedModelRecord { model_id: id, ..Default::default() }));
                }
                groups.push((name, records));
            }
            groups
        };
        let source: Arc<dyn LoggedModelSource> = source;
        for (name, records) in groups {
            let open = self.experiment_sink(&name, ExperimentRecord::default()).open;
            let models =
                ExperimentModels { source: source.clone(), records, links: ModelLinks::default(), tracking_uri: None };
            let to = self.models_to_server(&name);
            self.model_steps(models, &to, open);
        }
        Ok(())
    }
}

/// The destination experiment of the objects an index lists under experiment `e`: the one the
/// user named, else `e`'s name; an index that names none (read from the folders of an export
/// interrupted before its index was written) needs the user's.
fn indexed_destination(
    kind: &IndexKind,
    dir: &Path,
    e: &IndexedExperiment,
    dst_experiment: &Option<String>,
) -> Result<String> {
    match (dst_experiment, e.name.is_empty()) {
        (Some(name), _) => Ok(name.clone()),
        (None, false) => Ok(e.name.clone()),
        (None, true) => Err(Error::Input(format!(
            "{}: no {} names the experiments of these {}; give the destination experiment",
            dir.display(),
            kind.file,
            kind.objects
        ))),
    }
}

/// Where planned logged models go.
enum ModelsTo {
    Folder(ModelFolders, Arc<DirLoggedModelSink>),
    /// Experiment `name` at the destination server.
    Server(String, Arc<RestLoggedModelSink>),
}

/// What an experiment holds besides its runs, and where it is read from.
#[derive(Default)]
struct Extras {
    models: Option<ExperimentModels>,
    scorers: Option<Arc<dyn ScorerStore>>,
}

/// The logged models of an experiment to plan: where they are read, their descriptions, and
/// the links the experiment's runs have to them.
struct ExperimentModels {
    source: Arc<dyn LoggedModelSource>,
    records: Vec<crate::model::LoggedModelRecord>,
    links: ModelLinks,
    tracking_uri: Option<String>,
}

/// The runs that take each logged model as an input, and that output it (with the step), by
/// source model id.
#[derive(Default)]
struct ModelLinks {
    inputs: HashMap<String, Vec<String>>,
    outputs: HashMap<String, Vec<(String, i64)>>,
}

impl ModelLinks {
    fn add(
        &mut self,
        run_id: &str,
        inputs: Vec<mlflow_client::types::ModelInput>,
        outputs: Vec<mlflow_client::types::ModelOutput>,
    ) {
        for i in inputs {
            self.inputs.entry(i.model_id).or_default().push(run_id.to_string());
        }
        for o in outputs {
            self.outputs.entry(o.model_id).or_default().push((run_id.to_string(), o.step));
        }
    }
}

/// Where a run goes: the step preparing its destination (if any), its sink, and a label.
struct RunTarget {
    open: Option<usize>,
    sink: RunDestination,
    /// Shared by the runs into one experiment.
    label: Arc<str>,
}

/// The distinct runs behind a model's versions, in version order.
fn version_runs(model: &RegisteredModelRecord) -> Vec<String> {
    let mut seen = BTreeSet::new();
    model.versions.iter().filter_map(|v| v.run_id.clone()).filter(|r| seen.insert(r.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::ModelVersionRecord, store::dir::DirSink};

    fn run(id: &str, parent: Option<&str>) -> Move {
        let sink: Arc<dyn RunSink> = Arc::new(DirSink::new("/nonexistent", ExportSystem::default()));
        let source: Arc<dyn RunSource> = Arc::new(DirSource::tree([]));
        Move::Run(RunMove {
            run_id: id.into(),
            parent: parent.map(Into::into),
            source,
            sink: RunDestination::Ready(sink),
        })
    }

    fn ids(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .filter_map(|s| if let Move::Run(r) = &s.what { Some(r.run_id.clone()) } else { None })
            .collect()
    }

    fn plan_of(runs: &[(&str, Option<&str>)]) -> Plan {
        let mut plan = Plan::default();
        for (id, parent) in runs {
            plan.add(format!("run {id}"), Vec::new(), run(id, *parent));
        }
        plan.link_parents();
        plan
    }

    #[test]
    fn parents_come_before_children_and_a_cycle_is_cut() {
        let plan = plan_of(&[
            ("grandchild", Some("child")),
            ("child", Some("root")),
            ("root", None),
            ("a", Some("b")),
            ("b", Some("a")),
        ]);
        assert_eq!(plan.steps[0].deps, vec![1]);
        assert_eq!(plan.steps[1].deps, vec![2]);
        assert!(plan.steps[3].deps.is_empty() || plan.steps[4].deps.is_empty(), "a cycle must not be closed");
    }

    #[test]
    fn shards_split_runs_once_and_keep_trees_together() {
        let mut runs: Vec<(String, Option<String>)> = (0..200).map(|i| (format!("r{i}"), None)).collect();
        runs.extend((0..50).map(|i| (format!("c{i}"), Some(format!("r{i}")))));
        let as_refs: Vec<(&str, Option<&str>)> = runs.iter().map(|(a, b)| (a.as_str(), b.as_deref())).collect();
        let mut seen: Vec<String> = Vec::new();
        for k in 1..=3 {
            let shard = ids(&plan_of(&as_refs).shard(k, 3).unwrap());
            assert!(shard.len() > 30, "shard {k} holds {} runs", shard.len());
            for i in 0..50 {
                let (parent, child) = (format!("r{i}"), format!("c{i}"));
                assert_eq!(shard.contains(&parent), shard.contains(&child), "{child} apart from its parent");
            }
            seen.extend(shard);
        }
        seen.sort();
        let mut all: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
        all.sort();
        assert_eq!(seen, all, "every run in exactly one shard");
        assert!(plan_of(&as_refs).shard(4, 3).is_err() && plan_of(&as_refs).shard(0, 3).is_err());
    }

    /// 100,000 runs each nested in the one before, split into shards: one walk over the chain
    /// (walking up from every run to its top was 10^10 steps), and the whole chain in one shard.
    #[test]
    fn a_chain_of_100k_nested_runs_shards_in_linear_time_and_stays_together() {
        let runs: Vec<(String, Option<String>)> =
            (0..100_000).map(|i| (format!("r{i}"), (i > 0).then(|| format!("r{}", i - 1)))).collect();
        let sizes = crate::complexity::linear("sharding a chain of 100,000 nested runs", move || {
            let as_refs: Vec<(&str, Option<&str>)> = runs.iter().map(|(a, b)| (a.as_str(), b.as_deref())).collect();
            (1..=3).map(|k| plan_of(&as_refs).shard(k, 3).unwrap().runs()).collect::<Vec<_>>()
        });
        let mut sorted = sizes.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 0, 100_000], "{sizes:?}");
    }

    #[test]
    fn runs_in_a_cycle_of_parents_go_to_one_shard() {
        let as_refs = [("a", Some("b")), ("b", Some("c")), ("c", Some("a")), ("d", Some("c"))];
        let reversed: Vec<(&str, Option<&str>)> = as_refs.iter().rev().copied().collect();
        for n in 2..=5 {
            let shard_of_run = |plan_of_runs: &[(&str, Option<&str>)]| {
                (1..=n)
                    .flat_map(|k| ids(&plan_of(plan_of_runs).shard(k, n).unwrap()).into_iter().map(move |id| (id, k)))
                    .collect::<BTreeMap<String, u32>>()
            };
            let shards = shard_of_run(&as_refs);
            assert_eq!(shards.len(), 4);
            assert!(shards.values().all(|k| *k == shards["a"]), "{n} shards: {shards:?}");
            assert_eq!(shards, shard_of_run(&reversed), "the same shard whatever the order");
        }
    }

    /// Depths by walking up from every node, as link_parents did before: the reference.
    fn depths_by_walking(parent: &[Option<usize>]) -> Vec<usize> {
        (0..parent.len())
            .map(|i| {
                let (mut d, mut cur) = (0usize, parent[i]);
                while let Some(p) = cur {
                    d += 1;
                    if d > parent.len() {
                        return usize::MAX;
                    }
                    cur = parent[p];
                }
                d
            })
            .collect()
    }

    #[test]
    fn depths_match_walking_up() {
        // 0 <- 1 <- 2, 3 alone, 4 <-> 5 a cycle, 6 below the cycle, 7 below 2, 8 a self-loop.
        let parent = [None, Some(0), Some(1), None, Some(5), Some(4), Some(4), Some(2), Some(8)];
        assert_eq!(depths(&parent), depths_by_walking(&parent));
        assert_eq!(depths(&parent), vec![0, 1, 2, 0, usize::MAX, usize::MAX, usize::MAX, 3, usize::MAX]);
    }

    /// 100,000 runs each nested in the one before: every run linked to its parent, in linear
    /// time (walking up from every run was 10^10 steps). Children come first in the plan.
    #[test]
    fn a_chain_of_100k_nested_runs_links_in_linear_time() {
        let n = 100_000;
        let runs: Vec<(String, Option<String>)> =
            (0..n).rev().map(|i| (format!("r{i}"), (i > 0).then(|| format!("r{}", i - 1)))).collect();
        let deps = crate::complexity::linear("linking a chain of 100,000 nested runs", move || {
            let as_refs: Vec<(&str, Option<&str>)> = runs.iter().map(|(a, b)| (a.as_str(), b.as_deref())).collect();
            plan_of(&as_refs).steps.into_iter().map(|step| step.deps).collect::<Vec<_>>()
        });
        for (i, step_deps) in deps.iter().enumerate() {
            let want: Vec<usize> = if i + 1 < n { vec![i + 1] } else { Vec::new() };
            assert_eq!(*step_deps, want, "step {i}");
        }
    }

    /// The Python tool's `export-all` folder (informational `manifest.json`, experiments listed
    /// by `experiments/experiments.json`, each version's run exported again beside its model):
    /// each run is planned once, in its renamed experiment, before the version that needs it.
    #[tokio::test]
    async fn a_python_export_all_folder_plans_each_run_once_before_its_version() {
        use crate::{format::model_json::write_model_json, model::ModelVersionRecord, testing};
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("export");
        let write = |path: &Path, v: serde_json::Value| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
        };
        let (run, experiment) = ("7359d81383e74902a03577f691db8abe", "/Shared/wine-pricing");
        write(&out.join("manifest.json"), serde_json::json!({"info": {"options": {}, "status": {}}, "mlflow": {}}));
        testing::copy_tree(&testing::fixture("experiment/envelope-2025"), &out.join("experiments/12"));
        let experiments = serde_json::json!({"mlflow": {"experiments": [{"id": "12", "name": experiment}]}});
        write(&out.join("experiments/experiments.json"), experiments);
        let version = ModelVersionRecord {
            version: "1".into(),
            run_id: Some(run.into()),
            source: format!("runs:/{run}/model"),
            experiment_name: Some(experiment.into()),
            ..Default::default()
        };
        let model = RegisteredModelRecord { name: "wine".into(), versions: vec![version], ..Default::default() };
        write(&out.join("models/wine/model.json"), write_model_json(&model, &ExportSystem::default()));
        testing::copy_tree(
            &testing::fixture("experiment/envelope-2025/runs").join(run),
            &out.join("models/wine").join(run),
        );
        write(&out.join("models/models.json"), serde_json::json!({"mlflow": {"models": ["wine"]}}));
        let renames = tmp.path().join("renames.csv");
        std::fs::write(&renames, "/Shared/,/Migrated/\n").unwrap();

        let config = mlflow_client::ClientConfig::resolve("http://127.0.0.1:9", None, &|_| None).unwrap();
        let selection = Selection::All {
            versions: VersionFilter::default(),
            filter: RunFilter::default(),
            rename_experiments: Renames::read(&renames).unwrap(),
            rename_models: Renames::default(),
            webhook_secrets: Arc::default(),
            delete_datasets: false,
        };
        let destination = Destination::Server(MlflowClient::new(&config).unwrap());
        let plan = plan(&Source::Export(out), selection, &destination).await.unwrap();
        assert_eq!(plan.runs(), 2, "{:#?}", plan.describe());
        let run_step = plan.steps.iter().position(|s| matches!(&s.what, Move::Run(r) if r.run_id == run)).unwrap();
        let label = plan.steps[run_step].label();
        assert!(label.contains("\"/Migrated/wine-pricing\""), "{label}");
        let version = plan.steps.iter().find(|s| matches!(s.what, Move::Version(_))).expect("a version step");
        assert!(version.deps.contains(&run_step), "{:#?}", plan.describe());
    }

    /// A model job splits by model: each model's steps, its versions and the runs behind them
    /// (a run shared by two models' versions joins the two) stay together, every object is in
    /// exactly one shard, the export's indexes are written in parts by all and the webhooks go
    /// with shard 1.
    #[test]
    fn model_jobs_split_by_model_with_the_runs_of_their_versions() {
        let runs: Vec<String> = (0..60).map(|i| format!("r{i}")).collect();
        let build = || model_job(&runs);
        let plan = build();
        let labels = |p: &Plan| p.describe();
        let whole = labels(&plan);
        let shards: Vec<Plan> = (1..=3).map(|k| build().shard(k, 3).unwrap()).collect();
        let mut seen = Vec::new();
        for (k, shard) in (1..=3).zip(&shards) {
            let mine = labels(shard);
            assert!(mine.len() > 12, "shard {k}: {mine:?}");
            assert!(shard.steps.iter().any(|s| matches!(&s.what, Move::ModelIndex(i) if i.shard == Some((k, 3)))));
            assert_eq!(mine.contains(&"webhooks".to_string()), k == 1, "shard {k}");
            for m in 0..20 {
                let name = format!("m{m}");
                let of_model: Vec<&String> =
                    whole.iter().filter(|l| **l == name || l.starts_with(&format!("{name} v"))).collect();
                let here = of_model.iter().filter(|l| mine.contains(l)).count();
                assert!(here == 0 || here == of_model.len(), "shard {k} holds part of {name}: {mine:?}");
                if here > 0 {
                    let version_runs = shard.steps.iter().filter_map(|s| match &s.what {
                        Move::Version(v) if v.model.name == name => v.version.run_id.clone(),
                        _ => None,
                    });
                    for r in version_runs {
                        assert!(mine.contains(&format!("run {r}")), "shard {k}: {name}'s run {r} is elsewhere");
                    }
                    if m % 2 == 1 {
                        assert!(mine.contains(&format!("m{}", m - 1)), "shard {k}: m{m} apart from m{}", m - 1);
                    }
                }
            }
            // Each step's dependencies are steps of the shard.
            assert!(shard.steps.iter().all(|s| s.deps.iter().all(|&d| d < shard.steps.len())));
            seen.extend(mine.into_iter().filter(|l| l != "models index" && l != "webhooks"));
        }
        seen.sort();
        let mut want: Vec<String> = whole.into_iter().filter(|l| l != "models index" && l != "webhooks").collect();
        want.sort();
        assert_eq!(seen, want, "every object in exactly one shard");
    }

    /// An export of 20 models over `runs` (model m: runs 3m and 3m+1, and odd models the run
    /// of the model before), with its models index and the webhooks.
    fn model_job(runs: &[String]) -> Plan {
        let mut plan = plan_of(&runs.iter().map(|r| (r.as_str(), None)).collect::<Vec<_>>());
        let system = ExportSystem::default();
        let mut closes = Vec::new();
        for m in 0..20 {
            // Model m: runs 3m and 3m+1; odd models also take the run of the model before.
            let mut runs = vec![3 * m, 3 * m + 1];
            if m % 2 == 1 {
                runs.push(3 * (m - 1));
            }
            let name = format!("m{m}");
            let record = Arc::new(RegisteredModelRecord { name: name.clone(), ..Default::default() });
            let mut versions = Vec::new();
            for (v, r) in runs.iter().enumerate() {
                let version = ModelVersionRecord {
                    version: (v + 1).to_string(),
                    run_id: Some(format!("r{r}")),
                    ..Default::default()
                };
                let what = VersionMove { model: record.clone(), version, destination: VersionDestination::Folder };
                versions.push(plan.add(format!("{name} v{v}"), vec![*r], Move::Version(Box::new(what))));
            }
            let dir = "/nonexistent".into();
            let destination = ModelDestination::Folder { dir, system: system.clone() };
            let what = ModelMove { record, destination, phase: Phase::Close, error: None };
            closes.push(plan.add(name, versions, Move::Model(Box::new(what))));
        }
        let index = ModelIndex { dir: "/nonexistent".into(), manifest: "/nonexistent".into(), system, shard: None };
        plan.add("models index".into(), closes, Move::ModelIndex(Box::new(index)));
        let hooks = || Arc::new(DirWebhooks::new(Path::new("/nonexistent"), Arc::default()));
        let webhooks = WebhookMove { source: hooks(), sink: hooks(), secrets: Arc::default() };
        plan.add("webhooks".into(), Vec::new(), Move::Webhooks(Box::new(webhooks)));
        plan
    }
}
