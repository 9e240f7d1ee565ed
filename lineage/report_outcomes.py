"""Outcome names -> approval / denial / other: word-based, negation-aware, configurable per home.

Alloy outcome names are free text per account, so the reports classify each distinct name once (compared
case-insensitively) and join the answer back. The rules, first match wins:

1. `<home>/outcomes.toml` names it (whole name, any case): that class.
2. A word saying it is not decided yet (pending, awaiting, review, required, ...): other.
3. A negation word just before an approval word ("Not approved", "Non-approved"): denial;
   just before a denial word ("Not rejected"): other (neither reading is safe to guess).
4. Denial words and approval words both present: other (ambiguous); denial words only: denial;
   approval words only: approval.
5. Anything else: other.

`<home>/outcomes.toml` holds up to three lists of outcome names:

    approval = ["Cleared", "Go ahead"]
    denial = ["Stop"]
    other = ["Approved with conditions"]
"""

from __future__ import annotations

import re
import tomllib

import polars as pl

from lineage.errors import LineageError
from lineage.report_inputs import scan
from lineage.warehouse import Home

CONFIG_NAME = "outcomes.toml"
CLASSES = ("approval", "denial", "other")

APPROVAL_WORDS = frozenset({"approved", "approve", "approval", "accept", "accepted", "pass", "passed"})
DENIAL_WORDS = frozenset(
    {"denied", "deny", "denial", "declined", "decline", "rejected", "reject", "rejection", "fail", "failed"}
    | {"disapproved", "unapproved"}
)
UNDECIDED_WORDS = frozenset(
    {"pending", "awaiting", "await", "waiting", "review", "reviewed", "required", "requires", "hold"}
)
NEGATIONS = frozenset({"not", "non", "no", "never", "un"})
NEGATION_REACH = 2  # a negation counts when it is at most this many words before the word it negates
_WORD = re.compile(r"[a-z]+")


def classify(name: str, configured: dict[str, str] | None = None) -> tuple[str, str]:
    """(class, the rule that decided it) of one outcome name; see the module docstring for the rules."""
    key = name.strip().lower()
    if configured and key in configured:
        return configured[key], CONFIG_NAME
    words = _WORD.findall(key)
    for word in words:
        if word in UNDECIDED_WORDS:
            return "other", f"undecided word '{word}'"
    approvals, denials = [], []
    for i, word in enumerate(words):
        if word not in APPROVAL_WORDS and word not in DENIAL_WORDS:
            continue
        negated = any(w in NEGATIONS for w in words[max(0, i - NEGATION_REACH) : i])
        if word in APPROVAL_WORDS and negated:
            return "denial", f"negated '{word}'"
        if negated:
            return "other", f"negated '{word}'"
        (approvals if word in APPROVAL_WORDS else denials).append(word)
    if approvals and denials:
        return "other", f"both '{approvals[0]}' and '{denials[0]}'"
    if denials:
        return "denial", f"denial word '{denials[0]}'"
    if approvals:
        return "approval", f"approval word '{approvals[0]}'"
    return "other", "no approval or denial word"


def configured_classes(home: Home) -> dict[str, str]:
    """lower(name) -> class from <home>/outcomes.toml; {} when there is no such file."""
    path = home.root / CONFIG_NAME
    if not path.is_file():
        return {}
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LineageError(f"{path}: not valid TOML ({exc})") from None
    out: dict[str, str] = {}
    for cls, names in config.items():
        if cls not in CLASSES:
            raise LineageError(f"{path}: unknown class {cls!r}; use {', '.join(CLASSES)}")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise LineageError(f"{path}: {cls} must be a list of outcome names")
        for name in names:
            key = name.strip().lower()
            if out.get(key, cls) != cls:
                raise LineageError(f"{path}: {name!r} is listed as both {out[key]} and {cls}")
            out[key] = cls
    return out


def _distinct_outcomes(home: Home) -> list[str]:
    return (
        scan(home, "applications")
        .select(pl.col("complete_outcome").drop_nulls().unique())
        .collect()["complete_outcome"]
        .to_list()
    )


def class_map(home: Home) -> dict[str, str]:
    """lower(stripped outcome) -> class, for every outcome name in the export (few: names per account)."""
    configured = configured_classes(home)
    return {n.strip().lower(): classify(n, configured)[0] for n in _distinct_outcomes(home)}


def outcome_class(col: str, classes: dict[str, str]) -> pl.Expr:
    """'approval', 'denial', 'other' or 'none' (no outcome) of column `col`, by `class_map(home)`."""
    key = pl.col(col).str.strip_chars().str.to_lowercase()
    return (
        pl.when(key.is_null() | (key == ""))
        .then(pl.lit("none"))
        .otherwise(key.replace_strict(classes, default="other", return_dtype=pl.String))
    )


def outcome_classes(home: Home) -> pl.DataFrame:
    """How each outcome name, as spelled, was classified and by which rule, with how many applications
    carry it: check it, and correct it in <home>/outcomes.toml."""
    configured = configured_classes(home)
    spelled = (
        scan_outcomes(home)
        .group_by("outcome")
        .agg(pl.len().cast(pl.Int64).alias("applications"))
        .sort(["applications", "outcome"], descending=[True, False])
        .collect()
    )
    decided = [classify(n, configured) for n in spelled["outcome"].to_list()]
    return spelled.with_columns(
        pl.Series("outcome_class", [c for c, _ in decided], dtype=pl.String),
        pl.Series("decided_by", [r for _, r in decided], dtype=pl.String),
    )


def scan_outcomes(home: Home) -> pl.LazyFrame:
    """Every non-empty complete_outcome of the export, one row per application, as column `outcome`."""
    outcome = pl.col("complete_outcome")
    return (
        scan(home, "applications")
        .filter(outcome.is_not_null() & (outcome.str.strip_chars() != ""))
        .select(outcome.alias("outcome"))
    )
