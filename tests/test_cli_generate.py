"""`rerun-lineage generate` through a real subprocess: module entry point and the installed script."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "rerun-lineage"


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def tree(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "entry", [[sys.executable, "-m", "lineage"], [str(SCRIPT)]], ids=["module", "script"]
)
def test_generate(tmp_path, entry):
    out = tmp_path / "export"
    done = run(entry + ["generate", "--out", str(out), "--applications", "300", "--seed", "3"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "300 generated" in done.stdout and str(out) in done.stdout
    assert done.stderr == ""  # no progress lines for a small export
    files = tree(out)
    assert any(name.startswith("applications/") and name.endswith(".ndjson") for name in files)
    assert any(name.startswith("webhooks/") for name in files)
    if entry[0] == sys.executable:  # same seed through the CLI: the same bytes (once is enough)
        again = tmp_path / "again"
        done = run(
            entry + ["generate", "--out", str(again), "--applications", "300", "--seed", "3"], tmp_path
        )
        assert done.returncode == 0 and tree(again) == files


def test_generate_bad_fraction_zero(tmp_path):
    out = tmp_path / "clean"
    done = run(
        [str(SCRIPT), "generate", "--out", str(out), "--applications", "200", "--bad-fraction", "0"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert ", 0 bad" in done.stdout
    assert not any("partial" in name or "resend" in name for name in tree(out))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--applications", "0"], "at least 1"),
        (["--applications", "10", "--bad-fraction", "2"], "between 0 and 1"),
    ],
)
def test_generate_errors(tmp_path, args, message):
    done = run([sys.executable, "-m", "lineage", "generate", "--out", str(tmp_path / "x")] + args, tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_generate_refuses_to_mix_exports(tmp_path):
    out = tmp_path / "export"
    assert run([str(SCRIPT), "generate", "--out", str(out), "--applications", "20"], tmp_path).returncode == 0
    before = tree(out)
    done = run([str(SCRIPT), "generate", "--out", str(out), "--applications", "30"], tmp_path)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert "already holds a synthetic export" in done.stderr
    assert tree(out) == before
