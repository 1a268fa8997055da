"""An independent VinDr-Mammo look-alike generator for scoring mcq's image QC.

Written from scratch from datasets.md (the VinDr-Mammo layout) and from what
real digital and digitized-film mammograms look like; it shares no code and no
approach with `mcq synth`. It writes

    OUT/breast-level_annotations.csv, finding_annotations.csv, metadata.csv
    OUT/images/<study_id>/<image_id>.dicom
    <truth>  (default OUT.truth.csv): one row per image

The truth says, per image, how the *stored* pixels are oriented and polarized:
`laterality_flipped` (the stored chest wall is on the side opposite to the
one its laterality label implies; mcq's convention is L = chest wall on the
left of the stored image) and `content_inverted` (the stored display polarity
is the inverse of what PhotometricInterpretation says). `expected_inverted` is
what mcq's net `intensity_inverted` must be: the stored background is bright,
i.e. MONOCHROME1 xor content_inverted. `kinds` lists the artefacts drawn.

Scenes are built in display polarity (tissue bright, 0..1), canonically with
the chest wall on the left, then mirrored, burned in with markers, mapped
through a random tone curve to 12/14/16-bit stored values and polarized.

    python lookalike.py OUT [--images 300] [--seed 11] [--truth PATH]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import pathlib

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

# --- a blocky 5x7 font for burned-in annotations ---------------------------

GLYPHS = {
    "L": ["1....", "1....", "1....", "1....", "1....", "1....", "11111"],
    "R": ["1111.", "1...1", "1...1", "1111.", "1.1..", "1..1.", "1...1"],
    "C": [".1111", "1....", "1....", "1....", "1....", "1....", ".1111"],
    "M": ["1...1", "11.11", "1.1.1", "1.1.1", "1...1", "1...1", "1...1"],
    "O": [".111.", "1...1", "1...1", "1...1", "1...1", "1...1", ".111."],
    "A": [".111.", "1...1", "1...1", "11111", "1...1", "1...1", "1...1"],
    "X": ["1...1", ".1.1.", "..1..", "..1..", "..1..", ".1.1.", "1...1"],
    "P": ["1111.", "1...1", "1...1", "1111.", "1....", "1....", "1...."],
    "1": ["..1..", ".11..", "..1..", "..1..", "..1..", "..1..", ".111."],
    "2": [".111.", "1...1", "....1", "...1.", "..1..", ".1...", "11111"],
    "5": ["11111", "1....", "1111.", "....1", "....1", "1...1", ".111."],
    "8": [".111.", "1...1", "1...1", ".111.", "1...1", "1...1", ".111."],
    " ": [".....", ".....", ".....", ".....", ".....", ".....", "....."],
}


def text_mask(text: str, scale: int) -> np.ndarray:
    """Boolean bitmap of `text` with each font cell `scale` pixels wide."""
    cols = []
    for ch in text:
        g = np.array([[c == "1" for c in row] for row in GLYPHS[ch]], dtype=bool)
        cols += [g, np.zeros((7, 1), dtype=bool)]
    m = np.hstack(cols[:-1])
    return np.kron(m, np.ones((scale, scale), dtype=bool))


# --- textures ---------------------------------------------------------------


def power_law_noise(rng: np.random.Generator, h: int, w: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-std noise with a 1/f^beta power spectrum (mammographic
    parenchyma is close to beta = 3)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = np.fft.rfft2(rng.standard_normal((h, w))) * f ** (-beta / 2.0)
    spec[0, 0] = 0.0
    out = np.fft.irfft2(spec, s=(h, w))
    return (out - out.mean()) / (out.std() + 1e-12)


def smooth_wobble(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    """A slow random 1-D curve of amplitude ~amp (contour irregularity)."""
    t = np.linspace(0, 1, n)
    out = np.zeros(n)
    for k in range(1, 5):
        out += rng.normal(0, 1.0 / k) * np.sin(2 * np.pi * k * t + rng.uniform(0, 2 * np.pi))
    return amp * out / 2.0


# --- one scene ----------------------------------------------------------------


def breast_extent(rng, view: str, h: int, depth: float, kinds: list[str]) -> np.ndarray:
    """Per row, how far (pixels) the breast reaches from the chest wall."""
    y = np.arange(h, dtype=float)
    if view == "CC":
        touch = rng.random() < 0.2
        yc = h * rng.uniform(0.42, 0.58)
        hh = h * (rng.uniform(0.56, 0.7) if touch else rng.uniform(0.28, 0.46))
        if touch:
            kinds.append("touches_top_bottom")
        p = rng.uniform(1.5, 3.2)  # contour curvature (superellipse exponent)
        u = np.clip(np.abs(y - yc) / hh, 0, 1)
        ext = depth * (1 - u**p) ** (1 / p)
    else:
        ytop = -h * rng.uniform(0.0, 0.15)  # axilla cut by the top edge
        ybot = h * rng.uniform(0.72, 1.05)
        if ybot >= h:
            kinds.append("touches_top_bottom")
        t = (y - ytop) / (ybot - ytop)
        tp = rng.uniform(0.4, 0.62)
        a0 = rng.uniform(0.3, 0.65)
        p = rng.uniform(1.6, 3.0)
        rise = a0 + (1 - a0) * np.sin(np.pi / 2 * np.clip(t / tp, 0, 1)) ** rng.uniform(0.6, 1.4)
        fall = (1 - np.clip((t - tp) / (1 - tp), 0, 1) ** p) ** (1 / p)
        ext = depth * np.where(t < tp, rise, fall)
        ext[(t < 0) | (t > 1)] = 0
    ext = ext * (1 + smooth_wobble(rng, h, 0.04))
    return np.clip(ext, 0, None)


def scene(rng: np.random.Generator, h: int, w: int, view: str, kinds: list[str]):
    """Display-polarity canonical scene (chest wall on the left), values ~0..1."""
    # Where the chest wall sits: at the edge, or inside a scanned film.
    margin = 0
    if rng.random() < 0.18:
        margin = int(w * rng.uniform(0.03, 0.14))
        kinds.append("offset")
    room = w - margin
    size_roll = rng.random()
    if size_roll < 0.15:
        depth = room * rng.uniform(0.25, 0.42)
        kinds.append("small")
    elif size_roll < 0.3:
        depth = room * rng.uniform(0.92, 1.15)
        kinds.append("wide")
    else:
        depth = room * rng.uniform(0.5, 0.85)
    ext = breast_extent(rng, view, h, depth, kinds)

    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    dx = xx - margin
    e = ext[:, None]
    inside = (dx >= 0) & (dx < e)
    s = np.where(e > 0, dx / np.maximum(e, 1), 2.0)  # 0 at chest wall, 1 at skin

    # Background: dark level, smooth scanner gradient, noise.
    bg_level = rng.uniform(0.0, 0.06)
    if rng.random() < 0.2:
        bg_level = rng.uniform(0.1, 0.25)
        kinds.append("dark_level")
    img = np.full((h, w), bg_level)
    if rng.random() < 0.3:
        ang = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(0.06, 0.22)
        ramp = (np.cos(ang) * xx / w + np.sin(ang) * yy / h) * amp
        vign = rng.uniform(0, 0.1) * (((xx / w - rng.uniform(0.2, 0.8)) ** 2 + (yy / h - 0.5) ** 2))
        img += ramp - ramp.min() + vign
        kinds.append("gradient")

    # Tissue: fat level tapering to the skin, parenchyma from 1/f^3 noise.
    density = rng.choice(["A", "B", "C", "D"], p=[0.2, 0.3, 0.3, 0.2])
    if density == "D":
        kinds.append("dense")
    elif density == "A":
        kinds.append("fatty")
    fat = rng.uniform(0.3, 0.5) if density != "D" else rng.uniform(0.45, 0.62)
    k = rng.uniform(5, 12)
    thick = np.sqrt(np.clip(1 - np.clip(s, 0, 1) ** k, 0, 1))
    tissue = bg_level + (fat - bg_level) * (0.35 + 0.65 * thick)
    tex = power_law_noise(rng, h, w, rng.uniform(2.6, 3.4))
    bias = {"A": -1.2, "B": -0.4, "C": 0.3, "D": 1.4}[density]
    where = np.exp(-(((s - rng.uniform(0.3, 0.55)) / rng.uniform(0.25, 0.45)) ** 2))
    gland = 1 / (1 + np.exp(-(tex + bias + 1.5 * (where - 0.5)) / 0.35))
    amp = {"A": 0.15, "B": 0.25, "C": 0.32, "D": 0.33}[density]
    tissue += amp * gland * thick + 0.03 * power_law_noise(rng, h, w, 1.5)
    # Skin line: a thin, slightly brighter rim.
    skin_px = rng.uniform(1.0, 3.0)
    rim = inside & ((e - dx) < skin_px)
    tissue = np.where(rim, tissue + rng.uniform(0.03, 0.1), tissue)
    # Pectoral muscle (MLO): bright triangle in the top chest-wall corner.
    if view == "MLO":
        pw = depth * rng.uniform(0.25, 0.55)
        ph = h * rng.uniform(0.35, 0.75)
        bow = rng.uniform(-0.15, 0.15)
        frac = yy / ph
        edge = pw * (1 - frac) * (1 + bow * np.sin(np.pi * np.clip(frac, 0, 1)))
        pect = inside & (frac < 1) & (dx < edge)
        muscle = rng.uniform(0.65, 0.9) + 0.03 * tex
        tissue = np.where(pect, np.maximum(tissue, muscle), tissue)
    img = np.where(inside, tissue, img)

    noise = rng.uniform(0.004, 0.025)
    if rng.random() < 0.2:
        noise = rng.uniform(0.05, 0.11)
        kinds.append("heavy_noise")
    img += noise * rng.standard_normal((h, w))
    return img, density


def burn_in(rng, img: np.ndarray, label: str, chest_side: str, kinds: list[str]) -> None:
    """Film borders, rulers, text and lead markers on the stored orientation."""
    h, w = img.shape
    if rng.random() < 0.3:
        sides = rng.choice(["left", "right", "top", "bottom"], size=rng.integers(1, 5), replace=False)
        for side in sides:
            frac = rng.uniform(0.01, 0.1)
            level = rng.uniform(0.82, 1.0)
            grain = rng.uniform(0.005, 0.03)  # film grain on the clear film edge
            n = max(1, int((w if side in ("left", "right") else h) * frac))
            jag = n + np.round(smooth_wobble(rng, h if side in ("left", "right") else w, n * 0.3)).astype(int)
            jag = np.clip(jag, 1, None)
            if side == "left":
                band = np.arange(w)[None, :] < jag[:, None]
            elif side == "right":
                band = np.arange(w)[None, :] >= (w - jag)[:, None]
            elif side == "top":
                band = np.arange(h)[:, None] < jag[None, :]
            else:
                band = np.arange(h)[:, None] >= (h - jag)[None, :]
            img[band] = level + grain * rng.standard_normal(int(band.sum()))
        kinds.append(f"border{len(sides)}")
        if len(sides) >= 3 or any(s == chest_side for s in sides):
            kinds.append("border_chest_or_many")
    if rng.random() < 0.2:
        kinds.append("ruler")
        level = rng.uniform(0.8, 1.0)
        thick = int(rng.integers(3, 9))
        if rng.random() < 0.5:  # vertical, near either side
            length = int(h * rng.uniform(0.3, 0.8))
            y0 = int(rng.integers(0, h - length))
            x0 = int(rng.integers(2, max(3, w // 12))) if rng.random() < 0.5 else w - int(rng.integers(2, max(3, w // 12))) - thick
            img[y0 : y0 + length, x0 : x0 + thick] = level
            for t in range(y0, y0 + length, int(rng.integers(8, 16))):
                img[t : t + 2, max(0, x0 - thick) : x0 + 2 * thick] = level
        else:  # horizontal, near the top or bottom
            length = int(w * rng.uniform(0.3, 0.8))
            x0 = int(rng.integers(0, w - length))
            y0 = int(rng.integers(2, h // 14)) if rng.random() < 0.5 else h - int(rng.integers(2, h // 14)) - thick
            img[y0 : y0 + thick, x0 : x0 + length] = level
            for t in range(x0, x0 + length, int(rng.integers(8, 16))):
                img[max(0, y0 - thick) : y0 + 2 * thick, t : t + 2] = level
    n_text = rng.choice([0, 1, 1, 2, 3], p=[0.3, 0.3, 0.1, 0.2, 0.1])
    if n_text:
        kinds.append("text")
    for _ in range(n_text):
        text = rng.choice([label, label.replace(" ", ""), "A 1", "X 25", "P 8", label])
        m = text_mask(text, int(rng.integers(2, 7)))
        mh, mw = m.shape
        if mh >= h or mw >= w:
            continue
        side = rng.choice(["left", "right"])
        if side == chest_side:
            kinds.append("text_chest_side")
        x = int(rng.integers(1, max(2, w // 10))) if side == "left" else w - mw - int(rng.integers(1, max(2, w // 10)))
        y = int(rng.integers(1, h // 6)) if rng.random() < 0.6 else h - mh - int(rng.integers(1, h // 6))
        x = int(np.clip(x, 0, w - mw))
        y = int(np.clip(y, 0, h - mh))
        if rng.random() < 0.25:  # on a dark label box
            img[max(0, y - 3) : y + mh + 3, max(0, x - 3) : x + mw + 3] = rng.uniform(0.0, 0.1)
        img[y : y + mh, x : x + mw][m] = rng.uniform(0.88, 1.05)
    if rng.random() < 0.15:  # a lead marker: a bright solid disc or square
        kinds.append("lead_marker")
        r = int(rng.integers(5, 14))
        cx = int(rng.integers(r, w - r))
        cy = int(rng.integers(r, max(r + 1, h // 5)))
        yy, xx = np.ogrid[0:h, 0:w]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.uniform(0.9, 1.05)


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def write_dicom(path: pathlib.Path, ids: dict, px: np.ndarray, bits: int, photometric: str, side: str, view: str):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.3.4"  # VinDr's dummy file meta
    meta.MediaStorageSOPInstanceUID = ids["image_id"]
    meta.ImplementationClassUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPInstanceUID = ids["image_id"]
    ds.StudyInstanceUID = ids["study_id"]
    ds.SeriesInstanceUID = ids["series_id"]
    ds.Modality = "MG"
    ds.PatientSex = "F"
    ds.PatientAge = ids["age"]
    ds.Laterality = side
    ds.ImageLaterality = side
    ds.ViewPosition = view
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = ids["manufacturer"]
    ds.ManufacturerModelName = ids["model"]
    ds.Rows, ds.Columns = px.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = px.astype("<u2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def polarize(rng, d: np.ndarray, lo: float, hi: float, top: int, p_mono1: float, p_inverted: float,
             kinds: list[str]) -> tuple[np.ndarray, str, bool, bool]:
    """Stored pixels of the display-polarity image `d` (0..1) on lo..hi: draws
    the header's PhotometricInterpretation and whether the content is
    inverted against it. Returns (pixels, photometric, content_inverted,
    bright_background), the last being what mcq's `intensity_inverted` must be."""
    photometric = "MONOCHROME1" if rng.random() < p_mono1 else "MONOCHROME2"
    content_inverted = bool(rng.random() < p_inverted)
    bright_background = (photometric == "MONOCHROME1") != content_inverted
    kinds.append("mono1" if photometric == "MONOCHROME1" else "mono2")
    if content_inverted:
        kinds.append("content_inverted")
    stored = hi - d * (hi - lo) if bright_background else lo + d * (hi - lo)
    return np.clip(np.round(stored), 0, top).astype(np.uint16), photometric, content_inverted, bright_background


def write_csvs(out: pathlib.Path, breast_rows: list, meta_rows: list, truth: pathlib.Path, truth_rows: list[dict]) -> None:
    """The tree's three VinDr-Mammo CSVs (every image "No Finding") and the truth file."""
    def write(name, header, rows):
        with open(out / name, "w", newline="") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(header)
            wr.writerows(rows)

    write("breast-level_annotations.csv",
          ["study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
           "breast_birads", "breast_density", "split"], breast_rows)
    write("finding_annotations.csv",
          ["study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
           "breast_birads", "breast_density", "finding_categories", "finding_birads",
           "xmin", "ymin", "xmax", "ymax", "split"],
          [r[:9] + ["['No Finding']", "", "", "", "", "", r[9]] for r in breast_rows])
    write("metadata.csv",
          ["SOP Instance UID", "Series Instance UID", "Study Instance UID", "Patient's Age",
           "Photometric Interpretation", "Rows", "Columns", "Manufacturer", "Manufacturer's Model Name"],
          meta_rows)
    with open(truth, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(truth_rows[0]), lineterminator="\n")
        wr.writeheader()
        wr.writerows(truth_rows)


def generate(out: pathlib.Path, n_images: int, seed: int, truth: pathlib.Path) -> list[dict]:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    breast_rows, truth_rows, meta_rows = [], [], []
    n_studies = (n_images + 3) // 4
    for s in range(n_studies):
        study = md5(f"1.2.840.99999.{seed}.{s}")
        series = md5(f"1.2.840.99999.{seed}.{s}.1")
        split = "test" if s % 5 == 4 else "training"
        age = f"{int(rng.integers(35, 80)):03d}Y"
        manufacturer, model = [("SIEMENS", "Mammomat Inspiration"), ("Planmed", "Planmed Nuance"), ("FILM", "Scanned film")][s % 3]
        for k, (side, view) in enumerate([("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]):
            if len(truth_rows) >= n_images:
                break
            image = md5(f"1.2.840.99999.{seed}.{s}.1.{k}")
            kinds: list[str] = [view.lower()]
            h = int(rng.integers(400, 700))
            w = int(h * rng.uniform(0.55, 0.9))
            img, density = scene(rng, h, w, view, kinds)
            expected_side = "left" if side == "L" else "right"
            flipped = bool(rng.random() < 0.35)
            chest = expected_side if not flipped else ("right" if expected_side == "left" else "left")
            if chest == "right":
                img = img[:, ::-1].copy()
            if flipped:
                kinds.append("flipped")
            burn_in(rng, img, f"{side} {view}", chest, kinds)
            # Tone curve and stored range.
            d = np.clip(img, 0, 1) ** rng.uniform(0.7, 1.4)
            bits = int(rng.choice([12, 14, 16], p=[0.45, 0.15, 0.4]))
            kinds.append(f"bits{bits}")
            top = (1 << bits) - 1
            lo = float(rng.uniform(0, 0.05) * top) if rng.random() < 0.5 else 0.0
            hi = float(top * rng.uniform(0.55, 1.0))
            px, photometric, content_inverted, bright_background = polarize(rng, d, lo, hi, top, 0.3, 0.3, kinds)
            ids = {"image_id": image, "study_id": study, "series_id": series, "age": age,
                   "manufacturer": manufacturer, "model": model}
            write_dicom(out / "images" / study / f"{image}.dicom", ids, px, bits, photometric, side, view)
            birads = f"BI-RADS {int(rng.integers(1, 3))}"
            breast_rows.append([study, series, image, side, view, h, w, birads, f"DENSITY {density}", split])
            meta_rows.append([image, series, study, age, photometric, h, w, manufacturer, model])
            truth_rows.append({
                "image_id": image, "study_id": study, "laterality": side, "view": view,
                "photometric": photometric, "bits_stored": bits,
                "stored_chest_wall_side": chest,
                "laterality_flipped": str(flipped).lower(),
                "content_inverted": str(content_inverted).lower(),
                "expected_inverted": str(bright_background).lower(),
                "kinds": ";".join(kinds),
            })

    write_csvs(out, breast_rows, meta_rows, truth, truth_rows)
    return truth_rows


def cli(generate_tree, doc: str, default_seed: int) -> None:
    """A look-alike generator's command line: OUT [--images N] [--seed S] [--truth PATH]."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=default_seed)
    ap.add_argument("--truth", type=pathlib.Path)
    a = ap.parse_args()
    truth = a.truth or pathlib.Path(str(a.out) + ".truth.csv")
    rows = generate_tree(a.out, a.images, a.seed, truth)
    print(f"{len(rows)} images under {a.out}, truth in {truth}")


def main() -> None:
    cli(generate, __doc__, 11)


if __name__ == "__main__":
    main()
