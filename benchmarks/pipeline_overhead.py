"""What Dagster costs on top of the library: the same export run both ways, on fresh homes.

    uv run python benchmarks/pipeline_overhead.py                    # 20,000 applications
    uv run python benchmarks/pipeline_overhead.py --applications 2000

`library`: lineage.ingest → chains → every report → HTML → warehouse, called directly.
`dagster`: pipelines.runner.run_pipeline (every asset and check, in process, persistent instance),
first on a fresh home, then again with nothing changed (no file read again).
Each variant runs in its own subprocess, so imports are counted as a user would feel them.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARY = """
import sys, time
from pathlib import Path
t = time.monotonic()
from lineage import chains, ingest, reports
from lineage.warehouse import Home, publish_warehouse
home = Home(Path(sys.argv[1])).ensure()
ingest.ingest(home, log=lambda m: None)
chains.build_rerun_edges(home); chains.build_rerun_chains(home); chains.build_chain_summary(home)
for name in reports.REPORT_TABLES:
    reports.build_report(home, name)
reports.build_html_report(home)
publish_warehouse(home)
print(time.monotonic() - t)
"""

DAGSTER = """
import sys, time
from pathlib import Path
t = time.monotonic()
from lineage.warehouse import Home
from pipelines.runner import run_pipeline
home = Home(Path(sys.argv[1]))
summary = run_pipeline(home, home.landing)
print(time.monotonic() - t, summary.seconds)
"""


def _timed(code: str, home: Path) -> list[float]:
    done = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True)
    return [float(x) for x in done.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from lineage import synthetic

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export"
        synthetic.generate(export, args.applications, seed=args.seed)
        homes = {}
        for name in ("library", "dagster"):
            homes[name] = Path(tmp) / name
            homes[name].mkdir()
            (homes[name] / "landing").symlink_to(export, target_is_directory=True)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
        started = time.monotonic()
        [library] = _timed(LIBRARY, homes["library"])
        first, first_inner = _timed(DAGSTER, homes["dagster"])
        again, again_inner = _timed(DAGSTER, homes["dagster"])
        import pyarrow.parquet as pq

        rows = {n: pq.read_metadata(h / "parquet" / "rerun_chains" / "data.parquet").num_rows
                for n, h in homes.items()}
        assert rows["library"] == rows["dagster"], rows  # both ways built the same chains
        print(f"applications: {args.applications:,} (rerun_chains rows: {rows['dagster']:,}, same both ways)")
        print(f"library directly:          {library:7.1f} s (process, imports included)")
        print(f"run_pipeline, fresh home:  {first:7.1f} s (run itself {first_inner:.1f} s)")
        print(f"run_pipeline, no changes:  {again:7.1f} s (run itself {again_inner:.1f} s)")
        print(f"Dagster overhead:          {first - library:7.1f} s on a fresh home "
              f"({first / library:.2f}x the library)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print(f"(benchmark wall time {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
