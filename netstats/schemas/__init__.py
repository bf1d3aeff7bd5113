"""Marshmallow schemas for everything that crosses a boundary (HTTP, YAML), by resource.

- ``fields``: strict JSON types, labels, time zones and times shared by the resources;
- ``common``: list arguments (search, page, sort), pages, errors, the health check;
- ``destinations``, ``jobs``, ``runs``, ``collectors``: one module per resource, each with
  its schema instances named by role (``job_schema``, ``job_list_args``, ``job_page_schema``).
"""
