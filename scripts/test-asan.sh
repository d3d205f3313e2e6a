#!/usr/bin/env bash
# npm run test:asan — the whole vitest suite against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of the addon.
#
# - Builds the addon from CMakeLists.txt with -DSANITIZE=ON into build-asan/ (build/Release, the
#   build `npm test` and users load, is left alone) and checks that it really is instrumented.
# - Runs vitest with EPOLL_REACTOR_ADDON pointing at it. Node itself is not instrumented, so the
#   ASan runtime of the same compiler is preloaded into every process of the run (it must come
#   first); vitest's workers and the tests' child `node` processes inherit it. Other programs the
#   tests run inherit it too, which is harmless for bash but not for curl: preloaded, curl hangs
#   at start (before any of our code is involved), so a shim on PATH runs curl without it. The
#   https tests' openssl (s_client, certificates) gets the same shim: it is not ours to check.
# - Leak detection is off: Node leaks by design at exit. Every report aborts the process that
#   made it (abort_on_error, halt_on_error, -fno-sanitize-recover) and is written to a file of its
#   own (log_path); any such file fails this script, whatever vitest says, and is printed.
#
# The whole suite runs: no test needs to be skipped under ASan. It runs 2-3x slower, though, and a
# few tests are timing-sensitive (e.g. an fd-leak check that races Node's own sockets closing), so
# a failed test gets up to two retries. That cannot hide a sanitizer report: the report file stays
# (and a report in a vitest worker also fails the run as "Worker exited unexpectedly").
# Extra arguments go to vitest (e.g. `npm run test:asan -- test/fuzz.sys.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-g++}
out=build-asan
addon="$PWD/$out/Release/epoll_reactor.node"
libasan=$("$CXX" -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "test-asan: $CXX has no libasan.so (install its AddressSanitizer runtime, e.g. libasan8)" >&2
  exit 1
fi

start=$SECONDS
npx cmake-js compile --out "$out" --cxx "$CXX" --CDSANITIZE=ON
# A build without instrumentation would pass every test and prove nothing.
symbols=$(nm -D --undefined-only "$addon")
for want in __asan_report_load __ubsan_handle_; do
  if ! grep -q "$want" <<<"$symbols"; then
    echo "test-asan: $addon is not instrumented ($want* missing)" >&2
    exit 1
  fi
done
npm run --silent build:ts

shims=$(mktemp -d)
reports=$(mktemp -d)
trap 'rm -rf "$shims" "$reports"' EXIT
for tool in curl openssl; do
  if real=$(command -v "$tool"); then
    printf '#!/bin/sh\nunset LD_PRELOAD\nexec "%s" "$@"\n' "$real" >"$shims/$tool"
    chmod +x "$shims/$tool"
  fi
done
export PATH="$shims:$PATH"

export EPOLL_REACTOR_ADDON="$addon"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$reports/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
echo "test-asan: $addon, LD_PRELOAD=$libasan"
rc=0
LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}" npx vitest run --retry=2 "$@" || rc=$?
if compgen -G "$reports/*" >/dev/null; then
  for f in "$reports"/*; do
    printf '\n== sanitizer report %s ==\n' "$(basename "$f")" >&2
    cat "$f" >&2
  done
  echo "test-asan: FAILED: $(ls "$reports" | wc -l) sanitizer report(s), above" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "test-asan: vitest failed (exit $rc), no sanitizer report" >&2; exit "$rc"; }
echo "test-asan: passed, no sanitizer report; $((SECONDS - start)) s in all"
