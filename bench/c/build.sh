#!/bin/sh
# Build the C benchmark programs.
#
#   bench/c/build.sh [OUTDIR]     (default: bench/c/bin)
#
# Each program is one file, or one file and the small shared pieces it names
# below, compiled with "$CC -O2 -Wall -Wextra -pthread" (CC defaults to cc).
# The uv-* programs also link libuv (Debian's libuv1-dev; the bench's setup
# installs it): without its header they are skipped, and this script says so
# on stdout. A binary is only rebuilt when one of its files is newer. Exits
# non-zero if a compile fails.
set -eu

src_dir=$(cd "$(dirname "$0")" && pwd)
out_dir=${1:-"$src_dir/bin"}
cc=${CC:-cc}

mkdir -p "$out_dir"

# build NAME LIBS FILE... : compile the .c files among FILE... into OUTDIR/NAME
# (the headers among them only count for "is the binary older than its files").
build() {
    name=$1 libs=$2
    shift 2
    bin="$out_dir/$name"
    stale=0 sources=""
    [ -x "$bin" ] || stale=1
    for f in "$@"; do
        [ "$src_dir/$f" -nt "$bin" ] && stale=1
        case $f in *.c) sources="$sources $src_dir/$f" ;; esac
    done
    [ "$stale" -eq 1 ] || return 0
    echo "build.sh: $cc -O2 -Wall -Wextra -pthread -o $bin $* $libs"
    # shellcheck disable=SC2086 # word splitting of the lists is intended
    "$cc" -O2 -Wall -Wextra -pthread -o "$bin" $sources $libs
}

build http-server "" http-server.c http-request.h
build echo-server "" echo-server.c
build echo-client "" echo-client.c
build timers "" timers.c timer-common.c timer-common.h
build udp-echo-server "" udp-echo-server.c
build udp-echo-client "" udp-echo-client.c

if printf '#include <uv.h>\n' | "$cc" -E -x c - >/dev/null 2>&1; then
    uv_libs=$(pkg-config --libs libuv 2>/dev/null || echo -luv)
    build uv-http-server "$uv_libs" uv-http-server.c http-request.h uv-server.h
    build uv-echo-server "$uv_libs" uv-echo-server.c uv-server.h
    build uv-timers "$uv_libs" uv-timers.c timer-common.c timer-common.h
else
    echo "build.sh: no <uv.h> (apt-get install -y libuv1-dev): uv-http-server, uv-echo-server and uv-timers not built"
fi
