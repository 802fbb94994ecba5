# Bordin API image: the package installed from uv.lock (the `bordin` command included), run
# as a non-root user, ready when /health/ready says so. Point DATABASE_URL at PostgreSQL in
# production; the SQLite default keeps its file in the volume /srv/bordin/data.
#
#   docker build -t bordin .
#   docker run -p 8000:8000 -v bordin-data:/srv/bordin/data bordin
#   docker run --rm -v bordin-data:/srv/bordin/data bordin bordin create-organization "My clinic"
#
# Settings come from the environment (README, Configuration): PORT and WORKERS among them;
# FORWARDED_ALLOW_IPS names the reverse proxies whose X-Forwarded-* headers uvicorn trusts.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/bordin
RUN pip install uv==0.13.8
WORKDIR /srv/bordin
# Dependencies first, exactly as locked: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project
# Then the package itself (its `bordin` command), from the sources this image runs.
COPY app ./app
RUN uv sync --locked

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/bordin/bin:$PATH \
    INSTRUMENTS_DIR=/srv/bordin/instruments \
    GUIDANCE_FILE=/srv/bordin/guidance/catalogue.yaml \
    LANGUAGES_DIR=/srv/bordin/languages \
    DATABASE_URL=sqlite:////srv/bordin/data/bordin.db \
    PORT=8000 \
    WORKERS=1 \
    FORWARDED_ALLOW_IPS=127.0.0.1
RUN useradd --system --uid 10001 --no-create-home --home-dir /srv/bordin bordin
WORKDIR /srv/bordin
COPY --from=build /opt/bordin /opt/bordin
COPY --from=build /srv/bordin /srv/bordin
COPY alembic.ini ./
COPY migrations ./migrations
COPY instruments ./instruments
COPY guidance ./guidance
COPY languages ./languages
RUN mkdir -p /srv/bordin/data && chown bordin /srv/bordin/data
VOLUME /srv/bordin/data

USER bordin
EXPOSE 8000
# Ready: the database answers and is migrated to this version's revision (the port the
# settings give, PORT).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; from app.platform.settings import Settings; sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{Settings().port}/health/ready', timeout=4).status != 200)"]
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn --factory app.main:app_factory --host 0.0.0.0 --port \"$PORT\" --workers \"$WORKERS\" --proxy-headers --no-access-log --no-server-header"]
