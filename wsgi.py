"""WSGI entry point: ``gunicorn wsgi:app``."""

from netstats import create_app

app = create_app()
