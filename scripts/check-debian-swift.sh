#!/usr/bin/env bash
# Builds tinygpt with Debian trixie's Swift (the swiftlang package, 6.0.x: the
# oldest toolchain tinygpt supports) in a fresh chroot, then runs the README's
# test command there. One command, as root:
#   sudo scripts/check-debian-swift.sh          # this machine's architecture
#   sudo scripts/check-debian-swift.sh arm64    # arm64 on an x86-64 machine, under qemu-user-static
# The chroot ($TINYGPT_CHROOTS/trixie-ARCH, default /var/tmp/tinygpt-chroots)
# is made on the first run and reused; the source is copied afresh each time.
set -euo pipefail
source "$(dirname "$0")/lib/debian-chroot.sh"

arch=${1:-$(host_arch)}
case "$arch" in amd64 | arm64) ;; *) fail "usage: $0 [amd64|arm64] (got '$arch')" ;; esac
need_root
need_command git git
need_arch "$arch"
root=$CHROOTS/$SUITE-$arch
if [ -x "$root/usr/bin/swift" ]; then need_space "$CHROOTS" 3; else need_space "$CHROOTS" 7; fi
make_chroot "$root" "$arch" swiftlang libc6-dev
mount_proc "$root"
copy_source "$root"

# A clean environment: nothing of the caller's (TINYGPT_MATMUL_KERNEL, …) reaches the build or the tests.
in_chroot() { env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$root" /bin/sh -c "cd /src/tinygpt && $1"; }
log=$root.check.log
echo "building and testing in $root ($(nproc) cores; log: $log)"
# README's test command, split in two so that each half is timed: everything
# it builds (the library, tinygpt and the tests) is built once, then run.
start=$(date +%s)
# -enable-testing: what `swift test` itself adds, for the test targets' @testable imports.
in_chroot "swift --version && swift build -c release --build-tests -Xswiftc -enable-testing" 2>&1 | tee "$log" ||
    fail "swift build -c release --build-tests failed in $root: see $log"
build_time=$(elapsed "$start")
start=$(date +%s)
tests=passed
in_chroot "swift test -c release --skip-build" 2>&1 | tee -a "$log" || tests=FAILED
test_time=$(elapsed "$start")
kernel=$(in_chroot ".build/release/tinygpt bench matmul --shape 64x64x64 --repeat 1" | grep '^kernel:')
echo "$SUITE $arch, $(in_chroot 'swift --version 2>&1 | head -1'), $(nproc) cores: build $build_time, tests $test_time ($tests); matmul $kernel" | tee -a "$log"
[ "$tests" = passed ] || fail "swift test -c release failed in $root: see $log"
if [ "$arch" = arm64 ] && [[ "$kernel" != "kernel: neon"* ]]; then fail "the arm64 build chose '$kernel', not neon"; fi
