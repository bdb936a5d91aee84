#!/bin/sh
# Builds one trustlet to wasm with the toolchain's Embedded Swift and TrustletKit.
#
#   build-trustlet.sh SWIFTC OUTPUT.wasm TRUSTLET-SOURCE-DIR [TRUSTLETKIT-DIR [test]]
#
# `test` makes the test build the attack suite's negative controls use: compiled with
# TRUBIZONE_WEAKENINGS, so the trustlet can ask a debug runtime whether one of its own checks is
# turned off (TrustletKit's `weakened`). It is never packaged for a phone.
#
# TrustletKit is compiled with the wire formats both worlds share (`Wire/` beside it, also the
# host module TrubiZoneWire), so the trustlet and the server build them from one source. A
# trustlet's `Contract/` folder (what its app and server know too, a host module of its own) is
# compiled with its sources.
#
# The build is reproducible: the sources are copied into a scratch directory and compiled there
# with relative paths, because the Swift module hash covers the paths the compiler is given. The
# same sources and toolchain give the same bytes, wherever the checkout lives. Both
# `swift build` (the TrustletBuilder plugin) and `trubizone trustlet build` run this script.
set -eu
export LC_ALL=C

swiftc=$1
output=$2
source=$3
sdk=${4:-$(dirname "$0")/TrustletKit}
defines=""
if [ "${5:-}" = test ]; then defines="-DTRUBIZONE_WEAKENINGS"; fi
wire=$(dirname "$sdk")/Wire
name=$(basename "$source")
module=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_\n' '_')
toolchain=$(dirname "$swiftc")

work=$(mktemp -d "${TMPDIR:-/tmp}/trustlet-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/TrustletKit" "$work/trustlet"
cp "$sdk"/*.swift "$work/TrustletKit/"
cp "$wire"/*.swift "$work/TrustletKit/"
cp "$source"/*.swift "$work/trustlet/"
# What the trustlet shares with its app and server (`Contract/`, also a host module) is its own code too.
if [ -d "$source/Contract" ]; then cp "$source"/Contract/*.swift "$work/trustlet/"; fi
cd "$work"

flags="-target wasm32-unknown-none-wasm -enable-experimental-feature Embedded -enable-experimental-feature Extern \
 -enable-experimental-feature BuiltinModule -wmo -Osize -parse-as-library -Xfrontend -disable-stack-protector"

# shellcheck disable=SC2086
"$swiftc" $flags $defines -emit-module -module-name TrustletKit -emit-module-path TrustletKit.swiftmodule -c TrustletKit/*.swift -o TrustletKit.o
# shellcheck disable=SC2086
"$swiftc" $flags $defines -I . -module-name "$module" -c trustlet/*.swift -o trustlet.o

# Character-level String work needs the stdlib's Unicode tables; an archive only adds what is used.
unicode="$toolchain/../lib/swift/embedded/wasm32-unknown-none-wasm"
libraries=""
[ -f "$unicode/libswiftUnicodeDataTables.a" ] && libraries="-L$unicode -lswiftUnicodeDataTables"

# shellcheck disable=SC2086
"$toolchain/wasm-ld" --no-entry --stack-first -z stack-size=65536 --wrap=free \
  --export=__main_argc_argv --export=tz_create --export=tz_open_session --export=tz_invoke \
  --export=tz_close_session --export=tz_alloc --export=tz_free \
  trustlet.o TrustletKit.o $libraries -o trustlet.wasm
cp trustlet.wasm "$output"
