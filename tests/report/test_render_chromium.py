"""The report displays: render it to PNG in headless Chromium, at phone and desktop widths.

Needs Debian's ``chromium`` (CI: ``apt-get install -y chromium``); skipped with that reason
when it is absent.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")


def _screenshot(html, png, width, height, tmp_path):
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}",
         f"--screenshot={png}", f"--window-size={width},{height}", html.as_uri()],
        check=True, capture_output=True, timeout=60)
    return Image.open(png).convert("RGB")


def _has_colour(img, rgb, tolerance=12):
    target = tuple(rgb)
    return any(all(abs(a - b) <= tolerance for a, b in zip(px, target, strict=True))
               for _, px in img.getcolors(maxcolors=1 << 20))


@pytest.mark.parametrize("width,height", [(390, 2400), (1280, 1600)])
def test_report_renders_in_headless_chromium(report_files, tmp_path, width, height):
    html = report_files.html
    img = _screenshot(html, tmp_path / f"shot-{width}.png", width, height, tmp_path)
    assert img.size == (width, height)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tiles and charts, not a blank page
    assert _has_colour(img, (0xD1, 0x49, 0x5B))  # block red: tiles, badges, chart bars
    assert _has_colour(img, (0xF0, 0xA2, 0x02))  # review amber
    assert _has_colour(img, (0x3C, 0x6E, 0x91))  # trend bars
    # nothing overflows the phone viewport horizontally: the right-most column is background
    right = [img.getpixel((width - 1, y)) for y in range(0, height, 7)]
    assert len(set(right)) <= 2
