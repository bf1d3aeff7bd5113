"""Form fields and the JSON they must become: shared by the Python and the browser tests,
so that ``netstats/web/forms.py`` and ``static/js/forms.js`` are held to the same cases."""

from __future__ import annotations

SCHEMA = {
    "type": "object",
    "required": ["name", "count"],
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "name": {"type": "string", "minLength": 1},
        "note": {"type": "string", "default": ""},
        "kind": {"type": "string", "default": "A", "enum": ["A", "AAAA"]},
        "count": {"type": "integer", "minimum": 1},
        "ratio": {"type": "number"},
        "limit": {"type": ["number", "null"], "default": None},
        "ttl": {"type": ["integer", "null"]},
        "enabled": {"type": "boolean", "default": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "servers": {"type": "array", "items": {"type": "string"}},
        "ids": {"type": "array", "items": {"type": "integer"}},
        "params": {
            "type": "object",
            "properties": {"size": {"type": "integer", "default": 56}, "fast": {"type": "boolean"}},
        },
        "windows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "days": {"type": "array", "items": {"type": "string", "enum": ["mon", "tue"]}},
                    "start": {"type": "string"},
                },
            },
        },
    },
}

# (form fields as (name, value) pairs, the JSON body they make)
CASES = [
    (
        [
            ("name", " loop "),
            ("count", " 7 "),
            ("ratio", "1e3"),
            ("limit", ""),
            ("ttl", ""),
            ("note", ""),
            ("kind", "AAAA"),
            ("enabled", "on"),
            ("labels", "a=1\n b = x=y \n\nc"),
            ("servers", "::1, 127.0.0.1\n127.0.0.2"),
            ("ids", "3"),
            ("ids", "4"),
            ("params.size", ""),
            ("params.fast", "on"),
            ("windows.1.days", "tue"),
            ("windows.1.start", "06:00"),
            ("windows.0.days", "mon"),
            ("windows.0.days", "tue"),
            ("windows.0.start", "22:00"),
        ],
        {
            "name": " loop ",
            "note": "",
            "kind": "AAAA",
            "count": 7,
            "ratio": 1000.0,
            "limit": None,
            "ttl": None,
            "enabled": True,
            "labels": {"a": "1", "b": "x=y", "c": ""},
            "servers": ["::1", "127.0.0.1", "127.0.0.2"],
            "ids": [3, 4],
            "params": {"size": 56, "fast": True},
            "windows": [
                {"days": ["mon", "tue"], "start": "22:00"},
                {"days": ["tue"], "start": "06:00"},
            ],
        },
    ),
    (
        # What does not convert is passed on as typed, for the schema to refuse.
        [("name", ""), ("count", "7.5"), ("ratio", "1e999"), ("ttl", "ten"), ("ids", "x")],
        {
            "name": "",
            "count": "7.5",
            "ratio": "1e999",
            "ttl": "ten",
            "enabled": False,
            "servers": [],
            "ids": ["x"],
            "params": {"fast": False},
            "windows": [],
        },
    ),
    (
        [("count", "+3"), ("ratio", "-.5"), ("ttl", "\u0663")],  # an Arabic-Indic three
        {
            "count": 3,
            "ratio": -0.5,
            "ttl": "\u0663",
            "enabled": False,
            "servers": [],
            "ids": [],
            "params": {"fast": False},
            "windows": [],
        },
    ),
]

# Marshmallow's nested messages and the field names they are shown beside.
ERRORS = (
    {
        "_schema": ["Bad."],
        "params": {"count": ["Too small."]},
        "windows": {"0": {"start": ["Use HH:MM."], "_schema": ["Empty."]}},
    },
    {
        "_form": ["Bad."],
        "params.count": ["Too small."],
        "windows.0.start": ["Use HH:MM."],
        "windows.0._schema": ["Empty."],
    },
)
