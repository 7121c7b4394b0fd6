"""Where a job's webhook may be called (server-side request forgery): the door of a real server
refuses hooks on loopback, link-local and private addresses unless the operator allows them in
SCALER_WEBHOOK_ALLOWED_HOSTS, which is strictly parsed; and the runner's call checks the addresses
again, connects only to the ones it checked and follows no redirect, against a real local hook.
A resolver passed as an argument stands for DNS where a test needs a name to resolve somewhere."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpcore
import pytest

from api.settings import InvalidSettingsError, Settings, get_settings
from api.webhook import Attempt, deliver
from api.webhook_connection import post_status
from api.webhook_targets import AllowedHosts, IPAddress
from tests.api.conftest import TINY, Server, make_settings, start_server

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API (no scheduler) whose operator allows webhooks into 10.1.0.0/16."""
    data_dir = tmp_path_factory.mktemp("webhooks")
    running = start_server(make_settings(data_dir, None, webhook_allowed_hosts="10.1.0.0/16"))
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("webhook", "why"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1 is not a public address (loopback)"),
        ("http://localhost:8000/hook", "localhost resolves to 127.0.0.1, which is not a public address"),
        ("http://169.254.169.254/latest/meta-data", "(link-local)"),
        ("https://10.0.0.1/hook", "10.0.0.1 is not a public address (private)"),
        ("http://[::1]:9000/", "::1 is not a public address (loopback)"),
        ("http://2130706433/", "2130706433 resolves to 127.0.0.1"),  # 127.0.0.1 written as a number
    ],
)
def test_the_door_refuses_a_webhook_on_a_non_public_address(server, synth_dataset, webhook, why):
    spec = {**TINY, "dataset": str(synth_dataset), "notify": {"webhook": webhook}}
    with server.client() as client:
        refused = client.post("/v1/jobs", json=spec)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["field"] == "notify.webhook"
    assert why in detail["message"] and "SCALER_WEBHOOK_ALLOWED_HOSTS" in detail["message"]


def test_the_door_takes_a_webhook_in_a_network_the_operator_allows(server, synth_dataset):
    spec = {**TINY, "dataset": str(synth_dataset), "notify": {"webhook": "http://10.1.2.3:8080/hook"}}
    with server.client() as client:
        taken = client.post("/v1/jobs", json=spec)
        assert taken.status_code == 201, taken.text
        job = client.get(f"/v1/jobs/{taken.json()['id']}").json()
    assert job["spec"]["notify"]["webhook"] == "http://10.1.2.3:8080/hook"


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("10.0.0.1/8", "'10.0.0.1/8' is not an IP address or CIDR network: 10.0.0.1/8 has host bits set"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address or CIDR network"),
        ("hooks.internal,,10.0.0.1", "an empty entry"),
        ("hooks.internal:8080", "'hooks.internal:8080' is not a host name, IP address or CIDR network"),
        ("http://hooks.internal", "'http://hooks.internal' is not a host name, IP address or CIDR"),
        ("*.internal", "'*.internal' is not a host name, IP address or CIDR network"),
        ("127.1", "'127.1' is not an IP address"),  # nor a host name: none ends in digits
    ],
)
def test_malformed_allowed_hosts_are_refused_by_name(monkeypatch, value, named):
    monkeypatch.setenv("SCALER_WEBHOOK_ALLOWED_HOSTS", value)
    with pytest.raises(InvalidSettingsError) as refused:
        get_settings()
    assert f"SCALER_WEBHOOK_ALLOWED_HOSTS: {named}" in str(refused.value)


def test_allowed_hosts_from_the_environment_travel_to_a_runner(monkeypatch):
    monkeypatch.setenv("SCALER_WEBHOOK_ALLOWED_HOSTS", "Hooks.Internal. , 10.0.0.0/8,::1")
    settings = get_settings()
    assert settings.webhook_allowed_hosts == ("hooks.internal", "10.0.0.0/8", "::1")
    for key, value in settings.process_environment().items():
        monkeypatch.setenv(key, value)
    assert get_settings().webhook_allowed() == settings.webhook_allowed()
    monkeypatch.setenv("SCALER_WEBHOOK_ALLOWED_HOSTS", "")
    assert get_settings().webhook_allowed() == AllowedHosts()  # the default: public addresses only


class Hook(BaseHTTPRequestHandler):
    """A webhook that keeps what it was sent; ``/moved`` answers a redirect to ``/elsewhere``."""

    calls: ClassVar[list[tuple[str, str]]] = []  # (path, Host header)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append((self.path, self.headers["Host"]))
        self.send_response(302 if self.path == "/moved" else 200)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """A local webhook: its port and the calls it received."""
    calls: list[tuple[str, str]] = []
    listening = ThreadingHTTPServer(("127.0.0.1", 0), type("OneHook", (Hook,), {"calls": calls}))
    threading.Thread(target=listening.serve_forever, daemon=True).start()
    yield listening.server_address[1], calls
    listening.shutdown()


def resolving_to(address: IPAddress, asked: list[str]):
    """A resolver under which every name leads to ``address``; ``asked`` keeps the names asked."""

    def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [address]

    return resolve


def call(url: str, allowed: AllowedHosts, resolve) -> list[Attempt]:
    attempts: list[Attempt] = []
    deliver(url, {"job_id": "j"}, attempts.append, allowed, attempts=3, first_wait=0.01, resolve=resolve)
    return attempts


def test_the_call_refuses_a_name_that_now_resolves_to_a_private_address(hook):
    port, calls = hook
    asked: list[str] = []
    attempts = call(f"http://hooks.example.com:{port}/h", AllowedHosts(), resolving_to(LOOPBACK, asked))
    assert len(attempts) == 1 and not attempts[0].delivered and attempts[0].status_code is None
    assert attempts[0].refused  # not tried again: the address would not change that
    assert "hooks.example.com resolves to 127.0.0.1" in str(attempts[0].error)
    assert "SCALER_WEBHOOK_ALLOWED_HOSTS" in str(attempts[0].error)
    assert asked == ["hooks.example.com"] and calls == []  # checked, and never connected


@pytest.mark.parametrize(
    "allowed", [AllowedHosts.of(["hooks.example.com"]), AllowedHosts.of(["127.0.0.0/8"])]
)
def test_the_call_connects_to_the_address_it_checked_keeping_the_host_name(hook, allowed):
    port, calls = hook
    asked: list[str] = []  # the system cannot resolve hooks.example.com: the call uses the checked address
    attempts = call(f"http://hooks.example.com:{port}/h", allowed, resolving_to(LOOPBACK, asked))
    assert [(attempt.delivered, attempt.status_code) for attempt in attempts] == [(True, 200)]
    assert asked == ["hooks.example.com"] and calls == [("/h", f"hooks.example.com:{port}")]


def test_the_call_follows_no_redirect(hook):
    port, calls = hook
    attempts = call(
        f"http://127.0.0.1:{port}/moved", AllowedHosts.of(["127.0.0.1"]), resolving_to(LOOPBACK, [])
    )
    assert [(attempt.delivered, attempt.status_code, attempt.error) for attempt in attempts] == [
        (False, 302, "HTTP 302")
    ] * 3
    assert {path for path, _ in calls} == {"/moved"}


class Dripping(BaseHTTPRequestHandler):
    """A hook that answers one byte of its headers at a time, for ever."""

    def do_POST(self) -> None:
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            while True:
                self.wfile.write(b"X")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:  # the caller hung up
            return

    def log_message(self, *args: object) -> None:
        pass


def test_an_attempt_ends_at_its_deadline_however_the_hook_answers():
    listening = ThreadingHTTPServer(("127.0.0.1", 0), Dripping)
    listening.daemon_threads = True
    threading.Thread(target=listening.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{listening.server_address[1]}/"
    try:
        with pytest.raises(httpcore.ReadTimeout):  # each byte comes well within the 10 s timeout
            post_status(url, (LOOPBACK,), [], b"{}", timeout=10, deadline=time.monotonic() + 1)
    finally:
        listening.shutdown()


def test_a_settings_object_takes_the_same_entries(tmp_path):
    settings = Settings(data_dir=tmp_path, webhook_allowed_hosts=["10.0.0.0/8", "HOOKS.internal"])
    assert settings.webhook_allowed_hosts == ("10.0.0.0/8", "hooks.internal")
