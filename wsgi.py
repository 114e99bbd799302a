"""WSGI entry point: `flask --app wsgi ...`, `gunicorn wsgi:app`."""

from b2bshop import create_app

app = create_app()
