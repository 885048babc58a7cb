"""Activities: every side effect the workflows need.

Each area keeps its activities in its own module exposing
``activities_for(db_url, client) -> list``; :func:`leadflow.cli.wiring.activities_for` lists them.
"""
