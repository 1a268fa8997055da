#!/usr/bin/env python3
"""Fourth, independent generator of VinDr-Mammo look-alike trees with exact QC truth.

Written without reading mcq's sources or the other three generators. Where those
model physics, this one models *appearance, dataset by dataset*: every study is
drawn from one "source style" that imitates how a curator sees a public dataset
(CBIS-DDSM / DDSM digitized films, mini-MIAS, INbreast, VinDr-Mammo, RSNA,
EMBED, CMMD, KAU-BCMD, CDD-CESM low-energy and recombined images, and raw
"for processing" FFDM), with vendor looks (Hologic equalization, GE grey
background, Siemens collimator shading, Fuji grey background and overlays),
hard anatomy (very large / very small breasts, implants and implant-displaced
views, spot-compression / magnification views, big pectoral muscles,
abdominal folds, dense breasts) and acquisition artefacts (heel gradients in
any direction, grid lines, dead lines, constant padding, frames, noisy or
clipped air, over/under-exposure, JPEG blockiness, posterization).

Truth is exact by construction. Every scene is built in canonical orientation
(chest wall on the left) and display polarity (air dark, tissue bright); it is
mirrored when the stored chest-wall side must be the right one; stored-frame
artefacts (text, markers, rulers, film borders, scanner bed, padding) are then
placed in the stored frame, so they are not tied to the chest wall; the
polarity is applied last (MONOCHROME1 stores inverted values, "content
inverted" MONOCHROME2 stores inverted values, a "mislabelled" MONOCHROME1
stores display values) and the result is quantized to BitsStored.

  expected_inverted  = the stored values show a bright background, i.e. the
                       output must be the inverse of the stored values
                     = (photometric == MONOCHROME1) XOR content_inverted
                       (`content_inverted` is in `kinds` for both the
                       inverted MONOCHROME2 and the mislabelled MONOCHROME1)
  stored_chest_wall_side = the side of the stored image the breast is
                       attached to; laterality_flipped = it disagrees with the
                       label (L: left, R: right).

    python lookalike4.py OUT [--images 300] [--seed N] [--workers 2] [--truth PATH]

Only numpy, scipy, Pillow and pydicom are used.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import os
import pathlib
import time
import warnings
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

import pydicom
import pydicom.config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

BREAST_HEADER = ["study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
                 "breast_birads", "breast_density", "split"]
FINDING_HEADER = ["study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
                  "breast_birads", "breast_density", "finding_categories", "finding_birads", "xmin", "ymin",
                  "xmax", "ymax", "split"]
METADATA_HEADER = ["SOP Instance UID", "Series Instance UID", "Study Instance UID", "Patient's Age",
                   "Patient's Sex", "Photometric Interpretation", "Rows", "Columns", "Bits Stored",
                   "Manufacturer", "Manufacturer's Model Name"]
TRUTH_HEADER = ["image_id", "laterality", "view", "photometric", "stored_chest_wall_side", "laterality_flipped",
                "expected_inverted", "kinds", "path"]

SOP_MG_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
SOP_MG_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
SOP_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

SLOTS = [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]

# style: (share of studies, weight for MONOCHROME1 studies, weight for content inversion)
STYLES = {
    "cbis": (0.17, 0.0, 1.6),       # DDSM LJPEG films converted to 16-bit DICOM
    "mias": (0.04, 0.0, 1.2),       # mini-MIAS: 8-bit, 1024 x 1024, film padded/clipped
    "inbreast": (0.08, 0.15, 0.6),  # Siemens MammoNovation, 14 bit
    "vindr": (0.15, 1.5, 0.8),      # Siemens Inspiration / Planmed Nuance / IMS Giotto
    "rsna": (0.14, 1.0, 0.8),       # Hologic / GE screening sites
    "embed": (0.07, 0.5, 0.8),      # Hologic / GE / Fuji
    "cmmd": (0.09, 1.6, 0.8),       # GE Senographe DS, 8 bit, 2294 x 1914
    "kau": (0.08, 0.2, 1.6),        # 8-bit JPEG-derived images in DICOM
    "cesm": (0.10, 0.15, 1.0),      # CDD-CESM low-energy and recombined (subtracted) JPEGs
    "raw": (0.08, 2.2, 0.6),        # FOR PROCESSING raw images (EMBED/OPTIMAM-like)
}
FILM_STYLES = ("cbis", "mias")

# style -> [(Manufacturer, ManufacturerModelName, look, probability)]
VENDORS = {
    "cbis": [("LUMISYS", "LUMISYS LASER", "film", 0.5), ("HOWTEK", "MultiRAD 850", "film", 0.3),
             ("DBA", "M2100 ImageClear", "film", 0.2)],
    "mias": [("Joyce-Loebl", "SCANDIG-3", "film", 1.0)],
    "inbreast": [("SIEMENS", "MammoNovation", "siemens", 1.0)],
    "vindr": [("SIEMENS", "Mammomat Inspiration", "siemens", 0.55), ("Planmed", "Planmed Nuance", "planmed", 0.3),
              ("IMS", "GIOTTO IMAGE 3DL", "ims", 0.15)],
    "rsna": [("HOLOGIC, Inc.", "Selenia Dimensions", "hologic", 0.55),
             ("GE MEDICAL SYSTEMS", "Senographe Essential", "ge", 0.3),
             ("GE HEALTHCARE", "Senographe Pristina", "ge", 0.15)],
    "embed": [("HOLOGIC, Inc.", "Lorad Selenia", "hologic", 0.5), ("GE MEDICAL SYSTEMS", "Senographe 2000D", "ge", 0.2),
              ("FUJIFILM Corporation", "FDR MS-3500", "fuji", 0.3)],
    "cmmd": [("", "", "ge", 1.0)],
    "kau": [("", "", "kau", 1.0)],
    "cesm": [("GE MEDICAL SYSTEMS", "Senographe DS", "ge", 0.5), ("HOLOGIC, Inc.", "Selenia Dimensions", "hologic", 0.5)],
    "raw": [("HOLOGIC, Inc.", "Selenia Dimensions", "hologic", 0.5), ("GE MEDICAL SYSTEMS", "Senographe Essential", "ge", 0.5)],
}

_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
_FONT_FILES = {
    "bold": "DejaVuSans-Bold.ttf", "sans": "DejaVuSans.ttf", "cond": "DejaVuSansCondensed.ttf",
    "mono": "DejaVuSansMono.ttf", "monobold": "DejaVuSansMono-Bold.ttf", "serif": "DejaVuSerif-Bold.ttf",
}
_FONT_CACHE: dict = {}


# ----------------------------------------------------------------------------- small helpers

def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _u(rng, a, b):
    return float(rng.uniform(a, b))


def _pick(rng, items, probs=None):
    if probs is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(probs, dtype=float)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def _font(size: int, kind: str = "bold"):
    size = max(6, int(size))
    key = (size, kind)
    if key not in _FONT_CACHE:
        font = None
        try:
            font = ImageFont.truetype(os.path.join(_FONT_DIR, _FONT_FILES.get(kind, "DejaVuSans.ttf")), size)
        except Exception:
            try:
                font = ImageFont.load_default(size=size)
            except Exception:
                font = ImageFont.load_default()
        _FONT_CACHE[key] = font
    return _FONT_CACHE[key]


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _noise(rng, shape, sigma):
    """Zero-mean unit-variance Gaussian-filtered white noise (float32)."""
    n = rng.standard_normal(shape, dtype=np.float32)
    if np.any(np.asarray(sigma) > 0.3):
        n = ndimage.gaussian_filter(n, sigma, mode="reflect", truncate=3.0)
    n -= n.mean()
    n /= float(n.std()) + 1e-6
    return n


def _up(a, h, w):
    """Bilinear resize of a float array to (h, w)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.shape == (h, w):
        return a.copy()
    return np.array(Image.fromarray(a).resize((int(w), int(h)), Image.BILINEAR), dtype=np.float32)


def _ramp(h, w, theta):
    """Linear ramp in [-0.5, 0.5] along direction theta (radians)."""
    y = (np.arange(h, dtype=np.float32) / max(h - 1, 1) - 0.5)[:, None]
    x = (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)[None, :]
    r = x * math.cos(theta) + y * math.sin(theta)
    lo, hi = float(r.min()), float(r.max())
    return ((r - lo) / max(hi - lo, 1e-6) - 0.5).astype(np.float32)


def _edge_ramps(h, w, x0, y0, x1, y1, soft):
    """Soft-edged rectangle alpha (separable product of ramps)."""
    xs = np.arange(w, dtype=np.float32) + 0.5
    ys = np.arange(h, dtype=np.float32) + 0.5
    s = max(soft, 0.5)
    ax = np.clip((xs - x0) / s + 0.5, 0, 1) * np.clip((x1 - xs) / s + 0.5, 0, 1)
    ay = np.clip((ys - y0) / s + 0.5, 0, 1) * np.clip((y1 - ys) / s + 0.5, 0, 1)
    return ay[:, None] * ax[None, :]


def _blend_patch(img, mask, x, y, value):
    """img[y:y+h, x:x+w] = lerp(img, value, mask), clipped to the image; value may be an array."""
    h, w = mask.shape
    H, W = img.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return False
    m = mask[y0 - y:y1 - y, x0 - x:x1 - x]
    sub = img[y0:y1, x0:x1]
    if np.ndim(value):
        value = value[y0 - y:y1 - y, x0 - x:x1 - x]
    img[y0:y1, x0:x1] = sub * (1 - m) + value * m
    return True


def _text_mask(text, size, kind="bold", angle=0, stroke=0):
    font = _font(size, kind)
    lines = text.split("\n")
    dummy = ImageDraw.Draw(Image.new("L", (4, 4)))
    boxes = [dummy.textbbox((0, 0), ln or " ", font=font, stroke_width=stroke) for ln in lines]
    lh = max(b[3] - b[1] for b in boxes) + max(2, size // 5)
    tw = max(b[2] - b[0] for b in boxes) + 6
    th = lh * len(lines) + 6
    im = Image.new("L", (int(tw), int(th)), 0)
    d = ImageDraw.Draw(im)
    for i, (ln, b) in enumerate(zip(lines, boxes)):
        d.text((3 - b[0], 3 + i * lh - b[1]), ln, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    if angle:
        im = im.rotate(angle, expand=True, resample=Image.BILINEAR)
    return np.asarray(im, dtype=np.float32) / 255.0


def _place(rng, H, W, mh, mw, corner, margin_frac=(0.01, 0.05)):
    """Top-left position of an (mh, mw) item at a corner ('tl', 'tr', 'bl', 'br', 'ml', 'mr', 'tm', 'bm')."""
    mx = int(W * _u(rng, *margin_frac))
    my = int(H * _u(rng, *margin_frac))
    if corner[1] == "l":
        x = mx
    elif corner[1] == "r":
        x = W - mw - mx
    else:
        x = int(W / 2 - mw / 2 + W * _u(rng, -0.2, 0.2))
    if corner[0] == "t":
        y = my
    elif corner[0] == "b":
        y = H - mh - my
    else:
        y = int(H * _u(rng, 0.25, 0.7))
    return max(0, x), max(0, y)


def _handwriting_mask(rng, width, height, thickness):
    """A cursive-looking scribble (loops and strokes) as a float mask."""
    im = Image.new("L", (int(width), int(height)), 0)
    d = ImageDraw.Draw(im)
    words = int(rng.integers(1, 4))
    x = _u(rng, 0.02, 0.1) * width
    cy = height / 2
    for _ in range(words):
        n = int(rng.integers(25, 70))
        wlen = _u(rng, 0.2, 0.4) * width
        t = np.linspace(0, 1, n)
        freq = _u(rng, 3, 8)
        amp = height * _u(rng, 0.15, 0.35)
        xs = x + t * wlen + np.sin(t * freq * 2 * np.pi + _u(rng, 0, 6)) * height * 0.12
        ys = cy + np.sin(t * freq * 4 * np.pi) * amp * (0.6 + 0.4 * np.sin(t * 3 + _u(rng, 0, 6)))
        ys += np.cumsum(rng.normal(0, height * 0.01, n))
        pts = list(zip(xs.tolist(), ys.tolist()))
        d.line(pts, fill=255, width=int(thickness), joint="curve")
        x += wlen + _u(rng, 0.04, 0.1) * width
        if x > width * 0.9:
            break
    return np.asarray(im, dtype=np.float32) / 255.0


# ----------------------------------------------------------------------------- anatomy (canonical frame)

class Scene:
    pass


def build_scene(rng, fh, fw, view, anat):
    """Breast anatomy in canonical orientation (chest wall at x = 0).

    Returns a Scene with full-resolution float32 maps: alpha (body coverage),
    dist (distance to the skin, px), thick (compressed-thickness roll-off),
    gland (fibroglandular fraction), tex (fine texture), pect, implant,
    lesion, calc, plus the contour d(y)."""
    sc = Scene()
    size = anat["size"]
    spot = anat.get("spot", False)
    ref = min(fw, 0.95 * fh)
    D = ref * {"small": _u(rng, 0.15, 0.33), "large": _u(rng, 0.82, 1.06), "normal": _u(rng, 0.45, 0.8)}[size]
    y = np.arange(fh, dtype=np.float32) + 0.5
    x = np.arange(fw, dtype=np.float32) + 0.5
    a = _u(rng, 1.8, 2.8)
    b = _u(rng, 1.6, 2.6)
    if view == "CC":
        yc = fh * (0.5 + float(np.clip(rng.normal(0, 0.05), -0.12, 0.12)))
        rngB = {"small": (0.12, 0.26), "large": (0.52, 0.8), "normal": (0.3, 0.47)}[size]
        Bt, Bb = fh * _u(rng, *rngB), fh * _u(rng, *rngB)
    else:
        yc = fh * _u(rng, 0.42, 0.6)
        Bt = yc * (_u(rng, 0.6, 1.1) if size == "small" else _u(rng, 1.05, 1.5))
        Bb = fh * _u(rng, *{"small": (0.12, 0.25), "large": (0.45, 0.72), "normal": (0.27, 0.42)}[size])
    if spot:  # magnified: the breast fills most of the collimated field, the skin may show
        D = anat["spot_x1"] * _u(rng, 0.6, 1.3)
        Bt, Bb = fh * _u(rng, 0.6, 0.95), fh * _u(rng, 0.6, 0.95)
    t = np.where(y < yc, (yc - y) / Bt, (y - yc) / Bb)
    d = D * np.power(np.clip(1.0 - np.power(np.minimum(t, 1.0), a), 0.0, 1.0), 1.0 / b)
    d *= 1.0 + 0.025 * _noise(rng, (fh,), fh * 0.06)
    if rng.random() < 0.6 and size != "small" and not spot:  # nipple in profile
        nh, nw = _u(rng, 0.006, 0.018) * fh, _u(rng, 0.008, 0.016) * fh
        d += (nh * np.exp(-((y - yc) / nw) ** 2)).astype(np.float32) * (d > 0)
    P = np.zeros(fh, dtype=np.float32)
    sc.pect_big = False
    if view == "MLO" and not spot:
        big = anat.get("big_pect", False)
        Pw = fw * (_u(rng, 0.33, 0.5) if big else _u(rng, 0.12, 0.3))
        Ph = fh * (_u(rng, 0.6, 0.92) if big else _u(rng, 0.3, 0.6))
        if size == "small":
            Pw, Ph = Pw * 0.6, Ph * 0.7
        c = _u(rng, 0.8, 1.4)
        P = (Pw * np.clip(1 - y / Ph, 0, 1) ** c).astype(np.float32)
        Pm = np.where(P > 0, P * _u(rng, 1.15, 1.5) + 0.02 * fw, 0)
        d = np.power(np.power(d, 4) + np.power(Pm, 4), 0.25).astype(np.float32)  # soft union
        sc.pect_big = big
    A = np.zeros(fh, dtype=np.float32)
    sc.abdomen = False
    if view == "MLO" and anat.get("abdomen", False) and not spot:
        ya = yc + Bb + _u(rng, 0.0, 0.05) * fh
        if ya < 0.93 * fh:
            Ah, Aw = _u(rng, 0.12, 0.3) * fh, _u(rng, 0.06, 0.22) * fw
            yy = (y - (ya + Ah)) / Ah
            A = (Aw * np.sqrt(np.clip(1 - yy ** 2, 0, 1)) * (y > ya)).astype(np.float32)
            sc.abdomen = True
    body_d = np.maximum(d, A).astype(np.float32)
    # body coverage, antialiased at full resolution
    dx = body_d[:, None] - x[None, :]
    alpha = np.clip(dx + 0.5, 0, 1).astype(np.float32)
    # distance to the skin: Euclidean at 1/4 resolution, refined by the exact row distance
    f = 4
    lh, lw = max(4, -(-fh // f)), max(4, -(-fw // f))
    yl = (np.arange(lh, dtype=np.float32) + 0.5) * fh / lh
    xl = (np.arange(lw, dtype=np.float32) + 0.5) * fw / lw
    bd_l = np.interp(yl, y, body_d).astype(np.float32)
    mask_l = xl[None, :] < bd_l[:, None]
    dist_l = (ndimage.distance_transform_edt(mask_l) * (fw / lw)).astype(np.float32)
    dist = np.minimum(_up(dist_l, fh, fw), np.maximum(dx, 0))
    L = max(5.0, _u(rng, 0.06, 0.16) * max(D if not spot else 0.4 * fw, 0.15 * fw))
    if size == "small":
        L = max(4.0, L * 0.6)
    s = np.clip(dist / L, 0, 1)
    thick = np.sqrt(1 - (1 - s) ** 2)
    # fibroglandular fraction at 1/4 resolution: a cone of glands behind the nipple,
    # broken into lobules and fat islands, with subcutaneous fat under the skin
    d_l = np.interp(yl, y, d).astype(np.float32)
    u = xl[None, :] / np.maximum(d_l[:, None], 1.0)
    if view == "CC":
        gy, sig = yc, 0.55 * (Bt + Bb) / 2
    else:
        gy, sig = yc - 0.08 * fh, 0.33 * fh
    W = np.exp(-((yl[:, None] - gy) / max(sig, 1.0)) ** 2) * _smoothstep(0.0, 0.3, u) * (1 - _smoothstep(0.6, 1.0, u))
    n1 = _noise(rng, (lh, lw), max(1.0, lw / 9))
    n2 = _noise(rng, (lh, lw), max(0.8, lw / 35))
    n3 = _noise(rng, (lh, lw), 0.8)
    lev = {"A": -0.75, "B": -0.4, "C": -0.05, "D": 0.35}[anat["density"]]
    graw = lev + 1.1 * W + 0.35 * n1 + 0.3 * n2 + 0.12 * n3
    g_l = 1.0 / (1.0 + np.exp(-3.0 * graw))
    g_l *= np.clip(dist_l / (1.2 * L + 0.02 * fw), 0, 1) ** 0.7
    if view == "MLO":  # glands are not in the pectoral muscle
        Pl = np.interp(yl, y, P)
        g_l *= np.clip((xl[None, :] - Pl[:, None]) / (0.05 * fw + 1), 0, 1)
    sc.gland = _up(g_l.astype(np.float32), fh, fw)
    # texture at 1/2 resolution: ducts and ligaments converging on the nipple
    # (a fan of thin curvilinear strands), plus mottle
    hh, hw = max(4, fh // 2), max(4, fw // 2)
    yh = (np.arange(hh, dtype=np.float32) + 0.5)[:, None] * (fh / hh)
    xh = (np.arange(hw, dtype=np.float32) + 0.5)[None, :] * (fw / hw)
    xn = max(D, 0.3 * fw) * 1.02
    warp = _up(_noise(rng, (max(4, hh // 16), max(4, hw // 16)), 1.2), hh, hw)
    theta = np.arctan2(yh - yc, xn - xh) + 0.025 * warp
    nfan = 2400
    fan = _noise(rng, (nfan,), 1.3)
    fan = np.interp(theta, np.linspace(-math.pi, math.pi, nfan), fan).astype(np.float32)
    brk = _up(_noise(rng, (max(4, hh // 24), max(4, hw // 24)), 1.0), hh, hw)
    strands = np.maximum(fan - 0.8, 0) * np.clip(0.6 + 0.6 * brk, 0, 1.5)
    mottle = _noise(rng, (hh, hw), (1.2, 1.8))
    tn = 1.1 * strands + 0.4 * mottle
    sc.tex = _up(tn - tn.mean(), fh, fw)
    # pectoral muscle
    if view == "MLO" and not spot:
        ew = _u(rng, 1.5, 6.0)
        sc.pect = np.clip((P[:, None] - x[None, :]) / ew + 0.5, 0, 1) * alpha
    else:
        sc.pect = None
    # implant
    sc.implant = None
    if anat.get("implant"):
        rx = _u(rng, 0.3, 0.45) * max(D, 0.35 * fw)
        ry = _u(rng, 0.22, 0.36) * fh
        if anat.get("implant_displaced"):
            cx = -_u(rng, 0.35, 0.75) * rx
        else:
            cx = _u(rng, 0.05, 0.25) * max(D, 0.35 * fw)
        cy = yc + rng.normal(0, 0.03) * fh
        r = np.sqrt(((x[None, :] - cx) / rx) ** 2 + ((y[:, None] - cy) / ry) ** 2)
        sc.implant = (np.clip((1 - r) * min(rx, ry) / 3.0, 0, 1) * alpha).astype(np.float32)
        sc.implant_rim = (np.exp(-((r - 1) * min(rx, ry) / 4.0) ** 2) * alpha).astype(np.float32)
    # masses and calcifications
    sc.lesion = None
    sc.calc = None
    rows_in = np.nonzero(d > 0.2 * fw)[0]
    if anat.get("mass") and len(rows_in):
        les = np.zeros((fh, fw), dtype=np.float32)
        for _ in range(int(rng.integers(1, 3))):
            ry0 = int(rows_in[int(rng.integers(len(rows_in)))])
            cx, cy = _u(rng, 0.25, 0.75) * d[ry0], ry0
            R = _u(rng, 0.015, 0.05) * fh
            n = int(R * 2.6) + 4
            yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
            th = np.arctan2(yy, xx)
            rr = R * (1 + sum(_u(rng, 0, 0.15) * np.cos(k * th + _u(rng, 0, 6)) for k in range(2, 7)))
            rho = np.sqrt(xx ** 2 + yy ** 2)
            m = _smoothstep(1.15, 0.75, rho / rr)
            if rng.random() < 0.4:  # spicules
                sp = np.abs(np.cos(th * int(rng.integers(6, 14)) + _u(rng, 0, 6))) ** 30 * (rho < 2.2 * R)
                m = np.maximum(m, 0.5 * sp * _smoothstep(2.2, 1.0, rho / R))
            _blend_patch(les, m.astype(np.float32), int(cx) - n, int(cy) - n, 1.0)
        sc.lesion = les * alpha
    if anat.get("calcs") and len(rows_in):
        cal = np.zeros((fh, fw), dtype=np.float32)
        ry0 = int(rows_in[int(rng.integers(len(rows_in)))])
        cx, cy = _u(rng, 0.2, 0.8) * d[ry0], ry0
        spread = _u(rng, 0.01, 0.04) * fh
        for _ in range(int(rng.integers(6, 30))):
            px, py = cx + rng.normal(0, spread), cy + rng.normal(0, spread)
            sgm = _u(rng, 0.6, 1.6)
            n = int(3 * sgm) + 1
            yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
            fx, fy = px - int(px), py - int(py)
            m = np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * sgm * sgm))
            _blend_patch(cal, m.astype(np.float32), int(px) - n, int(py) - n, 1.0)
        sc.calc = cal * alpha
    sc.alpha, sc.dist, sc.thick, sc.d, sc.body_d = alpha, dist, thick.astype(np.float32), d, body_d
    sc.touches_top_bottom = bool(body_d[0] > 2 and body_d[-1] > 2)
    sc.fills_width = bool(body_d.max() >= fw - 1)
    sc.D, sc.yc, sc.L = D, yc, L
    return sc


def _scene_tags(sc, kinds):
    if sc.pect_big:
        kinds.append("pectoral_big")
    if sc.abdomen:
        kinds.append("abdomen_fold")
    if sc.touches_top_bottom:
        kinds.append("touches_top_bottom")
    if sc.fills_width:
        kinds.append("fills_width")


def compose(sc, rng, look, air):
    """Display image (air dark, tissue bright) from the scene and a look dict."""
    f0, g1 = look["f0"], look["g1"]
    gl = sc.gland
    tissue = f0 + (g1 - f0) * gl + look["tex"] * sc.tex * (0.9 - 0.4 * gl)
    if sc.pect is not None:
        pv = look["pect"] + 0.25 * look["tex"] * sc.tex
        tissue = tissue * (1 - sc.pect) + pv * sc.pect
    if sc.lesion is not None:
        tissue = tissue + look["lesion"] * sc.lesion
    if sc.implant is not None:
        iv = look["implant"] + 0.03 * sc.tex * 0.2 + 0.04 * sc.implant_rim
        tissue = tissue * (1 - sc.implant) + iv * sc.implant
    eq = look["eq"]
    teq = np.power(sc.thick, look["roll"] * (1.0 - 0.93 * eq))
    body = air + (tissue - air) * teq
    if look["skin"] != 0:
        sw = look["skin_w"]
        band = np.clip(1.0 - sc.dist / sw, 0, 1) * (sc.dist > 0.5)
        body = body + look["skin"] * band
    if sc.calc is not None:
        body = body + look["calc"] * sc.calc
    return (air * (1 - sc.alpha) + body * sc.alpha).astype(np.float32)


# ----------------------------------------------------------------------------- plan

def _largest_remainder(weights, n):
    w = np.asarray(weights, dtype=float)
    w = w / w.sum() * n
    base = np.floor(w).astype(int)
    rest = n - base.sum()
    order = np.argsort(-(w - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _study_attrs(srng, style, seed, s):
    vend = VENDORS[style]
    manu, model, look, _ = vend[int(srng.choice(len(vend), p=np.array([v[3] for v in vend]) / sum(v[3] for v in vend)))]
    a = {"style": style, "manufacturer": manu, "model": model, "look": look}
    a["age"] = int(np.clip(srng.normal(55, 10), 30, 89))
    a["density"] = _pick(srng, ["A", "B", "C", "D"], [0.1, 0.37, 0.4, 0.13])
    if style in FILM_STYLES:
        a["size"] = _pick(srng, ["normal", "large", "small"], [0.6, 0.34, 0.06])
    else:
        a["size"] = _pick(srng, ["normal", "large", "small"], [0.72, 0.18, 0.10])
    a["implant"] = bool(srng.random() < (0.07 if style not in ("mias", "kau") else 0.04))
    a["birads"] = _pick(srng, ["BI-RADS 1", "BI-RADS 2", "BI-RADS 3", "BI-RADS 4", "BI-RADS 5"],
                        [0.6, 0.25, 0.07, 0.06, 0.02])
    a["split"] = "training" if srng.random() < 0.8 else "test"
    # geometry and bit depth
    if style == "cbis":
        a["rows"], a["aspect"] = int(srng.integers(1400, 2001)), _u(srng, 0.5, 0.68)
        a["bits"] = 16 if srng.random() < 0.8 else 12
        a["vmax"] = 4095 if (a["bits"] == 16 and srng.random() < 0.3) else (1 << a["bits"]) - 1
    elif style == "mias":
        a["rows"], a["aspect"], a["bits"] = 1024, 1.0, 8
    elif style == "inbreast":
        a["rows"] = int(srng.integers(1200, 1700))
        a["aspect"] = _pick(srng, [0.815, 0.77])
        a["bits"] = 14
    elif style == "vindr":
        a["rows"], a["aspect"] = int(srng.integers(1100, 1800)), _u(srng, 0.7, 0.8)
        a["bits"] = {"siemens": _pick(srng, [12, 16]), "planmed": 14, "ims": 16}[look]
    elif style in ("rsna", "embed"):
        a["rows"] = int(srng.integers(1100, 1800))
        a["aspect"] = {"hologic": 0.77, "ge": 0.8, "fuji": 0.8}[look] + _u(srng, -0.02, 0.02)
        a["bits"] = {"hologic": _pick(srng, [12, 14]), "ge": _pick(srng, [12, 14]), "fuji": _pick(srng, [10, 12])}[look]
    elif style == "cmmd":
        a["rows"], a["aspect"] = int(srng.integers(1000, 1500)), 1914 / 2294
        a["bits"] = 8 if srng.random() < 0.93 else 16
    elif style == "kau":
        a["rows"], a["aspect"], a["bits"] = int(srng.integers(600, 1000)), _u(srng, 0.6, 0.85), 8
    elif style == "cesm":
        a["rows"], a["aspect"] = int(srng.integers(1000, 1600)), _u(srng, 0.55, 0.8)
        a["bits"] = 8 if srng.random() < 0.8 else 12
    else:  # raw
        a["rows"], a["aspect"] = int(srng.integers(1100, 1700)), _u(srng, 0.75, 0.8)
        a["bits"] = _pick(srng, [14, 16])
    a.setdefault("vmax", (1 << a["bits"]) - 1)
    a["patient_id"] = _md5(f"lookalike4/{seed}/patient/{s}")[:20]
    a["study_id"] = _md5(f"lookalike4/{seed}/study/{s}")
    a["series_id"] = _md5(f"lookalike4/{seed}/series/{s}")
    return a


def make_plan(n_images, seed):
    prng = np.random.default_rng([seed, 4004, 1])
    n_studies = -(-n_images // 4)
    names = list(STYLES)
    counts = _largest_remainder([STYLES[k][0] for k in names], n_studies)
    styles = [nm for nm, c in zip(names, counts) for _ in range(c)]
    prng.shuffle(styles)
    studies = [_study_attrs(np.random.default_rng([seed, 4004, 2, s]), styles[s], seed, s) for s in range(n_studies)]
    # MONOCHROME1 studies: about 17 % of studies, weighted by style
    w1 = np.array([STYLES[st["style"]][1] for st in studies], dtype=float)
    k1 = min(int(round(0.17 * n_studies)), int((w1 > 0).sum()))
    mono1_studies = set()
    if k1 > 0:
        mono1_studies = set(prng.choice(n_studies, size=k1, replace=False, p=w1 / w1.sum()).tolist())
    specs = []
    for i in range(n_images):
        s = i // 4
        lat, view = SLOTS[i % 4]
        specs.append({"index": i, "seed": seed, "study_index": s, "study": studies[s], "lat": lat, "view": view,
                      "photometric": "MONOCHROME1" if s in mono1_studies else "MONOCHROME2",
                      "content_inverted": False, "flipped": False,
                      "image_id": _md5(f"lookalike4/{seed}/image/{i}")})
    m1 = [sp["index"] for sp in specs if sp["photometric"] == "MONOCHROME1"]
    n_mis = int(round(0.15 * len(m1)))
    if len(m1) >= 5:
        n_mis = max(1, n_mis)
    for i in (prng.choice(m1, size=n_mis, replace=False).tolist() if n_mis else []):
        specs[i]["content_inverted"] = True  # mislabelled: header MONOCHROME1, pixels in display polarity
    m2 = [sp["index"] for sp in specs if sp["photometric"] == "MONOCHROME2"]
    need = int(round(0.225 * n_images)) - (len(m1) - n_mis)
    need = min(max(need, int(round(0.035 * n_images))), len(m2))
    if need > 0:
        wi = np.array([STYLES[specs[i]["study"]["style"]][2] for i in m2], dtype=float)
        for i in prng.choice(m2, size=need, replace=False, p=wi / wi.sum()).tolist():
            specs[i]["content_inverted"] = True
    n_flip = int(round(0.275 * n_images))
    for i in prng.choice(n_images, size=n_flip, replace=False).tolist():
        specs[i]["flipped"] = True
    return specs


# ----------------------------------------------------------------------------- looks per style

def _ffdm_look(rng, lookname, density, kinds):
    """Tone parameters and background of a processed FFDM image."""
    lk = {"tex": _u(rng, 0.03, 0.07), "lesion": _u(rng, 0.08, 0.2), "calc": _u(rng, 0.25, 0.5),
          "implant": _u(rng, 0.93, 1.0), "skin": _u(rng, 0.02, 0.08), "skin_w": _u(rng, 2.0, 5.0), "roll": 1.0}
    lk["f0"] = _u(rng, 0.3, 0.45)
    lk["g1"] = min(0.97, lk["f0"] + _u(rng, 0.3, 0.45))
    lk["pect"] = _u(rng, 0.6, 0.85)
    air_level = 0.0
    if lookname == "hologic":
        lk["eq"] = _u(rng, 0.75, 0.97)
        kinds.append("vendor_hologic")
        kinds.append("equalized")
    elif lookname == "ge":
        lk["eq"] = _u(rng, 0.4, 0.7)
        kinds.append("vendor_ge")
        if rng.random() < 0.7:
            air_level = _u(rng, 0.1, 0.28)
    elif lookname == "siemens":
        lk["eq"] = _u(rng, 0.3, 0.6)
        kinds.append("vendor_siemens")
    elif lookname == "fuji":
        lk["eq"] = _u(rng, 0.45, 0.7)
        air_level = _u(rng, 0.1, 0.22)
        kinds.append("vendor_fuji")
    elif lookname in ("planmed", "ims"):
        lk["eq"] = _u(rng, 0.15, 0.45)
        kinds.append("vendor_" + lookname)
    else:  # kau and unknown
        lk["eq"] = _u(rng, 0.2, 0.6)
    if density == "D":
        lk["g1"] = min(1.0, lk["g1"] + 0.05)
    return lk, air_level


def _air_field(rng, h, w, level, kinds, clip_ok=True):
    """Background of a processed FFDM image."""
    if level <= 0 and clip_ok and rng.random() < 0.6:
        kinds.append("clipped_air")
        return np.zeros((h, w), dtype=np.float32), 0.0
    if level <= 0:
        level = _u(rng, 0.005, 0.04)
    air = np.full((h, w), level, dtype=np.float32)
    if rng.random() < 0.5:
        air += _u(rng, 0.01, 0.04) * _ramp(h, w, _u(rng, 0, 2 * math.pi))
    return air, 0.0


# ----------------------------------------------------------------------------- the image

def render(spec):
    """Render one image: returns (stored uint16 array, header dict, kinds, stored_side)."""
    rng = np.random.default_rng([spec["seed"], 4004, 3, spec["index"]])
    st = spec["study"]
    style, look = st["style"], st["look"]
    lat, view = spec["lat"], spec["view"]
    kinds = [f"style_{style}", view.lower()]
    label_side = "left" if lat == "L" else "right"
    stored_side = label_side if not spec["flipped"] else ("right" if label_side == "left" else "left")
    film = style in FILM_STYLES
    kinds.append("film" if film else "digital")
    # image size
    H = int(round(st["rows"] * _u(rng, 0.97, 1.03))) if style != "mias" else 1024
    aspect = st["aspect"] * (_u(rng, 0.97, 1.03) if style not in ("mias", "cmmd") else 1.0)
    if not film and style not in ("cmmd",) and rng.random() < 0.04:
        aspect = _u(rng, 0.95, 1.3)
        kinds.append("odd_aspect")
    H = int(np.clip(H, 600, 2000))
    W = int(np.clip(round(H * aspect), 360, 2000))
    # anatomy
    anat = {"size": st["size"], "density": st["density"], "implant": st["implant"],
            "mass": rng.random() < 0.12, "calcs": rng.random() < 0.1,
            "big_pect": view == "MLO" and rng.random() < 0.3, "abdomen": view == "MLO" and rng.random() < 0.4}
    if anat["size"] == "normal" and rng.random() < 0.06:
        anat["size"] = _pick(rng, ["large", "small"])
    if anat["implant"] and rng.random() < 0.35:
        anat["implant_displaced"] = True
    spot = (not film) and style not in ("cesm", "kau") and rng.random() < 0.045
    anat["spot"] = spot
    if anat["density"] == "D":
        kinds.append("dense")
    elif anat["density"] == "A":
        kinds.append("fatty")
    kinds.append({"large": "large_breast", "small": "small_breast", "normal": "normal_breast"}[anat["size"]])
    if anat["implant"]:
        kinds.append("implant_displaced" if anat.get("implant_displaced") else "implant")
    if anat["mass"]:
        kinds.append("mass")
    if anat["calcs"]:
        kinds.append("calcs")
    hdr = {"bits": st["bits"], "vmax": st["vmax"], "intent": "FOR PRESENTATION", "sop": SOP_MG_PRESENTATION,
           "window": True, "lossy": False, "spacing": None, "voi_sigmoid": False}
    if film:
        disp, meta = _render_film(rng, spec, H, W, stored_side, anat, kinds)
        hdr["sop"] = SOP_SECONDARY_CAPTURE
        hdr["window"] = False
    else:
        disp, meta = _render_digital(rng, spec, H, W, stored_side, anat, kinds, hdr)
    hdr["spacing"] = meta.get("spacing", 240.0 / W)
    disp = np.clip(disp, 0.0, 1.0)
    # ----- quantize (display polarity), JPEG if the source was a JPEG
    bits, vmax = hdr["bits"], hdr["vmax"]
    if style in ("kau", "cesm") and bits == 8:
        v8 = np.round(disp * 255).astype(np.uint8)
        if style == "kau" and rng.random() < 0.3:
            lv = int(rng.integers(24, 64))
            v8 = (np.round(v8.astype(np.float32) / 255 * (lv - 1)) * (255 / (lv - 1))).astype(np.uint8)
            kinds.append("posterized")
        q = int(rng.integers(8, 35)) if style == "kau" else int(rng.integers(55, 92))
        buf = io.BytesIO()
        Image.fromarray(v8).save(buf, format="JPEG", quality=q)
        v8 = np.array(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
        kinds.append("jpeg_blocky" if q < 40 else "jpeg")
        val = v8.astype(np.float64)
        vmax = 255
        hdr["lossy"] = True
        hdr["sop"] = SOP_SECONDARY_CAPTURE
    else:
        val = np.round(disp.astype(np.float64) * vmax)
    # ----- polarity
    expected_inverted = (spec["photometric"] == "MONOCHROME1") != spec["content_inverted"]
    if expected_inverted:
        val = vmax - val
    kinds.append("mono1" if spec["photometric"] == "MONOCHROME1" else "mono2")
    if spec["content_inverted"]:
        kinds.append("content_inverted")
        kinds.append("mono1_mislabelled" if spec["photometric"] == "MONOCHROME1" else "mono2_inverted")
    if expected_inverted:
        kinds.append("needs_inversion")
    full = (1 << bits) - 1
    # ----- stored-value artefacts: constant padding and dead lines
    if rng.random() < 0.12:
        pv = 0 if rng.random() < 0.5 else full
        kinds.append("pad_zero" if pv == 0 else "pad_max")
        sides = ["left", "right", "top", "bottom"]
        for side in rng.choice(sides, size=int(rng.integers(1, 3)), replace=False).tolist():
            frac = _u(rng, 0.02, 0.06) if side == stored_side else _u(rng, 0.03, 0.12)
            if side == stored_side:
                kinds.append("pad_chest_side")
            if side in ("left", "right"):
                n = max(2, int(W * frac))
                if side == "left":
                    val[:, :n] = pv
                else:
                    val[:, -n:] = pv
            else:
                n = max(2, int(H * frac))
                if side == "top":
                    val[:n, :] = pv
                else:
                    val[-n:, :] = pv
    if rng.random() < 0.05:
        kinds.append("dead_lines")
        for _ in range(int(rng.integers(1, 4))):
            v = _pick(rng, [0, full, int(full * _u(rng, 0.2, 0.8))])
            w = int(rng.integers(1, 4))
            if rng.random() < 0.6:
                c = int(rng.integers(0, W - w))
                val[:, c:c + w] = v
            else:
                r = int(rng.integers(0, H - w))
                val[r:r + w, :] = v
    stored = np.clip(val, 0, full).astype(np.uint16)
    kinds.append(f"bits{bits}")
    if spec["flipped"]:
        kinds.append("flipped")
    # window
    if hdr["window"]:
        if bits == 8:
            hdr["wc"], hdr["ww"] = 128, 256
        else:
            tis = stored[meta["tissue_mask"]] if meta.get("tissue_mask") is not None else stored.ravel()
            if tis.size < 100:
                tis = stored.ravel()
            lo, hi = np.percentile(tis[:: max(1, tis.size // 200000)], [1, 99])
            hdr["wc"], hdr["ww"] = int((lo + hi) / 2), max(2, int((hi - lo) * 1.1))
    return stored, hdr, kinds, stored_side, expected_inverted


def _flip_scene_outputs(arrs, mirror):
    return [None if a is None else (a[:, ::-1].copy() if mirror else a) for a in arrs]


def _heel(rng, img, kinds, prob=0.25, strength=(0.12, 0.35)):
    if rng.random() < prob:
        h, w = img.shape
        img *= 1.0 + _u(rng, *strength) * 2 * _ramp(h, w, _u(rng, 0, 2 * math.pi))
        kinds.append("heel")
    return img


def _grid_lines(rng, img, kinds, prob=0.06):
    if rng.random() < prob:
        h, w = img.shape
        period = _u(rng, 2.5, 9.0)
        amp = _u(rng, 0.01, 0.04)
        if rng.random() < 0.5:
            ph = np.sin(2 * np.pi * np.arange(w, dtype=np.float32) / period)[None, :]
        else:
            ph = np.sin(2 * np.pi * np.arange(h, dtype=np.float32) / period)[:, None]
        img *= 1.0 + amp * ph
        kinds.append("grid_lines")
    return img


def _frame(rng, img, kinds, prob=0.07):
    if rng.random() < prob:
        h, w = img.shape
        t = max(4, int(min(h, w) * _u(rng, 0.015, 0.05)))
        v = 0.0 if rng.random() < 0.5 else _u(rng, 0.9, 1.0)
        img[:t, :] = v
        img[-t:, :] = v
        img[:, :t] = v
        img[:, -t:] = v
        kinds.append("frame_black" if v == 0 else "frame_white")
    return img


def _text_blocks(rng, img, spec, stored_side, kinds, look, prob, value=None):
    """Burned-in vendor text, in any corner (including the chest-wall side)."""
    if rng.random() >= prob:
        return
    H, W = img.shape
    lat, view = spec["lat"], spec["view"]
    st = spec["study"]
    corners = ["tl", "tr", "bl", "br", "ml", "mr", "tm", "bm"]
    nblocks = int(rng.integers(1, 4))
    chosen = rng.choice(len(corners), size=nblocks, replace=False, p=np.array([3, 3, 3, 3, 1, 1, 1, 1]) / 16)
    placed_chest = False
    for ci in chosen.tolist():
        corner = corners[ci]
        kind = int(rng.integers(0, 6))
        if kind == 0:
            txt = _pick(rng, [f"{lat} {view}", f"{lat}{view}", f"{'LEFT' if lat == 'L' else 'RIGHT'} {view}",
                              f"{lat}-{view}", f"{view} {lat}"])
            size = int(H * _u(rng, 0.03, 0.055))
            font = "bold"
        elif kind == 1:
            txt = f"kVp: {int(rng.integers(25, 35))}\nmAs: {int(rng.integers(40, 220))}\n" \
                  f"Comp: {_u(rng, 4, 18):.1f} daN\nThk: {int(rng.integers(25, 80))} mm"
            if view == "MLO":
                txt += f"\nAngle: {int(rng.integers(40, 60))}"
            size = int(H * _u(rng, 0.012, 0.02))
            font = "sans"
        elif kind == 2:
            txt = f"{st['manufacturer'] or 'MAMMO'}\n{st['model'] or 'UNIT 2'}\n" \
                  f"{int(rng.integers(2008, 2021))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
            size = int(H * _u(rng, 0.012, 0.022))
            font = "cond"
        elif kind == 3:
            txt = f"S {int(rng.integers(40, 300))}  L {_u(rng, 1.4, 2.4):.1f}\nEDR: {_pick(rng, ['AUTO', 'SEMI', 'FIX'])}" \
                if look == "fuji" else f"AGD {_u(rng, 0.6, 2.5):.2f} mGy\nESD {_u(rng, 3, 9):.2f} mGy"
            size = int(H * _u(rng, 0.012, 0.022))
            font = "mono"
        elif kind == 4:
            txt = f"ID {int(rng.integers(10**6, 10**7))}\nAGE {st['age']}Y"
            size = int(H * _u(rng, 0.014, 0.024))
            font = "monobold"
        else:
            txt = _pick(rng, ["MAMMO SCREENING", "TOMO+2D", "C-VIEW", "IMPLANT", "SPOT", "MAG 1.8x", "PROCESSED"])
            size = int(H * _u(rng, 0.014, 0.03))
            font = "bold"
        angle = 90 if rng.random() < 0.08 else 0
        m = _text_mask(txt, size, font, angle=angle)
        x, y = _place(rng, H, W, *m.shape, corner)
        v = value if value is not None else (_u(rng, 0.85, 1.0) if rng.random() < 0.85 else _u(rng, 0.55, 0.8))
        if rng.random() < 0.15:  # dark box behind the text
            box = np.ones((m.shape[0] + 6, m.shape[1] + 6), dtype=np.float32)
            _blend_patch(img, box, x - 3, y - 3, 0.0)
            kinds.append("text_box")
        _blend_patch(img, m, x, y, v)
        if (x + m.shape[1] / 2 < W / 2) == (stored_side == "left"):
            placed_chest = True
    kinds.append("text")
    if placed_chest:
        kinds.append("text_chest_side")


def _ruler(rng, img, kinds, prob=0.07):
    if rng.random() >= prob:
        return
    H, W = img.shape
    vertical = rng.random() < 0.6
    L = int((H if vertical else W) * _u(rng, 0.2, 0.5))
    thick = max(2, int(min(H, W) * 0.003))
    tick = max(6, int(min(H, W) * 0.015))
    step = max(8, L // int(rng.integers(5, 12)))
    pad = tick + 30
    if vertical:
        mw, mh = pad + 10, L + 10
    else:
        mw, mh = L + 10, pad + 10
    im = Image.new("L", (mw, mh), 0)
    d = ImageDraw.Draw(im)
    font = _font(max(8, tick), "sans")
    for k, p in enumerate(range(5, L + 5, step)):
        if vertical:
            d.line([(2, p), (2 + (tick if k % 2 == 0 else tick // 2), p)], fill=255, width=thick)
            if k % 2 == 0:
                d.text((tick + 6, p - tick // 2), str(k // 2), fill=255, font=font)
        else:
            d.line([(p, 2), (p, 2 + (tick if k % 2 == 0 else tick // 2))], fill=255, width=thick)
            if k % 2 == 0:
                d.text((p - 3, tick + 4), str(k // 2), fill=255, font=font)
    if vertical:
        d.line([(2, 5), (2, L + 5)], fill=255, width=thick)
    else:
        d.line([(5, 2), (L + 5, 2)], fill=255, width=thick)
    m = np.asarray(im, dtype=np.float32) / 255
    corner = _pick(rng, ["tl", "tr", "bl", "br", "ml", "mr"])
    x, y = _place(rng, H, W, mh, mw, corner)
    _blend_patch(img, m, x, y, _u(rng, 0.8, 1.0))
    kinds.append("ruler")


def _annotation_boxes(rng, img, kinds, prob=0.07):
    if rng.random() >= prob:
        return
    H, W = img.shape
    im = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(im)
    for k in range(int(rng.integers(1, 4))):
        bw, bh = int(W * _u(rng, 0.06, 0.25)), int(H * _u(rng, 0.05, 0.2))
        x0, y0 = int(rng.integers(0, W - bw)), int(rng.integers(0, H - bh))
        lw = max(2, int(min(H, W) * _u(rng, 0.002, 0.005)))
        if rng.random() < 0.7:
            d.rectangle([x0, y0, x0 + bw, y0 + bh], outline=255, width=lw)
        else:
            d.ellipse([x0, y0, x0 + bw, y0 + bh], outline=255, width=lw)
        d.text((x0 + bw + 4, y0), str(k + 1), fill=255, font=_font(max(10, int(H * 0.02)), "bold"))
    m = np.asarray(im, dtype=np.float32) / 255
    img[:] = img * (1 - m) + _u(rng, 0.85, 1.0) * m
    kinds.append("annotation_box")


def _noise_fields(rng, img, air_mask, kinds, tissue_sigma, air_sigma, noisy_air_prob=0.08):
    h, w = img.shape
    n = rng.standard_normal((h, w), dtype=np.float32)
    sig = tissue_sigma * (1 - air_mask) + air_sigma * air_mask
    if rng.random() < noisy_air_prob:
        kinds.append("noisy_air")
        na = _u(rng, 0.03, 0.08)
        blot = _up(_noise(rng, (max(4, h // 16), max(4, w // 16)), 1.5), h, w)
        img += air_mask * (np.clip(0.5 + 0.35 * blot, 0, None) * _u(rng, 0.02, 0.06))
        sig = sig + air_mask * na
    img += n * sig
    return img


# ----------------------------------------------------------------------------- digital styles

def _render_digital(rng, spec, H, W, stored_side, anat, kinds, hdr):
    st = spec["study"]
    style, look = st["style"], st["look"]
    mirror = stored_side == "right"
    meta = {"spacing": 240.0 / W}
    cesm_rc = False
    if style == "cesm":
        cesm_rc = rng.random() < 0.5
        kinds.append("cesm_recombined" if cesm_rc else "cesm_low_energy")
    if style == "kau":
        kinds.append("jpeg_derived")
    if style == "raw":
        hdr["intent"] = "FOR PROCESSING"
        hdr["sop"] = SOP_MG_PROCESSING
        kinds.append("for_processing")
    if anat.get("spot"):
        anat["spot_x1"] = W * _u(rng, 0.5, 0.85)
    sc = build_scene(rng, H, W, spec["view"], anat)
    _scene_tags(sc, kinds)
    lk, air_level = _ffdm_look(rng, look, anat["density"], kinds)
    if style == "cmmd":
        air_level = 0.0  # CMMD background is exactly 0
    exposure = None
    if style not in ("raw",) and not cesm_rc and rng.random() < 0.1:
        exposure = _pick(rng, ["overexposed", "underexposed"])
        kinds.append(exposure)
        if exposure == "overexposed":
            lk["f0"] *= 0.75
            lk["g1"] *= 0.8
            lk["roll"] = 1.4
            air_level = 0.0
        else:
            lk["f0"] = min(0.7, lk["f0"] + 0.12)
            lk["g1"] = min(1.0, lk["g1"] + 0.08)
            air_level = max(air_level, _u(rng, 0.05, 0.15))
    if style == "raw":  # unprocessed: low contrast, strong roll-off, grey noisy air
        lk.update(f0=_u(rng, 0.24, 0.34), eq=0.0, roll=_u(rng, 0.9, 1.3), skin=0.0, tex=_u(rng, 0.01, 0.025),
                  lesion=_u(rng, 0.03, 0.07), calc=_u(rng, 0.08, 0.2), pect=_u(rng, 0.42, 0.55))
        lk["g1"] = lk["f0"] + _u(rng, 0.1, 0.2)
        air_level = _u(rng, 0.04, 0.14)
    if cesm_rc:
        bg = _u(rng, 0.35, 0.55)
        lk.update(f0=bg + _u(rng, -0.04, 0.03), eq=1.0, roll=1.0, tex=_u(rng, 0.01, 0.025), lesion=_u(rng, 0.3, 0.5),
                  calc=0.0, pect=bg + _u(rng, 0.0, 0.06), implant=bg + _u(rng, -0.15, 0.1), skin=_u(rng, -0.06, 0.1),
                  skin_w=_u(rng, 3, 10))
        lk["g1"] = lk["f0"] + _u(rng, 0.02, 0.07)
        if sc.lesion is None and rng.random() < 0.6:  # enhancing lesion
            anat2 = dict(anat, mass=True, calcs=False)
            sc2 = build_scene(np.random.default_rng([spec["seed"], 4004, 9, spec["index"]]), H, W, spec["view"], anat2)
            sc.lesion = sc2.lesion * sc.alpha if sc2.lesion is not None else None
            if sc.lesion is not None:
                kinds.append("enhancing_lesion")
        air_level = bg
    if air_level >= 0.08 and not cesm_rc and style != "raw":
        kinds.append("grey_background")
    air, _ = _air_field(rng, H, W, air_level, kinds, clip_ok=not cesm_rc and style != "raw")
    img = compose(sc, rng, lk, air)
    # spot compression / magnification: rectangular field at the chest wall, the rest collimated
    field = None
    if anat.get("spot"):
        kinds.append("spot_mag")
        x1 = anat["spot_x1"]
        y0, y1 = H * _u(rng, 0.08, 0.3), H * _u(rng, 0.7, 0.92)
        field = _edge_ramps(H, W, -50, y0, x1, y1, _u(rng, 1.0, 3.0))
        pw0, pw1 = x1 * _u(rng, 0.1, 0.3), x1 * _u(rng, 0.75, 0.95)
        py0, py1 = y0 + (y1 - y0) * _u(rng, 0.1, 0.25), y1 - (y1 - y0) * _u(rng, 0.1, 0.25)
        paddle = _edge_ramps(H, W, pw0, py0, pw1, py1, 8.0)
        img *= 1.0 - _u(rng, 0.05, 0.15) * paddle * sc.alpha
        colv = _u(rng, 0.85, 1.0) if rng.random() < 0.6 else _u(rng, 0.0, 0.06)
        kinds.append("collimated_bright" if colv > 0.5 else "collimated_dark")
        img = img * field + colv * (1 - field)
    # ----- to the stored frame
    img, alpha = _flip_scene_outputs([img, sc.alpha], mirror)
    air_mask = (1.0 - alpha)
    if field is not None:
        field = field[:, ::-1] if mirror else field
        air_mask = air_mask * field
    meta["tissue_mask"] = alpha > 0.99
    img = _heel(rng, img, kinds)
    img = _grid_lines(rng, img, kinds)
    # Siemens collimator shading stripes (and occasionally other vendors)
    if (look == "siemens" and rng.random() < 0.5) or rng.random() < 0.05:
        kinds.append("collimator")
        for side in rng.choice(["left", "right", "top", "bottom"], size=int(rng.integers(1, 3)), replace=False).tolist():
            frac = _u(rng, 0.01, 0.05)
            lv0, lv1 = _u(rng, 0.15, 0.9), _u(rng, 0.05, 0.6)
            if side in ("top", "bottom"):
                n = max(3, int(H * frac))
                prof = np.linspace(lv0, lv1, n, dtype=np.float32)[:, None]
                if side == "top":
                    img[:n, :] = np.maximum(img[:n, :] * 0.3, prof)
                else:
                    img[-n:, :] = np.maximum(img[-n:, :] * 0.3, prof[::-1])
            else:
                n = max(3, int(W * frac))
                prof = np.linspace(lv0, lv1, n, dtype=np.float32)[None, :]
                if side == "left":
                    img[:, :n] = np.maximum(img[:, :n] * 0.3, prof)
                else:
                    img[:, -n:] = np.maximum(img[:, -n:] * 0.3, prof[:, ::-1])
            if side == stored_side:
                kinds.append("collimator_chest_side")
    # noise
    if style == "raw":
        tsig = _u(rng, 0.006, 0.014)
        img = _noise_fields(rng, img, air_mask, kinds, tsig, tsig * _u(rng, 1.2, 2.0), 0.1)
    elif cesm_rc:
        img = _noise_fields(rng, img, air_mask, kinds, _u(rng, 0.01, 0.025), _u(rng, 0.015, 0.035), 0.1)
    else:
        clipped = "clipped_air" in kinds
        asig = 0.0 if clipped else _u(rng, 0.002, 0.012)
        img = _noise_fields(rng, img, air_mask, kinds, _u(rng, 0.004, 0.015), asig, 0.0 if clipped else 0.1)
        if clipped:
            img[air_mask > 0.999] = 0.0
    # burned-in overlays
    text_prob = {"hologic": 0.45, "ge": 0.35, "fuji": 0.85, "siemens": 0.25, "planmed": 0.3, "ims": 0.3,
                 "kau": 0.5}.get(look, 0.3)
    if style == "cmmd":
        text_prob = 0.12
    if style == "inbreast":
        text_prob = 0.1
    if anat["density"] == "D" and rng.random() < 0.5:
        # the dense tissue is brighter than the markers
        n0 = len(kinds)
        _text_blocks(rng, img, spec, stored_side, kinds, look, text_prob, value=_u(rng, 0.6, 0.8))
        if len(kinds) > n0:
            kinds.append("dim_marker")
    else:
        _text_blocks(rng, img, spec, stored_side, kinds, look, text_prob)
    _ruler(rng, img, kinds)
    _annotation_boxes(rng, img, kinds)
    img = _frame(rng, img, kinds)
    if style == "kau" and rng.random() < 0.4:  # re-sampled JPEG: blurry
        small = _up(img, max(8, H // 2), max(8, W // 2))
        img = _up(small, H, W)
        kinds.append("resampled")
    return img, meta


# ----------------------------------------------------------------------------- film styles

def _render_film(rng, spec, H, W, stored_side, anat, kinds):
    """Digitized screen-film mammogram: film sheet with unexposed borders on a scanner bed."""
    st = spec["study"]
    style = st["style"]
    mirror = stored_side == "right"
    meta = {"spacing": (0.05 * 4096 / H) if style == "cbis" else 0.2 * 1024 / H}
    chest = stored_side
    far = "right" if chest == "left" else "left"
    # ----- geometry in the stored frame: scanner bed strips, then unexposed film borders
    bed = {s: 0 for s in ("left", "right", "top", "bottom")}
    if style == "mias":
        sheet_w = int(W * _u(rng, 0.55, 0.85))
        chest_pad = int((W - sheet_w) * (0.0 if rng.random() < 0.4 else _u(rng, 0.0, 0.35)))
        bed[chest], bed[far] = chest_pad, W - sheet_w - chest_pad
        if bed[chest] > 0:
            kinds.append("pad_chest_side_film")
        kinds.append("square")
    if rng.random() < 0.5:
        kinds.append("scanner_bed")
        for s in rng.choice(list(bed), size=int(rng.integers(1, 4)), replace=False).tolist():
            dim = W if s in ("left", "right") else H
            bed[s] += int(dim * _u(rng, 0.005, 0.04 if s != chest else 0.02))
    border = {}
    for s in ("left", "right", "top", "bottom"):
        dim = W if s in ("left", "right") else H
        if s == chest:
            border[s] = int(dim * _u(rng, 0.0, 0.035)) if rng.random() < 0.6 else 0
        else:
            border[s] = int(dim * _u(rng, 0.005, 0.09)) if rng.random() < 0.75 else 0
    if rng.random() < 0.45:  # very large unexposed region
        s = _pick(rng, ["top", "bottom", far])
        dim = W if s in ("left", "right") else H
        border[s] = int(dim * _u(rng, 0.1, 0.28))
        kinds.append("large_film_border")
    fx0 = bed["left"] + border["left"]
    fx1 = W - bed["right"] - border["right"]
    fy0 = bed["top"] + border["top"]
    fy1 = H - bed["bottom"] - border["bottom"]
    fw, fh = max(64, fx1 - fx0), max(64, fy1 - fy0)
    fx1, fy1 = fx0 + fw, fy0 + fh
    if any(border.values()):
        kinds.append("film_border")
    # ----- the exposed field (canonical, display polarity)
    sc = build_scene(rng, fh, fw, spec["view"], anat)
    _scene_tags(sc, kinds)
    fog = _u(rng, 0.02, 0.14)
    air = np.full((fh, fw), fog, dtype=np.float32)
    air += _u(rng, 0.02, 0.08) * _ramp(fh, fw, _u(rng, 0, 2 * math.pi))
    air += _u(rng, 0.005, 0.02) * _up(_noise(rng, (max(4, fh // 32), max(4, fw // 32)), 1.5), fh, fw)
    kinds.append("fog_gradient")
    lk = {"tex": _u(rng, 0.03, 0.07), "lesion": _u(rng, 0.08, 0.2), "calc": _u(rng, 0.2, 0.45),
          "implant": _u(rng, 0.95, 1.05), "skin": 0.0, "skin_w": 3.0, "eq": 0.0, "roll": _u(rng, 1.0, 1.7)}
    lk["f0"] = _u(rng, 0.28, 0.45)
    lk["g1"] = min(1.05, lk["f0"] + _u(rng, 0.35, 0.55))
    lk["pect"] = _u(rng, 0.6, 0.9)
    if anat["density"] == "D":
        lk["g1"] = min(1.1, lk["g1"] + 0.1)
    field = compose(sc, rng, lk, air)
    field, alpha = _flip_scene_outputs([field, sc.alpha], mirror)
    field = _heel(rng, field, kinds, prob=0.3)
    # film characteristic: soft shoulder (dense tissue saturates towards white)
    field = np.where(field > 0.8, 0.8 + 0.2 * np.tanh((field - 0.8) / 0.2), field).astype(np.float32)
    # ----- the film sheet on the scanner canvas
    bed_v = _pick(rng, [_u(rng, 0.0, 0.04), _u(rng, 0.95, 1.0), _u(rng, 0.2, 0.5)], [0.45, 0.4, 0.15])
    if style == "mias":
        bed_v = 0.0
    canvas = np.full((H, W), bed_v, dtype=np.float32)
    sx0, sx1 = bed["left"], W - bed["right"]
    sy0, sy1 = bed["top"], H - bed["bottom"]
    clear = _u(rng, 0.75, 1.0)
    if rng.random() < 0.4:
        clear = 1.0
        kinds.append("saturated_border")
    sheet = np.full((sy1 - sy0, sx1 - sx0), clear, dtype=np.float32)
    sheet -= _u(rng, 0.0, 0.08) * (_ramp(sy1 - sy0, sx1 - sx0, _u(rng, 0, 6.3)) + 0.5)
    ex = _edge_ramps(sy1 - sy0, sx1 - sx0, fx0 - sx0, fy0 - sy0, fx1 - sx0, fy1 - sy0, _u(rng, 1.0, 6.0))
    padded = np.zeros_like(sheet)
    padded[fy0 - sy0:fy1 - sy0, fx0 - sx0:fx1 - sx0] = field
    sheet = sheet * (1 - ex) + padded * ex
    canvas[sy0:sy1, sx0:sx1] = sheet
    air_mask = np.zeros((H, W), dtype=np.float32)
    air_mask[fy0:fy1, fx0:fx1] = 1.0 - alpha
    # neighbouring film: two partial edges in a corner
    if rng.random() < 0.12:
        kinds.append("neighbour_film")
        ch, cw = int(H * _u(rng, 0.05, 0.15)), int(W * _u(rng, 0.06, 0.2))
        corner = _pick(rng, ["tl", "tr", "bl", "br"])
        blk = np.full((ch, cw), _u(rng, 0.8, 1.0), dtype=np.float32)
        ih, iw = int(ch * _u(rng, 0.3, 0.7)), int(cw * _u(rng, 0.3, 0.7))
        r0 = 0 if corner[0] == "t" else ch - ih
        c0 = 0 if corner[1] == "l" else cw - iw
        blk[r0:r0 + ih, c0:c0 + iw] = _u(rng, 0.05, 0.3)
        y = 0 if corner[0] == "t" else H - ch
        x = 0 if corner[1] == "l" else W - cw
        canvas[y:y + ch, x:x + cw] = blk
    # physical marks on the film
    _film_marks(rng, canvas, (fx0, fy0, fx1, fy1), spec, stored_side, anat, kinds)
    # light-leak / processing patches in the air
    if rng.random() < 0.12:
        kinds.append("air_patch")
        ey, ex_ = _u(rng, 0, H), _pick(rng, [_u(rng, 0, W), 0.0, float(W)])
        if rng.random() < 0.5:
            ey = _pick(rng, [0.0, float(H)])
        yy = (np.arange(H, dtype=np.float32)[:, None] - ey) / (H * _u(rng, 0.1, 0.3))
        xx = (np.arange(W, dtype=np.float32)[None, :] - ex_) / (W * _u(rng, 0.15, 0.4))
        glow = np.exp(-(yy ** 2 + xx ** 2)) * (1 + 0.3 * _up(_noise(rng, (max(4, H // 32), max(4, W // 32)), 1.0), H, W))
        canvas += glow * _u(rng, 0.08, 0.25) * air_mask
    # tilted film
    if rng.random() < 0.3:
        kinds.append("tilted_film")
        ang = _u(rng, 0.5, 3.0) * _pick(rng, [-1, 1])
        canvas = np.array(Image.fromarray(canvas).rotate(ang, resample=Image.BILINEAR, fillcolor=float(bed_v)),
                          dtype=np.float32)
        air_mask = np.array(Image.fromarray(air_mask).rotate(ang, resample=Image.BILINEAR, fillcolor=0.0),
                            dtype=np.float32)
    # grain (correlated + fine) and scanner noise
    g1 = _up(_noise(rng, (max(4, H // 2), max(4, W // 2)), 0.7), H, W)
    canvas += g1 * _u(rng, 0.006, 0.02) * (0.5 + air_mask)
    canvas += rng.standard_normal((H, W), dtype=np.float32) * _u(rng, 0.002, 0.01)
    if rng.random() < 0.08:
        kinds.append("noisy_air")
        canvas += air_mask * (rng.standard_normal((H, W), dtype=np.float32) * _u(rng, 0.03, 0.07))
    if rng.random() < 0.1:  # scanner streaks
        kinds.append("scanner_streaks")
        prof = np.cumsum(rng.normal(0, 0.004, W)).astype(np.float32)
        canvas += (prof - prof.mean())[None, :]
    canvas = _grid_lines(rng, canvas, kinds, prob=0.03)
    canvas = _frame(rng, canvas, kinds, prob=0.04)
    tm = np.zeros((H, W), dtype=bool)
    tm[fy0:fy1, fx0:fx1] = alpha > 0.99
    meta["tissue_mask"] = tm
    return canvas, meta


def _film_marks(rng, canvas, field_box, spec, stored_side, anat, kinds):
    H, W = canvas.shape
    fx0, fy0, fx1, fy1 = field_box
    fh, fw = fy1 - fy0, fx1 - fx0
    lat, view = spec["lat"], spec["view"]
    dense_dim = anat["density"] == "D" and rng.random() < 0.5
    # lead markers: bright letters in a holder, at a corner of the exposed field, either side
    if rng.random() < 0.65:
        kinds.append("lead_marker")
        txt = _pick(rng, [lat, f"{lat} {view}", f"{lat}{view}", f"{view}", f"{'L' if lat == 'L' else 'R'}\n{view}"])
        m = _text_mask(txt, int(H * _u(rng, 0.025, 0.05)), _pick(rng, ["bold", "serif", "monobold"]))
        mh, mw = m.shape
        corner = _pick(rng, ["tl", "tr", "bl", "br", "ml", "mr"])
        x, y = _place(rng, fh, fw, mh + 8, mw + 8, corner, (0.01, 0.08))
        x, y = x + fx0, y + fy0
        hold = np.ones((mh + 8, mw + 8), dtype=np.float32)
        _blend_patch(canvas, hold * _u(rng, 0.1, 0.3), x - 4, y - 4, 1.0)
        v = _u(rng, 0.6, 0.78) if dense_dim else _u(rng, 0.85, 1.0)
        if dense_dim:
            kinds.append("dim_marker")
        _blend_patch(canvas, m, x, y, v)
        if (x + mw / 2 < W / 2) == (stored_side == "left"):
            kinds.append("marker_chest_side")
    # ID flash / label sticker: bright (or dark) rectangle with text
    if rng.random() < 0.35:
        kinds.append("sticker")
        sw, sh = int(W * _u(rng, 0.12, 0.35)), int(H * _u(rng, 0.03, 0.08))
        corner = _pick(rng, ["tl", "tr", "bl", "br", "tm", "bm"])
        x, y = _place(rng, H, W, sh, sw, corner, (0.0, 0.05))
        bright = rng.random() < 0.75
        box = np.ones((sh, sw), dtype=np.float32)
        _blend_patch(canvas, box, x, y, _u(rng, 0.85, 1.0) if bright else _u(rng, 0.0, 0.05))
        txt = f"{_pick(rng, ['A', 'B', 'C', 'D'])}-{int(rng.integers(1000, 4999))}-1\n" \
              f"{int(rng.integers(1, 13))}/{int(rng.integers(1, 29))}/{int(rng.integers(1988, 1999))}"
        m = _text_mask(txt, max(8, int(sh * 0.33)), _pick(rng, ["mono", "sans"]))
        m = m[:sh, :sw]
        _blend_patch(canvas, m, x + 2, y + 1, 0.1 if bright else 0.8)
        if (x + sw / 2 < W / 2) == (stored_side == "left"):
            kinds.append("sticker_chest_side")
    # handwriting: dark ink on the clear film, or grease pencil in the air
    if rng.random() < 0.3:
        kinds.append("handwriting")
        ww, hh = int(W * _u(rng, 0.15, 0.4)), int(H * _u(rng, 0.03, 0.07))
        m = _handwriting_mask(rng, ww, hh, max(2, int(H * 0.003)))
        x, y = int(rng.integers(0, max(1, W - ww))), _pick(rng, [int(rng.integers(0, max(1, H // 8))),
                                                                 int(rng.integers(H * 7 // 8 - hh, max(H * 7 // 8 - hh + 1, H - hh)))])
        _blend_patch(canvas, m, x, y, _u(rng, 0.0, 0.15) if rng.random() < 0.6 else _u(rng, 0.6, 0.9))


# ----------------------------------------------------------------------------- DICOM and rows

def _write_dicom(path, spec, stored, hdr, rows_cols):
    st = spec["study"]
    H, W = rows_cols
    meta = FileMetaDataset()
    sop = hdr["sop"]
    meta.MediaStorageSOPClassUID = "1.2.3.4" if st["style"] == "vindr" else sop
    meta.MediaStorageSOPInstanceUID = spec["image_id"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.3.4" if st["style"] == "vindr" else "1.2.826.0.1.3680043.8.498.1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = spec["image_id"]
    ds.StudyInstanceUID = st["study_id"]
    ds.SeriesInstanceUID = st["series_id"]
    ds.PatientID = st["patient_id"]
    ds.PatientAge = f"{st['age']:03d}Y"
    ds.PatientSex = "F"
    ds.Modality = "MG"
    ds.BodyPartExamined = "BREAST"
    ds.ImageLaterality = spec["lat"]
    ds.ViewPosition = spec["view"]
    ds.PresentationIntentType = hdr["intent"]
    ds.Manufacturer = st["manufacturer"]
    ds.ManufacturerModelName = st["model"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = spec["photometric"]
    ds.Rows = H
    ds.Columns = W
    ds.BitsAllocated = 16
    ds.BitsStored = hdr["bits"]
    ds.HighBit = hdr["bits"] - 1
    ds.PixelRepresentation = 0
    sp = round(float(hdr["spacing"]), 6)
    ds.PixelSpacing = [sp, sp]
    ds.ImagerPixelSpacing = [sp, sp]
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    if hdr.get("window"):
        ds.WindowCenter = hdr["wc"]
        ds.WindowWidth = hdr["ww"]
        if hdr.get("voi_sigmoid"):
            ds.VOILUTFunction = "SIGMOID"
    if hdr.get("lossy"):
        ds.LossyImageCompression = "01"
    ds.add_new(0x7FE00010, "OW", stored.astype("<u2").tobytes())
    ds.save_as(path, enforce_file_format=True)


def _render_one(spec):
    cfg = pydicom.config.settings
    saved = cfg.writing_validation_mode
    cfg.writing_validation_mode = pydicom.config.IGNORE  # VinDr's md5-hex "UIDs" are not valid UIs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _render_one_inner(spec)
    finally:
        cfg.writing_validation_mode = saved


def _render_one_inner(spec):
    st = spec["study"]
    stored, hdr, kinds, stored_side, expected_inverted = render(spec)
    if st["look"] == "hologic" and hdr.get("window") and (spec["index"] * 7919) % 5 == 0:
        hdr["voi_sigmoid"] = True
    H, W = stored.shape
    out = pathlib.Path(spec["out"])
    d = out / "images" / st["study_id"]
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{spec['image_id']}.dicom"
    _write_dicom(str(path), spec, stored, hdr, (H, W))
    # de-duplicate kinds, keep order
    seen, ks = set(), []
    for k in kinds:
        if k not in seen:
            seen.add(k)
            ks.append(k)
    base = {"study_id": st["study_id"], "series_id": st["series_id"], "image_id": spec["image_id"],
            "laterality": spec["lat"], "view_position": spec["view"], "height": H, "width": W,
            "breast_birads": st["birads"], "breast_density": f"DENSITY {st['density']}", "split": st["split"]}
    finding = dict(base, finding_categories="['No Finding']", finding_birads="", xmin="", ymin="", xmax="", ymax="")
    metadata = {"SOP Instance UID": spec["image_id"], "Series Instance UID": st["series_id"],
                "Study Instance UID": st["study_id"], "Patient's Age": f"{st['age']:03d}Y", "Patient's Sex": "F",
                "Photometric Interpretation": spec["photometric"], "Rows": H, "Columns": W,
                "Bits Stored": hdr["bits"], "Manufacturer": st["manufacturer"],
                "Manufacturer's Model Name": st["model"]}
    truth = {"image_id": spec["image_id"], "laterality": spec["lat"], "view": spec["view"],
             "photometric": spec["photometric"], "stored_chest_wall_side": stored_side,
             "laterality_flipped": "true" if spec["flipped"] else "false",
             "expected_inverted": "true" if expected_inverted else "false",
             "kinds": ";".join(ks), "path": str(path)}
    return base, finding, metadata, truth


# ----------------------------------------------------------------------------- entry points

def generate(out, n_images=300, seed=1, truth_path=None, workers=2):
    """Write a VinDr-Mammo look-alike tree under `out` and its truth CSV; return the truth rows."""
    out = pathlib.Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if truth_path is None:
        truth_path = str(out) + ".truth.csv"
    specs = make_plan(int(n_images), int(seed))
    for sp in specs:
        sp["out"] = str(out)
    if workers and workers > 1:
        with Pool(int(workers)) as pool:
            results = list(pool.imap(_render_one, specs, chunksize=1))
    else:
        results = [_render_one(sp) for sp in specs]
    with open(out / "breast-level_annotations.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=BREAST_HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(r[0] for r in results)
    with open(out / "finding_annotations.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FINDING_HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(r[1] for r in results)
    with open(out / "metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METADATA_HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(r[2] for r in results)
    truth = [r[3] for r in results]
    pathlib.Path(truth_path).parent.mkdir(parents=True, exist_ok=True)
    with open(truth_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TRUTH_HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(truth)
    return truth


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--truth", default=None)
    a = ap.parse_args(argv)
    t0 = time.time()
    truth = generate(a.out, a.images, a.seed, a.truth, a.workers)
    n = len(truth)
    flipped = sum(t["laterality_flipped"] == "true" for t in truth)
    inv = sum(t["expected_inverted"] == "true" for t in truth)
    print(f"{n} images in {time.time() - t0:.1f}s under {a.out}; flipped {flipped} ({100 * flipped / max(n, 1):.1f}%), "
          f"needs inversion {inv} ({100 * inv / max(n, 1):.1f}%); truth {a.truth or str(a.out) + '.truth.csv'}")


if __name__ == "__main__":
    main()
