"""The embedded runner's record of its runs: which retained checkpoint a rerun resumes from."""

from __future__ import annotations

import os

from lakehouse import config
from lakehouse.pipeline.embedded import RunRecord


def _checkpoint(root, job: str, number: int, metadata_time: int):
    directory = root / job / f"chk-{number}"
    directory.mkdir(parents=True)
    (directory / "state").write_bytes(b"x")
    metadata = directory / "_metadata"
    metadata.write_bytes(b"m")
    os.utime(metadata, (metadata_time, metadata_time))
    return directory


def test_a_rerun_resumes_from_the_checkpoint_that_completed_last(tmp_path):
    runs = RunRecord(config.load("embedded", data_dir=tmp_path))
    assert runs.latest_checkpoint() is None
    older = _checkpoint(runs.checkpoints, "job-a", 1, 1_000)
    newer = _checkpoint(runs.checkpoints, "job-a", 2, 2_000)
    # Flink was still deleting the subsumed checkpoint when the run was cancelled: removing its
    # files made its directory the most recently modified one. Its _metadata is still the older.
    (older / "state").unlink()
    os.utime(older, (3_000, 3_000))
    os.utime(newer, (2_000, 2_000))
    assert runs.latest_checkpoint() == newer
    # A later job's checkpoint, numbered from 1 again, is newer than both.
    latest = _checkpoint(runs.checkpoints, "job-b", 1, 4_000)
    assert runs.latest_checkpoint() == latest
