#!/usr/bin/env bash
# make test-clients: generate clients from the OpenAPI document a live server serves, and use them.
#
# 1. A server on a free loopback port, on a new SQLite database (migrated, one organisation).
# 2. Its /openapi.json -> openapi-python-client (any generator warning fails) -> installed in a
#    temporary venv -> clients/python/smoke.py against the server, and mypy (strict) over it.
# 3. The same document -> openapi-typescript -> tsc --strict over clients/typescript/usage.ts.
# 4. The same document -> `redocly lint` (@redocly/cli, clients/browser/redocly.yaml): clean.
# 5. LHC-Forms (npm lforms, its published tarball checked against LFORMS_INTEGRITY) renders every
#    Questionnaire in every language of GET /v1/languages in Debian's headless Chromium; each
#    is answered, and the QuestionnaireResponse it makes must score as the JSON route scores
#    the same answers (clients/browser/forms.py); /docs and /redoc must render from the server
#    alone.
# Everything generated lives in a temporary folder (and clients/*/generated/, ignored);
# nothing generated is committed or edited. The server is stopped on any exit. npm's cache
# keeps the packages (and the lforms tarball) between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
PYTHON=${PYTHON:-python3}
OPENAPI_PYTHON_CLIENT=openapi-python-client==0.29.1
LFORMS=lforms@40.1.3
LFORMS_INTEGRITY=sha512-WLruTm+BcVnafC0rSAQ3/cNqhxvclBUxyBG68aub/uha2NaK9H8ZZcEXTTuORuGzzCt0wa7fvhuieZtcDIdPzQ==
pip_install() {  # pip_install VENV PACKAGE: quiet, but its log is shown if it fails
  "$PYTHON" -m venv "$1"
  "$1/bin/pip" install --disable-pip-version-check --no-input "$2" >"$1.log" 2>&1 \
    || { cat "$1.log" >&2; return 1; }
}

if ! command -v npm >/dev/null; then  # Node comes from Debian where the machine has none
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null \
    || { echo "test-clients needs node and npm: apt-get install nodejs npm" >&2; exit 1; }
fi

if [[ ! -x /usr/bin/chromium ]]; then  # the browser comes from Debian (no browser downloads)
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null \
    || { echo "test-clients needs Chromium: apt-get install chromium" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bordin-clients.XXXXXX")
SERVER_PID=""
NPM_PID=""
BROWSER_NPM_PID=""
stop() {
  local status=$?
  set +e
  for pid in $NPM_PID $BROWSER_NPM_PID; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    if [[ $status -ne 0 ]]; then echo "-- server log:" >&2; cat "$WORK/server.log" >&2; fi
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM
step() { printf '== %s (%ss)\n' "$1" "$SECONDS"; }

# The TypeScript tools install while the Python side runs (npm ci: exactly the lockfile).
(cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) &
NPM_PID=$!
# Redocly from its lock file; LHC-Forms as its published tarball, whose integrity must be the
# pinned one (its npm dependencies are the Angular sources of its prebuilt files: not needed).
(
  cd clients/browser && npm ci --no-audit --no-fund --loglevel=error \
    && npm pack "$LFORMS" --pack-destination "$WORK" --json >"$WORK/lforms.json" \
    && grep -q "\"integrity\": \"$LFORMS_INTEGRITY\"" "$WORK/lforms.json" \
    && mkdir "$WORK/lforms" && tar -xzf "$WORK"/lforms-*.tgz -C "$WORK/lforms"
) >"$WORK/browser-npm.log" 2>&1 &
BROWSER_NPM_PID=$!

step "server on a new database"
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE_URL=http://127.0.0.1:$PORT
export DATABASE_URL=sqlite:///$WORK/bordin.db LOG_LEVEL=WARNING
"$BIN/alembic" upgrade head >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; exit 1; }
KEY=$("$BIN/bordin" create-organization "client smoke test" | sed -n 's/^admin key (shown once): //p')
[[ -n $KEY ]] || { echo "no admin key from bordin create-organization" >&2; exit 1; }
"$BIN/uvicorn" --factory app.main:app_factory --host 127.0.0.1 --port "$PORT" \
  --no-access-log --no-server-header >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do  # up to a minute: imports alone take 20 s on a loaded machine
  curl -sf "$BASE_URL/health" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server stopped" >&2; exit 1; }
  sleep 0.1
done
curl -sfS "$BASE_URL/openapi.json" -o "$WORK/openapi.json"

step "Python client: $OPENAPI_PYTHON_CLIENT"
pip_install "$WORK/generator" "$OPENAPI_PYTHON_CLIENT"
"$WORK/generator/bin/openapi-python-client" generate --path "$WORK/openapi.json" \
  --config clients/python/generator.yaml --meta setup --output-path "$WORK/bordin-client" \
  --fail-on-warning
pip_install "$WORK/client" "$WORK/bordin-client"

step "Python client against the server"
BORDIN_KEY=$KEY "$WORK/client/bin/python" clients/python/smoke.py "$BASE_URL"
"$BIN/mypy" --strict --python-executable "$WORK/client/bin/python" --no-incremental \
  clients/python/smoke.py

step "TypeScript types: openapi-typescript, tsc"
wait "$NPM_PID" || { cat "$WORK/npm.log"; NPM_PID=""; exit 1; }
NPM_PID=""
cd clients/typescript
rm -rf generated
# Defaults make a response property required, never a request property (ScoreRequest.version).
npx --no-install openapi-typescript "$WORK/openapi.json" -o generated/schema.d.ts \
  --default-non-nullable false
npx --no-install tsc --project tsconfig.json
echo "TypeScript: usage.ts type-checks against the generated schema"
cd "$ROOT"

step "redocly lint"
wait "$BROWSER_NPM_PID" || { cat "$WORK/browser-npm.log"; BROWSER_NPM_PID=""; exit 1; }
BROWSER_NPM_PID=""
mkdir -p clients/browser/generated
cp "$WORK/openapi.json" clients/browser/generated/openapi.json
(cd clients/browser && npx --no-install redocly lint generated/openapi.json --config redocly.yaml \
  --format=summary 2>&1 | grep -v '[║╔╚]')  # without Redocly's banner about Node.js 20

step "LHC-Forms in Chromium: every Questionnaire in every language"
BORDIN_KEY=$KEY PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$BIN/python" clients/browser/forms.py \
  "$BASE_URL" "$WORK/lforms/package/dist/lforms"
step "clients done"
