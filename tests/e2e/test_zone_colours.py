"""The class screen's five zone colours stay apart for colour-blind viewers, and each tile's text stays readable.

Read from the served page: the `--z1`…`--z5` colours and each zone tile's ink (`--ink`, white unless the tile
sets `var(--bg)`). Colour vision deficiencies are simulated with the matrices of Machado, Oliveira and
Fernandes (2009, severity 1) in linear sRGB; differences are CIEDE2000 in CIELAB (D65); contrast is WCAG 2.
"""

from __future__ import annotations

import colorsys
import itertools
import math
import re
import urllib.request

MIN_DELTA_E = 15  # about 10 tells two large patches apart at a glance; the old colours had 7.9 (deutan)
MIN_CONTRAST = 4.5  # WCAG AA for normal text; the tile text is large, which would need only 3

CVD = {
    "normal": None,
    "protan": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deutan": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritan": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def rgb(hex_colour: str) -> list[float]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]


def seen(colour: list[float], kind: str) -> list[float]:
    """Linear RGB as a viewer with this kind of colour vision sees it (clamped to the gamut)."""
    lin = [linear(c) for c in colour]
    if CVD[kind] is None:
        return lin
    return [min(1.0, max(0.0, sum(m * c for m, c in zip(row, lin)))) for row in CVD[kind]]


def lab(lin: list[float]) -> tuple[float, float, float]:
    r, g, b = lin
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = lambda t: t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116  # noqa: E731
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e_2000(one: tuple[float, float, float], two: tuple[float, float, float]) -> float:
    (l1, a1, b1), (l2, a2, b2) = one, two
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    h1, h2 = math.degrees(math.atan2(b1, a1)) % 360, math.degrees(math.atan2(b2, a2)) % 360
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    d_l, d_c, d_h = l2 - l1, c2 - c1, 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh / 2))
    l_bar, c_bar = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        h_bar = h1 + h2
    elif abs(h1 - h2) <= 180:
        h_bar = (h1 + h2) / 2
    else:
        h_bar = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6)) - 0.20 * math.cos(math.radians(4 * h_bar - 63)))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_bar, 1 + 0.015 * c_bar * t
    r_t = (-math.sin(math.radians(60 * math.exp(-(((h_bar - 275) / 25) ** 2))))
           * 2 * math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    return math.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def contrast(one: list[float], two: list[float]) -> float:
    lum = lambda c: 0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])  # noqa: E731
    high, low = sorted((lum(one), lum(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_delta_e_matches_a_published_pair():
    # Sharma, Wu and Dalal (2005), test data pair 1: ΔE00 = 2.0425.
    assert abs(delta_e_2000((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485)) - 2.0425) < 1e-4


def page_colours(hub: str) -> tuple[dict[int, str], dict[int, str]]:
    page = urllib.request.urlopen(hub.replace("ws://", "http://", 1) + "/classes/c", timeout=5).read().decode()
    variables = dict(re.findall(r"--([a-z0-9]+):\s*(#[0-9a-fA-F]{6})\s*;", page))
    zones = {z: variables[f"z{z}"] for z in range(1, 6)}
    inks = {}
    for z in zones:
        rule = re.search(rf"\.tile\.z{z}\s*\{{([^}}]*)\}}", page).group(1)
        ink = re.search(r"--ink:\s*var\(--([a-z0-9]+)\)", rule)
        inks[z] = variables[ink.group(1) if ink else "fg"]
    return zones, inks


def test_zone_colours_are_told_apart_with_every_kind_of_colour_vision(hub):
    zones, _ = page_colours(hub)
    for kind in CVD:
        seen_lab = {z: lab(seen(rgb(c), kind)) for z, c in zones.items()}
        closest = min((delta_e_2000(seen_lab[a], seen_lab[b]), a, b) for a, b in itertools.combinations(zones, 2))
        assert closest[0] >= MIN_DELTA_E, f"{kind}: zones {closest[1]} and {closest[2]} are ΔE00 {closest[0]:.1f}"


def test_zone_colours_are_grey_blue_green_orange_red_with_readable_ink(hub):
    zones, inks = page_colours(hub)
    hue = {z: colorsys.rgb_to_hls(*rgb(c)) for z, c in zones.items()}  # (hue 0..1, lightness, saturation)
    assert hue[1][2] < 0.1, "zone 1 is grey"
    for zone, (low, high) in {2: (200, 235), 3: (90, 170), 4: (20, 45), 5: (345, 370)}.items():
        degrees = hue[zone][0] * 360
        degrees += 360 if degrees < 180 and zone == 5 else 0
        assert low <= degrees <= high and hue[zone][2] > 0.6, (zone, zones[zone])
    for zone, colour in zones.items():
        ratio = contrast(rgb(colour), rgb(inks[zone]))
        assert ratio >= MIN_CONTRAST, f"zone {zone}: {inks[zone]} on {colour} has contrast {ratio:.2f}"
