"""A small HTTP client for the Scaler API (URL and token from flags or SCALER_URL / SCALER_TOKEN)."""

from __future__ import annotations

from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8000"


def url_option(function: Any) -> Any:
    return click.option(
        "--url", envvar="SCALER_URL", default=DEFAULT_URL, show_default=True, help="API URL."
    )(function)


def token_option(function: Any) -> Any:
    return click.option("--token", envvar="SCALER_TOKEN", help="Bearer token (env SCALER_TOKEN).")(function)


class ApiClient:
    def __init__(self, url: str, token: str | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)

    def request(self, method: str, path: str, **options: Any) -> Any:
        import httpx

        try:
            response = self.http.request(method, path, **options)
        except httpx.HTTPError as error:
            raise click.ClickException(f"cannot reach the API at {self.http.base_url}: {error}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            if isinstance(detail, dict) and "field" in detail:
                detail = f"{detail['field']}: {detail['message']}"
            raise click.ClickException(f"HTTP {response.status_code}: {detail}")
        return response

    def json(self, method: str, path: str, **options: Any) -> Any:
        return self.request(method, path, **options).json()
