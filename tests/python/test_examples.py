"""The scripts of examples/ run against a real lake and print what mcq
computes, so they cannot rot. torch_dataset and bias_analysis run as
subprocesses (as a user runs them) and are also imported for exact checks;
spark_reports runs in-process on the test session's Spark (one JVM per run)."""

import importlib.util
import re
import subprocess
import sys

import numpy as np
import pyarrow.dataset as ds

from conftest import DEMO_TENSOR, REPORTS, ROOT, assert_same_rows, mcq_csv, mcq_report

EXAMPLES = ROOT / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, *args: str) -> str:
    r = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


JOINED = "FROM metadata m JOIN images i ON i.dataset = m.dataset AND i.image_id = m.image_id"


def test_torch_dataset_script_filters_and_batches(demo_lake, mcq_bin):
    out = run_example("torch_dataset", demo_lake, "--diagnosis", "Malignant", "--batch-size", "8")
    _, rows = mcq_csv(mcq_bin, demo_lake, f"SELECT count(*) {JOINED} WHERE m.diagnosis = 'Malignant'")
    expected = int(rows[0][0])
    assert expected > 8
    assert f"images: {expected}\n" in out
    assert f"tensor shape: {DEMO_TENSOR}\n" in out
    batches = re.findall(r"^batch: \((\d+), (\d+), (\d+)\) uint16 labels=\[([0, ]*)\]$", out, re.M)
    assert [tuple(map(int, b[:3])) for b in batches] == [(8, *DEMO_TENSOR)] * (expected // 8) + (
        [(expected % 8, *DEMO_TENSOR)] if expected % 8 else []
    )
    assert f"batches covered {expected} images" in out


def test_torch_dataset_items_are_the_lakes_tensors_with_their_labels(demo_lake, mcq_bin):
    example = load("torch_dataset")
    data = example.MammoDataset(demo_lake)
    _, rows = mcq_csv(mcq_bin, demo_lake, f"SELECT m.dataset, m.image_id, m.diagnosis {JOINED}")
    assert len(data) == len(rows)
    assert data.classes == sorted({r[2] for r in rows if r[2]})
    images = ds.dataset(demo_lake / "images", format="parquet", partitioning="hive")
    for i in [0, len(data) // 2, len(data) - 1]:
        tensor, label = data[i]
        dataset, image_id = data.index.column("dataset")[i].as_py(), data.index.column("image_id")[i].as_py()
        stored = images.to_table(filter=(ds.field("dataset") == dataset) & (ds.field("image_id") == image_id))
        assert stored.num_rows == 1
        assert np.array_equal(tensor, stored.column("tensor").combine_chunks().to_numpy_ndarray()[0])
        diagnosis = data.index.column("diagnosis")[i].as_py()
        assert label == (data.classes.index(diagnosis) if diagnosis else -1)
    seen = 0
    for tensors, labels in data.batches(16):
        assert tensors.dtype == np.uint16 and tensors.shape[1:] == DEMO_TENSOR and len(labels) == len(tensors)
        seen += len(labels)
    assert seen == len(data)


def test_bias_analysis_prints_mcqs_numbers(demo_lake, mcq_bin):
    out = run_example("bias_analysis", demo_lake)
    for section in ["breast density by dataset", "BI-RADS x diagnosis per dataset", "abnormality prevalence per dataset"]:
        assert f"== {section}" in out
    example = load("bias_analysis")
    breasts = example.exams(example.read_metadata(demo_lake))
    _, ours = mcq_report(mcq_bin, demo_lake, "density_by_dataset")
    theirs = example.density_by_dataset(breasts).astype(object).values.tolist()
    # pandas rounds half to even, SQL half away from zero: percents within 0.05
    assert_same_rows(ours, theirs, "density_by_dataset (pandas)", abs_=0.05 + 1e-9)
    for row in ours:
        assert re.search(r"^\s*" + r"\s+".join(map(re.escape, row[:3])) + r"\s", out, re.M), row
    _, exams = mcq_csv(mcq_bin, demo_lake, "SELECT dataset, count(*), CAST(SUM(CASE WHEN mass THEN 1 ELSE 0 END) AS BIGINT) FROM exams GROUP BY dataset")
    prevalence = example.abnormality_prevalence(breasts)
    for dataset, n, masses in exams:
        assert prevalence.loc[dataset, "breasts"] == int(n)
        assert abs(prevalence.loc[dataset, "mass_percent"] - 100 * int(masses) / int(n)) <= 0.05 + 1e-9


def printed_tables(out: str) -> dict[str, list[list[str]]]:
    """The Spark tables that spark_reports printed, by report name."""
    tables, name = {}, None
    for line in out.splitlines():
        if line.startswith("== "):
            name = line[3:].split(":", 1)[0]
            tables[name] = []
        elif line.startswith("|") and name is not None:
            tables[name].append([c.strip() for c in line.strip("|").split("|")])
    return {n: rows[1:] for n, rows in tables.items()}  # first row: the header


def test_spark_reports_script_prints_every_report_as_mcq_computes_it(spark, demo_lake, mcq_bin, capsys):
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is not None  # the script reuses it and leaves it running
    example = load("spark_reports")
    # test_spark runs every report in Spark; here three, named on the command line
    names = ["density_shift", "qc_rates", "shared_images"]
    assert set(names) <= {p.stem for p in REPORTS}
    assert example.main([str(demo_lake), *names]) == 0
    printed = printed_tables(capsys.readouterr().out)
    assert list(printed) == names
    for name in names:
        _, ours = mcq_report(mcq_bin, demo_lake, name)
        theirs = [[None if c == "NULL" else c for c in row] for row in printed[name]]
        assert ours and len(theirs) == len(ours), name
        assert_same_rows(ours, theirs, f"{name} (examples/spark_reports.py)")
    assert not spark.sparkContext._jsc.sc().isStopped()
