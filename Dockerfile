# syntax=docker/dockerfile:1
# Multi-stage: wheels are built with compilers in the first stage; the runtime image has none of
# them, runs as an unprivileged user and holds only the app and its installed dependencies.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=escrow_project.settings.production \
    VAR_DIR=/var/lib/escrow PROMETHEUS_MULTIPROC_DIR=/var/lib/escrow/prometheus
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin escrow \
    && mkdir -p /var/lib/escrow/prometheus && chown -R escrow /var/lib/escrow
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=escrow . /app
# Static files are collected at build time with the embedded settings (they need no secrets).
RUN DJANGO_SETTINGS_MODULE=escrow_project.settings.local python manage.py collectstatic --noinput --verbosity 0
USER escrow
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"
# The web process (ASGI); workers and beat run the same image with another command (docker-compose.yml).
CMD ["python", "-m", "uvicorn", "escrow_project.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
