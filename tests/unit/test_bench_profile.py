"""The profile's plan variants take out exactly the piece of work they name, or fail loudly; its job
CPU clock counts the processes below the profiler (the mini-cluster JVM and its Python workers)."""

import subprocess
import sys
import time

import pytest

from bench import profile
from lakehouse import contract, sql


@pytest.fixture
def restore_sql_load():
    original = sql.load
    yield
    sql.load = original


@pytest.mark.parametrize("variant", sorted(profile.PLAN_VARIANTS))
def test_each_variant_replaces_its_text_once_in_the_sql_it_names(variant, restore_sql_load):
    _label, name, _text, stand_in = profile.PLAN_VARIANTS[variant]
    text = profile.variant_text(variant)
    values = {"watermark_delay_seconds": 5, "window_minutes": 5, **contract.sql_values()}
    before = sql.load(name, **values)
    assert before.count(text) == 1
    profile.apply_variant(variant)
    after = sql.load(name, **values)
    assert text not in after
    assert after == before.replace(text, stand_in)


def test_a_variant_whose_text_is_gone_fails_instead_of_measuring_the_whole_plan(monkeypatch, restore_sql_load):
    monkeypatch.setitem(profile.PLAN_VARIANTS, "no-udf", ("x", "flink/stg_orders_placed", "no_such_call()", "1"))
    profile.apply_variant("no-udf")
    with pytest.raises(RuntimeError, match="stands 0 times"):
        sql.load("flink/stg_orders_placed", **contract.sql_values())


def test_other_sql_is_left_alone(restore_sql_load):
    before = sql.load("flink/silver_order_events")
    profile.apply_variant("no-md5")
    assert sql.load("flink/silver_order_events") == before


def test_an_unknown_variant_is_refused(capsys):
    with pytest.raises(SystemExit):
        profile.main(["--variants", "no-such"])
    assert "unknown variant" in capsys.readouterr().err


def test_the_job_cpu_clock_counts_the_processes_below_this_one():
    # The child spins until it has used 2 s of CPU; the clock must see it grow while it lives,
    # however long a loaded machine takes to give it the first tenth of a second.
    spin = "import time\nwhile time.process_time() < 2.0:\n    pass\n"
    before = profile.jvm_cpu_seconds()
    busy = subprocess.Popen([sys.executable, "-c", spin])
    try:
        deadline = time.monotonic() + 30
        grew = 0.0
        while busy.poll() is None and time.monotonic() < deadline and grew < 0.1:
            time.sleep(0.05)
            grew = profile.jvm_cpu_seconds() - before
    finally:
        busy.kill()
        busy.wait(timeout=10)
    assert grew >= 0.1
