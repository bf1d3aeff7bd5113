"""WSGI entry point: ``gunicorn wsgi:app``."""

from netstats.app import create_app

app = create_app()
