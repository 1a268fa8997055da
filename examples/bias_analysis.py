"""Bias analysis of an mcq lake in pandas, with no mcq code.

    python examples/bias_analysis.py LAKE

Reads the metadata table with the recommended call
`pd.read_parquet(LAKE/"metadata", dtype_backend="numpy_nullable")` (nullable
Int32 BI-RADS and age, boolean flags, string vocabularies, `dataset` from the
partition folders as a categorical), folds the images into one row per breast
the way sql/views/exams.sql does, and prints breast density by dataset,
BI-RADS x diagnosis per dataset and abnormality prevalence per dataset.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import pandas as pd

DENSITY = pd.CategoricalDtype(["A", "B", "C", "D"], ordered=True)
DIAGNOSIS = pd.CategoricalDtype(["Normal", "Benign", "Malignant"], ordered=True)
FLAGS = ["mass", "calcification", "asymmetry", "distortion"]


def read_metadata(lake: pathlib.Path) -> pd.DataFrame:
    metadata = pd.read_parquet(lake / "metadata", dtype_backend="numpy_nullable")
    # vocabularies as ordered categoricals (allowed values: schemas/metadata.json)
    return metadata.astype({"density": DENSITY, "diagnosis": DIAGNOSIS})


def exams(metadata: pd.DataFrame) -> pd.DataFrame:
    """One row per breast (dataset, exam_id): the max density, BI-RADS and
    diagnosis (Malignant > Benign > Normal) of its images and the OR of their
    abnormality flags, as in sql/views/exams.sql."""
    grouped = metadata.groupby(["dataset", "exam_id"], observed=True)
    breasts = grouped.agg(
        density=("density", "max"),
        birads=("birads", "max"),
        diagnosis=("diagnosis", "max"),
        age=("age", "max"),
        **{flag: (flag, "any") for flag in FLAGS},
    )
    return breasts.reset_index()


def density_by_dataset(breasts: pd.DataFrame) -> pd.DataFrame:
    """Breasts of known density per dataset and density, with the percent of
    the dataset's breasts of known density (the density_by_dataset report)."""
    known = breasts.dropna(subset=["density"])
    counts = known.groupby(["dataset", "density"], observed=True).size().rename("breasts").reset_index()
    counts["percent"] = (100 * counts["breasts"] / counts.groupby("dataset", observed=True)["breasts"].transform("sum")).round(1)
    return counts


def birads_by_diagnosis(breasts: pd.DataFrame) -> pd.DataFrame:
    """Breasts per dataset, BI-RADS (unknown when absent) and diagnosis."""
    birads = breasts["birads"].astype("string").fillna("unknown").rename("birads")
    diagnosis = breasts["diagnosis"].cat.add_categories("unknown").fillna("unknown")
    return pd.crosstab([breasts["dataset"], birads], diagnosis).astype("int64")


def abnormality_prevalence(breasts: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: breasts, and the percent with each abnormality."""
    grouped = breasts.groupby("dataset", observed=True)
    table = grouped[FLAGS].mean().mul(100).round(1).add_suffix("_percent")
    table.insert(0, "breasts", grouped.size())
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=pathlib.Path)
    args = parser.parse_args(argv)
    breasts = exams(read_metadata(args.lake))
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        print(f"== {len(breasts)} breasts in {breasts['dataset'].nunique()} datasets\n")
        print("== breast density by dataset (breasts of known density)")
        print(density_by_dataset(breasts).to_string(index=False), end="\n\n")
        print("== BI-RADS x diagnosis per dataset (breasts)")
        print(birads_by_diagnosis(breasts).to_string(), end="\n\n")
        print("== abnormality prevalence per dataset (percent of breasts)")
        print(abnormality_prevalence(breasts).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
