#!/bin/sh
# Builds the headless stand-in package from FOLDER (docker/headless) into DEB, for the
# Chromium release apt installs now: chromium-driver depends on exactly that version of
# chromium, and the stand-in provides it, so the full browser is never installed.
# Usage: build-headless-stand-in.sh FOLDER DEB   (after apt-get update)
set -eu
folder="$1"
deb="$2"
version=$(apt-cache show --no-all-versions chromium-driver \
  | sed -n 's/^Depends:.*[ ,]chromium (= \([^)]*\)).*/\1/p')
if [ -z "$version" ]; then
  echo "build-headless-stand-in: cannot read the chromium version chromium-driver needs" >&2
  exit 1
fi
package=$(mktemp -d)
mkdir "$package/DEBIAN"
sed "s/@CHROMIUM_VERSION@/$version/" "$folder/DEBIAN/control.in" >"$package/DEBIAN/control"
dpkg-deb --root-owner-group --build "$package" "$deb" >/dev/null
rm -rf "$package"
