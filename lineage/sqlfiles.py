"""Find and load the SQL files of `sql/`: shipped inside the wheel as lineage/sql, or the repo's sql/."""

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def sql_dir() -> Path:
    for candidate in (_HERE / "sql", _HERE.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the sql/ folder of rerun-lineage is missing from this installation")


def load_sql(name: str) -> str:
    """The text of sql/<name>.sql."""
    return (sql_dir() / f"{name}.sql").read_text()
