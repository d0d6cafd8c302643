//! The harness against a real MLflow server: seed the `rich` scenario, dump it twice, compare.

use std::time::Instant;

use test_support::{assert_runs_equal, dump_run, seed, shared, unique_name, ArtifactMode};

#[test]
fn rich_run_dumps_equal_and_comparator_catches_changes() {
    let t = Instant::now();
    let srv = shared(ArtifactMode::Proxy);
    eprintln!("server {} healthy after {:?}", srv.url, t.elapsed());

    let exp = unique_name("harness-rich");
    let t = Instant::now();
    let seeded = seed(&srv.url, &["--scenario", "rich", "--experiment", &exp]);
    eprintln!("seed rich took {:?}: {seeded}", t.elapsed());
    let run_id = seeded["run_ids"][0].as_str().expect("run id").to_string();
    assert!(seeded["experiment_id"].is_string());

    let t = Instant::now();
    let a = dump_run(&srv.url, &run_id);
    eprintln!("dump took {:?}", t.elapsed());
    let b = dump_run(&srv.url, &run_id);
    assert_runs_equal(&a, &b);

    // The dump covers what the scenario promises.
    assert_eq!(a["info"]["status"], "FINISHED");
    assert_eq!(a["info"]["start_time"], 1704164645678_i64);
    assert_eq!(a["info"]["end_time"], 1704164645678_i64 + 60_000);
    assert_eq!(a["params"]["long_value"].as_str().unwrap().chars().count(), 6000);
    assert_eq!(a["tags"]["long_tag"].as_str().unwrap().chars().count(), 8000);
    let special: Vec<_> = a["metrics"]["special"].as_array().unwrap().iter().map(|p| p["value"].clone()).collect();
    assert_eq!(special[..3], ["NaN", "Infinity", "-Infinity"]);
    assert_eq!(a["metrics"]["train/acc"].as_array().unwrap().len(), 3);
    assert_eq!(a["dataset_inputs"].as_array().unwrap().len(), 1);
    let paths: Vec<&str> = a["artifacts"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for want in ["empty.txt", "random.bin", "level1/level2/level3/deep.json", "données_ünïcødé ✓.txt", "model/MLmodel"]
    {
        assert!(paths.contains(&want), "artifact {want} missing from {paths:?}");
    }

    // An altered metric point must be caught, naming the key and point index.
    let mut c = b.clone();
    c["metrics"]["loss"][3]["step"] = serde_json::json!(99);
    let err = std::panic::catch_unwind(|| assert_runs_equal(&a, &c)).expect_err("altered metric point not detected");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("metric \"loss\" point 3"), "{msg}");
}

#[test]
fn local_root_server_failed_deleted_run_and_large_artifact() {
    let srv = shared(ArtifactMode::LocalRoot);
    let exp = unique_name("harness-local");
    let seeded = seed(
        &srv.url,
        &["--scenario", "rich", "--experiment", &exp, "--status", "FAILED", "--deleted", "--no-log-model"],
    );
    let exp_id = seeded["experiment_id"].clone();
    let run_id = seeded["run_ids"][0].as_str().unwrap();
    let a = dump_run(&srv.url, run_id);
    assert_eq!(a["info"]["status"], "FAILED");
    assert_eq!(a["info"]["lifecycle_stage"], "deleted");
    assert!(
        a["info"]["artifact_uri"].as_str().unwrap().starts_with(srv.artifact_root.to_str().unwrap()),
        "{}",
        a["info"]["artifact_uri"]
    );
    assert_runs_equal(&a, &dump_run(&srv.url, run_id));

    let seeded = seed(&srv.url, &["--scenario", "large-artifact", "--size-mb", "3", "--experiment", &exp]);
    assert_eq!(seeded["experiment_id"], exp_id, "same experiment reused");
    let d = dump_run(&srv.url, seeded["run_ids"][0].as_str().unwrap());
    assert_eq!(d["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(d["artifacts"][0]["path"], "large.bin");
    assert_eq!(d["artifacts"][0]["size"], 3 * 1024 * 1024);
}

#[test]
fn basic_auth_server_requires_the_admin_login() {
    let srv = shared(ArtifactMode::BasicAuth);
    let (user, password) = srv.credentials().expect("admin login");
    let code = format!(
        "import requests\n\
         u = {url:?} + '/api/2.0/mlflow/experiments/search?max_results=1'\n\
         print(requests.get(u).status_code, requests.get(u, auth=({user:?}, {password:?})).status_code)",
        url = srv.url
    );
    assert_eq!(test_support::python_eval(&code).trim(), "401 200");
    let with_login = srv.url.replace("http://", &format!("http://{user}:{password}@"));
    let seeded =
        seed(&with_login, &["--scenario", "large-artifact", "--size-mb", "1", "--experiment", &unique_name("auth")]);
    let d = dump_run(&with_login, seeded["run_ids"][0].as_str().unwrap());
    assert_eq!(d["artifacts"][0]["size"], 1024 * 1024);
}

#[test]
fn peak_rss_of_a_child_is_measured() {
    let (out, peak) = test_support::run_measuring_peak_rss(
        test_support::python(),
        &["-c", "b = bytearray(64 * 1024 * 1024); print('ok')"],
    );
    assert_eq!(out.trim(), "ok");
    assert!(peak > 64 * 1024 * 1024 && peak < 512 * 1024 * 1024, "{peak}");
}
