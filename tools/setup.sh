#!/usr/bin/env bash
# Installs what the tool needs on a fresh Debian machine that has Node.js and npm:
# Deno (from the npm package, pinned), Mesa's software Vulkan adapter, oneDNN and OpenBLAS,
# Fashion-MNIST and Chromium (the web page's tests drive it headless, WebGPU on SwiftShader).
# Safe to run again: it skips what is already there.
set -euo pipefail
DENO_VERSION=2.9.6
if ! command -v deno >/dev/null 2>&1 || ! deno --version | grep -q "deno $DENO_VERSION"; then
  echo "setup: installing deno $DENO_VERSION from npm" >&2
  npm install -g --silent "deno@$DENO_VERSION" >&2
fi
pkgs=(mesa-vulkan-drivers libvulkan1 libopenblas0-pthread libdnnl2 dataset-fashion-mnist chromium)
missing=()
pkgs+=(fonts-dejavu-core) # the text of PNG pictures (lib/viz/png.ts renders with DejaVu Sans)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: apt-get install ${missing[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi
# Mesa complains on every start without it.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  echo "setup: tip: export XDG_RUNTIME_DIR=/tmp to quiet Mesa" >&2
fi
deno --version | head -n 1 >&2
