"""polars reads the lake with no mcq code: `dataset` from the partition path
(hive_partitioning=True), the types of schemas/*.json, the tensors of the
images table as fixed-size uint16 arrays, and the same counts as mcq."""

import json

import numpy as np
import polars as pl
import pytest

from conftest import DEMO_TENSOR, TABLES, assert_same_rows, mcq_csv


@pytest.mark.parametrize("which", ["lake", "demo_lake"])
def test_polars_reads_every_table_with_mcqs_counts(request, mcq_bin, which):
    lake = request.getfixturevalue(which)
    for table in TABLES:
        frame = pl.scan_parquet(lake / table, hive_partitioning=True)
        assert frame.collect_schema()["dataset"] == pl.String, table
        theirs = frame.group_by("dataset").len().collect().rows()
        _, ours = mcq_csv(mcq_bin, lake, f"SELECT dataset, count(*) AS n FROM {table} GROUP BY dataset")
        assert_same_rows(ours, theirs, f"{table} counts (polars)")
        assert ours or table == "images", f"{table} has no rows"


def test_polars_metadata_types_and_a_grouped_count(lake, mcq_bin):
    metadata = pl.read_parquet(lake / "metadata", hive_partitioning=True)
    schema = metadata.schema
    assert schema["age"] == pl.Int32 and schema["birads"] == pl.Int32
    assert schema["mass"] == pl.Boolean
    assert schema["mass_shape"] == pl.List(pl.String)
    shapes = metadata.filter(pl.col("image_id") == "P_00001_LEFT_CC")["mass_shape"].to_list()
    assert shapes == [["architectural_distortion", "irregular"]]
    theirs = metadata.group_by("dataset", "diagnosis").len().rows()
    _, ours = mcq_csv(mcq_bin, lake, "SELECT dataset, diagnosis, count(*) FROM metadata GROUP BY dataset, diagnosis")
    assert_same_rows(ours, theirs, "diagnosis counts (polars)")


def test_polars_reads_the_tensors_as_uint16_arrays(demo_lake):
    images = pl.read_parquet(demo_lake / "images", hive_partitioning=True, columns=["image_id", "tensor"])
    h, w = json.loads((demo_lake / "_mcq" / "manifest.json").read_text())["tensor_shape"]
    assert (h, w) == DEMO_TENSOR
    tensor = images["tensor"]
    # polars keeps the arrow.fixed_shape_tensor extension; its storage is a
    # fixed-size uint16 array of H*W values per row (row-major)
    storage = tensor.ext.storage() if isinstance(tensor.dtype, pl.Extension) else tensor
    assert storage.dtype == pl.Array(pl.UInt16, h * w)
    array = storage.to_numpy().reshape(-1, h, w)
    assert array.dtype == np.uint16 and array.shape == (images.height, h, w)
    assert array.max() > 0
    # and as plain lists for code that wants them
    first = storage.head(1).to_list()[0]
    assert isinstance(first, list) and len(first) == h * w
