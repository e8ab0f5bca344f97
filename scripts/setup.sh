#!/usr/bin/env bash
# Prepares a fresh Debian machine: system packages, then the locked npm dependencies.
#   bash scripts/setup.sh          what the service needs (Jupyter Server, the kernels' Python packages)
#   bash scripts/setup.sh --test   that and what `npm test` needs besides (Chromium, python3-requests, jq)
# Safe to run again: it installs only what is missing and prints nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the service runs notebooks with (bubblewrap sandboxes them); add new ones to these lists.
DEBIAN_PACKAGES="bubblewrap jupyter-server python3-ipykernel python3-matplotlib-inline python3-pandas python3-numpy python3-sklearn python3-matplotlib python3-seaborn"
if [[ "${1:-}" == "--test" ]]; then
  # The docs test renders in Chromium; the seed pages' Python examples use requests; the README's
  # command-line walk-through (test/cli) picks ids out of JSON with jq.
  DEBIAN_PACKAGES="$DEBIAN_PACKAGES chromium python3-requests jq"
fi

missing=()
for package in $DEBIAN_PACKAGES; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "setup: root or sudo is needed to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node_modules is current when npm's own record of it is newer than the lockfile and package.json is satisfied.
if [[ node_modules/.package-lock.json -nt package-lock.json ]] && npm ls --depth=0 >/dev/null 2>&1; then
  exit 0
fi
echo "setup: installing npm dependencies"
npm ci --no-audit --no-fund --loglevel=error
# The `node` dev dependency brings Node 22, which every npm script then runs on.
[[ -x node_modules/.bin/node ]] || { echo "setup: node_modules/.bin/node (Node 22) is missing" >&2; exit 1; }
