#!/usr/bin/env python3
"""Print, as JSON on stdout, everything about one MLflow run that a copy must preserve,
read with the official `mlflow` client.

Usage: dump_run.py --tracking-uri URL --run-id ID
       dump_run.py --tracking-uri URL --experiment NAME   (every run, deleted ones included,
                                                          as {run_id: dump}; {} if no such experiment)

Output keys: info, params, tags, metrics, dataset_inputs, artifacts.
  metrics: {key: [{"value": v, "value_hex": h, "step": s, "timestamp": t}, ...]} -- the full
    history in the order the server returns it. NaN is written "NaN", +-inf "Infinity" /
    "-Infinity" (the sqlite store returns +-inf as +-1.7976931348623157e308, so any value with
    abs >= that is written as infinity). `value_hex` (float.hex(), finite values only) lets a
    comparison be bit-exact even with a JSON parser that is not correctly rounded.
  artifacts: [{"path", "size", "sha256"}] for every file, sorted by path.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile

MAX_DOUBLE = 1.7976931348623157e308


def main():
    # Keep stdout clean: anything the libraries print goes to stderr.
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id")
    which.add_argument("--experiment")
    args = ap.parse_args()

    import mlflow
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    if args.run_id:
        out = dump(client, args.tracking_uri, client.get_run(args.run_id))
    else:
        exp = client.get_experiment_by_name(args.experiment)
        runs = (
            client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=50000)
            if exp is not None
            else []
        )
        out = {r.info.run_id: dump(client, args.tracking_uri, r) for r in runs}
    json.dump(out, real_stdout, ensure_ascii=False, sort_keys=True, allow_nan=False)
    real_stdout.write("\n")
    real_stdout.flush()


def dump(client, tracking_uri, run):
    info = run.info
    return {
        "info": {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "run_name": info.run_name,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "artifact_uri": info.artifact_uri,
        },
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "metrics": dump_metrics(client, run),
        "dataset_inputs": dump_datasets(run),
        "artifacts": dump_artifacts(client, tracking_uri, info.run_id),
    }


def norm_value(v):
    v = float(v)
    if math.isnan(v):
        return "NaN", None
    if v >= MAX_DOUBLE:
        return "Infinity", None
    if v <= -MAX_DOUBLE:
        return "-Infinity", None
    return v, v.hex()


def dump_metrics(client, run):
    metrics = {}
    for key in sorted(run.data.metrics.keys()):
        points = []
        for m in client.get_metric_history(run.info.run_id, key):
            value, value_hex = norm_value(m.value)
            point = {"value": value, "step": int(m.step), "timestamp": int(m.timestamp)}
            if value_hex is not None:
                point["value_hex"] = value_hex
            points.append(point)
        metrics[key] = points
    return metrics


def dump_datasets(run):
    out = []
    inputs = getattr(run, "inputs", None)
    for di in (inputs.dataset_inputs if inputs is not None else None) or []:
        ds = di.dataset
        out.append(
            {
                "name": ds.name,
                "digest": ds.digest,
                "source_type": ds.source_type,
                "source": ds.source,
                "schema": ds.schema,
                "profile": ds.profile,
                "tags": sorted(({"key": t.key, "value": t.value} for t in di.tags or []),
                               key=lambda t: (t["key"], t["value"])),
            }
        )
    out.sort(key=lambda d: (d["name"] or "", d["digest"] or "", d["source"] or ""))
    return out


def dump_artifacts(client, tracking_uri, run_id):
    """Every file, downloaded one at a time and removed once hashed: the disk holds at most one
    artifact, however large the run (a run with a 300 MB file is compared on CI machines with
    little free disk)."""
    import mlflow.artifacts

    files = []
    pending = [None]
    with tempfile.TemporaryDirectory(prefix="dump_run_") as tmp:
        while pending:
            folder = pending.pop()
            for entry in client.list_artifacts(run_id, folder):
                if entry.is_dir:
                    pending.append(entry.path)
                    continue
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=entry.path, dst_path=tmp, tracking_uri=tracking_uri
                )
                h = hashlib.sha256()
                size = 0
                with open(local, "rb") as f:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        size += len(chunk)
                        h.update(chunk)
                os.remove(local)
                files.append({"path": entry.path, "size": size, "sha256": h.hexdigest()})
    files.sort(key=lambda f: f["path"])
    return files


if __name__ == "__main__":
    main()
