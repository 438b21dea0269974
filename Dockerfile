# syntax=docker/dockerfile:1
# Build: docker build -t cpro-api .
# Run:   docker run -e CPRO_DATABASE_URL=postgresql://cpro:...@db:5432/cpro -p 8000:8000 cpro-api
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /srv/cpro cpro
WORKDIR /srv/cpro
COPY --from=build /opt/venv /opt/venv
# The app runs from /srv/cpro (PYTHONPATH first), next to the alembic.ini and migrations that
# `cpro serve` applies at start; the copy installed in the venv only brought the dependencies.
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv/cpro PYTHONUNBUFFERED=1 CPRO_DATA_DIR=/srv/cpro/data
USER cpro
EXPOSE 8000
# CPRO_DATABASE_URL is expected: the image is meant for an external PostgreSQL.
ENTRYPOINT ["cpro", "serve", "--host", "0.0.0.0", "--port", "8000"]
