"""mcq's DICOM decoder gives pydicom's pixels, per transfer syntax (issue 5).

Each test file is made here, at test time, from one array: uncompressed
(Explicit/Implicit VR LE), RLE and JPEG 2000 (lossless and lossy) by pydicom's
own encoders; JPEG lossless process 14 SV1 (.70) and JPEG baseline (.50), which
neither dicom-rs nor pydicom can write, by python-gdcm. Nothing is committed.
mcq's side is `examples/decode.rs` (the library's `decode::decode_with`, as the
ingest calls it), which writes each decoded image as .npy. Lossless syntaxes
must match pydicom exactly (sum and every pixel); lossy ones within ±1.

Needs the `dicom` venv (`tests/python/env.sh dicom`, as tests/run.sh uses) and
MCQ_DECODE_BIN (default target/debug/examples/decode).
"""

import os
import pathlib
import subprocess

import gdcm
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
    generate_uid,
)

from conftest import ROOT


@pytest.fixture(scope="session")
def decode_bin() -> str:
    path = os.environ.get("MCQ_DECODE_BIN", str(ROOT / "target" / "debug" / "examples" / "decode"))
    assert pathlib.Path(path).is_file(), f"build it first: cargo build --example decode ({path})"
    return path


def mammogram_like(rows: int, cols: int, bits: int, seed: int) -> np.ndarray:
    """A breast-like half-disc with texture and noise on a dark background,
    plus a bright burned-in marker: edges, flat areas and the full value range."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    r = (x / (0.7 * cols)) ** 2 + ((y - rows / 2) / (0.45 * rows)) ** 2
    top = (1 << bits) - 1
    tissue = 0.45 + 0.2 * np.sin(x / 7.0) * np.cos(y / 11.0) + 0.05 * rng.standard_normal((rows, cols))
    img = np.where(r < 1.0, tissue, 0.03 + 0.01 * rng.standard_normal((rows, cols)))
    img[rows // 10: rows // 10 + 6, cols - 20: cols - 8] = 1.0
    img[0, 0], img[-1, -1] = 0.0, 1.0
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.clip(np.round(img * top), 0, top).astype(dtype)


def dataset(arr: np.ndarray, bits_stored: int, photometric: str = "MONOCHROME2") -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.PatientID = "PIXEL-EQ"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = arr.tobytes()
    return ds


def gdcm_change(src: pathlib.Path, dst: pathlib.Path, syntax) -> None:
    """Re-encode `src` into `syntax` with GDCM (the only encoder here for .70/.50)."""
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    assert reader.Read(), f"gdcm cannot read {src}"
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change(), f"gdcm cannot encode {src} as {syntax}"
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write(), f"gdcm cannot write {dst}"


# name -> (transfer syntax UID, bits stored, photometric, lossy)
CASES = {
    "explicit_le": (ExplicitVRLittleEndian, 12, "MONOCHROME2", False),
    "explicit_le_m1": (ExplicitVRLittleEndian, 14, "MONOCHROME1", False),
    "implicit_le": (ImplicitVRLittleEndian, 12, "MONOCHROME2", False),
    "explicit_le_8bit": (ExplicitVRLittleEndian, 8, "MONOCHROME2", False),
    "rle": (RLELossless, 12, "MONOCHROME2", False),
    "rle_8bit": (RLELossless, 8, "MONOCHROME2", False),
    "j2k_lossless": (JPEG2000Lossless, 12, "MONOCHROME2", False),
    "j2k_lossless_16bit": (JPEG2000Lossless, 16, "MONOCHROME1", False),
    "jpeg_lossless_sv1": (JPEGLosslessSV1, 12, "MONOCHROME2", False),
    "jpeg_lossless_sv1_16bit": (JPEGLosslessSV1, 16, "MONOCHROME2", False),
    "jpeg_baseline": (JPEGBaseline8Bit, 8, "MONOCHROME2", True),
    "j2k_lossy": (JPEG2000, 12, "MONOCHROME2", True),
}


def write_case(tmp: pathlib.Path, name: str) -> pathlib.Path:
    syntax, bits, photometric, _ = CASES[name]
    arr = mammogram_like(150, 118, bits, seed=len(name))
    ds = dataset(arr, bits, photometric)
    path = tmp / f"{name}.dcm"
    if syntax == ImplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(path, enforce_file_format=True)
    elif syntax == ExplicitVRLittleEndian:
        ds.save_as(path, enforce_file_format=True)
    elif syntax in (RLELossless, JPEG2000Lossless):
        ds.compress(syntax)
        ds.save_as(path, enforce_file_format=True)
    elif syntax == JPEG2000:
        ds.compress(syntax, j2k_cr=[20])
        ds.save_as(path, enforce_file_format=True)
    else:
        source = tmp / f"{name}.source.dcm"
        ds.save_as(source, enforce_file_format=True)
        gdcm_syntax = {
            JPEGLosslessSV1: gdcm.TransferSyntax.JPEGLosslessProcess14_1,
            JPEGBaseline8Bit: gdcm.TransferSyntax.JPEGBaselineProcess1,
        }[syntax]
        gdcm_change(source, path, gdcm_syntax)
        source.unlink()
    written = pydicom.dcmread(path)
    assert str(written.file_meta.TransferSyntaxUID) == syntax, name
    return path


def test_mcq_decodes_every_transfer_syntax_like_pydicom(decode_bin, tmp_path):
    files = {name: write_case(tmp_path, name) for name in CASES}
    out = tmp_path / "npy"
    out.mkdir()
    res = subprocess.run([decode_bin, "--npy", str(out), *map(str, files.values())],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    sums = {pathlib.Path(line.split("\t")[0]).stem: int(line.split("\t")[4])
            for line in res.stdout.splitlines()}
    compared = []
    for name, path in files.items():
        syntax, bits, _, lossy = CASES[name]
        theirs = pydicom.dcmread(path).pixel_array
        ours = np.load(out / f"{path.name}.npy")
        assert ours.shape == theirs.shape, name
        theirs = theirs.astype(np.int64)
        ours = ours.astype(np.int64)
        assert sums[name] == int(ours.sum()), name
        if lossy:
            diff = np.abs(ours - theirs)
            assert int(diff.max()) <= 1, f"{name}: max difference {diff.max()}"
            # A lossy file that decoded to the source exactly would test nothing.
            source = mammogram_like(150, 118, bits, seed=len(name)).astype(np.int64)
            assert (ours != source).any(), name
        else:
            assert int(ours.sum()) == int(theirs.sum()), f"{name}: sums {ours.sum()} vs {theirs.sum()}"
            for y, x in [(0, 0), (75, 30), (16, 105), (149, 117), (100, 60)]:
                assert ours[y, x] == theirs[y, x], f"{name}: pixel ({y}, {x})"
            np.testing.assert_array_equal(ours, theirs, err_msg=name)
            # Lossless: also the array the file was made from.
            source = mammogram_like(150, 118, bits, seed=len(name)).astype(np.int64)
            np.testing.assert_array_equal(ours, source, err_msg=f"{name} vs source")
        compared.append((name, syntax))
    assert {s for _, s in compared} == {c[0] for c in CASES.values()}
