#!/usr/bin/env bash
# Run by test/ops/install.test.ts inside `unshare --net --mount`: a network namespace with nothing but
# loopback, and mounts nobody else sees. Installs the release tarball into a scratch root with
# scripts/install.sh, then starts the daemon in that root (chroot) the way ward.service does: as the
# ward user, umask 0077, the passphrase in $CREDENTIALS_DIRECTORY, ExecStart= from the installed unit.
# Prints KEY value lines the test reads.
set -euo pipefail
tarball=$1
root=$2
repo=$3

echo "LINKS $(ip -o link show | awk -F': ' '{ print $2 }' | tr '\n' ' ')"
ip link set lo up
if (exec 3<>/dev/tcp/1.1.1.1/443) 2>/dev/null; then echo "NETWORK reachable"; else echo "NETWORK unreachable"; fi

"$repo/scripts/install.sh" "$tarball" --root "$root" --hostname ward.test > "$root.install.log" 2>&1 || {
  echo "INSTALL failed"
  sed 's/^/  /' "$root.install.log"
  exit 1
}
echo "INSTALL ok"

# Just enough of a system for the chroot: the host's /usr read-only (libc for the bundled Node, setpriv,
# coreutils), /proc and /dev. Private to this mount namespace; gone when it exits.
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$root/$d"; done
for d in bin sbin lib lib64 libexec share; do
  [ -d "/usr/$d" ] || continue
  mkdir -p "$root/usr/$d"
  mount --bind /usr/$d "$root/usr/$d"
  mount -o remount,bind,ro "$root/usr/$d"
done
mkdir -p "$root/proc" "$root/dev" "$root/tmp" "$root/run/credentials/ward.service"
chmod 1777 "$root/tmp"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"

# What LoadCredential=ca-passphrase:/etc/ward/ca-passphrase does.
cred=$root/run/credentials/ward.service
cp "$root/etc/ward/ca-passphrase" "$cred/ca-passphrase"
chown -R "$(awk -F: '$1 == "ward" { print $3 ":" $4 }' "$root/etc/passwd")" "$cred"
chmod 0500 "$cred"
chmod 0400 "$cred/ca-passphrase"

exec_start=$(sed -n 's/^ExecStart=//p' "$root/etc/systemd/system/ward.service")
echo "EXECSTART $exec_start"
log=$root.daemon.log
# shellcheck disable=SC2086
chroot "$root" setpriv --reuid=ward --regid=ward --init-groups \
  env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY=/run/credentials/ward.service \
  sh -c 'umask 0077 && cd /var/lib/ward && exec "$@"' ward $exec_start > "$log" 2>&1 &
pid=$!

get() { # GET $1 on 127.0.0.1:8080 over HTTP/1.0 (bash /dev/tcp: no curl needed)
  exec 3<>/dev/tcp/127.0.0.1/8080 || return 1
  printf 'GET %s HTTP/1.0\r\nHost: ward.test\r\n\r\n' "$1" >&3
  cat <&3
  exec 3<&-
}

# Ready when the daemon logs it (the condition), or fail if it exits first; 120 s at most.
for _ in $(seq 1 1200); do
  grep -q '"msg":"ready"' "$log" && break
  kill -0 "$pid" 2>/dev/null || { echo "DAEMON exited before ready"; sed 's/^/  /' "$log"; exit 1; }
  sleep 0.1
done
grep -q '"msg":"ready"' "$log" || { echo "DAEMON not ready"; sed 's/^/  /' "$log"; kill "$pid"; exit 1; }

response=$(get /healthz)
echo "HEALTHZ_STATUS $(printf '%s' "$response" | head -1 | tr -d '\r')"
echo "HEALTHZ_BODY $(printf '%s' "$response" | tr -d '\r' | sed '1,/^$/d' | tr -d '\n')"
echo "WARDCTL $(chroot "$root" /usr/local/bin/wardctl ca show --json | tr -d '\n')"
echo "MODE_STATE $(stat -c '%a %u' "$root/var/lib/ward")"
echo "MODE_CERTS $(stat -c '%a %u' "$root/var/lib/ward/certs")"
echo "MODE_DB $(stat -c '%a %u' "$root/var/lib/ward/ward.db")"
echo "MODE_ROOTKEY $(stat -c '%a %u' "$root/var/lib/ward/certs/root.key.pem")"
echo "WARD_UID $(awk -F: '$1 == "ward" { print $3 }' "$root/etc/passwd")"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
echo "EXIT $status"

# Installing again (what an upgrade does) keeps the config, the passphrase and the state.
before=$(sha256sum "$root/etc/ward/ca-passphrase" "$root/etc/ward/appliance.config.yaml" "$root/var/lib/ward/certs/root.crt.pem" | cut -d' ' -f1 | tr '\n' ' ')
"$repo/scripts/install.sh" "$tarball" --root "$root" > "$root.reinstall.log" 2>&1 && echo "REINSTALL ok" || { echo "REINSTALL failed"; sed 's/^/  /' "$root.reinstall.log"; }
after=$(sha256sum "$root/etc/ward/ca-passphrase" "$root/etc/ward/appliance.config.yaml" "$root/var/lib/ward/certs/root.crt.pem" | cut -d' ' -f1 | tr '\n' ' ')
[ "$before" = "$after" ] && echo "KEPT yes" || echo "KEPT no"
