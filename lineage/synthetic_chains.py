"""Rerun trees for the synthetic export: who was rerun from whom, when, with what result.

A chain is built whole (it is small; the deep "rerun loop" chains are a few hundred applications), then
its realistic gaps are decided (root before the window, a missing middle, an absent rerun block, a parent
that does not list its rerun, a stale snapshot, a corrupt snapshot) and it is written and forgotten.
"""

from __future__ import annotations

import itertools
import random
import string
from dataclasses import dataclass, field

ALPHABET = string.digits + string.ascii_letters  # base62, as Alloy tokens
SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000

STATUSES = ("completed", "error", "pending_review", "pending_documents", "waiting", "running", "on_hold_kyc")
# weights are cumulative (random.choices(cum_weights=...) skips summing them on every call)
ROOT_WEIGHTS = tuple(itertools.accumulate((60, 16, 8, 5, 4, 6, 1)))
RESCUE_WEIGHTS = tuple(itertools.accumulate((55, 32, 5, 3, 2, 2, 1)))  # the rerun of an errored app
ERROR_ONLY = tuple(itertools.accumulate((0, 1, 0, 0, 0, 0, 0)))  # a rerun loop that keeps failing
OUTCOMES = ("Approved", "Denied", "Manual Review")
OUTCOME_WEIGHTS = tuple(itertools.accumulate((68, 20, 12)))
# (chance of being rerun at all, initiated_by api share) by the status of the application
RERUN_ODDS = {"error": (0.65, 0.8), "completed": (0.06, 0.1), "pending_review": (0.04, 0.3)}
OTHER_RERUN_ODDS = (0.02, 0.5)
MAX_NORMAL_DEPTH = 12
JOURNEYS = (  # token, name, version
    ("J-4fQw9LrT2xVb8NcK1mZs", "Consumer onboarding", 7),
    ("J-9hTg3WqE5yUi2OpA6sDf", "Small business onboarding", 3),
    ("J-2kLz8XcV4bNm7QwE1rTy", "Credit line increase", 12),
    ("J-7uIo1PaS3dFg6HjK9lZx", "Account reopening", 1),
)
JOURNEY_WEIGHTS = tuple(itertools.accumulate((55, 20, 15, 10)))


# 20 random bytes mapped onto base62 in C (bytes.translate): far faster than 20 choices, still seeded.
_BASE62 = bytes(ord(ALPHABET[i % 62]) for i in range(256))


def token(rng: random.Random, prefix: str) -> str:
    return prefix + rng.randbytes(20).translate(_BASE62).decode("ascii")


@dataclass(slots=True)
class App:
    token: str
    parent: int | None  # index in Chain.apps
    depth: int
    created_at: int
    done_at: int  # when its own processing last changed it
    status: str
    outcome: str | None
    initiated_by: str | None
    children: list[int] = field(default_factory=list)
    in_export: bool = True  # a valid snapshot of it is written
    has_block: bool = False  # its snapshot carries `_embedded.rerun`
    listed_by_parent: bool = True  # the parent's snapshot lists it in reruns[] (when the parent is written)
    corrupt: bool = False  # its only snapshot is written as a corrupt record
    stale: bool = False  # an older snapshot of it is also written, in another file


@dataclass(slots=True)
class Chain:
    apps: list[App]
    journey: tuple[str, str, int]
    group_id: str
    application_id: str
    shadow_key: str | None
    sandbox: bool
    deep: bool


def _status(rng: random.Random, weights: tuple[int, ...]) -> tuple[str, str | None]:
    status = rng.choices(STATUSES, cum_weights=weights)[0]
    if status != "completed":
        return status, None
    outcome = rng.choices(OUTCOMES, cum_weights=OUTCOME_WEIGHTS)[0]
    roll = rng.random()  # accounts configure their own outcome names: some shout, some whisper
    return status, outcome.upper() if roll < 0.04 else outcome.lower() if roll < 0.05 else outcome


def _duration(rng: random.Random, status: str) -> int:
    if status == "error":
        return rng.randint(5 * SECOND, 2 * MINUTE)
    return rng.randint(30 * SECOND, 20 * MINUTE)


def _new_app(rng: random.Random, parent: int | None, depth: int, created: int, weights, initiated_by) -> App:
    status, outcome = _status(rng, weights)
    return App(
        token(rng, "JA-"),
        parent,
        depth,
        created,
        created + _duration(rng, status),
        status,
        outcome,
        initiated_by,
    )


def build_chain(rng: random.Random, budget: int, start: int, end: int, deep_length: int = 0) -> Chain:
    """A rerun tree of at most `budget` applications, its root created in [start, end).

    deep_length > 0 makes a rerun loop: an integration rerunning an erroring application every few seconds.
    """
    journey = rng.choices(JOURNEYS, cum_weights=JOURNEY_WEIGHTS)[0]
    root = _new_app(rng, None, 0, rng.randrange(start, end), ROOT_WEIGHTS, None)
    apps = [root]
    if deep_length:
        root.status, root.outcome, root.done_at = "error", None, root.created_at + 7 * SECOND
        while len(apps) < min(deep_length, budget):
            prev = len(apps) - 1
            created = apps[prev].done_at + rng.randint(SECOND, 30 * SECOND)
            last = len(apps) == min(deep_length, budget) - 1
            app = _new_app(rng, prev, prev + 1, created, ROOT_WEIGHTS if last else ERROR_ONLY, "api")
            apps[prev].children.append(len(apps))
            apps.append(app)
    else:
        queue = [0]
        while queue and len(apps) < budget:
            i = queue.pop(0)
            app = apps[i]
            odds, api_share = RERUN_ODDS.get(app.status, OTHER_RERUN_ODDS)
            if app.depth >= MAX_NORMAL_DEPTH or rng.random() >= odds:
                continue
            siblings = 1 + (rng.random() < 0.12) + (rng.random() < 0.02)
            for _ in range(siblings):
                if len(apps) >= budget:
                    break
                by = "api" if rng.random() < api_share else "dashboard"
                gap = rng.randint(10 * SECOND, 6 * HOUR) if by == "api" else rng.randint(HOUR, 5 * DAY)
                weights = RESCUE_WEIGHTS if app.status == "error" else ROOT_WEIGHTS
                child = _new_app(rng, i, app.depth + 1, app.done_at + gap, weights, by)
                app.children.append(len(apps))
                queue.append(len(apps))
                apps.append(child)
    for app in apps[1:]:
        app.has_block = True
    shadow = rng.random()
    shadow_key = None
    if shadow < 0.03:
        shadow_key = rng.choice(("is_shadow_app", "is_shadow_application", "is_part_of_shadow_test"))
    return Chain(
        apps,
        journey,
        f"grp-{rng.randrange(10**7):07d}",
        f"app-{rng.randrange(10**8):08d}",
        shadow_key,
        rng.random() < 0.02,
        bool(deep_length),
    )


class Gaps:
    """Decides each chain's realistic gaps; the first chance of every kind is taken, so small exports hold
    each kind at least once."""

    def __init__(self, rng: random.Random, corrupt_rate: float):
        self.rng = rng
        self.corrupt_rate = corrupt_rate
        self.counts = {
            "root_outside": 0,
            "missing_middle": 0,
            "no_block": 0,
            "not_listed": 0,
            "stale": 0,
            "corrupt": 0,
        }

    def _take(self, kind: str, rate: float) -> bool:
        if self.counts[kind] == 0 or self.rng.random() < rate:
            self.counts[kind] += 1
            return True
        return False

    def apply(self, chain: Chain, window_start: int) -> None:
        apps, rng = chain.apps, self.rng
        if len(apps) > 1 and not chain.deep:
            if self._take("root_outside", 0.04):
                root = apps[0]
                shift = root.created_at - window_start + rng.randint(DAY, 60 * DAY)
                root.created_at -= shift
                root.done_at -= shift
                root.in_export = False
            middles = [a for a in apps if a.depth >= 1 and a.children]
            if middles and self._take("missing_middle", 0.05):
                rng.choice(middles).in_export = False
        for app in apps[1:] if not chain.deep else []:
            if not apps[app.parent].in_export:
                continue  # both gaps are about a parent whose snapshot is there
            if self._take("no_block", 0.03):
                app.has_block = False
            elif self._take("not_listed", 0.02):
                app.listed_by_parent = False
        for app in apps:
            if not app.in_export:
                continue
            if self.corrupt_rate and rng.random() < self.corrupt_rate and not self._protects_link(chain, app):
                app.corrupt, app.in_export = True, False
                self.counts["corrupt"] += 1
            elif self._take("stale", 0.06):
                app.stale = True

    @staticmethod
    def _protects_link(chain: Chain, app: App) -> bool:
        """A parent whose listing is a child's only link stays valid (as an absent rerun block promises)."""
        return any(not chain.apps[c].has_block for c in app.children)
