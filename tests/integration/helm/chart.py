"""The Helm chart as tests use it: render it with values through the real helm CLI, read the manifests back,
and ask the apiserver what the chart's ServiceAccount may do."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.tools import REPO_ROOT, tool_path, versions

CHART_DIR = REPO_ROOT / "charts" / "neon-checkpoints"
HELM_TIMEOUT = 60.0
# Render for the local apiserver's version: a helm built without helm's own ldflags assumes Kubernetes 1.20.
KUBE_VERSION = versions()["KUBE_VERSION"]


def helm_or_skip() -> Path:
    helm = tool_path("helm", "helm")
    if not helm.is_file():
        pytest.skip(f"helm not built yet ({helm}): run `hack/build-tools.sh helm`")
    return helm


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, check=check, timeout=HELM_TIMEOUT
        )

    def template(
        self,
        values: Mapping[str, Any],
        *,
        release: str,
        namespace: str,
        include_crds: bool = False,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values_file:
            yaml.safe_dump(dict(values), values_file)
            values_file.flush()
            extra = ["--include-crds"] if include_crds else []
            return self.run(
                "template",
                release,
                str(CHART_DIR),
                "--namespace",
                namespace,
                "--kube-version",
                KUBE_VERSION,
                "--values",
                values_file.name,
                *extra,
                check=check,
            )

    def lint(self, values: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values_file:
            yaml.safe_dump(dict(values or {}), values_file)
            values_file.flush()
            return self.run(
                "lint",
                "--strict",
                str(CHART_DIR),
                "--kube-version",
                KUBE_VERSION,
                "--values",
                values_file.name,
                check=False,
            )


def manifests(rendered: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name):
            yield doc


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"
