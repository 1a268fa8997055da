"""The lake read with no mcq code: pandas and pyarrow read every table with
`dataset` from the partition path, DuckDB reads every table and runs the
shared `exams` view unchanged with the same result as mcq."""

import io
import pathlib

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

from conftest import ROOT, run_mcq

SHARED = ROOT.parent / "shared" / "data"
TABLES = ["metadata", "images", "findings", "exclusions"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory, mcq_bin) -> pathlib.Path:
    lake = tmp_path_factory.mktemp("interop") / "lake"
    for dataset in ["cbis-ddsm", "cmmd"]:
        r = run_mcq(mcq_bin, "ingest", dataset, str(SHARED / dataset), "--metadata-only", lake=lake)
        assert r.returncode == 0, r.stderr
    return lake


def mcq_csv(mcq_bin, lake, sql) -> pd.DataFrame:
    r = run_mcq(mcq_bin, "query", "--format", "csv", sql, lake=lake)
    assert r.returncode == 0, r.stderr
    return pd.read_csv(io.StringIO(r.stdout), dtype=str, keep_default_na=False)


def test_pandas_reads_metadata_with_partition_column(lake, mcq_bin):
    df = pd.read_parquet(lake / "metadata", dtype_backend="pyarrow")
    counts = df.groupby("dataset", observed=True).size().to_dict()
    assert counts == {"cbis-ddsm": 2290, "cmmd": 1872}
    assert str(df["age"].dtype).startswith("int32")
    # lists come back as lists
    shapes = df.loc[df["image_id"] == "P_00001_LEFT_CC", "mass_shape"].iloc[0]
    assert list(shapes) == ["architectural_distortion", "irregular"]
    # the same count mcq gives
    ours = mcq_csv(mcq_bin, lake, "SELECT count(*) AS n FROM metadata")
    assert int(ours["n"][0]) == len(df)


def test_pyarrow_reads_every_table(lake):
    for table in TABLES:
        path = lake / table
        if not path.exists():
            continue  # no rows yet for this table (e.g. images in metadata-only lakes)
        t = ds.dataset(path, format="parquet", partitioning="hive").to_table()
        assert "dataset" in t.column_names


def sql_body(path: pathlib.Path) -> str:
    return "\n".join(l for l in path.read_text().splitlines() if not l.lstrip().startswith("--"))


@pytest.fixture(scope="module")
def duck(lake):
    con = duckdb.connect()
    for table in TABLES:
        assert (lake / table).exists(), f"every table has files: {table}"
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = true)"
        )
    con.execute(f"CREATE VIEW exams AS {sql_body(ROOT / 'sql' / 'views' / 'exams.sql')}")
    return con


def normalized(df: pd.DataFrame) -> list[list[str]]:
    def cell(v) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA or v == "":
            return "<null>"
        try:
            number = float(v)
        except (TypeError, ValueError):
            return str(v).lower()
        return str(int(number)) if number.is_integer() else repr(round(number, 6))

    return [[cell(v) for v in row] for row in df.astype(object).itertuples(index=False)]


REPORTS = sorted(p for p in (ROOT / "sql").glob("*.sql"))


@pytest.mark.parametrize("report", REPORTS, ids=[p.stem for p in REPORTS])
def test_every_report_gives_the_same_rows_in_duckdb(lake, mcq_bin, duck, report):
    theirs = duck.execute(sql_body(report)).df()
    r = run_mcq(mcq_bin, "report", report.stem, "--format", "csv", lake=lake)
    assert r.returncode == 0, r.stderr
    ours = pd.read_csv(io.StringIO(r.stdout), dtype=str, keep_default_na=False)
    if "p_value" in ours.columns:  # added by mcq, not by the SQL
        ours = ours.drop(columns=["p_value"])
    assert list(ours.columns) == list(theirs.columns)
    assert normalized(ours) == normalized(theirs)


def test_duckdb_reads_every_table_and_runs_the_exams_view(lake, mcq_bin, duck):
    con = duck
    query = "SELECT dataset, exam_id, images, has_cc, has_mlo, density, birads, diagnosis, mass, calcification, asymmetry, distortion FROM exams ORDER BY dataset, exam_id"
    theirs = con.execute(query).df()
    ours = mcq_csv(mcq_bin, lake, query)
    assert len(theirs) == len(ours) == 1145 + 1872
    for column in ours.columns:
        a = ours[column].replace("", "<null>").str.lower().tolist()
        b = theirs[column].astype("string").fillna("<null>").str.lower().tolist()
        assert a == b, column


def test_pyarrow_sees_the_tensor_column_as_fixed_shape_tensor(tmp_path, mcq_bin):
    raw = tmp_path / "cmmd"
    r = run_mcq(mcq_bin, "synth", "cmmd", str(raw), "--patients", "4", "--seed", "3")
    assert r.returncode == 0, r.stderr
    lake = tmp_path / "lake"
    r = run_mcq(mcq_bin, "ingest", "cmmd", str(raw), "--size", "64x32", lake=lake)
    assert r.returncode == 0, r.stderr
    table = ds.dataset(lake / "images", format="parquet", partitioning="hive").to_table()
    column = table.column("tensor")
    assert str(column.type) == "extension<arrow.fixed_shape_tensor[value_type=uint16, shape=[64,32]]>"
    array = column.combine_chunks().to_numpy_ndarray()
    assert array.shape == (table.num_rows, 64, 32)
    assert array.dtype.name == "uint16"
    assert table.num_rows >= 8 and array.max() > 0
