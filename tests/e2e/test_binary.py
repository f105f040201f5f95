"""The binary subprotocol hrhub.v1.bin."""

from __future__ import annotations

import uuid

import pytest

from hubclient import (
    BIG_BUDGET,
    BINARY,
    BINARY_PROTOCOL,
    FLAG_CONTACT,
    FLAG_CONTACT_SUPPORTED,
    encode_client_binary,
    now_ms,
    open_welcomed,
    run,
)

# Correctness (nothing lost, order, once): a budget no loaded machine can overrun.
pytestmark = pytest.mark.hub_args(*BIG_BUDGET)


def new_class() -> str:
    return "c-" + uuid.uuid4().hex[:12]


def test_binary_sample_reaches_binary_and_json_viewers(hub):
    async def main():
        class_id = new_class()
        bin_viewer, welcome = await open_welcomed(hub, class_id, "viewer", subprotocols=[BINARY_PROTOCOL])
        assert bin_viewer.subprotocol == BINARY_PROTOCOL
        await bin_viewer.expect_t("snapshot")  # control messages stay JSON text frames
        json_viewer, _ = await open_welcomed(hub, class_id, "viewer")
        await json_viewer.expect_t("snapshot")

        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="strap-7", subprotocols=[BINARY_PROTOCOL])
        assert pub.subprotocol == BINARY_PROTOCOL
        await pub.hello(name="Strap", hrmax=200)  # JSON text frames still work for control messages
        ts = now_ms()
        await pub.send_raw(encode_client_binary(seq=300, ts=ts, bpm=119, rr=[520, 515], contact=True))

        frame = await bin_viewer.expect(lambda m: m["t"] == BINARY, what="binary frame")
        samples = [s for s in frame["samples"] if s["p"] == "strap-7"]
        assert len(samples) == 1, frame["samples"]
        sample = samples[0]
        assert (sample["seq"], sample["ts"], sample["bpm"], sample["rr"]) == (300, ts, 119, [520, 515])
        assert sample["flags"] & (FLAG_CONTACT_SUPPORTED | FLAG_CONTACT) == FLAG_CONTACT_SUPPORTED | FLAG_CONTACT
        assert abs(sample["rts"] - now_ms()) < 10_000, "rts is hub time in Unix ms"
        assert not [m for m in bin_viewer.skipped if m["t"] == "hr"], "a binary viewer gets samples as binary"

        hr = await json_viewer.expect_t("hr", p="strap-7")
        assert (hr["seq"], hr["ts"], hr["bpm"], hr["rr"]) == (300, ts, 119, [520, 515])
        assert hr.get("contact") is True
        assert (hr.get("pct"), hr.get("zone")) == (60, 2)

        # A JSON publisher's sample also reaches the binary viewer as binary.
        json_pub, _ = await open_welcomed(hub, class_id, "publisher", participant="watch-2")
        ts2 = await json_pub.hr(seq=9, bpm=77)
        frame = await bin_viewer.expect(
            lambda m: m["t"] == BINARY and any(s["p"] == "watch-2" for s in m["samples"]), what="binary frame"
        )
        sample = next(s for s in frame["samples"] if s["p"] == "watch-2")
        assert (sample["seq"], sample["ts"], sample["bpm"], sample["rr"]) == (9, ts2, 77, [])
        for conn in (pub, json_pub, bin_viewer, json_viewer):
            await conn.close()

    run(main())


def test_binary_energy_and_no_contact_flags(hub):
    async def main():
        class_id = new_class()
        viewer, _ = await open_welcomed(hub, class_id, "viewer")
        await viewer.expect_t("snapshot")
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="bike", subprotocols=[BINARY_PROTOCOL])
        await pub.send_raw(encode_client_binary(seq=1, ts=now_ms(), bpm=88, ee=321))
        hr = await viewer.expect_t("hr", p="bike", seq=1)
        assert hr["bpm"] == 88
        assert "contact" not in hr, "contact not supported by the device: absent"
        assert hr.get("rr", []) == []
        await pub.send_raw(encode_client_binary(seq=2, ts=now_ms(), bpm=0, contact=False))
        hr = await viewer.expect_t("hr", p="bike", seq=2)
        assert hr["bpm"] == 0 and hr.get("contact") is False
        for conn in (pub, viewer):
            await conn.close()

    run(main())


def test_bad_binary_frame_gets_bad_frame(hub):
    async def main():
        class_id = new_class()
        viewer, _ = await open_welcomed(hub, class_id, "viewer")
        await viewer.expect_t("snapshot")
        pub, _ = await open_welcomed(hub, class_id, "publisher", participant="p1", subprotocols=[BINARY_PROTOCOL])
        good = encode_client_binary(seq=1, ts=now_ms(), bpm=90, rr=[680])
        for bad in (
            b"\x07" + good[1:],  # unknown type
            good[:10],  # truncated header
            good[:-1],  # rr count says 1 value, only half of it there
            b"",
        ):
            await pub.send_raw(bad)
            error = await pub.expect_t("error")
            assert error["code"] == "bad_frame", (bad, error)
            await pub.ping_pong(ping_id=len(bad))
        await pub.send_raw(good)
        hr = await viewer.expect_t("hr", p="p1")
        assert hr["seq"] == 1, "bad frames were dropped; the good one flows"
        for conn in (pub, viewer):
            await conn.close()

    run(main())
