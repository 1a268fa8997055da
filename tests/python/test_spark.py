"""Spark SQL (pyspark, local mode) reads every table of the lake with
`dataset` as a partition column, creates the views of sql/views/ and runs
every sql/ report unchanged, with the same rows as `mcq report`.

One Spark session for the whole run (conftest `spark`); the tables and views
are registered once per lake (the module-scoped `spark_lake`)."""

import json

import pytest
from pyspark.sql import types as T

from conftest import DEMO_TENSOR, REPORTS, TABLES, VIEWS, assert_same_rows, java_major_version, mcq_csv, mcq_report


def test_a_missing_java_fails_the_suite_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(pytest.fail.Exception, match="pyspark needs a Java runtime .*has no bin/java.*install one"):
        java_major_version()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="no `java` on PATH"):
        java_major_version()


def test_this_machines_java_runs_pyspark_4():
    assert java_major_version() >= 17


@pytest.fixture(scope="module", params=["lake", "demo_lake"])
def spark_lake(request, spark):
    """Registers the lake's tables as Spark temp views read straight from the
    Parquet folders (Hive partition discovery gives `dataset`), then the
    views of sql/views/*.sql, file text unchanged, comments included."""
    lake = request.getfixturevalue(request.param)
    for table in TABLES:
        spark.read.parquet(str(lake / table)).createOrReplaceTempView(table)
    for view in VIEWS:
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {view.stem} AS\n{view.read_text()}")
    return lake


def test_spark_reads_every_table_with_dataset_as_partition_column(spark, spark_lake, mcq_bin):
    for table in TABLES:
        df = spark.read.parquet(str(spark_lake / table))
        # the partition column is discovered from the folders, not read from the files
        assert df.columns[-1] == "dataset", table
        files = spark.read.parquet(*df.inputFiles())
        assert "dataset" not in files.columns, table
        theirs = {r["dataset"]: r["n"] for r in spark.sql(f"SELECT dataset, count(*) AS n FROM {table} GROUP BY dataset").collect()}
        _, rows = mcq_csv(mcq_bin, spark_lake, f"SELECT dataset, count(*) AS n FROM {table} GROUP BY dataset")
        assert theirs == {d: int(n) for d, n in rows}, table
        assert theirs or table == "images", f"{table} has no rows"


def test_spark_reads_list_columns_and_tensors(spark, demo_lake):
    metadata = spark.read.parquet(str(demo_lake / "metadata"))
    assert metadata.schema["mass_shape"].dataType == T.ArrayType(T.StringType())
    assert metadata.schema["birads"].dataType == T.IntegerType()
    images = spark.read.parquet(str(demo_lake / "images"))
    # Spark has no uint16 nor the tensor extension: a list of ints, row-major H*W
    assert isinstance(images.schema["tensor"].dataType, T.ArrayType)
    h, w = json.loads((demo_lake / "_mcq" / "manifest.json").read_text())["tensor_shape"]
    assert (h, w) == DEMO_TENSOR
    row = images.selectExpr("size(tensor) AS n", "array_max(tensor) AS hi", "array_min(tensor) AS lo").first()
    assert row["n"] == h * w and 0 < row["hi"] <= 65535 and row["lo"] >= 0


@pytest.mark.parametrize("report", REPORTS, ids=[p.stem for p in REPORTS])
def test_every_report_runs_unchanged_in_spark_with_mcqs_result(spark, spark_lake, mcq_bin, report):
    result = spark.sql(report.read_text())  # the file as it is, header comments included
    theirs = [list(r) for r in result.collect()]
    header, ours = mcq_report(mcq_bin, spark_lake, report.stem)
    assert header == result.columns
    assert_same_rows(ours, theirs, f"{report.stem} (Spark)")
