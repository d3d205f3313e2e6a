#!/bin/sh
# Build the C benchmark programs.
#
#   bench/c/build.sh [OUTDIR]     (default: bench/c/bin)
#
# Each program is one file, compiled with "$CC -O2 -Wall -Wextra -pthread" (CC defaults
# to cc). A binary is only rebuilt when its source is newer. Exits non-zero if
# a compile fails.
set -eu

src_dir=$(cd "$(dirname "$0")" && pwd)
out_dir=${1:-"$src_dir/bin"}
cc=${CC:-cc}

mkdir -p "$out_dir"
for name in http-server echo-server echo-client timers udp-echo-server udp-echo-client; do
    src="$src_dir/$name.c"
    bin="$out_dir/$name"
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
        echo "build.sh: $cc -O2 -Wall -Wextra -pthread -o $bin $name.c"
        "$cc" -O2 -Wall -Wextra -pthread -o "$bin" "$src"
    fi
done
