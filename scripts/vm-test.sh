#!/usr/bin/env bash
# Runs the ctest label `vm` inside a virtual machine with Debian's packaged kernel, which has the
# ipip module this machine's kernel lacks. qemu (TCG, no KVM here) boots the kernel with a small
# busybox initramfs that loads the modules, mounts this machine's root file system read-only over
# virtio-9p, and runs the tests chrooted there: the same binaries, tools and etcd as on the host.
# The VM has no network card: the tests build their own namespaces inside it.
#
# usage: scripts/vm-test.sh [-- COMMAND]   (needs root; the kernel comes from scripts/setup.sh)
#   without COMMAND: ctest -L vm in the build tree; with it: COMMAND (e.g. a shell line to try).
#   QUASAR_VM_TIMEOUT: seconds before the VM is stopped (1800); QUASAR_VM_MODULES: more of the
#   kernel's modules to load at boot (the VM cannot load modules on demand: the chroot's
#   /lib/modules is this machine's), e.g. netfilter's for scripts/netperf-bench.sh --vm.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"

kernel_dir=${QUASAR_VM_KERNEL_DIR:-/var/cache/quasar/vm-kernel}
timeout_s=${QUASAR_VM_TIMEOUT:-1800}
[ -f "$kernel_dir/vmlinuz" ] || { echo "vm-test: no kernel in $kernel_dir (run scripts/setup.sh)" >&2; exit 1; }
moddir=$(echo "$kernel_dir"/lib/modules/*)

if [ "${1:-}" = "--" ]; then
  shift
  command="$*"
else
  # ctest writes its logs next to the test files: copy them (only them) to the VM's tmpfs.
  command="mkdir -p /tmp/vm-ctest && cd $quasar_build && find . -name CTestTestfile.cmake | cpio -pdm --quiet /tmp/vm-ctest && cd /tmp/vm-ctest && ctest --output-on-failure --no-tests=error -L vm"
fi

# Modules in load order: what virtio-9p needs, then what the tests need, each after its
# dependencies (read from the modules' own `depends=`).
wanted="virtio_pci 9pnet_virtio 9p ipip veth bridge vxlan 8021q macvlan ${QUASAR_VM_MODULES:-}"
declare -A path_of=()
while IFS= read -r f; do
  name=$(basename "$f" .ko)
  path_of[$name]=$f
  path_of[${name//-/_}]=$f
done < <(find "$moddir" -name '*.ko')
order=()
declare -A placed=()
place() {
  local m=${1//-/_}
  [ -n "${placed[$m]:-}" ] && return 0
  [ -n "${path_of[$m]:-}" ] || { echo "vm-test: module $m not found in $moddir" >&2; exit 1; }
  placed[$m]=1
  local deps
  deps=$(strings -a "${path_of[$m]}" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
  for d in $deps; do place "$d"; done
  order+=("$m")
}
for m in $wanted; do place "$m"; done

work=$(mktemp -d /tmp/quasar-vm-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"/{bin,proc,sys,dev,host,modules}
cp /bin/busybox "$work/root/bin/busybox"
for m in "${order[@]}"; do cp "${path_of[$m]}" "$work/root/modules/$m.ko"; done
printf '%s\n' "${order[@]}" >"$work/root/modules/order"
printf '%s\n' "$command" >"$work/root/command"
printf '%s\n' "$quasar_root" >"$work/root/srcdir"
cat >"$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do
  insmod /modules/$m.ko || echo "QUASAR_VM: insmod $m failed"
done
rc=1
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host; then
  mount -t proc proc /host/proc
  mount -t sysfs sys /host/sys
  mount -t devtmpfs dev /host/dev
  # Fresh tmpfs on /tmp and /run; a source tree under one of them (a CI clone in /tmp) is
  # bound back into place from the host's view.
  src=$(cat /srcdir)
  mkdir -p /src
  mount -o bind "/host$src" /src
  mount -t tmpfs tmp /host/tmp
  mount -t tmpfs run /host/run
  if [ ! -d "/host$src" ]; then
    mkdir -p "/host$src"
    mount -o bind /src "/host$src"
  fi
  echo "QUASAR_VM: up, kernel $(uname -r)"
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp \
    chroot /host /bin/sh -c "$(cat /command)"
  rc=$?
else
  echo "QUASAR_VM: cannot mount the host root over 9p"
fi
echo "QUASAR_VM_EXIT=$rc"
sync
poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz")

echo "vm-test: booting $(basename "$moddir") with ${#order[@]} modules (TCG; takes a while)" >&2
set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -smp 2 -m 3072 -nographic -no-reboot \
  -nic none -kernel "$kernel_dir/vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  </dev/null | tee "$work/console.log" | sed -u 's/\r$//'
set -e
rc=$(sed -n 's/^QUASAR_VM_EXIT=\([0-9]*\).*/\1/p' "$work/console.log" | tail -1)
if [ -z "$rc" ]; then
  echo "vm-test: the VM ended without reporting a result (timeout ${timeout_s}s?)" >&2
  exit 1
fi
exit "$rc"
