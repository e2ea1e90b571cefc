"""How fast and how calmly the job monitor follows the job store.

    python benchmarks/bench_monitor.py [--latency-jobs 200] [--burst-jobs 1000]

Against a real `jupyter server` with hal_jupyter, from a `Hal` client in this
process (the same code a kernel runs):

- latency: for 200 jobs, the time from each state change in the store (the
  record's ``updated_at``, stamped when the change is written) to the monitor
  widget's status model showing that state; median and p99;
- calm: while 1,000 jobs go through their states, the messages per second that
  one monitor receives from the events WebSocket and the updates it applies.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path


from hal_jupyter import Hal
from hal_jupyter.kernel.monitor import MAX_ROWS
from hal_jupyter.offline.processes import ServerProcess

BELL = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; h q[0]; cx q[0], q[1]; measure q -> c;'


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def latency(hal: Hal, n: int) -> list[float]:
    """Seconds from store change to widget model, for every state change seen."""
    samples: list[float] = []
    monitors = []
    jobs = []
    for start in range(0, n, MAX_ROWS):
        # a group at a time, watched from the moment it is queued (the batch
        # window, 1 s here, leaves time to build the widgets before it flushes)
        group = hal.submit_many("quantum", [{"circuit": BELL, "shots": 100 + start} for _ in range(min(MAX_ROWS, n - start))])
        jobs += group
        monitor = hal.monitor(group)
        for row in monitor._rows.values():
            def seen(change, row=row):
                samples.append(time.time() - stamp(row.record["updated_at"]))
            row.status.observe(seen, "value")
        monitors.append(monitor)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(m.status_of(j.id) != "COMPLETED" for m in monitors for j in jobs if m.wants(j.id)):
        time.sleep(0.05)
    for monitor in monitors:
        monitor.close()
    return samples


def calm(hal: Hal, n: int) -> tuple[Counter[int], Counter[int], float]:
    """WebSocket messages and monitor updates per second while n jobs change state."""
    messages: Counter[int] = Counter()
    updates: Counter[int] = Counter()
    t0 = time.monotonic()
    unsubscribe = hal.transport.subscribe(lambda records: messages.update([int(time.monotonic() - t0)]))
    monitor = hal.monitor([])
    original = monitor.apply

    def counted(records):
        updates.update([int(time.monotonic() - t0)])
        original(records)

    monitor.apply = counted  # type: ignore[method-assign]
    # 1,000 jobs as 20 submissions of 50, a quarter of a second apart, so that
    # state changes keep coming for several seconds
    jobs = []
    for start in range(0, n, 50):
        group = hal.submit_many("quantum", [{"circuit": BELL, "shots": 100} for _ in range(min(50, n - start))])
        monitor.add(group)
        jobs += group
        time.sleep(0.25)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and any(monitor.status_of(j.id) != "COMPLETED" for j in jobs):
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    monitor.close()
    unsubscribe()
    return messages, updates, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--burst-jobs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), db_url=f"sqlite:///{tmp}/jobs.sqlite", batch_window_s=1.0, batch_max_size=100)
        server.start()
        try:
            hal = Hal(server.url + "/", server.token)
            hal.submit_quantum(BELL, shots=10, priority="high").result(timeout=60)  # warm up
            samples = sorted(latency(hal, args.latency_jobs))
            messages, updates, elapsed = calm(hal, args.burst_jobs)
            hal.close()
        finally:
            server.stop()
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    print(f"latency, store change -> widget model, {len(samples)} state changes of {args.latency_jobs} jobs:")
    print(f"   median {1000 * statistics.median(samples):6.1f} ms   (target < 250 ms)")
    print(f"   p99    {1000 * p99:6.1f} ms")
    print(f"{args.burst_jobs} jobs through their states in {elapsed:.1f} s, one monitor:")
    print(f"   WebSocket messages per second: max {max(messages.values())}, mean {sum(messages.values()) / max(1, len(messages)):.1f}   (target <= 10)")
    print(f"   monitor updates per second:    max {max(updates.values())}, mean {sum(updates.values()) / max(1, len(updates)):.1f}")


if __name__ == "__main__":
    main()
