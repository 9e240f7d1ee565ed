"""Made-up personal data for the synthetic export: applicants, entity payloads and `application_meta`.

Every value is invented from the lists below, but it looks like the real thing on purpose, so tests can
prove that none of it ever reaches a table, a report or a log (`PII_FIELDS`, `pii_values`).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path

FIRST_NAMES = (
    "Amelia",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Esther",
    "Farid",
    "Greta",
    "Hector",
    "Ines",
    "Jonah",
    "Keiko",
    "Lucas",
    "Marisol",
    "Nnamdi",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosalind",
    "Soren",
    "Talia",
    "Umberto",
    "Valeria",
    "Wendell",
    "Ximena",
    "Yusuf",
    "Zelda",
)
LAST_NAMES = (
    "Abernathy",
    "Brightwater",
    "Castellano",
    "Dunmore",
    "Eriksdottir",
    "Fairbanks",
    "Galloway",
    "Hollingsworth",
    "Ivanova",
    "Jaramillo",
    "Kowalczyk",
    "Lindqvist",
    "Montgomery",
    "Nakashima",
    "Okonkwo",
    "Pemberton",
    "Quintero",
    "Rasmussen",
    "Stavropoulos",
    "Thornbury",
    "Underhill",
    "Vasquez-Reyes",
    "Whitcombe",
    "Yamamoto",
    "Zielinski",
)
STREETS = ("Maple Ave", "Harbor St", "Quarry Rd", "Elm Court", "Juniper Way", "Lakeview Dr", "Orchard Ln")
CITIES = ("Springfield", "Riverton", "Fairview", "Greenville", "Lakeside", "Brookhaven", "Millbrook")

# Keys whose values are personal data wherever they appear (child_entities items, application_meta).
PII_FIELDS = (
    "name_first",
    "name_last",
    "birth_date",
    "document_ssn",
    "email_address",
    "phone_number",
    "address_line_1",
    "address_city",
    "address_postal_code",
    "applicant_full_name",
    "applicant_email",
    "applicant_phone",
    "notes",
)
# Containers that hold only personal data: nothing under them may leave the landing folder.
PII_CONTAINERS = ("child_entities", "application_meta")


def person(rng: random.Random, entity_token: str) -> dict:
    """One `_embedded.child_entities[]` item: a made-up person."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "entity_token": entity_token,
        "name_first": first,
        "name_last": last,
        "birth_date": f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "document_ssn": f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "email_address": f"{first}.{last}{rng.randint(1, 999)}@example.test".lower(),
        "phone_number": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "address_line_1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "address_city": rng.choice(CITIES),
        "address_postal_code": f"{rng.randint(10000, 99999)}",
    }


def application_meta(rng: random.Random, applicant: dict) -> dict:
    """`application_meta`: free-form personal values an integration attached to the application."""
    return {
        "applicant_full_name": f"{applicant['name_first']} {applicant['name_last']}",
        "applicant_email": applicant["email_address"],
        "applicant_phone": applicant["phone_number"],
        "notes": f"called {applicant['name_first']} about {rng.choice(('income', 'address', 'ID scan'))}",
        "channel": rng.choice(("web", "mobile", "branch")),
    }


def _records(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            if path.name.removesuffix(".gz").endswith(".json"):
                items = json.load(fh)
                yield from (r for r in (items if isinstance(items, list) else [items]) if isinstance(r, dict))
                return
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec
    except (OSError, EOFError, ValueError):  # truncated or broken files hold nothing more to scan
        return


def pii_values(out: Path) -> set[str]:
    """Every personal value written in the export under `out`, for tests that scan outputs for leaks.

    Reads the files back (small exports only: this builds a set in memory).
    """
    found: set[str] = set()
    for path in sorted(Path(out).rglob("*")):
        if not path.is_file() or not path.name.endswith(
            (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
        ):
            continue
        for rec in _records(path):
            emb = rec.get("_embedded") if isinstance(rec.get("_embedded"), dict) else {}
            holders = list(emb.get("child_entities") or []) + [rec.get("application_meta") or {}]
            for holder in holders:
                if isinstance(holder, dict):
                    found.update(str(v) for k, v in holder.items() if k in PII_FIELDS and v)
    return found
