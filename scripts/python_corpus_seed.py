#!/usr/bin/env python3
"""Log known content into an old MLflow server with that era's own client, and write what a
correct import of its exports must show as `expected.json`.

Used by `scripts/python-corpus.sh`, run inside the venv of one era of the Python
mlflow-export-import (MLflow 1.30 / 2.0 / 2.1), so it sticks to client calls all of them have.

Usage: python_corpus_seed.py --tracking-uri URL --prefix NAME --out expected.json

Content: experiment `<prefix>-a` (tagged) with a parent run, its nested child and a FAILED run;
experiment `<prefix>-b` with one run; model `<prefix>-model` with version 1 (Production, from
the parent run) and version 2 (None, from the run of `-b`), each with a description, the model
with a description and a tag. Times are fixed so `expected.json` is the same on every run.
Prints `{"runs": {name: run_id}}` on stdout for the exports that need a run id.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile

# Fixed times (ms): 2022-06-01 00:00:00 UTC and on.
T0 = 1654041600000

# name -> (experiment suffix, parent name, status, params, metrics {key: [(value, step)]}, tags,
#          artifacts {path: text})
RUNS = {
    "parent": (
        "a",
        None,
        "FINISHED",
        {"alpha": "0.5", "layers": "3"},
        {"loss": [(0.9, 0), (0.5, 1), (0.25, 2)], "acc": [(0.75, 0)]},
        {"team": "core", "note": "line 1\nline 2"},
        {
            "hello.txt": "hello corpus\n",
            "sub/data.csv": "x,y\n1,2\n3,4\n",
            "model/MLmodel": "artifact_path: model\nflavors:\n  python_function:\n    loader_module: corpus\n",
        },
    ),
    "child": (
        "a",
        "parent",
        "FINISHED",
        {"fold": "1"},
        {"loss": [(0.4, 0), (0.3, 5)]},
        {"kind": "fold"},
        {"child.txt": "child artifact\n"},
    ),
    "failed": ("a", None, "FAILED", {"alpha": "9"}, {"loss": [(7.5, 0)]}, {"why": "diverged"}, {}),
    "solo": (
        "b",
        None,
        "FINISHED",
        {"c": "1.0"},
        {"rmse": [(1.5, 0), (1.25, 1)]},
        {},
        {"model/MLmodel": "artifact_path: model\nflavors: {}\n"},
    ),
}

MODEL_VERSIONS = [
    # (run name, stage, description, tags)
    ("parent", "Production", "first version", {"v": "one"}),
    ("solo", "None", "second version", {}),
]


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    p = args.prefix
    experiments = {
        "a": {"name": f"{p}-a", "tags": {"purpose": "corpus"}},
        "b": {"name": f"{p}-b", "tags": {}},
    }
    exp_ids = {k: client.create_experiment(e["name"], tags=e["tags"] or None) for k, e in experiments.items()}

    expected_runs = {}
    run_ids = {}
    for i, (name, (exp, parent, status, params, metrics, tags, artifacts)) in enumerate(RUNS.items()):
        start = T0 + i * 60_000
        run_tags = {}
        if parent:
            run_tags["mlflow.parentRunId"] = run_ids[parent]
        run = client.create_run(exp_ids[exp], start_time=start, tags=run_tags, run_name=name)
        run_id = run.info.run_id
        run_ids[name] = run_id
        points = [
            Metric(key, value, start + 1000 * (step + 1), step)
            for key, history in sorted(metrics.items())
            for value, step in history
        ]
        client.log_batch(
            run_id,
            metrics=points,
            params=[Param(k, v) for k, v in sorted(params.items())],
            tags=[RunTag(k, v) for k, v in sorted(tags.items())],
        )
        files = {}
        with tempfile.TemporaryDirectory() as tmp:
            for rel, text in artifacts.items():
                local = os.path.join(tmp, rel)
                os.makedirs(os.path.dirname(local), exist_ok=True)
                with open(local, "w") as f:
                    f.write(text)
                files[rel] = hashlib.sha256(text.encode()).hexdigest()
            for entry in sorted(os.listdir(tmp)):
                local = os.path.join(tmp, entry)
                if os.path.isdir(local):
                    client.log_artifacts(run_id, local, entry)
                else:
                    client.log_artifact(run_id, local)
        end = start + 30_000
        client.set_terminated(run_id, status, end_time=end)
        expected_runs[name] = {
            "source_run_id": run_id,
            "experiment": experiments[exp]["name"],
            "parent": parent,
            "status": status,
            "start_time": start,
            "end_time": end,
            "params": params,
            "metrics": {
                key: [
                    {"value": value, "step": step, "timestamp": start + 1000 * (step + 1)}
                    for value, step in history
                ]
                for key, history in metrics.items()
            },
            "tags": dict(tags, **{"mlflow.runName": name}),
            "artifacts": files,
        }

    model = f"{p}-model"
    client.create_registered_model(model, tags={"owner": "corpus"}, description="corpus model")
    versions = []
    for run_name, stage, description, tags in MODEL_VERSIONS:
        run = client.get_run(run_ids[run_name])
        mv = client.create_model_version(
            model, f"{run.info.artifact_uri}/model", run.info.run_id, tags=tags or None, description=description
        )
        if stage != "None":
            client.transition_model_version_stage(model, mv.version, stage)
        versions.append(
            {"version": str(mv.version), "run": run_name, "stage": stage, "description": description, "tags": tags}
        )

    expected = {
        "mlflow_version": mlflow.__version__,
        "experiments": [experiments["a"], experiments["b"]],
        "runs": expected_runs,
        "models": [{"name": model, "description": "corpus model", "tags": {"owner": "corpus"}, "versions": versions}],
    }
    with open(args.out, "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    json.dump({"runs": run_ids}, real_stdout)
    real_stdout.write("\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
