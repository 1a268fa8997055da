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


def test_duckdb_reads_every_table_and_runs_the_exams_view(lake, mcq_bin):
    con = duckdb.connect()
    for table in TABLES:
        if (lake / table).exists():
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = true)"
            )
    sql = (ROOT / "sql" / "views" / "exams.sql").read_text()
    body = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    con.execute(f"CREATE VIEW exams AS {body}")
    query = "SELECT dataset, exam_id, images, has_cc, has_mlo, density, birads, diagnosis, mass, calcification, asymmetry, distortion FROM exams ORDER BY dataset, exam_id"
    theirs = con.execute(query).df()
    ours = mcq_csv(mcq_bin, lake, query)
    assert len(theirs) == len(ours) == 1145 + 1872
    for column in ours.columns:
        a = ours[column].replace("", "<null>").str.lower().tolist()
        b = theirs[column].astype("string").fillna("<null>").str.lower().tolist()
        assert a == b, column
