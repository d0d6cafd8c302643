#!/usr/bin/env python3
"""Fill a real MLflow tracking server with test data using the official `mlflow` client.

Usage: seed.py --tracking-uri URL --scenario NAME --experiment NAME [options]

Prints exactly one JSON object on stdout: {"experiment_id": "...", "run_ids": ["..."]}.
The experiment is created when it does not exist.

Scenarios:
  rich            one run covering the hard cases (see seed_rich). Options: --status
                  FINISHED|FAILED|KILLED (default FINISHED), --deleted (delete the run at the end),
                  --no-log-model (skip mlflow.pyfunc.log_model, which creates an MLflow 3
                  logged model linked to the run).
  big             one run: 100 metric keys x 1000 steps, 150 params, 300 tags (log_batch).
  large-artifact  one run with a single file `large.bin` of --size-mb MB of random bytes.
Common options: --run-name NAME.
"""

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time

# Fixed times in the past (ms since epoch): 2024-01-02T03:04:05.678Z.
BASE_TIME_MS = 1704164645678


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--scenario", required=True, choices=["rich", "big", "large-artifact", "tree", "models", "histories"])
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--run-name", default=None)
    ap.add_argument("--status", default="FINISHED", choices=["FINISHED", "FAILED", "KILLED"])
    ap.add_argument("--deleted", action="store_true")
    ap.add_argument("--no-log-model", action="store_true")
    ap.add_argument("--size-mb", type=int, default=10)
    ap.add_argument("--runs", type=int, default=50, help="tree: runs per experiment")
    args = ap.parse_args()

    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    if args.scenario in ("tree", "models"):
        out = seed_tree(client, args) if args.scenario == "tree" else seed_models(client, args)
        json.dump(out, real_stdout)
        real_stdout.write("\n")
        real_stdout.flush()
        return
    exp = client.get_experiment_by_name(args.experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(args.experiment)

    if args.scenario == "rich":
        run_ids = [seed_rich(client, exp_id, args)]
    elif args.scenario == "big":
        run_ids = [seed_big(client, exp_id, args)]
    elif args.scenario == "histories":
        run_ids = seed_histories(client, exp_id)
    else:
        run_ids = [seed_large_artifact(client, exp_id, args)]

    if args.deleted:
        for rid in run_ids:
            client.delete_run(rid)

    json.dump({"experiment_id": exp_id, "run_ids": run_ids}, real_stdout)
    real_stdout.write("\n")
    real_stdout.flush()


def seed_tree(client, args):
    """Three experiments <experiment>-a, -b, -c of --runs runs each. Runs 0-4 of -b are children
    of runs 0-4 of -a (parent in another experiment) and runs 0-4 of -c their grandchildren;
    runs 10-14 of -a are children of runs 0-4 of -a (parent in the same experiment).
    Every 10 runs: one FAILED (i % 10 == 3), one KILLED (5), one deleted (7); small params,
    tags, metric histories and one artifact file per run."""
    from mlflow.entities import Metric, Param, RunTag

    names = [f"{args.experiment}-{s}" for s in "abc"]
    exp_ids = {}
    for n in names:
        tags = {"mlflow.note.content": f"description of {n}", "team": "seed"} if n.endswith("-a") else {}
        exp_ids[n] = client.create_experiment(n, tags=tags)
    run_ids, previous, root_of = [], None, {}
    for level, name in enumerate(names):
        created = []
        for i in range(args.runs):
            tags = {"mlflow.user": "seed-user", "kind": f"level{level}", "index": str(i)}
            if previous is not None and i < 5:
                tags["mlflow.parentRunId"] = previous[i]
                tags["mlflow.rootRunId"] = root_of[previous[i]]
            elif level == 0 and 10 <= i < 15:
                tags["mlflow.parentRunId"] = tags["mlflow.rootRunId"] = created[i - 10]
            start = BASE_TIME_MS + level * 1_000_000 + i * 1000
            run = client.create_run(exp_ids[name], start_time=start, tags=tags, run_name=f"{name}-{i}")
            rid = run.info.run_id
            client.log_batch(
                rid,
                metrics=[Metric(k, (i + 1) * 0.1 * s + (0.5 if k == "acc" else 0), start + s, s)
                         for k in ("loss", "acc") for s in range(5)],
                params=[Param(f"p{j}", f"{name}-{i}-{j}") for j in range(3)],
            )
            with tempfile.TemporaryDirectory() as tmp:
                os.makedirs(os.path.join(tmp, "notes"))
                write(os.path.join(tmp, "notes", "run.txt"), f"{name} run {i}\n".encode())
                client.log_artifacts(rid, tmp)
            status = {3: "FAILED", 5: "KILLED"}.get(i % 10, "FINISHED")
            client.set_terminated(rid, status, end_time=start + 500)
            if i % 10 == 7:
                client.delete_run(rid)
            created.append(rid)
            run_ids.append(rid)
        if level == 0:
            root_of = {r: r for r in created}
        else:
            root_of.update({created[i]: root_of[previous[i]] for i in range(min(5, args.runs))})
        previous = created
    return {"experiment_id": exp_ids[names[0]], "experiments": exp_ids, "run_ids": run_ids}


def seed_models(client, args):
    """Three registered models <experiment>-m0..m2 of five versions each, runs in experiment
    <experiment>: stages, aliases, model and version tags and descriptions; in each model
    version 3 is deleted (a gap), versions 4 and 5 come from one run, and the run behind
    version 1 is deleted afterwards. Model m0 has a sixth version registered from an MLflow 3
    logged model (`mlflow.pyfunc.log_model`), whose source is `models:/m-...`."""
    exp_id = client.create_experiment(args.experiment)
    names, run_ids = [], []
    for m in range(3):
        name = f"{args.experiment}-m{m}"
        names.append(name)
        client.create_registered_model(name, tags={"team": "seed", "m": str(m)}, description=f"model {m}")
        runs = []
        for i in range(4):
            run = client.create_run(exp_id, start_time=BASE_TIME_MS + m * 100 + i, run_name=f"{name}-r{i}")
            with tempfile.TemporaryDirectory() as tmp:
                os.makedirs(os.path.join(tmp, "model"))
                write(os.path.join(tmp, "model", "MLmodel"), f"artifact_path: model\nrun: {m}-{i}\n".encode())
                write(os.path.join(tmp, "model", "weights.bin"), os.urandom(2048))
                client.log_artifacts(run.info.run_id, tmp)
            client.set_terminated(run.info.run_id, "FINISHED", end_time=BASE_TIME_MS + 5000)
            runs.append(run.info.run_id)
            run_ids.append(run.info.run_id)
        for v, run in enumerate([runs[0], runs[1], runs[2], runs[3], runs[3]], start=1):
            source = f"runs:/{run}/model" if v % 2 else f"{client.get_run(run).info.artifact_uri}/model"
            client.create_model_version(name, source, run_id=run, tags={"v": str(v)}, description=f"{name} v{v}")
        client.delete_model_version(name, "3")
        client.transition_model_version_stage(name, "2", "Archived")
        client.transition_model_version_stage(name, "4", "Staging")
        client.transition_model_version_stage(name, "5", "Production")
        client.set_registered_model_alias(name, "champion", "5")
        client.set_registered_model_alias(name, "first", "1")
        client.delete_run(runs[0])
        if m == 0:
            import mlflow
            import mlflow.pyfunc

            class Echo(mlflow.pyfunc.PythonModel):
                def predict(self, context, model_input):
                    return model_input

            with mlflow.start_run(experiment_id=exp_id, run_name=f"{name}-logged") as run:
                mlflow.pyfunc.log_model(name="echo", python_model=Echo(), registered_model_name=name)
            run_ids.append(run.info.run_id)
    return {"experiment_id": exp_id, "models": names, "run_ids": run_ids}


def log_batch_chunked(client, run_id, metrics=(), params=(), tags=()):
    """log_batch within the server limits: <= 1000 entities, <= 100 params, <= 100 tags."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    while params or tags:
        p, params = params[:100], params[100:]
        t, tags = tags[:100], tags[100:]
        client.log_batch(run_id, params=p, tags=t)
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000])


def seed_rich(client, exp_id, args):
    import mlflow
    import mlflow.data
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd
    from mlflow.entities import Metric, Param, RunTag

    start = BASE_TIME_MS
    run = client.create_run(
        exp_id,
        start_time=start,
        run_name=args.run_name or "rich-run ✓",
        tags={"team": "ml-platform", "mlflow.user": "seed-user"},
    )
    rid = run.info.run_id

    params = [
        Param("alpha", "0.5"),
        Param("long_value", "p" * 5990 + "0123456789"),  # 6000 chars, the limit
        Param("unicode_value", "héllo wörld ✓ 日本語 🚀"),
        Param("path/like/key", "a/b/c"),
        Param("empty_ish", " "),
    ]
    tags = [
        RunTag("long_tag", "t" * 7990 + "0123456789"),  # 8000 chars, the limit
        RunTag("unicode_tag", "ça va? 😀 Ω"),
        RunTag("mlflow.note.content", "A **markdown** note.\nSecond line."),
        RunTag("multi/part/tag", "x"),
    ]
    t = start + 1000
    metrics = []
    # Plain series with distinct explicit timestamps.
    for step in range(10):
        metrics.append(Metric("loss", 1.0 / (step + 1), t + step * 10, step))
    # Keys with '/', duplicate steps, negative steps.
    metrics += [
        Metric("train/acc", 0.1, t + 100, 0),
        Metric("train/acc", 0.2, t + 101, 0),  # duplicate step, later timestamp
        Metric("train/acc", 0.3, t + 102, 1),
        Metric("eval/nested/score", -5.25, t + 200, -3),
        Metric("eval/nested/score", -4.5, t + 201, -1),
        Metric("eval/nested/score", 3.0e-300, t + 202, 2),
    ]
    # Special values.
    metrics += [
        Metric("special", float("nan"), t + 300, 0),
        Metric("special", float("inf"), t + 301, 1),
        Metric("special", float("-inf"), t + 302, 2),
        Metric("special", 0.1 + 0.2, t + 303, 3),  # not exactly representable in short decimal
        Metric("special", -0.0, t + 304, 4),
        Metric("special", 123456789.123456789, t + 305, 5),
    ]
    metrics.append(Metric("single_point", 42.0, t + 400, 0))
    log_batch_chunked(client, rid, metrics=metrics, params=params, tags=tags)

    mlflow.start_run(run_id=rid)
    try:
        df = pd.DataFrame(
            {"x": np.arange(20, dtype=np.float64), "y": np.arange(20) % 3, "name": ["a"] * 20}
        )
        ds = mlflow.data.from_pandas(df, name="rich-dataset", targets="y")
        mlflow.log_input(ds, context="training")

        with tempfile.TemporaryDirectory(prefix="seed_rich_") as tmp:
            art = os.path.join(tmp, "art")
            deep = os.path.join(art, "level1", "level2", "level3")
            os.makedirs(deep)
            write(os.path.join(art, "README.txt"), b"top-level file\n")
            write(os.path.join(deep, "deep.json"), json.dumps({"deep": True}).encode())
            write(os.path.join(art, "level1", "mid.txt"), b"middle\n")
            write(os.path.join(art, "empty.txt"), b"")
            write(os.path.join(art, "random.bin"), random.Random(7).randbytes(1 << 20))
            write(os.path.join(art, "données_ünïcødé ✓.txt"), "unicode name\n".encode())
            write(os.path.join(art, "file with spaces.txt"), b"spaces\n")
            mlflow.log_artifacts(art)

            model_dir = os.path.join(tmp, "model")
            mlflow.pyfunc.save_model(
                model_dir, python_model=_make_add_n(), pip_requirements=["mlflow"]
            )
            mlflow.log_artifacts(model_dir, "model")

        if not args.no_log_model:
            mlflow.pyfunc.log_model(name="m", python_model=_make_add_n(), pip_requirements=["mlflow"])
    finally:
        mlflow.end_run()

    # Override what end_run set: explicit past end time and the requested status.
    client.set_terminated(rid, status=args.status, end_time=start + 60_000)
    return rid


def _make_add_n():
    import mlflow.pyfunc

    class AddN(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input + 1

    return AddN()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def seed_big(client, exp_id, args):
    from mlflow.entities import Metric, Param, RunTag

    start = BASE_TIME_MS
    run = client.create_run(exp_id, start_time=start, run_name=args.run_name or "big-run")
    rid = run.info.run_id
    params = [Param(f"param_{i:03d}", f"value-{i}") for i in range(150)]
    tags = [RunTag(f"tag_{i:03d}", f"tag-value-{i}") for i in range(300)]
    metrics = []
    for k in range(100):
        key = f"metric_{k:03d}" if k % 2 else f"group/metric_{k:03d}"
        for step in range(1000):
            metrics.append(Metric(key, math.sin(k + step / 100.0), start + 1000 + step, step))
    log_batch_chunked(client, rid, metrics=metrics, params=params, tags=tags)
    client.set_terminated(rid, status=args.status, end_time=start + 3_600_000)
    return rid


def seed_histories(client, exp_id):
    """Histories that strain a bulk reader: 30 runs sharing a key of 1,000 points (30,000 in
    all, beyond one bulk answer of 25,000), one run with a key of 30,000 points on its own,
    NaN and infinities, repeated steps and timestamps, and a run without metrics."""
    from mlflow.entities import Metric

    start = BASE_TIME_MS
    run_ids = []
    for i in range(30):
        run = client.create_run(exp_id, start_time=start + i, run_name=f"shared-{i:02d}")
        rid = run.info.run_id
        metrics = [Metric("shared", i + s / 1000.0, start + s, s) for s in range(1000)]
        metrics += [Metric("odd", v, start + 7, 0) for v in (float("nan"), float("inf"), -float("inf"), 1.5)]
        metrics += [Metric("flat", float(s % 3), start, 0) for s in range(3)]
        log_batch_chunked(client, rid, metrics=metrics)
        client.set_terminated(rid, "FINISHED", end_time=start + 10_000)
        run_ids.append(rid)
    run = client.create_run(exp_id, start_time=start + 100, run_name="long")
    long = [Metric("long", math.cos(s / 50.0), start + s, s) for s in range(30_000)]
    log_batch_chunked(client, run.info.run_id, metrics=long + [Metric("shared", 0.5, start, 0)])
    client.set_terminated(run.info.run_id, "FINISHED", end_time=start + 40_000)
    run_ids.append(run.info.run_id)
    run = client.create_run(exp_id, start_time=start + 200, run_name="no-metrics")
    client.set_terminated(run.info.run_id, "FINISHED", end_time=start + 300)
    run_ids.append(run.info.run_id)
    return run_ids


def seed_large_artifact(client, exp_id, args):
    start = BASE_TIME_MS
    run = client.create_run(
        exp_id, start_time=start, run_name=args.run_name or f"large-artifact-{args.size_mb}mb"
    )
    rid = run.info.run_id
    tmp = tempfile.mkdtemp(prefix="seed_large_")
    try:
        path = os.path.join(tmp, "large.bin")
        with open(path, "wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(1 << 20))
        client.log_artifact(rid, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    client.set_terminated(rid, status=args.status, end_time=start + 60_000)
    return rid


if __name__ == "__main__":
    main()
