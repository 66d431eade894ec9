#!/usr/bin/env bash
# Runs every test of Switchboard: unit, functional (real server, real sockets), the
# compatibility suite with the real `centrifuge` npm client, the cluster suite (nodes on Redis
# behind HAProxy) and the browser tests. Installs what the tests need first.
# The last line printed is the summary: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
passed=0
failed=0
skipped=0

log() { printf '\n=== %s\n' "$*"; }

# Debian packages the tests need; later features (Redis, PostgreSQL, HAProxy, Chromium) add theirs here.
# The cluster suite (tests/cluster, via scripts/cluster.sh) needs Redis, HAProxy, curl and ss.
# The identity tests (tests/Switchboard.Identity.Tests) start their own PostgreSQL server (initdb, pg_ctl).
APT_PACKAGES=(chromium redis-server haproxy curl iproute2 postgresql)
ensure_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

for tool in dotnet node npm; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (the .NET 10 SDK and Node.js 20 are required)"; echo "0 passed, 1 failed"; exit 1; }
done
ensure_apt_packages

log "npm packages"
(cd web && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed in web/"; echo "0 passed, 1 failed"; exit 1; }
for dir in tests/compat tests/cluster tests/browser; do
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed in $dir/"; echo "0 passed, 1 failed"; exit 1; }
done

log "build (Release, warnings are errors)"
if ! dotnet build Switchboard.slnx -c Release -nologo -v q; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

count_trx() { # adds a trx file's counters to the totals
  local counters
  counters=$(grep -o '<Counters [^>]*>' "$1" | head -1)
  local p f e n
  p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
  n=$(sed -E 's/.* notExecuted="([0-9]+)".*/\1/' <<<"$counters")
  [[ $n =~ ^[0-9]+$ ]] && skipped=$((skipped + n))
  f=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
  e=$(sed -E 's/.* error="([0-9]+)".*/\1/' <<<"$counters")
  passed=$((passed + p)); failed=$((failed + f + e))
}

for project in tests/Switchboard.Core.Tests tests/Switchboard.FunctionalTests tests/Switchboard.Client.Tests tests/Switchboard.Identity.Tests; do
  name=$(basename "$project")
  log "$name"
  # A hung test fails the run (and is named) instead of hanging it.
  dotnet test "$project" -c Release --no-build -nologo --blame-hang-timeout 5m \
    --logger "trx;LogFileName=$RESULTS/$name.trx" --logger "console;verbosity=normal" 2>&1 | grep -vE '^\s*$'
  if [ -f "$RESULTS/$name.trx" ]; then
    count_trx "$RESULTS/$name.trx"
  else
    echo "$name produced no results"; failed=$((failed + 1))
  fi
done

run_node_suite() { # name, folder: runs `npm test` there and adds its TAP counts to the totals
  local name=$1 dir=$2
  rm -f "$dir/results.tap"
  (cd "$dir" && SWITCHBOARD_SERVER_DLL="$ROOT/src/Switchboard.Server/bin/Release/net10.0/Switchboard.Server.dll" npm test --silent)
  local tap="$dir/results.tap"
  if [ -f "$tap" ]; then
    cp "$tap" "$RESULTS/$name.tap"
    local p f c s t
    p=$(grep -E '^# pass ' "$tap" | tail -1 | awk '{print $3}')
    s=$(grep -E '^# skipped ' "$tap" | tail -1 | awk '{print $3}')
    t=$(grep -E '^# todo ' "$tap" | tail -1 | awk '{print $3}')
    skipped=$((skipped + ${s:-0} + ${t:-0}))
    f=$(grep -E '^# fail ' "$tap" | tail -1 | awk '{print $3}')
    c=$(grep -E '^# cancelled ' "$tap" | tail -1 | awk '{print $3}')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1} + ${c:-0}))
  else
    echo "$name produced no results"; failed=$((failed + 1))
  fi
}

log "compatibility tests (centrifuge $(node -p "require('./tests/compat/node_modules/centrifuge/package.json').version"))"
run_node_suite compat tests/compat

# The same suite over HTTP-streaming and over SSE, each with bidirectional emulation (/emulation).
log "compatibility tests over HTTP-streaming and SSE"
SWITCHBOARD_COMPAT_TRANSPORT=http_stream run_node_suite compat-http-stream tests/compat
SWITCHBOARD_COMPAT_TRANSPORT=sse run_node_suite compat-sse tests/compat

# The same compatibility suite over the Protobuf protocol (the client's protobuf build, WebSocket
# subprotocol centrifuge-protobuf).
log "compatibility tests over Protobuf"
SWITCHBOARD_COMPAT_TRANSPORT=protobuf run_node_suite compat-protobuf tests/compat

# The same compatibility suite with the Redis engine: a real redis-server on a free port, started
# here and stopped by its pid (only the process this script started).
log "compatibility tests on the Redis engine ($(redis-server --version | awk '{print $3}'))"
redis_port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
redis_dir=$(mktemp -d)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize no >"$redis_dir/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
Switchboard__Engine=redis Switchboard__Redis__Addresses__0="127.0.0.1:$redis_port" run_node_suite compat-redis tests/compat
kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; rm -rf "$redis_dir"

# The cluster suite: Redis, three nodes on the Redis engine and HAProxy, each test file bringing
# its own cluster up and down through scripts/cluster.sh (only the processes it started).
log "cluster tests (redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//'), $(haproxy -v | head -1 | awk '{print $1, $3}'))"
run_node_suite cluster tests/cluster

log "browser tests (Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'))"
run_node_suite browser tests/browser

# Name every failure just above the summary, so the tail of a CI log says what broke.
failures=$( { grep -ho '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$RESULTS"/*.trx 2>/dev/null \
                | sed -E 's/.*testName="([^"]*)".*/\1/'
              grep -hE '^not ok ' "$RESULTS"/*.tap 2>/dev/null | sed -E 's/^not ok [0-9]+ - //'; } )
if [ -n "$failures" ]; then
  log "failed tests"
  printf '%s\n' "$failures"
fi

echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
