#!/usr/bin/env bash
# Builds the tinygpt binary to hand out, for Linux x86-64: compiled for
# x86-64-v3 (AVX2 + FMA; the matmul still picks its block at run time) and
# linked statically (Swift's libraries and glibc: -static-executable), then
# checks that it trains and samples in a clean Debian trixie chroot that has
# no Swift toolchain. One
# command, as root, with a Swift 6.0+ toolchain on PATH:
#   sudo scripts/build-release-binary.sh     # writes dist/tinygpt-linux-x86-64-v3
# The chroot ($TINYGPT_CHROOTS/trixie-amd64-clean, default under
# /var/tmp/tinygpt-chroots) is made on the first run and reused.
set -euo pipefail
source "$(dirname "$0")/lib/debian-chroot.sh"

[ "$(host_arch)" = amd64 ] || fail "builds the x86-64 binary on an x86-64 machine; this one is $(host_arch)"
need_root
need_command swift "swiftlang (Debian trixie), or a Swift 6.0+ toolchain from swift.org on PATH"
need_command strip binutils
need_command debootstrap debootstrap
root=$CHROOTS/$SUITE-amd64-clean
if [ -x "$root/usr/bin/apt-get" ]; then need_space "$CHROOTS" 1; else need_space "$CHROOTS" 2; fi
need_space "$REPO" 2

binary=$REPO/dist/tinygpt-linux-x86-64-v3
scratch=$REPO/.build-release-x86-64-v3
echo "building with $(swift --version 2>&1 | head -1)"
start=$(date +%s)
(cd "$REPO" && TINYGPT_TARGET_CPU=x86-64-v3 swift build -c release --static-swift-stdlib -Xswiftc -static-executable \
    --scratch-path "$scratch") ||
    fail "swift build failed (see above)"
echo "built in $(elapsed "$start")"
mkdir -p "$REPO/dist"
strip -o "$binary" "$scratch/release/tinygpt"

make_chroot "$root" amd64
chroot "$root" /bin/sh -c 'command -v swift' >/dev/null && fail "$root has a Swift toolchain; it must not: remove the chroot and run again"
mount_proc "$root"
mkdir -p "$root/check" && rm -rf "$root/check/"*
cp "$binary" "$root/check/tinygpt"
cp "$REPO/data/corpus.txt" "$REPO/configs/default.json" "$root/check/"
in_chroot() { env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$root" /bin/sh -c "cd /check && $1"; }
libraries=$(readelf -d "$binary" | awk '/NEEDED/ { printf " %s", $NF }')
[ -z "$libraries" ] || fail "the binary is not static: it loads$libraries"
in_chroot "./tinygpt bench matmul --shape 64x64x64 --repeat 1 | grep '^kernel:'" || fail "the binary does not run in $root"
in_chroot "./tinygpt train --config default.json --data corpus.txt --out run --set train.max_steps=30 \
    --set train.eval_interval=30 --set train.eval_steps=2 >/dev/null" ||
    fail "tinygpt train failed in $root"
sample=$(in_chroot "./tinygpt sample --checkpoint run --prompt 'The ' --max-new-tokens 40 --seed 1") ||
    fail "tinygpt sample failed in $root"
echo "trained 30 steps and sampled in $root: ${sample//$'\n'/ }"
echo "$binary: $(stat -c %s "$binary") bytes ($(du -h "$binary" | cut -f1)), static, stripped"
