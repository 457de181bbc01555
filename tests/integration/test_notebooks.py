"""Every notebook runs headless, top to bottom, on a real pipeline run, and leaves its outputs; the
training set it builds is rebuilt identically from its manifest.

The lake is a copy of the session's one embedded pipeline run (``pipeline_lake_copy`` in
conftest.py: 2 orders per second for an hour), which the quality and read-model tests copy too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from nbclient import NotebookClient

from lakehouse.lake import storage, tables
from lakehouse.ml import training

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# What each notebook must leave under <data dir>/notebooks/<name>/ (and elsewhere).
EXPECTED_FILES = {
    "01_explore_tables": [
        "volumes.csv",
        "freshness.csv",
        "revenue_by_level.png",
        "revenue_1m_by_region.png",
        "anomalies_by_rule.csv",
    ],
    "02_training_set": ["label_rate.png", "feature_means_by_label.csv"],
    "03_data_quality": ["verdicts.csv", "quality_results.csv"],
    "04_order_read_model": ["status_counts.csv", "funnel.png", "cancellations.csv"],
}


@pytest.fixture(scope="module")
def lake(pipeline_lake_copy):
    return pipeline_lake_copy("notebooks")


@pytest.fixture(scope="module")
def executed(lake):
    """Run every notebook in order on the lake; name -> (executed notebook, seconds)."""
    previous = os.environ.get("LAKEHOUSE_DATA_DIR")
    os.environ["LAKEHOUSE_DATA_DIR"] = str(lake.data_dir)  # the kernel inherits it, as a user's would
    out = {}
    try:
        for path in NOTEBOOKS:
            notebook = nbformat.read(path, as_version=4)
            started = time.monotonic()
            client = NotebookClient(
                notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            )
            try:
                client.execute()
            except Exception as error:  # noqa: BLE001 - report which notebook and cell, then fail
                pytest.fail(f"{path.name} failed: {error}")
            out[path.stem] = (notebook, time.monotonic() - started)
    finally:
        if previous is None:
            os.environ.pop("LAKEHOUSE_DATA_DIR", None)
        else:
            os.environ["LAKEHOUSE_DATA_DIR"] = previous
    return out


def test_the_notebooks_are_the_numbered_set():
    assert [p.stem for p in NOTEBOOKS] == list(EXPECTED_FILES)


@pytest.mark.parametrize("name", list(EXPECTED_FILES))
def test_a_notebook_runs_top_to_bottom_and_leaves_its_outputs(name, executed, lake):
    notebook, seconds = executed[name]
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert all(cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")
    for file in EXPECTED_FILES[name]:
        path = lake.data_dir / "notebooks" / name / file
        assert path.exists() and path.stat().st_size > 0, f"{name} did not write {path}"
    if any(f.endswith(".png") for f in EXPECTED_FILES[name]):
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} shows no figure"
    print(f"{name}: {seconds:.1f}s")


def test_the_training_set_is_rebuilt_identically_from_its_manifest(executed, lake, tmp_path):
    built = lake.data_dir / "training" / training.NAME
    data, manifest = training.load_training_set(built)
    assert len(data) == manifest["output"]["rows"] > 0
    assert {name: pin["version"] for name, pin in manifest["sources"].items()} == training.pin_sources(lake)

    # The tables move on after the build: the rebuild still reads the pinned versions.
    windows = pa.Table.from_pandas(
        data[["window_start", "region", "category"]].head(3).assign(region="LATE-REGION"), preserve_index=False
    )
    extra = pa.Table.from_pylist(
        [
            {
                **row,
                "window_end": row["window_start"] + pd.Timedelta(minutes=5),
                "order_count": 1,
                "revenue_eur": 1.0,
                "avg_order_value_eur": 1.0,
                "distinct_customers": 1,
                "min_amount_eur": 1.0,
                "max_amount_eur": 1.0,
            }
            for row in windows.to_pylist()
        ],
        schema=tables.METRICS_5M.arrow_schema(),
    )
    write_deltalake(storage.table_uri(lake, tables.METRICS_5M), extra, mode="append")

    rebuilt = training.rebuild_from_manifest(built / "manifest.json", tmp_path / "rebuilt")
    again, _ = training.load_training_set(tmp_path / "rebuilt")
    pd.testing.assert_frame_equal(again, data)
    assert training.same_build(manifest, rebuilt)
    assert (tmp_path / "rebuilt" / "training.parquet").read_bytes() == (built / "training.parquet").read_bytes()
    moved_on = training.build_training_set(lake, tmp_path / "latest")
    assert moved_on["output"]["content_sha256"] != manifest["output"]["content_sha256"]
