# shellcheck shell=bash
# Shared helpers for the scripts in scripts/ and .ci/. Source it, don't run it.

# Absolute path of the project root (the directory holding package.json).
SIDEKICK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export SIDEKICK_ROOT

# Print a message to stderr.
log() { printf '%s\n' "$*" >&2; }

# Print an error to stderr and exit 1.
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# true if something accepts TCP connections on HOST:PORT.
port_open() {
  local host="$1" port="$2"
  (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
}

# wait_for SECONDS CMD...: run CMD every 0.25s until it succeeds or time runs out.
wait_for() {
  local secs="$1"
  shift
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.25
  done
  "$@" >/dev/null 2>&1
}

# Run a command with root privileges (directly if root, else via sudo).
as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run as root or install sudo)"
  fi
}

# Creates $started_list (pass it to `services.sh up` as SIDEKICK_SERVICES_NEW_FILE) and arranges for
# every service listed in it to be stopped when the calling script exits, keeping its exit code
# (a failed stop turns success into 1). Ctrl-C exits 130, TERM 143.
stop_started_services_on_exit() {
  started_list="$(mktemp "${TMPDIR:-/tmp}/${1:-sidekick-started}.XXXXXX")" || exit 1
  trap _stop_started_services EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_stop_started_services() {
  local rc=$?
  trap - EXIT INT TERM
  local started=()
  mapfile -t started <"${started_list}" 2>/dev/null || true
  if ((${#started[@]} > 0)); then
    bash scripts/services.sh down "${started[@]}" || rc=$((rc == 0 ? 1 : rc))
  fi
  rm -f "${started_list}"
  exit "$rc"
}
