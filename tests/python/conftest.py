"""Shared fixtures of the Python interop tests: the mcq binary, the lakes it
builds (once per test session), one local Spark session, and the helpers that
compare another engine's result with mcq's."""

import csv
import io
import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import warnings
from decimal import Decimal

import pandas as pd
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
TABLES = ["metadata", "images", "findings", "exclusions"]
REPORTS = sorted((ROOT / "sql").glob("*.sql"))
VIEWS = sorted((ROOT / "sql" / "views").glob("*.sql"))
# The demo lake's tensor size (`mcq demo` ingests with images into 256x128).
DEMO_TENSOR = (256, 128)


@pytest.fixture(scope="session")
def mcq_bin() -> str:
    path = os.environ.get("MCQ_BIN", str(ROOT / "target" / "debug" / "mcq"))
    assert pathlib.Path(path).is_file(), f"build mcq first: {path} is missing"
    return path


def run_mcq(mcq_bin: str, *args: str, lake: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    cmd = [mcq_bin]
    if lake is not None:
        cmd += ["--lake", str(lake)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def lake(tmp_path_factory, mcq_bin) -> pathlib.Path:
    """The real CBIS-DDSM and CMMD metadata files (../shared/data), ingested
    metadata-only: real vocabularies and defects, no images."""
    lake = tmp_path_factory.mktemp("interop") / "lake"
    for dataset in ["cbis-ddsm", "cmmd"]:
        r = run_mcq(mcq_bin, "ingest", dataset, str(SHARED / dataset), "--metadata-only", lake=lake)
        assert r.returncode == 0, r.stderr
    return lake


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory, mcq_bin) -> pathlib.Path:
    """`mcq demo` (CBIS-DDSM, TOMPEI-CMMD and VinDr-Mammo look-alikes with
    images, 256x128 tensors) plus the CMMD download that the TOMPEI-CMMD tree
    carries, so that every table has rows and `shared_images` finds the CMMD
    images inside TOMPEI-CMMD."""
    out = tmp_path_factory.mktemp("demo")
    r = run_mcq(mcq_bin, "demo", "--out", str(out), "--patients", "12", "--seed", "2024")
    assert r.returncode == 0, r.stderr
    lake = out / "lake"
    cmmd = out / "raw" / "tompei-cmmd" / "manifest-1616439774456"
    r = run_mcq(mcq_bin, "ingest", "cmmd", str(cmmd), "--size", "x".join(map(str, DEMO_TENSOR)), lake=lake)
    assert r.returncode == 0, r.stderr
    return lake


def mcq_csv(mcq_bin, lake, sql) -> tuple[list[str], list[list[str]]]:
    """`mcq query --format csv`: the header and the rows as strings."""
    r = run_mcq(mcq_bin, "query", "--format", "csv", sql, lake=lake)
    assert r.returncode == 0, r.stderr
    header, *rows = list(csv.reader(io.StringIO(r.stdout)))
    return header, rows


def mcq_report(mcq_bin, lake, name: str) -> tuple[list[str], list[list[str]]]:
    """`mcq report NAME --format csv` without the `p_value` column that mcq
    adds itself (the SQL computes only the statistic)."""
    r = run_mcq(mcq_bin, "report", name, "--format", "csv", lake=lake)
    assert r.returncode == 0, r.stderr
    header, *rows = list(csv.reader(io.StringIO(r.stdout)))
    if "p_value" in header:
        i = header.index("p_value")
        header = header[:i] + header[i + 1 :]
        rows = [row[:i] + row[i + 1 :] for row in rows]
    return header, rows


def _cell(v):
    """One value of any engine as None, a float, or a string. mcq's CSV writes
    nulls as empty fields, booleans as true/false and lists as JSON arrays."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, Decimal)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v))
    if hasattr(v, "tolist"):  # numpy scalars and arrays
        return _cell(v.tolist())
    s = str(v)
    if s == "":
        return None
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        return float(s)
    return s


def _sort_key(row):
    # numbers rounded so that rows equal within the tolerance sort alike
    return [(0, "") if c is None else (1, f"{c:.4e}") if isinstance(c, float) else (2, c) for c in row]


def assert_same_rows(ours, theirs, what: str, rel=1e-9, abs_=1e-9):
    """The two results hold the same rows (as a multiset; engines may order
    ties differently), doubles equal within the tolerance."""
    a = sorted(([_cell(v) for v in row] for row in ours), key=_sort_key)
    b = sorted(([_cell(v) for v in row] for row in theirs), key=_sort_key)
    assert len(a) == len(b), f"{what}: {len(a)} rows from mcq, {len(b)} from the other engine\nmcq: {a}\nother: {b}"
    for x, y in zip(a, b):
        same = len(x) == len(y) and all(
            (p == q) if not (isinstance(p, float) and isinstance(q, float)) else math.isclose(p, q, rel_tol=rel, abs_tol=abs_)
            for p, q in zip(x, y)
        )
        assert same, f"{what}: rows differ\nmcq:   {x}\nother: {y}"


def java_major_version() -> int:
    """The major version of the `java` that pyspark will start (JAVA_HOME
    first, then PATH); fails the session with what to do when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(pathlib.Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not pathlib.Path(java).is_file():
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` on PATH"
        pytest.fail(
            f"pyspark needs a Java runtime (17 or newer) and none was found ({where}): "
            "install one, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME",
            pytrace=False,
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    assert m, f"cannot read the Java version from `{java} -version`: {out!r}"
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 else major


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test run (JVM start is the
    expensive part): 2 cores, small memory, no UI, errors-only logs."""
    major = java_major_version()
    if major < 17:
        pytest.fail(f"pyspark 4 needs Java 17 or newer; the java found is {major}", pytrace=False)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # pyspark 4.3 warns that it does not fully support pandas 3; these tests
    # collect Rows and never convert to or from pandas in Spark.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("mcq-interop-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
