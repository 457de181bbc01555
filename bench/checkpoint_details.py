"""Where a running job's checkpoints spend their time, per task, from Flink's REST API.

    python -m bench.checkpoint_details <job id> [--checkpoints 2] [--rest http://127.0.0.1:8081]

For each of the newest completed checkpoints, one line per task (its slowest subtask): the delay
before the barrier reached it, barrier alignment, the synchronous part (e.g. RocksDB's flush, a
sink's prepare), the asynchronous part (uploading state), and end to end, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import urllib.request

from lakehouse import config


def _get(rest: str, path: str) -> dict:
    with urllib.request.urlopen(rest.rstrip("/") + path, timeout=30) as response:
        return json.load(response)


def report(rest: str, job_id: str, checkpoints: int) -> list[str]:
    history = _get(rest, f"/jobs/{job_id}/checkpoints")["history"]
    completed = [c for c in history if c["status"] == "COMPLETED"][:checkpoints]
    names = {v["id"]: v["name"] for v in _get(rest, f"/jobs/{job_id}")["vertices"]}
    lines = []
    for checkpoint in completed:
        lines.append(f"checkpoint {checkpoint['id']}: {checkpoint['end_to_end_duration']} ms end to end")
        details = _get(rest, f"/jobs/{job_id}/checkpoints/details/{checkpoint['id']}")
        for vertex in details["tasks"]:
            subtasks = _get(rest, f"/jobs/{job_id}/checkpoints/details/{checkpoint['id']}/subtasks/{vertex}")
            done = [s for s in subtasks["subtasks"] if "checkpoint" in s]
            if not done:
                continue
            slowest = max(done, key=lambda s: s.get("end_to_end_duration", 0))
            phases = slowest["checkpoint"]
            lines.append(
                f"  start delay {slowest.get('start_delay', 0):6d}  alignment "
                f"{slowest.get('alignment', {}).get('duration', 0):6d}  sync {phases.get('sync', 0):6d}  "
                f"async {phases.get('async', 0):6d}  end to end {slowest.get('end_to_end_duration', 0):6d}  "
                f"{names.get(vertex, vertex)[:90]}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job_id", help="the job's id (`lakehouse jobs list`)")
    parser.add_argument("--checkpoints", type=int, default=2, help="how many of the newest completed ones")
    parser.add_argument("--rest", default=None, help="Flink's REST endpoint (default: the profile's flink_rest)")
    args = parser.parse_args(argv)
    rest = args.rest or config.load().flink_rest
    print("\n".join(report(rest, args.job_id, args.checkpoints)) or "no completed checkpoint yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
