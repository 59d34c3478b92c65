"""Every tool the model can call is documented, typed, bound by the server where it must be, and evaluated."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

from assistant.registry import default_tool_specs

REPO = Path(__file__).resolve().parents[2]
SERVER_BOUND = {
    "session",
    "practice_id",
    "user_id",
    "idempotency_key",
    "codesets",
    "knowledge_base",
    "out_dir",
    "inbox_dir",
}


def test_every_tool_has_a_docstring_typed_parameters_and_an_eval_case() -> None:
    cases = [
        json.loads(line) for line in (REPO / "evals/agent/requests.jsonl").read_text().splitlines() if line.strip()
    ]
    evaluated = {tool for case in cases for tool in case.get("expect_tools", [])}
    names = set()
    for spec in default_tool_specs():
        names.add(spec.name)
        assert len(spec.description) > 60, f"{spec.name}: the docstring is what the model reads"
        hints = typing.get_type_hints(spec.func)
        for parameter in inspect.signature(spec.func).parameters.values():
            assert parameter.name in hints, f"{spec.name}.{parameter.name} has no type"
            if parameter.name in SERVER_BOUND:
                assert parameter.kind is parameter.KEYWORD_ONLY, f"{spec.name}.{parameter.name} must be server-bound"
        schema = spec.args_schema().model_json_schema()
        assert not SERVER_BOUND & set(schema.get("properties", {})), spec.name
        assert spec.name in evaluated, f"{spec.name} has no case in evals/agent/requests.jsonl"
        if spec.access == "write":
            assert spec.describe is not None and spec.confirm_roles, spec.name
    assert len(names) == len(default_tool_specs()), "tool names are unique"
