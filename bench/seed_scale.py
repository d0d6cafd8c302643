#!/usr/bin/env python3
"""Seed one experiment of many small runs fast, for bench/scale.sh ("scale to a million runs").

Usage:
  seed_scale.py seed  --db PATH --experiment NAME [--runs 100000]
  seed_scale.py check --tracking-uri URL --experiment NAME --runs N

`seed` writes the sqlite file of a tracking server that is not running yet. The official
store (`SqlAlchemyStore`, the code `mlflow server` runs) creates the schema (its migrations),
the experiment (artifact root `mlflow-artifacts:/`, as a `--serve-artifacts` server names it)
and run 0 through its own API (`create_run`, `log_batch`, `update_run_info`). Runs 1..N-1 are
then inserted with plain SQL in one transaction, mirroring row for row what the store wrote for
run 0: `runs`, `params` (2), `tags` (`mlflow.user`, `mlflow.runName`, `index`, `bench`),
`metrics` (one point) and `latest_metrics`. No artifacts. Prints one JSON object on stdout.

`check` reads a few runs back through a running server with the official client
(`MlflowClient`): the first, a middle and the last run, found by name, their status, times,
params, tags and metric history (one point), against what `seed` wrote. (The run count is
checked by `seed` in SQL; the export's own count checks it through the server.)
"""

import argparse
import json
import os
import sqlite3
import sys
import time
import uuid

BASE_TIME_MS = 1704164645678  # 2024-01-02T03:04:05.678Z


def expected(i):
    """What run i holds."""
    start = BASE_TIME_MS + i * 1000
    return {
        "name": f"scale-{i:06d}",
        "start": start,
        "end": start + 500,
        "params": {"alpha": f"{i * 0.001:.3f}", "layers": str(i % 7 + 1)},
        "tags": {"mlflow.user": "bench-user", "index": str(i), "bench": "scale"},
        "metric": ("loss", 1.0 / (i + 1), start + 100, 0),
    }


def seed(args):
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if os.path.exists(args.db):
        sys.exit(f"seed_scale: {args.db} exists")
    t0 = time.time()
    store = SqlAlchemyStore(f"sqlite:///{args.db}", "mlflow-artifacts:/")
    exp_id = store.create_experiment(args.experiment, tags=[])
    # Run 0 through the official store: the template the SQL rows below mirror.
    e = expected(0)
    run = store.create_run(exp_id, e["tags"]["mlflow.user"], e["start"],
                           [RunTag(k, v) for k, v in e["tags"].items()], e["name"])
    rid0 = run.info.run_id
    key, value, ts, step = e["metric"]
    store.log_batch(rid0, metrics=[Metric(key, value, ts, step)],
                    params=[Param(k, v) for k, v in e["params"].items()], tags=[])
    store.update_run_info(rid0, RunStatus.FINISHED, e["end"], None)
    store.engine.dispose()
    schema_s = time.time() - t0

    db = sqlite3.connect(args.db)
    (template,) = db.execute(
        "SELECT run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,"
        " end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time"
        " FROM runs WHERE run_uuid = ?", (rid0,)).fetchall()
    # The store's artifact URI is <experiment root>/<run id>/artifacts.
    prefix = template[11][: -len(f"{rid0}/artifacts")]
    tag_keys = sorted(k for (k,) in db.execute("SELECT key FROM tags WHERE run_uuid = ?", (rid0,)))
    want_keys = sorted(list(e["tags"]) + ["mlflow.runName"])
    if tag_keys != want_keys:
        sys.exit(f"seed_scale: the store wrote tags {tag_keys}, expected {want_keys}: update this script")
    t1 = time.time()
    runs, params, tags, metrics, latest = [], [], [], [], []
    for i in range(1, args.runs):
        e = expected(i)
        rid = uuid.uuid4().hex
        runs.append((rid, e["name"], template[2], template[3], template[4], e["tags"]["mlflow.user"], "FINISHED",
                     e["start"], e["end"], template[9], "active", f"{prefix}{rid}/artifacts", template[12], None))
        params.extend((k, v, rid) for k, v in e["params"].items())
        tags.extend((k, v, rid) for k, v in e["tags"].items())
        tags.append(("mlflow.runName", e["name"], rid))
        key, value, ts, step = e["metric"]
        metrics.append((key, value, ts, rid, step, 0))
        latest.append((key, value, ts, step, 0, rid))
    with db:
        db.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
                       " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
                       " experiment_id, deleted_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
        db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
        db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
        db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                       " VALUES (?,?,?,?,?,?)", metrics)
        db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                       " VALUES (?,?,?,?,?,?)", latest)
    count = db.execute("SELECT count(*) FROM runs WHERE experiment_id = ?", (template[12],)).fetchone()[0]
    db.close()
    real_stdout.write(json.dumps({"experiment_id": exp_id, "runs": count, "store_s": round(schema_s, 1),
                                  "sql_s": round(time.time() - t1, 1)}) + "\n")
    real_stdout.flush()


def check(args):
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=args.tracking_uri)
    exp = c.get_experiment_by_name(args.experiment)
    if exp is None:
        sys.exit(f"seed_scale check: no experiment {args.experiment!r}")
    problems, checked = [], 0
    for i in sorted({0, args.runs // 2, args.runs - 1}):
        e = expected(i)
        found = c.search_runs([exp.experiment_id], f"attributes.run_name = '{e['name']}'", max_results=2)
        if len(found) != 1:
            problems.append(f"run {i}: {len(found)} runs named {e['name']}")
            continue
        r = found[0]
        got = (r.info.status, r.info.start_time, r.info.end_time, r.data.params,
               {k: v for k, v in r.data.tags.items() if k in e["tags"]})
        want = ("FINISHED", e["start"], e["end"], e["params"], e["tags"])
        if got != want:
            problems.append(f"run {i}: {got} != {want}")
        key, value, ts, step = e["metric"]
        hist = [(m.value, m.timestamp, m.step) for m in c.get_metric_history(r.info.run_id, key)]
        if hist != [(value, ts, step)]:
            problems.append(f"run {i}: history {hist}")
        checked += 1
    print(json.dumps({"checked": checked, "problems": problems}))
    if problems:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db", required=True)
    s.add_argument("--experiment", required=True)
    s.add_argument("--runs", type=int, default=100_000)
    k = sub.add_parser("check")
    k.add_argument("--tracking-uri", required=True)
    k.add_argument("--experiment", required=True)
    k.add_argument("--runs", type=int, required=True)
    args = ap.parse_args()
    seed(args) if args.cmd == "seed" else check(args)


if __name__ == "__main__":
    main()
