"""Print every run (active and deleted) of an experiment, read with the official MLflow client.

Tests use it as an independent oracle of what a destination holds:
    python list_runs.py --tracking-uri URL --experiment NAME
prints JSON: [{"run_id", "lifecycle_stage", "status", "tags": {...}}] ([] if the experiment is missing).
"""

import argparse
import json

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tracking-uri", required=True)
    p.add_argument("--experiment", required=True)
    a = p.parse_args()
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
    print(json.dumps(out))


if __name__ == "__main__":
    main()
