"""The benchmark's pure helpers: nearest-rank percentiles, rates and table formatting."""

from __future__ import annotations

import pytest

from bench.stats import fmt, markdown_table, percentile, rate, ratio


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_percentile_p99_of_a_small_sample_is_its_maximum():
    assert percentile([1.0, 2.0, 10.0], 99) == 10.0


def test_rate_and_ratio_refuse_unknown_durations():
    assert rate(1000, 2.0) == 500.0
    assert rate(1000, 0) is None
    assert rate(1000, None) is None
    assert ratio(35.0, 50.0) == 0.7
    assert ratio(None, 50.0) is None
    assert ratio(1.0, 0) is None


def test_fmt_cells():
    assert fmt(None) == "-"
    assert fmt(123456) == "123,456"
    assert fmt(48213.7) == "48,214"
    assert fmt(0.8349, digits=2) == "0.83"
    assert fmt(True) == "yes"
    assert fmt("p1") == "p1"


def test_markdown_table_aligns_numbers_right_and_text_left():
    table = markdown_table(["run", "events/s"], [["pipeline p1", 12345.0], ["ceiling", 987.25]])
    assert table.splitlines() == [
        "| run         | events/s |",
        "|-------------|---------:|",
        "| pipeline p1 |   12,345 |",
        "| ceiling     |    987.2 |",
    ]


def test_markdown_table_rejects_ragged_rows():
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [[1]])
