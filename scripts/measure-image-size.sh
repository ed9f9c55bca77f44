#!/usr/bin/env bash
# Measures the render worker image's size on disk with no Docker engine: builds
# a minimal Debian bookworm root with debootstrap and slims it as Debian's
# official debian:bookworm-slim image is made (minbase + slimify), which is the
# Dockerfile's base; replays the Dockerfile's steps in it (the headless stand-in
# package, system-packages.txt, the project with its runtime dependencies in
# /opt/venv, the worker user) and prints `du -sx` of the root. Then, as the image's
# unprivileged user, it checks that Chromium renders a page, that ffmpeg and
# ffprobe do everything the renderer asks of them (tests/test_packaging.py),
# and that renderlib renders frames of the bundled example.
#
# Usage (root, Debian/Ubuntu, network to the Debian mirror and PyPI):
#   scripts/measure-image-size.sh [ROOT_DIR]      default /var/tmp/babulus-worker-root
# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR override the mirrors read from
# /etc/apt/sources.list*. Method and last figures: docs/worker-image.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-/var/tmp/babulus-worker-root}"
# The budget, in bytes on disk: 1.0 GB, as `docker images` counts.
limit_bytes="${IMAGE_LIMIT_BYTES:-1000000000}"
suite=bookworm

if [ "$(id -u)" -ne 0 ]; then
  echo "measure-image-size: run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
}

debian_mirror() {
  { grep -rhoE '^(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } | awk 'NR == 1 {print $2}'
}
mirror="${DEBIAN_MIRROR:-$(debian_mirror)}"
mirror="${mirror:-http://deb.debian.org/debian}"
mirror="${mirror%/}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-${mirror}-security}"

# A clean environment in the root, but keep OpenBLAS settings some CPUs need.
passed_env=(LANG=C.UTF-8)
for name in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  [ -z "${!name:-}" ] || passed_env+=("$name=${!name}")
done
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "${passed_env[@]}" "$@"; }
as_worker() {
  chroot --userspec=10001:10001 "$root" env -i PATH=/opt/venv/bin:/usr/bin:/bin \
    HOME=/home/worker "${passed_env[@]}" "$@"
}
size_mb() { du -sxm "$root" | cut -f1; }

unmount_all() {
  for m in dev/shm dev/pts dev proc; do
    mountpoint -q "$root/$m" 2>/dev/null && umount "$root/$m"
  done
  return 0
}
trap unmount_all EXIT

echo "== debootstrap --variant=minbase $suite from $mirror"
unmount_all
rm -rf "$root"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
  tail -n 20 "$root.debootstrap.log" >&2
  exit 1
}
minbase_mb=$(size_mb)

echo "== slim it as debian:bookworm-slim is slimmed (no docs, man pages, locales)"
slim_paths=(usr/share/doc usr/share/groff usr/share/info usr/share/linda
  usr/share/lintian/overrides usr/share/locale usr/share/man)
{
  echo "# As in Debian's slim Docker base images: keep docs, man pages and locales out."
  for p in "${slim_paths[@]}"; do echo "path-exclude /$p/*"; done
  echo "path-include /usr/share/doc/*/copyright"
  echo "path-include /usr/share/locale/locale.alias"
} >"$root/etc/dpkg/dpkg.cfg.d/docker-slim"
for p in "${slim_paths[@]}"; do
  [ -d "$root/$p" ] || continue
  find "$root/$p" -mindepth 1 ! -type d ! -path '*/copyright' ! -name locale.alias -delete
  find "$root/$p" -mindepth 1 -depth -type d -empty -delete
done
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/*
base_mb=$(size_mb)
in_root apt-get update -q >/dev/null

echo "== system packages, as the Dockerfile installs them"
mkdir -p "$root/tmp/build"
cp system-packages.txt "$root/tmp/build/"
cp -r docker/headless docker/build-headless-stand-in.sh "$root/tmp/build/"
in_root sh -euc '
  export DEBIAN_FRONTEND=noninteractive
  sh /tmp/build/build-headless-stand-in.sh /tmp/build/headless /tmp/build/headless.deb
  apt-get install -y -q --no-install-recommends /tmp/build/headless.deb >/dev/null
  grep -v "^\s*#" /tmp/build/system-packages.txt | grep -v "^\s*$" \
    | xargs apt-get install -y -q --no-install-recommends >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/* /tmp/build'
system_mb=$(size_mb)

echo "== the project with its runtime dependencies, as the Dockerfile installs them"
mkdir -p "$root/tmp/src"
cp -r pyproject.toml README.md renderlib handlers "$root/tmp/src/"
find "$root/tmp/src" -name __pycache__ -prune -exec rm -rf {} +
# The host's CA bundle, for pip only (some networks re-sign TLS); removed after.
cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/host-ca.crt"
pip_env=(PIP_CERT=/tmp/host-ca.crt PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1)
in_root python3 -m venv /opt/venv
in_root env "${pip_env[@]}" PIP_NO_BINARY=imageio-ffmpeg PIP_USE_PEP517=1 \
  /opt/venv/bin/pip install -q --no-compile '/tmp/src[farm]'
in_root /opt/venv/bin/python -m pip uninstall -y pip setuptools >/dev/null
rm -rf "$root/tmp/src"
in_root useradd --create-home --home-dir /home/worker --uid 10001 --user-group \
  --shell /usr/sbin/nologin worker
total_mb=$(size_mb)
total_bytes=$(du -sx --block-size=1 "$root" | cut -f1)
apparent_bytes=$(du -sx --apparent-size --block-size=1 "$root" | cut -f1)
python_mb=$(du -sxm "$root/opt/venv" | cut -f1)

echo
echo "minbase root as debootstrapped:          ${minbase_mb} MiB"
echo "slimmed, as debian:bookworm-slim:        ${base_mb} MiB"
echo "+ system packages:                       $((system_mb - base_mb)) MiB"
echo "+ project and runtime deps, worker user: $((total_mb - system_mb)) MiB (/opt/venv ${python_mb} MiB)"
echo "IMAGE SIZE ON DISK (du -sx):             ${total_mb} MiB = $total_bytes bytes"
echo "apparent size (sum of file sizes):       $apparent_bytes bytes"
echo "largest packages (installed size, KB):"
in_root dpkg-query -W -f='${Installed-Size}\t${Package}\n' | sort -rn | sed -n '1,12p'
echo

echo "== checks in the root, as the unprivileged worker user"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
# The container runtime provides /etc/hosts; chromedriver is reached at localhost.
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
mkdir -p "$root/tmp/check"
cp -r Dockerfile .dockerignore docker system-packages.txt pyproject.toml examples "$root/tmp/check/"
mkdir -p "$root/tmp/check/tests" "$root/tmp/check/scripts"
cp tests/test_packaging.py "$root/tmp/check/tests/"
cp scripts/measure-image-size.sh "$root/tmp/check/scripts/"
cat >"$root/tmp/check/page.html" <<'EOF'
<!doctype html><html><body style="margin:0;background:rgb(200,30,40)">
<p style="font:40px sans-serif;color:white">headless ok</p></body></html>
EOF
chown -R 10001:10001 "$root/tmp/check"

echo "-- Chromium's headless shell starts and renders a page"
as_worker /usr/bin/chromium-headless-shell --no-sandbox --disable-gpu \
  --disable-dev-shm-usage --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir=/tmp/check/profile --window-size=320,240 \
  --screenshot=/tmp/check/page.png file:///tmp/check/page.html 2>/dev/null
as_worker python -c '
from PIL import Image
image = Image.open("/tmp/check/page.png").convert("RGB")
pixel = image.getpixel((300, 220))
assert image.size == (320, 240) and all(abs(a - b) < 8 for a, b in zip(pixel, (200, 30, 40))), pixel
print("chromium rendered the page:", image.size, pixel)'
as_worker chromedriver --version
as_worker python -c 'import imageio_ffmpeg
assert imageio_ffmpeg.get_ffmpeg_exe() == "ffmpeg", imageio_ffmpeg.get_ffmpeg_exe()
print("MoviePy (imageio-ffmpeg) uses the system ffmpeg")'

echo "-- ffmpeg/ffprobe and the Dockerfile: tests/test_packaging.py (pytest added after measuring)"
in_root /opt/venv/bin/python -m ensurepip >/dev/null
in_root env "${pip_env[@]}" /opt/venv/bin/python -m pip install -q pytest
as_worker sh -c 'cd /tmp/check && python -m pytest -q -p no:cacheprovider tests/test_packaging.py'

echo "-- renderlib renders the example's first 15 frames"
as_worker sh -c 'cd /tmp/check && renderlib render examples/showcase/composition.json \
  --frames 0:15 --workers 1 --no-progress -o /tmp/check/showcase.mp4'

rm -f "$root/tmp/host-ca.crt"
echo
echo "all checks passed; root left at $root"
if [ "$total_bytes" -gt "$limit_bytes" ]; then
  echo "IMAGE SIZE ON DISK: $total_bytes bytes, OVER the $limit_bytes-byte budget" >&2
  exit 1
fi
echo "IMAGE SIZE ON DISK: ${total_mb} MiB = $total_bytes bytes, within the $limit_bytes-byte budget"
