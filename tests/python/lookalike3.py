#!/usr/bin/env python3
"""Third, independent VinDr-Mammo look-alike generator (ground truth for mcq's image QC).

Written without reading mcq's detectors or the scene code of lookalike.py /
lookalike2.py.  Scenes are built from a small physical model:

  anatomy (canonical: chest wall on the LEFT, low-resolution smooth fields)
    compressed-breast thickness with a semicircular edge roll-off, skin shell,
    subcutaneous fat, glandular fraction from 1/f^3 power-law noise,
    Cooper's-ligament strands, vessels, calcifications, masses, implants,
    pectoral muscle (MLO, sometimes a sliver in CC), abdomen below the
    inframammary fold, nipple in profile
  -> attenuation line integral A (mu in 1/mm)
  -> mirror if the stored image has its chest wall on the right
  -> physical layers in the stored frame (lead markers, paddle, collimation)
  -> detector: heel effect, scatter, Poisson-like noise
  -> one of: processed FFDM (log, peripheral equalisation, unsharp masking,
     window + tone curve, background handling), raw "for processing" (linear
     or log, background near saturation), CR (noisy, grey background), or a
     digitised film (H&D curve, film grain, scanner saturation, scanner
     margins/bed, clear film edges, ID flash, stickers, tape, handwriting,
     scratches, dust, scanner streaks, tilted films)
  -> burned-in text (display polarity), tone map to BitsStored, polarity
     (MONOCHROME1 and/or content inversion), padding.

Truth (OUT.truth.csv) is exact by construction: the stored chest-wall side is
the canonical left unless the image was mirrored; expected_inverted is
(photometric == MONOCHROME1) xor content_inverted.

    python lookalike3.py OUT [--images 300] [--seed N] [--workers 2]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import pathlib
import sys
import time
import warnings
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage as ndi

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
warnings.filterwarnings("ignore", module="pydicom")

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONTS = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "monob": "DejaVuSansMono-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "hand": "DejaVuSans-Oblique.ttf",
    "hand2": "DejaVuSerif-Italic.ttf",
    "cond": "DejaVuSansCondensed-Bold.ttf",
}
_FONT_CACHE: dict = {}

MU_FAT, MU_GLAND, MU_SKIN, MU_MUSCLE, MU_SILICONE = 0.045, 0.080, 0.080, 0.078, 0.115  # 1/mm, ~20 keV

# Tags that only describe the scene (not counted as artefacts).
SCENE_TAGS = {"ffdm", "ffdm_raw_linear", "ffdm_raw_log", "cr", "film", "fatty", "dense"}

VENDORS = {
    "ffdm": [("HOLOGIC, Inc.", "Selenia Dimensions"), ("GE MEDICAL SYSTEMS", "Senographe Essential"),
             ("SIEMENS", "Mammomat Inspiration"), ("Planmed", "Planmed Nuance"),
             ("FUJIFILM Corporation", "FDR-3000AWS"), ("GE HEALTHCARE", "Senographe Pristina")],
    "cr": [("FUJIFILM Corporation", "FCR PROFECT CS"), ("Carestream Health", "DirectView CR975"),
           ("Agfa", "CR 85-X")],
    "film": [("LUMISYS", "LS-85"), ("HOWTEK", "MultiRad 850"), ("DBA Systems", "M2100 ImageClear"),
             ("VIDAR", "DiagnosticPRO Advantage"), ("Joyce-Loebl", "Scandig 3")],
}


# ----------------------------------------------------------------------------- helpers

def font(name: str, size: int):
    """A DejaVu face (Debian's fonts-dejavu-core); Pillow's own scalable
    default font where it is not installed (the trees then differ in their
    burned-in glyphs only; the truth is the same)."""
    key = (name, size)
    if key not in _FONT_CACHE:
        try:
            _FONT_CACHE[key] = ImageFont.truetype(FONT_DIR + FONTS[name], size)
        except OSError:
            _FONT_CACHE[key] = ImageFont.load_default(size)
    return _FONT_CACHE[key]


def text_patch(text: str, size: int, fontname: str = "bold", angle: float = 0.0, stroke: int = 0) -> np.ndarray:
    """Anti-aliased text coverage in [0, 1] (readable orientation)."""
    size = max(6, int(size))
    f = font(fontname, size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    x0, y0, x1, y1 = probe.multiline_textbbox((0, 0), text, font=f, spacing=size // 4, stroke_width=stroke)
    im = Image.new("L", (x1 - x0 + 4, y1 - y0 + 4), 0)
    ImageDraw.Draw(im).multiline_text((2 - x0, 2 - y0), text, fill=255, font=f, spacing=size // 4,
                                       stroke_width=stroke, stroke_fill=255)
    if angle:
        im = im.rotate(angle, resample=Image.BILINEAR, expand=True)
    return np.asarray(im, np.float32) / 255.0


def hand_patch(rng, text: str, size: int) -> np.ndarray:
    """Handwriting-like text: per-character size/rotation/baseline jitter, thick strokes."""
    size = max(8, int(size))
    chars = []
    for ch in text:
        if ch == " ":
            chars.append(np.zeros((size, size // 2), np.float32))
            continue
        fn = "hand" if rng.random() < 0.6 else "hand2"
        p = text_patch(ch, size * rng.uniform(0.85, 1.2), fn, angle=rng.uniform(-14, 14),
                       stroke=max(1, size // 14))
        chars.append(p)
    h = max(c.shape[0] for c in chars) + size // 3
    w = sum(c.shape[1] for c in chars) + 2
    out = np.zeros((h, w), np.float32)
    x = 0
    for c in chars:
        y = int(rng.integers(0, h - c.shape[0] + 1))
        out[y:y + c.shape[0], x:x + c.shape[1]] = np.maximum(out[y:y + c.shape[0], x:x + c.shape[1]], c)
        x += int(c.shape[1] * rng.uniform(0.75, 0.95))
    out = out[:, :max(1, x + 2)]
    im = Image.fromarray((out * 255).astype(np.uint8)).rotate(rng.uniform(-8, 8), resample=Image.BILINEAR,
                                                             expand=True)
    return np.asarray(im, np.float32) / 255.0


def wander(rng, x: float, y: float, ang: float, length: float, steps: int, turn_sd: float) -> list:
    """A polyline of `steps` equal segments from (x, y), `length` long in
    all, its heading `ang` turning by N(0, turn_sd) before each segment."""
    pts = [(x, y)]
    for _k in range(steps):
        ang += rng.normal(0, turn_sd)
        x += length / steps * math.cos(ang)
        y += length / steps * math.sin(ang)
        pts.append((x, y))
    return pts


def paste(arr: np.ndarray, patch: np.ndarray, x0: int, y0: int, op: str, val: float = 1.0) -> None:
    """Composite patch (coverage 0..1) into arr at top-left (x0, y0), clipped to the array."""
    H, W = arr.shape
    ph, pw = patch.shape
    ax0, ay0 = max(0, x0), max(0, y0)
    ax1, ay1 = min(W, x0 + pw), min(H, y0 + ph)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    p = patch[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    a = arr[ay0:ay1, ax0:ax1]
    if op == "add":
        a += val * p
    elif op == "over":
        a[...] = a * (1 - p) + val * p
    elif op == "max":
        np.maximum(a, val * p, out=a)


def up(a: np.ndarray, H: int, W: int, cubic: bool = True) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(
        (W, H), Image.BICUBIC if cubic else Image.BILINEAR), dtype=np.float32)


def powerlaw(rng, h: int, w: int, beta: float, fmin: float = 0.0) -> np.ndarray:
    """Zero-mean unit-variance noise with power spectrum ~ 1/f^beta."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f = np.maximum(f, max(fmin, 1.0 / max(h, w)))
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    n = np.fft.irfft2(spec, s=(h, w))
    return ((n - n.mean()) / (n.std() + 1e-12)).astype(np.float32)


def smoothstep(x, e0, e1):
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def wobble(rng, n: int, amp: float, waves: int = 4) -> np.ndarray:
    t = np.linspace(0, 1, n)
    out = np.zeros(n)
    for k in range(1, waves + 1):
        out += rng.standard_normal() / k * np.sin(2 * np.pi * (k * t + rng.random()))
    return 1 + amp * out / 1.5


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def disk(r: float, soft: float = 1.0) -> np.ndarray:
    n = int(math.ceil(r + 2 * soft + 1))
    y, x = np.mgrid[-n:n + 1, -n:n + 1]
    return np.clip((r - np.sqrt(x * x + y * y)) / soft + 0.5, 0, 1).astype(np.float32)


# ----------------------------------------------------------------------------- study plan

def plan_studies(seed: int, n_images: int):
    studies = []
    for s in range((n_images + 3) // 4):
        rng = np.random.default_rng([seed, s, 7])
        modality = str(rng.choice(["ffdm", "raw", "cr", "film"], p=[0.45, 0.10, 0.08, 0.37]))
        vend = VENDORS["ffdm" if modality == "raw" else modality]
        manu, model = vend[int(rng.integers(len(vend)))]
        p_m1 = {"ffdm": 0.22, "raw": 0.75, "cr": 0.35, "film": 0.30}[modality]
        H = int(rng.integers(800, 2401))
        W = int(round(H * rng.uniform(0.6, 0.85)))
        bits = {"ffdm": [12, 14, 16], "raw": [14, 16], "cr": [10, 12], "film": [10, 12, 16]}[modality]
        studies.append(dict(
            index=s, modality=modality, manufacturer=manu, model=model,
            photometric="MONOCHROME1" if rng.random() < p_m1 else "MONOCHROME2",
            H=H, W=W, bits=int(rng.choice(bits)),
            density="ABCD"[int(rng.choice(4, p=[0.12, 0.40, 0.36, 0.12]))],
            birads=int(rng.choice([1, 2, 3, 4, 5], p=[0.62, 0.25, 0.06, 0.05, 0.02])),
            age=int(np.clip(rng.normal(54, 11), 25, 90)),
            implant=bool(rng.random() < 0.06),
            split="training" if rng.random() < 0.8 else "test",
            thickness=float(rng.uniform(35, 75)),
            proc=dict(  # per-device processing style
                equalize=float(rng.uniform(0.55, 0.95)) if rng.random() < 0.6 else 0.0,
                usm=float(rng.uniform(0.3, 1.2)) if rng.random() < 0.5 else 0.0,
                bg=str(rng.choice(["zero", "clip", "gray"], p=[0.5, 0.3, 0.2])),
                tone=str(rng.choice(["linear", "gamma", "sigmoid", "log", "lut"])),
                raw_log=bool(rng.random() < 0.5),
            ),
            uid=f"1.2.826.0.1.3680043.9.7133.{seed}.{s}",
        ))
        st = studies[-1]
        st["study_id"] = md5(st["uid"])
        st["series_id"] = md5(st["uid"] + ".1")
    return studies


# ----------------------------------------------------------------------------- anatomy

def anatomy(rng, st, view: str, K: list):
    """Canonical scene (chest wall at x = 0).  Returns a dict of full-res fields."""
    H, W = st["H"], st["W"]
    sp = 240.0 / H * rng.uniform(0.95, 1.25)  # mm per pixel (image height ~ 230-300 mm)
    f = max(1, math.ceil(H / 420))
    h, w = math.ceil(H / f), math.ceil(W / f)
    spl = sp * H / h  # low-res mm per pixel
    ys = (np.arange(h) + 0.5) * H / h - 0.5
    xs = (np.arange(w) + 0.5) * W / w - 0.5
    Y, X = np.meshgrid(ys.astype(np.float32), xs.astype(np.float32), indexing="ij")

    magnification = rng.random() < 0.04
    size = str(rng.choice(["small", "medium", "large", "huge"], p=[0.16, 0.44, 0.28, 0.12]))
    if magnification:
        size = "large"
        K.append("magnification")
        sp *= 0.55
        spl *= 0.55
    depth = {"small": (0.28, 0.5), "medium": (0.45, 0.72), "large": (0.65, 0.9), "huge": (0.88, 1.02)}[size]
    half = {"small": (0.17, 0.3), "medium": (0.27, 0.4), "large": (0.36, 0.5), "huge": (0.46, 0.64)}[size]
    if magnification:
        depth, half = (0.7, 0.95), (0.45, 0.7)
    a = W * rng.uniform(*depth)
    offset = 0.0
    if (size == "small" and rng.random() < 0.3) or rng.random() < 0.02:
        offset = W * rng.uniform(0.03, 0.10)
        a = min(a, W - offset - 0.06 * W)
        K.append("offset_chestwall")
    Xb = X - offset
    wob = wobble(rng, h, rng.uniform(0.02, 0.06))[:, None]

    nipple_profile = rng.random() < 0.5
    pect_cc = view == "CC" and rng.random() < 0.3
    if view == "CC":
        yc = H * (0.5 + rng.normal(0, 0.04))
        b = H * rng.uniform(*half)
        p = rng.uniform(1.8, 2.6)
        u = (Y - yc) / b
        skew = rng.uniform(-0.15, 0.15)
        core = np.clip(1 - np.abs(u) ** p, 0, 1) ** (1 / p)
        edge = a * core * (1 + skew * u) * wob
        edge = np.where(np.abs(u) < 1, edge, -1.0)
        chest_rows = np.abs(u[:, 0]) < 1
    else:
        y0 = -H * rng.uniform(0.0, 0.15) if rng.random() < 0.85 else H * rng.uniform(0.02, 0.08)
        y1 = H * rng.uniform(0.72, 1.08) if size != "small" else H * rng.uniform(0.55, 0.85)
        tm = rng.uniform(0.48, 0.68)
        s0 = rng.uniform(0.3, 0.6) if y0 < 0 else rng.uniform(0.05, 0.2)
        q = rng.uniform(1.8, 2.5)
        t = (Y - y0) / (y1 - y0)
        upper = s0 + (1 - s0) * np.sin(np.pi / 2 * np.clip(t / tm, 0, 1)) ** 0.8
        lower = np.clip(1 - np.clip((t - tm) / (1 - tm), 0, 1) ** q, 0, 1) ** (1 / q)
        edge = a * np.where(t < tm, upper, lower) * wob
        edge = np.where((t >= 0) & (t <= 1), edge, -1.0)
        chest_rows = (t[:, 0] >= 0) & (t[:, 0] <= 1)
    mask = Xb < edge
    if offset == 0:
        mask |= (X < 0.5 * W / w) & chest_rows[:, None] & (edge > 0)
    # nipple
    row = int(np.argmax(edge[:, 0]))
    emax = float(edge.max())
    xn, yn = offset + emax, ys[row]
    if nipple_profile and xn < W * 0.97:
        rn = rng.uniform(3.5, 6.5) / sp  # full-res pixels
        mask |= ((X - xn) ** 2 + (Y - yn) ** 2) < rn ** 2
        K.append("nipple_profile")
    # abdomen below the inframammary fold (MLO)
    abdomen = np.zeros_like(mask)
    if view == "MLO" and y1 < 0.95 * H and rng.random() < 0.55:
        ya = y1 + H * rng.uniform(-0.02, 0.03)
        xa = W * rng.uniform(0.06, 0.25)
        gap = rng.uniform(1.5, 5) / sp
        rise = H * rng.uniform(0.06, 0.2)
        abdomen = (Xb < xa * np.sqrt(np.clip((Y - ya - gap) / rise, 0, 1)) * wob) & (Y > ya + gap)
        # inframammary crease: keep a thin gap between fold and abdomen
        abdomen &= ndi.distance_transform_edt(~mask) * (H / h) > gap
        if abdomen.any():
            K.append("abdomen")
    body = mask | abdomen
    # signed distance to the skin (mm); at the chest wall the body continues outside the image
    ext = np.pad(body, ((0, 0), (8, 0)), mode="edge") if offset == 0 else np.pad(body, ((0, 0), (8, 0)))
    if offset > 0:  # flat chest-wall side: extend rows leftwards so the cut has no skin roll-off
        cut = int(offset / (W / w)) + 1
        rows = body[:, min(w - 1, cut + 1)]
        ext[:, :8 + cut + 1] |= rows[:, None]
        body &= X >= offset
    din = ndi.distance_transform_edt(ext)[:, 8:]
    dout = ndi.distance_transform_edt(~ext)[:, 8:]
    sd = ndi.gaussian_filter(((din - dout) * spl).astype(np.float32), 1.2)  # mm, >0 inside
    if offset > 0:
        sd = np.where(X < offset, np.minimum(sd, (X - offset) * sp), sd)

    # glandular fraction
    qd = np.clip(Xb / np.maximum(edge, 1.0), 0, 1.5)
    qc, qw = rng.uniform(0.3, 0.5), rng.uniform(0.25, 0.45)
    fat_w = rng.uniform(4, 12)
    env = np.exp(-((qd - qc) / qw) ** 2) * smoothstep(sd, 0.5 * fat_w, fat_w * 3.0) * mask
    if view == "MLO":  # less glandular tissue low in the breast
        env *= np.clip(1.2 - 0.6 * np.clip((Y - yn) / (0.5 * H), 0, 1), 0, 1)
    n1 = powerlaw(rng, h, w, 3.0)
    n2 = powerlaw(rng, h, w, 2.6)
    target = {"A": 0.08, "B": 0.25, "C": 0.5, "D": 0.75}[st["density"]] * rng.uniform(0.8, 1.2)
    z = 0.8 * n1 + 2.2 * env
    inside = mask & (env > 0.05)
    thr = np.quantile(z[inside], 1 - min(0.95, target * 1.3)) if inside.any() else 10
    tau = rng.uniform(0.3, 0.7)
    G = (smoothstep(env, 0.0, 0.3) * (1 / (1 + np.exp(-(z - thr) / tau)))).astype(np.float32)
    G *= 0.75 + 0.25 * np.clip(1 + 0.5 * powerlaw(rng, h, w, 2.2), 0, 2) / 2 * 2
    G = np.clip(G, 0, 1)
    K.append("fatty" if st["density"] == "A" else ("dense" if st["density"] == "D" else None))

    muscle = np.zeros((h, w), np.float32)
    if view == "MLO":
        x_top = float(np.clip(edge[np.argmin(np.abs(ys - max(0, y0 + 1)))], 0, None).max())
        px = max(x_top, 0.2 * a) * rng.uniform(0.45, 0.95)
        py = H * rng.uniform(0.28, 0.62)
        c = rng.uniform(0.8, 1.4)
        xm = px * np.clip(1 - Y / py, 0, 1) ** c * wobble(rng, h, 0.05)[:, None]
        muscle = (smoothstep(xm - Xb, -3 * (W / w), 3 * (W / w)) * body).astype(np.float32)
        K.append("pectoral")
    elif pect_cc:
        bm = b * rng.uniform(0.25, 0.55)
        ymc = yc + rng.uniform(-0.3, 0.3) * b
        xm = W * rng.uniform(0.02, 0.07) * np.clip(1 - ((Y - ymc) / bm) ** 2, 0, 1)
        muscle = (smoothstep(xm - Xb, -2 * (W / w), 2 * (W / w)) * body).astype(np.float32)
        K.append("pectoral_cc")
    mu = MU_FAT + G * (MU_GLAND - MU_FAT)
    mu = mu * (1 - muscle) + MU_MUSCLE * (rng.uniform(0.92, 1.04) + 0.03 * n1) * muscle
    mu = np.where(abdomen, MU_FAT + 0.012 * (1 + 0.3 * n2), mu)

    # masses (low res): extra path length of dense tissue
    extra_low = np.zeros((h, w), np.float32)
    if rng.random() < 0.2:
        K.append("mass")
        for _ in range(int(rng.integers(1, 3))):
            cand = np.argwhere(inside & (G > 0.3)) if (inside & (G > 0.3)).any() else np.argwhere(mask)
            if not len(cand):
                break
            cy, cx = cand[int(rng.integers(len(cand)))]
            r = rng.uniform(5, 16) / spl
            ang = rng.uniform(0, np.pi)
            dy, dx = np.mgrid[0:h, 0:w]
            u1 = ((dx - cx) * np.cos(ang) + (dy - cy) * np.sin(ang)) / r
            v1 = (-(dx - cx) * np.sin(ang) + (dy - cy) * np.cos(ang)) / (r * rng.uniform(0.6, 1.0))
            rho = np.sqrt(u1 * u1 + v1 * v1) * (1 + 0.15 * n1 * 0.5)
            extra_low += (MU_GLAND - MU_FAT) * 2 * r * spl * np.sqrt(np.clip(1 - rho ** 2, 0, 1)) * 1.3
    implant = np.zeros((h, w), bool)
    if st["implant"]:
        displaced = rng.random() < 0.35
        K.append("implant_displaced" if displaced else "implant")
        ai = a * rng.uniform(0.35, 0.6)
        bi = (H * rng.uniform(0.2, 0.3)) if view == "CC" else H * rng.uniform(0.22, 0.34)
        xi = offset + (-ai * rng.uniform(0.75, 0.95) if displaced else ai * rng.uniform(0.0, 0.5))
        yi = (yc if view == "CC" else yn - H * 0.05) + rng.normal(0, 0.03) * H
        rho = np.sqrt(((X - xi) / ai) ** 2 + ((Y - yi) / bi) ** 2)
        prof = np.sqrt(np.clip(1 - rho ** 2, 0, 1)) ** 0.5
        implant = (rho < 1) & mask
        extra_low += np.where(implant, (MU_SILICONE - MU_FAT) * st["thickness"] * 0.95 * prof
                              + 0.4 * smoothstep(rho, 0.9, 1.0), 0).astype(np.float32)

    # ------------------------------------------------------------ full resolution
    T0 = st["thickness"] * (0.9 + 0.2 * rng.random())
    R = rng.uniform(12, 40)
    pw = rng.uniform(0.55, 1.0)
    sdF = up(sd, H, W)
    d = np.maximum(sdF, 0)
    dn = np.minimum(d / R, 1)
    T = T0 * np.clip(1 - (1 - dn) ** 2, 0, 1) ** pw
    skin_s = rng.uniform(1.0, 2.2)
    path_skin = 2 * (np.sqrt(2 * R * np.minimum(d, R)) - np.sqrt(2 * R * np.clip(d - skin_s, 0, R)))
    body_soft = np.clip(sdF / sp + 0.5, 0, 1).astype(np.float32)
    A = (T * up(mu, H, W) + path_skin * (MU_SKIN - MU_FAT) * (1 - smoothstep(d, 0.3 * R, R))) * body_soft
    A += up(extra_low, H, W) * (sdF > 0)
    # sub-grid detail: faint fine-scale structure (mottle) inside tissue
    E = np.zeros((H, W), np.float32)
    # vessels, spiculations, calcifications at full resolution
    vl = Image.new("L", (W, H), 0)
    dr = ImageDraw.Draw(vl)
    bodyF = sdF > 0
    cols = np.nonzero(body[:, 0])[0] if offset == 0 else np.nonzero(body[:, min(w - 1, int(offset / (W / w)) + 2)])[0]
    nves = int(rng.integers(2, 7)) if len(cols) else 0
    for _ in range(nves):
        yy = ys[cols[int(rng.integers(len(cols)))]]
        xx = offset
        ang = math.atan2(yn - yy, max(1.0, xn - xx)) + rng.normal(0, 0.3)
        pts = [(xx, yy)]
        wid = rng.uniform(0.8, 2.5) / sp
        L = rng.uniform(0.4, 0.9) * max(emax, 10)
        step = L / 24
        for _k in range(24):
            ang += rng.normal(0, 0.18)
            xx += step * math.cos(ang)
            yy += step * math.sin(ang)
            pts.append((xx, yy))
        dr.line(pts, fill=int(rng.integers(90, 200)), width=max(1, int(round(wid))), joint="curve")
    # Cooper's ligaments: thin arcs in the subcutaneous fat, convex towards the skin
    gy, gx = np.gradient(sd)
    nlig = int({"A": 90, "B": 60, "C": 30, "D": 15}[st["density"]] * rng.uniform(0.5, 1.3))
    cand = np.argwhere(mask & (sd > 0.3 * fat_w) & (sd < 1.8 * fat_w))
    for _ in range(nlig if len(cand) else 0):
        cy, cx = cand[int(rng.integers(len(cand)))]
        g = math.hypot(gx[cy, cx], gy[cy, cx]) + 1e-6
        nx_, ny_ = gx[cy, cx] / g, gy[cy, cx] / g  # inward normal
        tx, ty = -ny_, nx_
        Ll = rng.uniform(5, 18) / sp
        bul = rng.uniform(0.15, 0.45) * Ll
        deep = rng.uniform(0, 0.4) * Ll
        px0, py0 = xs[cx], ys[cy]
        p0 = (px0 - tx * Ll / 2 + nx_ * deep, py0 - ty * Ll / 2 + ny_ * deep)
        p2 = (px0 + tx * Ll / 2 + nx_ * deep * rng.uniform(0, 1), py0 + ty * Ll / 2 + ny_ * deep * rng.uniform(0, 1))
        p1 = (px0 - nx_ * bul, py0 - ny_ * bul)
        pts = [((1 - t) ** 2 * p0[0] + 2 * t * (1 - t) * p1[0] + t * t * p2[0],
                (1 - t) ** 2 * p0[1] + 2 * t * (1 - t) * p1[1] + t * t * p2[1]) for t in np.linspace(0, 1, 10)]
        dr.line(pts, fill=int(rng.integers(50, 120)), width=max(1, int(round(0.3 / sp))))
    # fibrous strands / small vessels converging on the nipple
    cand = np.argwhere(mask & (sd > fat_w))
    for _ in range(int(rng.integers(15, 50)) if len(cand) else 0):
        cy, cx = cand[int(rng.integers(len(cand)))]
        xx, yy = xs[cx], ys[cy]
        ang = math.atan2(yn - yy, xn - xx) + rng.normal(0, 0.35)
        Ls = rng.uniform(8, 35) / sp
        pts = wander(rng, xx, yy, ang, Ls, 8, 0.12)
        dr.line(pts, fill=int(rng.integers(40, 110)), width=max(1, int(round(0.35 / sp))))
    vessels = np.asarray(vl.filter(ImageFilter.GaussianBlur(max(0.6, 0.4 / sp))), np.float32) / 255.0
    E += vessels * rng.uniform(0.12, 0.25) * bodyF
    if rng.random() < 0.35:
        K.append("calcs")
        cand = np.argwhere(mask & (sd > 10))
        for _ in range(int(rng.integers(1, 4)) if len(cand) else 0):
            cy, cx = cand[int(rng.integers(len(cand)))]
            cy, cx = ys[cy], xs[cx]
            rad = rng.uniform(2, 9) / sp
            for _k in range(int(rng.integers(4, 25))):
                r = max(0.6, rng.uniform(0.1, 0.4) / sp)
                px_ = int(cx + rng.normal(0, rad / 2)) ; py_ = int(cy + rng.normal(0, rad / 2))
                dk = disk(r, soft=0.8)
                paste(E, dk, px_ - dk.shape[1] // 2, py_ - dk.shape[0] // 2, "add", rng.uniform(0.25, 0.9))
    if rng.random() < 0.08:
        K.append("macro_calc")
        cand = np.argwhere(mask & (sd > 8))
        for _ in range(int(rng.integers(1, 4)) if len(cand) else 0):
            cy, cx = cand[int(rng.integers(len(cand)))]
            r = rng.uniform(1.5, 5) / sp
            dk = disk(r, soft=1.5)
            if rng.random() < 0.5:  # rim ("eggshell") calcification
                inner = disk(r * 0.7, 1.5)
                o = (dk.shape[0] - inner.shape[0]) // 2
                dk[o:o + inner.shape[0], o:o + inner.shape[1]] -= inner
                dk = np.clip(dk, 0, 1)
            paste(E, dk, int(xs[cx]) - dk.shape[1] // 2, int(ys[cy]) - dk.shape[0] // 2, "add", rng.uniform(0.8, 2.0))
    A += E
    return dict(A=A.astype(np.float32), T=T.astype(np.float32), sd=sdF, body=bodyF, sp=sp,
                implant=up(implant.astype(np.float32), H, W, cubic=False) > 0.5,
                nipple=(xn, yn), emax=emax + offset, offset=offset, size=size,
                lowmask=body, f=f, edge_rows=None)


# ----------------------------------------------------------------------------- image

class Frame:
    """Maps canonical (chest wall left) x positions to the stored frame."""

    def __init__(self, W, mirrored):
        self.W, self.m = W, mirrored

    def x(self, xc, pw=0):  # left edge of a patch of width pw whose canonical left edge is xc
        return int(round(self.W - xc - pw)) if self.m else int(round(xc))

    def arr(self, a):
        return a[:, ::-1] if self.m else a


def free_box(rng, body_c, pw, ph, where, W, H, margin):
    """Top-left (canonical) of a pw x ph box in `where` corners not touching the body, or None."""
    for _ in range(20):
        corner = where[int(rng.integers(len(where)))]
        mx, my = margin + rng.uniform(0, 0.05) * W, margin + rng.uniform(0, 0.08) * H
        x = W - pw - mx if corner[0] == "r" else mx
        y = my if corner[1] == "t" else H - ph - my
        if corner[0] == "m":
            x = W * rng.uniform(0.4, 0.8)
        x, y = int(x), int(y)
        if x < 0 or y < 0 or x + pw > W or y + ph > H:
            continue
        if not body_c[max(0, y - 8):y + ph + 8:4, max(0, x - 8):x + pw + 8:4].any():
            return x, y
    return None


def tone(rng, kind):
    if kind == "linear":
        return lambda d: d, "linear"
    if kind == "gamma":
        g = rng.uniform(0.5, 2.0)
        return lambda d: d ** g, f"gamma{g:.2f}"
    if kind == "sigmoid":
        k = rng.uniform(4, 10)
        c = rng.uniform(0.4, 0.6)
        lo, hi = 1 / (1 + math.exp(k * c)), 1 / (1 + math.exp(-k * (1 - c)))
        return lambda d: (1 / (1 + np.exp(-k * (d - c))) - lo) / (hi - lo), f"sigmoid{k:.1f}"
    if kind == "log":
        k = rng.uniform(3, 30)
        return lambda d: np.log1p(k * d) / math.log1p(k), f"log{k:.0f}"
    knots = np.sort(rng.uniform(0, 1, 4))
    yv = np.sort(rng.uniform(0, 1, 4))
    xk = np.concatenate([[0], knots, [1]])
    yk = np.concatenate([[0], yv, [1]])
    yk = np.maximum.accumulate(yk * 0.7 + xk * 0.3)
    return lambda d: np.interp(d, xk, yk).astype(np.float32), "lut"


def render(job):
    seed, idx, st, lat, view, out_dir = job
    rng = np.random.default_rng([seed, idx, 3])
    H, W = st["H"], st["W"]
    K: list = []
    modality = st["modality"]
    flipped = rng.random() < 0.10
    content_inv = rng.random() < 0.10
    photometric = st["photometric"]
    stored_cw = ("left" if lat == "L" else "right")
    if flipped:
        stored_cw = "right" if stored_cw == "left" else "left"
    mirrored = stored_cw == "right"
    fr = Frame(W, mirrored)
    sc = anatomy(rng, st, view, K)
    sp = sc["sp"]
    body_c = sc["body"]
    A = fr.arr(sc["A"]).copy()
    T = fr.arr(sc["T"])
    sd = fr.arr(sc["sd"])
    body = fr.arr(body_c)
    implant = fr.arr(sc["implant"])
    # canonical x grid of the stored image columns
    xc = np.arange(W, dtype=np.float32)
    if mirrored:
        xc = xc[::-1].copy()
    yv = np.arange(H, dtype=np.float32)[:, None]

    # ------------------------------------------------ physical layers (stored frame)
    I0 = np.ones((H, W), np.float32)
    heel = rng.uniform(0.05, 0.25)
    I0 *= (1 - heel * xc / W)[None, :]
    if rng.random() < 0.3:
        I0 *= 1 + rng.uniform(-0.08, 0.08) * (yv / H - 0.5)
    if heel > 0.18:
        K.append("heel_strong")
    film = modality == "film"
    # collimation / unexposed film edges: never on the chest-wall side
    p_coll = {"ffdm": 0.12, "raw": 0.1, "cr": 0.35, "film": 0.4}[modality]
    if rng.random() < p_coll:
        K.append("clear_film_edge" if film else "collimator")
        sides = [s for s in ("top", "bottom", "air") if rng.random() < 0.5] or ["air"]
        expo = np.ones((H, W), np.float32)
        pen = rng.uniform(1, 4)
        for s in sides:
            if s == "top":
                ww = H * rng.uniform(0.01, 0.06)
                expo *= np.clip((yv - ww) / pen + 0.5, 0, 1)
            elif s == "bottom":
                ww = H * rng.uniform(0.01, 0.06)
                expo *= np.clip((H - ww - yv) / pen + 0.5, 0, 1)
            else:
                ww = max(W * rng.uniform(0.01, 0.06), 0)
                lim = W - ww
                if lim > sc["emax"] + 0.02 * W:
                    expo *= np.clip((lim - xc[None, :]) / pen + 0.5, 0, 1)
        I0 *= expo + 0.01 * (1 - expo)
    if not film and rng.random() < 0.15:
        K.append("paddle_edge")
        if rng.random() < 0.5:
            yl = H * (rng.uniform(0.02, 0.12) if rng.random() < 0.5 else rng.uniform(0.88, 0.98))
            A += 0.35 * np.exp(-((yv - yl) / (rng.uniform(1, 3) / sp)) ** 2) + 0.04 * (yv > yl)
        else:
            xl = sc["emax"] + (W - sc["emax"]) * rng.uniform(0.2, 0.8)
            if xl < W * 0.98:
                A += (0.35 * np.exp(-((xc - xl) / (rng.uniform(1, 3) / sp)) ** 2) + 0.04 * (xc < xl))[None, :]
    if not film and rng.random() < 0.04 and "magnification" not in K:
        K.append("spot_paddle")
    if "magnification" in K and rng.random() < 0.7 and "spot_paddle" not in K:
        K.append("spot_paddle")
    if "spot_paddle" in K:
        xn, yn = sc["nipple"]
        cx = xn * rng.uniform(0.4, 0.7)
        cy = yn + rng.normal(0, 0.05) * H
        rs = rng.uniform(35, 55) / sp
        xs_st = fr.x(cx)
        rr = np.sqrt((np.arange(W)[None, :] - xs_st) ** 2 + (yv - cy) ** 2)
        A *= np.where(rr < rs, 0.85, 1.0).astype(np.float32)
        A += 0.3 * np.exp(-((rr - rs) / (1.5 / sp)) ** 2)
    # lead marker (physical, in the exposure)
    p_lead = {"ffdm": 0.08, "raw": 0.05, "cr": 0.3, "film": 0.55}[modality]
    if rng.random() < p_lead:
        txt = lat if rng.random() < 0.6 else (lat + ("CC" if view == "CC" else "MLO"))
        sz = rng.uniform(8, 15) / sp
        patch = text_patch(txt, sz, "bold")
        if rng.random() < 0.4:  # letter in a plastic/lead frame
            fr_ = np.zeros((patch.shape[0] + 8, patch.shape[1] + 8), np.float32)
            fr_[:3, :] = fr_[-3:, :] = fr_[:, :3] = fr_[:, -3:] = 1
            fr_[4:-4, 4:-4] = np.maximum(fr_[4:-4, 4:-4], patch)
            patch = fr_
        near_cw = rng.random() < 0.15
        pos = free_box(rng, body_c, patch.shape[1], patch.shape[0], ["lt", "lb"] if near_cw else ["rt", "rb", "rt"],
                       W, H, int(0.02 * W))
        if pos:
            K.append("lead_marker_chestwall" if near_cw else "lead_marker")
            paste(A, patch, fr.x(pos[0], patch.shape[1]), pos[1], "add", 8.0)

    # ------------------------------------------------ detector
    f = max(2, math.ceil(H / 300))
    S = I0 * np.exp(-A)
    small = (S * body)[::f, ::f]
    spr = rng.uniform(0.1, 0.4)
    scat = ndi.gaussian_filter(small, 20 / (sp * f)) * spr
    S = S + up(scat, H, W, cubic=False)
    tissue = body & ~implant & (sd > 5)
    if not tissue[::4, ::4].any():
        tissue = body
    Amed = float(np.median(A[::4, ::4][tissue[::4, ::4]])) if tissue.any() else 2.0
    n_t = rng.uniform(300, 3000) * (3 if modality == "film" else (0.4 if modality == "cr" else 1))
    N0 = n_t * math.exp(min(Amed, 6))
    noise = rng.standard_normal((H, W), dtype=np.float32)
    if modality == "cr":
        noise = ndi.uniform_filter(noise, 2) * 1.6
    Sn = np.maximum(S + np.sqrt(S / N0) * noise, 1e-6)
    L = -np.log(Sn)  # log attenuation, ~0 in air
    del noise

    if modality in ("ffdm", "cr"):
        kind_tag = modality
        P = st["proc"]
        Le = L
        if P["equalize"] > 0 and modality == "ffdm":
            K.append("equalized")
            Tn = T / max(float(T.max()), 1e-3)
            Le = L + P["equalize"] * (1 - Tn) * Amed * body.astype(np.float32) * (I0 > 0.5)
        if P["usm"] > 0:
            K.append("usm")
            sm = Le[::f, ::f]
            bl = up(ndi.gaussian_filter(sm, 6 / (sp * f)), H, W, cubic=False)
            Le = Le + P["usm"] * (Le - bl) * (I0 > 0.5)
        tsel = tissue[::3, ::3]
        vals = Le[::3, ::3][tsel]
        lo = float(np.quantile(vals, 0.01)) if vals.size else 1.0
        hi = float(np.quantile(vals, 0.998)) if vals.size else 4.0
        if modality == "cr":
            lo = lo * rng.uniform(0.0, 0.35)
        else:
            lo = lo * rng.uniform(0.55, 0.92)
        hi = hi * rng.uniform(0.98, 1.08)
        d = np.clip((Le - lo) / max(hi - lo, 1e-3), 0, 1)
        fn, tname = tone(rng, P["tone"])
        d = fn(d)
        if P["bg"] == "gray" or modality == "cr":
            g = rng.uniform(0.03, 0.15)
            d = g + (1 - g) * d
            K.append("gray_background")
        elif P["bg"] == "zero":
            d = np.where((L < 0.5 * lo) & (I0 > 0.5), 0.0, d)
    elif modality == "raw":
        kind_tag = "ffdm_raw_log" if st["proc"]["raw_log"] else "ffdm_raw_linear"
        Sn2 = Sn / float(np.quantile(Sn[::4, ::4], 0.995))
        if st["proc"]["raw_log"]:
            Lr = -np.log(np.maximum(Sn2, 1e-4))
            d = np.clip((Lr + 0.02) / (float(Lr[::4, ::4].max()) + 0.1), 0, 1)
        else:
            sat = rng.uniform(0.9, 1.02)
            d = np.clip(1 - Sn2 * sat, 0, 1)
        tname = "raw"
    else:
        kind_tag = "film"
        d, tname = film_chain(rng, st, Sn, L, I0, body_c, tissue, fr, K, sp, lat, view)
    K.insert(0, kind_tag)

    # ------------------------------------------------ burned-in annotations (digital, display polarity)
    if modality in ("ffdm", "cr") and rng.random() < 0.55:
        labels = [f"{lat} {view}", f"{lat}{view}", f"{'LEFT' if lat == 'L' else 'RIGHT'} {view}",
                  f"{lat}-{view}"]
        txt = labels[int(rng.integers(len(labels)))]
        if rng.random() < 0.35:
            txt += f"\n{int(rng.integers(24, 34))}kV {int(rng.integers(30, 200))}mAs\n{rng.uniform(0.8, 2.5):.2f} mGy"
        sz = H * rng.uniform(0.018, 0.04)
        patch = text_patch(txt, sz, str(rng.choice(["bold", "sans", "mono", "cond"])))
        near_cw = rng.random() < 0.2
        where = ["lt", "lb"] if near_cw else ["rt", "rt", "rb"]
        pos = free_box(rng, body_c, patch.shape[1], patch.shape[0], where, W, H, int(0.015 * W))
        if pos is None and near_cw:
            pos = (int(0.01 * W), int(0.01 * H))  # over tissue near the chest wall, as some systems do
        if pos:
            K.append("text_chestwall" if near_cw else "text_air")
            paste(d, patch, fr.x(pos[0], patch.shape[1]), pos[1], "max", rng.uniform(0.85, 1.0))
        if rng.random() < 0.3:  # orientation glyph / scale tick on the air side
            g = np.zeros((int(0.03 * H), int(0.03 * H)), np.float32)
            g[:, :2] = 1
            g[-2:, :] = 1
            pos = free_box(rng, body_c, g.shape[1], g.shape[0], ["rb", "rt"], W, H, int(0.02 * W))
            if pos:
                K.append("glyph")
                paste(d, g, fr.x(pos[0], g.shape[1]), pos[1], "max", 1.0)

    # ------------------------------------------------ stored values
    bits = st["bits"]
    maxv = (1 << bits) - 1
    if modality == "raw":
        vlo, vhi = 0.0, maxv * rng.uniform(0.85, 1.0)
    else:
        vlo = maxv * rng.uniform(0, 0.06)
        vhi = maxv * rng.uniform(0.6, 1.0) if bits > 10 else maxv * rng.uniform(0.85, 1.0)
    v = vlo + (vhi - vlo) * np.clip(d, 0, 1)
    if modality in ("film", "cr"):
        v = v + rng.normal(0, 0.6, size=v.shape).astype(np.float32) * (bits >= 12)
    bright_bg = (photometric == "MONOCHROME1") != content_inv
    if bright_bg:
        v = (vlo + vhi) - v if rng.random() < 0.6 else maxv - v
    if content_inv:
        K.append("content_inverted")
    stored = np.clip(np.rint(v), 0, maxv).astype(np.uint16)
    pad_value = None
    if rng.random() < 0.07:
        side = str(rng.choice(["air", "bottom", "top"]))
        kindp = "pad_zero" if rng.random() < 0.5 else "pad_const"
        if kindp == "pad_zero":
            val = 0
            pad_value = 0
        else:  # constant at the display-black level (what the system writes outside the field)
            val = int(round(vlo if not bright_bg else stored[::7, ::7].max()))
        if side == "air":
            room = W - sc["emax"]
            pw = int(min(room * 0.8, W * rng.uniform(0.03, 0.15)))
            if pw > 4:
                if mirrored:
                    stored[:, :pw] = val
                else:
                    stored[:, W - pw:] = val
                K.append(kindp)
        else:
            ph = int(H * rng.uniform(0.02, 0.08))
            if side == "top":
                stored[:ph] = val
            else:
                stored[H - ph:] = val
            K.append(kindp)
    if body_c[0].any() or body_c[-1].any():
        K.append("touches_top_bottom")
    if sc["emax"] > 0.995 * W:
        K.append("cut_off_air_side")
    elif sc["emax"] > 0.9 * W:
        K.append("fills_width")
    if sc["size"] == "small":
        K.append("small_breast")

    K = [k for k in K if k]
    # ------------------------------------------------ write
    image_uid = f"{st['uid']}.1.{idx}"
    image_id = md5(image_uid)
    path = pathlib.Path(out_dir) / "images" / st["study_id"] / f"{image_id}.dicom"
    path.parent.mkdir(parents=True, exist_ok=True)
    wc = float((vlo + vhi) / 2)
    ww = float(vhi - vlo)
    write_dicom(path, stored, st, image_id, lat, view, photometric, bits, sp, modality, wc, ww, pad_value)
    truth = dict(image_id=image_id, laterality=lat, view=view, photometric=photometric,
                 stored_chest_wall_side=stored_cw, laterality_flipped="true" if flipped else "false",
                 expected_inverted="true" if bright_bg else "false", kinds=";".join(K),
                 tone=tname, path=str(path))
    return dict(image_id=image_id, H=H, W=W, lat=lat, view=view, truth=truth, photometric=photometric)


def film_chain(rng, st, Sn, L, I0, body_c, tissue, fr, K, sp, lat, view):
    """Screen-film exposure -> optical density -> scanner reading -> display value (tissue bright)."""
    H, W = Sn.shape
    logE = np.log10(Sn)  # 0 in air
    Dbf = rng.uniform(0.12, 0.3)
    Dmax = rng.uniform(3.6, 4.3)
    g = rng.uniform(2.5, 4.0) * 4 / math.log(10) / (Dmax - Dbf)  # slope of the sigmoid in log10 E
    tissue_logE = float(np.median(logE[::5, ::5][tissue[::5, ::5]])) if tissue[::5, ::5].any() else -1.0
    e0 = tissue_logE + rng.uniform(0.0, 0.5)  # tissue around the toe/middle of the curve
    OD = Dbf + (Dmax - Dbf) / (1 + np.exp(-g * (logE - e0) * math.log(10)))
    OD += rng.normal(0, rng.uniform(0.008, 0.03), size=OD.shape).astype(np.float32)  # grain
    xc = np.arange(W, dtype=np.float32)
    if fr.m:
        xc = xc[::-1].copy()
    yv = np.arange(H, dtype=np.float32)[:, None]
    # ID flash: unexposed rectangle with printed text, air side corner
    if rng.random() < 0.45:
        pw, ph = int(W * rng.uniform(0.18, 0.32)), int(H * rng.uniform(0.06, 0.1))
        pos = free_box(rng, body_c, pw, ph, ["rt", "rb", "rb"], W, H, int(0.01 * W))
        if pos:
            K.append("id_flash")
            x0 = fr.x(pos[0], pw)
            OD[pos[1]:pos[1] + ph, max(0, x0):x0 + pw] = Dbf + rng.uniform(0, 0.1)
            txt = (f"{['ST MARY', 'UMC', 'MAMMO CTR', 'RADIOLOGY'][int(rng.integers(4))]}\n"
                   f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(1, 29)):02d}/{int(rng.integers(88, 100))}"
                   f"  #{int(rng.integers(1000, 99999))}")
            tp = text_patch(txt, ph * 0.3, "mono")
            tp = tp[:ph - 4, :pw - 4]
            paste(OD, tp, x0 + 3, pos[1] + 3, "add", rng.uniform(1.2, 2.5))
            if rng.random() < 0.4:
                K.append("handwriting")
                hp = hand_patch(rng, f"{lat}{view} {int(rng.integers(1, 9))}", ph * 0.5)
                paste(OD, hp[:ph, :pw], x0 + int(pw * 0.3), pos[1] + ph // 3, "add", 1.5)
    if rng.random() < 0.18:
        pw, ph = int(W * rng.uniform(0.12, 0.25)), int(H * rng.uniform(0.04, 0.08))
        pos = free_box(rng, body_c, pw, ph, ["rt", "rb", "mt", "mb"], W, H, int(0.02 * W))
        if pos:
            K.append("sticker")
            x0 = fr.x(pos[0], pw)
            lvl = rng.uniform(0.6, 1.6)
            OD[pos[1]:pos[1] + ph, max(0, x0):x0 + pw] = lvl + rng.normal(0, 0.02, (ph, min(W, x0 + pw) - max(0, x0)))
            tp = text_patch(f"{lat} {view}\n{int(rng.integers(100000, 999999))}", ph * 0.33, "sans")[:ph - 2, :pw - 2]
            paste(OD, tp, x0 + 2, pos[1] + 2, "add", rng.uniform(0.8, 1.6))
    if rng.random() < 0.12:
        K.append("grease_pencil")
        # circle around a region of the breast
        ys_, xs_ = np.nonzero(body_c[::8, ::8])
        if len(ys_):
            k = int(rng.integers(len(ys_)))
            cx, cy = xs_[k] * 8, ys_[k] * 8
            r = rng.uniform(10, 25) / sp
            im = Image.new("L", (int(2 * r + 20), int(2 * r + 20)), 0)
            ImageDraw.Draw(im).arc((10, 10, 10 + 2 * r, 10 + 2 * r), rng.uniform(0, 90), rng.uniform(300, 400),
                                   fill=255, width=max(2, int(1.2 / sp)))
            gp = np.asarray(im, np.float32) / 255
            paste(OD, gp, fr.x(cx - r - 10, gp.shape[1]), int(cy - r - 10), "add", rng.uniform(0.8, 1.5))
    if rng.random() < 0.15:
        K.append("tape")
        tw = int(rng.uniform(15, 25) / sp)
        if rng.random() < 0.5:
            y0 = int(rng.choice([0, H - tw * 2]) + rng.integers(0, tw))
            OD[y0:y0 + tw, :] += rng.uniform(0.1, 0.35)
        else:
            x0 = fr.x(W * rng.uniform(0.85, 0.97), tw)
            OD[:, max(0, x0):x0 + tw] += rng.uniform(0.1, 0.35)
    if rng.random() < 0.3:
        K.append("scratches")
        im = Image.new("L", (W, H), 0)
        dr = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 6))):
            x = rng.uniform(0, W)
            y = rng.uniform(0, H)
            ang = rng.uniform(-0.3, 0.3) + (np.pi / 2 if rng.random() < 0.7 else 0)
            Ls = rng.uniform(0.1, 0.7) * H
            pts = wander(rng, x, y, ang, Ls, 12, 0.05)
            dr.line(pts, fill=int(rng.integers(120, 255)), width=int(rng.integers(1, 3)))
        OD -= np.asarray(im, np.float32) / 255 * rng.uniform(0.6, 2.0)
    if rng.random() < 0.4:
        K.append("dust")
        for _ in range(int(rng.integers(5, 60))):
            dk = disk(rng.uniform(0.5, 3.0), 0.8)
            paste(OD, dk, int(rng.integers(0, W)), int(rng.integers(0, H)), "add", rng.uniform(0.5, 2.5))
        im = Image.new("L", (W, H), 0)
        dr = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, W), rng.uniform(0, H)
            pts = [(x + rng.normal(0, 20) * k, y + rng.normal(0, 20) * k) for k in range(5)]
            dr.line(pts, fill=200, width=1)
        OD += np.asarray(im, np.float32) / 255 * 1.5
    # scanner: film rectangle (possibly tilted, possibly with scanner-bed margins)
    ODsat = rng.uniform(3.0, 3.9)
    margins = {s: (rng.uniform(0.005, 0.05) if rng.random() < 0.35 else 0.0) for s in ("l", "r", "t", "b")}
    if any(margins.values()):
        bed_bright = rng.random() < 0.5
        K.append("scanner_bed_bright" if bed_bright else "scanner_bed_dark")
        tilt = math.radians(rng.uniform(-2.0, 2.0)) if rng.random() < 0.35 else 0.0
        if tilt:
            K.append("tilted_film")
        cx = W * (0.5 + (margins["l"] - margins["r"]) / 2)
        cy = H * (0.5 + (margins["t"] - margins["b"]) / 2)
        hw = W * (1 - margins["l"] - margins["r"]) / 2
        hh = H * (1 - margins["t"] - margins["b"]) / 2
        xx = np.arange(W, dtype=np.float32)[None, :] - cx
        yy = yv - cy
        u = xx * math.cos(tilt) + yy * math.sin(tilt)
        v = -xx * math.sin(tilt) + yy * math.cos(tilt)
        film_in = np.clip((hw - np.abs(u)) / 1.5 + 0.5, 0, 1) * np.clip((hh - np.abs(v)) / 1.5 + 0.5, 0, 1)
        uneven = 1 + 0.1 * (np.asarray(yv / H) - 0.5)
        bed = (0.02 if bed_bright else ODsat + 0.3) * uneven
        OD = OD * film_in + bed * (1 - film_in)
    R = np.clip(OD, 0, ODsat)
    R = R + rng.normal(0, 1, size=R.shape).astype(np.float32) * (0.004 + 0.02 * (R / ODsat) ** 3)
    if rng.random() < 0.3:
        K.append("scanner_streaks")
        cols = rng.integers(0, W, size=int(rng.integers(1, 8)))
        for c in cols:
            wdt = int(rng.integers(1, 4))
            R[:, c:c + wdt] += rng.uniform(-0.15, 0.15)
        R += (rng.normal(0, 0.01, W)).astype(np.float32)[None, :]
    d = np.clip((ODsat - R) / ODsat, 0, 1)
    fn, tname = tone(rng, str(rng.choice(["linear", "linear", "gamma", "lut"])))
    return fn(d), tname


# ----------------------------------------------------------------------------- output

def write_dicom(path, px, st, image_id, lat, view, photometric, bits, sp, modality, wc, ww, pad_value):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.3.4"
    meta.MediaStorageSOPInstanceUID = image_id
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.3.4"
    ds = Dataset()
    ds.file_meta = meta
    ds.PatientSex = "F"
    ds.PatientAge = f"{st['age']:03d}Y"
    ds.StudyInstanceUID = st["study_id"]
    ds.SeriesInstanceUID = st["series_id"]
    ds.SOPInstanceUID = image_id
    ds.Modality = "MG"
    ds.BodyPartExamined = "BREAST"
    ds.Manufacturer = st["manufacturer"]
    ds.ManufacturerModelName = st["model"]
    ds.PresentationIntentType = "FOR PROCESSING" if modality == "raw" else "FOR PRESENTATION"
    ds.Laterality = lat
    ds.ImageLaterality = lat
    ds.ViewPosition = view
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = px.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [f"{sp:.4f}", f"{sp:.4f}"]
    ds.ImagerPixelSpacing = [f"{sp:.4f}", f"{sp:.4f}"]
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.WindowCenter = f"{wc:.1f}"
    ds.WindowWidth = f"{max(ww, 1):.1f}"
    ds.PresentationLUTShape = "INVERSE" if photometric == "MONOCHROME1" else "IDENTITY"
    if modality == "film":
        ds.LossyImageCompression = "00"
    if pad_value is not None:
        ds.PixelPaddingValue = pad_value
    ds.PixelData = px.astype("<u2").tobytes()
    ds["PixelData"].VR = "OW"
    pydicom.dcmwrite(str(path), ds, enforce_file_format=True)


def generate(out, n_images=300, seed=1, truth_path=None, workers=2):
    out = pathlib.Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    studies = plan_studies(seed, n_images)
    jobs = []
    order = [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]
    for i in range(n_images):
        st = studies[i // 4]
        lat, view = order[i % 4]
        jobs.append((seed, i, st, lat, view, str(out)))
    if workers > 1:
        with Pool(workers) as pool:
            res = pool.map(render, jobs, chunksize=2)
    else:
        res = [render(j) for j in jobs]
    bl = open(out / "breast-level_annotations.csv", "w", newline="")
    fa = open(out / "finding_annotations.csv", "w", newline="")
    md = open(out / "metadata.csv", "w", newline="")
    wb, wf, wm = csv.writer(bl, lineterminator="\n"), csv.writer(fa, lineterminator="\n"), csv.writer(md, lineterminator="\n")
    wb.writerow("study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split".split(","))
    wf.writerow("study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,"
                "finding_categories,finding_birads,xmin,ymin,xmax,ymax,split".split(","))
    wm.writerow(["SOP Instance UID", "Series Instance UID", "Study Instance UID", "Patient's Age", "Patient's Sex",
                 "Photometric Interpretation", "Rows", "Columns", "Bits Stored", "Manufacturer",
                 "Manufacturer's Model Name"])
    for i, r in enumerate(res):
        st = studies[i // 4]
        common = [st["study_id"], st["series_id"], r["image_id"], r["lat"], r["view"], r["H"], r["W"],
                  f"BI-RADS {st['birads']}", f"DENSITY {st['density']}"]
        wb.writerow(common + [st["split"]])
        wf.writerow(common + ["['No Finding']", "", "", "", "", "", st["split"]])
        wm.writerow([r["image_id"], st["series_id"], st["study_id"], f"{st['age']:03d}Y", "F", r["photometric"],
                     r["H"], r["W"], st["bits"], st["manufacturer"], st["model"]])
    bl.close(), fa.close(), md.close()
    truth_path = pathlib.Path(truth_path or (str(out) + ".truth.csv"))
    cols = ["image_id", "laterality", "view", "photometric", "stored_chest_wall_side", "laterality_flipped",
            "expected_inverted", "kinds", "tone", "path"]
    with open(truth_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols, lineterminator="\n")
        w.writeheader()
        for r in res:
            w.writerow(r["truth"])
    return [r["truth"] for r in res]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--truth")
    a = ap.parse_args()
    t = time.time()
    truth = generate(a.out, a.images, a.seed, a.truth, a.workers)
    print(f"{len(truth)} images in {time.time() - t:.1f}s -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
