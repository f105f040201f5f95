"""What an operator relies on: access tokens, TLS, limits, the admin endpoint and configuration layers.

Tokens are minted here with Python's own hmac (an independent HS256 implementation) and with
`hrhub token`, so both sides of the interop are covered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import _hub_binary
from hubclient import BIG_BUDGET, Conn, class_url, open_welcomed, run, wait_connections

SECRET = "e2e-secret-do-not-use"
DATA = Path(__file__).parent / "data"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(role: str, class_id: str = "*", sub: str | None = None, ttl: int = 3600, secret: str = SECRET) -> str:
    """An HS256 JWT made with the standard library only."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"class": class_id, "role": role, "exp": int(time.time()) + ttl}
    if sub is not None:
        claims["sub"] = sub
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


async def close_code_of(url: str, **kwargs) -> int | None:
    """Connects and reads until the hub closes; returns its close code (None if it never closes)."""
    async with connect(url, open_timeout=5, **kwargs) as ws:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except (asyncio.TimeoutError, TimeoutError):
            return None


# Auth


@pytest.mark.hub_args("--jwt-secret", SECRET)
def test_tokens_admit_exactly_what_they_name(hub):
    async def main():
        ok, welcome = await open_welcomed(hub, "spin", "viewer", token=mint("viewer", "spin"))
        assert welcome["role"] == "viewer"
        pub, welcome = await open_welcomed(hub, "spin", "publisher", participant="anna",
                                           token=mint("publisher", "spin", sub="anna"))
        assert welcome["participant"] == "anna"
        # Authorization: Bearer works as well as ?token=.
        ws = await connect(class_url(hub, "spin", role="viewer"), open_timeout=5,
                           additional_headers={"Authorization": f"Bearer {mint('viewer', '*')}"})
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0]["t"] == "welcome"
        await ws.close()
        # An admin token opens anything.
        admin, _ = await open_welcomed(hub, "yoga", "publisher", participant="zed", token=mint("admin"))
        for conn in (ok, pub, admin):
            await conn.close()

    run(main())


REFUSED_TOKENS = {
    "no token": (dict(role="viewer"), 4001),
    "bad signature": (dict(role="viewer", token=mint("viewer", "spin", secret="wrong")), 4001),
    "expired": (dict(role="viewer", token=mint("viewer", "spin", ttl=-10)), 4001),
    "garbage": (dict(role="viewer", token="not.a.jwt"), 4001),
    "other class": (dict(role="viewer", token=mint("viewer", "yoga")), 4003),
    "other role": (dict(role="publisher", participant="anna", token=mint("viewer", "spin")), 4003),
    "publish as someone else": (
        dict(role="publisher", participant="ben", token=mint("publisher", "spin", sub="anna")), 4003),
    "publish into another class": (
        dict(role="publisher", participant="anna", token=mint("publisher", "yoga", sub="anna")), 4003),
}


@pytest.mark.hub_args("--jwt-secret", SECRET)
@pytest.mark.parametrize("query,code", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
def test_forged_or_misdirected_tokens_are_closed(hub, query, code):
    async def main():
        watcher, _ = await open_welcomed(hub, "spin", "viewer", token=mint("viewer", "spin"))
        assert await close_code_of(class_url(hub, "spin", **query)) == code
        # Nothing reached the class: a join for the refused publisher would have been queued for the watcher before
        # the hub closed the refused socket, so before the pong of this barrier.
        assert not [m for m in await watcher.sync() if m["t"] in ("join", "hr")]
        await watcher.close()

    run(main())


@pytest.mark.hub_args("--jwt-secret", SECRET)
def test_admin_endpoint_needs_an_admin_token(hub):
    http = hub.replace("ws://", "http://", 1)
    for token in (None, mint("viewer", "spin")):
        request = urllib.request.Request(f"{http}/v1/classes")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401

    async def populate():
        return await open_welcomed(hub, "spin", "viewer", token=mint("viewer", "spin"))

    async def main():
        viewer, _ = await populate()
        request = urllib.request.Request(f"{http}/v1/classes?token={mint('admin')}")
        with urllib.request.urlopen(request, timeout=5) as response:
            classes = json.loads(response.read())
        assert classes == [{"id": "spin", "connections": 1, "participants": 0, "viewers": 1}]
        await viewer.close()

    run(main())


def test_hrhub_token_mints_what_the_hub_accepts_and_refuses_bad_flags():
    binary = str(_hub_binary())
    token = subprocess.run(
        [binary, "token", "--secret", SECRET, "--role", "publisher", "--class", "spin", "--participant", "anna",
         "--ttl", "10m"], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    header, payload, signature = token.split(".")
    expected = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert signature == b64url(expected), "hrhub token must sign standard HS256"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "anna" and claims["class"] == "spin" and claims["role"] == "publisher"
    assert 500 < claims["exp"] - time.time() <= 600
    for bad in (["--role", "coach"], ["--role", "publisher"], ["--role", "viewer", "--ttl", "soon"],
                ["--role", "viewer", "--class", "a.b"]):
        result = subprocess.run([binary, "token", "--secret", SECRET, *bad], capture_output=True, text=True,
                                timeout=10)
        assert result.returncode != 0 and "Error" in result.stderr, (bad, result.stderr)
    no_secret = subprocess.run([binary, "token", "--role", "viewer"], capture_output=True, text=True, timeout=10,
                               env={k: v for k, v in os.environ.items() if k != "HRHUB_JWT_SECRET"})
    assert no_secret.returncode != 0 and "secret" in no_secret.stderr


# TLS

_CERT_DIR = Path(tempfile.mkdtemp(prefix="hrhub-tls-"))
CERT, KEY = _CERT_DIR / "cert.pem", _CERT_DIR / "key.pem"
subprocess.run(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(KEY), "-out", str(CERT),
     "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)


def insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is self-signed, made just now
    return context


@pytest.mark.hub_args("--tls-cert", CERT, "--tls-key", KEY, "--jwt-secret", SECRET, *BIG_BUDGET)
def test_tls_serves_wss_and_https(hub):
    assert hub.startswith("wss://"), "with a certificate the hub announces wss://"

    async def main():
        ctx = insecure_context()
        viewer = Conn(await connect(class_url(hub, "secure", role="viewer", token=mint("viewer", "secure")),
                                    ssl=ctx, open_timeout=5))
        pub = Conn(await connect(class_url(hub, "secure", role="publisher", participant="anna",
                                           token=mint("publisher", "secure", sub="anna")), ssl=ctx, open_timeout=5))
        await viewer.expect_t("join", p="anna")
        await pub.hr(1, 140)
        sample = await viewer.expect_t("hr", p="anna")
        assert sample["bpm"] == 140
        # A forged token is still refused over TLS.
        assert await close_code_of(class_url(hub, "secure", role="viewer", token=mint("viewer", secret="x")),
                                   ssl=ctx) == 4001
        await viewer.close()
        await pub.close()

    run(main())
    https = hub.replace("wss://", "https://", 1)
    with urllib.request.urlopen(f"{https}/healthz", timeout=5, context=insecure_context()) as response:
        assert response.status == 200
    # Plain ws:// to a TLS port does not get a WebSocket.
    async def plain():
        with pytest.raises(Exception):
            async with connect(hub.replace("wss://", "ws://", 1) + "/v1/classes/x/ws?role=viewer", open_timeout=3):
                pass

    run(plain())


# Limits


@pytest.mark.hub_args("--max-connections", "3")
def test_connections_beyond_the_total_are_closed_with_4029(hub):
    async def main():
        conns = [(await open_welcomed(hub, "c", "viewer"))[0] for _ in range(3)]
        assert await close_code_of(class_url(hub, "c", role="viewer")) == 4029
        await conns[0].close()
        await wait_connections(hub, "c", 2)  # the hub has finished closing it
        again, _ = await open_welcomed(hub, "c", "viewer")  # a slot freed up
        for conn in [again, *conns[1:]]:
            await conn.close()

    run(main())


@pytest.mark.hub_args("--max-connections-per-address", "2")
def test_connections_beyond_the_per_address_limit_are_closed_with_4029(hub):
    async def main():
        conns = [(await open_welcomed(hub, "c", "viewer"))[0] for _ in range(2)]
        assert await close_code_of(class_url(hub, "c", role="viewer")) == 4029
        # Another address is not affected.
        other, _ = await open_welcomed(hub, "c", "viewer", local_addr=("127.0.0.2", 0))
        for conn in [other, *conns]:
            await conn.close()

    run(main())


@pytest.mark.hub_args("--max-classes", "2")
def test_a_class_beyond_the_limit_is_closed_with_4029(hub):
    async def main():
        a, _ = await open_welcomed(hub, "a", "viewer")
        b, _ = await open_welcomed(hub, "b", "viewer")
        assert await close_code_of(class_url(hub, "c", role="viewer")) == 4029
        more, _ = await open_welcomed(hub, "a", "viewer")  # existing classes still take connections
        for conn in (a, b, more):
            await conn.close()

    run(main())


@pytest.mark.hub_args("--max-participants-per-class", "2")
def test_a_participant_beyond_the_limit_is_closed_with_4029(hub):
    async def main():
        viewer, _ = await open_welcomed(hub, "c", "viewer")
        p1, _ = await open_welcomed(hub, "c", "publisher", participant="p1")
        p2, _ = await open_welcomed(hub, "c", "publisher", participant="p2")
        assert await close_code_of(class_url(hub, "c", role="publisher", participant="p3")) == 4029
        again, _ = await open_welcomed(hub, "c", "publisher", participant="p1")  # a known one may reconnect
        # A join for p3 would have been queued before its socket was closed, so before this barrier's pong.
        assert not [m for m in viewer.skipped + await viewer.sync() if m["t"] == "join" and m["p"] == "p3"]
        for conn in (viewer, p2, again):
            await conn.close()

    run(main())


@pytest.mark.hub_args("--max-errors", "3")
def test_too_many_errors_close_with_4029_but_duplicates_do_not_count(hub):
    async def main():
        pub, _ = await open_welcomed(hub, "c", "publisher", participant="p")
        await pub.hr(1, 120)
        for _ in range(10):  # duplicates are harmless
            await pub.hr(1, 120)
        await pub.ping_pong()
        for _ in range(3):
            await pub.send_raw("nope")
        await pub.ping_pong()  # still open after exactly the limit
        await pub.send_raw("one too many")
        assert await pub.close_code() == 4029

    run(main())


@pytest.mark.hub_args("--allowed-origins", "https://studio.example")
def test_only_allowed_browser_origins_may_connect(hub):
    async def main():
        url = class_url(hub, "c", role="viewer")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, origin="https://evil.example", open_timeout=5):
                pass
        assert refused.value.response.status_code == 403
        async with connect(url, origin="https://studio.example", open_timeout=5) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0]["t"] == "welcome"
        async with connect(url, open_timeout=5) as ws:  # not a browser: no Origin header
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))[0]["t"] == "welcome"

    run(main())


@pytest.mark.hub_args("--handshake-timeout-ms", "1000")
def test_a_stalled_handshake_is_dropped(hub):
    host, port = hub.removeprefix("ws://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /v1/classes/c/ws?role=viewer HTTP/1.1\r\nHost: x\r\n")  # ...and never finishes
        sock.settimeout(10)
        assert sock.recv(1024) == b"", "the hub should hang up on a request that never completes"


@pytest.mark.hub_args("--idle-timeout-ms", "1000")
def test_a_silent_dead_peer_is_closed_but_a_live_one_is_kept(hub):
    async def main():
        live, _ = await open_welcomed(hub, "c", "viewer")  # websockets answers pings by itself
        host, port = hub.removeprefix("ws://").rsplit(":", 1)
        dead = socket.create_connection((host, int(port)), timeout=10)
        dead.sendall(b"GET /v1/classes/c/ws?role=viewer HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        # Read everything the hub sends (welcome, pings) but never answer: a phone whose app froze.
        dead.settimeout(10)
        received = b""
        while chunk := await asyncio.to_thread(dead.recv, 65536):
            received += chunk
        assert b"101 Switching Protocols" in received
        dead.close()
        await live.ping_pong()  # the live one is still served
        await live.close()

    run(main(), timeout=30)


# Configuration layers


@pytest.mark.hub_args("--config", DATA / "hub-config.json")
def test_config_file_applies(hub):
    async def main():
        _, welcome = await open_welcomed(hub, "c", "viewer")
        assert welcome["budget_ms"] == 650

    run(main())


@pytest.mark.hub_args("--config", DATA / "hub-config.json")
@pytest.mark.hub_env(HRHUB_BUDGET_MS="700")
def test_environment_overrides_the_config_file(hub):
    async def main():
        _, welcome = await open_welcomed(hub, "c", "viewer")
        assert welcome["budget_ms"] == 700

    run(main())


@pytest.mark.hub_args("--config", DATA / "hub-config.json", "--budget-ms", "750")
@pytest.mark.hub_env(HRHUB_BUDGET_MS="700")
def test_flags_override_the_environment(hub):
    async def main():
        _, welcome = await open_welcomed(hub, "c", "viewer")
        assert welcome["budget_ms"] == 750

    run(main())


BAD_SETTINGS = {
    "port out of range": (["--port", "70000"], {}, "port must be"),
    "unknown config key": (["--config", str(DATA / "bad-config.json")], {}, "unknown setting"),
    "missing config file": (["--config", "/nonexistent.json"], {}, "cannot read config file"),
    "bad env value": ([], {"HRHUB_BUDGET_MS": "soon"}, "budget-ms must be an integer"),
    "cert without key": (["--tls-cert", "/etc/hostname"], {}, "go together"),
    "bad jitter": (["--jitter", "maybe"], {}, "jitter must be"),
    "negative frame rate": (["--max-frame-rate=-5"], {}, "max-frame-rate must be"),
}


@pytest.mark.parametrize("args,env,message", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_bad_settings_are_refused_with_a_clear_message(args, env, message):
    result = subprocess.run([str(_hub_binary()), "--port", "0", *args], capture_output=True, text=True, timeout=10,
                            env={**os.environ, **env})
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "hrhub listening" not in result.stdout


@pytest.mark.hub_args("--tls-cert", CERT, "--tls-key", KEY, *BIG_BUDGET)
def test_hrprobe_runs_against_a_tls_hub(hub):
    """The probe speaks wss:// too (`--insecure` for the self-signed certificate made above)."""
    probe = Path(os.environ.get("HRPROBE_BIN", str(_hub_binary().with_name("hrprobe"))))
    report = _CERT_DIR / "probe.json"
    result = subprocess.run(
        [str(probe), "run", hub + "/", "--insecure", "--classes", "2", "--publishers", "4", "--viewers", "2",
         "--duration", "3s", "--warmup", "1s", "--json", str(report)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    delivery = json.loads(report.read_text())["delivery"]
    assert delivery["samples_sent"] > 0 and delivery["expected"] > 0
    assert delivery["lost"] == 0, delivery
    # Without --insecure the self-signed certificate is refused: the run cannot connect (exit 2).
    refused = subprocess.run(
        [str(probe), "run", hub + "/", "--classes", "1", "--publishers", "1", "--viewers", "1", "--duration", "1s",
         "--warmup", "0s"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2, refused.stdout + refused.stderr


@pytest.mark.hub_args("--jwt-secret", SECRET)
def test_live_class_list_needs_an_admin_token_on_a_secured_hub(hub):
    http = hub.replace("ws://", "http://", 1)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{http}/v1/classes/live", timeout=5)
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{http}/v1/classes/live?token={mint('admin')}", timeout=5) as response:
        assert json.loads(response.read()) == []
