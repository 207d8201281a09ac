"""Agent cost of one run of the four core checks on this host, beside `lynis audit system --quick`.

Targets (issue 3): agent own CPU ≤ 1 s excluding package-manager children, peak RSS
≤ 40 MB, wall time ≤ 0.1 × lynis. Prints figures; returns failures for bench/run.py.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time

CORE = ("disk", "patches", "antivirus", "logs")
CPU_TARGET_S = 1.0
RSS_TARGET_MB = 40.0
WALL_RATIO_TARGET = 0.1


def _worker() -> None:
    """Run the checks the way the agent does, in this fresh process; print own costs."""
    t0 = time.monotonic()
    from hostpatrol.agent.checks import by_name
    from hostpatrol.agent.runner import run_checks

    registry = by_name()
    results = run_checks([registry[n]() for n in CORE])
    wall = time.monotonic() - t0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "wall_s": wall,
        "own_cpu_s": me.ru_utime + me.ru_stime,
        "children_cpu_s": kids.ru_utime + kids.ru_stime,
        "peak_rss_mb": me.ru_maxrss / 1024,
        "statuses": {r.check: r.status for r in results},
    }))


def _lynis() -> dict[str, float] | None:
    lynis = shutil.which("lynis")
    if lynis is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run([lynis, "audit", "system", "--quick", "--no-colors", "--no-log"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   timeout=1800)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall,
            "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "peak_rss_mb": after.ru_maxrss / 1024}


def run(runs: int = 3) -> list[str]:
    """Measure; return the list of missed targets."""
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--worker"], capture_output=True,
                             text=True, check=True).stdout
        samples.append(json.loads(out))
    best = min(samples, key=lambda s: s["wall_s"])
    own_cpu = max(s["own_cpu_s"] for s in samples)
    rss = max(s["peak_rss_mb"] for s in samples)
    lynis = _lynis()
    print("agent: four core checks (disk, patches, antivirus, logs), "
          f"{runs} runs, worst of own CPU/RSS, best wall")
    print(f"  wall time            {best['wall_s']:8.2f} s")
    print(f"  own CPU              {own_cpu:8.2f} s   (target <= {CPU_TARGET_S:g} s)")
    print(f"  children CPU         {best['children_cpu_s']:8.2f} s   (apt-get, clamscan, …)")
    print(f"  peak RSS             {rss:8.1f} MB  (target <= {RSS_TARGET_MB:g} MB)")
    print(f"  statuses             {best['statuses']}")
    failures = []
    if own_cpu > CPU_TARGET_S:
        failures.append(f"agent own CPU {own_cpu:.2f}s > {CPU_TARGET_S}s")
    if rss > RSS_TARGET_MB:
        failures.append(f"agent peak RSS {rss:.1f}MB > {RSS_TARGET_MB}MB")
    if lynis is None:
        failures.append("lynis is not installed: no comparison (apt-get install lynis)")
        return failures
    ratio = best["wall_s"] / lynis["wall_s"]
    print("lynis audit system --quick")
    print(f"  wall time            {lynis['wall_s']:8.2f} s")
    print(f"  CPU (with children)  {lynis['cpu_s']:8.2f} s")
    print(f"  peak RSS (largest)   {lynis['peak_rss_mb']:8.1f} MB")
    print(f"ratio agent/lynis wall {ratio:8.3f}    (target <= {WALL_RATIO_TARGET:g})")
    print(f"ratio agent/lynis CPU  {(own_cpu + best['children_cpu_s']) / lynis['cpu_s']:8.3f}")
    if ratio > WALL_RATIO_TARGET:
        failures.append(f"agent/lynis wall ratio {ratio:.3f} > {WALL_RATIO_TARGET}")
    return failures


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        from run import report

        sys.exit(report(run()))
