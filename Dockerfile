# Bordin API image: migrations, then uvicorn. Point DATABASE_URL at PostgreSQL in production.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/srv/bordin \
    INSTRUMENTS_DIR=/srv/bordin/instruments \
    GUIDANCE_FILE=/srv/bordin/guidance/catalogue.yaml \
    DATABASE_URL=sqlite:////srv/bordin/data/bordin.db

WORKDIR /srv/bordin
RUN useradd --system --uid 10001 --no-create-home --home-dir /srv/bordin bordin

# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY alembic.ini ./
COPY migrations ./migrations
COPY instruments ./instruments
COPY guidance ./guidance
COPY app ./app
RUN mkdir -p /srv/bordin/data && chown bordin /srv/bordin/data

USER bordin
EXPOSE 8000
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn --factory app.main:app_factory --host 0.0.0.0 --port 8000 --no-access-log --no-server-header"]
