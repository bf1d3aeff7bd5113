"""Hostile files given to `netstats config import`: each one a message and an exit code.

Every case imports a good file first, then the hostile one, and checks the exit code, the
message (``FILE: line N: ...``, never a traceback) and that the database did not change.
The files that would take the machine's memory (alias bombs, 50 MB) run in a child
process of the real command under a 2 GB address-space limit and a deadline, so that a
regression fails the test instead of the machine; their peak RSS must stay under 300 MB.
The whole file takes about 17 s on SQLite and PostgreSQL (most of it the start-up of the
child processes; the 50 MB file is written in about a second).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.test_config_file import GOOD, job_snapshot, snapshot

NETSTATS = str(Path(sys.executable).with_name("netstats"))


def _laughs(indent: str) -> str:
    """The "billion laughs": nine anchors, each nine aliases of the one before (9^9 values)."""
    lines = [f'{indent}a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{indent}{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


JOB = "jobs:\n  - name: j\n    collector: ping\n    interval_s: 60\n"

HOSTILE = {
    "nested 490 deep": (
        "destinations:\n  - name: x\n    host: 127.0.0.1\n    labels: " + "[" * 490 + "]" * 490,
        "line 4: destinations[0].labels",
        "nested deeper than 64 levels",
    ),
    "nested 490 deep in params": (
        JOB + "    params: {count: " + "{a: " * 490 + "1" + "}" * 490 + "}\n",
        "line 5: jobs[0].params.count",
        "nested deeper than 64 levels",
    ),
    "nested deep through aliases": (
        "a0: &a0 [x]\n"
        + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 100))
        + "destinations: *a99\n",
        "line 64: a63[0]",
        "nested deeper than 64 levels",
    ),
    "recursive alias": (
        "destinations: &d\n  - name: x\n    host: 127.0.0.1\n    labels: *d\n",
        "line 4: destinations[0].labels",
        "recursive alias",
    ),
    "recursive alias in params": (
        "jobs:\n  - &j\n    name: x\n    collector: ping\n    interval_s: 60\n"
        "    params: {count: 3, x: *j}\n",
        "line 6: jobs[0].params.x",
        "recursive alias",
    ),
    "undefined alias": ("destinations: *nowhere\n", "line 1: destinations", "names no anchor"),
    "invalid UTF-8": (
        b"destinations:\n  - name: caf\xc3\xa9\n    host: 127.0.0.1\n  - name: bad\xff\n",
        "line 4: not valid UTF-8",
        "byte 0xff",
    ),
    "NUL character": (
        "destinations:\n  - name: a\x00b\n    host: 127.0.0.1\n",
        "line 2: not valid YAML",
        "not allowed",
    ),
    "a day out of range": (
        JOB + "    starts_at: 2024-02-30T00:00:00Z\n",
        "line 5: jobs[0].starts_at",
        "Not a valid datetime",
    ),
    "a tagged timestamp out of range": (
        JOB + "    starts_at: !!timestamp 2024-02-30T00:00:00Z\n",
        "line 5: jobs[0].starts_at",
        "cannot read",
    ),
    "an unreadable integer": (
        JOB.replace("interval_s: 60", "interval_s: 0x_"),
        "line 4: jobs[0].interval_s",
        "cannot read '0x_'",
    ),
    "a 5000-digit integer": (
        JOB.replace("interval_s: 60", "interval_s: 1" + "0" * 5000),
        "line 4: jobs[0].interval_s",
        "cannot read",
    ),
    "a Python tag": (
        "destinations: !!python/object/apply:os.system [echo]\n",
        "line 1: destinations",
        "is not supported",
    ),
    "a mapping as a key": (
        "destinations:\n  - ? {a: 1}\n    : x\n",
        "line 2: destinations[0]",
        "a key must be a plain value",
    ),
    "two documents": (
        "destinations: []\n---\njobs: []\n",
        "line 2",
        "one YAML document",
    ),
}


@pytest.fixture
def hostile_file(tmp_path):
    def write(content: str | bytes) -> str:
        path = tmp_path / "hostile.yaml"
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogatepass")
        path.write_bytes(content)
        return str(path)

    return write


def _imported_good(runner, app, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert runner.invoke(args=["config", "import", str(good)]).exit_code == 0
    return snapshot(app), job_snapshot(app)


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_file_gets_a_message_with_its_line_and_changes_nothing(
    runner, app, tmp_path, hostile_file, case
):
    before = _imported_good(runner, app, tmp_path)
    content, where, what = HOSTILE[case]
    path = hostile_file(content)
    result = runner.invoke(args=["config", "import", path])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}: {where}" in result.output and what in result.output, result.output
    assert "Traceback" not in result.output and "nothing was written" in result.output
    assert (snapshot(app), job_snapshot(app)) == before


def test_a_file_past_the_value_budget_is_refused_before_loading(runner, app, hostile_file):
    app.config["CONFIG_IMPORT_MAX_VALUES"] = 100
    entries = "".join(f"  - {{name: d{i}, host: 127.0.0.{i + 1}}}\n" for i in range(30))
    result = runner.invoke(args=["config", "import", hostile_file("destinations:\n" + entries)])
    assert result.exit_code == 1
    assert "more than 100 values" in result.output and "CONFIG_IMPORT_MAX_VALUES" in result.output
    assert snapshot(app) == []


def test_anchors_aliases_and_merge_keys_still_work(runner, app, hostile_file):
    text = (
        "destinations:\n"
        "  - {name: a, host: 127.0.0.1, labels: &lab {env: lab, site: s1}}\n"
        "  - {name: b, host: 127.0.0.2, labels: *lab}\n"
        "jobs:\n"
        "  - <<: &ping {collector: ping, interval_s: 30, params: {count: 2}}\n"
        "    name: j1\n"
        "    destinations: [a]\n"
        "  - {<<: *ping, name: j2, destinations: [a, b], interval_s: 60}\n"
    )
    result = runner.invoke(args=["config", "import", hostile_file(text)])
    assert result.exit_code == 0, result.output
    assert [(r[0], r[4]) for r in snapshot(app)] == [
        ("a", {"env": "lab", "site": "s1"}),
        ("b", {"env": "lab", "site": "s1"}),
    ]
    [j1, j2] = job_snapshot(app)
    assert (j1[0], j1[1]["count"], j1[2], j1[6]) == ("j1", 2, ["a"], 30)
    assert (j2[0], j2[1]["count"], j2[2], j2[6]) == ("j2", 2, ["a", "b"], 60)


def test_a_date_whose_utc_form_leaves_years_1_to_9999_names_its_line(runner, app, hostile_file):
    result = runner.invoke(
        args=["config", "import", hostile_file(JOB + "    starts_at: 0001-01-01T00:00:00+01:00\n")]
    )
    assert result.exit_code == 1 and "line 5: jobs[0].starts_at" in result.output, result.output


# --- in a child process, under limits -------------------------------------------------------

BOMBS = {
    "billion laughs": (_laughs("") + "destinations: *i\n", "with its aliases expanded"),
    "billion laughs in params": (
        "destinations:\n  - {name: lo, host: 127.0.0.1}\n"
        + JOB
        + "    destinations: [lo]\n    params:\n"
        + _laughs("      ")
        + "      count: *i\n",
        "with its aliases expanded",
    ),
    "merge bomb": (
        "m0: &m0 {k0: 1}\n"
        + "".join(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}\n" for i in range(1, 40))
        + "destinations:\n  - {<<: *m39, name: x, host: 127.0.0.1}\n",
        "with its aliases expanded",
    ),
    "50 MB": (None, "larger than"),
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def _write_50_mb(path: Path) -> None:
    entry = "  - {name: d%07d, host: 127.0.0.1, description: padding padding padding}\n"
    with path.open("w") as f:
        f.write("destinations:\n")
        for i in range(50_000_000 // len(entry % 0) + 1):
            f.write(entry % i)


def _run_limited(argv: list[str], env: dict, deadline_s: float) -> tuple[int, str, float]:
    """Exit code, output and peak RSS (MB) of a child under the memory limit and a deadline."""
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_limit_memory
        )
        deadline = time.monotonic() + deadline_s
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return child.returncode, log.read().decode(errors="replace"), usage.ru_maxrss / 1024


@pytest.mark.parametrize("case", BOMBS, ids=list(BOMBS))
def test_a_file_that_would_take_the_memory_is_refused_in_bounded_memory(
    runner, app, tmp_path, case
):
    before = _imported_good(runner, app, tmp_path)
    text, expected = BOMBS[case]
    path = tmp_path / "bomb.yaml"
    if text is None:
        _write_50_mb(path)
    else:
        path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(app.instance_path)
    env["NETSTATS_DATABASE_URL"] = app.config["DATABASE_URL"]
    code, output, peak_mb = _run_limited([NETSTATS, "config", "import", str(path)], env, 60)
    assert code == 1, output[-2000:]
    assert f"{path}: line " in output and expected in output, output[-2000:]
    assert "Traceback" not in output
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"
    assert (snapshot(app), job_snapshot(app)) == before


def test_a_nul_anywhere_in_an_entry_names_its_line_and_changes_nothing(runner, app, hostile_file):
    text = (
        "destinations:\n  - {name: a, host: 127.0.0.1}\n"
        + JOB
        + '    params: {count: 2}\n    description: "x\\0y"\n'
    )
    result = runner.invoke(args=["config", "import", hostile_file(text)])
    assert result.exit_code == 1 and "jobs[0].description" in result.output, result.output
    assert "NUL" in result.output
    assert snapshot(app) == [] and job_snapshot(app) == []
