"""Print the API's OpenAPI document without starting a server or touching a database.

``python -m leadflow.api.openapi_dump > openapi.json``. The studio generates its API types from
it (``cd ui && npm run gen:api``), so the document depends on the code only, never on the
environment: settings are the test ones, and nothing connects anywhere.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["openapi_document"]


def openapi_document() -> dict[str, Any]:
    """The document ``GET /openapi.json`` serves."""
    from leadflow.api.main import create_app
    from leadflow.config import Settings

    # env "test": no secret is needed to describe the routes, and none is read
    app = create_app(Settings(env="test", database_url="sqlite://"))
    return app.openapi()


def main() -> None:
    json.dump(openapi_document(), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
