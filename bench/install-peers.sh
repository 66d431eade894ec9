#!/usr/bin/env bash
# Installs and builds everything bench/Switchboard.Bench needs to run every server kind:
#   - Debian packages: nginx + libnginx-mod-nchan (the nchan kinds), redis-server (the -redis
#     kinds' sidecar), util-linux (taskset); only those missing, apt-get update only then;
#   - the Socket.IO peer's node_modules (npm ci, from package-lock.json);
#   - Release builds of Switchboard, the SignalR peer and the load generator.
# Idempotent: run it again at any time. Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(nginx libnginx-mod-nchan redis-server util-linux)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "== apt: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  # The packages' own services (where an init system starts them) are not used: the bench starts
  # its own nginx and redis-server per run, on free ports, from its own configuration.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "== apt: ${APT_PACKAGES[*]} already installed"
fi

echo "== npm ci: bench/peers/socketio"
(cd bench/peers/socketio && npm ci --no-audit --no-fund --loglevel=error)

echo "== dotnet build -c Release: server, SignalR peer, load generator"
dotnet build -c Release src/Switchboard.Server -v q -nologo
dotnet build -c Release bench/peers/signalr -v q -nologo
dotnet build -c Release bench/Switchboard.Bench -v q -nologo

echo "== ready: dotnet bench/Switchboard.Bench/bin/Release/net10.0/Switchboard.Bench.dll --help"
