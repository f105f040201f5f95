"""Presence, relaying, zones, ping, rejections, takeover, last_seq, frame size."""

from __future__ import annotations

import uuid

import pytest

from hubclient import BIG_BUDGET, now_ms, open_welcomed, run, wait_connections

# Correctness (nothing lost, order, once): a budget no loaded machine can overrun.
pytestmark = pytest.mark.hub_args(*BIG_BUDGET)


def new_class() -> str:
    return "c-" + uuid.uuid4().hex[:12]


async def viewer_of(hub: str, class_id: str, **kwargs):
    """A viewer past its welcome and snapshot."""
    viewer, _ = await open_welcomed(hub, class_id, "viewer", **kwargs)
    await viewer.expect_t("snapshot")
    return viewer


def test_join_on_hello_and_leave_on_close(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="dana")
        await pub.hello(name="Dana", hrmax=185, hrrest=58)
        join = await viewer.expect(lambda m: m["t"] == "join" and m.get("p") == "dana" and m.get("name") == "Dana")
        assert join.get("hrmax") == 185 and join.get("hrrest") == 58
        # A second hello updates the profile with another join.
        await pub.hello(name="Dana K", hrmax=186)
        await viewer.expect(lambda m: m["t"] == "join" and m.get("p") == "dana" and m.get("name") == "Dana K")
        await pub.close()
        await viewer.expect_t("leave", p="dana", reason="closed")
        await viewer.close()

    run(main())


def test_hr_is_relayed_with_all_fields(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="eli")
        await pub.hello(name="Eli", hrmax=200)
        before = now_ms()
        ts = await pub.hr(seq=1, bpm=150, rr=[410, 409, 412], contact=True)
        hr = await viewer.expect_t("hr", p="eli")
        assert hr["seq"] == 1 and hr["ts"] == ts and hr["bpm"] == 150
        assert hr["rr"] == [410, 409, 412]
        assert hr.get("contact") is True
        assert isinstance(hr["rts"], int) and before - 5_000 <= hr["rts"] <= now_ms() + 5_000, "rts is hub time"
        assert hr["pct"] == 75 and hr["zone"] == 3
        # A publisher receives only control messages, not the class's samples: the sample reached the viewer, so
        # one for the publisher would have been queued before the pong of this barrier.
        assert not [m for m in await pub.sync() if m["t"] == "hr"]
        await pub.close()
        await viewer.close()

    run(main())


# pct = round(100 × bpm / hrmax), halves up; zone 1 <60, 2 60–69, 3 70–79, 4 80–89, 5 ≥90.
ZONE_CASES = [
    (119, 200, 60, 2),  # 59.5 → 60
    (118, 200, 59, 1),
    (139, 200, 70, 3),  # 69.5 → 70
    (138, 200, 69, 2),
    (159, 200, 80, 4),  # 79.5 → 80
    (179, 200, 90, 5),  # 89.5 → 90
    (178, 200, 89, 4),
    (60, 180, 33, 1),
    (190, 180, 106, 5),
]


def test_pct_and_zone_round_halves_up(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="fay")
        for seq, (bpm, hrmax, pct, zone) in enumerate(ZONE_CASES, start=1):
            await pub.hello(hrmax=hrmax)
            await pub.hr(seq=seq, bpm=bpm)
            hr = await viewer.expect_t("hr", p="fay", seq=seq)
            assert (hr["bpm"], hr.get("pct"), hr.get("zone")) == (bpm, pct, zone), f"bpm {bpm} hrmax {hrmax}"
        await pub.close()
        await viewer.close()

    run(main())


def test_no_pct_without_hrmax_or_with_bpm_zero(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        unknown, _ = await open_welcomed(hub, class_id, "publisher", participant="gus")
        await unknown.hr(seq=1, bpm=120)
        hr = await viewer.expect_t("hr", p="gus", seq=1)
        assert "pct" not in hr and "zone" not in hr, "no hrmax: no pct or zone"

        known, _ = await open_welcomed(hub, class_id, "publisher", participant="hal")
        await known.hello(hrmax=190)
        await known.hr(seq=7, bpm=0, contact=False)
        hr = await viewer.expect_t("hr", p="hal", seq=7)
        assert hr["bpm"] == 0, "bpm 0 (no reading) is relayed"
        assert hr.get("contact") is False
        assert "pct" not in hr and "zone" not in hr, "bpm 0 never becomes a zone"
        for conn in (unknown, known, viewer):
            await conn.close()

    run(main())


@pytest.mark.parametrize("role", ["viewer", "publisher", "participant"])
def test_ping_pong(hub, role):
    async def main():
        conn, _ = await open_welcomed(hub, new_class(), role, participant=None if role == "viewer" else "ivy")
        ct = now_ms()
        await conn.send({"t": "ping", "id": 17, "ct": ct})
        pong = await conn.expect_t("pong")
        assert pong["id"] == 17 and pong["ct"] == ct
        assert isinstance(pong["ht"], int) and abs(pong["ht"] - now_ms()) < 10_000
        await conn.send({"t": "ping", "id": "abc", "ct": 5})
        pong = await conn.expect_t("pong")
        assert pong["id"] == "abc" and pong["ct"] == 5
        await conn.close()

    run(main())


async def expect_error(conn, code: str) -> dict:
    error = await conn.expect_t("error")
    assert error["code"] == code, error
    assert isinstance(error.get("msg"), str) and error["msg"]
    await conn.ping_pong(ping_id=f"after-{code}")  # the connection stays open and served
    return error


HR = '{"t":"hr","seq":1,"ts":1700000000000,'
# id: (error code, the field a bad_field error names, the frame)
REJECTED_FRAMES = {
    "bad_json: not JSON": ("bad_json", None, "{not json"),
    "bad_json: truncated": ("bad_json", None, '{"t":"hr","seq":1'),
    "bad_field: bpm too high": ("bad_field", "bpm", HR + '"bpm":251}'),
    "bad_field: bpm in the gap": ("bad_field", "bpm", HR + '"bpm":12}'),
    "bad_field: seq negative": ("bad_field", "seq", '{"t":"hr","seq":-1,"ts":1700000000000,"bpm":80}'),
    "bad_field: seq not a number": ("bad_field", "seq", '{"t":"hr","seq":"one","ts":1700000000000,"bpm":80}'),
    "bad_field: too many rr": ("bad_field", "rr", HR + '"bpm":80,"rr":[' + ",".join(["700"] * 17) + "]}"),
    "bad_field: rr zero": ("bad_field", "rr", HR + '"bpm":80,"rr":[0]}'),
    "bad_field: hrmax": ("bad_field", "hrmax", '{"t":"hello","hrmax":300}'),
    "bad_field: hrrest": ("bad_field", "hrrest", '{"t":"hello","hrrest":10}'),
    "bad_field: long name": ("bad_field", "name", '{"t":"hello","name":"' + "n" * 65 + '"}'),
    "unknown_type": ("unknown_type", None, '{"t":"dance","id":1}'),
}


@pytest.mark.parametrize("code,field,frame", REJECTED_FRAMES.values(), ids=REJECTED_FRAMES.keys())
def test_rejected_messages_do_not_close(hub, code, field, frame):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="jo")
        await pub.send_raw(frame)
        error = await expect_error(pub, code)
        if field is not None:
            assert field in error["msg"], f"bad_field names the field: {error}"
        # A rejected message changes no state: nothing was relayed, and the next good sample flows.
        await pub.hr(seq=100, bpm=90)
        hr = await viewer.expect_t("hr", p="jo")
        assert hr["seq"] == 100
        for conn in (pub, viewer):
            await conn.close()

    run(main())


@pytest.mark.hub_args("--jitter", "off")  # a sample wrongly accepted would be relayed at once, not held
def test_viewer_sending_hr_is_not_allowed(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        other = await viewer_of(hub, class_id)
        await viewer.hr(seq=1, bpm=100)
        await expect_error(viewer, "not_allowed")  # the hub has handled the sample (ends with a barrier)
        assert not [m for m in await other.sync() if m["t"] in ("hr", "join")]
        for conn in (viewer, other):
            await conn.close()

    run(main())


def test_duplicate_seq_is_rejected_and_delivered_once(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="kim")
        ts = await pub.hr(seq=5, bpm=101)
        await pub.hr(seq=5, bpm=101, ts=ts)
        error = await expect_error(pub, "duplicate")
        assert error.get("seq") in (None, 5)
        await pub.hr(seq=6, bpm=102)
        first = await viewer.expect_t("hr", p="kim")
        second = await viewer.expect_t("hr", p="kim")
        assert (first["seq"], second["seq"]) == (5, 6), "the duplicate is delivered once"
        for conn in (pub, viewer):
            await conn.close()

    run(main())


def test_takeover_closes_the_older_connection_with_4009_without_leave(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)
        old, _ = await open_welcomed(hub, class_id, "publisher", participant="lea")
        await old.hello(name="Lea", hrmax=180)
        await old.hr(seq=10, bpm=120)
        await viewer.expect_t("hr", p="lea", seq=10)
        viewer.skipped.clear()  # the join from the first hello is not what this test looks for

        new, welcome = await open_welcomed(hub, class_id, "publisher", participant="lea")
        assert welcome["last_seq"] == 10
        assert await old.close_code() == 4009, "the older socket is closed with 4009 replaced"
        await new.hr(seq=11, bpm=121)
        await viewer.expect_t("hr", p="lea", seq=11)
        # A leave, if any, would come when the hub finishes closing the old socket: wait until it has (the class
        # has the viewer and the new socket), then a barrier on the viewer brings whatever that queued.
        await wait_connections(hub, class_id, 2)
        seen = viewer.skipped + await viewer.sync()
        presence = [m for m in seen if m["t"] in ("leave", "join") and m.get("p") == "lea"]
        assert not presence, f"a takeover is neither a leave nor a join: {presence}"
        for conn in (new, viewer):
            await conn.close()

    run(main())


def test_welcome_last_seq_after_reconnect(hub):
    async def main():
        class_id = new_class()
        viewer = await viewer_of(hub, class_id)  # keeps the class alive
        pub, welcome = await open_welcomed(hub, class_id, "publisher", participant="max")
        assert welcome["last_seq"] is None
        for seq in (1000, 1001, 1002):
            await pub.hr(seq=seq, bpm=110)
        await viewer.expect_t("hr", p="max", seq=1002)
        await pub.close()
        await viewer.expect_t("leave", p="max")

        again, welcome = await open_welcomed(hub, class_id, "publisher", participant="max")
        assert welcome["last_seq"] == 1002, "last_seq is the highest seq the hub accepted"
        # Resending what the hub already has is harmless; the new sample flows.
        await again.hr(seq=1002, bpm=110)
        await again.expect_t("error", code="duplicate")
        await again.hr(seq=1003, bpm=111)
        hr = await viewer.expect_t("hr", p="max")
        assert hr["seq"] == 1003
        # Another participant in the class has its own last_seq.
        other, other_welcome = await open_welcomed(hub, class_id, "participant", participant="ned")
        assert other_welcome["last_seq"] is None
        for conn in (again, other, viewer):
            await conn.close()

    run(main())


@pytest.mark.hub_args("--max-message-bytes", "2000")
def test_a_message_exactly_at_the_limit_passes_and_one_byte_more_closes_with_1009(hub):
    """lws reads a client message in pieces of its 256-byte receive buffer; the transport joins them. A message of
    exactly --max-message-bytes is answered, whether sent as one frame or as fragments; one byte more is refused
    with 1009 (in one frame and in fragments)."""

    def ping(i: int, size: int) -> str:
        head = '{"t":"ping","id":%d,"ct":1,"pad":"' % i
        message = head + "x" * (size - len(head) - 2) + '"}'
        assert len(message) == size
        return message

    async def main():
        class_id = new_class()
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="lim", max_size=None)
        await pub.send_raw(ping(1, 2000))
        await pub.expect_t("pong", id=1)
        exact = ping(2, 2000)
        await pub.ws.send([exact[:700], exact[700:1400], exact[1400:]])
        await pub.expect_t("pong", id=2)
        await pub.send_raw(ping(3, 2001))
        assert await pub.close_code() == 1009
        again, _ = await open_welcomed(hub, class_id, "publisher", participant="lim2", max_size=None)
        over = ping(4, 2001)
        await again.ws.send([over[:1000], over[1000:]])
        assert await again.close_code() == 1009

    run(main())


@pytest.mark.hub_args("--max-message-bytes", "65536")
def test_a_large_message_in_many_pieces_is_joined_and_one_byte_more_is_refused(hub):
    """The hub reads a client message in pieces of its 256-byte receive buffer, however the client frames it. A
    64 KiB message (256 pieces) is answered whole, in one frame and in 37 fragments of uneven sizes (1 byte, and
    sizes just under, at and over multiples of 256 and 512); one byte more is refused with 1009, both ways."""

    def ping(i: int, size: int) -> str:
        head = '{"t":"ping","id":%d,"ct":1,"pad":"' % i
        message = head + "".join(chr(ord("a") + k % 26) for k in range(size - len(head) - 2)) + '"}'
        assert len(message) == size
        return message

    def pieces(message: str) -> list[str]:
        sizes = [1, 255, 256, 257, 511, 512, 513, 1025, 4096] * 4
        cuts, at = [], 0
        for size in sizes:
            cuts.append(message[at : at + size])
            at += size
        return [*cuts, message[at:]]

    async def main():
        class_id = new_class()
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="big", max_size=None)
        await pub.send_raw(ping(1, 65536))
        await pub.expect_t("pong", id=1)
        fragments = pieces(ping(2, 65536))
        assert len(fragments) == 37 and "".join(fragments) == ping(2, 65536)
        await pub.ws.send(fragments)
        await pub.expect_t("pong", id=2)
        await pub.send_raw(ping(3, 65537))
        assert await pub.close_code() == 1009
        again, _ = await open_welcomed(hub, class_id, "publisher", participant="big2", max_size=None)
        await again.ws.send(pieces(ping(4, 65537)))
        assert await again.close_code() == 1009

    run(main())


def test_frame_larger_than_4096_bytes_closes_with_1009(hub):
    async def main():
        class_id = new_class()
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="oli")
        # Just under the limit: unknown fields are ignored, the ping is answered.
        small = '{"t":"ping","id":1,"ct":1,"pad":"' + "x" * 3900 + '"}'
        assert len(small) < 4096
        await pub.send_raw(small)
        await pub.expect_t("pong", id=1)
        big = '{"t":"ping","id":2,"ct":1,"pad":"' + "x" * 5000 + '"}'
        await pub.send_raw(big)
        assert await pub.close_code() == 1009

    run(main())
