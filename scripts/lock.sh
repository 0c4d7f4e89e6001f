#!/usr/bin/env bash
# Upgrade requirements.txt on purpose, with the test suite as the gate.
#
# Resolves the newest releases that pyproject.toml's ranges allow (for every platform, hashes
# for every file), installs them into .venv and runs `make test`. If anything fails, the old
# lock is put back and reinstalled, so a broken upstream release never lands in the lock.
# Pass package names to upgrade only those:  scripts/lock.sh pygit2 grpcio
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
UV=$(dirname "$PY")/uv
prev=$(mktemp)
cp requirements.txt "$prev"
restore() {
  cp "$prev" requirements.txt
  rm -f .venv/.installed
  echo "lock: upgrade refused ($1); requirements.txt restored, reinstalling it" >&2
  make setup >/dev/null
  exit 1
}
if [ $# -gt 0 ]; then
  upgrade=(); for p in "$@"; do upgrade+=(--upgrade-package "$p"); done
else
  upgrade=(--upgrade)
fi
"$UV" pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
  --generate-hashes --custom-compile-command "make lock" --quiet "${upgrade[@]}" \
  -o requirements.txt || restore "resolution failed"
echo "lock: changes"
diff <(grep -E '^[A-Za-z0-9]' "$prev") <(grep -E '^[A-Za-z0-9]' requirements.txt) \
  | sed -n 's/^[<>] //p;' | sed 's/ \\$//' || true
# A fresh venv, so that packages dropped from the lock are gone too.
rm -rf .venv
make test || restore "make test failed"
echo "lock: requirements.txt upgraded and tested; commit it"
