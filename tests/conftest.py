"""Shared fixtures: a fresh home folder per test, and a persistent DAGSTER_HOME is never touched."""

from pathlib import Path

import pytest

from lineage.warehouse import Home


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An empty home folder with an empty landing folder."""
    h = Home(tmp_path / "home").ensure()
    h.landing.mkdir(parents=True, exist_ok=True)
    return h
