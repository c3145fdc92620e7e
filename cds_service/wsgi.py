"""WSGI entry point for gunicorn: `gunicorn cds_service.wsgi:app`."""

from .app import create_app

app = create_app()
