#!/usr/bin/env python3
"""Write a small known `mlruns` file store with the real MLflow client, then dump what the
official client reads back from it as `expected.json`.

Used by `scripts/mlruns-fixture.sh`, run inside a venv with MLflow 2.22 or a 3.x that still
writes file stores (3.12 and earlier; 3.13 refuses them). Sticks to client calls both have.

Usage: mlruns_fixture_seed.py (--store DIR | --tracking-uri URL) --out expected.json
(`--tracking-uri`: the same content through a server, for a database store's fixture.)

Content: experiment `fixture-a` (tagged, with a description) holding a parent run (params, tags
with a multi-line value, metric histories of several points incl. NaN and +/-inf, a metric
key with a `/`, a dataset input, artifacts in folders), its nested child, and a deleted run;
experiment `fixture-b` with one run, then deleted (so it lies in `.trash`); registered model
`fixture-model` (description, tag, alias `champion`) with version 1 (Production, from the
parent run, tagged) and version 2 (None, from the child), plus a third version that is deleted
(the file store keeps it as `Deleted_Internal`; no client lists it). With MLflow 3, also a
logged model (output of the parent, input of the child) and a metric point naming a dataset.
"""

import argparse
import json
import math
import os
import sys
import tempfile

# Fixed times (ms): 2024-01-01 00:00:00 UTC and on.
T0 = 1704067200000


def number(x):
    """A float as JSON can hold it: non-finite values as the strings Rust's `f64` parses."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def seed(client, mlflow):
    from mlflow.entities import Metric, Param, RunTag

    exp_a = client.create_experiment(
        "fixture-a", tags={"team": "fixtures", "mlflow.note.content": "experiment\ndescription"}
    )
    exp_b = client.create_experiment("fixture-b", tags={"doomed": "yes"})

    def run(exp, name, start, tags=None):
        r = client.create_run(exp, start_time=start, tags=tags or {}, run_name=name)
        return r.info.run_id

    parent = run(exp_a, "parent", T0)
    client.log_batch(
        parent,
        metrics=[Metric("loss", v, T0 + 1000 * (s + 1), s) for s, v in enumerate([0.9, 0.5, float("nan"), 0.25])]
        + [Metric("acc", v, T0 + 500, 0) for v in (0.75, float("inf"), float("-inf"))]
        + [Metric("eval/rmse", 1.5, T0 + 7000, 3), Metric("eval/rmse", 1.25, T0 + 8000, 2)],
        params=[Param("alpha", "0.5"), Param("layers", "3"), Param("opt/name", "adam")],
        tags=[RunTag("note", "line 1\nline 2"), RunTag("team", "core")],
    )
    import pandas as pd

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(df, source="/data/train.csv", name="train", targets="y")
    with mlflow.start_run(run_id=parent):
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in {
            "hello.txt": "hello mlruns\n",
            "sub/data.csv": "x,y\n1,2\n",
            "sub/deeper/notes.md": "# notes\n",
            "model/MLmodel": "artifact_path: model\nflavors: {}\n",
        }.items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        client.log_artifacts(parent, tmp)
    client.set_terminated(parent, "FINISHED", end_time=T0 + 60_000)

    child = run(exp_a, "child", T0 + 1000, {"mlflow.parentRunId": parent})
    client.log_param(child, "fold", "1")
    client.log_metric(child, "loss", 0.4, timestamp=T0 + 2000, step=0)
    client.log_text(child, "child artifact\n", "out/child.txt")
    if hasattr(client, "log_outputs"):
        # MLflow 3: a logged model, output of the parent and input of the child; a metric point
        # naming a dataset (a 5-field line). Step 0, because MLflow reads 5-field lines as step 0.
        from mlflow.entities import LoggedModelInput, LoggedModelOutput

        lm = client.create_logged_model(exp_a, name="lm", source_run_id=parent)
        client.log_outputs(parent, [LoggedModelOutput(lm.model_id, 3)])
        client.log_inputs(child, models=[LoggedModelInput(lm.model_id)])
        client.log_metric(
            child, "val", 0.5, timestamp=T0 + 2500, step=0, dataset_name="train", dataset_digest=dataset.digest
        )
    client.set_terminated(child, "FAILED", end_time=T0 + 30_000)

    gone = run(exp_a, "deleted-run", T0 + 2000)
    client.log_param(gone, "p", "v")
    client.set_terminated(gone, "KILLED", end_time=T0 + 3000)
    client.delete_run(gone)

    solo = run(exp_b, "solo", T0 + 3000)
    client.log_metric(solo, "m", 1.0, timestamp=T0 + 4000, step=0)
    client.set_terminated(solo, "FINISHED", end_time=T0 + 5000)
    client.delete_experiment(exp_b)

    model = "fixture-model"
    client.create_registered_model(model, tags={"owner": "fixtures"}, description="a model")
    v1 = client.create_model_version(
        model, f"{client.get_run(parent).info.artifact_uri}/model", parent, tags={"v": "one"}, description="first"
    )
    client.transition_model_version_stage(model, v1.version, "Production")
    v2 = client.create_model_version(model, f"{client.get_run(child).info.artifact_uri}/out", child)
    client.set_registered_model_alias(model, "champion", v2.version)
    v3 = client.create_model_version(model, f"{client.get_run(child).info.artifact_uri}/out", child)
    client.delete_model_version(model, v3.version)


def dump(client, mlflow):
    from mlflow.entities import ViewType

    def opt_int(x):
        return None if x is None else int(x)

    experiments = []
    runs = []
    for e in client.search_experiments(view_type=ViewType.ALL):
        experiments.append(
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "lifecycle_stage": e.lifecycle_stage,
                "artifact_location": e.artifact_location,
                "creation_time": opt_int(e.creation_time),
                "last_update_time": opt_int(e.last_update_time),
                "tags": dict(e.tags),
            }
        )
        for r in client.search_runs([e.experiment_id], run_view_type=ViewType.ALL):
            i = r.info
            runs.append(
                {
                    "run_id": i.run_id,
                    "experiment_id": i.experiment_id,
                    "run_name": i.run_name,
                    "user_id": i.user_id,
                    "status": i.status,
                    "start_time": opt_int(i.start_time),
                    "end_time": opt_int(i.end_time),
                    "lifecycle_stage": i.lifecycle_stage,
                    "artifact_uri": i.artifact_uri,
                    "params": dict(r.data.params),
                    "tags": dict(r.data.tags),
                    "metrics": {
                        k: [
                            {"timestamp": m.timestamp, "value": number(m.value), "step": m.step}
                            for m in client.get_metric_history(i.run_id, k)
                        ]
                        for k in sorted(r.data.metrics)
                    },
                    "dataset_inputs": [
                        {
                            "tags": {t.key: t.value for t in d.tags},
                            "dataset": {
                                "name": d.dataset.name,
                                "digest": d.dataset.digest,
                                "source_type": d.dataset.source_type,
                                "source": d.dataset.source,
                                "schema": d.dataset.schema,
                                "profile": d.dataset.profile,
                            },
                        }
                        for d in r.inputs.dataset_inputs
                    ],
                    "model_inputs": [m.model_id for m in getattr(r.inputs, "model_inputs", None) or []],
                    "model_outputs": [
                        {"model_id": m.model_id, "step": m.step}
                        for m in getattr(getattr(r, "outputs", None), "model_outputs", None) or []
                    ],
                    "artifacts": sorted(
                        f.path for f in _walk(client, i.run_id, None)
                    ),
                }
            )
    models = []
    for m in client.search_registered_models():
        versions = sorted(client.search_model_versions(f"name='{m.name}'"), key=lambda v: int(v.version))
        models.append(
            {
                "name": m.name,
                "description": m.description,
                "tags": dict(m.tags),
                "aliases": dict(m.aliases) if isinstance(m.aliases, dict) else {},
                "creation_timestamp": m.creation_timestamp,
                "last_updated_timestamp": m.last_updated_timestamp,
                "versions": [
                    {
                        "version": str(v.version),
                        "description": v.description,
                        "tags": dict(v.tags),
                        "current_stage": v.current_stage,
                        "source": v.source,
                        "run_id": v.run_id,
                        "run_link": v.run_link,
                        "status": v.status,
                        "user_id": v.user_id,
                        "creation_timestamp": v.creation_timestamp,
                        "last_updated_timestamp": v.last_updated_timestamp,
                        "aliases": sorted(v.aliases),
                    }
                    for v in versions
                ],
            }
        )
    return {"mlflow_version": mlflow.__version__, "experiments": experiments, "runs": runs, "models": models}


def _walk(client, run_id, path):
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            yield from _walk(client, run_id, f.path)
        else:
            yield f


def main():
    ap = argparse.ArgumentParser()
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", help="an mlruns folder to write")
    where.add_argument("--tracking-uri", help="a tracking server to write through instead")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import mlflow
    from mlflow.tracking import MlflowClient

    uri = args.tracking_uri or "file://" + os.path.abspath(args.store)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    seed(client, mlflow)
    expected = dump(client, mlflow)
    with open(args.out, "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"{len(expected['experiments'])} experiments, {len(expected['runs'])} runs", file=sys.stderr)


if __name__ == "__main__":
    main()
