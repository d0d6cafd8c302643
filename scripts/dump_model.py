#!/usr/bin/env python3
"""Print, as JSON on stdout, a registered model as the official `mlflow` client sees it.

Usage: dump_model.py --tracking-uri URL --model NAME

Output: {name, description, tags, aliases: {alias: version}, versions: [{version, current_stage,
description, tags, run_id, source, status, files: [{path, size, sha256}]}]} with versions in
ascending order. `files` are the version's model files, downloaded through `models:/NAME/VERSION`,
so a copied version whose source does not resolve to the copied files shows up as a difference
(`registered_model_meta`, which the download itself writes, is left out).
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
    ap.add_argument("--model", required=True)
    args = ap.parse_args()

    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    json.dump(dump(client, args.tracking_uri, args.model), real_stdout, ensure_ascii=False, sort_keys=True)
    real_stdout.write("\n")
    real_stdout.flush()


def dump(client, tracking_uri, name):
    m = client.get_registered_model(name)
    versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    return {
        "name": m.name,
        "description": m.description or "",
        "tags": dict(m.tags),
        "aliases": dict(m.aliases),
        "versions": [
            {
                "version": v.version,
                "current_stage": v.current_stage,
                "description": v.description or "",
                "tags": dict(v.tags),
                "run_id": v.run_id,
                "source": v.source,
                "status": v.status,
                "files": files_of(tracking_uri, m.name, v.version),
            }
            for v in versions
        ],
    }


def files_of(tracking_uri, name, version):
    import mlflow.artifacts

    out = []
    with tempfile.TemporaryDirectory(prefix="dump_model_") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp, tracking_uri=tracking_uri
        )
        for dirpath, _dirs, names in os.walk(local):
            for n in names:
                if n == "registered_model_meta":
                    continue
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    data = f.read()
                out.append({"path": os.path.relpath(full, local).replace(os.sep, "/"), "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
    return sorted(out, key=lambda f: f["path"])


if __name__ == "__main__":
    main()
