"""static/js/forms.js reads forms and places errors exactly as netstats/web/forms.py does."""

from __future__ import annotations

import pytest

from tests.web.form_cases import CASES, ERRORS, SCHEMA

pytestmark = pytest.mark.browser

READ_IN_THE_BROWSER = """async ([schema, cases, errors]) => {
    const forms = await import('/static/js/forms.js');
    const bodies = cases.map(([fields]) => {
        const form = document.createElement('form');
        for (const [name, value] of fields) {
            const field = document.createElement('textarea');  // keeps the value as typed
            field.name = name;
            field.value = value;
            form.append(field);
        }
        return forms.formBody(form, schema);
    });
    return {bodies, errors: forms.flattenErrors(errors)};
}"""


def test_the_browser_turns_form_fields_into_the_same_json_as_the_server(browser):
    browser.login()
    browser.visit("/reports")
    result = browser.page.evaluate(READ_IN_THE_BROWSER, [SCHEMA, CASES, ERRORS[0]])
    assert result["bodies"] == [body for _, body in CASES]
    assert result["errors"] == ERRORS[1]
