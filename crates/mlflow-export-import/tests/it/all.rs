//! Whole servers: `export-all` → `import-all` into an empty server, and `copy-all` into
//! another, compared with the source field by field (experiments, runs with their nested
//! links, models with versions, stages and aliases, an evaluation dataset with its records);
//! `--dry-run` writes nothing, and a re-run creates nothing. Webhooks move too (their secrets
//! from `--webhook-secrets-file`, never written anywhere). The servers are this test's own: the
//! commands take everything a server
//! holds, and a shared server holds other tests' objects.

use std::{collections::HashMap, path::Path};

use serde_json::{json, Value};
use test_support::{unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{clean_report, ok, path},
    evaluation_datasets::{assert_copied, datasets, dump},
    experiments::{as_map, assert_runs_copied},
    models::assert_model_equals,
};

/// What a server holds, read with the official client: experiment names (deleted ones
/// too), and how many runs (deleted ones too) and model versions.
fn contents(server: &MlflowServer) -> (Vec<String>, u64, u64) {
    let code = "import json, mlflow\nfrom mlflow.entities import ViewType\nc = mlflow.MlflowClient()\n\
        exps = c.search_experiments(view_type=ViewType.ALL)\n\
        runs = sum(len(c.search_runs([e.experiment_id], run_view_type=ViewType.ALL, max_results=5000)) for e in exps)\n\
        versions = sum(len(c.search_model_versions(f\"name='{m.name}'\")) for m in c.search_registered_models())\n\
        print(json.dumps([sorted(e.name for e in exps), runs, versions]))";
    let v: Value = serde_json::from_str(server.python_eval(code).trim()).unwrap();
    let names = v[0].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    (names, v[1].as_u64().unwrap(), v[2].as_u64().unwrap())
}

/// The server's webhooks as a copy can see them (ids, times and secrets aside), by name.
fn webhooks(server: &MlflowServer) -> Value {
    let code = "import json, mlflow\nhooks = mlflow.MlflowClient().list_webhooks()\n\
        print(json.dumps(sorted(([h.name, h.url, sorted(str(e) for e in h.events), h.description, str(h.status)] \
        for h in hooks), key=lambda h: h[0])))";
    serde_json::from_str(server.python_eval(code).trim()).unwrap()
}

/// A secret given to the destination's webhook, which must appear nowhere else.
const WEBHOOK_SECRET: &str = "whsec-never-printed-4d1f";

/// Runs `args` with `--report` and returns the report, asserting that no run failed.
fn reported(args: &[&str], report: &Path) -> Value {
    ok(&[&["--report", path(report)][..], args].concat());
    clean_report(report)
}

fn versions_created(report: &Value) -> u64 {
    report["models"].as_array().unwrap().iter().map(|m| m["versions_created"].as_u64().unwrap()).sum()
}

/// Every run below `dir` (`<id>/runs/<run_id>/run.json`), by id, once each.
fn exported_runs(dir: &Path) -> Vec<String> {
    crate::cli::files_below(dir)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "run.json"))
        .map(|f| f.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A whole-server job into the empty server `dst`, and the source runs each seeded experiment
/// must hold there afterwards.
struct Job<'a> {
    dst: &'a MlflowServer,
    args: &'a [&'a str],
    expected: Vec<Vec<String>>,
}

#[test]
fn export_import_and_copy_a_whole_server_once() {
    // The destinations start while the source is seeded.
    let start = |mode| std::thread::spawn(move || MlflowServer::start(mode));
    let (imported, copied) = (start(ArtifactMode::Proxy), start(ArtifactMode::LocalRoot));
    let src = MlflowServer::start(ArtifactMode::Proxy);
    // Three experiments of nested runs (one deleted in each) without models; one experiment
    // of the runs behind three models (stages, aliases, a version gap, a deleted run behind
    // version 1, a version from an MLflow 3 logged model).
    let prefix = unique_name("all");
    src.seed(&["--scenario", "tree", "--experiment", &prefix, "--runs", "10"]);
    let models = src.seed(&["--scenario", "models", "--experiment", &format!("{prefix}-models")])["models"].clone();
    let models: Vec<(String, Value)> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .map(|m| (m.clone(), src.dump_model(&m)))
        .collect();
    src.python_eval(
        "import mlflow\nfrom mlflow.entities.webhook import WebhookEvent\nc = mlflow.MlflowClient()\n\
         c.create_webhook('deploy-hook', 'https://hooks.example.test/deploy', \
             [WebhookEvent('model_version', 'created'), WebhookEvent('model_version_alias', 'created')], \
             description='tell CD', secret='source-secret')\n\
         c.create_webhook('audit-hook', 'https://audit.example.test/in', \
             [WebhookEvent('registered_model', 'created')], status='DISABLED')",
    );
    let source_hooks = webhooks(&src);
    assert_eq!(source_hooks.as_array().unwrap().len(), 2, "{source_hooks}");
    let (imported, copied) = (imported.join().unwrap(), copied.join().unwrap());
    let (names, runs, versions) = contents(&src);
    assert_eq!(names.len(), 5, "Default and the seeded experiments: {names:?}");
    let seeded: Vec<String> = names.iter().filter(|n| n.starts_with(&prefix)).cloned().collect();
    // An evaluation dataset linked to a seeded experiment.
    let dataset = format!("{prefix}-dataset");
    datasets("seed", &src.url, &["--name", &dataset, "--records", "20", "--experiments", &seeded[0]]);
    let dataset_dump = dump(&src, &dataset).remove(0);
    let source: Vec<HashMap<String, Value>> = seeded.iter().map(|n| as_map(src.dump_experiment(n))).collect();
    let every_run: HashMap<String, Value> = source.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(every_run.len() as u64, runs);

    let dir = tempfile::tempdir().unwrap();
    let (out, dry_out) = (dir.path().join("all"), dir.path().join("dry"));
    let export = ["export-all", "--tracking-uri", &src.url, "--export-deleted-runs"];
    let plan = ok(&[&["--dry-run"][..], &export, &["--output-dir", path(&dry_out)]].concat());
    assert!(!dry_out.exists(), "--dry-run export-all wrote {}", dry_out.display());
    assert!(plan.lines().any(|l| l.contains("manifest.json")), "{plan}");
    let report = reported(&[&export[..], &["--output-dir", path(&out)]].concat(), &dir.path().join("export.json"));
    assert_eq!(report["summary"]["runs_created"].as_u64(), Some(runs), "every run exported");

    // The bulk layout, each object once: runs only under experiments/, models under models/.
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["info"]["status"]["models"]["num_ok_models"], 3, "{manifest}");
    assert_eq!(manifest["info"]["status"]["experiments"]["experiments"], 5, "{manifest}");
    let mut in_export = exported_runs(&out.join("experiments"));
    in_export.sort();
    let mut want: Vec<String> = every_run.keys().cloned().collect();
    want.sort();
    assert_eq!(in_export, want, "each source run exported once");
    assert!(exported_runs(&out.join("models")).is_empty(), "no run exported again beside its model");
    let index: Value = serde_json::from_slice(&std::fs::read(out.join("models/models.json")).unwrap()).unwrap();
    assert_eq!(index["mlflow"]["models"].as_array().unwrap().len(), 3, "{index}");
    let hooks: Value = serde_json::from_slice(&std::fs::read(out.join("webhooks/webhooks.json")).unwrap()).unwrap();
    assert_eq!(hooks["mlflow"]["webhooks"].as_array().unwrap().len(), 2, "{hooks}");
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, format!(r#"{{"deploy-hook": "{WEBHOOK_SECRET}"}}"#)).unwrap();
    let summary = out.join("evaluation_datasets/evaluation_datasets_summary.json");
    let summary: Value = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    assert_eq!(summary["mlflow"]["datasets"], json!([{"name": dataset, "dataset_id": dataset_dump["dataset_id"]}]));

    // export-all → import-all, everything; copy-all without deleted runs but the one behind a
    // version (which the version needs). Each first as a dry run, which must create nothing.
    let hooks = ["--webhook-secrets-file", path(&secrets)];
    let import =
        [&["import-all", "--tracking-uri", &imported.url, "--input-dir", path(&out), "--use-src-user-id"][..], &hooks]
            .concat();
    let copy =
        [&["copy-all", "--src-uri", &src.url, "--dst-uri", &copied.url, "--use-src-user-id"][..], &hooks].concat();
    let version_runs: Vec<&str> = models
        .iter()
        .flat_map(|(_, dump)| dump["versions"].as_array().unwrap())
        .filter_map(|v| v["run_id"].as_str())
        .collect();
    let copied_runs = |runs: &HashMap<String, Value>| -> Vec<String> {
        runs.iter()
            .filter(|(id, r)| r["info"]["lifecycle_stage"] == "active" || version_runs.contains(&id.as_str()))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let jobs = [
        Job { dst: &imported, args: &import, expected: source.iter().map(|r| r.keys().cloned().collect()).collect() },
        Job { dst: &copied, args: &copy, expected: source.iter().map(copied_runs).collect() },
    ];
    std::thread::scope(|s| {
        for (i, Job { dst, args, expected }) in jobs.iter().enumerate() {
            let (dir, every_run, seeded, models, names) = (dir.path(), &every_run, &seeded, &models, &names);
            let source_hooks = &source_hooks;
            let (dataset, dataset_dump) = (&dataset, &dataset_dump);
            s.spawn(move || {
                let total: usize = expected.iter().map(Vec::len).sum();
                let plan = ok(&[&["--dry-run"][..], args].concat());
                assert!(plan.lines().count() > total, "{plan}");
                assert_eq!(contents(dst), (vec!["Default".to_string()], 0, 0), "{} --dry-run wrote", args[0]);
                assert_eq!(webhooks(dst), serde_json::json!([]), "{} --dry-run wrote", args[0]);

                let first = reported(args, &dir.join(format!("first-{i}.json")));
                assert_eq!(first["summary"]["runs_created"].as_u64(), Some(total as u64), "{}", args[0]);
                assert_runs_copied(every_run, &dst.url, expected, seeded);
                for (name, dump) in models {
                    assert_model_equals(dump, dst, name);
                }
                assert_eq!(&webhooks(dst), source_hooks, "{}: the webhooks", args[0]);
                let secret_of = |report: &Value, name: &str| {
                    let hooks = report["webhooks"].as_array().unwrap();
                    hooks.iter().find(|h| h["name"] == name).unwrap()["secret"].as_str().unwrap().to_string()
                };
                assert!(secret_of(&first, "deploy-hook").contains("--webhook-secrets-file"), "{first}");
                assert!(secret_of(&first, "audit-hook").starts_with("not copied"), "{first}");
                assert!(!first.to_string().contains(WEBHOOK_SECRET), "the report holds the secret");
                let dataset_copy = assert_copied(dataset_dump, dst, dataset, true);
                let after = contents(dst);
                assert_eq!(&after.0, names, "{}: the source's experiments", args[0]);
                assert_eq!(after.2, versions, "{}: every version", args[0]);

                let again = reported(args, &dir.join(format!("again-{i}.json")));
                assert_eq!(again["summary"]["runs_created"], 0, "{}: {again}", args[0]);
                assert_eq!(again["summary"]["runs_skipped"].as_u64(), Some(total as u64), "{}", args[0]);
                assert_eq!(versions_created(&again), 0, "{}: {again}", args[0]);
                let unchanged = again["webhooks"].as_array().unwrap().iter().all(|h| h["action"] == "unchanged");
                assert!(unchanged, "{}: {again}", args[0]);
                assert_eq!(contents(dst), after, "{}: a re-run created nothing", args[0]);
                assert_eq!(again["evaluation_datasets"][0]["action"], "skipped", "{}: {again}", args[0]);
                assert_eq!(assert_copied(dataset_dump, dst, dataset, true), dataset_copy);
            });
        }
    });
}
