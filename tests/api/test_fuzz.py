"""Schemathesis against the app's own OpenAPI schema over real HTTP (PostgreSQL behind it):
well over 1,000 generated requests, valid and invalid, and not one server error."""

from __future__ import annotations

import contextlib

import pytest

from tests.api.conftest import TOKEN, fresh_postgres_database, make_settings, start_server

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 45


def test_no_server_errors_over_a_thousand_generated_requests(tmp_path):
    schemathesis = pytest.importorskip("schemathesis")
    import requests
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database())
        server = start_server(make_settings(tmp_path, url))
        stack.callback(server.stop)
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        session = requests.Session()
        stack.callback(session.close)
        sent: list[str] = []
        errors: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def call(case) -> None:
                    response = case.call(
                        base_url=server.url, session=session, headers={"Authorization": f"Bearer {TOKEN}"}
                    )
                    sent.append(case.operation.label)
                    if response.status_code >= 500:
                        errors.append(
                            f"{response.status_code} {case.as_curl_command()}\n{response.text[:300]}"
                        )

                try:
                    call()
                except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                    assert mode is GenerationMode.NEGATIVE
    assert errors == []
    assert len(sent) >= 1000, f"only {len(sent)} requests were generated"
    assert len(set(sent)) >= 15  # every route was exercised
