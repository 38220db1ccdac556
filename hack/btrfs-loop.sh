#!/usr/bin/env bash
# Create and loop-mount a sparse btrfs (or ext4) image, or unmount it again. Needs root.
#   hack/btrfs-loop.sh up IMAGE MOUNTPOINT [SIZE=4G] [FSTYPE=btrfs]
#   hack/btrfs-loop.sh down MOUNTPOINT [IMAGE]      (unmounts; the loop device is detached with it; IMAGE removed)
# Then e.g.: neon-emulator serve --data-dir MOUNTPOINT/data   (the storage driver becomes "btrfs")
set -euo pipefail
cmd=${1:?usage: $0 up IMAGE MOUNTPOINT [SIZE] [FSTYPE] | down MOUNTPOINT [IMAGE]}
case "$cmd" in
up)
    image=${2:?image path}; mnt=${3:?mount point}; size=${4:-4G}; fstype=${5:-btrfs}
    [[ $(id -u) -eq 0 ]] || { echo "error: mounting a loop image needs root" >&2; exit 1; }
    truncate -s "$size" "$image"
    case "$fstype" in
    btrfs) mkfs.btrfs -q -f "$image" >/dev/null ;;
    ext4) mkfs.ext4 -q -F "$image" ;;
    *) echo "error: unsupported filesystem $fstype" >&2; exit 1 ;;
    esac
    mkdir -p "$mnt"
    mount -o loop "$image" "$mnt"
    echo "mounted $fstype image $image ($size) on $mnt"
    ;;
down)
    mnt=${2:?mount point}; image=${3:-}
    if mountpoint -q "$mnt"; then
        umount "$mnt" || umount -l "$mnt"
    fi
    if [[ -n "$image" ]]; then
        # A loop device left behind (e.g. autoclear lost by a lazy unmount) is detached explicitly.
        for dev in $(losetup -j "$image" -O NAME -n 2>/dev/null); do losetup -d "$dev" || true; done
        rm -f "$image"
    fi
    ;;
*) echo "usage: $0 up IMAGE MOUNTPOINT [SIZE] [FSTYPE] | down MOUNTPOINT [IMAGE]" >&2; exit 2 ;;
esac
