"""The benchmark's CPU readings from /proc: the thread sampler groups a JVM's threads by name and counts
only the CPU spent while it watched; the machine's busy share counts what a core did for anyone."""

import os
import subprocess
import sys
import threading
import time

from bench import memory, threads


def test_thread_names_group_without_their_numbers_and_subtask():
    assert threads.group_name("C2 CompilerThre") == "C2 CompilerThre"
    assert threads.group_name("GC Thread#1") == "GC Thread"
    assert threads.group_name("rocksdb:low") == "rocksdb:low"
    assert threads.group_name("Deduplicate[24]") == "Deduplicate[24]"
    assert threads.group_name("pool-11-thread-3") == "pool-11-thread"
    assert threads.group_name("OverAgg (2/2)") == "OverAgg"


def test_stat_ticks_reads_user_and_system_time_past_a_name_with_spaces_and_parentheses():
    fields = ["S"] + ["0"] * 10 + ["250", "50"] + ["0"] * 10
    assert memory.stat_ticks("123 (Source: a (1/2)) " + " ".join(fields)) == 300


def test_a_thread_counts_from_its_first_reading_to_its_last_even_after_it_ended():
    # "3" ended after its last reading: it is no longer in /proc, but its time counts.
    first = {"1": ("GC Thread#0", 5.0), "2": ("C2 CompilerThre", 1.0), "3": ("GC Thread#1", 0.5)}
    last = {"1": ("GC Thread#0", 7.0), "2": ("C2 CompilerThre", 4.0), "3": ("GC Thread#1", 1.5)}
    groups = threads.by_group(first, last)
    assert groups == {"GC Thread": 3.0, "C2 CompilerThre": 3.0}
    assert threads.report(groups).splitlines()[0] == "total 6.0 CPU s"


def test_reading_this_process_lists_its_threads_while_one_of_them_is_busy():
    done = threading.Event()

    def spin():
        while not done.is_set():
            sum(range(1000))

    worker = threading.Thread(target=spin, name="busy-spinner")
    worker.start()
    try:
        time.sleep(0.3)
        ticks = os.sysconf("SC_CLK_TCK")
        readings = threads.read_threads(os.getpid(), ticks)
    finally:
        done.set()
        worker.join()
    assert len(readings) >= 2
    assert str(worker.native_id) in readings  # the busy thread, by its kernel thread id


def test_a_watch_in_the_background_counts_a_busy_process_until_it_ends():
    # Another process spins: a spinning thread of this one would hold the GIL the watch needs.
    spin = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n    pass\n"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    with threads.Watch(busy.pid) as watch:
        busy.wait(timeout=30)
        watch._thread.join(timeout=10)  # the watch ends with the process
    watch.stop()  # stopping a watch that ended does nothing
    assert not watch._thread.is_alive()
    # 1.5 s of spinning, counted from the first reading (the interpreter's start before it is not
    # spinning): at least a fifth of it on a loaded machine, never more than the process's life.
    total = sum(watch.groups.values())
    assert 0.3 <= total <= 3.0, watch.groups
    assert sum(watch.top(1).values()) <= total + 0.05


def test_no_taskmanager_of_another_state_directory_is_taken_for_this_stacks():
    assert memory.own_pids("flink-taskmanager", state_dir="/nonexistent/lakehouse-state") == []


def test_the_machines_busy_share_counts_user_system_and_interrupts_not_idle_iowait_or_steal():
    # user nice system idle iowait irq softirq steal guest guest_nice
    before = memory.machine_ticks("cpu  100 0 50 800 30 5 5 10 40 0\ncpu0 ...\n")
    after = memory.machine_ticks("cpu  400 0 150 900 30 5 5 10 90 0\ncpu0 ...\n")
    assert before == (160, 1000)
    assert memory.busy_share(before, after) == 0.8  # 400 busy of 500
    assert memory.busy_share(before, before) == 0.0
