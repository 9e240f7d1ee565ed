"""Alloy-shaped records of one synthetic chain: snapshots (current and stale), events, webhook deliveries.

Field names follow docs/export-shapes.md. Events are made once per chain and shared by the snapshot, the
webhooks and the bare event files, so every source tells the same story.
"""

from __future__ import annotations

import random

from lineage.synthetic_chains import DAY, MINUTE, SECOND, App, Chain, token
from lineage.synthetic_people import application_meta, person

NODE_TYPES = ("Workflow", "Review", "Wait", "Outcome", "Service")
TITLES = {
    "completed": None,
    "error": "Error",
    "pending_review": "Pending Review",
    "pending_documents": "Pending Documents",
    "waiting": "Waiting",
    "running": "Running",
}


def _event(rng: random.Random, app_token: str, type_: str, ts: int, **fields) -> dict:
    ev = {"journey_application_event_token": token(rng, "JAE-")}
    if rng.random() < 0.5:  # Alloy's own example carries no token inside `_embedded.events[]`
        ev["journey_application_token"] = app_token
    ev.update(
        type=type_,
        timestamp=ts,
        outcome=fields.get("outcome"),
        entity_token=fields.get("entity_token"),
        entity_application_token=fields.get("ea"),
        rerun_journey_application_token=fields.get("rerun"),
        # where Alloy puts the node an event happened at
        _embedded={"node": {"id": None, "name": None, "type": fields.get("node_type")}},
        _links={},
    )
    return ev


class ChainRecords:
    """Everything written about one chain, built from its tree."""

    def __init__(self, rng: random.Random, chain: Chain):
        self.rng, self.chain = rng, chain
        n_people = 1 + (rng.random() < 0.15)
        self.people = [person(rng, token(rng, "P-")) for _ in range(n_people)]
        self.meta = application_meta(rng, self.people[0])
        self.entity_apps = [[token(rng, "EA-") for _ in self.people] for _ in chain.apps]
        self.events = [self._own_events(i, app) for i, app in enumerate(chain.apps)]
        for app in chain.apps[1:]:  # the rerun event lands on the previous and on the root (once if same)
            for carrier in [app.parent, 0] if app.parent != 0 else [0]:
                self.events[carrier].append(
                    _event(
                        rng,
                        chain.apps[carrier].token,
                        "started_rerun_application",
                        app.created_at,
                        rerun=app.token,
                    )
                )
        for evs in self.events:
            evs.sort(key=lambda e: e["timestamp"])
        self.updated_at = [
            max(app.done_at, evs[-1]["timestamp"]) for app, evs in zip(chain.apps, self.events, strict=True)
        ]

    def _own_events(self, i: int, app: App) -> list[dict]:
        rng, t = self.rng, app.created_at
        evs = [_event(rng, app.token, "application_created", t)]
        for k, (ea, who) in enumerate(zip(self.entity_apps[i], self.people, strict=True)):
            evs.append(
                _event(
                    rng,
                    app.token,
                    "entity_application_created",
                    t + 10 + k,
                    entity_token=who["entity_token"],
                    ea=ea,
                )
            )
        span = app.done_at - t
        for k in range(rng.randint(1, 3)):
            evs.append(
                _event(
                    rng,
                    app.token,
                    "node_completed",
                    t + 100 + (k + 1) * span // 5,
                    node_type=rng.choice(NODE_TYPES),
                )
            )
        if rng.random() < 0.01:  # event types are an open set
            evs.append(_event(rng, app.token, "custom_step_executed", t + 50))
        final = {"completed": "application_completed", "error": "application_errored"}.get(
            app.status, "status_updated"
        )
        evs.append(_event(rng, app.token, final, app.done_at, outcome=app.outcome))
        return evs

    def snapshot(self, i: int, as_of: int | None = None) -> dict:
        """The snapshot of application i; `as_of` makes a stale one, as Alloy showed it at that time."""
        rng, chain, app = self.rng, self.chain, self.chain.apps[i]
        stale = as_of is not None
        status, outcome = ("running", None) if stale else (app.status, app.outcome)
        closed = app.done_at if status in ("completed", "error") else None
        version = chain.journey[2] if rng.random() < 0.9 else str(chain.journey[2])
        rec = {
            "journey_application_token": app.token,
            "journey_token": chain.journey[0],
            "journey_version_num": version,
            "status": status,
            "complete_outcome": outcome,
            "journey_application_status": outcome or TITLES.get(status, status.replace("_", " ").title()),
            "created_at": app.created_at,
            "updated_at": as_of if stale else self.updated_at[i],
            "closed_at": closed,
            "is_rerun": app.parent is not None,
            "external_application_id": chain.application_id,
            "external_group_id": chain.group_id,
            "sandbox": chain.sandbox if rng.random() > 0.002 else str(chain.sandbox).lower(),
            "is_archived": False,
            chain.shadow_key or "is_shadow_app": chain.shadow_key is not None,
            "application_meta": self.meta,
        }
        emb: dict = {
            "journey": {
                "journey_token": chain.journey[0],
                "journey_name": chain.journey[1],
                "journey_version_num": chain.journey[2],
            }
        }
        if app.has_block:
            root = chain.apps[0]
            emb["rerun"] = {
                "initiated_by": app.initiated_by,
                "previous_journey_application_token": chain.apps[app.parent].token,
                "root_journey_application_token": root.token,
                "root_external_group_id": chain.group_id,
            }
        limit = as_of if stale else 1 << 62
        emb["reruns"] = [
            {
                "initiated_by": c.initiated_by,
                "next_journey_application_token": c.token,
                "created_at": c.created_at,
            }
            for c in (chain.apps[k] for k in app.children)
            if c.listed_by_parent and c.created_at <= limit
        ]
        emb["events"] = [e for e in self.events[i] if e["timestamp"] <= limit]
        emb["entity_applications"] = [
            {
                "entity_application_token": ea,
                "entity_token": who["entity_token"],
                "status": "completed" if status == "completed" else "pending",
            }
            for ea, who in zip(self.entity_apps[i], self.people, strict=True)
        ]
        emb["child_entities"] = self.people
        rec["_embedded"] = emb
        return rec

    def stale_time(self, i: int) -> int:
        app = self.chain.apps[i]
        return app.created_at + self.rng.randint(SECOND, max(SECOND, (app.done_at - app.created_at) // 2))

    def webhook(self, i: int, ev: dict, delivered_at: int) -> dict:
        app = self.chain.apps[i]
        data = {
            "journey_application_token": app.token,
            "journey_token": self.chain.journey[0],
            "type": ev["type"],
            "timestamp": ev["timestamp"],
            "rerun_journey_application_token": ev["rerun_journey_application_token"],
            "entity_application_token": ev["entity_application_token"],
            "outcome": ev["outcome"],
            "_embedded": ev["_embedded"],
        }
        return {
            "request_token": token(self.rng, "R-"),
            "timestamp": delivered_at,
            "type": "journey_application_event",
            "description": f"Journey application event: {ev['type']}",
            "data": data,
        }

    def bare_event(self, i: int, ev: dict) -> dict:
        return {**ev, "journey_application_token": self.chain.apps[i].token}

    def deliveries(self, i: int, ev: dict) -> list[int]:
        """Delivery times of one event's webhook: usually once, sometimes retried later, sometimes lost."""
        rng = self.rng
        chance = 0.92 if ev["type"] == "started_rerun_application" else 0.25
        if rng.random() >= chance:
            return []
        first = ev["timestamp"] + rng.randint(100, 30 * SECOND)
        times = [first]
        while rng.random() < 0.05 and len(times) < 4:
            times.append(times[-1] + rng.randint(MINUTE, DAY // 24))
        return times
