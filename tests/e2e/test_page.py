"""The class screen (`GET /classes/{id}`) and the class picker (`GET /`) in a real browser.

Headless Chromium (Debian package `chromium`, installed by `./scripts/setup --test`) loads the pages the
hub serves; test publishers written here feed the class. The tests read what the page shows (DOM text,
classes, computed colours) and `window.hrhub.summary()`. Screenshots go to `artifacts/` (gitignored).
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

from browser import Chromium, Page, chromium_binary
from hubclient import Conn, open_welcomed, run

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CLASS_ID = "e2e-screen"

# The page's zone colours (see WebAssets.sharedStyle), as getComputedStyle reports them.
ZONE_RGB = {
    1: "rgb(139, 145, 154)",
    2: "rgb(10, 100, 224)",
    3: "rgb(46, 204, 138)",
    4: "rgb(245, 124, 0)",
    5: "rgb(192, 16, 31)",
}

TILES_JS = """[...document.querySelectorAll('#grid .tile')].map((t) => ({
    p: t.dataset.p, state: t.dataset.state, cls: t.className,
    name: t.querySelector('.name').textContent, bpm: t.querySelector('.bpm').textContent,
    pct: t.querySelector('.pct').textContent, zone: t.querySelector('.zone').textContent,
    status: t.querySelector('.status').textContent, bg: getComputedStyle(t).backgroundColor,
}))"""


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    if binary is None:
        pytest.fail("chromium not found: install it with ./scripts/setup --test (or set CHROMIUM_BIN)")
    chromium = Chromium(binary)
    chromium.start()
    try:
        yield chromium
    finally:
        chromium.stop()


def http_base(hub: str) -> str:
    return hub.replace("ws://", "http://", 1)


def http_get(url: str) -> tuple[int, str, str]:
    """Status, content type and body of a GET (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read().decode()


class Publisher:
    """A rider's device: says hello, then sends a sample every `period` seconds until paused or gone."""

    def __init__(self, conn: Conn, bpm: Callable[[int], int], period: float = 0.25):
        self.conn = conn
        self.bpm = bpm
        self.period = period
        self.seq = 0
        self.sending = True
        self.task = asyncio.create_task(self._run())

    @classmethod
    async def join(cls, hub: str, p: str, bpm: Callable[[int], int], **hello: Any) -> "Publisher":
        conn, _ = await open_welcomed(hub, CLASS_ID, "publisher", participant=p)
        if hello:
            await conn.hello(**hello)
        return cls(conn, bpm)

    async def _run(self) -> None:
        while True:
            if self.sending:
                self.seq += 1
                await self.conn.hr(self.seq, self.bpm(self.seq))
            await asyncio.sleep(self.period)

    async def leave(self) -> None:
        self.task.cancel()
        await self.conn.close()


async def tiles(page: Page) -> dict[str, dict[str, Any]]:
    return {tile["p"]: tile for tile in await page.evaluate(TILES_JS)}


async def wait_tile(page: Page, p: str, condition: str, timeout: float = 10.0, what: str = "") -> dict[str, Any]:
    """Waits until the tile of `p` exists and `condition` (JS, with `t` the tile element) holds."""
    expression = f"""(() => {{
        const t = document.querySelector('#grid .tile[data-p={json.dumps(p)}]');
        return Boolean(t && ({condition}));
    }})()"""
    try:
        await page.wait_for(expression, timeout, what=what or f"tile {p}: {condition}")
    except AssertionError as error:
        shown = await page.evaluate(f"({{ tiles: {TILES_JS}, summary: window.hrhub?.summary() }})")
        raise AssertionError(f"{error}\nthe page shows: {shown!r}\npage errors: {page.errors!r}") from None
    return (await tiles(page))[p]


async def settled_colours(page: Page) -> None:
    """Waits until every live tile shows its zone's colour (a colour transition has run its course), then for a
    frame to be drawn with it."""
    colours = json.dumps({f"Z{zone}": rgb for zone, rgb in ZONE_RGB.items()})
    await page.wait_for(
        f"""[...document.querySelectorAll('#grid .tile[data-state="live"]')].every((t) =>
            getComputedStyle(t).backgroundColor === {colours}[t.querySelector('.zone').textContent])""",
        timeout=30, what="every live tile in its zone colour")
    await page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))")


def test_pages_and_live_list_over_http(hub):
    """The routes answer with the right types; a bad class id is refused with its reason."""

    async def scenario() -> None:
        base = http_base(hub)
        status, kind, body = http_get(f"{base}/v1/classes/live")
        assert (status, kind, json.loads(body)) == (200, "application/json", [])
        viewer, _ = await open_welcomed(hub, "spin-7", "viewer")
        publisher, _ = await open_welcomed(hub, "spin-7", "publisher", participant="anna")
        await viewer.expect_t("join", p="anna")
        status, kind, body = http_get(f"{base}/v1/classes/live")
        assert (status, kind) == (200, "application/json")
        assert json.loads(body) == [{"id": "spin-7", "participants": 1, "viewers": 1}]
        for path in ("/", "/classes/spin-7"):
            status, kind, body = http_get(base + path)
            assert (status, kind) == (200, "text/html; charset=utf-8"), path
            assert body.startswith("<!doctype html>") and "<script" in body, path
            assert "http://" not in body and "https://" not in body, f"{path} must not load anything from elsewhere"
        status, _, body = http_get(f"{base}/classes/bad.id")
        assert status == 400 and "bad class id 'bad.id'" in body
        status, _, _ = http_get(f"{base}/nothing/here")
        assert status == 404
        await publisher.close()
        await viewer.close()

    run(scenario())


@pytest.mark.hub_args("--stale-after-ms", "1000")
def test_class_screen_follows_the_class(hub, browser):
    """Tiles appear for the publishers, bpm values change in zone colours, a silent rider shows "no signal",
    a rider who leaves is shown as gone and then removed, and the screen resumes after a reconnect."""

    async def scenario() -> None:
        # anna climbs through the zones, ben swings around 150, chris holds 190 of 200 (95 %: zone 5).
        anna = await Publisher.join(hub, "anna", lambda s: 120 + (s * 3) % 60, name="Anna", hrmax=190)
        ben = await Publisher.join(hub, "ben", lambda s: 150 + round(10 * math.sin(s / 2)), name="Ben", hrmax=185)
        chris = await Publisher.join(hub, "chris", lambda s: 190, hrmax=200)
        publishers = [anna, ben, chris]
        page = await Page.open(browser)
        try:
            await page.viewport(1920, 1080)
            await page.goto(f"{http_base(hub)}/classes/{CLASS_ID}?gone_ms=4000")
            await page.wait_for("document.getElementById('conn').textContent === 'live'", what="connection live")

            # Tiles appear, named (or by id), with numbers.
            for p in ("anna", "ben", "chris"):
                await wait_tile(page, p, "/^\\d+$/.test(t.querySelector('.bpm').textContent)")
            shown = await tiles(page)
            assert set(shown) == {"anna", "ben", "chris"}
            assert [shown[p]["name"] for p in ("anna", "ben", "chris")] == ["Anna", "Ben", "chris"]
            assert all(tile["state"] == "live" for tile in shown.values()), shown
            assert await page.evaluate("document.getElementById('riders').textContent") == "3 riders"
            assert await page.evaluate("document.getElementById('class-id').textContent") == CLASS_ID

            # Values change, and % of HRmax and the zone follow bpm.
            first = shown["anna"]["bpm"]
            changed = await wait_tile(page, "anna", f"t.querySelector('.bpm').textContent !== {json.dumps(first)}")
            bpm = int(changed["bpm"])
            pct = math.floor(100 * bpm / 190 + 0.5)
            assert abs(int(changed["pct"].rstrip("%")) - pct) <= 1, changed
            chris_tile = await wait_tile(page, "chris", f"getComputedStyle(t).backgroundColor === '{ZONE_RGB[5]}'")
            assert (chris_tile["bpm"], chris_tile["pct"], chris_tile["zone"]) == ("190", "95%", "Z5")

            # The header's lag estimate is a number of milliseconds.
            lag = await page.wait_for(
                "/^lag -?\\d+ ms$/.test(document.getElementById('lag').textContent)"
                " && document.getElementById('lag').textContent",
                what="lag estimate",
            )
            # A sanity bound on the unit (a clock mixed up with seconds would be off by ~10^12), not a speed.
            assert 0 <= int(lag.split()[1]) < 60_000, lag

            # A rider whose device goes quiet is dimmed with "no signal", and comes back.
            ben.sending = False
            stale = await wait_tile(page, "ben", "t.dataset.state === 'stale'", what="ben stale")
            assert stale["status"] == "NO SIGNAL"
            ben.sending = True
            await wait_tile(page, "ben", "t.dataset.state === 'live'", what="ben live again")

            # A rider who joins while the screen is up gets a tile, in name order.
            publishers.append(await Publisher.join(hub, "dana", lambda s: 100 + s % 7, name="Dana", hrmax=180))
            await wait_tile(page, "dana", "/^\\d+$/.test(t.querySelector('.bpm').textContent)", what="dana's tile")
            assert list(await tiles(page)) == ["anna", "ben", "chris", "dana"]
            assert await page.evaluate("document.getElementById('riders').textContent") == "4 riders"

            # A rider who leaves is shown as gone, no longer counted, then removed (gone_ms=4000).
            await anna.leave()
            left = await wait_tile(page, "anna", "t.dataset.state === 'gone'", what="anna gone")
            assert left["status"] == "LEFT" and "gone" in left["cls"]
            assert await page.evaluate("document.getElementById('riders').textContent") == "3 riders"
            await page.wait_for(
                "!document.querySelector('#grid .tile[data-p=\"anna\"]')", timeout=10, what="anna's tile removed"
            )

            # The screen reconnects after losing its socket and resumes from the snapshot.
            await page.evaluate("window.hrhub.conn.ws.close(), true")
            await page.wait_for("window.hrhub.summary().welcomes === 2", timeout=15, what="a second welcome")
            await page.wait_for("document.getElementById('conn').textContent === 'live'", what="live again")
            before = (await tiles(page))["ben"]["bpm"]
            await wait_tile(page, "ben", f"t.querySelector('.bpm').textContent !== {json.dumps(before)}")
            summary = await page.evaluate("window.hrhub.summary()")
            assert sorted(r["p"] for r in summary["riders"]) == ["ben", "chris", "dana"], summary
            assert page.errors == [], page.errors
        finally:
            await page.close()
            for publisher in publishers:
                publisher.task.cancel()
                await publisher.conn.close()

    run(scenario(), timeout=120)


# The screenshot class: (id, name, % of HRmax 190 it hovers around), one or more riders per zone.
STUDIO = [
    ("anna", "Anna", 52), ("ben", "Ben", 64), ("chloe", "Chloé", 66), ("dev", "Dev", 74), ("emma", "Emma", 76),
    ("farah", "Farah", 84), ("gus", "Gus", 86), ("hana", "Hana", 93), ("ivan", "Ivan", 96), ("jon", "Jon", 73),
    ("kim", "Kim", 63), ("lea", "Léa Moreau-Fitzgerald", 83),
]


@pytest.mark.hub_args("--stale-after-ms", "1000")
def test_class_screen_on_a_tv_and_a_phone(hub, browser):
    """Twelve riders across the five zones, one gone quiet, one left: the screen fills a 1080p TV without
    scrolling, bpm readable across a room, each tile in its zone colour (artifacts/class-screen.png), and
    fits a phone in two columns (artifacts/class-screen-phone.png)."""

    async def scenario() -> None:
        publishers = {}
        for p, name, pct in STUDIO:
            center = 190 * pct / 100

            def bpm(seq: int, center: float = center) -> int:
                return round(center + 4 * math.sin(seq / 6))

            publishers[p] = await Publisher.join(hub, p, bpm, name=name, hrmax=190)
        page = await Page.open(browser)
        try:
            await page.viewport(1920, 1080)
            await page.goto(f"{http_base(hub)}/classes/{CLASS_ID}")
            await page.wait_for(
                "document.querySelectorAll('#grid .tile[data-state=\"live\"]').length === 12", what="12 live tiles"
            )
            await page.wait_for(
                "window.hrhub.summary().riders.every((r) => r.points >= 30)", timeout=20, what="sparkline history"
            )
            publishers["jon"].sending = False
            await publishers["kim"].leave()
            await wait_tile(page, "jon", "t.dataset.state === 'stale'")
            await wait_tile(page, "kim", "t.dataset.state === 'gone'")
            await settled_colours(page)
            shown = await tiles(page)
            for p, _, pct in STUDIO:
                tile = shown[p]
                zone = 5 if pct >= 90 else 4 if pct >= 80 else 3 if pct >= 70 else 2 if pct >= 60 else 1
                assert tile["zone"] == f"Z{zone}", tile
                if tile["state"] == "live":
                    assert tile["bg"] == ZONE_RGB[zone], tile
            assert await page.evaluate("document.getElementById('riders').textContent") == "11 riders"
            geometry = await page.evaluate(
                "(() => { const r = document.querySelector('#grid .tile').getBoundingClientRect();"
                " const g = document.getElementById('grid');"
                " return { w: r.width, h: r.height, scroll: g.scrollHeight > g.clientHeight + 1,"
                " bpmPx: parseFloat(getComputedStyle(document.querySelector('.bpm')).fontSize) }; })()"
            )
            assert not geometry["scroll"], f"twelve riders must fit a 1080p screen: {geometry}"
            assert geometry["bpmPx"] >= 80, f"bpm must be readable across a room: {geometry}"
            await page.screenshot(ARTIFACTS / "class-screen.png")

            await page.viewport(390, 844, scale=2, mobile=True)
            await page.wait_for(
                "getComputedStyle(document.getElementById('grid')).getPropertyValue('--cols') === '2'",
                what="two columns on a phone",
            )
            await settled_colours(page)
            await page.screenshot(ARTIFACTS / "class-screen-phone.png")
            assert page.errors == [], page.errors
        finally:
            await page.close()
            for publisher in publishers.values():
                publisher.task.cancel()
                await publisher.conn.close()

    run(scenario(), timeout=120)


@pytest.mark.hub_args("--demo")
def test_demo_class_from_the_picker(hub, browser):
    """The picker lists the demo class and links to its screen, where the twelve simulated riders are live
    (artifacts/class-screen-demo.png)."""

    async def scenario() -> None:
        page = await Page.open(browser)
        try:
            await page.viewport(1920, 1080)
            await page.goto(f"{http_base(hub)}/")
            link = await page.wait_for(
                "document.querySelector('a[data-class-id=\"demo\"]')?.textContent", what="demo in the picker"
            )
            assert "12 riders" in link, link
            await page.screenshot(ARTIFACTS / "class-picker.png")
            await page.evaluate("document.querySelector('a[data-class-id=\"demo\"]').click(), true")
            await page.wait_for("location.pathname === '/classes/demo'", what="navigation to the class screen")
            await page.wait_for(
                "document.querySelectorAll('#grid .tile[data-state=\"live\"]').length === 12", what="12 live tiles"
            )
            await page.wait_for(
                "window.hrhub.summary().riders.every((r) => r.samples >= 3)", timeout=15, what="samples for all"
            )
            shown = await tiles(page)
            assert len(shown) == 12
            for tile in shown.values():
                assert tile["bpm"].isdigit() and tile["pct"].endswith("%") and tile["zone"].startswith("Z"), tile
            await page.screenshot(ARTIFACTS / "class-screen-demo.png")
            assert page.errors == [], page.errors
        finally:
            await page.close()

    run(scenario(), timeout=90)


@pytest.mark.hub_args("--demo", "--demo-riders", "100")
def test_a_hundred_riders_without_jank(hub, browser):
    """100 riders: every tile updates, and the page keeps drawing frames meanwhile (the frame numbers go to
    artifacts/class-screen-100.json; speed is judged there, not asserted here)."""

    async def scenario() -> None:
        page = await Page.open(browser)
        try:
            await page.viewport(1920, 1080)
            await page.goto(f"{http_base(hub)}/classes/demo")
            await page.wait_for(
                "document.querySelectorAll('#grid .tile[data-state=\"live\"]').length === 100", timeout=20
            )
            await page.wait_for("window.hrhub.summary().riders.every((r) => r.samples >= 1)", timeout=10)
            before = {r["p"]: r["samples"] for r in (await page.evaluate("window.hrhub.summary()"))["riders"]}
            # Frames are recorded while every rider gets three new samples (waited for, not timed).
            await page.evaluate(
                """(() => {
                    const rec = { gaps: [], long: [], running: true };
                    let last = performance.now();
                    const observer = new PerformanceObserver((list) => {
                        for (const entry of list.getEntries()) rec.long.push(Math.round(entry.duration));
                    });
                    try { observer.observe({ type: 'longtask', buffered: false }); } catch {}
                    const step = (now) => {
                        rec.gaps.push(now - last);
                        last = now;
                        if (rec.running) { requestAnimationFrame(step); } else { observer.disconnect(); }
                    };
                    requestAnimationFrame(step);
                    window.frameRecord = rec;
                    return true;
                })()"""
            )
            counts = json.dumps(before)
            await page.wait_for(
                f"window.hrhub.summary().riders.every((r) => r.samples >= ({counts}[r.p] ?? 0) + 3)"
                f" && window.hrhub.summary().riders.length === {len(before)}",
                timeout=60, what="three new samples for every rider",
            )
            frames = await page.evaluate(
                """(() => {
                    const rec = window.frameRecord;
                    rec.running = false;
                    const gaps = [...rec.gaps].sort((a, b) => a - b);
                    return { frames: gaps.length, p50: gaps[gaps.length >> 1],
                        p95: gaps[Math.floor(gaps.length * 0.95)], max: gaps[gaps.length - 1], longTasks: rec.long };
                })()"""
            )
            frames["riders"] = len(before)
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "class-screen-100.json").write_text(json.dumps(frames, indent=2) + "\n")
            await page.screenshot(ARTIFACTS / "class-screen-100.png")
            assert len(before) == 100
            # Three updates of every tile took several frames at least: the page kept drawing while they came.
            assert frames["frames"] >= 3, f"the page should keep drawing frames: {frames}"
            assert page.errors == [], page.errors
        finally:
            await page.close()

    run(scenario(), timeout=90)
