# Debian trixie chroots for the scripts in scripts/: checks of what the host
# needs, making a chroot, and running in it. Sourced, not run.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHROOTS=${TINYGPT_CHROOTS:-/var/tmp/tinygpt-chroots}
SUITE=trixie

# One line on stderr, then exit 1.
fail() { echo "$(basename "$0"): $*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot and mount do): run it with sudo"
}

need_command() {  # COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 || fail "'$1' is missing: apt-get install $2"
}

need_space() {  # DIRECTORY GIGABYTES
    mkdir -p "$1" || fail "cannot create $1: set TINYGPT_CHROOTS to a writable directory"
    local free_kb
    free_kb=$(df -Pk "$1" | awk 'NR == 2 { print $4 }')
    [ "$free_kb" -ge $(($2 * 1024 * 1024)) ] ||
        fail "needs $2 GB free in $1, has $((free_kb / 1024)) MB: free space there or set TINYGPT_CHROOTS to a larger disk"
}

# The Debian name of this machine's architecture.
host_arch() {
    case "$(uname -m)" in
        x86_64) echo amd64 ;;
        aarch64 | arm64) echo arm64 ;;
        *) uname -m ;;
    esac
}

# Lets this machine run ARCH's binaries: natively, or through qemu-user-static
# registered in binfmt_misc with the F flag (the interpreter is opened at
# registration, so it works inside a chroot that does not hold it).
need_arch() {  # ARCH
    [ "$1" = "$(host_arch)" ] && return 0
    [ "$1" = arm64 ] || fail "cannot run $1 binaries on $(host_arch): only amd64 and arm64 are supported"
    need_command qemu-aarch64-static qemu-user-static
    need_command update-binfmts binfmt-support
    local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
    if ! grep -qs '^enabled' "$entry"; then
        [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1
    fi
    grep -qs '^enabled' "$entry" ||
        fail "arm64 binaries cannot run here: binfmt_misc has no enabled qemu-aarch64 entry (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64)"
    grep -qs '^flags:.*F' "$entry" ||
        fail "the qemu-aarch64 binfmt entry lacks the F flag, so it cannot work inside a chroot: reinstall qemu-user-static from Debian"
}

# A minimal Debian trixie for ARCH in DIRECTORY holding PACKAGES (made once, then reused).
make_chroot() {  # DIRECTORY ARCH [PACKAGES...]
    local root=$1 arch=$2
    shift 2
    [ -d "$root/debootstrap" ] && fail "$root is an unfinished debootstrap: remove it (rm -rf $root) and run again"
    if [ ! -x "$root/usr/bin/apt-get" ]; then
        need_command debootstrap debootstrap
        echo "making a Debian $SUITE $arch chroot in $root (log: $root.log)"
        # DEBIAN_MIRROR, if set, replaces debootstrap's default mirror.
        debootstrap --arch="$arch" --variant=minbase "$SUITE" "$root" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$root.log" 2>&1 ||
            fail "debootstrap failed (is the Debian mirror reachable? DEBIAN_MIRROR sets another): see $root.log"
    fi
    if [ $# -gt 0 ] && ! chroot "$root" dpkg -s "$@" >/dev/null 2>&1; then
        echo "installing $* in $root (log: $root.log)"
        { chroot "$root" apt-get update -q && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends "$@"; } >>"$root.log" 2>&1 ||
            fail "apt-get install $* failed in $root: see $root.log"
    fi
}

# /proc inside the chroot (the dynamic loader resolves $ORIGIN through it).
# When the script exits, processes still running inside the chroot (a build
# interrupted with Ctrl-C leaves compilers in their own process groups) are
# stopped, and /proc is unmounted.
mount_proc() {  # DIRECTORY
    trap "stop_chroot_processes '$1'" EXIT
    mountpoint -q "$1/proc" && return 0
    mount -t proc proc "$1/proc" || fail "cannot mount /proc in $1"
    trap "stop_chroot_processes '$1'; umount '$1/proc'" EXIT
}

stop_chroot_processes() {  # DIRECTORY
    local link pids=()
    for link in /proc/[0-9]*/root; do
        [ "$(readlink "$link" 2>/dev/null)" = "$1" ] && pids+=("$(basename "$(dirname "$link")")")
    done
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
}

# The repository's tracked files as they are in the work tree (uncommitted
# edits included, build folders excluded), copied to DIRECTORY/src/tinygpt.
copy_source() {  # DIRECTORY
    local target=$1/src/tinygpt snapshot
    rm -rf "$target" && mkdir -p "$target"
    snapshot=$(git -C "$REPO" stash create 2>/dev/null)
    git -C "$REPO" archive --format=tar "${snapshot:-HEAD}" | tar -x -C "$target" ||
        fail "cannot copy the repository into $target"
}

# Seconds since START as "Nm SSs".
elapsed() {  # START
    local s=$(($(date +%s) - $1))
    printf '%dm %02ds' $((s / 60)) $((s % 60))
}
