//! Prompts (prompt registry): copied server to server and exported then imported, read back
//! with the official client (`mlflow.genai.load_prompt`, `search_prompts`, the registry's
//! aliases) and compared field by field: version numbers (a deleted version's gap included),
//! templates (text and chat), response format, model config, version tags, commit messages,
//! the prompt's description, tags and aliases. Re-runs create nothing; a destination prompt
//! holding versions of its own fails unless `--delete-prompt`; the Python tool's own export
//! imports; model commands leave prompts to the prompt mover.

use std::path::Path;

use serde_json::{json, Map, Value};
use test_support::{run_python_script, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{fails, ok, path};

/// A text prompt (versions 1, 2, 4) and a chat prompt (1, 2), see `scripts/prompts.py`.
fn seed_prompts(server: &MlflowServer) -> Vec<String> {
    let out = run_python_script("prompts.py", &["seed", "--tracking-uri", &server.url, "--prefix", &unique_name("p")]);
    out["prompts"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// Each prompt of `names` as the official client reads it.
fn dump(server: &MlflowServer, names: &[&str]) -> Map<String, Value> {
    let names = names.join(",");
    let out = run_python_script("prompts.py", &["dump", "--tracking-uri", &server.url, "--names", &names]);
    out.as_object().unwrap().clone()
}

/// Tags without ours (identity, recorded links) and without `_mlflow_experiment_ids`, which
/// the client itself sets on whichever server a prompt is loaded from.
fn own(tags: &Value) -> Map<String, Value> {
    let mut t = tags.as_object().unwrap().clone();
    t.retain(|k, _| !k.starts_with("mlflow_export_import.") && k != "_mlflow_experiment_ids");
    t
}

/// `b` is a copy of `a`, field by field; each version names its source version.
fn assert_prompt_equal(a: &Value, b: &Value, what: &str) {
    assert_eq!(b["description"], a["description"], "{what}: description");
    assert_eq!(own(&b["tags"]), own(&a["tags"]), "{what}: prompt tags");
    assert_eq!(b["aliases"], a["aliases"], "{what}: aliases");
    assert_eq!(b["listed"], json!([b["name"]]), "{what}: search_prompts finds it");
    let (va, vb) = (a["versions"].as_array().unwrap(), b["versions"].as_array().unwrap());
    let numbers = |v: &[Value]| v.iter().map(|x| x["version"].clone()).collect::<Vec<_>>();
    assert_eq!(numbers(vb), numbers(va), "{what}: version numbers (gaps included)");
    for (x, y) in va.iter().zip(vb) {
        let what = format!("{what} v{}", x["version"]);
        for field in ["template", "is_text", "response_format", "model_config", "commit_message", "aliases"] {
            assert_eq!(y[field], x[field], "{what}: {field}");
        }
        assert_eq!(own(&y["tags"]), own(&x["tags"]), "{what}: tags");
        assert_eq!(own(&y["raw_tags"]), own(&x["raw_tags"]), "{what}: stored tags");
        assert_eq!(y["raw_tags"]["mlflow_export_import.source.version"], x["version"], "{what}: identity");
    }
}

/// The `prompts` of a `--report` file: (versions created, versions skipped) summed, and
/// asserts none failed.
fn prompt_counts(report: &Path) -> (u64, u64) {
    let r: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let prompts = r["prompts"].as_array().unwrap();
    assert!(prompts.iter().all(|p| p["error"].is_null()), "{}", r["failures"]);
    let sum = |f: &str| prompts.iter().map(|p| p[f].as_u64().unwrap()).sum();
    (sum("versions_created"), sum("versions_skipped"))
}

#[test]
fn prompts_copy_and_export_import_keep_every_field_and_rerun_creates_nothing() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let names = seed_prompts(src);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let list = names.join(",");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let source = dump(src, &refs);

    // Server to server, twice: the second run finds every version and creates nothing.
    let copy = ["copy-prompts", "--src-uri", &src.url, "--dst-uri", &dst.url, "--prompts", &list];
    ok(&[&copy[..], &["--report", path(&report)]].concat());
    assert_eq!(prompt_counts(&report), (5, 0));
    ok(&[&copy[..], &["--report", path(&report)]].concat());
    assert_eq!(prompt_counts(&report), (0, 5), "a re-run skips every version");
    let copied = dump(dst, &refs);
    for n in &names {
        assert_prompt_equal(&source[n], &copied[n], n);
    }

    // A renamed single copy.
    let renamed = unique_name("renamed");
    ok(&[
        "copy-prompt",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-prompt",
        &names[0],
        "--dst-prompt",
        &renamed,
    ]);
    assert_prompt_equal(&source[&names[0]], &dump(dst, &[&renamed])[&renamed], "renamed");

    // Export, then import over the copies with --delete-prompt (all made again), then again
    // without it (nothing made).
    let out = dir.path().join("prompts");
    ok(&[
        "export-prompts",
        "--tracking-uri",
        &src.url,
        "--prompts",
        &list,
        "--output-dir",
        path(&out),
        "--use-threads",
    ]);
    let summary: Value = serde_json::from_slice(&std::fs::read(out.join("prompts_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["mlflow"]["successful_exports"], 5);
    let chat: Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("{}_v2/prompt.json", names[1]))).unwrap()).unwrap();
    assert_eq!(chat["mlflow"]["prompt"]["template"], source[&names[1]]["versions"][1]["template"], "Python layout");
    let import = ["import-prompts", "--tracking-uri", &dst.url, "--input-dir", path(&out)];
    ok(&[&import[..], &["--delete-prompt", "--report", path(&report)]].concat());
    assert_eq!(prompt_counts(&report), (5, 0));
    ok(&[&import[..], &["--report", path(&report)]].concat());
    assert_eq!(prompt_counts(&report), (0, 5), "a re-import skips every version");
    let imported = dump(dst, &refs);
    for n in &names {
        assert_prompt_equal(&source[n], &imported[n], n);
    }

    // One version alone keeps its number.
    let single = dir.path().join("single");
    let one = unique_name("one");
    ok(&[
        "export-prompt",
        "--tracking-uri",
        &src.url,
        "--prompt-name",
        &names[0],
        "--prompt-version",
        "4",
        "--output-dir",
        path(&single),
    ]);
    ok(&["import-prompt", "--tracking-uri", &dst.url, "--input-dir", path(&single), "--prompt-name", &one]);
    let got = &dump(dst, &[&one])[&one];
    assert_eq!(got["versions"].as_array().unwrap().len(), 1);
    assert_eq!(got["versions"][0]["version"], "4");
    assert_eq!(got["versions"][0]["model_config"], source[&names[0]]["versions"][2]["model_config"]);
    assert_eq!(got["aliases"], json!({"champion": "4"}));
}

#[test]
fn a_prompt_with_versions_of_its_own_fails_unless_deleted_and_models_leave_prompts_alone() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let names = seed_prompts(src);
    let text = names[0].as_str();
    // The destination already has a prompt of that name, made there.
    dst.python_eval(&format!("import mlflow.genai\nmlflow.genai.register_prompt({text:?}, 'mine')\nprint(1)"));
    let copy = ["copy-prompt", "--src-uri", &src.url, "--dst-uri", &dst.url, "--src-prompt", text];
    let err = fails(&copy, &[]);
    assert!(err.contains("not copied from this source") && err.contains("--delete-prompt"), "{err}");
    ok(&[&copy[..], &["--delete-prompt"]].concat());
    assert_prompt_equal(&dump(src, &[text])[text], &dump(dst, &[text])[text], text);

    // Model commands refuse a prompt named to them and never take one along.
    let err = fails(&["copy-model", "--src-uri", &src.url, "--dst-uri", &dst.url, "--src-model", text], &[]);
    assert!(err.contains("is a prompt"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("models");
    let err = fails(&["export-models", "--tracking-uri", &src.url, "--models", text, "--output-dir", path(&out)], &[]);
    assert!(err.contains("is a prompt"), "{err}");
    assert!(!out.join("models").join(text).exists());
    let prefix = format!("{}*", &text[..text.len() - "-text".len()]);
    let err =
        fails(&["export-models", "--tracking-uri", &src.url, "--models", &prefix, "--output-dir", path(&out)], &[]);
    assert!(err.contains("matches no registered model"), "a prefix matching only prompts selects no model: {err}");
}

/// A folder written by the Python tool's `export-prompts` (template, user tags and commit
/// message only) imports with its version numbers.
#[test]
fn the_python_tools_prompt_export_imports() {
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = unique_name("py");
    let dir = tempfile::tempdir().unwrap();
    let write = |version: u64, template: Value, tags: Value, message: &str| {
        let folder = dir.path().join(format!("{name}_v{version}"));
        std::fs::create_dir_all(&folder).unwrap();
        let file = json!({
            "system": {"package_version": "", "script": "export_prompt.py", "export_file_version": "2",
                       "mlflow_version": "3.17.2", "mlflow_tracking_uri": "http://127.0.0.1:5611"},
            "mlflow": {"prompt": {"name": name, "version": version, "template": template, "tags": tags,
                       "creation_timestamp": 1796013245889_u64, "last_updated_timestamp": 1796013245889_u64,
                       "user_id": "", "description": message, "commit_message": message,
                       "variables": ["x"], "uri": format!("prompts:/{name}/{version}")}}
        });
        std::fs::write(folder.join("prompt.json"), serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    };
    let chat = json!([{"role": "system", "content": "Be {{x}} — ok"}]);
    write(1, json!("Hello {{x}}"), json!({"team": "a"}), "first");
    write(3, chat.clone(), json!({}), "third");
    ok(&["import-prompts", "--tracking-uri", &dst.url, "--input-dir", path(dir.path())]);
    let got = &dump(dst, &[&name])[&name];
    let v = got["versions"].as_array().unwrap();
    assert_eq!(v.iter().map(|x| x["version"].clone()).collect::<Vec<_>>(), [json!("1"), json!("3")]);
    assert_eq!(
        (&v[0]["template"], &v[0]["is_text"], &v[0]["commit_message"]),
        (&json!("Hello {{x}}"), &json!(true), &json!("first"))
    );
    assert_eq!(own(&v[0]["tags"]), json!({"team": "a"}).as_object().unwrap().clone());
    assert_eq!((&v[1]["template"], &v[1]["is_text"], &v[1]["commit_message"]), (&chat, &json!(false), &json!("third")));
}

/// `export-all` writes `prompts/`, `import-all` reads it, `copy-all` copies prompts; after
/// `import-all`, `copy-all` finds every version already there. The source is this test's own:
/// whole-server commands take everything a server holds.
#[test]
fn whole_server_commands_move_prompts() {
    let src = MlflowServer::start(ArtifactMode::Proxy);
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let names = seed_prompts(&src);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = (dir.path().join("all"), dir.path().join("report.json"));
    ok(&["export-all", "--tracking-uri", &src.url, "--output-dir", path(&out)]);
    assert!(out.join("prompts/prompts_summary.json").is_file());
    assert!(out.join(format!("prompts/{}_v4/prompt.json", names[0])).is_file());
    ok(&["import-all", "--tracking-uri", &dst.url, "--input-dir", path(&out), "--report", path(&report)]);
    assert_eq!(prompt_counts(&report), (5, 0));
    ok(&["copy-all", "--src-uri", &src.url, "--dst-uri", &dst.url, "--report", path(&report)]);
    assert_eq!(prompt_counts(&report), (0, 5), "copy-all finds what import-all made");
    let (source, copied) = (dump(&src, &refs), dump(dst, &refs));
    for n in &names {
        assert_prompt_equal(&source[n], &copied[n], n);
    }
}
