"""The thread sampler groups a JVM's threads by name and counts only the CPU spent while it watched."""

import os
import threading
import time

from bench import threads


def test_thread_names_group_without_their_numbers_and_subtask():
    assert threads.group_name("C2 CompilerThre") == "C2 CompilerThre"
    assert threads.group_name("GC Thread#1") == "GC Thread"
    assert threads.group_name("rocksdb:low") == "rocksdb:low"
    assert threads.group_name("Deduplicate[24]") == "Deduplicate[24]"
    assert threads.group_name("pool-11-thread-3") == "pool-11-thread"
    assert threads.group_name("OverAgg (2/2)") == "OverAgg"


def test_cpu_seconds_reads_user_and_system_time_past_a_name_with_spaces_and_parentheses():
    fields = ["S"] + ["0"] * 10 + ["250", "50"] + ["0"] * 10
    stat = "123 (Source: a (1/2)) " + " ".join(fields)
    assert threads.cpu_seconds(stat, 100) == 3.0


def test_only_cpu_spent_after_a_thread_was_first_seen_counts_and_ended_threads_keep_theirs():
    first = {"1": ("GC Thread#0", 5.0), "2": ("C2 CompilerThre", 1.0)}
    last = {"1": ("GC Thread#1", 7.0), "2": ("C2 CompilerThre", 4.0), "3": ("GC Thread#2", 0.5)}
    groups = threads.by_group(first, last)
    assert groups == {"GC Thread": 2.0, "C2 CompilerThre": 3.0}
    assert threads.report(groups).splitlines()[0] == "total 5.0 CPU s"


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
        names = [comm for comm, _ in threads.read_threads(os.getpid(), ticks).values()]
    finally:
        done.set()
        worker.join()
    assert len(names) >= 2
