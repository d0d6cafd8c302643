#!/usr/bin/env python3
"""Print, as JSON on stdout, the MLflow 3 logged models of one experiment and how its runs
link to them, read with the official `mlflow` client, in terms that do not depend on ids (a
copy has new ones): models by name, runs by run name.

Usage: dump_logged_models.py --tracking-uri URL --experiment NAME

Output: {"models": {name: {model_type, status, params, tags, source_run, metrics, files,
                           mlmodel}},
         "runs": {run name: {"model_inputs": [model name], "model_outputs": [[model name, step]]}},
         "ids": {name: model_id}}
  metrics: [{key, value, step, timestamp, run, dataset_name, dataset_digest}] sorted.
  files: [{path, size, sha256}] of the model's artifacts; mlmodel: the text of its `MLmodel`.
  tags: every tag but `mlflow.*` ones.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--experiment", required=True)
    args = ap.parse_args()

    # Telemetry threads touch the environment while the client reads it (a KeyError seen once).
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    from mlflow.entities import ViewType

    mlflow.set_tracking_uri(args.tracking_uri)
    c = mlflow.MlflowClient()
    exp = c.get_experiment_by_name(args.experiment)
    if exp is None:
        json.dump({}, real_stdout)
        return
    models, token = [], None
    while True:
        page = c.search_logged_models(experiment_ids=[exp.experiment_id], max_results=100, page_token=token)
        models.extend(page)
        token = page.token
        if not token:
            break
    runs = c.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    run_names = {r.info.run_id: r.info.run_name for r in runs}
    names = {}
    for m in models:
        m = c.get_logged_model(m.model_id)
        names[m.model_id] = m.name

    def files(m):
        out, mlmodel = [], None
        if not mlflow.artifacts.list_artifacts(artifact_uri=m.artifact_location):
            return out, mlmodel
        with tempfile.TemporaryDirectory() as d:
            local = mlflow.artifacts.download_artifacts(artifact_uri=m.artifact_location, dst_path=d)
            for dirpath, _, fnames in os.walk(local):
                for n in fnames:
                    full = os.path.join(dirpath, n)
                    with open(full, "rb") as f:
                        data = f.read()
                    rel = os.path.relpath(full, local)
                    if rel == "MLmodel":
                        mlmodel = data.decode()
                    out.append({"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        return sorted(out, key=lambda f: f["path"]), mlmodel

    dumped = {}
    for m in models:
        m = c.get_logged_model(m.model_id)
        fs, mlmodel = files(m)
        metrics = sorted(
            (
                {
                    "key": x.key,
                    "value": x.value,
                    "step": x.step,
                    "timestamp": x.timestamp,
                    "run": run_names.get(x.run_id, x.run_id),
                    "dataset_name": x.dataset_name,
                    "dataset_digest": x.dataset_digest,
                }
                for x in (m.metrics or [])
            ),
            key=lambda x: json.dumps(x, sort_keys=True),
        )
        dumped[m.name] = {
            "model_type": m.model_type,
            "status": str(m.status),
            "params": dict(m.params),
            "tags": {k: v for k, v in m.tags.items() if not k.startswith("mlflow.")},
            "source_run": run_names.get(m.source_run_id, m.source_run_id) if m.source_run_id else None,
            "metrics": metrics,
            "files": fs,
            "mlmodel": mlmodel,
        }
    links = {}
    for r in runs:
        full = c.get_run(r.info.run_id)
        ins = sorted(names.get(i.model_id, i.model_id) for i in (full.inputs.model_inputs or []))
        outs = sorted([names.get(o.model_id, o.model_id), o.step] for o in (full.outputs.model_outputs or []))
        links[r.info.run_name] = {"model_inputs": ins, "model_outputs": outs}
    json.dump({"models": dumped, "runs": links, "ids": {v: k for k, v in names.items()}}, real_stdout, sort_keys=True)


if __name__ == "__main__":
    main()
