#!/usr/bin/env bash
# Installs a pinned nats-server from the Go module proxy into a cache outside the work tree, reusing a binary
# that is already there, and prints the binary's path on stdout (messages go to stderr).
#
#   scripts/install-nats-server.sh [VERSION]      # default 2.15.2
#   DV_TEST_NATS_SERVER="$(scripts/install-nats-server.sh 2.15.2)" npm test
#
# Cache: $DVCTL_NATS_CACHE, else $XDG_CACHE_HOME/dvctl-nats, else ~/.cache/dvctl-nats; one directory per version.
set -euo pipefail

version="${1:-2.15.2}"
version="${version#v}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "install-nats-server: '$1' is not a version like 2.15.2" >&2
  exit 2
fi

cache="${DVCTL_NATS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dvctl-nats}"
dir="$cache/v$version"
binary="$dir/nats-server"

# `nats-server --version` prints "nats-server: v2.15.2".
matches() {
  [ -x "$binary" ] && [ "$("$binary" --version 2>/dev/null || true)" = "nats-server: v$version" ]
}

if matches; then
  echo "install-nats-server: reusing $binary" >&2
  echo "$binary"
  exit 0
fi

go_bin="$(command -v go || true)"
if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then go_bin=/usr/local/go/bin/go; fi
if [ -z "$go_bin" ]; then
  echo "install-nats-server: 'go' not found (PATH or /usr/local/go/bin); install Go 1.22+ to build nats-server v$version," >&2
  echo "  or use the nats-server on PATH (Debian: apt-get install -y nats-server)." >&2
  exit 1
fi

mkdir -p "$dir"
echo "install-nats-server: building nats-server v$version with $("$go_bin" version) into $dir (takes a few minutes)" >&2
# Build into a scratch directory and move the binary in place, so an interrupted build never leaves a
# half-written binary where the next run would find it.
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" "$go_bin" install "github.com/nats-io/nats-server/v2@v$version" >&2
mv -f "$tmp/nats-server" "$binary"

if ! matches; then
  echo "install-nats-server: built $binary but it reports '$("$binary" --version 2>&1 || true)', not v$version" >&2
  exit 1
fi
echo "$binary"
