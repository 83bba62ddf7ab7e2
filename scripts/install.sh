#!/usr/bin/env bash
# Installs (or upgrades) Ward from its release tarball on a Debian/Ubuntu VM, without any network:
#   /opt/ward-VERSION/                   the release (runtime, dependencies, compiled code, migrations)
#   /opt/ward -> ward-VERSION            the release in use (the unit and wardctl go through it)
#   /etc/ward/appliance.config.yaml      config (created once, kept on upgrades)
#   /etc/ward/ca-passphrase              passphrase of every private key at rest (root 0600, created
#                                        once; systemd hands it to the service with LoadCredential=)
#   /var/lib/ward/  (ward, 0700)         database; certs/ (0700) the CA material; backups/
#   /etc/sysusers.d/ward.conf            the `ward` system user
#   /etc/systemd/system/ward.service     the hardened unit, enabled
#   /usr/local/bin/wardctl               -> /opt/ward/bin/wardctl
# A fresh install is enabled but not started (set hostname and organization in the config first, they
# go into the CA); an upgrade restarts a running service (migrations run after a database copy).
# Usage: scripts/install.sh TARBALL [--root DIR] [--hostname NAME] [--start]
#   --root DIR   install into DIR as if it were / (image building, tests); systemd is not contacted
set -euo pipefail

usage() { echo "usage: install.sh TARBALL [--root DIR] [--hostname NAME] [--start]" >&2; exit 2; }
tarball=
root=
hostname_=
start=no
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || usage; root=$(realpath -m "$2"); shift 2 ;;
    --hostname) [ $# -ge 2 ] || usage; hostname_=$2; shift 2 ;;
    --start) start=yes; shift ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$tarball" ] || usage; tarball=$1; shift ;;
  esac
done
[ -n "$tarball" ] && [ -f "$tarball" ] || usage
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
[ "$root" = / ] && root=

say() { echo "install.sh: $*"; }
if [ -f "$tarball.sha256" ]; then
  (cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256") || { echo "install.sh: $tarball does not match $tarball.sha256" >&2; exit 1; }
fi

# 1. The release, unpacked beside the one in use, then switched to in one rename.
mkdir -p "$root/opt"
work=$(mktemp -d "$root/opt/.ward-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" --no-same-owner
shopt -s nullglob
top=("$work"/ward-*)
[ ${#top[@]} = 1 ] && [ -f "${top[0]}/package.json" ] && [ -f "${top[0]}/dist/main.js" ] || { echo "install.sh: $tarball is not a Ward release tarball" >&2; exit 1; }
release=${top[0]}
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$release/package.json" | head -1)
node="$release/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')/bin/node"
[ -x "$node" ] || { echo "install.sh: this release does not carry a runtime for $(uname -m)" >&2; exit 1; }
chmod -R go-w "$release"
dest=$root/opt/ward-$version
previous=$(readlink "$root/opt/ward" 2>/dev/null || true)
if [ -e "$dest" ]; then
  rm -rf "$dest.old"
  mv "$dest" "$dest.old"
fi
mv "$release" "$dest"
rm -rf "$dest.old"
ln -sfn "ward-$version" "$root/opt/ward.new"
mv -T "$root/opt/ward.new" "$root/opt/ward"
say "release $version in /opt/ward-$version${previous:+ (was $previous)}"

# 2. The service user.
install -d -m 0755 "$root/etc/sysusers.d"
install -m 0644 "$dest/systemd/ward.sysusers" "$root/etc/sysusers.d/ward.conf"
if ! grep -q '^ward:' "$root/etc/passwd" 2>/dev/null; then
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers ${root:+--root="$root"} "$root/etc/sysusers.d/ward.conf"
  else
    useradd ${root:+--prefix "$root"} --system --user-group --home-dir /var/lib/ward --shell /usr/sbin/nologin --comment "Ward MDM appliance" ward
  fi
fi
uid=$(awk -F: '$1 == "ward" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "ward" { print $4 }' "$root/etc/passwd")
[ -n "$uid" ] && [ -n "$gid" ] || { echo "install.sh: could not create the ward user" >&2; exit 1; }

# 3. State (the unit's StateDirectory= keeps it this way too) and configuration.
install -d -m 0700 -o "$uid" -g "$gid" "$root/var/lib/ward" "$root/var/lib/ward/certs"
install -d -m 0755 "$root/etc/ward"
if [ ! -e "$root/etc/ward/ca-passphrase" ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '=\n' > "$root/etc/ward/ca-passphrase" && echo >> "$root/etc/ward/ca-passphrase")
  chmod 0600 "$root/etc/ward/ca-passphrase"
  say "created /etc/ward/ca-passphrase: keep a copy OFF this machine (a restore needs it; backups never hold it)"
fi
if [ ! -e "$root/etc/ward/appliance.config.yaml" ]; then
  name=${hostname_:-$(hostname -f 2>/dev/null || hostname)}
  sed "s/@HOSTNAME@/$name/" "$dest/appliance.config.yaml" > "$root/etc/ward/appliance.config.yaml"
  chmod 0644 "$root/etc/ward/appliance.config.yaml"
  fresh=yes
  say "created /etc/ward/appliance.config.yaml (hostname $name): check hostname and organization before the first start"
else
  fresh=no
fi

# 4. The unit and wardctl.
install -d -m 0755 "$root/etc/systemd/system" "$root/usr/local/bin"
install -m 0644 "$dest/systemd/ward.service" "$root/etc/systemd/system/ward.service"
ln -sfn /opt/ward/bin/wardctl "$root/usr/local/bin/wardctl"

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable ward.service
  if systemctl is-active --quiet ward.service; then
    say "restarting ward (pending migrations run after a copy of the database)"
    systemctl restart ward.service
  elif [ "$start" = yes ]; then
    systemctl start ward.service
  fi
elif command -v systemctl >/dev/null; then
  # No running systemd (an image being built, a container): enable offline, nothing is started.
  systemctl --root="${root:-/}" enable ward.service >/dev/null 2>&1 && say "ward.service enabled" || say "systemd is not running: enable ward.service when it is"
else
  say "systemctl not found: enable ward.service by hand"
fi

# Keep the release in use and the one before it (rollback); older ones go.
for old in "$root"/opt/ward-*; do
  v=${old##*/}
  [ "$v" = "ward-$version" ] || [ "$v" = "${previous##*/}" ] || rm -rf "$old"
done
if [ "$fresh" = yes ]; then
  say "next: edit /etc/ward/appliance.config.yaml, then: systemctl start ward; curl http://localhost:8080/healthz"
fi
