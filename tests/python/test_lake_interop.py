"""The lake read with no mcq code: pandas and pyarrow read every table with
`dataset` from the partition path and the types of schemas/*.json, pyarrow
sees the tensor extension, DuckDB reads every table and runs the shared
views and every sql/ report unchanged with the same result as mcq.

Two lakes: `lake` (the real CBIS-DDSM and CMMD metadata files, metadata-only)
and `demo_lake` (look-alikes of four datasets with images; see conftest)."""

import json
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from conftest import DEMO_TENSOR, REPORTS, ROOT, TABLES, VIEWS, assert_same_rows, mcq_csv, mcq_report

LAKES = ["lake", "demo_lake"]
SCHEMAS = {t: json.loads((ROOT / "schemas" / f"{t}.json").read_text())["columns"] for t in TABLES}

# What the recommended pandas call gives for each schemas/*.json type:
#     pd.read_parquet("mcq-lake/<table>", dtype_backend="numpy_nullable")
# nullable integers, booleans and floats, pandas strings, lists as numpy
# arrays of str, the tensor as a flat numpy uint16 array per row, and
# `dataset` (from the partition folder) as a categorical.
PANDAS_DTYPES = {
    "utf8": "string",
    "int32": "Int32",
    "int64": "Int64",
    "float64": "Float64",
    "bool": "boolean",
    "list<utf8>": "object",
    "tensor<uint16>": "object",
}


def mcq_counts(mcq_bin, lake, table) -> dict[str, int]:
    _, rows = mcq_csv(mcq_bin, lake, f"SELECT dataset, count(*) AS n FROM {table} GROUP BY dataset")
    return {d: int(n) for d, n in rows}


def test_pandas_reads_metadata_with_partition_column(lake, mcq_bin):
    df = pd.read_parquet(lake / "metadata", dtype_backend="pyarrow")
    counts = df.groupby("dataset", observed=True).size().to_dict()
    assert counts == {"cbis-ddsm": 2290, "cmmd": 1872}
    assert str(df["age"].dtype).startswith("int32")
    # lists come back as lists
    shapes = df.loc[df["image_id"] == "P_00001_LEFT_CC", "mass_shape"].iloc[0]
    assert list(shapes) == ["architectural_distortion", "irregular"]
    # the same count mcq gives
    _, rows = mcq_csv(mcq_bin, lake, "SELECT count(*) AS n FROM metadata")
    assert int(rows[0][0]) == len(df)


@pytest.mark.parametrize("which", LAKES)
@pytest.mark.parametrize("table", TABLES)
def test_pandas_reads_every_table_with_the_schema_types(request, mcq_bin, which, table):
    lake = request.getfixturevalue(which)
    df = pd.read_parquet(lake / table, dtype_backend="numpy_nullable")
    columns = SCHEMAS[table]
    assert list(df.columns) == [c["name"] for c in columns] + ["dataset"]
    for c in columns:
        assert str(df[c["name"]].dtype) == PANDAS_DTYPES[c["type"]], (table, c["name"])
    # `dataset` comes from the partition path only, as a categorical
    assert isinstance(df["dataset"].dtype, pd.CategoricalDtype)
    counts = {d: int(n) for d, n in df.groupby("dataset", observed=True).size().items()}
    assert counts == mcq_counts(mcq_bin, lake, table)
    for c in columns:
        values = df[c["name"]].dropna()
        if c["type"] == "list<utf8>":
            assert all(isinstance(v, np.ndarray) and all(isinstance(s, str) for s in v) for v in values), c["name"]
        if "allowed" in c:
            # a vocabulary column is a categorical of its allowed values, losing nothing
            allowed = c["allowed"]
            if c["type"] == "list<utf8>":
                assert {s for v in values for s in v} <= set(allowed), c["name"]
            else:
                as_category = df[c["name"]].astype(pd.CategoricalDtype(allowed))
                assert as_category.isna().sum() == df[c["name"]].isna().sum(), (c["name"], set(values) - set(allowed))


def test_pandas_vocabularies_have_values_on_the_demo_lake(demo_lake):
    # the checks above are not vacuous: the vocabularies are filled in
    df = pd.read_parquet(demo_lake / "metadata", dtype_backend="numpy_nullable")
    assert set(df["density"].dropna()) <= {"A", "B", "C", "D"} and df["density"].notna().sum() > 0
    assert {"Benign", "Malignant"} <= set(df["diagnosis"].dropna()) <= {"Normal", "Benign", "Malignant"}
    assert set(df["dataset"].cat.categories) == {"cbis-ddsm", "cmmd", "tompei-cmmd", "vindr-mammo"}
    assert df["birads"].isna().any() and df["birads"].notna().any()  # nullable integers keep their nulls


@pytest.mark.parametrize("which", LAKES)
def test_pyarrow_reads_every_table(request, which):
    lake = request.getfixturevalue(which)
    for table in TABLES:
        t = ds.dataset(lake / table, format="parquet", partitioning="hive").to_table()
        assert "dataset" in t.column_names
        assert [f.name for f in t.schema][:-1] == [c["name"] for c in SCHEMAS[table]]


def test_pyarrow_sees_the_tensor_column_as_fixed_shape_tensor(demo_lake):
    table = ds.dataset(demo_lake / "images", format="parquet", partitioning="hive").to_table()
    column = table.column("tensor")
    assert isinstance(column.type, pa.FixedShapeTensorType), (
        f"pyarrow does not see the arrow.fixed_shape_tensor extension: {column.type}"
    )
    assert column.type.extension_name == "arrow.fixed_shape_tensor"
    h, w = json.loads((demo_lake / "_mcq" / "manifest.json").read_text())["tensor_shape"]
    assert (h, w) == DEMO_TENSOR
    assert str(column.type) == f"extension<arrow.fixed_shape_tensor[value_type=uint16, shape=[{h},{w}]]>"
    array = column.combine_chunks().to_numpy_ndarray()
    assert array.shape == (table.num_rows, h, w)
    assert array.dtype == np.uint16
    assert table.num_rows >= 100 and array.max() > 0
    # canonical orientation: the chest wall is on the left, so the left half holds more tissue
    assert (array[:, :, : w // 2].astype(np.int64).sum() > array[:, :, w // 2 :].astype(np.int64).sum())


def test_tensors_equal_the_pngs_mcq_export_writes(demo_lake, mcq_bin, tmp_path):
    """pyarrow's (N, H, W) tensors are exactly what `mcq export png --bits 16`
    writes (read back with Pillow), image by image."""
    from conftest import run_mcq
    from PIL import Image

    out = tmp_path / "png"
    r = run_mcq(mcq_bin, "export", "png", str(out), "--bits", "16", lake=demo_lake)
    assert r.returncode == 0, r.stderr
    table = ds.dataset(demo_lake / "images", format="parquet", partitioning="hive").to_table(
        columns=["dataset", "image_id", "tensor"]
    )
    tensors = table.column("tensor").combine_chunks().to_numpy_ndarray()
    by_key = {
        (str(d), i): tensors[n]
        for n, (d, i) in enumerate(zip(table.column("dataset").to_pylist(), table.column("image_id").to_pylist()))
    }
    listed = pd.read_csv(out / "metadata.csv", dtype=str)
    assert len(listed) == len(by_key) and len(listed) >= 100
    for row in listed.itertuples():
        png = np.asarray(Image.open(out / row.path))
        assert png.dtype == np.uint16, row.path
        assert np.array_equal(png, by_key[(row.dataset, row.image_id)]), row.path


@pytest.fixture(scope="module", params=LAKES)
def duck(request):
    lake = request.getfixturevalue(request.param)
    con = duckdb.connect()
    for table in TABLES:
        assert (lake / table).exists(), f"every table has files: {table}"
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = true)"
        )
    for view in VIEWS:
        con.execute(f"CREATE VIEW {view.stem} AS\n{view.read_text()}")  # unchanged, comments included
    return SimpleNamespace(con=con, lake=lake, which=request.param)


@pytest.mark.parametrize("report", REPORTS, ids=[p.stem for p in REPORTS])
def test_every_report_gives_the_same_rows_in_duckdb(mcq_bin, duck, report):
    result = duck.con.execute(report.read_text())  # the file as it is
    header = [d[0] for d in result.description]
    theirs = result.fetchall()
    ours_header, ours = mcq_report(mcq_bin, duck.lake, report.stem)
    assert ours_header == header
    assert_same_rows(ours, theirs, f"{report.stem} (DuckDB)")


def test_duckdb_reads_every_table_and_runs_the_exams_view(mcq_bin, duck):
    for table in TABLES + [v.stem for v in VIEWS]:
        theirs = dict(duck.con.execute(f"SELECT dataset, count(*) FROM {table} GROUP BY dataset").fetchall())
        assert theirs == mcq_counts(mcq_bin, duck.lake, table), table
    query = "SELECT dataset, exam_id, images, has_cc, has_mlo, density, birads, diagnosis, mass, calcification, asymmetry, distortion FROM exams ORDER BY dataset, exam_id"
    header, ours = mcq_csv(mcq_bin, duck.lake, query)
    result = duck.con.execute(query)
    assert header == [d[0] for d in result.description]
    theirs = result.fetchall()
    if duck.which == "lake":  # CBIS-DDSM breasts kept + CMMD breasts
        assert len(theirs) == 1145 + 1872
    assert [[str(c).lower() if c is not None else "" for c in row] for row in theirs] == [
        [c.lower() for c in row] for row in ours
    ]
