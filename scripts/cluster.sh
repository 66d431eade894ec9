#!/usr/bin/env bash
# A local Switchboard cluster on loopback: one Redis, N nodes on the Redis engine, HAProxy in
# front. For people trying the cluster and for the cluster tests (tests/cluster), which drive it
# through this same script. Every process it starts is recorded in the state directory, and only
# those are ever signalled.
#
#   scripts/cluster.sh up N [--state-dir DIR] [--aof] [--base-port P] [--json]
#   scripts/cluster.sh down [--state-dir DIR] [--keep-logs]
#   scripts/cluster.sh kill-node I | start-node I [--state-dir DIR]
#   scripts/cluster.sh restart-redis [--kill] [--state-dir DIR]
#   scripts/cluster.sh status [--state-dir DIR] [--json]
#
# Configuration of the nodes: every `Switchboard__…` variable in the caller's environment is
# passed to them (namespaces, keys, timeouts), except the ones the cluster sets itself (engine,
# Redis address, node name). See docs/operations.md, "Local cluster".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DLL=${SWITCHBOARD_SERVER_DLL:-$ROOT/src/Switchboard.Server/bin/Release/net10.0/Switchboard.Server.dll}
TEMPLATE=$ROOT/deploy/haproxy/haproxy.cfg.in
STATS_URI=/haproxy/stats
# Defaults for a person trying the cluster; printed by `up`. Tests set their own.
DEFAULT_API_KEY=local-cluster-api-key-0123456789
DEFAULT_HMAC_SECRET=local-cluster-hmac-secret-0123456789-abcdef
NODE_READY_TIMEOUT=${CLUSTER_NODE_READY_TIMEOUT:-60}

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

say() { printf '%s\n' "$*" >&2; }
die() { say "cluster.sh: $*"; exit 1; }

# ---- arguments --------------------------------------------------------------------------------

COMMAND=${1:-}
case $COMMAND in ""|-h|--help|help) usage ;; esac
shift
STATE_DIR=$ROOT/.cluster
AOF=0
BASE_PORT=""
JSON=0
KEEP_LOGS=0
HARD_KILL=0
POSITIONAL=()
while (($#)); do
  case $1 in
    --state-dir) [ $# -ge 2 ] || usage; STATE_DIR=$2; shift 2 ;;
    --state-dir=*) STATE_DIR=${1#*=}; shift ;;
    --aof) AOF=1; shift ;;
    --base-port) [ $# -ge 2 ] || usage; BASE_PORT=$2; shift 2 ;;
    --base-port=*) BASE_PORT=${1#*=}; shift ;;
    --json) JSON=1; shift ;;
    --keep-logs) KEEP_LOGS=1; shift ;;
    --kill) HARD_KILL=1; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)
CONF=$STATE_DIR/cluster.conf
PIDS=$STATE_DIR/pids
LOGS=$STATE_DIR/logs

# One command at a time per state directory.
exec 9>"$STATE_DIR/.lock"
flock -w 120 9 || die "another cluster.sh command holds $STATE_DIR/.lock"

# ---- processes --------------------------------------------------------------------------------

# True when pid is a live (not zombie) process.
pid_running() {
  local pid=$1 state
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# The recorded pid of a component (redis, haproxy, node-I) when that process still runs and is
# the one we started (its command line still holds the marker: its port or config path), so a
# recycled pid is never signalled.
live_pid() {
  local name=$1 file=$PIDS/$1.pid pid marker
  [ -f "$file" ] || return 1
  read -r pid marker <"$file" || return 1
  pid_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  printf '%s\n' "$pid"
}

record_pid() { mkdir -p "$PIDS"; printf '%s %s\n' "$2" "$3" >"$PIDS/$1.pid"; }

# While a component starts: is the process just started still running? Its command line may not
# show the marker yet (the shell has forked but not exec'd it), so only the pid is checked here.
still_starting() {
  local pid marker
  read -r pid marker <"$PIDS/$1.pid" 2>/dev/null || return 1
  pid_running "$pid"
}

# SIGTERM, then SIGKILL after `grace` seconds; returns when the process is gone.
stop_component() {
  local name=$1 grace=$2 pid
  pid=$(live_pid "$name") || { rm -f "$PIDS/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while pid_running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if pid_running "$pid"; then
    say "  $name (pid $pid) still running after ${grace}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while pid_running "$pid"; do sleep 0.05; done
  fi
  rm -f "$PIDS/$name.pid"
}

kill_component() {
  local name=$1 pid
  pid=$(live_pid "$name") || { rm -f "$PIDS/$name.pid"; return 1; }
  kill -KILL "$pid" 2>/dev/null || true
  while pid_running "$pid"; do sleep 0.05; done
  rm -f "$PIDS/$name.pid"
}

log_tail() { [ -f "$LOGS/$1.log" ] && { say "--- last lines of $LOGS/$1.log"; tail -n 30 "$LOGS/$1.log" >&2; }; return 0; }

# ---- ports ------------------------------------------------------------------------------------

port_free() { [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]; }
# Nobody listens on the port (connections of a killed process in TIME-WAIT do not stop a restart).
port_unlistened() { [ -z "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]; }

# Picks `count` free loopback ports below the kernel's ephemeral range (so outgoing connections
# of the clients never take them meanwhile), or takes base, base+1, … with --base-port.
pick_ports() {
  local count=$1 ports=() p tries=0
  if [ -n "$BASE_PORT" ]; then
    [[ $BASE_PORT =~ ^[0-9]+$ ]] && ((BASE_PORT >= 1024 && BASE_PORT + count <= 65535)) || die "bad --base-port $BASE_PORT"
    for ((p = BASE_PORT; p < BASE_PORT + count; p++)); do
      port_free "$p" || die "port $p (from --base-port $BASE_PORT) is in use"
      ports+=("$p")
    done
  else
    while ((${#ports[@]} < count)); do
      ((tries++ < 1000)) || die "found no free ports"
      p=$((20000 + RANDOM % 12000))
      [[ " ${ports[*]} " == *" $p "* ]] && continue
      port_free "$p" && ports+=("$p")
    done
  fi
  printf '%s\n' "${ports[@]}"
}

# ---- state ------------------------------------------------------------------------------------

load_conf() {
  [ -f "$CONF" ] || die "no cluster in $STATE_DIR (run: scripts/cluster.sh up N)"
  # shellcheck source=/dev/null
  source "$CONF"
}

node_port() { local i=$1; printf '%s\n' "${NODE_PORTS[$((i - 1))]}"; }

check_node_index() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= N)) || die "node index must be 1..$N, got '${1:-}'"
}

# The nodes' environment: the caller's Switchboard__ variables, defaults for a person trying the
# cluster, and what the cluster itself decides (engine, Redis address).
write_node_env() {
  local file=$STATE_DIR/node.env name
  : >"$file"
  for name in $(compgen -e | grep -E '^Switchboard__' | grep -vE '^Switchboard__(Engine|NodeName|Redis__Addresses__[0-9]+)$' || true); do
    printf 'export %s=%q\n' "$name" "${!name}" >>"$file"
  done
  {
    printf 'export Switchboard__Engine=redis\n'
    printf 'export Switchboard__Redis__Addresses__0=%q\n' "127.0.0.1:$REDIS_PORT"
    [ -n "${Switchboard__Api__Key:-}" ] || printf 'export Switchboard__Api__Key=%q\n' "$DEFAULT_API_KEY"
    [ -n "${Switchboard__Token__HmacSecretKey:-}" ] || printf 'export Switchboard__Token__HmacSecretKey=%q\n' "$DEFAULT_HMAC_SECRET"
    # Stopping the local cluster need not spread goodbyes over the default 10 s.
    [ -n "${Switchboard__Drain__Window:-}" ] || printf 'export Switchboard__Drain__Window=00:00:02\n'
    printf 'export DOTNET_NOLOGO=1\n'
  } >>"$file"
}

node_env_value() { # name: the value the nodes get for a Switchboard__ variable
  (set +u; source "$STATE_DIR/node.env"; printf '%s' "${!1:-}")
}

# ---- components -------------------------------------------------------------------------------

start_redis() {
  mkdir -p "$STATE_DIR/redis" "$LOGS"
  local args=(--port "$REDIS_PORT" --bind 127.0.0.1 --dir "$STATE_DIR/redis" --daemonize no --save "")
  if ((AOF)); then
    args+=(--appendonly yes --appendfsync always)
  else
    args+=(--appendonly no)
  fi
  nohup redis-server "${args[@]}" >>"$LOGS/redis.log" 2>&1 </dev/null 9>&- &
  record_pid redis $! "$REDIS_PORT"
  local deadline=$((SECONDS + 15))
  until [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do
    still_starting redis || { say "redis exited while starting"; log_tail redis; return 1; }
    ((SECONDS < deadline)) || { say "redis did not answer within 15 s"; log_tail redis; return 1; }
    sleep 0.1
  done
}

start_node() {
  local i=$1 port
  port=$(node_port "$i")
  port_unlistened "$port" || { say "node-$i: something else listens on port $port"; return 1; }
  mkdir -p "$LOGS"
  (
    set -a
    # shellcheck source=/dev/null
    source "$STATE_DIR/node.env"
    export Switchboard__NodeName=node-$i
    exec nohup dotnet "$DLL" --urls "http://127.0.0.1:$port"
  ) >>"$LOGS/node-$i.log" 2>&1 </dev/null 9>&- &
  record_pid "node-$i" $! "http://127.0.0.1:$port"
}

node_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(node_port "$1")/healthz/ready" 2>/dev/null; }

wait_node_ready() {
  local i=$1 timeout=${2:-$NODE_READY_TIMEOUT} deadline
  deadline=$((SECONDS + timeout))
  until node_ready "$i"; do
    still_starting "node-$i" || { say "node-$i exited while starting"; log_tail "node-$i"; return 1; }
    ((SECONDS < deadline)) || { say "node-$i not ready within ${timeout}s"; log_tail "node-$i"; return 1; }
    sleep 0.2
  done
}

start_haproxy() {
  local cfg=$STATE_DIR/haproxy.cfg servers="" i
  for ((i = 1; i <= N; i++)); do
    servers+="    server node-$i 127.0.0.1:$(node_port "$i") check"$'\n'
  done
  awk -v lb="$LB_PORT" -v stats="$STATS_URI" -v servers="$servers" '
    { gsub(/@LB_PORT@/, lb); gsub(/@STATS_URI@/, stats) }
    /^@SERVERS@$/ { printf "%s", servers; next }
    { print }' "$TEMPLATE" >"$cfg"
  haproxy -c -q -f "$cfg" >>"$LOGS/haproxy.log" 2>&1 || { say "invalid HAProxy configuration $cfg"; log_tail haproxy; return 1; }
  nohup haproxy -db -f "$cfg" >>"$LOGS/haproxy.log" 2>&1 </dev/null 9>&- &
  record_pid haproxy $! "$cfg"
}

# HAProxy's status of each node, one "node-I STATUS" line each (UP, DOWN, "DOWN 1/2", …).
lb_states() {
  curl -fsS -m 2 "http://127.0.0.1:$LB_PORT$STATS_URI;csv" 2>/dev/null \
    | awk -F, '$1 == "switchboard_nodes" && $2 ~ /^node-/ { print $2, $18 }'
}

# Waits until HAProxy has every listed node UP (and, with "down:I", node I not UP).
wait_lb() {
  local timeout=$1 deadline want states ok
  shift
  deadline=$((SECONDS + timeout))
  while :; do
    states=$(lb_states || true)
    ok=1
    for want in "$@"; do
      case $want in
        down:*) grep -qx "node-${want#down:} UP" <<<"$states" && ok=0 ;;
        *) grep -qx "node-$want UP" <<<"$states" || ok=0 ;;
      esac
    done
    ((ok)) && return 0
    still_starting haproxy || { say "HAProxy exited"; log_tail haproxy; return 1; }
    ((SECONDS < deadline)) || { say "HAProxy did not see the nodes as expected within ${timeout}s:"; say "${states:-<no answer from HAProxy>}"; log_tail haproxy; return 1; }
    sleep 0.2
  done
}

# ---- output -----------------------------------------------------------------------------------

cluster_json() {
  local i nodes=""
  for ((i = 1; i <= N; i++)); do
    local port
    port=$(node_port "$i")
    [ -n "$nodes" ] && nodes+=","
    nodes+="{\"name\":\"node-$i\",\"url\":\"http://127.0.0.1:$port\",\"ws\":\"ws://127.0.0.1:$port/connection/websocket\",\"port\":$port}"
  done
  printf '{"lb":"http://127.0.0.1:%s","ws":"ws://127.0.0.1:%s/connection/websocket","stats":"http://127.0.0.1:%s%s","nodes":[%s],"redis":"127.0.0.1:%s","aof":%s,"stateDir":"%s","logs":"%s"}\n' \
    "$LB_PORT" "$LB_PORT" "$LB_PORT" "$STATS_URI" "$nodes" "$REDIS_PORT" \
    "$( ((AOF)) && echo true || echo false)" "$STATE_DIR" "$LOGS"
}

print_summary() {
  local i
  echo "Switchboard cluster up ($N nodes, Redis ${REDIS_MODE}):"
  echo "  connect to   ws://127.0.0.1:$LB_PORT/connection/websocket   (HAProxy, http://127.0.0.1:$LB_PORT)"
  for ((i = 1; i <= N; i++)); do
    echo "  node-$i       http://127.0.0.1:$(node_port "$i")"
  done
  echo "  redis        127.0.0.1:$REDIS_PORT"
  echo "  HAProxy view http://127.0.0.1:$LB_PORT$STATS_URI"
  echo "  API key      $(node_env_value Switchboard__Api__Key)"
  echo "  HMAC secret  $(node_env_value Switchboard__Token__HmacSecretKey)"
  echo "  state, logs  $STATE_DIR"
  echo "  stop it with scripts/cluster.sh down$([ "$STATE_DIR" = "$ROOT/.cluster" ] || echo " --state-dir $STATE_DIR")"
}

# ---- commands ---------------------------------------------------------------------------------

teardown() { # stops everything recorded: nodes first (they may still talk to Redis), then HAProxy, Redis
  local name stoppers=()
  if [ -d "$PIDS" ]; then
    for name in $(cd "$PIDS" && ls node-*.pid 2>/dev/null | sed 's/\.pid$//'); do
      stop_component "$name" 15 &
      stoppers+=($!)
    done
    # Only the stoppers: a bare `wait` would also wait for the servers this shell started.
    ((${#stoppers[@]} == 0)) || wait "${stoppers[@]}"
    stop_component haproxy 5
    stop_component redis 10
  fi
}

cmd_up() {
  N=${POSITIONAL[0]:-}
  [[ $N =~ ^[0-9]+$ ]] && ((N >= 1 && N <= 32)) || die "usage: cluster.sh up N (1..32 nodes)"
  if [ -f "$CONF" ]; then
    local name
    for name in redis haproxy $(cd "$PIDS" 2>/dev/null && ls node-*.pid 2>/dev/null | sed 's/\.pid$//'); do
      live_pid "$name" >/dev/null && die "a cluster is already up in $STATE_DIR (scripts/cluster.sh down first)"
    done
  fi
  local tool
  for tool in dotnet redis-server redis-cli haproxy curl ss awk; do
    command -v "$tool" >/dev/null || die "missing: $tool (scripts/test.sh installs redis-server and haproxy)"
  done
  [ -f "$DLL" ] || die "no server build at $DLL (run: dotnet build Switchboard.slnx -c Release)"
  # A fresh state directory: data and logs of an earlier cluster go.
  find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  mkdir -p "$PIDS" "$LOGS"

  local ports
  mapfile -t ports < <(pick_ports $((N + 2)))
  ((${#ports[@]} == N + 2)) || exit 1
  LB_PORT=${ports[0]}
  REDIS_PORT=${ports[1]}
  NODE_PORTS=("${ports[@]:2}")
  {
    printf 'N=%s\nLB_PORT=%s\nREDIS_PORT=%s\nAOF=%s\n' "$N" "$LB_PORT" "$REDIS_PORT" "$AOF"
    printf 'NODE_PORTS=(%s)\n' "${NODE_PORTS[*]}"
  } >"$CONF"
  write_node_env
  REDIS_MODE=$( ((AOF)) && echo "with AOF, appendfsync always" || echo "without persistence")

  failed_up() { say "cluster.sh up failed; stopping what it started (logs kept in $LOGS)"; teardown; rm -f "$CONF"; exit 1; }
  say "starting redis on 127.0.0.1:$REDIS_PORT ($REDIS_MODE)"
  start_redis || failed_up
  local i
  for ((i = 1; i <= N; i++)); do
    say "starting node-$i on 127.0.0.1:$(node_port "$i")"
    start_node "$i" || failed_up
  done
  for ((i = 1; i <= N; i++)); do wait_node_ready "$i" || failed_up; done
  say "starting HAProxy on 127.0.0.1:$LB_PORT"
  start_haproxy || failed_up
  wait_lb 20 $(seq 1 "$N") || failed_up
  cluster_json >"$STATE_DIR/cluster.json"
  print_summary
  ((JSON)) && cat "$STATE_DIR/cluster.json"
  return 0
}

cmd_down() {
  if [ ! -f "$CONF" ] && [ ! -d "$PIDS" ]; then
    say "no cluster in $STATE_DIR"
  else
    teardown
  fi
  if ((KEEP_LOGS)); then
    find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name logs ! -name .lock -exec rm -rf {} +
    say "cluster stopped; logs kept in $LOGS"
  else
    rm -rf "$STATE_DIR"
    say "cluster stopped"
  fi
}

cmd_kill_node() {
  load_conf
  local i=${POSITIONAL[0]:-}
  check_node_index "$i"
  kill_component "node-$i" || die "node-$i is not running"
  say "node-$i killed (SIGKILL)"
}

cmd_start_node() {
  load_conf
  local i=${POSITIONAL[0]:-}
  check_node_index "$i"
  live_pid "node-$i" >/dev/null && die "node-$i is already running"
  start_node "$i" || exit 1
  wait_node_ready "$i" || exit 1
  wait_lb 20 "$i" || exit 1
  say "node-$i started on http://127.0.0.1:$(node_port "$i")"
}

cmd_restart_redis() {
  load_conf
  if ((HARD_KILL)); then
    kill_component redis || true
  else
    stop_component redis 10
  fi
  say "redis stopped; starting it again on 127.0.0.1:$REDIS_PORT"
  start_redis || exit 1
  # The nodes reconnect by themselves; wait until every running node is ready again.
  local i
  for ((i = 1; i <= N; i++)); do
    live_pid "node-$i" >/dev/null || continue
    wait_node_ready "$i" 30 || { say "node-$i is not ready 30 s after Redis came back"; exit 1; }
  done
  say "redis restarted$( ((AOF)) && echo " (AOF: data kept)" || echo " (no persistence: data lost)")"
}

cmd_status() {
  load_conf
  local i name pid states state ready all=0 json_nodes=""
  states=$(lb_states || true)
  ((JSON)) || printf '%-8s %-8s %-28s %-6s %s\n' NAME PID ADDRESS READY HAPROXY
  for ((i = 1; i <= N; i++)); do
    name=node-$i
    pid=$(live_pid "$name" || echo -)
    ready=no; node_ready "$i" && ready=yes
    state=$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ /, ""); print }' <<<"$states")
    [ "$pid" != - ] && [ "$ready" = yes ] && [ "$state" = UP ] || all=1
    ((JSON)) || printf '%-8s %-8s %-28s %-6s %s\n' "$name" "$pid" "http://127.0.0.1:$(node_port "$i")" "$ready" "${state:-?}"
    [ -n "$json_nodes" ] && json_nodes+=","
    json_nodes+="{\"name\":\"$name\",\"pid\":$([ "$pid" = - ] && echo null || echo "$pid"),\"ready\":$([ "$ready" = yes ] && echo true || echo false),\"lb\":\"${state:-}\"}"
  done
  local rpid hpid
  rpid=$(live_pid redis || echo -)
  hpid=$(live_pid haproxy || echo -)
  [ "$rpid" != - ] && [ "$hpid" != - ] || all=1
  if ((JSON)); then
    printf '{"nodes":[%s],"redis":{"pid":%s},"haproxy":{"pid":%s}}\n' "$json_nodes" \
      "$([ "$rpid" = - ] && echo null || echo "$rpid")" "$([ "$hpid" = - ] && echo null || echo "$hpid")"
  else
    printf '%-8s %-8s %-28s\n' redis "$rpid" "127.0.0.1:$REDIS_PORT ($( ((AOF)) && echo AOF || echo no persistence))"
    printf '%-8s %-8s %-28s\n' haproxy "$hpid" "http://127.0.0.1:$LB_PORT"
  fi
  return "$all"
}

case $COMMAND in
  up) cmd_up ;;
  down) cmd_down ;;
  kill-node) cmd_kill_node ;;
  start-node) cmd_start_node ;;
  restart-redis) cmd_restart_redis ;;
  status) cmd_status ;;
  -h|--help|help) usage ;;
  *) die "unknown command $COMMAND (up, down, kill-node, start-node, restart-redis, status)" ;;
esac
