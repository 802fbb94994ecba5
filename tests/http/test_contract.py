"""The OpenAPI document is a contract the service keeps: schemathesis, against the document a
live server serves, in every phase (examples, coverage, fuzzing, stateful) and with the checks
that matter to a client, finds nothing in a bounded run."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from app.access import keys
from app.main import create_app
from app.platform.db import Database
from app.platform.settings import Settings
from tests.server_support import logging_restored, served
from tests.webhooks_support import Organisation

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
# The budget: examples per operation and phase, and a seed, so that a run is the same each time
# and takes well under a minute on a 2-core machine.
MAX_EXAMPLES = 10
SEED = 11


def test_schemathesis_finds_nothing_against_the_served_document(
    settings: Settings, engine: Engine, organisation: Organisation, tmp_path: Path
) -> None:
    # An organisation of its own: what the run creates (and erases) is out of other tests' way,
    # and the alerts it raises are cancelled at the end, undelivered.
    key = keys.create_key(
        Database(engine), organisation.id, "contract", keys.SCOPES, None, datetime.now(UTC)
    )["key"]
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0})
    with logging_restored(), served(lambda: create_app(unlimited)) as url:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")), "run",
                f"{url}/openapi.json",
                "--phases=examples,coverage,fuzzing,stateful",
                f"--checks={','.join(CHECKS)}",
                f"--max-examples={MAX_EXAMPLES}", f"--seed={SEED}",
                f"--header=Authorization: Bearer {key}",
                # hypothesis's checks of its own data generation, which a loaded machine slows
                "--suppress-health-check=all",
                "--no-color",
            ],
            cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert re.search(r"(?<!\d)0 passed", run.stdout) is None  # "20 passed" is no "0 passed"
