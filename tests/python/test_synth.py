"""pydicom reads every DICOM that `mcq synth` writes, with the same pixel sums
as dicom-rs (recorded by the generator in the truth file's `pixel_sum`)."""

import csv
import pathlib

import pydicom
import pytest

from conftest import run_mcq

J2K = "1.2.840.10008.1.2.4.90"
import openjpeg  # noqa: F401  (pylibjpeg-openjpeg: pydicom's JPEG 2000 decoder, pinned)

# VinDr-Mammo's de-identification leaves a dummy file meta (SOP class 1.2.3.4);
# force=True is only used there.
DATASETS = {"cbis-ddsm": False, "cmmd": False, "vindr-mammo": True, "tompei-cmmd": False}


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_pydicom_reads_every_image_with_the_same_pixel_sum(mcq_bin, tmp_path, dataset):
    out = tmp_path / dataset
    res = run_mcq(mcq_bin, "synth", dataset, str(out), "--patients", "12", "--seed", "5",
                  "--defect", "rle=0.3", "--defect", "j2k=0.2")
    assert res.returncode == 0, res.stderr
    truth = pathlib.Path(str(out) + ".truth.csv")
    rows = [r for r in csv.DictReader(truth.open()) if r["kind"] == "image"]
    ok = [r for r in rows if r["expected_image_status"] == "ok"]
    assert ok
    syntaxes = set()
    for r in ok:
        ds = pydicom.dcmread(out / r["path"], force=DATASETS[dataset])
        syntaxes.add(str(ds.file_meta.TransferSyntaxUID))
        arr = ds.pixel_array
        assert arr.shape == (int(r["rows"]), int(r["columns"])), r["path"]
        assert int(arr.sum(dtype="uint64")) == int(r["pixel_sum"]), r["path"]
        assert ds.PhotometricInterpretation == r["photometric"]
        assert int(ds.BitsStored) == int(r["bits_stored"])
    assert "1.2.840.10008.1.2.5" in syntaxes
    assert J2K in syntaxes
    for r in rows:
        if r["expected_image_status"] == "error":
            with pytest.raises(Exception):
                pydicom.dcmread(out / r["path"]).pixel_array
