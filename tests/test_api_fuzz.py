"""Schema-driven fuzzing: schemathesis generates requests from `/api/openapi.json` and
sends them to the running app; no request may cause a server error, and every answer
must match what the schema says (status code, content type, body shape).

The app runs on an event loop of its own thread (schemathesis calls are synchronous),
with the engine playing on a null sink, so commands land on a live player.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema

from tests.helpers.audio_files import write_tone

from .api_harness import app_in_thread, local_settings, null_engine

EXAMPLES = 12
"""Per operation: enough to reach every validator, quick enough on two busy cores."""


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseSchema]:
    folder = tmp_path_factory.mktemp("fuzz-library")
    write_tone(folder / "a.wav", seconds=25.0, channels=1, level=0.1)
    write_tone(folder / "b.wav", seconds=3.0, frequency=330.0)
    engine = null_engine(folder)
    engine.play()
    try:
        with app_in_thread(engine, local_settings()) as address:
            yield schemathesis.openapi.from_url(f"{address.url}/api/openapi.json")
    finally:
        engine.close()


# An event stream never ends by itself: tests/test_api.py reads it.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/api/events")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_causes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=10,
    )


def test_the_schema_has_every_operation(api_schema: BaseSchema) -> None:
    """What is fuzzed is the real thing (the fixture did not load an empty schema)."""
    operations = {op.ok().label for op in api_schema.get_all_operations()}
    assert len(operations) == 19
    assert "POST /api/player/seek" in operations and "GET /api/cache/check" in operations
