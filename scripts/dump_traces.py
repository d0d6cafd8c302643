#!/usr/bin/env python3
"""Dump every trace of an experiment with the official `mlflow` client, for comparisons.

Usage: dump_traces.py --tracking-uri URL --experiment NAME

Prints one JSON object on stdout: {trace_id: {"info": {...}, "spans": [...]}}; {} when the
experiment does not exist. Spans are ordered by (start time, span id); span attributes are
read back as MLflow decodes them; assessments are sorted by name.
"""

import argparse
import json
import os
import sys


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--experiment", required=True)
    args = ap.parse_args()

    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(args.experiment)
    out = {}
    if exp is not None:
        infos = mlflow.search_traces(locations=[exp.experiment_id], return_type="list", include_spans=False)
        for t in infos:
            trace = mlflow.get_trace(t.info.trace_id)
            out[t.info.trace_id] = {"info": info(trace.info), "spans": spans(trace.data.spans)}
    json.dump(out, real_stdout, sort_keys=True)
    real_stdout.write("\n")
    real_stdout.flush()


def info(i):
    return {
        "trace_id": i.trace_id,
        "request_time": i.request_time,
        "execution_duration": i.execution_duration,
        "state": str(i.state),
        "request_preview": i.request_preview,
        "response_preview": i.response_preview,
        "client_request_id": i.client_request_id,
        "trace_metadata": dict(i.trace_metadata),
        "tags": dict(i.tags),
        "assessments": sorted((assessment(a) for a in i.assessments), key=lambda a: a["name"]),
    }


def assessment(a):
    d = a.to_dictionary()
    return {
        "assessment_id": a.assessment_id,
        "name": a.name,
        "span_id": a.span_id,
        "source": {"type": str(a.source.source_type), "id": a.source.source_id},
        "rationale": a.rationale,
        "metadata": a.metadata,
        "create_time_ms": a.create_time_ms,
        "last_update_time_ms": a.last_update_time_ms,
        "feedback": d.get("feedback"),
        "expectation": d.get("expectation"),
        "valid": getattr(a, "valid", None),
    }


def spans(ss):
    out = []
    for s in sorted(ss, key=lambda s: (s.start_time_ns, s.span_id)):
        out.append({
            "name": s.name,
            "trace_id": s.trace_id,
            "span_id": s.span_id,
            "parent_id": s.parent_id,
            "start_time_ns": s.start_time_ns,
            "end_time_ns": s.end_time_ns,
            "span_type": s.span_type,
            "status": {"code": str(s.status.status_code), "description": s.status.description},
            "attributes": {k: v for k, v in s.attributes.items()},
            "events": [{"name": e.name, "timestamp": e.timestamp, "attributes": e.attributes} for e in s.events],
            "inputs": s.inputs,
            "outputs": s.outputs,
        })
    return out


if __name__ == "__main__":
    main()
