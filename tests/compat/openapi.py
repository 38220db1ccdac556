"""Neon's published OpenAPI document (shipped by @neondatabase/api-client as public-v2-for-users.gen.yaml;
installed at test time, never committed) as a validator of recorded emulator answers.

OpenAPI 3.0 schemas are JSON Schema draft-4-like plus `nullable`; `to_json_schema` rewrites `nullable` into a
null type so `jsonschema`'s Draft4Validator checks them, and `$ref`s resolve inside the document."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import yaml

PREFIX = "/api/v2"
METHODS = ("get", "put", "post", "delete", "patch")
DOC_URI = "urn:neon:public-v2"


def to_json_schema(node: Any) -> Any:
    """The document with every `nullable: true` schema also accepting null, and every local `$ref` absolute
    (so a schema taken out of the document still resolves its references in it)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        out["$ref"] = DOC_URI + ref
    if out.pop("nullable", False) is True:
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out:
            return {"anyOf": [{"type": "null"}, out]}
    return out


def shape(path: str) -> str:
    """A path template with its parameter names erased: /projects/{project_id} -> /projects/{}."""
    return re.sub(r"\{[^}]+\}", "{}", path)


@dataclass(frozen=True)
class Record:
    method: str
    route: str  # the emulator's path template, with the /api/v2 prefix
    status: int
    body: Any


class NeonSpec:
    def __init__(self, path: Path) -> None:
        raw = yaml.safe_load(path.read_text())
        self.document: dict[str, Any] = to_json_schema(raw)
        resource = referencing.Resource.from_contents(
            self.document, default_specification=referencing.jsonschema.DRAFT4
        )
        self._registry: referencing.Registry[Any] = referencing.Registry().with_resource(DOC_URI, resource)
        self._operations: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for template, item in self.document["paths"].items():
            for method in METHODS:
                if method in item:
                    self._operations[(method.upper(), shape(template))] = (template, item[method])

    def routes(self) -> set[tuple[str, str]]:
        """Every (METHOD, path template) of the document."""
        return {(method, template) for (method, _), (template, _op) in self._operations.items()}

    def operation(self, method: str, route: str) -> tuple[str, dict[str, Any]] | None:
        """The document's (template, operation) for an emulator route, by method and path shape."""
        return self._operations.get((method, shape(route.removeprefix(PREFIX))))

    def response_schema(self, operation: dict[str, Any], status: int) -> tuple[str, Any] | None:
        """(response key, JSON schema) documented for this status; schema None for a body-less answer."""
        responses = {str(code): answer for code, answer in operation.get("responses", {}).items()}
        key = str(status) if str(status) in responses else "default" if "default" in responses else None
        if key is None:
            return None
        response = self._deref(responses[key])
        content = response.get("content", {}).get("application/json")
        return key, (content or {}).get("schema")

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: dict[str, Any] = self._registry.resolver().lookup(node["$ref"]).contents
            node = target
        return node

    def errors(self, record: Record) -> list[str]:
        """What is wrong with one recorded answer, as messages naming route, status and field."""
        where = f"{record.method} {record.route} {record.status}"
        found = self.operation(record.method, record.route)
        if found is None:
            return [f"{where}: not a route of Neon's document"]
        _template, operation = found
        documented = self.response_schema(operation, record.status)
        if documented is None:
            return [f"{where}: status not documented for this route"]
        key, schema = documented
        if schema is None:
            return [] if record.body is None else [f"{where}: documented without a body ({key}), has one"]
        if record.body is None:
            return [f"{where}: documented with a body ({key}), answered none"]
        validator = jsonschema.Draft4Validator(schema, registry=self._registry)
        return [
            f"{where} ({key}): {'/'.join(str(p) for p in error.absolute_path) or '<body>'}: {error.message}"
            for error in validator.iter_errors(record.body)
        ]


def check_all(spec: NeonSpec, records: Iterable[Record]) -> dict[str, int]:
    """Distinct problems over all records, each with how many answers showed it."""
    problems: dict[str, int] = {}
    for record in records:
        for message in spec.errors(record):
            problems[message] = problems.get(message, 0) + 1
    return problems
