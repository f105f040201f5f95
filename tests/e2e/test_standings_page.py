"""The leaderboard column of the class screen and the post-class page `/classes/{id}/summary`, in headless
Chromium: the pages load without console errors and show the ranks and points the JSON endpoints give.
Screenshots go to `artifacts/` (gitignored).
"""

from __future__ import annotations

import json

from browser import Page
from hubclient import now_ms, run
from test_page import ARTIFACTS, ZONE_RGB, browser  # noqa: F401 (fixture)
from test_record import RecordHub, data_dir, http  # noqa: F401 (fixture)
from test_standings import FAST, Plan, points_tenths, ride

BOARD_ROWS_JS = "window.hrhub.summary().board.rows"

CARDS_JS = """[...document.querySelectorAll('#riders .card')].map((c) => ({
    p: c.dataset.p, rank: c.querySelector('.rank').textContent, who: c.querySelector('.who').textContent,
    points: c.querySelector('.pts').firstChild.textContent, curves: c.querySelectorAll('path.curve').length,
    zones: [...c.querySelectorAll('svg.zones rect')].map((r) => [r.getAttribute('class'), getComputedStyle(r).fill]),
}))"""


def test_leaderboard_column_and_summary_page(data_dir, browser):
    hub = RecordHub(data_dir, *FAST).start()
    plan = Plan(now_ms())
    try:
        async def scenario():
            riders = [await ride(hub.base, "spin", plan, rider) for rider in ("anna", "ben", "cleo", "dan")]
            status, _, body = http("GET", f"{hub.http}/v1/classes/spin/leaderboard")
            assert status == 200
            expected = [(e["p"], e["rank"], points_tenths(e)) for e in json.loads(body)["entries"]]
            assert [p for p, _, _ in expected] == ["anna", "ben", "cleo", "dan"]

            page = await Page.open(browser)
            try:
                await page.viewport(1920, 1080)
                await page.goto(f"{hub.http}/classes/spin?participant=cleo")
                await page.wait_for(f"{BOARD_ROWS_JS}.length === 4", what="four leaderboard rows")
                rows = await page.evaluate(BOARD_ROWS_JS)
                assert [(r["p"], r["rank"], round(r["points"] * 10)) for r in rows] == expected
                assert [r["p"] for r in rows if r["me"]] == ["cleo"], "the screen's own rider is highlighted"
                shown = await page.evaluate(
                    "[...document.querySelectorAll('#board-list li')].map((li) => li.textContent)")
                assert shown[0] == "1Anna1.2", shown
                await page.screenshot(ARTIFACTS / "class-screen-leaderboard.png")
                assert page.errors == [], page.errors

                await page.goto(f"{hub.http}/classes/spin/summary")
                await page.wait_for("window.hrhubSummary && window.hrhubSummary.ready", what="summary loaded")
                assert (await page.evaluate("window.hrhubSummary.error || null")) is None
                cards = await page.evaluate(CARDS_JS)
                assert [(c["p"], int(c["rank"].lstrip("#")), round(float(c["points"]) * 10)) for c in cards] == \
                    expected
                assert [c["who"] for c in cards] == ["Anna", "Ben", "Cleo", "Dan"]
                assert all(c["curves"] == 1 for c in cards), cards
                # Time-in-zone bars in the zone colours: anna rode in zone 5 only, ben in zone 3; dan had none.
                assert cards[0]["zones"] == [["z5", ZONE_RGB[5]]], cards[0]
                assert cards[1]["zones"] == [["z3", ZONE_RGB[3]]], cards[1]
                assert cards[3]["zones"] == [[None, "rgb(51, 65, 85)"]], cards[3]
                await page.screenshot(ARTIFACTS / "class-summary.png")
                assert page.errors == [], page.errors
            finally:
                await page.close()
            for conn in riders:
                await conn.close()

        run(scenario(), timeout=90)
        status, _, body = http("GET", f"{hub.http}/classes/spin/summary")
        assert status == 200 and b"<svg" not in body and b"hrhubSummary" in body
        assert http("GET", f"{hub.http}/classes/nobody-rode-here/summary")[0] == 404
    finally:
        hub.stop()


def test_summary_page_needs_a_viewer_token_when_auth_is_on(data_dir):
    from test_production import SECRET, mint

    hub = RecordHub(data_dir, *FAST, "--jwt-secret", SECRET).start()
    try:
        async def setup():
            conn = await ride(hub.base, "spin", Plan(now_ms()), "anna", token=mint("publisher", "spin", "anna"))
            await conn.close()

        run(setup())
        assert http("GET", f"{hub.http}/classes/spin/summary")[0] == 401
        assert http("GET", f"{hub.http}/classes/spin/summary?token={mint('viewer', 'other')}")[0] == 403
        assert http("GET", f"{hub.http}/classes/spin/summary?token={mint('viewer', 'spin')}")[0] == 200
    finally:
        hub.stop()
