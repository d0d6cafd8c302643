#!/usr/bin/env python3
"""GenAI evaluation datasets through the official `mlflow` client, for the tests: seed one,
dump some, or export one as the Python mlflow-export-import writes it. Prints JSON on stdout.

Usage:
  datasets.py seed --tracking-uri URL --name NAME --records N --experiments A,B
      Creates experiments A and B (when missing) and dataset NAME linked to both, with tags, and
      N records (inputs, outputs, expectations, tags, source) merged in batches of 1000.
      Prints {dataset_id, experiment_ids}.
  datasets.py dump --tracking-uri URL --name NAME
      Every dataset called NAME: [{dataset_id, name, tags, experiments: [names, sorted],
      records: [{inputs, outputs, expectations, tags, source}] sorted by inputs}].
  datasets.py python-export --tracking-uri URL --dataset-id ID --output-dir DIR
      Writes DIR/evaluation_dataset.json as the Python tool does: {system, mlflow:
      {evaluation_dataset: EvaluationDataset.to_dict()}}. Prints {}.
  datasets.py untag --tracking-uri URL --dataset-id ID --key KEY [--drop-records N]
      Deletes a dataset tag and the first N records (by id), as an interrupted copy leaves it.
"""

import argparse
import json
import os
import sys


def entity(ds):
    """The entity behind the `mlflow.genai` wrapper (records, delete_records live there)."""
    return getattr(ds, "_mlflow_dataset", None) or ds


def records_of(ds):
    out = []
    for r in entity(ds).records:
        d = r.to_dict()
        out.append({k: d.get(k) for k in ("inputs", "outputs", "expectations", "tags", "source")})
    return sorted(out, key=lambda r: json.dumps(r["inputs"], sort_keys=True))


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["seed", "dump", "python-export", "untag"])
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--name")
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--experiments", default="")
    ap.add_argument("--dataset-id")
    ap.add_argument("--output-dir")
    ap.add_argument("--key")
    ap.add_argument("--drop-records", type=int, default=0)
    args = ap.parse_args()

    import mlflow
    import mlflow.genai.datasets as D
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    out = {}
    if args.command == "seed":
        ids = []
        for name in filter(None, args.experiments.split(",")):
            e = client.get_experiment_by_name(name)
            ids.append(e.experiment_id if e else client.create_experiment(name))
        ds = D.create_dataset(name=args.name, experiment_id=ids, tags={"team": "genai", "stage": "golden"})
        batch = []
        for i in range(args.records):
            batch.append({
                "inputs": {"question": f"q{i}", "n": i},
                "outputs": {"answer": f"a{i}"},
                "expectations": {"expected": f"a{i}", "score": i % 5},
                "tags": {"split": "train" if i % 2 else "test"},
                "source": {"source_type": "HUMAN", "source_data": {"user": f"u{i % 3}"}},
            })
            if len(batch) == 1000 or i == args.records - 1:
                ds.merge_records(batch)
                batch = []
        out = {"dataset_id": ds.dataset_id, "experiment_ids": ids}
    elif args.command == "dump":
        out = []
        for found in D.search_datasets(filter_string=f"name = '{args.name}'"):
            ds = D.get_dataset(dataset_id=found.dataset_id)
            exps = sorted(client.get_experiment(i).name for i in (ds.experiment_ids or []))
            out.append({
                "dataset_id": ds.dataset_id,
                "name": ds.name,
                "tags": ds.tags,
                "experiments": exps,
                "records": records_of(ds),
            })
    elif args.command == "python-export":
        ds = D.get_dataset(dataset_id=args.dataset_id)
        doc = {
            "system": {"package_version": "1.3.0", "script": "export_evaluation_dataset.py",
                       "export_file_version": "2", "mlflow_version": mlflow.__version__,
                       "mlflow_tracking_uri": args.tracking_uri},
            "mlflow": {"evaluation_dataset": ds.to_dict()},
        }
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "evaluation_dataset.json"), "w") as f:
            json.dump(doc, f, indent=2)
    elif args.command == "untag":
        D.delete_dataset_tag(dataset_id=args.dataset_id, key=args.key)
        if args.drop_records:
            ds = entity(D.get_dataset(dataset_id=args.dataset_id))
            ids = sorted(r.dataset_record_id for r in ds.records)[: args.drop_records]
            ds.delete_records(ids)
    json.dump(out, real_stdout)
    real_stdout.flush()


if __name__ == "__main__":
    main()
