"""QC accuracy on look-alikes from three independent generators (issue 5).

`lookalike.py` (written from scratch, sharing nothing with `mcq synth`),
`lookalike2.py` (written later, without reading the first one's scenes; 40 %
of its images are digitized films), `lookalike3.py` (written later still,
without reading mcq's detectors or the other two's scenes; a physical model
of processed, raw and CR digital images and of digitized films) and
`lookalike4.py` (the same terms; modelled on how each public dataset looks
to a curator: CBIS-DDSM and MIAS films, INbreast, VinDr, RSNA, EMBED, CMMD,
KAU-BCMD and CDD-CESM styles) each write a
VinDr-Mammo tree with real-scan artefacts and its ground truth; this test
ingests each with the default component method and with the edge-window
baseline, reads `images` from each lake with pyarrow, joins the truth and
prints the accuracy of `laterality_flipped` and `intensity_inverted` per
method, overall and per artefact kind. The component method must reach 99 %
on both columns (known gaps are non-strict xfails, below).

Run alone (prints the table): tests/run.sh, or
    $(tests/python/env.sh dicom)/python -m pytest -s tests/python/test_qc_lookalikes.py
"""

import collections
import csv
import os
import pathlib
import shutil

import pyarrow.dataset as pads
import pytest

import lookalike
import lookalike2
import lookalike3
import lookalike4
from conftest import run_mcq

IMAGES = 300
# MCQ_LOOKALIKE_SEED draws another sample of look-alikes.
SEED = int(os.environ.get("MCQ_LOOKALIKE_SEED", "11"))
GENERATORS = {"lookalike": lookalike, "lookalike2": lookalike2, "lookalike3": lookalike3,
              "lookalike4": lookalike4}
METHODS = {"component": [], "edge_window": ["--qc-method", "edge-window"]}
COLUMNS = ["laterality_flipped", "intensity_inverted"]
TRUTH = {"laterality_flipped": "laterality_flipped", "intensity_inverted": "expected_inverted"}


# The evidence behind the QC columns, for auditing misses.
SCORES = ["inversion_reason", "inversion_score", "laterality_score"]


def qc_columns(lake: pathlib.Path) -> dict[str, dict]:
    """image_id -> the QC columns of the lake's vindr-mammo `images` rows."""
    ds = pads.dataset(lake / "images", format="parquet", partitioning="hive")
    table = ds.to_table(columns=["image_id", "qc_method", *COLUMNS, "chest_wall_side", *SCORES],
                        filter=pads.field("dataset") == "vindr-mammo")
    return {r["image_id"]: r for r in table.to_pylist()}


@pytest.fixture(scope="module", params=list(GENERATORS))
def scored(request, mcq_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    tree = out / "vindr"
    truth = GENERATORS[request.param].generate(tree, IMAGES, SEED, out / "truth.csv")
    results = {}
    for method, args in METHODS.items():
        lake = out / f"lake-{method}"
        r = run_mcq(mcq_bin, "ingest", "vindr-mammo", str(tree), "--size", "64x48", *args, lake=lake)
        assert r.returncode == 0, r.stderr
        rows = qc_columns(lake)
        assert len(rows) == len(truth), f"{method}: {len(rows)} images in the lake, {len(truth)} generated"
        assert {r["qc_method"] for r in rows.values()} == {method}
        results[method] = rows
    # The second, third and fourth generators' trees are about 1 GB.
    shutil.rmtree(tree)
    return request.param, truth, results


def accuracy_table(truth: list[dict], results: dict[str, dict]) -> tuple[str, dict, list[str]]:
    """The printed table, {(method, column): fraction correct} overall, and
    the component method's misses."""
    groups = collections.defaultdict(list)
    for t in truth:
        groups["all"].append(t)
        for kind in set(t["kinds"].split(";")):
            groups[kind].append(t)
    head = f"{'artefact':<22} {'n':>4} | " + " | ".join(
        f"{c.split('_')[1][:4]} {m[:4]:>4}" for c in COLUMNS for m in METHODS)
    lines = [head, "-" * len(head)]
    overall = {}
    for kind in ["all"] + sorted(k for k in groups if k != "all"):
        rows = groups[kind]
        cells = []
        for column in COLUMNS:
            for method in METHODS:
                ok = sum(results[method][t["image_id"]][column] == (t[TRUTH[column]] == "true") for t in rows)
                if kind == "all":
                    overall[(method, column)] = ok / len(rows)
                cells.append(f"{100 * ok / len(rows):8.1f}%")
        lines.append(f"{kind:<22} {len(rows):>4} | " + " | ".join(cells))
    misses = []
    for t in truth:
        got = results["component"][t["image_id"]]
        wrong = [c for c in COLUMNS if got[c] != (t[TRUTH[c]] == "true")]
        if wrong:
            misses.append(f"{t['image_id']} {t['laterality']} {t['view']} {t['photometric']} "
                          f"side {got['chest_wall_side']} (truth {t['stored_chest_wall_side']}) "
                          f"wrong {','.join(wrong)} [{t['kinds']}]")
    return "\n".join(lines), overall, misses


def check_column(scored, column):
    _, truth, results = scored
    table, overall, misses = accuracy_table(truth, results)
    print("\n" + table)
    for m in misses:
        print("  miss:", m)
    got = overall[("component", column)]
    gap = KNOWN_GAPS.get((scored[0], column))
    if got < 0.99 and gap:
        pytest.xfail(f"component {column}: {100 * got:.1f}% < 99%: {gap}")
    assert got >= 0.99, f"component {column}: {100 * got:.1f}% < 99%"


# Known gaps (issue 5), per generator and column: reported as xfail while
# below 99 %, a plain pass once above.
KNOWN_GAPS = {
    # Session 9: the fourth generator, held out until scored on b976033
    # (seeds 1-3, 900 images): polarity 89.6 % (94 misses), chest-wall
    # side 93.6 % (58); the edge-window baseline 73.3 % and 81.7 %. Most
    # polarity misses are CBIS-DDSM-style digitized films (40 % of them
    # wrong): their air, mottled by fog, reads as textured, and their clear
    # margins (wide, tilted, broken by stickers) are flat and bright, so
    # they outvote it. Spot/magnification views with a bright collimated
    # field, GE-style grey backgrounds and CESM recombined images miss too.
    # After session 9 (deep clear margins peeled, segmentation retries):
    # seeds 1-3 polarity 90.4 % (86), chest-wall side 94.0 % (54); seed 11
    # 91.0 % and 94.3 %. Session 10 (film borders peeled in layers; the
    # tissue level from blocks of middling structure, so that mottled air
    # does not set it): seeds 1-3 polarity 92.8 % (65), chest-wall side
    # 95.1 % (44); seed 11 93.0 % and 95.0 %. Still open: films whose air
    # is all mottled (no flat air votes), spot/magnification views whose
    # only flat region is the bright collimator shadow (15 of 15 wrong on
    # 4 seeds), CESM recombined images. Session 12 (tissue level from the
    # upper of two texture classes, the collimator surround found inside a
    # frame line, only flat blocks open to the edge vote; measured with
    # benches/qc_lookalikes.py): seeds 1-3 polarity 94.7 % (48), chest-wall
    # side 96.2 % (34); seed 11 95.7 % and 95.7 %. Still open: CBIS-like
    # films (31 of the 61 polarity misses on seeds 1-3 and 11) whose clear
    # margins or scanner bed are flat and bright but not peeled, and
    # implants (flat and bright, at the chest wall); spot views whose
    # bright surround holds text or a gradient (11 of 15 wrong on 4 seeds);
    # CESM recombined images. Session 13 (weakly textured blocks far from
    # the tissue level vote as background, so mottled film air counts):
    # seeds 1-3 polarity 96.1 % (35), chest-wall side 96.8 % (29); seed 11
    # 96.3 % and 96.0 %. Still open: CBIS-like films (18 of the 46 polarity
    # misses on 4 seeds), spot views with a bright surround (11 of 15 wrong),
    # CESM recombined images (7 polarity, 12 chest-wall misses of 112: the
    # breast is barely apart from the grey background). Session 14 (tissue
    # must rise 8 % of the tissue's rise above the background fit; black
    # padding deeper than 15 % and mostly uniform border lines peeled; a
    # fourth chest-wall vote from where the textured blocks lie): seeds 1-3
    # polarity 96.2 % (34), chest-wall side 97.8 % (20); seed 11 96.3 % and
    # 96.7 %. Still open: CBIS-like films (17 of the 45 polarity misses on 4
    # seeds), spot views with a bright surround (11 of 15 wrong), CESM (7
    # polarity and 11 chest-wall misses of 112), air with a blotchy texture
    # as strong as the tissue's (it sets the tissue level). Session 15 (a
    # content vote within 0.15 of even leaves the polarity to the header;
    # the collimator surround found past a peeled band's edge blur and
    # around text printed on it): seeds 1-3 polarity 96.9 % (28),
    # chest-wall side 97.8 % (20); seed 11 97.0 % and 97.3 %. Still open:
    # CBIS-like films (14 of the 37 polarity misses on 4 seeds: pectoral
    # muscles, implants and unpeeled margins flat and bright), CESM (7
    # polarity and 11 chest-wall misses of 112), spot views with a bright
    # surround (7 of 15 wrong: a gradient on the surround, or a field of
    # tissue alone whose few smooth blocks decide), blotchy air (7 of 70).
    # Session 16 (a tilted film's clear margin peeled behind the wedge of
    # scanner bed along the edge): seeds 1-3 polarity 97.2 % (25),
    # chest-wall side 97.9 % (19); seed 11 97.7 % and 97.7 %. Still open:
    # CBIS-like films (11 of the 32 polarity misses on 4 seeds), CESM (7
    # polarity and 11 chest-wall misses of 112), spot views with a bright
    # surround (7 of 15 wrong), blotchy air (6 of 70). Session 17 (a fifth
    # chest-wall vote from which way the edges' orientations turn down the
    # image, for the skin line's bulge): chest-wall side seeds 1-3 99.0 %
    # (9 misses of 900), seed 11 98.7 % (4), 13 of 1,200 on 4 seeds (26
    # before; CESM 11 -> 2 of 112); polarity unchanged. Then the
    # brightness fall-off toward that (mask-free) chest-wall side joined
    # the polarity vote: seeds 1-3 polarity 97.8 % (17), chest-wall side
    # 99.3 % (6); seed 11 98.7 % and 99.3 %; on 4 seeds polarity 21 of
    # 1,200 (32 before), chest-wall side 8. Still open (polarity): CBIS-like
    # films, spot views with a bright surround, CESM recombined images.
    # Sessions 19-20 (spot views: a field's few flat blocks no longer
    # overrule the header; the surround found when shaded, crossed by grid
    # lines, under a label printed across the field's edge, or mostly
    # peeled as bands; a vote of under 10 % flat blocks scaled down against
    # the fall-off): on 4 seeds polarity 14 of 1,200 (98.83 %), chest-wall
    # side 6; seed 11 99.00 % and 99.67 %. Still open: CESM recombined
    # images (3: their grey background is not at an end of the range),
    # films (5), spot views (3: an implant in the field, a field of tissue
    # alone under a wrong header, a surround shaded over a quarter of the
    # range), raw and noisy-air images (3).
    ("lookalike4", "intensity_inverted"): "films with mottled air and flat bright margins; spot views' collimator shadow",
    ("lookalike4", "laterality_flipped"): "follows the polarity misses of digitized films",
}


def test_component_intensity_inverted_reaches_99_percent(scored):
    check_column(scored, "intensity_inverted")


# Known gap (issue 5). 300 images per seed, session 7. First generator, 36
# seeds (10,800 images): chest-wall side 99.3 % (74 misses), below 99 % at
# 4242, 31337, 8080, 101, 3333 and 5555 (98.3-98.7 %); polarity 99.4 % (60
# misses), below 99 % at 4040, 31337, 101, 1111 and 5555 (98.3-98.7 %);
# seed 11 at 99.7/99.7 %. About half of the laterality misses follow a
# polarity miss (the air is then segmented as tissue); the rest are breasts
# filling the image with little or no air, often with an offset chest wall,
# a gradient or film borders on every side, where the mask's shape barely
# tells the chest wall from a cut-off nipple side. Second generator, seeds
# 1-4 and 11 (1,500 images): chest-wall side 99.3 % (10 misses; 98.0 % at
# seed 1), polarity 99.6 % (6; seed 11 at 99.7/99.3 %); its laterality
# misses are digitized films whose smooth, tone-bent background rises above
# the fitted surface and is segmented as tissue. Session 8 (straight dark
# bands peeled, a layered background fit), on the first generator's seeds
# 4242, 31337, 101, 5555, 8080, 3333, 1111 (its weakest) and 11: chest-wall side 25
# misses of 2,400 (98.96 %), polarity 23; second generator seeds 1-4: 7
# and 4 of 1,200. Third generator (session 8, held out until then; its
# misses guided this session's changes), seeds 1-3 and 11 (1,200 images):
# chest-wall side 99.25 % (9 misses; 99.0 % at seed 3, 98.7 % at 11),
# polarity 99.75 % (3, raw linear "for processing" images; two have their
# content inverted against the header, where the votes with and without
# the quiet floor disagree and the header decides). Laterality misses: 5
# raw linear, 2 raw log with padding darker than their grey air, 2 films
# with ID flashes. Session 9 (segmentation retries when the mask misses
# the textured blocks): first generator's 8 seeds 20 misses (98.7 % at
# 101), second 5 of 1,500, third 4 of 1,200 (every seed 99.7 %); the
# fourth generator is below (KNOWN_GAPS). Session 14 (a texture-centroid
# vote): first generator's 8 seeds 16 misses (98.7 % at 5555, the rest
# 99.0-99.7 %), second 2 of 1,500, third 3 of 1,200. Session 15 (the
# header margin of polarity): the same 16 (98.7 % at 5555), second 1 of
# 1,500, third 3 of 1,200; session 16 the same. Session 17 (the outline
# vote): first generator's 8 seeds 9 misses of 2,400 (every seed 99.0 % or
# more; 99.0 % at 11, the seed scored here), second 0 of 1,500, third 0 of
# 1,200: a plain test now, the fourth generator's gap listed in KNOWN_GAPS.
# With the fall-off in the polarity vote: first 7 of 2,400, second 0,
# third 0.
def test_component_laterality_flipped_reaches_99_percent(scored):
    check_column(scored, "laterality_flipped")


PROMISED_KINDS = {
    "lookalike": ["cc", "mlo", "offset", "small", "wide", "touches_top_bottom", "gradient", "heavy_noise",
                  "dark_level", "dense", "fatty", "text", "text_chest_side", "ruler", "lead_marker",
                  "border1", "border_chest_or_many", "mono1", "mono2", "content_inverted", "flipped",
                  "bits12", "bits16"],
    "lookalike2": ["cc", "mlo", "film", "digital", "offset", "small", "large", "dense", "fatty", "heel",
                   "low_contrast", "implant", "abdomen", "film_border", "scanner_bed", "sticker", "ruler",
                   "streaks", "dust", "lead_marker", "burned_text", "equalized", "collimation", "mono1",
                   "mono2", "content_inverted", "flipped", "bits12", "bits16"],
    "lookalike3": ["ffdm", "ffdm_raw_linear", "ffdm_raw_log", "cr", "film", "fatty", "dense", "pectoral",
                   "abdomen", "nipple_profile", "touches_top_bottom", "fills_width", "cut_off_air_side",
                   "small_breast", "offset_chestwall", "magnification", "implant", "calcs", "mass",
                   "heel_strong", "equalized", "usm", "gray_background", "text_air", "text_chestwall",
                   "lead_marker", "paddle_edge", "collimator", "spot_paddle", "clear_film_edge",
                   "scanner_bed_dark", "scanner_bed_bright", "id_flash", "tilted_film", "scanner_streaks",
                   "scratches", "dust", "tape", "sticker", "handwriting", "grease_pencil", "content_inverted",
                   "pad_zero", "pad_const"],
    "lookalike4": ["style_cbis", "style_mias", "style_inbreast", "style_vindr", "style_rsna", "style_embed",
                   "style_cmmd", "style_kau", "style_cesm", "style_raw", "film", "large_film_border",
                   "saturated_border", "scanner_bed", "tilted_film", "sticker", "handwriting", "lead_marker",
                   "marker_chest_side", "text_chest_side", "annotation_box", "grey_background", "collimator",
                   "cesm_recombined", "jpeg_blocky", "pad_zero", "pad_max", "pad_chest_side", "frame_white",
                   "frame_black", "heel", "grid_lines", "dead_lines", "implant", "spot_mag", "pectoral_big",
                   "touches_top_bottom", "fills_width", "content_inverted", "mono1_mislabelled"],
}


def test_truth_columns_are_consistent(scored):
    generator, truth, _ = scored
    kinds = collections.Counter(k for t in truth for k in t["kinds"].split(";"))
    # Every artefact the generator promises occurs.
    for kind in PROMISED_KINDS[generator]:
        assert kinds[kind] >= 5, f"{kind}: only {kinds[kind]} images"
    for t in truth:
        content_inverted = "content_inverted" in t["kinds"].split(";")
        assert (t["expected_inverted"] == "true") == ((t["photometric"] == "MONOCHROME1") != content_inverted)
        label_side = "left" if t["laterality"] == "L" else "right"
        assert (t["laterality_flipped"] == "true") == (t["stored_chest_wall_side"] != label_side)
