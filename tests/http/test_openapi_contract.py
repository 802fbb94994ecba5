"""The OpenAPI contract: the document the service serves is the committed snapshot, exactly.

Clients are generated from `/openapi.json`; any change to it (a schema, an operation, a
status, an example, a description) changes what they build. This test makes such a change
visible in review: the served document must equal `openapi.snapshot.json` beside this file
(canonical JSON: sorted keys, two-space indent, UTF-8).

To change the contract deliberately, rewrite the snapshot and commit it with the change
that caused it, so that the diff shows what clients will see:

    .venv/bin/python -m tests.http.test_openapi_contract

(it builds the app and writes the document it serves; no database is read). A refactoring
must leave the snapshot untouched.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


def canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def served_document(app: FastAPI) -> Any:
    # No lifespan (no `with`): the document needs no database.
    response = TestClient(app).get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_served_openapi_document_is_the_committed_snapshot(app: FastAPI) -> None:
    served = canonical(served_document(app))
    committed = SNAPSHOT.read_text(encoding="utf-8")
    # Compared as text, so that a failure shows the lines that differ.
    assert served.splitlines() == committed.splitlines()


def main() -> None:
    """Rewrite the snapshot from the document the app serves (see the module's docstring)."""
    from app.main import create_app
    from app.platform.settings import Settings

    # A file database: an in-memory one takes none of the pool options the app sets.
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'openapi.db'}"
        settings = Settings(database_url=url, webhook_dispatch=False)
        SNAPSHOT.write_text(canonical(served_document(create_app(settings))), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")


if __name__ == "__main__":
    main()
