"""Text spoofing (issue 13 item 9): names refuse control and bidi characters, descriptions the
controls that no text needs, with a 422 naming the field; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from netstats.auth import create_user
from netstats.errors import Invalid

SPOOFS = ["abc\u202egnp.exe", "a\u2066b", "a\u2069", "a\x00b", "a\x1bb", "a\x85b", "a\nb"]


def test_a_destination_or_job_name_with_a_control_or_bidi_character_is_422(api):
    for text in SPOOFS:
        response = api.post("/destinations", json={"name": text, "host": "127.0.0.1"})
        assert response.status_code == 422 and "name" in response.json["error"]["fields"], text
        body = {"name": text, "collector": "ping", "interval_s": 60}
        response = api.post("/jobs", json=body)
        assert response.status_code == 422 and "name" in response.json["error"]["fields"], text
    assert api.get("/destinations").json["total"] == 0
    assert api.get("/jobs").json["total"] == 0


def test_a_description_refuses_bidi_and_controls_but_keeps_newlines_and_tabs(api):
    for text in ["abc\u202egnp", "x\u202ay", "x\x00", "x\x07", "x\x9b"]:
        body = {"name": "d", "host": "127.0.0.1", "description": text}
        response = api.post("/destinations", json=body)
        assert response.json["error"]["fields"]["description"], text
        body = {"name": "j", "collector": "ping", "interval_s": 60, "description": text}
        assert api.post("/jobs", json=body).json["error"]["fields"]["description"], text
    body = {
        "name": "d",
        "host": "127.0.0.1",
        "description": "line 1\n\tline 2 \u05e9\u05dc\u05d5\u05dd",
    }
    assert api.post("/destinations", json=body).status_code == 201


def test_label_keys_and_values_refuse_bidi_characters(api):
    for labels in [{"env\u202e": "x"}, {"env": "a\u202eb"}, {"env": "a\x00"}]:
        body = {"name": "d", "host": "127.0.0.1", "labels": labels}
        response = api.post("/destinations", json=body)
        assert response.status_code == 422 and "labels" in str(response.json["error"]), labels


@pytest.mark.parametrize("name", ["adm\u202enimi", "a\x00", "a\u2067b"])
def test_a_user_name_with_a_control_or_bidi_character_is_refused(app, name):
    with app.app_context(), pytest.raises(Invalid) as refused:
        create_user(name, "correct horse battery")
    assert "name" in refused.value.fields
