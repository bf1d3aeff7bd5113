"""netstats config import/export: YAML in, YAML out, all or nothing."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import select

from netstats.db import db
from netstats.models import Destination, Job

GOOD = textwrap.dedent(
    """\
    destinations:
      - name: lo4
        host: 127.0.0.1
        family: ipv4
        labels: {env: lab}
      - name: lo6
        host: "::1"
        description: IPv6 loopback
    """
)


@pytest.fixture
def config_file(tmp_path):
    def write(text: str):
        path = tmp_path / "netstats.yaml"
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


def snapshot(app) -> list[tuple]:
    with app.app_context():
        return [
            (d.name, d.host, d.family, d.description, d.labels, d.enabled, d.updated_at)
            for d in db.session.scalars(select(Destination).order_by(Destination.name))
        ]


def test_import_creates_and_reports(runner, app, config_file):
    result = runner.invoke(args=["config", "import", config_file(GOOD)])
    assert result.exit_code == 0, result.output
    assert "+ create destination lo4" in result.output
    assert "2 changed" in result.output
    rows = snapshot(app)
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("lo4", "127.0.0.1", "ipv4", {"env": "lab"}),
        ("lo6", "::1", "any", {}),
    ]


def test_dry_run_reports_and_writes_nothing(runner, app, config_file):
    result = runner.invoke(args=["config", "import", "--dry-run", config_file(GOOD)])
    assert result.exit_code == 0, result.output
    assert "+ create destination lo6" in result.output and "2 would change" in result.output
    assert snapshot(app) == []


def test_export_then_import_is_a_no_op(runner, app, config_file, tmp_path):
    runner.invoke(args=["config", "import", config_file(GOOD)])
    before = snapshot(app)
    exported = tmp_path / "export.yaml"
    assert runner.invoke(args=["config", "export", str(exported)]).exit_code == 0
    result = runner.invoke(args=["config", "import", str(exported)])
    assert result.exit_code == 0, result.output
    assert "0 changed, 2 unchanged" in result.output
    assert snapshot(app) == before  # updated_at untouched too


def test_import_updates_by_name(runner, app, config_file):
    runner.invoke(args=["config", "import", config_file(GOOD)])
    changed = GOOD.replace("IPv6 loopback", "v6 loop")
    result = runner.invoke(args=["config", "import", config_file(changed)])
    assert "~ update destination lo6" in result.output and "1 changed, 1 unchanged" in result.output
    assert [r[3] for r in snapshot(app)] == ["", "v6 loop"]


def test_prune_deletes_what_the_file_does_not_name(runner, app, config_file):
    runner.invoke(args=["config", "import", config_file(GOOD)])
    only_lo4 = "destinations:\n  - {name: lo4, host: 127.0.0.1, family: ipv4, labels: {env: lab}}\n"
    kept = runner.invoke(args=["config", "import", config_file(only_lo4)])
    assert [r[0] for r in snapshot(app)] == ["lo4", "lo6"] and "0 changed" in kept.output
    pruned = runner.invoke(args=["config", "import", "--prune", config_file(only_lo4)])
    assert "- delete destination lo6" in pruned.output
    assert [r[0] for r in snapshot(app)] == ["lo4"]


BROKEN = {
    "syntax": ("destinations:\n  - name: a\n    host: [127.0.0.1\n", "line 4"),
    "bad host": (
        "destinations:\n  - name: a\n    host: 127.0.0.1\n  - name: b\n    host: a..b\n",
        "line 5: destinations[1].host",
    ),
    "unknown field": (
        "destinations:\n  - name: a\n    host: h\n    colour: red\n",
        "line 4: destinations[0].colour: Unknown field",
    ),
    "wrong type": (
        "destinations:\n  - name: a\n    host: h\n    enabled: maybe\n",
        "line 4: destinations[0].enabled",
    ),
    "duplicate key": (
        "destinations:\n  - name: a\n    host: h\n    host: g\n",
        "line 4: destinations[0].host: duplicate key",
    ),
    "duplicate name": (
        "destinations:\n  - {name: a, host: h}\n  - {name: a, host: g}\n",
        "line 3: destinations[1].name: duplicate name",
    ),
    "unknown section": ("destinatons:\n  - {name: a, host: h}\n", "line 1: destinatons: unknown"),
    "not a list": ("destinations: {name: a}\n", "line 1: destinations: must be a list"),
    "not a mapping": ("- a\n- b\n", "line 1"),
    "item not a mapping": ("destinations:\n  - just a string\n", "line 2: destinations[0]"),
    "missing name": ("destinations:\n  - host: h\n", "line 2: destinations[0].name"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_file_names_line_and_field_and_writes_nothing(runner, app, config_file, case):
    runner.invoke(args=["config", "import", config_file(GOOD)])
    before = snapshot(app)
    text, expected = BROKEN[case]
    result = runner.invoke(args=["config", "import", config_file(text)])
    assert result.exit_code == 1
    assert expected in result.output, result.output
    assert "nothing was written" in result.output
    assert snapshot(app) == before


def test_conflict_late_in_the_file_rolls_back_the_earlier_changes(runner, app, config_file):
    runner.invoke(args=["config", "import", config_file(GOOD)])
    with app.app_context():
        job = Job(name="uses-lo6", collector="ping", interval_s=60, params={})
        job.destinations.append(
            db.session.scalar(select(Destination).where(Destination.name == "lo6"))
        )
        db.session.add(job)
        db.session.commit()
    before = snapshot(app)
    text = "destinations:\n  - {name: new, host: 127.0.0.9}\n  - {name: lo4, host: 127.0.0.1}\n"
    result = runner.invoke(args=["config", "import", "--prune", config_file(text)])
    assert result.exit_code == 1
    assert "uses-lo6" in result.output and "nothing was written" in result.output
    assert snapshot(app) == before


WITH_JOBS = GOOD + textwrap.dedent(
    """\
    jobs:
      - name: ping-loopback
        collector: ping
        destinations: [lo4, lo6]
        interval_s: 10
        params: {count: 3}
        windows:
          - {days: [mon, tue, wed, thu, fri], start: "22:00", end: "06:00"}
        timezone: Europe/Paris
      - name: ping-lab
        collector: ping
        label_selector: {env: lab}
        interval_s: 60
    """
)


def job_snapshot(app) -> list[tuple]:
    with app.app_context():
        return [
            (
                j.name,
                j.params,
                [d.name for d in j.destinations],
                j.label_selector,
                j.windows,
                j.timezone,
                j.interval_s,
                j.version,
                j.updated_at,
            )
            for j in db.session.scalars(select(Job).order_by(Job.name))
        ]


def test_jobs_are_imported_with_destinations_by_name(runner, app, config_file):
    result = runner.invoke(args=["config", "import", config_file(WITH_JOBS)])
    assert result.exit_code == 0, result.output
    assert "+ create job ping-loopback" in result.output
    [lab, loopback] = job_snapshot(app)
    assert loopback[2] == ["lo4", "lo6"] and loopback[5] == "Europe/Paris"
    assert loopback[1]["count"] == 3  # the collector's defaults fill in the rest
    assert loopback[4] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}
    ]
    assert lab[3] == {"env": "lab"} and lab[2] == []


def test_export_then_import_with_jobs_is_a_no_op(runner, app, config_file, tmp_path):
    runner.invoke(args=["config", "import", config_file(WITH_JOBS)])
    before = snapshot(app), job_snapshot(app)
    exported = tmp_path / "export.yaml"
    runner.invoke(args=["config", "export", str(exported)])
    result = runner.invoke(args=["config", "import", str(exported)])
    assert "0 changed, 4 unchanged" in result.output, result.output
    assert (snapshot(app), job_snapshot(app)) == before


def test_a_job_change_in_the_file_updates_the_job_and_its_version(runner, app, config_file):
    runner.invoke(args=["config", "import", config_file(WITH_JOBS)])
    version = job_snapshot(app)[1][7]
    result = runner.invoke(
        args=["config", "import", config_file(WITH_JOBS.replace("count: 3", "count: 4"))]
    )
    assert "~ update job ping-loopback" in result.output and "1 changed" in result.output
    after = job_snapshot(app)[1]
    assert after[1]["count"] == 4 and after[7] == version + 1


@pytest.mark.parametrize(
    "change, expected",
    [
        (("count: 3", "count: 0"), "line 14: jobs[0].params.count"),
        (("count: 3", "cuont: 3"), "line 14: jobs[0].params.cuont"),
        (("[lo4, lo6]", "[lo4, nowhere]"), "No destination named 'nowhere'"),
        (
            ("collector: ping\n    destinations", "collector: pong\n    destinations"),
            "line 11: jobs[0].collector",
        ),
        (("Europe/Paris", "Mars/Olympus"), "line 17: jobs[0].timezone"),
        (('start: "22:00"', 'start: "25:00"'), "jobs[0].windows[0].start"),
        (("interval_s: 10", "interval_s: ten"), "line 13: jobs[0].interval_s"),
    ],
)
def test_a_bad_job_names_its_line_and_nothing_is_written(
    runner, app, config_file, change, expected
):
    result = runner.invoke(args=["config", "import", config_file(WITH_JOBS.replace(*change))])
    assert result.exit_code == 1
    assert expected in result.output, result.output
    assert snapshot(app) == [] and job_snapshot(app) == []


def test_prune_removes_jobs_the_file_no_longer_names(runner, app, config_file):
    runner.invoke(args=["config", "import", config_file(WITH_JOBS)])
    fewer = WITH_JOBS.split("  - name: ping-lab")[0]
    result = runner.invoke(args=["config", "import", "--prune", config_file(fewer)])
    assert "- delete job ping-lab" in result.output, result.output
    assert [j[0] for j in job_snapshot(app)] == ["ping-loopback"]


def _many(count: int) -> str:
    destinations = "".join(
        f"  - {{name: d{i}, host: 127.0.0.{i % 250 + 1}, labels: {{site: s{i % 3}}}}}\n"
        for i in range(count)
    )
    jobs = "".join(
        f"  - {{name: j{i}, collector: ping, interval_s: 10, destinations: [d{i}, d{i + 1}]}}\n"
        for i in range(count // 10)
    )
    return f"destinations:\n{destinations}jobs:\n{jobs}"


def _statements_of_import(runner, app, path) -> int:
    from sqlalchemy import event

    counted = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: counted.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = runner.invoke(args=["config", "import", path])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert result.exit_code == 0, result.output
    return len(counted)


def test_an_import_issues_as_many_statements_for_300_entries_as_for_30(runner, app, config_file):
    """New entries are written in bulk: the statements do not grow with the file."""
    few = _statements_of_import(runner, app, config_file(_many(30)))
    with app.app_context():
        db.session.execute(Job.__table__.delete())
        db.session.execute(Destination.__table__.delete())
        db.session.commit()
    many = _statements_of_import(runner, app, config_file(_many(300)))
    assert many == few
    assert len(snapshot(app)) == 300 and len(job_snapshot(app)) == 30


def test_export_omits_defaults_the_collector_parameters_included(runner, config_file, tmp_path):
    runner.invoke(args=["config", "import", config_file(WITH_JOBS)])
    exported = tmp_path / "export.yaml"
    runner.invoke(args=["config", "export", str(exported)])
    import yaml

    jobs = {j["name"]: j for j in yaml.safe_load(exported.read_text())["jobs"]}
    assert jobs["ping-loopback"]["params"] == {"count": 3}  # only what differs from ping's own
    assert "params" not in jobs["ping-lab"] and "destinations" not in jobs["ping-lab"]
    assert "enabled" not in jobs["ping-lab"] and "retries" not in jobs["ping-lab"]
