#!/usr/bin/env python3
"""Seed the benchmark's medium workload (issue 6) with the official `mlflow` client.

Usage: seed_medium.py --tracking-uri URL --experiment NAME [--runs 100] [--params 10]
                      [--metrics 10] [--steps 100] [--artifacts 3] [--artifact-mb 0]
                      [--models 0] [--versions 5] [--threads 4]

One experiment of --runs runs, each with --params params, --metrics metric keys x --steps steps
(full histories, written with MlflowClient.log_batch) and --artifacts small files (~1-2 KB,
one in a sub-folder), uploaded through the server's artifact proxy. Runs are FINISHED with
fixed start/end times. With --artifact-mb N each run also gets one file of N MiB of random
bytes (`large.bin`). With --models M, the first M x --versions runs also log a small model
folder (`model/MLmodel`, `model/weights.bin`) and back versions of registered models
`bench-model-0` .. `bench-model-<M-1>` (`runs:/<run>/model`), the last version of each in
stage Production with alias `champion`. Prints one JSON object on stdout:
{"experiment_id": ..., "runs": N, "models": M}.
"""

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

BASE_TIME_MS = 1704164645678  # 2024-01-02T03:04:05.678Z


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--params", type=int, default=10)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--artifacts", type=int, default=3)
    ap.add_argument("--artifact-mb", type=int, default=0)
    ap.add_argument("--models", type=int, default=0)
    ap.add_argument("--versions", type=int, default=5)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()

    # The mlflow client prints "View run ..." lines on stdout: keep stdout for the JSON result.
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri)
    if client.get_experiment_by_name(args.experiment) is not None:
        sys.exit(f"seed_medium: experiment {args.experiment!r} already exists")
    exp_id = client.create_experiment(args.experiment, tags={"bench": "medium"})

    def seed_run(i):
        start = BASE_TIME_MS + i * 10_000
        run = client.create_run(exp_id, start_time=start, run_name=f"medium-{i:04d}",
                                tags={"mlflow.user": "bench-user", "index": str(i)})
        rid = run.info.run_id
        client.log_batch(rid, params=[Param(f"param_{j}", f"value-{i}-{j}") for j in range(args.params)])
        metrics = [Metric(f"metric_{k}", (i + 1) * 0.001 * s + k, start + s * 10, s)
                   for k in range(args.metrics) for s in range(args.steps)]
        for c in range(0, len(metrics), 1000):  # server limit: 1000 metrics per log-batch
            client.log_batch(rid, metrics=metrics[c:c + 1000])
        with tempfile.TemporaryDirectory() as tmp:
            for a in range(args.artifacts):
                sub = os.path.join(tmp, "data") if a % 3 == 2 else tmp
                os.makedirs(sub, exist_ok=True)
                with open(os.path.join(sub, f"file_{a}.txt"), "w", encoding="utf-8") as f:
                    f.write(f"run {i} artifact {a}\n" * (40 + 20 * a))
            if i < args.models * args.versions:
                os.makedirs(os.path.join(tmp, "model"))
                with open(os.path.join(tmp, "model", "MLmodel"), "w", encoding="utf-8") as f:
                    f.write(f"artifact_path: model\nrun: {i}\n")
                with open(os.path.join(tmp, "model", "weights.bin"), "wb") as f:
                    f.write(os.urandom(4096))
            if args.artifact_mb:
                with open(os.path.join(tmp, "large.bin"), "wb") as f:
                    for _ in range(args.artifact_mb):
                        f.write(os.urandom(1 << 20))
            client.log_artifacts(rid, tmp)
        client.set_terminated(rid, "FINISHED", end_time=start + args.steps * 10 + 500)
        return rid

    with ThreadPoolExecutor(max_workers=max(1, args.threads)) as pool:
        run_ids = list(pool.map(seed_run, range(args.runs)))
    for m in range(args.models):
        name = f"bench-model-{m}"
        client.create_registered_model(name, tags={"bench": "models"}, description=f"model {m}")
        for v in range(args.versions):
            rid = run_ids[m * args.versions + v]
            client.create_model_version(name, f"runs:/{rid}/model", run_id=rid, tags={"v": str(v + 1)})
        client.transition_model_version_stage(name, str(args.versions), "Production")
        client.set_registered_model_alias(name, "champion", str(args.versions))
    real_stdout.write(json.dumps({"experiment_id": exp_id, "runs": len(run_ids), "models": args.models}) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
