"""Print every run (active and deleted) of an experiment, read with the official MLflow client.

Tests use it as an independent oracle of what a destination holds:
    python list_runs.py --tracking-uri URL --experiment NAME
prints JSON: [{"run_id", "lifecycle_stage", "status", "tags": {...}}] ([] if the experiment is missing).
"""

import argparse
import json
import time

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tracking-uri", required=True)
    p.add_argument("--experiment", required=True)
    a = p.parse_args()
    # Tests poll this while an import loads the server; a busy sqlite store answers some
    # requests with errors, so try a few times before giving up.
    for attempt in range(10):
        try:
            print(json.dumps(list_runs(a)))
            return
        except Exception:
            if attempt == 9:
                raise
            time.sleep(1)


def list_runs(a):
    client = MlflowClient(a.tracking_uri)
    exp = client.get_experiment_by_name(a.experiment)
    out = []
    if exp is not None:
        for r in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=50000):
            out.append(
                {
                    "run_id": r.info.run_id,
                    "lifecycle_stage": r.info.lifecycle_stage,
                    "status": r.info.status,
                    "tags": dict(r.data.tags),
                }
            )
    return out


if __name__ == "__main__":
    main()
