"""The one resource every asset, check and sensor shares: where the home is, and the check thresholds."""

import sys
from pathlib import Path

import dagster as dg

from lineage.warehouse import Home, resolve_home


class LineageResource(dg.ConfigurableResource):
    """The rerun-lineage home (`""` = $RERUN_LINEAGE_HOME, else ./rerun_home), resolved when a run starts."""

    home: str = ""
    landing: str = ""  # "" = <home>/landing
    rebuild: bool = False  # forget what was ingested and read every file again
    echo: bool = False  # one progress line per asset on stderr (the CLI sets it)
    max_reject_rate: float = 0.05
    max_root_conflict_rate: float = 0.01
    max_broken_chain_rate: float = 0.05

    def get_home(self) -> Home:
        return resolve_home(self.home or None).ensure()

    def landing_path(self) -> Path:
        if self.landing:
            return Path(self.landing).expanduser().resolve()
        return resolve_home(self.home or None).landing

    def say(self, message: str) -> None:
        if self.echo:
            print(f"  {message}", file=sys.stderr, flush=True)

