#!/usr/bin/env bash
# `npm run bench`: Sidekick against the raw driver, interleaved in one process per benchmark.
#   Redis + Kafka + Zipkin up (each only if nothing answers on its port) -> build -> node --expose-gc dist/bench/run.js
# Writes bench/results.json and prints the table. A service this script started is stopped on exit
# (also on failure / Ctrl-C); one that was already running is left alone.
# Knobs (env): BENCH_STATE_{OPS,ROUNDS,WARMUP}, BENCH_HTTP_{OPS,ROUNDS,WARMUP}, BENCH_SIDECAR_{OPS,ROUNDS,WARMUP}, BENCH_RSS_OPS,
# BENCH_PUBSUB_{ROUNDS,MEMORY_EVENTS,REDIS_EVENTS,REDIS_LATENCY_OPS,REDIS_LATENCY_ROUNDS,KAFKA_EVENTS,KAFKA_LATENCY_OPS,KAFKA_ROUNDS},
# BENCH_PUBSUB_BACKENDS (e.g. kafka: that pub/sub only), BENCH_KAFKA_JAVA_{E2E,PERF}_RECORDS,
# BENCH_TRACING_{OPS,ROUNDS,WARMUP}, BENCH_METRICS_{OPS,ROUNDS,WARMUP}, SIDEKICK_REDIS_PORT (6379), SIDEKICK_KAFKA_PORT (9092), SIDEKICK_ZIPKIN_PORT (9411).
set -uo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "${SIDEKICK_ROOT}" || exit 1

# Services this run starts are listed in $started_list and stopped on exit (also on failure / Ctrl-C).
stop_started_services_on_exit "sidekick-bench-started"

export SIDEKICK_REDIS_PORT="${SIDEKICK_REDIS_PORT:-6379}"
export SIDEKICK_KAFKA_PORT="${SIDEKICK_KAFKA_PORT:-9092}"
export SIDEKICK_ZIPKIN_PORT="${SIDEKICK_ZIPKIN_PORT:-9411}"
export SIDEKICK_BENCH_KAFKA_BROKERS="${SIDEKICK_BENCH_KAFKA_BROKERS:-127.0.0.1:${SIDEKICK_KAFKA_PORT}}"

log "=== services up (redis, kafka, zipkin)"
SIDEKICK_SERVICES_NEW_FILE="${started_list}" bash scripts/services.sh up redis kafka zipkin ||
  { log "bench: starting redis/kafka/zipkin failed"; exit 1; }

log "=== Kafka's own tools (the Kafka yardsticks: EndToEndLatency, Producer/ConsumerPerformance)"
SIDEKICK_KAFKA_TOOLS_LIB="$(bash scripts/services.sh kafka-tools)" || { log "bench: fetching kafka-tools failed"; exit 1; }
export SIDEKICK_KAFKA_TOOLS_LIB

log "=== build"
npm run build || { log "bench: build failed"; exit 1; }

log "=== bench"
node --expose-gc dist/bench/run.js
