#!/usr/bin/env python3
"""Print, as JSON on stdout, several experiments and registered models at once, read with the
official `mlflow` client: one process instead of one per object, for tests that check many.

Usage: dump_many.py --tracking-uri URL [--experiment NAME]... [--model NAME]...

Output: {"experiments": {name: {"tags": {...}, "runs": {run_id: <dump_run.py's dump>}}},
         "models": {name: <dump_model.py's dump>}}; a missing experiment is {"tags": null, "runs": {}}.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--experiment", action="append", default=[])
    ap.add_argument("--model", action="append", default=[])
    args = ap.parse_args()

    import mlflow
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    import dump_model
    import dump_run

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    experiments = {}
    for name in args.experiment:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            experiments[name] = {"tags": None, "runs": {}}
            continue
        runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=50000)
        experiments[name] = {
            "tags": dict(exp.tags),
            "runs": {r.info.run_id: dump_run.dump(client, args.tracking_uri, r) for r in runs},
        }
    models = {name: dump_model.dump(client, args.tracking_uri, name) for name in args.model}
    json.dump({"experiments": experiments, "models": models}, real_stdout, ensure_ascii=False, sort_keys=True,
              allow_nan=False)
    real_stdout.write("\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
