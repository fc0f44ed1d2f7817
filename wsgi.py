"""The WSGI entry point: `granian --interface wsgi wsgi:app` or `gunicorn wsgi:app` (the Procfile
serves the same application through app/asgi.py)."""

from app import web_application

app = web_application()
