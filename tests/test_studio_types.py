"""The studio's API types (ui/src/schema.d.ts) are generated from /openapi.json and match it.

A route whose response shape changes without `cd ui && npm run gen:api` fails here, and the
studio's type check (`npm run build` runs tsc) then shows every page the change breaks.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from leadflow.api.openapi_dump import openapi_document

UI = Path(__file__).resolve().parents[1] / "ui"
GENERATOR = UI / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
COMMITTED = UI / "src" / "schema.d.ts"


def test_committed_studio_types_match_the_openapi_document(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not GENERATOR.is_file():
        if os.environ.get("LEADFLOW_REQUIRE_BROWSER"):
            pytest.fail("ui/node_modules is missing in CI: run `cd ui && npm ci` first")
        pytest.skip("Node.js or ui/node_modules is missing (cd ui && npm ci)")
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(openapi_document()), encoding="utf-8")
    generated = tmp_path / "schema.d.ts"
    result = subprocess.run([node, str(GENERATOR), str(document), "-o", str(generated)],
                            check=False, cwd=UI, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    want = generated.read_text(encoding="utf-8")
    have = COMMITTED.read_text(encoding="utf-8") if COMMITTED.is_file() else ""
    if have != want:
        diff = "".join(list(difflib.unified_diff(
            have.splitlines(keepends=True), want.splitlines(keepends=True),
            "ui/src/schema.d.ts (committed)", "generated from /openapi.json"))[:60])
        pytest.fail("The studio's API types are out of date with /openapi.json: run "
                    f"`cd ui && npm run gen:api` and commit ui/src/schema.d.ts.\n{diff}")


#: A call whose answer is typed by hand on the spot (``api<{ id: string }>(...)``,
#: ``useApi<Record<string, unknown>>(...)``) instead of by a type generated from /openapi.json.
HAND_TYPED_CALL = re.compile(r"\b(?:api|useApi)<\s*(?:\{|Record<)")


def test_studio_calls_read_the_generated_types() -> None:
    """Every API call of the studio names its answer's type from schema.d.ts (``Schemas[...]`` or
    an alias of it), so a response model's change reaches the pages through tsc."""
    hand_typed = [
        f"{path.relative_to(UI)}:{number}: {line.strip()}"
        for path in sorted((UI / "src").rglob("*.ts*")) if path.name != "schema.d.ts"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_TYPED_CALL.search(line)
    ]
    assert not hand_typed, "API answers typed by hand (use the generated Schemas[...] types):\n" + "\n".join(hand_typed)

