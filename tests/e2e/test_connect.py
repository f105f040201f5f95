"""Connecting: welcome, snapshot, subprotocols, refused upgrades (HTTP 400), /healthz."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from hubclient import (
    BIG_BUDGET,
    BINARY_PROTOCOL,
    JSON_PROTOCOL,
    class_url,
    now_ms,
    open_conn,
    open_welcomed,
    run,
)

# Correctness (nothing lost, order, once): a budget no loaded machine can overrun.
pytestmark = pytest.mark.hub_args(*BIG_BUDGET)


def new_class() -> str:
    return "c-" + uuid.uuid4().hex[:12]


def check_common_welcome(welcome: dict, class_id: str, role: str) -> None:
    assert welcome["t"] == "welcome"
    assert welcome["class"] == class_id
    assert welcome["role"] == role
    assert isinstance(welcome["budget_ms"], int) and welcome["budget_ms"] > 0
    assert isinstance(welcome["ht"], int) and abs(welcome["ht"] - now_ms()) < 10_000, "ht is hub time in Unix ms"


def test_publisher_welcome(hub):
    async def main():
        class_id = new_class()
        pub, welcome = await open_welcomed(hub, class_id, "publisher", participant="anna")
        check_common_welcome(welcome, class_id, "publisher")
        assert welcome["participant"] == "anna"
        assert "last_seq" in welcome and welcome["last_seq"] is None, "first connection: last_seq is null"
        assert welcome.get("mode") is None, "mode is for viewers and participants"
        await pub.close()

    run(main())


@pytest.mark.parametrize("mode", [None, "all", "latest"])
def test_viewer_welcome(hub, mode):
    async def main():
        class_id = new_class()
        viewer, welcome = await open_welcomed(hub, class_id, "viewer", mode=mode)
        check_common_welcome(welcome, class_id, "viewer")
        assert welcome["mode"] == (mode or "all")
        assert "participant" not in welcome, "a viewer has no participant"
        assert welcome.get("last_seq") is None
        snapshot = await viewer.next()
        assert snapshot["t"] == "snapshot", "viewers get a snapshot right after welcome"
        assert snapshot["participants"] == []
        await viewer.close()

    run(main())


def test_participant_welcome_and_snapshot(hub):
    async def main():
        class_id = new_class()
        conn, welcome = await open_welcomed(hub, class_id, "participant", participant="ben", mode="latest")
        check_common_welcome(welcome, class_id, "participant")
        assert welcome["participant"] == "ben"
        assert welcome["mode"] == "latest"
        assert "last_seq" in welcome and welcome["last_seq"] is None
        snapshot = await conn.next()
        assert snapshot["t"] == "snapshot"
        assert isinstance(snapshot["participants"], list)
        await conn.close()

    run(main())


@pytest.mark.parametrize("late_role", ["viewer", "participant"])
def test_snapshot_shows_who_is_here_with_their_last_sample(hub, late_role):
    async def main():
        class_id = new_class()
        first_viewer, _ = await open_welcomed(hub, class_id, "viewer")
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="carla")
        await pub.hello(name="Carla", hrmax=190, hrrest=55)
        ts = await pub.hr(seq=41, bpm=133, rr=[460, 470], contact=True)
        # Once a viewer got it, the hub has surely accepted it.
        await first_viewer.expect_t("hr", p="carla", seq=41)

        late_id = "zed" if late_role == "participant" else None
        late, _ = await open_welcomed(hub, class_id, late_role, participant=late_id)
        snapshot = await late.next()
        assert snapshot["t"] == "snapshot"
        entries = {entry["p"]: entry for entry in snapshot["participants"]}
        assert "carla" in entries, snapshot
        carla = entries["carla"]
        assert carla.get("name") == "Carla"
        assert carla.get("hrmax") == 190
        last = carla["last"]
        assert last["p"] == "carla"
        assert last["seq"] == 41 and last["ts"] == ts and last["bpm"] == 133
        assert last.get("rr") == [460, 470]
        assert isinstance(last["rts"], int)
        assert last.get("pct") == 70 and last.get("zone") == 3  # 133 / 190 = 70 %
        for conn in (late, pub, first_viewer):
            await conn.close()

    run(main())


def test_subprotocol_default_and_choice(hub):
    async def main():
        class_id = new_class()
        plain = await open_conn(hub, class_id, "viewer")
        assert plain.subprotocol is None, "no subprotocol offered: the hub must not name one (JSON is implied)"
        assert (await plain.next())["t"] == "welcome"
        as_json = await open_conn(hub, class_id, "viewer", subprotocols=[JSON_PROTOCOL])
        assert as_json.subprotocol == JSON_PROTOCOL
        as_binary = await open_conn(hub, class_id, "viewer", subprotocols=["x-unknown", BINARY_PROTOCOL])
        assert as_binary.subprotocol == BINARY_PROTOCOL
        welcome = await as_binary.next()
        assert welcome["t"] == "welcome", "control messages stay JSON text frames in binary mode"
        for conn in (plain, as_json, as_binary):
            await conn.close()

    run(main())


REFUSED = {
    "bad class id (charset)": "/v1/classes/bad.id/ws?role=viewer",
    "bad class id (too long)": f"/v1/classes/{'a' * 65}/ws?role=viewer",
    "unknown role": "/v1/classes/c1/ws?role=coach",
    "missing role": "/v1/classes/c1/ws",
    "publisher without participant": "/v1/classes/c1/ws?role=publisher",
    "participant role without participant": "/v1/classes/c1/ws?role=participant",
    "bad participant id": "/v1/classes/c1/ws?role=publisher&participant=a.b",
    "viewer with participant": "/v1/classes/c1/ws?role=viewer&participant=anna",
    "unknown mode": "/v1/classes/c1/ws?role=viewer&mode=some",
    "unknown path": "/v2/classes/c1/ws?role=viewer",
    "unknown path (suffix)": "/v1/classes/c1/socket?role=viewer",
}


@pytest.mark.parametrize("path", REFUSED.values(), ids=REFUSED.keys())
def test_bad_upgrade_is_refused_with_400(hub, path):
    async def main():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(hub + path, open_timeout=5):
                pass
        assert refused.value.response.status_code == 400

    run(main())


def test_only_unknown_subprotocols_is_refused_with_400(hub):
    async def main():
        url = class_url(hub, new_class(), role="viewer")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, subprotocols=[Subprotocol("hrhub.v9.json"), Subprotocol("mqtt")], open_timeout=5):
                pass
        assert refused.value.response.status_code == 400

    run(main())


def test_healthz(hub):
    http = hub.replace("ws://", "http://", 1)
    with urllib.request.urlopen(f"{http}/healthz", timeout=5) as response:
        assert response.status == 200
