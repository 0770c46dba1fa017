#!/usr/bin/env bash
# Remakes every PyTorch reference the tests read (tests/golden/) from d2l's PyTorch code, with
# Debian's python3-torch; `--check` makes them in a temporary folder instead and compares them with
# the committed files (every number within 1e-6).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
"$py" -c "import torch" 2>/dev/null || {
  echo "make.sh: needs PyTorch: apt-get install python3-torch" >&2
  exit 2
}
out="$here/../../tests/golden"
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
for script in residual shapes small_net deeper; do
  "$py" "$here/$script.py" --out "$out"
done
if [ "${1:-}" = "--check" ]; then
  "$py" "$here/compare.py" "$out" "$here/../../tests/golden"
fi
