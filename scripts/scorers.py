"""Registers or reads the scorers of an experiment with the official MLflow client.

Usage:
  scorers.py --tracking-uri URL --experiment NAME register NAME GUIDELINE [GUIDELINE ...]
      registers one version of Guidelines scorer NAME per guideline, in order (creating the
      experiment if there is none)
  scorers.py --tracking-uri URL --experiment NAME dump
      prints {name: [{"version": n, "serialized_scorer": text}, ...]} (oldest first)
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--experiment", required=True)
    ap.add_argument("action", choices=["register", "dump"])
    ap.add_argument("name", nargs="?")
    ap.add_argument("guidelines", nargs="*")
    args = ap.parse_args()

    import mlflow
    from mlflow.tracking._tracking_service.utils import _get_store

    mlflow.set_tracking_uri(args.tracking_uri)
    exp = mlflow.MlflowClient().get_experiment_by_name(args.experiment)
    if exp is None and args.action == "register":
        exp = mlflow.set_experiment(args.experiment)
    if exp is None:
        sys.exit(f"no experiment {args.experiment!r}")
    if args.action == "register":
        from mlflow.genai.scorers import Guidelines

        for g in args.guidelines:
            Guidelines(name=args.name, guidelines=[g]).register(experiment_id=exp.experiment_id)
        print("{}")
        return
    store = _get_store()
    out = {}
    for latest in store.list_scorers(exp.experiment_id):
        versions = store.list_scorer_versions(exp.experiment_id, latest.scorer_name)
        out[latest.scorer_name] = [
            {"version": v.scorer_version, "serialized_scorer": v._serialized_scorer}
            for v in sorted(versions, key=lambda v: v.scorer_version)
        ]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
