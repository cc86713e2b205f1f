#!/usr/bin/env bash
# Sets up alpr-edge on a Debian 12 / Raspberry Pi OS / Ubuntu machine, then optionally runs something:
#   scripts/setup.sh          install Debian packages, npm dependencies (native OpenCV build), compile
#   scripts/setup.sh demo     ... then run the unit's bundled demo
#   scripts/setup.sh test     ... then run the whole test suite
# Idempotent: packages already installed and an unchanged package-lock.json are skipped, so a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libopencv-dev opencv-data tesseract-ocr tesseract-ocr-eng libgphoto2-dev gphoto2 mosquitto socat
  build-essential python3 pkg-config util-linux)

say() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; exit 1; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null; then say "Node.js 20 or newer is required (node not found)"; exit 1; fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then say "Node.js 20 or newer is required (found $(node --version))"; exit 1; fi

# The OpenCV binding must build against the system's OpenCV, never download and compile its own.
arch_dir=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
export OPENCV_INCLUDE_DIR=/usr/include/opencv4
export OPENCV_LIB_DIR="/usr/lib/${arch_dir}"
export OPENCV_BIN_DIR=/usr/bin
export JOBS="${JOBS:-$(nproc)}"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
[ -f /usr/include/node/node.h ] || unset npm_config_nodedir

# npm ci rebuilds the native modules (minutes): skip it when the lockfile and Node are what was installed last.
stamp_file=node_modules/.alpr-edge-setup
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version) $(uname -m)"
if [ ! -f "$stamp_file" ] || [ "$(cat "$stamp_file")" != "$want" ]; then
  say "npm ci (builds the OpenCV binding against the system's OpenCV: a few minutes)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp_file"
else
  say "npm dependencies are up to date"
fi

say "compiling TypeScript"
npm run --silent build

case "${1:-}" in
  "") say "done. Try: npm start" ;;
  demo) shift; exec node dist/src/cli/main.js demo "$@" ;;
  test) shift; exec node scripts/run-tests.mjs "$@" ;;
  *) say "unknown action '$1' (expected: demo, test)"; exit 2 ;;
esac
