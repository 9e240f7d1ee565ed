"""The `rerun-lineage` command line (CONTRACT §4).

Dagster is imported only inside `run` and `demo`, so `chain`, `sql` and `generate` start fast.
Fatal errors are one line on stderr and a non-zero exit; set RERUN_LINEAGE_DEBUG=1 for tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lineage.errors import LineageError
from lineage.warehouse import Home, resolve_home

DEMO_APPLICATIONS = 2_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rerun-lineage",
        description="Rerun lineage for Alloy Journey Applications: ingest, chains, reports.",
    )
    parser.add_argument("--home", help="home folder (default: $RERUN_LINEAGE_HOME, else ./rerun_home)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    home_opt = argparse.ArgumentParser(add_help=False)
    home_opt.add_argument("--home", default=argparse.SUPPRESS, help="home folder")

    demo = sub.add_parser("demo", parents=[home_opt], help="generate a synthetic export and run everything")
    demo.add_argument("--applications", type=int, default=DEMO_APPLICATIONS, metavar="N")
    demo.add_argument("--seed", type=int, default=7, metavar="S")

    run = sub.add_parser("run", parents=[home_opt], help="materialize every asset through Dagster")
    run.add_argument("--landing", help="landing folder (default: <home>/landing)")
    run.add_argument("--rebuild", action="store_true", help="forget what was ingested and start from scratch")

    chain = sub.add_parser("chain", parents=[home_opt], help="print the chain of an application as a tree")
    chain.add_argument("token", metavar="TOKEN")

    gen = sub.add_parser("generate", parents=[home_opt], help="write a synthetic export")
    gen.add_argument("--out", required=True, metavar="DIR")
    gen.add_argument("--applications", type=int, required=True, metavar="N")
    gen.add_argument("--seed", type=int, default=7, metavar="S")
    gen.add_argument("--bad-fraction", type=float, default=0.002, metavar="F")

    sql = sub.add_parser("sql", parents=[home_opt], help="query the warehouse read-only, or open a shell")
    sql.add_argument("query", nargs="?", metavar="QUERY")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    return parser


def _landing(home: Home, landing: str | None) -> Path:
    path = Path(landing).expanduser().resolve() if landing else home.landing
    if not path.is_dir():
        raise LineageError(f"no such landing folder: {path}")
    return path


def _cmd_generate(args: argparse.Namespace, home: Home) -> None:
    from lineage import synthetic

    if args.applications < 1:
        raise LineageError("--applications must be at least 1")
    if not 0.0 <= args.bad_fraction <= 1.0:
        raise LineageError("--bad-fraction must be between 0 and 1")
    result = synthetic.generate(
        Path(args.out), args.applications, seed=args.seed, bad_fraction=args.bad_fraction
    )
    print(result.summary())


def _cmd_run(args: argparse.Namespace, home: Home) -> None:
    from pipelines.runner import run_pipeline

    home.ensure()
    print(run_pipeline(home, _landing(home, args.landing), rebuild=args.rebuild).summary())


def _cmd_demo(args: argparse.Namespace, home: Home) -> None:
    from lineage import reports, synthetic
    from pipelines.runner import run_pipeline

    if args.applications < 1:
        raise LineageError("--applications must be at least 1")
    if theirs := synthetic.foreign_files(home.landing):  # never mix made-up data into a real export
        raise LineageError(f"{home.landing} holds files of its own ({theirs[0]}, ...); the demo writes a "
                           "synthetic export there: use another --home")
    home.ensure()
    print(f"demo: writing a synthetic export of {args.applications:,} applications to {home.landing}",
          file=sys.stderr)
    synthetic.generate(home.landing, args.applications, seed=args.seed, replace=True)
    print(run_pipeline(home, home.landing).summary())
    print(reports.headline_text(home))


def _cmd_chain(args: argparse.Namespace, home: Home) -> None:
    from lineage import chains

    print(chains.format_chain(home, args.token))


def _cmd_sql(args: argparse.Namespace, home: Home) -> None:
    from lineage import sqlshell

    if args.query is None:
        sqlshell.open_shell(home)
    else:
        sqlshell.run_query(home, args.query, csv=args.csv)


COMMANDS = {
    "demo": _cmd_demo,
    "run": _cmd_run,
    "chain": _cmd_chain,
    "generate": _cmd_generate,
    "sql": _cmd_sql,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        COMMANDS[args.command](args, resolve_home(args.home))
    except LineageError as exc:
        print(f"rerun-lineage: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rerun-lineage: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless debugging
        if os.environ.get("RERUN_LINEAGE_DEBUG"):
            raise
        print(f"rerun-lineage: internal error: {type(exc).__name__}: {exc} "
              "(set RERUN_LINEAGE_DEBUG=1 for details)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
