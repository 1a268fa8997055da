"""Second, independent VinDr-Mammo look-alike generator for scoring mcq's QC.

Written in session 7 by a helper told not to read the scene code of
`lookalike.py`. It adds what the first generator lacks:
digitized films (40 %: clear-film margins, a scanner bed, stickers, rulers,
scanner streaks, dust, low-contrast breasts) beside digital images (paddle
edges, collimation, equalized processing), implants, calcifications, the
abdomen in MLOs, heel-effect gradients, 1000-2300-pixel images and five tone
curves. Its truth file has the same columns as `lookalike.py`'s.

Scenes are built in display polarity (tissue bright, air dark), canonically with
the chest wall on the LEFT, then (optionally) mirrored, tone-mapped to 12/14/16
bits and polarized.  Only the file writing (write_dicom, CSV layout) is reused
from tests/python/lookalike.py.

    python lookalike2.py OUT --seed 1 --images 300 [--truth PATH]
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import lookalike  # noqa: E402  (write_dicom, md5, polarize, write_csvs, cli only)


def up(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bicubic upsample of a float array to h x w."""
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((w, h), Image.BICUBIC))


def lowfreq(rng, h, w, cell_y, cell_x):
    n = rng.standard_normal((max(2, h // cell_y + 2), max(2, w // cell_x + 2)))
    return up(n, h, w)


def wobble(rng, n, amp, waves=4):
    t = np.linspace(0, 1, n)
    out = np.zeros(n)
    for k in range(1, waves + 1):
        out += rng.normal(0, amp / k) * np.sin(2 * np.pi * k * t + rng.uniform(0, 6.3))
    return out


def text_img(text: str, px: int) -> np.ndarray:
    """Rendered text mask (0..1), glyph height ~px."""
    f = ImageFont.load_default(size=max(8, px))
    l, t, r, b = f.getbbox(text)
    im = Image.new("L", (r - l + 4, b - t + 4), 0)
    ImageDraw.Draw(im).text((2 - l, 2 - t), text, fill=255, font=f)
    return np.asarray(im, dtype=np.float32) / 255.0


def paste(img, mask, y, x, value, mode="max"):
    H, W = img.shape
    h, w = mask.shape
    y0, x0 = max(0, y), max(0, x)
    y1, x1 = min(H, y + h), min(W, x + w)
    if y1 <= y0 or x1 <= x0:
        return
    m = mask[y0 - y:y1 - y, x0 - x:x1 - x]
    reg = img[y0:y1, x0:x1]
    if mode == "max":
        img[y0:y1, x0:x1] = np.maximum(reg, m * value)
    else:  # overwrite where mask
        img[y0:y1, x0:x1] = reg * (1 - m) + m * value


def breast_scene(rng, H, W, view, kinds, film):
    """Display-polarity breast, chest wall on the left. Returns img, tissue mask, density letter."""
    yy = np.arange(H, dtype=np.float32)[:, None]
    xx = np.arange(W, dtype=np.float32)[None, :]
    size = rng.choice(["small", "normal", "large"], p=[0.15, 0.63, 0.22])
    if size != "normal":
        kinds.append(size)
    x0 = 0.0
    if rng.random() < 0.12:
        x0 = float(rng.uniform(0.03, 0.12) * W)
        kinds.append("offset")
    if size == "small":
        D, half = W * rng.uniform(0.22, 0.38), H * rng.uniform(0.18, 0.3)
    elif size == "normal":
        D, half = W * rng.uniform(0.5, 0.8), H * rng.uniform(0.33, 0.45)
    else:
        D, half = W * rng.uniform(0.8, 1.0), H * rng.uniform(0.48, 0.62)
    yc = H * rng.uniform(0.42, 0.58)
    wob = 1 + wobble(rng, H, 0.03)[:, None]
    if view == "CC":
        e = rng.uniform(1.7, 2.6)
        r = (np.abs((xx - x0) / (D * wob)) ** e + np.abs((yy - yc) / half) ** e) ** (1 / e)
    else:
        # MLO: attached along most of the chest wall, axilla at top, bulge low.
        top = yc - half * rng.uniform(1.1, 1.6)
        bot = yc + half * rng.uniform(0.8, 1.05)
        t = np.clip((yy - top) / (bot - top), 0, 1)
        prof = np.clip(np.sin(np.pi * t ** rng.uniform(0.55, 0.8)), 0, 1) ** 0.55
        prof = np.maximum(prof, rng.uniform(0.3, 0.5) * (1 - t / 0.35)) * ((yy >= top) & (yy <= bot))
        d = D * wob * prof + 1e-3
        r = np.where(d > 1, (xx - x0) / d, 9.0)
    r = np.where(xx < x0, 9.0, r)
    inside = r < 1
    dist = (1 - r) * D  # approx pixels to skin
    fall = rng.uniform(0.08, 0.3) * D
    equalized = (not film) and rng.random() < 0.25
    if equalized:
        kinds.append("equalized")
    thick = np.clip(dist / fall, 0, 1) ** (0.25 if equalized else rng.uniform(0.45, 0.8))
    # Fibroglandular texture: elongated toward the nipple.
    density = rng.choice(list("ABCD"), p=[0.1, 0.35, 0.4, 0.15])
    kinds.append("dense" if density in "CD" else "fatty")
    g = 0.6 * lowfreq(rng, H, W, max(8, H // 10), max(8, W // 5)) + 0.4 * lowfreq(rng, H, W, max(4, H // 60), max(4, W // 18))
    thr = {"A": 1.2, "B": 0.6, "C": 0.1, "D": -0.4}[density]
    gland = 1 / (1 + np.exp(-(g - thr) / 0.25))
    gland *= np.exp(-(((r - 0.4) / 0.45) ** 2))
    fat = rng.uniform(0.28, 0.5) if not (film and rng.random() < 0.2) else rng.uniform(0.17, 0.24)
    if fat < 0.25:
        kinds.append("low_contrast")
    glandamp = rng.uniform(0.3, 0.5)
    img = thick * (fat + glandamp * gland)
    # skin line
    skin_w = max(1.5, H / 900 * rng.uniform(1, 3))
    img += inside * rng.uniform(0.03, 0.1) * np.exp(-((dist / skin_w) ** 2))
    # vessels/strands: a few thin bright curves
    for _ in range(int(rng.integers(0, 5))):
        y = rng.uniform(0.3, 0.7) * H
        xs = np.arange(int(x0), int(min(W, x0 + D * 0.8)))
        ys = y + np.cumsum(rng.normal(0, 1.2, len(xs)))
        ok = (ys >= 0) & (ys < H - 2)
        for dy in (0, 1):
            img[(ys[ok] + dy).astype(int), xs[ok]] += 0.06 * inside[(ys[ok] + dy).astype(int), xs[ok]]
    if view == "MLO":
        pw = D * rng.uniform(0.25, 0.5)
        ph = H * rng.uniform(0.35, 0.75)
        curv = rng.uniform(0.8, 1.4)
        edge = pw * np.clip(1 - yy / ph, 0, 1) ** curv + x0
        pm = 1 / (1 + np.exp(np.clip(-(edge - xx) / max(2.0, W / 300), -50, 50)))
        pm *= (xx >= x0)
        musc = rng.uniform(0.65, 0.95) * (1 - 0.25 * np.clip((xx - x0) / pw, 0, 1))
        img = np.maximum(img, pm * musc)
        inside = inside | (pm > 0.5)
        if rng.random() < 0.3:
            kinds.append("abdomen")
            ab = ((yy - H * rng.uniform(0.9, 0.98)) / (H * 0.04)) + ((xx - x0) / (D * rng.uniform(0.2, 0.5))) ** 2 * -1
            am = np.clip(ab, 0, 1) * (xx >= x0)
            img = np.maximum(img, am * rng.uniform(0.5, 0.8))
            inside = inside | (am > 0.5)
    if rng.random() < 0.06:
        kinds.append("implant")
        ix, iy = x0 + D * rng.uniform(0.2, 0.3), yc + rng.normal(0, 0.05 * H)
        rr = ((xx - ix) / (D * rng.uniform(0.18, 0.25))) ** 2 + ((yy - iy) / (half * rng.uniform(0.25, 0.35))) ** 2
        img = np.maximum(img, np.clip((1 - rr) * 8, 0, 1) * rng.uniform(0.85, 0.95))
    if rng.random() < 0.15:
        kinds.append("calcs")
        for _ in range(int(rng.integers(5, 40))):
            cy, cx = int(rng.uniform(0.3, 0.7) * H), int(x0 + rng.uniform(0.1, 0.7) * D)
            if 0 <= cy < H - 3 and 0 <= cx < W - 3:
                img[cy:cy + 3, cx:cx + 3] = 1.0
    # heel effect (anode usually at the chest wall/nipple axis)
    if rng.random() < 0.6:
        kinds.append("heel")
        ax = rng.choice(["x", "y"])
        v = (xx / W if ax == "x" else yy / H) - 0.5
        img = img * (1 + rng.uniform(-0.2, 0.2) * v)
    return img.astype(np.float32), inside, density


def film_dress(rng, img, inside, kinds, label, side):
    """Digitized-film look: OD background, clear margins, scanner streaks, dust, sticker, ruler."""
    H, W = img.shape
    yy = np.arange(H, dtype=np.float32)[:, None]
    xx = np.arange(W, dtype=np.float32)[None, :]
    bg = rng.uniform(0.03, 0.18) + rng.uniform(-0.05, 0.05) * (xx / W - 0.5) + rng.uniform(-0.05, 0.05) * (yy / H - 0.5)
    img = np.maximum(img, 0) + bg * (1 - np.clip(img * 4, 0, 1))
    img += rng.normal(0, rng.uniform(0.01, 0.03), img.shape).astype(np.float32)  # grain
    # lead marker (part of the exposure, so mirrors with the image)
    if rng.random() < 0.6:
        kinds.append("lead_marker")
        m = text_img(label, int(H * rng.uniform(0.025, 0.05)))
        m = m[:, ::-1] if side == "R" else m  # readable once oriented to its label
        y = int(rng.uniform(0.03, 0.2) * H)
        x = int(W - m.shape[1] - rng.uniform(0.03, 0.1) * W)
        paste(img, m, y, x, rng.uniform(0.85, 1.0))
    # sticker with text
    if rng.random() < 0.45:
        kinds.append("sticker")
        sh, sw = int(H * rng.uniform(0.05, 0.12)), int(W * rng.uniform(0.2, 0.45))
        s = np.full((sh, sw), 1.0, np.float32)
        y = int(rng.choice([rng.uniform(0.01, 0.08), rng.uniform(0.8, 0.92)]) * H)
        x = int(W - sw - rng.uniform(0.01, 0.08) * W)
        paste(img, s, y, x, rng.uniform(0.85, 1.0), mode="over")
        t = text_img(f"{rng.integers(10**5, 10**6)} MAMMO {label}", max(8, sh // 4))
        t = t[:, : max(1, min(t.shape[1], sw - 4))]
        t = t[:, ::-1] if side == "R" else t
        paste(img, t, y + 2, x + 2, 0.15, mode="over")
    if rng.random() < 0.25:
        kinds.append("ruler")
        x = int(W * rng.uniform(0.88, 0.97))
        for k, y in enumerate(range(int(H * 0.1), int(H * 0.9), max(4, H // 100))):
            ln = 3 if k % 10 else 9
            img[y:y + 2, x:x + ln * max(1, W // 300)] = 0.9
    if rng.random() < 0.4:
        kinds.append("streaks")
        for _ in range(int(rng.integers(1, 8))):
            x = int(rng.integers(0, W - 3))
            img[:, x:x + int(rng.integers(1, 4))] += rng.uniform(-0.15, 0.25)
    if rng.random() < 0.5:
        kinds.append("dust")
        for _ in range(int(rng.integers(20, 200))):
            y, x = int(rng.integers(0, H - 6)), int(rng.integers(0, W - 6))
            s = int(rng.integers(1, 6))
            img[y:y + s, x:x + s] = rng.choice([0.0, 1.0])
    # clear-film margins (unexposed film = bright in display) and scanner bed outside the film
    if rng.random() < 0.55:
        kinds.append("film_border")
        for side in ("top", "bottom", "left", "right"):
            if rng.random() < 0.6:
                w = int(rng.uniform(0.01, 0.05) * (H if side in ("top", "bottom") else W))
                v = rng.uniform(0.8, 1.0)
                if side == "top":
                    img[:w] = v
                elif side == "bottom":
                    img[H - w:] = v
                elif side == "left":
                    img[:, :w] = v
                else:
                    img[:, W - w:] = v
        if rng.random() < 0.3:
            kinds.append("scanner_bed")
            w = int(rng.uniform(0.01, 0.04) * W)
            img[:, W - w:] = rng.choice([0.0, 1.0])
    return img


def digital_dress(rng, img, kinds, label, view):
    H, W = img.shape
    bg = rng.uniform(0.0, 0.05)
    img = np.maximum(img, bg)
    sig = rng.uniform(0.003, 0.015)
    img += (rng.normal(0, 1, img.shape) * sig * (0.5 + np.sqrt(np.clip(img, 0, 1)))).astype(np.float32)
    if rng.random() < 0.15:
        kinds.append("paddle_edge")
        y = int(H * rng.uniform(0.02, 0.1))
        img[y:y + max(2, H // 400)] += 0.12
    if rng.random() < 0.1:
        kinds.append("collimation")
        w = int(rng.uniform(0.02, 0.06) * W)
        img[:, W - w:] = rng.uniform(0.6, 1.0)  # unexposed collimated strip (bright)
    return img


def burn_text(rng, img, kinds, label, chest):
    """Digital annotation burned in after orientation, readable, on the non-chest side."""
    if rng.random() < 0.55:
        kinds.append("burned_text")
        H, W = img.shape
        m = text_img(label, int(H * rng.uniform(0.015, 0.035)))
        y = int(rng.uniform(0.01, 0.06) * H)
        x = int(W - m.shape[1] - 0.03 * W) if chest == "left" else int(0.03 * W)
        paste(img, m, y, x, 1.0)
        if rng.random() < 0.5:
            m2 = text_img(f"kVp {rng.integers(24, 34)} mAs {rng.integers(40, 200)}", int(H * 0.015))
            paste(img, m2, int(H * 0.95), x if chest == "left" else int(0.03 * W), 1.0)


def tone(rng, d, kinds):
    d = np.clip(d, 0, 1)
    c = rng.choice(["linear", "gamma", "log", "sigmoid", "window"], p=[0.2, 0.25, 0.2, 0.15, 0.2])
    kinds.append(f"tone_{c}")
    if c == "gamma":
        return d ** rng.uniform(0.5, 2.0)
    if c == "log":
        k = rng.uniform(5, 100)
        return np.log1p(k * d) / np.log1p(k)
    if c == "sigmoid":
        c0, s = rng.uniform(0.3, 0.6), rng.uniform(0.08, 0.2)
        a, b = 1 / (1 + np.exp(c0 / s)), 1 / (1 + np.exp(-(1 - c0) / s))
        return (1 / (1 + np.exp(-(d - c0) / s)) - a) / (b - a)
    if c == "window":
        lo, hi = rng.uniform(0.0, 0.1), rng.uniform(0.6, 1.0)
        return np.clip((d - lo) / (hi - lo), 0, 1)
    return d


def generate(out: pathlib.Path, n_images: int, seed: int, truth: pathlib.Path):
    rng = np.random.default_rng(seed + 7919)
    out.mkdir(parents=True, exist_ok=True)
    breast_rows, truth_rows, meta_rows = [], [], []
    for s in range((n_images + 3) // 4):
        study = lookalike.md5(f"2.25.7777.{seed}.{s}")
        series = lookalike.md5(f"2.25.7777.{seed}.{s}.1")
        split = "test" if s % 5 == 4 else "training"
        age = f"{int(rng.integers(35, 80)):03d}Y"
        film = rng.random() < 0.4
        manufacturer, model = ("FILM", "Digitizer") if film else [("SIEMENS", "Mammomat Inspiration"), ("Planmed", "Planmed Nuance"), ("HOLOGIC, Inc.", "Selenia Dimensions")][s % 3]
        H0 = int(rng.choice([1000, 1200, 1400, 1600, 1800, 2000, 2300], p=[.12, .18, .2, .2, .14, .1, .06]))
        W0 = int(H0 * rng.uniform(0.6, 0.8))
        for k, (side, view) in enumerate([("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]):
            if len(truth_rows) >= n_images:
                break
            image = lookalike.md5(f"2.25.7777.{seed}.{s}.1.{k}")
            kinds = [view.lower(), "film" if film else "digital"]
            H, W = H0 + int(rng.integers(-20, 21)) * (1 if film else 0), W0
            img, inside, density = breast_scene(rng, H, W, view, kinds, film)
            label = f"{side}{view}"
            if film:
                img = film_dress(rng, img, inside, kinds, label, side)
            else:
                img = digital_dress(rng, img, kinds, label, view)
            expected = "left" if side == "L" else "right"
            flipped = bool(rng.random() < 0.13)
            chest = expected if not flipped else ("right" if expected == "left" else "left")
            if chest == "right":
                img = img[:, ::-1].copy()
            if flipped:
                kinds.append("flipped")
            burn_text(rng, img, kinds, f"{side} {view}", chest)
            v = tone(rng, img, kinds)
            bits = int(rng.choice([12, 14, 16], p=[0.4, 0.2, 0.4]))
            kinds.append(f"bits{bits}")
            top = (1 << bits) - 1
            if bits == 16 and rng.random() < 0.25:
                hi = float(rng.choice([1023, 4095]))
                kinds.append("narrow16")
            else:
                hi = top * rng.uniform(0.4, 1.0)
            lo = hi * rng.uniform(0, 0.1) if rng.random() < 0.5 else 0.0
            px, photometric, _, bright_bg = lookalike.polarize(rng, v, lo, hi, top, 0.17, 0.08, kinds)
            ids = {"image_id": image, "study_id": study, "series_id": series, "age": age,
                   "manufacturer": manufacturer, "model": model}
            lookalike.write_dicom(out / "images" / study / f"{image}.dicom", ids, px, bits, photometric, side, view)
            breast_rows.append([study, series, image, side, view, H, W, f"BI-RADS {int(rng.integers(1, 3))}", f"DENSITY {density}", split])
            meta_rows.append([image, series, study, age, photometric, H, W, manufacturer, model])
            truth_rows.append({
                "image_id": image, "laterality": side, "view": view, "photometric": photometric,
                "stored_chest_wall_side": chest, "laterality_flipped": str(flipped).lower(),
                "expected_inverted": str(bright_bg).lower(), "kinds": ";".join(kinds),
            })

    lookalike.write_csvs(out, breast_rows, meta_rows, truth, truth_rows)
    return truth_rows


if __name__ == "__main__":
    lookalike.cli(generate, __doc__, 1)
