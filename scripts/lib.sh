# Sourced by the scripts: re-run as root (through sudo when it exists), and the repo's paths.
quasar_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quasar_build=${QUASAR_BUILD_DIR:-$quasar_root/build}

quasar_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo -E "$@"; fi
    echo "$(basename "$1"): needs root, and there is no sudo" >&2
    exit 1
  fi
}
