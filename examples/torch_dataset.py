"""A PyTorch-style dataset over an mcq lake, with pyarrow and numpy only.

    python examples/torch_dataset.py LAKE [--diagnosis Malignant] [--dataset cbis-ddsm] [--batch-size 8]

`MammoDataset` selects images with a `pyarrow.dataset` expression on the
metadata table (e.g. `ds.field("diagnosis") == "Malignant"`), keeps those
that have a processed image (join on `(dataset, image_id)`), and reads the
tensors only when asked: `ds[i]` is one `(H, W)` uint16 array and its label,
`ds.batches(B)` yields `(B, H, W)` uint16 arrays with their labels. It has
`__len__` and `__getitem__`, so `torch.utils.data.DataLoader(MammoDataset(...))`
works as it is; nothing here imports torch.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

KEYS = ["dataset", "image_id"]


class MammoDataset:
    """Images of an mcq lake selected by a metadata predicate.

    lake:   the lake folder (holds metadata/ and images/).
    where:  a pyarrow.dataset expression over metadata columns, or None for all.
    label:  the metadata column used as the label; its distinct non-null
            values, sorted, are `classes`, and a label is its index there
            (-1 when the value is null).
    """

    def __init__(self, lake: str | pathlib.Path, where: ds.Expression | None = None, label: str = "diagnosis"):
        lake = pathlib.Path(lake)
        metadata = ds.dataset(lake / "metadata", format="parquet", partitioning="hive")
        self._images = ds.dataset(lake / "images", format="parquet", partitioning="hive")
        selected = metadata.to_table(columns=KEYS + ["patient_id", "laterality", "view_position", label], filter=where)
        # the join reads only the keys of the images table, never its tensors
        decoded = self._images.to_table(columns=KEYS)
        index = selected.join(decoded, keys=KEYS, join_type="inner")
        self.index = index.sort_by([(k, "ascending") for k in KEYS])
        values = self.index.column(label)
        self.classes = sorted(v for v in pc.unique(values).to_pylist() if v is not None)
        codes = pc.index_in(values, value_set=pa.array(self.classes, type=values.type))
        self.labels = np.asarray(pc.fill_null(codes, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        tensor_type = self._images.schema.field("tensor").type
        self.shape = tuple(tensor_type.shape)  # (H, W), the lake's tensor size

    def __len__(self) -> int:
        return self.index.num_rows

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        tensors, labels = self._read(np.array([i % len(self)]))
        return tensors[0], int(labels[0])

    def batches(self, batch_size: int, shuffle: bool = False, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(tensors (B, H, W) uint16, labels (B,) int64); the last batch may be smaller."""
        order = np.arange(len(self))
        if shuffle:
            np.random.default_rng(seed).shuffle(order)
        for start in range(0, len(order), batch_size):
            yield self._read(order[start : start + batch_size])

    def _read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tensors of the given index rows, in that order: one scan of the
        images table filtered to those keys (pyarrow skips the other
        partitions)."""
        keys = self.index.take(pa.array(rows)).select(KEYS)
        wanted = None
        for dataset in pc.unique(keys.column("dataset")).to_pylist():
            ids = keys.filter(pc.equal(keys.column("dataset"), dataset)).column("image_id")
            term = (ds.field("dataset") == dataset) & ds.field("image_id").isin(ids)
            wanted = term if wanted is None else wanted | term
        found = self._images.to_table(columns=KEYS + ["tensor"], filter=wanted)
        position = {(d, i): n for n, (d, i) in enumerate(zip(found.column("dataset").to_pylist(), found.column("image_id").to_pylist()))}
        take = [position[k] for k in zip(keys.column("dataset").to_pylist(), keys.column("image_id").to_pylist())]
        tensor = found.column("tensor").combine_chunks().take(pa.array(take, type=pa.int64()))
        return tensor.to_numpy_ndarray(), self.labels[rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=pathlib.Path)
    parser.add_argument("--diagnosis", help="keep only this diagnosis (Normal, Benign, Malignant)")
    parser.add_argument("--dataset", help="keep only this dataset (e.g. cbis-ddsm)")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)

    where = None
    if args.diagnosis:
        where = ds.field("diagnosis") == args.diagnosis
    if args.dataset:
        term = ds.field("dataset") == args.dataset
        where = term if where is None else where & term
    data = MammoDataset(args.lake, where=where)
    print(f"images: {len(data)}")
    print(f"tensor shape: {data.shape}")
    print(f"classes: {data.classes}")
    if len(data) == 0:
        return 0
    tensor, label = data[0]
    print(f"first: {data.index.column('dataset')[0]} {data.index.column('image_id')[0]} {tensor.shape} {tensor.dtype} label={label}")
    seen = 0
    for tensors, labels in data.batches(args.batch_size, shuffle=True, seed=0):
        seen += len(labels)
        print(f"batch: {tensors.shape} {tensors.dtype} labels={labels.tolist()}")
    print(f"batches covered {seen} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
