#!/usr/bin/env bash
# The whole suite in one command (`npm run test:all`):
#   backing services up -> build -> typecheck -> lint (if configured) -> jest --ci "$@"
# Services this run started are stopped on exit (also on failure / Ctrl-C); ones that
# were already running are left alone. Exit code: jest's, or non-zero if an earlier
# step failed (build/typecheck stop the run; a lint failure still lets jest run).
set -uo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "${SIDEKICK_ROOT}" || exit 1

# Services this run starts are listed in $started_list and stopped on exit (also on failure / Ctrl-C).
stop_started_services_on_exit "sidekick-started"

step() { printf '\n=== %s\n' "$*" >&2; }

export SIDEKICK_REDIS_PORT="${SIDEKICK_REDIS_PORT:-6379}"
export SIDEKICK_POSTGRES_PORT="${SIDEKICK_POSTGRES_PORT:-5432}"
export SIDEKICK_KAFKA_PORT="${SIDEKICK_KAFKA_PORT:-9092}"
export SIDEKICK_ZIPKIN_PORT="${SIDEKICK_ZIPKIN_PORT:-9411}"
# What the specs connect to (test/support/services.ts), following the ports above.
export SIDEKICK_TEST_REDIS_URL="${SIDEKICK_TEST_REDIS_URL:-redis://127.0.0.1:${SIDEKICK_REDIS_PORT}}"
export SIDEKICK_TEST_POSTGRES_URL="${SIDEKICK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:${SIDEKICK_POSTGRES_PORT}/postgres}"
export SIDEKICK_TEST_KAFKA_BROKERS="${SIDEKICK_TEST_KAFKA_BROKERS:-127.0.0.1:${SIDEKICK_KAFKA_PORT}}"
export SIDEKICK_TEST_ZIPKIN_URL="${SIDEKICK_TEST_ZIPKIN_URL:-http://127.0.0.1:${SIDEKICK_ZIPKIN_PORT}}"

step "services up"
SIDEKICK_SERVICES_NEW_FILE="${started_list}" bash scripts/services.sh up all ||
  { log "test-all: starting services failed"; exit 1; }

# The screenshot of samples/04-observability drives Debian's chromium (playwright-core cannot download a browser here).
if [[ ! -x "${SIDEKICK_CHROMIUM:-/usr/bin/chromium}" ]]; then
  step "chromium (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ||
    { log "test-all: installing chromium failed"; exit 1; }
fi

step "build"
npm run build || { log "test-all: build failed"; exit 1; }

step "typecheck"
npm run typecheck || { log "test-all: typecheck failed"; exit 1; }

lint_rc=0
if [[ -f eslint.config.js || -f eslint.config.mjs || -f eslint.config.cjs ]]; then
  step "lint"
  npm run lint || lint_rc=$?
fi

step "jest --ci $*"
npx --no-install jest --ci "$@"
jest_rc=$?
((jest_rc == 0)) || log "test-all: jest exited with ${jest_rc}"

if ((lint_rc != 0)); then
  log "test-all: lint failed (exit ${lint_rc})"
  ((jest_rc != 0)) || exit 1
fi
exit "${jest_rc}"
