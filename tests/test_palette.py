"""The chart palette (site_src/pages/assets/analytics.css): neighbouring series stay apart for
every kind of colour vision, in the light and the dark scheme, and chart text is readable.

Colour vision deficiencies are simulated with the matrices of Machado, Oliveira and Fernandes
(2009) at full severity, applied in linear RGB; distances are CIEDE2000 in CIELAB (D65).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parent.parent / "site_src/pages/assets/analytics.css").read_text()
VISION = {
    "normal": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "tritanopia": (
        (1.255528, -0.076749, -0.178779),
        (-0.078411, 0.930809, 0.147602),
        (0.004733, 0.691367, 0.303900),
    ),
}
BACKGROUND = {"default": "#ffffff", "slate": "#1e2129"}  # Material's --md-default-bg-color
MIN_NEIGHBOUR_DISTANCE = 15.0  # CIEDE2000; about 2.3 is "just noticeable"
Vector = tuple[float, float, float]


def scheme_block(name: str) -> str:
    pattern = (
        r":root,\s*\[data-md-color-scheme=\"default\"\]"
        if name == "default"
        else (r"\[data-md-color-scheme=\"slate\"\]")
    )
    match = re.search(pattern + r"\s*\{(.*?)\}", CSS, re.S)
    assert match, name
    return match.group(1)


def variables(scheme: str) -> dict[str, str]:
    """The custom properties of a scheme; the dark one overrides the light one's."""
    found = dict(re.findall(r"(--pa-[a-z0-9-]+):\s*([^;]+);", scheme_block("default")))
    if scheme == "slate":
        found |= dict(re.findall(r"(--pa-[a-z0-9-]+):\s*([^;]+);", scheme_block("slate")))
    return found


def palette(scheme: str) -> list[str]:
    values = variables(scheme)
    return [values[f"--pa-series-{i}"] for i in range(len(values)) if f"--pa-series-{i}" in values]


def linear(hex_color: str) -> Vector:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return channel(r), channel(g), channel(b)


def seen(hex_color: str, vision: str) -> Vector:
    rgb = linear(hex_color)
    return tuple(  # type: ignore[return-value]
        min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb, strict=True))))
        for row in VISION[vision]
    )


def lab(rgb: Vector) -> Vector:
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def ciede2000(one: Vector, two: Vector) -> float:
    (l1, a1, b1), (l2, a2, b2) = one, two
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    h1, h2 = math.degrees(math.atan2(b1, a1)) % 360, math.degrees(math.atan2(b2, a2)) % 360
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    d_l, d_c = l2 - l1, c2 - c1
    d_h = 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        h_mean = h1 + h2
    elif abs(h1 - h2) <= 180:
        h_mean = (h1 + h2) / 2
    else:
        h_mean = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    rotation = -math.sin(math.radians(60 * math.exp(-(((h_mean - 275) / 25) ** 2)))) * (
        2 * math.sqrt(c_mean**7 / (c_mean**7 + 25**7))
    )
    return math.sqrt(
        (d_l / s_l) ** 2
        + (d_c / s_c) ** 2
        + (d_h / s_h) ** 2
        + rotation * (d_c / s_c) * (d_h / s_h)
    )


def distance(one: str, two: str, vision: str) -> float:
    return ciede2000(lab(seen(one, vision)), lab(seen(two, vision)))


def contrast(one: str, two: str) -> float:
    def luminance(color: str) -> float:
        r, g, b = linear(color)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_ciede2000_matches_published_pairs() -> None:
    # Sharma, Wu and Dalal (2005), test data pairs 1 and 17.
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)


@pytest.mark.parametrize("scheme", ["default", "slate"])
@pytest.mark.parametrize("vision", sorted(VISION))
def test_neighbouring_series_stay_apart(scheme: str, vision: str) -> None:
    colors = palette(scheme)
    assert len(colors) == 8 and len(set(colors)) == 8
    # Series repeat the palette (hatched) past the eighth: the last one neighbours the first.
    pairs = list(zip(colors, [*colors[1:], colors[0]], strict=True))
    closest = min(distance(a, b, vision) for a, b in pairs)
    assert closest >= MIN_NEIGHBOUR_DISTANCE, (scheme, vision, closest)


@pytest.mark.parametrize("scheme", ["default", "slate"])
def test_every_series_stands_out_from_the_background_somewhere(scheme: str) -> None:
    background = BACKGROUND[scheme]
    for color in palette(scheme):
        assert min(distance(color, background, v) for v in VISION) > 10, color


@pytest.mark.parametrize("scheme", ["default", "slate"])
def test_chart_text_is_readable(scheme: str) -> None:
    values = variables(scheme)
    assert contrast(values["--pa-chart-text"], BACKGROUND[scheme]) >= 4.5
    assert contrast(values["--pa-muted"], BACKGROUND[scheme]) >= 4.5
