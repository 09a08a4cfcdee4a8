"""Options for the chart tests: --helm=PATH (the helm binary) and --chart-pgmask=PATH (optional: the
binary whose config and policy parsing the rendered files must pass)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--helm", default=os.environ.get("PGMASK_HELM", "/opt/pgmask-tools/helm/helm"),
                     help="path of the helm binary (default: /opt/pgmask-tools/helm/helm)")
    parser.addoption("--chart-pgmask", default=os.environ.get("PGMASK_BIN"),
                     help="path of the pgmask binary that must accept the rendered files")


@pytest.fixture(scope="session")
def helm_bin(request: pytest.FixtureRequest) -> Path:
    path = Path(request.config.getoption("--helm"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise pytest.UsageError(f"helm binary {path} is missing: run scripts/setup")
    return path


@pytest.fixture(scope="session")
def pgmask_bin(request: pytest.FixtureRequest) -> Path | None:
    value = request.config.getoption("--chart-pgmask")
    return Path(value) if value else None
