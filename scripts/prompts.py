"""Seeds and reads back prompts (prompt registry) with the official MLflow client.

    prompts.py seed --tracking-uri URL --prefix P   -> {"prompts": [names]}
    prompts.py dump --tracking-uri URL --names A,B  -> {name: the prompt as the client sees it}

`seed` makes a text prompt (versions 1, 2, 4: version 3 deleted, so numbers have a gap; a
response format, a model config, version tags, commit messages, aliases, a description and
prompt tags) and a chat prompt (two versions, non-ASCII text, an alias).
"""

import argparse
import json
import os
import sys

import mlflow
import mlflow.genai
from mlflow import MlflowClient


def seed(prefix):
    client = MlflowClient()
    text, chat = f"{prefix}-text", f"{prefix}-chat"
    mlflow.genai.register_prompt(text, "Hello {{name}}!", commit_message="first", tags={"team": "a"})
    mlflow.genai.register_prompt(
        text,
        "Hello {{ name }}, answer {{question}}.",
        commit_message="second",
        tags={"team": "b", "reviewed": "yes"},
        response_format={"type": "object", "properties": {"answer": {"type": "string"}}},
    )
    mlflow.genai.register_prompt(text, "to be deleted", commit_message="third")
    mlflow.genai.register_prompt(
        text,
        "Hi {{name}}",
        commit_message="fourth",
        model_config={"model_name": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 100},
    )
    client.delete_prompt_version(text, "3")
    mlflow.genai.set_prompt_alias(text, "production", 2)
    mlflow.genai.set_prompt_alias(text, "champion", 4)
    mlflow.genai.set_prompt_tag(text, "owner", "search-team")
    # The client refuses `update_registered_model` on a prompt; its registry client does not.
    client._get_registry_client().update_registered_model(text, description="Greets people")

    messages = [
        {"role": "system", "content": "You are {{style}}."},
        {"role": "user", "content": "{{question}} — ünïcode"},
    ]
    mlflow.genai.register_prompt(chat, messages, commit_message="chat one")
    mlflow.genai.register_prompt(chat, messages + [{"role": "assistant", "content": "ok"}], commit_message="chat two")
    mlflow.genai.set_prompt_alias(chat, "prod", 1)
    return {"prompts": [text, chat]}


def dump(name):
    client = MlflowClient()
    prompt = client.get_prompt(name)
    # The client's registered-model calls refuse prompts; its registry client shows the rows.
    registry = client._get_registry_client()
    rm = registry.get_registered_model(name)
    filt = f"name = '{name}' AND tags.`mlflow.prompt.is_prompt` = 'true'"
    numbers = sorted(int(v.version) for v in registry.search_model_versions(filt))
    versions = []
    for n in numbers:
        pv = mlflow.genai.load_prompt(name, n)
        mv = registry.get_model_version(name, str(n))
        versions.append({
            "version": str(pv.version),
            "template": pv.template,
            "is_text": pv.is_text_prompt,
            "response_format": pv.response_format,
            "model_config": pv.model_config,
            "tags": pv.tags,
            "commit_message": pv.commit_message,
            "raw_tags": dict(mv.tags),
            "aliases": sorted(pv.aliases),
        })
    listed = [p.name for p in mlflow.genai.search_prompts(f"name = '{name}'")]
    return {
        "name": prompt.name,
        "description": prompt.description,
        "tags": prompt.tags,
        "aliases": {a: str(v) for a, v in sorted(rm.aliases.items())},
        "listed": listed,
        "versions": versions,
    }


def main():
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["seed", "dump"])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--prefix")
    parser.add_argument("--names")
    args = parser.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    if args.action == "seed":
        out = seed(args.prefix)
    else:
        out = {name: dump(name) for name in args.names.split(",")}
    real_stdout.write(json.dumps(out, sort_keys=True) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
