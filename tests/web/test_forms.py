"""Form text to the JSON the schemas load, and back; errors to field names."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from netstats.web.forms import FormState, flatten_errors, form_body, to_form
from tests.web.form_cases import CASES, ERRORS, SCHEMA


@pytest.mark.parametrize("fields, body", CASES)
def test_form_fields_become_the_json_body_by_the_schemas_types(fields, body):
    assert form_body(MultiDict(fields), SCHEMA) == body


def test_an_edit_form_shows_what_form_body_reads_back():
    body = CASES[0][1]
    assert form_body(to_form(body, SCHEMA), SCHEMA) == {**body, "name": " loop "}


def test_nested_errors_are_keyed_by_the_field_names_of_the_form():
    assert flatten_errors(ERRORS[0]) == ERRORS[1]


def test_browser_constraints_come_from_the_schema():
    form = FormState(SCHEMA, MultiDict())
    assert form.attrs("name") == {"required": True, "minlength": 1}
    assert form.attrs("count") == {"required": True, "min": 1, "step": "1"}
    assert form.attrs("limit") == {"step": "any"}
    assert form.attrs("enabled") == {}
    assert form.attrs("params.size") == {"step": "1"}
    assert FormState(SCHEMA, MultiDict([("windows.3.start", ""), ("windows.1.start", "")])).rows(
        "windows"
    ) == [1, 3]
