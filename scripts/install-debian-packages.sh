#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages of a list (default: what the tests need), when
# running as root and only those still missing (a warm machine pays nothing).
# Not root: list what is missing and go on; the tests that need a package then
# fail under CI=true. `make demo` passes scripts/debian-packages-demo.txt.
set -euo pipefail
list="${1:-$(dirname "$0")/debian-packages.txt}"
# A line is "PACKAGE" or "PACKAGE @COMMAND": the second form is also satisfied by
# COMMAND on the PATH (Node.js from NodeSource ships npm and conflicts with
# Debian's npm package, so a machine with that Node.js must not be asked for it).
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$list")
missing=()
for line in "${wanted[@]}"; do
  read -r pkg command <<<"$line"
  command="${command#@}"
  if [ -n "$command" ] && command -v "$command" >/dev/null 2>&1; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-debian-packages: not root; missing: ${missing[*]}" >&2
  echo "install-debian-packages: as root: apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "install-debian-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
