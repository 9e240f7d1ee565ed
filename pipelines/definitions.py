"""The Dagster code location: the assets and checks found in pipelines/defs/, the landing sensor, the daily
schedule and the shared `lineage` resource.

Plain module discovery rather than the dg project machinery, so it loads the same from a wheel install
(no pyproject.toml beside it) as from the repo.
"""

import dagster as dg

import pipelines.defs
from pipelines.defs.resources import LineageResource
from pipelines.defs.schedules import daily_refresh
from pipelines.defs.sensors import landing_folder_sensor


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(pipelines.defs),
        asset_checks=dg.load_asset_checks_from_package_module(pipelines.defs),
        sensors=[landing_folder_sensor],
        schedules=[daily_refresh],
        resources={"lineage": LineageResource()},
    )
