#!/usr/bin/python3
"""Synthetic licence plate crops for the plate-ctc recognizer (issue #15 item 3).

Renders plates the way a plate finder hands them to the reader: the whole plate with margins (US plates with the
state's name and a slogan above and below, stacked small characters, stickers, bolts, artwork, frames; EU plates
with the blue band; Brazilian plates, old grey and Mercosur), or one row of characters cut out of it the way a text
detector would (the plate number's row, sometimes a state-name or slogan row, whose label is its letters), in
condensed plate-like fonts, embossed or flat, on reflective or coloured backgrounds, by day or under infrared, then
put through perspective (up to ~15 degrees), crop margins and misalignment, blur, noise and JPEG.

Everything is drawn from scratch here: no photo is read (the shared datasets are benchmarks, never training data).
Sample i of a seed is the same image on every run (random state seeded from (seed, i)), whatever was drawn before.

  /usr/bin/python3 scripts/plate-model/generate.py --out /tmp/plates --count 200 [--seed 1] [--size 128x32]
      [--keep-size] [--clean]

writes PNG files named <index>_<label>.png and labels.tsv. Needs numpy, PIL, OpenCV (python3-opencv) and the fonts
of `bash scripts/setup.sh train`.
"""
from __future__ import annotations

import argparse
import glob
import os
import string

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LETTERS = string.ascii_uppercase
DIGITS = string.digits

# Plate-like fonts (Debian packages; see scripts/setup.sh train). Condensed or squeezed bold sans: US plates use
# narrow block letters, EU/BR plates DIN-like or FE-like ones.
FONT_GLOBS = [
    "/usr/share/fonts/truetype/liberation*/LiberationSansNarrow-Bold.ttf",
    "/usr/share/fonts/truetype/liberation*/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation*/LiberationMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/**/BebasNeue-Bold.[ot]tf",
    "/usr/share/fonts/**/BebasNeue-Regular.[ot]tf",
    "/usr/share/fonts/**/BebasNeue-Book.[ot]tf",
    "/usr/share/fonts/**/LeagueSpartan-Bold.[ot]tf",
    "/usr/share/fonts/**/LeagueSpartan-SemiBold.[ot]tf",
    "/usr/share/fonts/**/LeagueSpartan-Medium.[ot]tf",
]
SMALL_FONT_GLOBS = [
    "/usr/share/fonts/truetype/liberation*/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation*/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation*/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-BoldItalic.ttf",
    "/usr/share/fonts/**/BebasNeue-Regular.[ot]tf",
    "/usr/share/fonts/**/LeagueSpartan-Regular.[ot]tf",
]


def find_fonts(globs: list[str]) -> list[str]:
    out: list[str] = []
    for g in globs:
        for f in sorted(glob.glob(g, recursive=True)):
            if f not in out:
                out.append(f)
    if not out:
        raise SystemExit("no fonts found; install them with: bash scripts/setup.sh train")
    return out


STATES = [
    "ALABAMA", "ALASKA", "ARIZONA", "ARKANSAS", "CALIFORNIA", "COLORADO", "CONNECTICUT", "DELAWARE", "FLORIDA",
    "GEORGIA", "HAWAII", "IDAHO", "ILLINOIS", "INDIANA", "IOWA", "KANSAS", "KENTUCKY", "LOUISIANA", "MAINE",
    "MARYLAND", "MASSACHUSETTS", "MICHIGAN", "MINNESOTA", "MISSISSIPPI", "MISSOURI", "MONTANA", "NEBRASKA", "NEVADA",
    "NEW HAMPSHIRE", "NEW JERSEY", "NEW MEXICO", "NEW YORK", "NORTH CAROLINA", "NORTH DAKOTA", "OHIO", "OKLAHOMA",
    "OREGON", "PENNSYLVANIA", "RHODE ISLAND", "SOUTH CAROLINA", "SOUTH DAKOTA", "TENNESSEE", "TEXAS", "UTAH",
    "VERMONT", "VIRGINIA", "WASHINGTON", "WEST VIRGINIA", "WISCONSIN", "WYOMING",
]
SLOGANS = [
    "Sunshine State", "Land of Lincoln", "Empire State", "Garden State", "Grand Canyon State", "The Lone Star State",
    "Live Free or Die", "Famous Potatoes", "First in Flight", "Great Lakes", "America's Dairyland", "Green Mountain",
    "The Natural State", "Heart of Dixie", "Peach State", "Show Me State", "Wild Wonderful", "Explore Minnesota",
    "Pure Michigan", "Discover", "Keystone State", "visitPA.com", "Centennial", "Aloha State", "Beautiful",
    "Spirit of America", "Sportsman's Paradise", "Land of Enchantment", "Big Sky", "Silver State", "Evergreen State",
    "DEALER", "COUNTY", "In God We Trust", "Volunteer State", "Ocean State", "Pelican State", "Vacationland",
]
COUNTIES = ["Fulton", "Cobb", "Dade", "Orange", "Harris", "Travis", "Cook", "Kings", "Wayne", "Polk", "Lake", "Marion"]
BR_CITIES = ["SAO PAULO", "RIO DE JANEIRO", "CURITIBA", "CAMPINAS", "SANTOS", "BELO HORIZONTE", "PORTO ALEGRE",
             "RECIFE", "SALVADOR", "GOIANIA", "MANAUS", "SP", "RJ", "PR", "MG"]
EU_COUNTRIES = ["D", "F", "I", "E", "NL", "B", "PL", "CZ", "A", "P", "S", "FIN", "IRL", "L", "SK", "SLO", "H", "RO",
                "GR", "LT", "LV", "EST", "HR", "BG", "DK"]
US_FORMATS = ["LLL9999", "LLL999", "9LLL999", "LL99999", "999LLL", "LLL9LL", "9LL9999", "LL9L999", "99LL999",
              "LLL-9999", "LLL 999", "999 LLL", "9LLL99", "LL 9999", "L999999", "999999", "LLLL99", "99L999",
              "LLL99L", "9L99999", "LL-99999", "LLLL", "9999LL", "LLL-999", "99999"]
EU_FORMATS = ["LL 999 LL", "LL-999-LL", "LL 9999", "LLL 9999", "L LL 999", "LL LL 999", "LLL-99-99", "99-LLL-9",
              "LL 99 LLL", "L 9999 LL", "LL 9999 L", "LLL 999", "9 LLL 999", "LL9 9999", "LL 99999", "LLL 9L99"]


def pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def fill_format(rng: np.random.Generator, fmt: str) -> str:
    out = []
    for c in fmt:
        if c == "L":
            out.append(pick(rng, LETTERS))
        elif c == "9":
            out.append(pick(rng, DIGITS))
        else:
            out.append(c)
    return "".join(out)


def random_us_text(rng: np.random.Generator) -> str:
    if rng.random() < 0.8:
        return fill_format(rng, pick(rng, US_FORMATS))
    n = int(rng.integers(5, 9))
    return "".join(pick(rng, ALPHABET) for _ in range(n))


class Renderer:
    """Caches glyph and word masks (rendering text with PIL is the slow part)."""

    def __init__(self) -> None:
        self.fonts = find_fonts(FONT_GLOBS)
        self.small_fonts = find_fonts(SMALL_FONT_GLOBS)
        self._glyphs: dict[tuple[str, str], np.ndarray] = {}
        self._words: dict[tuple[str, str], np.ndarray] = {}
        self._pil: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def _font(self, path: str, size: int) -> ImageFont.FreeTypeFont:
        key = (path, size)
        if key not in self._pil:
            self._pil[key] = ImageFont.truetype(path, size)
        return self._pil[key]

    def _render(self, font: str, text: str) -> np.ndarray:
        f = self._font(font, 64)
        l, t, r, b = f.getbbox(text)
        img = Image.new("L", (r - l + 8, b - t + 8), 0)
        ImageDraw.Draw(img).text((4 - l, 4 - t), text, font=f, fill=255)
        a = np.asarray(img)
        ys, xs = np.nonzero(a > 20)
        if len(ys) == 0:
            return np.zeros((8, 8), np.uint8)
        return np.ascontiguousarray(a[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])

    def glyph(self, font: str, ch: str) -> np.ndarray:
        key = (font, ch)
        if key not in self._glyphs:
            self._glyphs[key] = self._render(font, ch)
        return self._glyphs[key]

    def word(self, font: str, text: str) -> np.ndarray:
        key = (font, text)
        if key not in self._words:
            self._words[key] = self._render(font, text)
        return self._words[key]


def paste_mask(canvas: np.ndarray, mask: np.ndarray, x: int, y: int, w: int, h: int, color) -> None:
    """Blends a colour into canvas (H,W,3 float) through mask resized to w x h at (x, y), clipped."""
    if w < 1 or h < 1:
        return
    m = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA if w < mask.shape[1] else cv2.INTER_LINEAR)
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = (m[y0 - y: y1 - y, x0 - x: x1 - x].astype(np.float32) / 255.0)[..., None]
    region = canvas[y0:y1, x0:x1]
    canvas[y0:y1, x0:x1] = region * (1 - a) + np.asarray(color, np.float32) * a


def rand_color(rng, lo=0, hi=255):
    return rng.integers(lo, hi + 1, 3).astype(np.float32)


def draw_text_line(r: Renderer, rng, canvas, text: str, font: str, x0: float, y0: float, ch_h: float,
                   squeeze: float, spacing: float, color, emboss: float, sep_style: int) -> tuple[float, float]:
    """Draws a plate number left to right from (x0, y0) at character height ch_h; returns the extent (x_end)."""
    x = x0
    shadow = np.clip(np.asarray(color, np.float32) * 0.4, 0, 255)
    for c in text:
        if c in " -":
            gap = ch_h * (0.35 if c == " " else 0.3)
            if c == "-" or sep_style == 1:
                # a dash, or artwork/emblem between the groups (a small shape the reader must not read)
                if c == "-":
                    cv2.rectangle(canvas, (int(x + gap * 0.15), int(y0 + ch_h * 0.45)),
                                  (int(x + gap * 0.85), int(y0 + ch_h * 0.55)), color.tolist(), -1)
                else:
                    cx, cy = int(x + gap / 2), int(y0 + ch_h * rng.uniform(0.3, 0.6))
                    rad = max(1, int(ch_h * rng.uniform(0.12, 0.28)))
                    col = rand_color(rng).tolist()
                    if rng.random() < 0.5:
                        cv2.circle(canvas, (cx, cy), rad, col, -1)
                    else:
                        pts = np.array([[cx, cy - rad * 1.5], [cx - rad, cy + rad], [cx + rad, cy + rad]], np.int32)
                        cv2.fillPoly(canvas, [pts], col)
            x += gap
            continue
        g = r.glyph(font, c)
        gh = int(round(ch_h))
        gw = max(1, int(round(g.shape[1] * ch_h / g.shape[0] * squeeze)))
        if c in "1I":
            gw = max(gw, 1)
        if emboss > 0:
            off = max(1, int(round(ch_h * emboss)))
            paste_mask(canvas, g, int(x) + off, int(y0) + off, gw, gh, shadow)
        paste_mask(canvas, g, int(x), int(y0), gw, gh, color)
        x += gw + spacing * ch_h
    return x, y0 + ch_h


def text_width(r: Renderer, text: str, font: str, ch_h: float, squeeze: float, spacing: float) -> float:
    w = 0.0
    for c in text:
        if c in " -":
            w += ch_h * (0.35 if c == " " else 0.3)
            continue
        g = r.glyph(font, c)
        w += max(1, round(g.shape[1] * ch_h / g.shape[0] * squeeze)) + spacing * ch_h
    return w


def small_text(r: Renderer, rng, canvas, text: str, cx: float, y: float, h: float, color, font=None, max_w=None):
    font = font or pick(rng, r.small_fonts)
    m = r.word(font, text)
    w = m.shape[1] * h / m.shape[0] * rng.uniform(0.8, 1.15)
    if max_w and w > max_w:
        w = max_w
    paste_mask(canvas, m, int(cx - w / 2), int(y), int(w), int(h), color)
    return cx - w / 2, w


def background_texture(rng, h: int, w: int) -> np.ndarray:
    """What surrounds a plate (grey): car body paint, bumper plastic, grille bars, shadow, road; all procedural."""
    img = np.full((h, w), rng.uniform(0, 230), np.float32)
    gy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    img += gy * rng.uniform(-80, 80)
    kind = rng.random()
    if kind < 0.3:  # grille bars
        step = int(rng.integers(4, 16))
        col = float(rng.uniform(0, 120))
        horizontal = rng.random() < 0.6
        for k in range(0, h if horizontal else w, step):
            if horizontal:
                img[k: k + max(1, step // 3)] = col
            else:
                img[:, k: k + max(1, step // 3)] = col
    elif kind < 0.55:  # random blobs (lights, emblems, reflections)
        for _ in range(int(rng.integers(1, 6))):
            cv2.ellipse(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                        (int(rng.integers(3, w // 3 + 4)), int(rng.integers(3, h // 3 + 4))),
                        float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0, 255)), -1)
    elif kind < 0.7:  # text-like clutter (dealer stickers, bumper stickers)
        for _ in range(int(rng.integers(1, 4))):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.putText(img, fill_format(rng, "LLLL"), (x, y), cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.3, 1.0),
                        float(rng.uniform(0, 255)), int(rng.integers(1, 3)))
    return img


def us_plate(r: Renderer, rng, W: int):
    H = W // 2
    dark = rng.random() < 0.12
    if dark:
        bg = rand_color(rng, 0, 90)
        fg = rand_color(rng, 180, 255) if rng.random() < 0.7 else np.array([60, 200, 240], np.float32)
    else:
        choice = rng.random()
        if choice < 0.55:
            bg = np.full(3, rng.uniform(200, 255), np.float32) + rng.uniform(-15, 15, 3).astype(np.float32)
        elif choice < 0.75:  # yellow / cream (NY, old plates)
            bg = np.array([rng.uniform(40, 140), rng.uniform(190, 240), rng.uniform(210, 255)], np.float32)
        else:
            bg = rand_color(rng, 120, 255)
        palette = [np.array([20, 20, 20]), np.array([120, 40, 10]), np.array([20, 20, 160]), np.array([90, 30, 20]),
                   np.array([30, 90, 30]), np.array([140, 60, 0])]
        fg = pick(rng, palette).astype(np.float32) + rng.uniform(0, 40, 3).astype(np.float32)
    plate = np.empty((H, W, 3), np.float32)
    plate[:] = np.clip(bg, 0, 255)
    # gradient/sky artwork, reflective sheen
    if rng.random() < 0.6:
        gy = np.linspace(-1, 1, H, dtype=np.float32)[:, None, None]
        plate += gy * rand_color(rng, 0, 60) * rng.choice([-1, 1])
    # artwork blobs (mountains, suns, cactus, trees, flags), mostly faint, some strong
    for _ in range(int(rng.integers(0, 5))):
        col = np.clip(bg * rng.uniform(0.4, 1.0) + rand_color(rng, 0, 80) * rng.uniform(0, 1), 0, 255)
        kind = rng.random()
        cx, cy = int(rng.integers(0, W)), int(rng.integers(H // 4, H))
        if kind < 0.4:
            cv2.ellipse(plate, (cx, cy), (int(rng.integers(5, W // 3)), int(rng.integers(5, H // 2))),
                        float(rng.uniform(0, 180)), 0, 360, col.tolist(), -1)
        elif kind < 0.7:
            pts = np.array([[rng.integers(0, W), H], [cx, cy - rng.integers(5, H // 2)], [rng.integers(0, W), H]],
                           np.int32)
            cv2.fillPoly(plate, [pts], col.tolist())
        else:  # a tall narrow shape: a tree, a cactus (read as 1 or 4 by a generic reader)
            bw = int(rng.integers(3, max(4, W // 25)))
            bh = int(rng.integers(H // 4, H // 2))
            cv2.rectangle(plate, (cx, cy - bh), (cx + bw, cy), col.tolist(), -1)
            if rng.random() < 0.5:
                cv2.rectangle(plate, (cx - bw * 2, cy - bh // 2), (cx - bw, cy - bh // 2 + bw), col.tolist(), -1)
                cv2.rectangle(plate, (cx - bw * 2, cy - bh // 2 - bh // 4), (cx - bw * 2 + bw, cy - bh // 2),
                              col.tolist(), -1)
    text = random_us_text(rng)
    font = pick(rng, r.fonts)
    ch_h = H * rng.uniform(0.38, 0.52)
    squeeze = rng.uniform(0.55, 1.0)
    spacing = rng.uniform(0.02, 0.15)
    stacked = ""
    if rng.random() < 0.12:
        stacked = fill_format(rng, pick(rng, ["LL", "99", "L9", "9L"]))
    tw = text_width(r, text, font, ch_h, squeeze, spacing)
    sw = ch_h * 0.45 if stacked else 0
    avail = W * rng.uniform(0.8, 0.93)
    if tw + sw > avail:
        f = avail / (tw + sw)
        squeeze *= f
        tw *= f
        sw *= f
    x0 = (W - tw - sw) / 2 + rng.uniform(-0.04, 0.04) * W
    y0 = H * rng.uniform(0.27, 0.35) + (H * 0.5 - ch_h) / 2 * rng.uniform(0, 1)
    emboss = rng.uniform(0.02, 0.06) if rng.random() < 0.5 else 0
    sep_style = 1 if rng.random() < 0.25 else 0
    if stacked:
        sh = ch_h * 0.45
        sf = r.glyph(font, stacked[0])
        gw = max(1, int(sh * sf.shape[1] / sf.shape[0] * 0.9))
        paste_mask(plate, sf, int(x0), int(y0), gw, int(sh), fg)
        sf2 = r.glyph(font, stacked[1])
        paste_mask(plate, sf2, int(x0), int(y0 + ch_h - sh), gw, int(sh), fg)
        x0 += max(gw, sw) + spacing * ch_h
    x_end, y_end = draw_text_line(r, rng, plate, text, font, x0, y0, ch_h, squeeze, spacing, fg, emboss, sep_style)
    label = (stacked + text).replace(" ", "").replace("-", "")
    row = (x0 - (sw if stacked else 0), y0, x_end, y_end)
    words = []
    # state name above, slogan below (small text), sometimes the other way round, sometimes absent
    if rng.random() < 0.9:
        name = pick(rng, STATES)
        if rng.random() < 0.3:
            name = name.title()
        col = fg if rng.random() < 0.5 else rand_color(rng, 0, 200)
        hh = H * rng.uniform(0.12, 0.22)
        top = rng.uniform(0.03, 0.1) * H
        small_text(r, rng, plate, name, W / 2 + rng.uniform(-0.1, 0.1) * W, top, hh, col, max_w=W * 0.9)
        words.append((name, top, hh))
    if rng.random() < 0.75:
        slogan = pick(rng, SLOGANS + COUNTIES)
        col = fg if rng.random() < 0.5 else rand_color(rng, 0, 200)
        hh = H * rng.uniform(0.09, 0.16)
        top = H * rng.uniform(0.8, 0.86)
        small_text(r, rng, plate, slogan, W / 2 + rng.uniform(-0.1, 0.1) * W, top, hh, col, max_w=W * 0.9)
        words.append((slogan, top, hh))
    # stickers in the corners, bolts, frame
    for _ in range(int(rng.integers(0, 3))):
        sx = int(rng.choice([rng.uniform(0.02, 0.15), rng.uniform(0.75, 0.9)]) * W)
        sy = int(rng.choice([rng.uniform(0.02, 0.12), rng.uniform(0.7, 0.82)]) * H)
        sw_, sh_ = int(W * rng.uniform(0.08, 0.16)), int(H * rng.uniform(0.12, 0.22))
        cv2.rectangle(plate, (sx, sy), (sx + sw_, sy + sh_), rand_color(rng).tolist(), -1)
        cv2.putText(plate, fill_format(rng, pick(rng, ["99", "LLL", "9"])), (sx + 1, sy + sh_ - 2),
                    cv2.FONT_HERSHEY_PLAIN, max(0.5, sh_ / 16), rand_color(rng, 0, 255).tolist(), 1)
    if rng.random() < 0.6:
        bolt_r = max(2, int(H * rng.uniform(0.03, 0.06)))
        col = rand_color(rng, 80, 220).tolist()
        by = int(H * rng.uniform(0.1, 0.2))
        for bx in (int(W * rng.uniform(0.18, 0.3)), int(W * rng.uniform(0.7, 0.82))):
            cv2.circle(plate, (bx, by), bolt_r, col, -1)
            if rng.random() < 0.5:
                cv2.circle(plate, (bx, H - by), bolt_r, col, -1)
    if rng.random() < 0.55:  # plate frame / dealer frame, possibly covering part of the slogan
        t = max(2, int(H * rng.uniform(0.03, 0.12)))
        col = rand_color(rng, 0, 255) if rng.random() < 0.3 else np.full(3, rng.uniform(0, 60), np.float32)
        cv2.rectangle(plate, (0, 0), (W - 1, H - 1), col.tolist(), t)
        if rng.random() < 0.5:
            bt = int(H * rng.uniform(0.1, 0.2))
            plate[H - bt:] = col
            if rng.random() < 0.7:
                cv2.putText(plate, pick(rng, ["DEALER", "AUTO SALES", "TOYOTA", "HONDA", "FORD"]),
                            (int(W * 0.3), H - bt // 4), cv2.FONT_HERSHEY_SIMPLEX, bt / 30,
                            rand_color(rng).tolist(), 1)
    elif rng.random() < 0.5:  # printed border line
        t = max(1, int(H * 0.02))
        m = int(H * rng.uniform(0.02, 0.06))
        cv2.rectangle(plate, (m, m), (W - 1 - m, H - 1 - m), fg.tolist(), t)
    return plate, label, row, words


def eu_plate(r: Renderer, rng, W: int):
    H = int(W / rng.uniform(4.3, 4.8))
    yellow = rng.random() < 0.15
    bg = np.array([20, 200, 240], np.float32) if yellow else np.full(3, rng.uniform(215, 255), np.float32)
    bg = bg + rng.uniform(-15, 10, 3).astype(np.float32)
    plate = np.empty((H, W, 3), np.float32)
    plate[:] = np.clip(bg, 0, 255)
    fg = np.full(3, rng.uniform(0, 50), np.float32)
    band = 0
    if rng.random() < 0.9:
        band = int(W * rng.uniform(0.07, 0.1))
        plate[:, :band] = np.array([rng.uniform(120, 170), rng.uniform(40, 70), rng.uniform(0, 30)], np.float32)
        # the ring of stars and the country letters
        cx, cy, rad = band // 2, int(H * 0.3), max(2, int(band * 0.3))
        for k in range(12):
            a = 2 * np.pi * k / 12
            cv2.circle(plate, (int(cx + rad * np.cos(a)), int(cy + rad * np.sin(a))), max(1, band // 20),
                       (0, 210, 250), -1)
        ctry = pick(rng, EU_COUNTRIES)
        small_text(r, rng, plate, ctry, band / 2, H * 0.58, H * 0.3, np.array([250, 250, 250], np.float32),
                   font=pick(rng, r.fonts), max_w=band * 0.9)
    text = fill_format(rng, pick(rng, EU_FORMATS))
    font = pick(rng, r.fonts)
    ch_h = H * rng.uniform(0.6, 0.75)
    squeeze = rng.uniform(0.6, 1.0)
    spacing = rng.uniform(0.03, 0.12)
    tw = text_width(r, text, font, ch_h, squeeze, spacing)
    avail = (W - band) * rng.uniform(0.82, 0.94)
    if tw > avail:
        squeeze *= avail / tw
        tw = avail
    x0 = band + (W - band - tw) / 2
    y0 = (H - ch_h) / 2 + rng.uniform(-0.05, 0.05) * H
    sep_style = 1 if rng.random() < 0.3 else 0  # German seals between the groups
    x_end, y_end = draw_text_line(r, rng, plate, text, font, x0, y0, ch_h, squeeze, spacing, fg,
                                  rng.uniform(0.02, 0.05) if rng.random() < 0.4 else 0, sep_style)
    t = max(1, int(H * rng.uniform(0.02, 0.05)))
    cv2.rectangle(plate, (0, 0), (W - 1, H - 1), fg.tolist(), t)
    return plate, text.replace(" ", "").replace("-", ""), (x0, y0, x_end, y_end), []


def br_plate(r: Renderer, rng, W: int):
    H = int(W / rng.uniform(2.9, 3.2))
    mercosur = rng.random() < 0.55
    plate = np.empty((H, W, 3), np.float32)
    words = []
    if mercosur:
        text = fill_format(rng, "LLL9L99")
        plate[:] = np.full(3, rng.uniform(220, 255), np.float32)
        bh = int(H * rng.uniform(0.2, 0.26))
        plate[:bh] = np.array([rng.uniform(130, 180), rng.uniform(60, 90), rng.uniform(0, 30)], np.float32)
        small_text(r, rng, plate, "BRASIL", W / 2, bh * 0.15, bh * 0.7, np.array([250, 250, 250], np.float32))
        fg = np.full(3, rng.uniform(0, 40), np.float32)
        top = bh
    else:
        text = fill_format(rng, "LLL-9999" if rng.random() < 0.6 else "LLL9999")
        g = rng.uniform(130, 200)
        plate[:] = np.array([g, g, g], np.float32) + rng.uniform(-10, 10, 3).astype(np.float32)
        if rng.random() < 0.25:  # red (commercial) plates: white characters
            plate[:] = np.array([30, 30, rng.uniform(150, 210)], np.float32)
            fg = np.full(3, 240, np.float32)
        else:
            fg = np.full(3, rng.uniform(0, 40), np.float32)
        bh = int(H * rng.uniform(0.18, 0.25))
        city = pick(rng, BR_CITIES)
        small_text(r, rng, plate, city, W / 2, bh * 0.15, bh * 0.7, fg, max_w=W * 0.8)
        words.append((city, bh * 0.15, bh * 0.7))
        top = bh
    font = pick(rng, r.fonts)
    ch_h = (H - top) * rng.uniform(0.62, 0.78)
    squeeze = rng.uniform(0.6, 1.0)
    spacing = rng.uniform(0.03, 0.12)
    tw = text_width(r, text, font, ch_h, squeeze, spacing)
    avail = W * rng.uniform(0.82, 0.94)
    if tw > avail:
        squeeze *= avail / tw
        tw = avail
    x0 = (W - tw) / 2
    y0 = top + (H - top - ch_h) / 2
    x_end, y_end = draw_text_line(r, rng, plate, text, font, x0, y0, ch_h, squeeze, spacing, fg,
                                  rng.uniform(0.02, 0.05) if rng.random() < 0.5 else 0, 0)
    t = max(1, int(H * rng.uniform(0.02, 0.05)))
    cv2.rectangle(plate, (0, 0), (W - 1, H - 1), (fg * 0.5 + 20).tolist(), t)
    return plate, text.replace("-", ""), (x0, y0, x_end, y_end), words


def photometric(rng, img: np.ndarray) -> np.ndarray:
    """Lighting, night/IR, glare, shadows, gamma, polarity: img is float grey."""
    g = img
    mode = rng.random()
    if mode < 0.12:  # infrared: retroreflective plate bright, characters dark, the rest dark
        g = np.clip((g - g.mean()) * rng.uniform(1.5, 3.0) + rng.uniform(120, 200), 0, 255)
    elif mode < 0.2:  # dusk: dark and low contrast
        g = g * rng.uniform(0.15, 0.45) + rng.uniform(0, 30)
    elif mode < 0.3:  # glare: washed out
        g = g * rng.uniform(0.3, 0.7) + rng.uniform(100, 170)
    # uneven light (shadow across the plate, headlight spot)
    if rng.random() < 0.4:
        h, w = g.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(a) * xx / w + np.sin(a) * yy / h)
        g = g * (1 + rng.uniform(-0.5, 0.5) * ramp)
    if rng.random() < 0.2:  # hard shadow edge
        h, w = g.shape
        x = int(rng.integers(0, w))
        g[:, x:] *= rng.uniform(0.4, 0.8)
    gamma = rng.uniform(0.6, 1.6)
    g = 255.0 * (np.clip(g, 0, 255) / 255.0) ** gamma
    if rng.random() < 0.04:  # negative polarity (rare: a badly exposed IR frame, inverted plates)
        g = 255 - g
    return g


def degrade(rng, g: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Resolution loss (small plates upscaled), blur, motion blur, noise, JPEG; then the model's input size."""
    h, w = g.shape
    # the plate may have been small in the frame: shrink to a small size then back (upscale as the finder does)
    if rng.random() < 0.6:
        s = rng.uniform(0.25, 0.9)
        sw, sh = max(8, int(w * s)), max(4, int(h * s))
        g = cv2.resize(g, (sw, sh), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.4:
        k = rng.uniform(0.3, 1.4)
        g = cv2.GaussianBlur(g, (0, 0), k)
    if rng.random() < 0.15:
        n = int(rng.integers(2, 6))
        kern = np.zeros((n, n), np.float32)
        if rng.random() < 0.5:
            kern[n // 2, :] = 1.0 / n
        else:
            np.fill_diagonal(kern, 1.0 / n)
        g = cv2.filter2D(g, -1, kern)
    noise = np.empty(g.shape, np.float32)
    cv2.setRNGSeed(int(rng.integers(2**31)))  # cv2's generator is much faster than numpy's; seeded from rng
    cv2.randn(noise, 0.0, float(rng.uniform(0, 12)))
    g = g.astype(np.float32) + noise
    g = np.clip(g, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        q = int(rng.integers(15, 80))
        ok, buf = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            g = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    interp = cv2.INTER_AREA if g.shape[1] > out_w else cv2.INTER_CUBIC
    return cv2.resize(g, (out_w, out_h), interpolation=interp)


def place(rng, plate: np.ndarray, box: tuple[float, float, float, float], tight: bool) -> np.ndarray:
    """Puts the plate (colour) on a background, tilts it (perspective, up to ~15 degrees), and cuts the crop around
    box (x0,y0,x1,y1 in plate coordinates) with random margins and misalignment. Returns grey float32."""
    H, W = plate.shape[:2]
    pad = int(max(H, W) * 0.45)
    canvas = background_texture(rng, H + 2 * pad, W + 2 * pad)
    canvas[pad: pad + H, pad: pad + W] = cv2.cvtColor(np.clip(plate, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
    # perspective: rotation up to ~15 degrees in plane, yaw/pitch by moving corners
    ang = float(np.clip(rng.normal(0, 5), -15, 15))
    cx, cy = pad + W / 2, pad + H / 2
    src = np.float32([[pad, pad], [pad + W, pad], [pad + W, pad + H], [pad, pad + H]])
    jit = rng.uniform(-0.08, 0.08, (4, 2)).astype(np.float32) * np.float32([W, H])
    if rng.random() < 0.5:  # yaw: one side shorter
        d = rng.uniform(-0.12, 0.12) * H
        jit[1, 1] += d
        jit[2, 1] -= d
    rot = cv2.getRotationMatrix2D((cx, cy), ang, 1.0)
    dst = np.hstack([src + jit, np.ones((4, 1), np.float32)]) @ rot.T
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    x0, y0, x1, y1 = box
    pts = np.float32([[pad + x0, pad + y0], [pad + x1, pad + y0], [pad + x1, pad + y1], [pad + x0, pad + y1]])
    pts = cv2.perspectiveTransform(pts[None], M)[0]
    bx0, by0 = pts[:, 0].min(), pts[:, 1].min()
    bx1, by1 = pts[:, 0].max(), pts[:, 1].max()
    bw, bh = bx1 - bx0, by1 - by0
    if tight:  # a text detector's row: small margins, sometimes cutting a little
        mx0, mx1 = rng.uniform(-0.02, 0.12) * bw, rng.uniform(-0.02, 0.12) * bw
        my0, my1 = rng.uniform(-0.05, 0.3) * bh, rng.uniform(-0.05, 0.3) * bh
    else:  # a finder's plate box: from slightly inside the plate to well outside it
        mx0, mx1 = rng.uniform(-0.03, 0.2) * bw, rng.uniform(-0.03, 0.2) * bw
        my0, my1 = rng.uniform(-0.03, 0.25) * bh, rng.uniform(-0.03, 0.25) * bh
    X0 = int(max(0, bx0 - mx0))
    Y0 = int(max(0, by0 - my0))
    X1 = max(int(min(canvas.shape[1], bx1 + mx1)), X0 + 4)
    Y1 = max(int(min(canvas.shape[0], by1 + my1)), Y0 + 4)
    # warp only the crop: the perspective followed by a shift to the crop's corner
    shift = np.array([[1, 0, -X0], [0, 1, -Y0], [0, 0, 1]], np.float64)
    return cv2.warpPerspective(canvas, shift @ M, (X1 - X0, Y1 - Y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


class Generator:
    def __init__(self, seed: int, out_w: int = 128, out_h: int = 32, clean: bool = False, keep_size: bool = False):
        self.seed = seed
        self.out_w = out_w
        self.out_h = out_h
        self.clean = clean  # no lighting effects, blur, noise or JPEG (test fixtures)
        self.keep_size = keep_size  # the crop at its own size, not the model's input size
        self.r = Renderer()

    def sample(self, index: int) -> tuple[np.ndarray, str]:
        """Sample `index`: (uint8 grey out_h x out_w, label). Deterministic in (seed, index)."""
        rng = np.random.default_rng([self.seed, index])
        kind = rng.random()
        W = int(rng.integers(200, 300))
        if kind < 0.55:
            plate, label, row, words = us_plate(self.r, rng, W)
        elif kind < 0.78:
            plate, label, row, words = eu_plate(self.r, rng, W)
        else:
            plate, label, row, words = br_plate(self.r, rng, W)
        H, Wp = plate.shape[:2]
        mode = rng.random()
        if mode < 0.5:  # the whole plate, as a finder's box: the label is the plate number
            box, tight = (0, 0, Wp, H), False
        elif mode < 0.9 or not words:  # the plate number's row, as a text detector cuts it
            box, tight = row, True
        else:  # a row of words (state name, slogan, city): its label is its letters
            text, top, hh = words[int(rng.integers(len(words)))]
            label = "".join(c for c in text.upper() if c in ALPHABET)
            box, tight = (Wp * 0.05, top, Wp * 0.95, top + hh), True
        crop = place(rng, plate, box, tight)
        if self.clean:
            g = np.clip(crop, 0, 255).astype(np.uint8)
            return (g if self.keep_size else cv2.resize(g, (self.out_w, self.out_h), interpolation=cv2.INTER_AREA)), label
        g = photometric(rng, crop)
        if self.keep_size:
            return degrade(rng, g, g.shape[1], g.shape[0]), label
        return degrade(rng, g, self.out_w, self.out_h), label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write PNGs and labels.tsv into")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first sample index")
    ap.add_argument("--size", default="128x32", help="WxH of the model input")
    ap.add_argument("--keep-size", action="store_true", help="write each crop at its own size")
    ap.add_argument("--clean", action="store_true", help="no lighting effects, blur, noise or JPEG")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    gen = Generator(args.seed, w, h, clean=args.clean, keep_size=args.keep_size)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "labels.tsv"), "w") as f:
        for i in range(args.start, args.start + args.count):
            img, label = gen.sample(i)
            name = f"{i:07d}_{label}.png"
            cv2.imwrite(os.path.join(args.out, name), img)
            f.write(f"{name}\t{label}\n")


if __name__ == "__main__":
    main()
