#!/usr/bin/env bash
# The toolchain for example conversion hooks (examples/hooks/*.c -> build/hooks/*.wasm):
# Debian's clang, lld, wasi-libc and the wasm32 compiler-rt builtins. `make toolchain` (run by
# `make test`) installs them with apt-get when a probe compile fails and we are root; otherwise
# it says what to install. `scripts/toolchain.sh --check` only probes (exit 1 if unusable).
#
# It also provides the browser the admin interface tests drive (tests/admin_ui, Playwright):
# Debian's `chromium` at /usr/bin/chromium (GITSTORE_CHROMIUM overrides the path), installed
# with apt-get when missing and we are root (only a warning when it cannot: `make hooks` does
# not need it); Playwright cannot download a browser here.
set -euo pipefail
CC=${HOOK_CC:-clang}
PACKAGES=(clang lld wasi-libc libclang-rt-dev-wasm32)
CHROMIUM=${GITSTORE_CHROMIUM:-/usr/bin/chromium}

chromium() {
  if [ -x "$CHROMIUM" ]; then
    return 0
  fi
  if [ "${1:-}" != "--check" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "toolchain: installing chromium (apt-get) for tests/admin_ui" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$CHROMIUM" ] && return 0
  fi
  echo "toolchain: no chromium at $CHROMIUM: tests/admin_ui will fail (Debian/Ubuntu: sudo apt-get install chromium, or set GITSTORE_CHROMIUM)" >&2
  return 1
}

chromium "${1:-}" || true  # a warning only: `make hooks` does not need it

probe() {
  local dir
  dir=$(mktemp -d)
  printf '#include <stdio.h>\nint main(void){puts("ok");return 0;}\n' >"$dir/probe.c"
  if "$CC" --target=wasm32-wasi -O2 -o "$dir/probe.wasm" "$dir/probe.c" >"$dir/log" 2>&1; then
    rm -rf "$dir"; return 0
  fi
  sed 's/^/  /' "$dir/log" | head -5 >&2 || true
  rm -rf "$dir"; return 1
}

if probe 2>/dev/null; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "toolchain: '$CC --target=wasm32-wasi' cannot build hooks; run 'make toolchain' (needs: ${PACKAGES[*]})" >&2
  probe || true
  exit 1
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "toolchain: installing ${PACKAGES[*]} (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  probe && exit 0
fi
echo "toolchain: cannot build WASI hooks: install ${PACKAGES[*]} (Debian/Ubuntu: sudo apt-get install ${PACKAGES[*]}), or set HOOK_CC to a clang with a wasm32-wasi sysroot" >&2
probe || true
exit 1
