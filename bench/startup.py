"""How fast the command starts, beside the floor of importing Flask, in one run.

Times (best and median of ``--runs`` runs, wall clock, each a fresh interpreter):
``python -c "import flask"`` (the floor), ``netstats --help`` (goal: within 2.5x the floor)
and ``netstats probe ping 127.0.0.1 --count 1 --interval 0.01`` (goal: within 4x), plus the
peak RSS of a process that builds ``create_app()`` (what every web and worker process pays).
The ping goes to 127.0.0.1 only (as root, or with ping_group_range).

``--python`` runs another installation's interpreter (an older checkout's venv, say), so that
before and after are measured by the same script:

    .venv/bin/python bench/startup.py [--runs 15] [--python /path/to/other/venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

RSS_OF_APP = """
import resource
from netstats.app import create_app
create_app()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
# Older checkouts had create_app in the package itself.
RSS_OF_APP_OLD = RSS_OF_APP.replace("from netstats.app import", "from netstats import")


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # From the instance folder: ``python -m netstats`` in a checkout would import the
    # checkout's package, not the installation being measured.
    return subprocess.run(
        command, env=env, cwd=env["NETSTATS_INSTANCE_PATH"], capture_output=True, check=True
    )


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall times of ``runs`` runs of ``command`` (after one warm-up run)."""
    run(command, env)
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        run(command, env)
        times.append(time.perf_counter() - begin)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    args = parser.parse_args()
    instance = tempfile.mkdtemp(prefix="netstats-startup-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = instance
    py = args.python
    commands = {
        "import flask": [py, "-c", "import flask"],
        "netstats --help": [py, "-m", "netstats", "--help"],
        "netstats probe ping": [
            *(py, "-m", "netstats", "probe", "ping", "127.0.0.1"),
            *("--count", "1", "--interval", "0.01"),
        ],
    }
    figures: dict[str, float] = {}
    print(f"interpreter {py}, {args.runs} runs each (wall clock, s)")
    print(f"{'command':<22} {'best':>7} {'median':>7} {'ratio':>7}")
    floor = None
    for name, command in commands.items():
        times = timed(command, env, args.runs)
        best, median = min(times), statistics.median(times)
        floor = floor or median
        ratio = median / floor
        print(f"{name:<22} {best:>7.3f} {median:>7.3f} {ratio:>6.2f}x")
        key = name.replace(" ", "_").replace("-", "")
        figures |= {f"{key}_median_s": round(median, 4), f"{key}_ratio": round(ratio, 2)}
    script = RSS_OF_APP
    try:
        run([py, "-c", "import netstats.app"], env)
    except subprocess.CalledProcessError:
        script = RSS_OF_APP_OLD
    rss = [int(run([py, "-c", script], env).stdout) for _ in range(3)]
    figures["create_app_peak_rss_mb"] = round(statistics.median(rss) / 1024, 1)
    print(f"create_app() peak RSS: {figures['create_app_peak_rss_mb']} MB (median of 3)")
    print("goals: --help within 2.5x of import flask; probe ping within 4x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
