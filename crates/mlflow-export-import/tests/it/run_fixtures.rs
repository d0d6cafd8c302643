//! Hand-made exports in every historical `run.json` layout of the Python tool import, and what
//! lands at the server is what the file says.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use test_support::{dump_run, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{destination, ok, path};

fn fixture(layout: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mlflow-transfer/tests/fixtures/run-json").join(layout)
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Metric values compare as doubles (`1` and `1.0` are the same) or as the NaN/Infinity strings.
fn assert_value(got: &Value, want: &Value, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{what}"),
        _ => assert_eq!(got.as_str(), want.as_str(), "{what}"),
    }
}

#[test]
fn every_historical_layout_imports() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    for layout in ["pre-1.0", "v1.x", "envelope-2023", "envelope-2025"] {
        let dir = fixture(layout);
        let file: Value = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
        let body = file.get("mlflow").unwrap_or(&file);
        let exp = unique_name("fixture");
        let id = destination(&ok(&[
            "import-run",
            "--tracking-uri",
            &server.url,
            "--input",
            path(&dir),
            "--experiment-name",
            &exp,
            "--use-src-user-id",
            "--import-metadata-tags",
        ]));
        let got = dump_run(&server.url, &id);
        let info = &body["info"];
        assert_eq!(got["info"]["start_time"], info["start_time"], "{layout}");
        assert_eq!(got["info"]["end_time"], info["end_time"], "{layout}");
        assert_eq!(got["info"]["status"], info["status"], "{layout}");
        assert_eq!(got["info"]["user_id"], info["user_id"], "{layout}");
        for (k, v) in body["params"].as_object().unwrap() {
            assert_eq!(got["params"][k], text(v).as_str(), "{layout} param {k}");
        }
        for (k, v) in body["tags"].as_object().unwrap() {
            assert_eq!(got["tags"][k], text(v).as_str(), "{layout} tag {k}");
        }
        for (k, v) in body["metrics"].as_object().unwrap() {
            let points = got["metrics"][k].as_array().unwrap_or_else(|| panic!("{layout}: metric {k} missing"));
            match v.as_array() {
                Some(expected) => {
                    assert_eq!(points.len(), expected.len(), "{layout} metric {k}");
                    for (p, e) in points.iter().zip(expected) {
                        assert_value(&p["value"], &e["value"], &format!("{layout} metric {k}"));
                        assert_eq!(p["step"], e["step"], "{layout} metric {k}");
                        assert_eq!(p["timestamp"], e["timestamp"], "{layout} metric {k}");
                    }
                }
                // Before 1.0 only the latest value was exported.
                None => {
                    assert_eq!(points.len(), 1, "{layout} metric {k}");
                    assert_value(&points[0]["value"], v, &format!("{layout} metric {k}"));
                    assert_eq!(points[0]["timestamp"], info["end_time"], "{layout} metric {k}");
                }
            }
        }
        let inputs = body["inputs"].get("dataset_inputs").unwrap_or(&body["inputs"]);
        let mut want: Vec<&str> = inputs
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["dataset"]["name"].as_str()).collect())
            .unwrap_or_default();
        want.sort_unstable();
        let have: Vec<&str> =
            got["dataset_inputs"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
        assert_eq!(have, want, "{layout} dataset inputs");
        for rel in ["model/MLmodel", "plot.txt"] {
            let bytes = std::fs::read(dir.join("artifacts").join(rel)).unwrap();
            let sha = format!("{:x}", Sha256::digest(&bytes));
            let found = got["artifacts"].as_array().unwrap().iter().find(|a| a["path"] == rel);
            assert_eq!(found.map(|a| a["sha256"].clone()), Some(Value::String(sha)), "{layout} artifact {rel}");
        }
    }
}
