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


DEMO_SIZE = 300


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home made by the real `rerun-lineage demo` (subprocess) on a small export, shared read-only by tests.

    Tests that change a home must make their own; this one is reused across modules of one worker.
    """
    import os
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("demo") / "home"
    env = {**os.environ, "RERUN_LINEAGE_HOME": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "lineage", "demo", "--applications", str(DEMO_SIZE), "--seed", "11"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, f"demo failed:\n{done.stdout}\n{done.stderr}"
    return Home(root)
