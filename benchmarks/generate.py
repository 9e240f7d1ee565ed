"""Benchmark the synthetic export generator: time, MB written, peak RSS.

    uv run python benchmarks/generate.py [--applications 1000000] [--seed 7] [--out DIR] [--truth]

Writes into a temporary folder (removed afterwards) unless --out is given.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lineage.synthetic import generate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="keep the export here (default: a temporary folder, removed)")
    parser.add_argument("--truth", action="store_true", help="also write the ground-truth Parquet")
    args = parser.parse_args()

    tmp = None if args.out else Path(tempfile.mkdtemp(prefix="rl-generate-"))
    out = Path(args.out) if args.out else tmp / "export"
    truth = out.parent / f"{out.name}-truth.parquet" if args.truth else None
    start = time.perf_counter()
    result = generate(out, args.applications, seed=args.seed, truth=truth, replace=True)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime  # unlike wall time, not inflated by other processes
    print(result.summary())
    print(
        f"applications={args.applications:,} seconds={seconds:.1f} cpu_seconds={cpu:.1f} "
        f"apps_per_s={args.applications / seconds:,.0f} written_mb={result.bytes / 1e6:,.1f} "
        f"mb_per_s={result.bytes / 1e6 / seconds:,.1f} peak_rss_mb={peak_mb:,.0f}"
    )
    if tmp is not None:
        shutil.rmtree(tmp)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
