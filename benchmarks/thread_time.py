"""CPU time of this process per kind of thread, from /proc (Linux): where a real run's cores went.

On 2 cores the input pipeline, the host loop and the step compete for the same CPUs. Reading each
thread's user + system time before and after a stretch of training splits the cost three ways:
  main:        the Python thread: the host loop, progress lines, summaries, launching each call;
  tf_Compute:  TensorFlow's inter-op pool, where tf.data runs its map functions and the graph
               executor runs ops outside XLA clusters;
  compute:     every other thread: oneDNN/Eigen intra-op pools and XLA's CPU runtime (they
               inherit the name "python"), i.e. the step's arithmetic.
"""

import os

GROUPS = ("main", "tf_Compute", "compute")


def thread_cpu_seconds() -> dict | None:
    """{group: CPU seconds so far} over this process's live threads; None without /proc."""
    try:
        thread_ids = os.listdir("/proc/self/task")
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    totals = dict.fromkeys(GROUPS, 0.0)
    for thread_id in thread_ids:
        try:
            with open(f"/proc/self/task/{thread_id}/comm", encoding="utf-8") as comm:
                name = comm.read().strip()
            with open(f"/proc/self/task/{thread_id}/stat", encoding="utf-8") as stat:
                # Fields after the ")" closing the name; utime and stime are the 12th and 13th.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # The thread ended while we read.
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        group = "main" if int(thread_id) == os.getpid() else "tf_Compute" if name.startswith("tf_Compute") else "compute"
        totals[group] += seconds
    return totals


def milliseconds_per_step(before: dict | None, after: dict | None, steps: int) -> dict | None:
    """{group: CPU ms per training step} between two `thread_cpu_seconds` readings.

    A thread that ended in between takes its time with it, so a group can read low, never high.
    """
    if before is None or after is None or steps <= 0:
        return None
    return {group: round(1000.0 * max(after[group] - before[group], 0.0) / steps, 3) for group in GROUPS}
