#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerate requirements-release.txt (the hashed release set, issue 22) from
# pyproject.toml and constraints.txt, with pip-tools in a throw-away venv and
# a clean pip configuration (PyPI only: the hashes are PyPI's). Run it after
# changing a dependency or a pin; tests/security/test_security_host_release.py
# fails until then.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
"$work/venv/bin/pip" install --quiet pip-tools==7.6.2
# pip-compile builds the project's metadata: give it a copy, not the tree.
cp pyproject.toml README.md constraints.txt "$work/"
(cd "$work" && venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
    --extra readers --extra printing --all-build-deps --strip-extras --no-emit-index-url \
    --no-emit-find-links -c constraints.txt -o compiled.txt pyproject.toml)
{ sed -n '/^# SPDX/,/^#       --no-emit-find-links/p' requirements-release.txt
  cat "$work/compiled.txt"; } > "$work/release.txt"
mv "$work/release.txt" requirements-release.txt
echo "requirements-release.txt: $(grep -c '==' requirements-release.txt) pins, hashed"
