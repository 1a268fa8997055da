"""mcq's bias reports in Spark SQL, with no mcq code.

    python examples/spark_reports.py LAKE [REPORT ...] [--sql DIR]

Registers the lake's four tables as Spark views straight from their Parquet
folders (`dataset` is discovered from the `dataset=<name>` folders as a
partition column), creates the shared views of sql/views/*.sql, then runs the
reports of sql/*.sql (all, or the ones named) as they are and prints them.
mcq's `report` command adds p-values to `density_shift`; Spark prints the
statistic the SQL computes. Needs Java 17+ (pyspark 4).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import warnings

from pyspark.sql import DataFrame, SparkSession

TABLES = ["metadata", "images", "findings", "exclusions"]
SQL = pathlib.Path(__file__).resolve().parents[1] / "sql"


def spark_session() -> SparkSession:
    """A small local session: 2 cores, no UI, errors-only logs. Returns the
    running session if there is one."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # pyspark 4.3 warns that it does not fully support pandas 3; nothing here converts to pandas
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("mcq-reports")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def register_lake(spark: SparkSession, lake: pathlib.Path, sql: pathlib.Path = SQL) -> None:
    """The lake's tables and the views of sql/views/ as temporary views."""
    for table in TABLES:
        spark.read.parquet(str(lake / table)).createOrReplaceTempView(table)
    for view in sorted((sql / "views").glob("*.sql")):
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {view.stem} AS\n{view.read_text()}")


def header(path: pathlib.Path, key: str) -> str:
    """The value of a `-- key:` header line of a report file."""
    for line in path.read_text().splitlines():
        if line.startswith(f"-- {key}:"):
            return line.split(":", 1)[1].strip()
    return ""


def run_reports(spark: SparkSession, names: list[str], sql: pathlib.Path = SQL) -> list[tuple[pathlib.Path, DataFrame]]:
    """The reports of sql/*.sql (all when names is empty), each as a Spark
    DataFrame of the file's text, unchanged."""
    files = {p.stem: p for p in sorted(sql.glob("*.sql"))}
    unknown = [n for n in names if n not in files]
    if unknown:
        raise SystemExit(f"unknown report(s) {', '.join(unknown)}; reports: {', '.join(files)}")
    return [(files[n], spark.sql(files[n].read_text())) for n in (names or list(files))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=pathlib.Path)
    parser.add_argument("reports", nargs="*", help="report names (default: all)")
    parser.add_argument("--sql", type=pathlib.Path, default=SQL, help="the folder of the reports (default: sql/)")
    args = parser.parse_args(argv)

    running = SparkSession.getActiveSession()
    spark = running or spark_session()
    try:
        register_lake(spark, args.lake, args.sql)
        for path, result in run_reports(spark, args.reports, args.sql):
            print(f"== {header(path, 'name') or path.stem}: {header(path, 'description')}")
            result.show(n=10_000, truncate=False)
    finally:
        if running is None:  # stop only a session this script started
            spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
