# syntax=docker/dockerfile:1
# Leadflow: one image for the API, the workers and the migration job (the command differs).
#   docker build -t leadflow:local .
#   docker run --rm leadflow:local leadflow --help

# ---- the visual flow studio: static files the API serves
FROM node:20-slim AS ui
WORKDIR /ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

# ---- the Python package
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LEADFLOW_HOME=/var/lib/leadflow
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Editable install: the code stays in /app, next to email_templates/, flows/ and ui/dist/,
# which Leadflow finds relative to the project root.
COPY . .
COPY --from=ui /ui/dist ./ui/dist
RUN pip install --no-deps -e . \
 && useradd --system --create-home --uid 10001 --user-group leadflow \
 && mkdir -p "$LEADFLOW_HOME" && chown leadflow:leadflow "$LEADFLOW_HOME"

# The code is root-owned and read-only to the service user; only LEADFLOW_HOME is writable.
USER leadflow
EXPOSE 8000
CMD ["leadflow", "api", "--host", "0.0.0.0", "--port", "8000"]
