#!/usr/bin/env bash
# Installs the Debian tools the tests talk to (real peers, not our own code): openssl, micromdm's
# scepclient/scepserver, plistutil, apksigner, aapt, zbarimg, Chromium, systemd-nspawn (a real systemd
# boots the installed unit: test/ops/systemd.test.ts), gdb (counts SQLite re-prepares:
# test/db/reprepare.test.ts). Skips what is already there.
set -euo pipefail
PACKAGES=(openssl scep libplist-utils apksigner aapt android-framework-res zbar-tools chromium openjdk-17-jdk-headless systemd systemd-container iproute2 python3 gdb)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "system-tools: missing Debian packages ${missing[*]} (run as root, or install them by hand)" >&2
  exit 1
fi
echo "system-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
