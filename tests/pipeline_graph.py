"""The asset graph of pipelines.definitions as plain data, for the snapshot test (tests/snapshots/)."""

import dagster as dg


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        node = graph.get(spec.key)
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "kinds": sorted(spec.kinds),
            "pools": sorted(node.pools or ()),
            "has_description": bool(spec.description),
        }
    checks = []
    for key in graph.asset_check_keys:
        check = graph.get_check_spec(key)
        checks.append({"asset": key.asset_key.to_user_string(), "name": key.name, "blocking": check.blocking})
    return {
        "assets": assets,
        "checks": sorted(checks, key=lambda c: (c["asset"], c["name"])),
        "sensors": sorted(s.name for s in defs.sensors),
        "schedules": sorted(f"{s.name} {s.cron_schedule} {s.execution_timezone}" for s in defs.schedules),
        "resources": sorted(defs.resources),
    }
