#!/usr/bin/env bash
# A multi-node Scaler on one machine with real processes (what docker-compose.yml runs, without
# Docker): a Ray head without CPUs, a Ray worker node that runs the trials, an MLflow server on
# PostgreSQL, and `scaler serve` (API + scheduler) driving jobs on that cluster.
#
#   scripts/cluster.sh up [STATE_DIR]           # default runs/cluster; prints and writes STATE_DIR/cluster.env
#   scripts/cluster.sh down [STATE_DIR]         # stops everything (the state and databases stay)
#   scripts/cluster.sh worker-down [STATE_DIR]  # kills the worker node (as a lost machine would)
#   scripts/cluster.sh worker-up [STATE_DIR]    # starts a worker node again
#
# Environment: SCALER_CLUSTER_POSTGRES (default postgresql://postgres@127.0.0.1:5432), WORKER_CPUS
# (default 2), SCALER_TOKEN (default: generated), SCALER_DATA_ROOTS (JSON list; default [STATE_DIR]).
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-}
state=$(realpath -m "${2:-runs/cluster}")
bin=$PWD/.venv/bin
env_file=$state/cluster.env
postgres=${SCALER_CLUSTER_POSTGRES:-postgresql://postgres@127.0.0.1:5432}
tag=$(printf '%s' "$state" | md5sum | cut -c1-8)
ray_temp=/tmp/scaler-ray-$tag  # short: Ray's socket paths must stay under 108 bytes
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$state/ray_auth_token

free_port() { "$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() {  # URL, seconds
  "$bin/python" - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2)
        sys.exit(0)
    except Exception:
        time.sleep(0.5)
sys.exit(f"{url} did not answer")
PY
}

our_processes() {  # PIDs whose command line holds all the given strings
  "$bin/python" - "$@" <<'PY'
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        command = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    if all(part in command for part in sys.argv[1:]) and int(pid) != os.getppid():
        print(pid)
PY
}

worker_up() {
  # shellcheck disable=SC1090
  source "$env_file"
  "$bin/ray" start --address "127.0.0.1:$RAY_PORT" --num-cpus "${WORKER_CPUS:-2}" --num-gpus 0 \
    --resources '{"scaler_worker": 1}' --disable-usage-stats >"$state/ray-worker.log" 2>&1
}

worker_down() {
  local pids
  pids=$(our_processes raylet scaler_worker "$ray_temp")
  if [[ -z $pids ]]; then
    echo "no worker node of this cluster is running" >&2
    return 1
  fi
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  echo "worker node killed (raylet $pids)"
}

up() {
  mkdir -p "$state/data" "$state/mlartifacts"
  [[ -s $RAY_AUTH_TOKEN_PATH ]] || "$bin/python" -c 'import secrets; print(secrets.token_hex(32))' >"$RAY_AUTH_TOKEN_PATH"
  local ray_port mlflow_port api_port token database mlflow_database
  ray_port=$(free_port); mlflow_port=$(free_port); api_port=$(free_port)
  token=${SCALER_TOKEN:-$("$bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))')}
  database=scaler_cluster_$tag; mlflow_database=scaler_cluster_${tag}_mlflow
  "$bin/python" - "$postgres" "$database" "$mlflow_database" <<'PY'
import sys
from sqlalchemy import create_engine, text
base, *names = sys.argv[1:]
engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres", isolation_level="AUTOCOMMIT")
with engine.connect() as connection:
    for name in names:
        if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
PY
  cat >"$env_file" <<ENV
RAY_PORT=$ray_port
RAY_TEMP_DIR=$ray_temp
RAY_AUTH_MODE=token
RAY_AUTH_TOKEN_PATH=$RAY_AUTH_TOKEN_PATH
SCALER_RAY_ADDRESS=127.0.0.1:$ray_port
SCALER_DATABASE_URL=$postgres/$database
SCALER_MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port
SCALER_MLFLOW_UI_URL=http://127.0.0.1:$mlflow_port
SCALER_DATA_DIR=$state/data
SCALER_URL=http://127.0.0.1:$api_port
SCALER_TOKEN=$token
ENV
  # MLflow first: its first start migrates its database, while the Ray nodes start
  nohup "$bin/mlflow" server --host 127.0.0.1 --port "$mlflow_port" \
    --backend-store-uri "${postgres/postgresql:\/\//postgresql+psycopg://}/$mlflow_database" \
    --artifacts-destination "$state/mlartifacts" >"$state/mlflow.log" 2>&1 &
  echo $! >"$state/mlflow.pid"
  "$bin/ray" start --head --port "$ray_port" --num-cpus 0 --num-gpus 0 --include-dashboard false \
    --temp-dir "$ray_temp" --disable-usage-stats >"$state/ray-head.log" 2>&1
  worker_up
  wait_for "http://127.0.0.1:$mlflow_port/health" 120
  (
    set -a
    # shellcheck disable=SC1090
    source "$env_file"
    set +a
    export SCALER_DATA_ROOTS=${SCALER_DATA_ROOTS:-[\"$state\"]}
    nohup "$bin/scaler" serve --host 127.0.0.1 --port "$api_port" >"$state/api.log" 2>&1 &
    echo $! >"$state/api.pid"
  )
  wait_for "http://127.0.0.1:$api_port/readyz" 120
  echo "Scaler cluster up (state in $state):"
  echo "  API        http://127.0.0.1:$api_port   token $token"
  echo "  dashboard  http://127.0.0.1:$api_port/dashboard/#token=$token"
  echo "  MLflow     http://127.0.0.1:$mlflow_port"
  echo "  Ray        127.0.0.1:$ray_port (head: no CPUs; worker: ${WORKER_CPUS:-2} CPUs)"
  echo "  env        source $env_file"
}

down() {
  for name in api mlflow; do
    if [[ -f $state/$name.pid ]]; then
      kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      rm -f "$state/$name.pid"
    fi
  done
  sleep 2
  for pid in $(our_processes "$ray_temp"); do kill -9 "$pid" 2>/dev/null || true; done
  for pid in $(our_processes mlflow "127.0.0.1:" "$state/mlartifacts"); do kill "$pid" 2>/dev/null || true; done
  echo "Scaler cluster down (state kept in $state)"
}

case $action in
  up) up ;;
  down) down ;;
  worker-up) worker_up ;;
  worker-down) worker_down ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
