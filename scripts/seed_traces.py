#!/usr/bin/env python3
"""Seed MLflow 3 traces into an experiment with the official `mlflow` client.

Usage: seed_traces.py --tracking-uri URL --experiment NAME

Creates the experiment when missing, one run, and three traces:
  * "agent": a root span with two nested children (attributes, events), one child ERROR
    (an exception event), linked to the run (mlflow.sourceRun), with trace tags, trace
    metadata, a feedback assessment (on a span, with rationale and metadata) and an
    expectation assessment;
  * "plain": one span, no run, made while logged model "plain-agent" is active (the trace
    names it in its mlflow.modelId metadata);
  * "failing": a root span that raises, so the trace state is ERROR.

Prints one JSON object on stdout: {"experiment_id", "run_id", "model_id", "trace_ids": [...]}.
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

    # Traces are exported synchronously, so that they are on the server when read back.
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType, SpanType

    mlflow.set_tracking_uri(args.tracking_uri)
    exp = mlflow.set_experiment(args.experiment)
    trace_ids = []

    with mlflow.start_run(run_name="traced") as run:
        with mlflow.start_span(name="agent", span_type=SpanType.AGENT) as root:
            root.set_inputs({"question": "What is MLflow?"})
            root.set_attributes({"temperature": 0.5, "retries": 3, "labels": ["a", "b"]})
            with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as ret:
                ret.set_inputs({"query": "mlflow"})
                ret.add_event(mlflow.entities.SpanEvent(name="cache_miss", attributes={"key": "mlflow", "n": 2}))
                ret.set_outputs([{"doc": "MLflow is a platform"}])
            with mlflow.start_span(name="tool", span_type=SpanType.TOOL) as tool:
                tool.set_inputs({"x": 1})
                tool.add_event(mlflow.entities.SpanEvent(name="tool_error", attributes={"why": "timeout"}))
                tool.set_status("ERROR")
            root.set_outputs({"answer": "a platform"})
            trace_id = root.trace_id
    client = mlflow.MlflowClient()
    client.set_trace_tag(trace_id, "team", "search")
    client.set_trace_tag(trace_id, "priority", "high")
    mlflow.log_feedback(
        trace_id=trace_id,
        name="relevance",
        value=0.75,
        rationale="mostly on topic",
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="alice"),
        metadata={"round": "1"},
        span_id=_span_id(client, trace_id, "retrieve"),
    )
    mlflow.log_expectation(
        trace_id=trace_id,
        name="expected_answer",
        value={"answer": "an ML platform"},
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="bob"),
    )
    trace_ids.append(trace_id)

    @mlflow.trace(name="plain")
    def plain(x):
        return x * 2

    # Made while a logged model is active: the trace names it (mlflow.modelId).
    active = mlflow.set_active_model(name="plain-agent")
    plain(21)
    mlflow.clear_active_model()
    trace_ids.append(mlflow.get_last_active_trace_id())

    @mlflow.trace(name="failing")
    def failing():
        raise ValueError("boom")

    try:
        failing()
    except ValueError:
        pass
    trace_ids.append(mlflow.get_last_active_trace_id())

    json.dump(
        {"experiment_id": exp.experiment_id, "run_id": run.info.run_id, "model_id": active.model_id, "trace_ids": trace_ids},
        real_stdout,
    )
    real_stdout.write("\n")
    real_stdout.flush()


def _span_id(client, trace_id, name):
    trace = client.get_trace(trace_id)
    return next(s.span_id for s in trace.data.spans if s.name == name)


if __name__ == "__main__":
    main()
