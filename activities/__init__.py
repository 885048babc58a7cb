"""Activities: every side effect the workflows need.

Each area keeps its activities in its own module exposing
``activities_for(db_url, client) -> list``; :data:`leadflow.cli.wiring.ACTIVITY_MODULES` lists them.
"""
