#!/usr/bin/env bash
# Run by test/ops/systemd.test.ts as root: installs the release tarball with scripts/install.sh into a
# scratch root with the network cut off (`unshare --net`), then boots that root under a real systemd
# (Debian's systemd as PID 1 in systemd-nspawn, no network but loopback, the host's /usr read-only).
# ward.service starts because install.sh enabled it; a oneshot unit ordered after it (check.sh) looks
# at it from inside and powers the container off. Prints KEY value lines the test reads.
set -euo pipefail
tarball=$1
root=$2
repo=$3

# An OS tree for nspawn: merged-/usr symlinks, os-release, root in passwd; the host's /usr is bound in.
mkdir -p "$root"/{etc,usr,var,opt,tmp,run,root}
for d in bin sbin lib lib64; do ln -sfn "usr/$d" "$root/$d"; done
cp -L /etc/os-release "$root/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
: > "$root/etc/machine-id"

unshare --net "$repo/scripts/install.sh" "$tarball" --root "$root" --hostname ward.test > "$root.install.log" 2>&1 || {
  echo "INSTALL failed"
  sed 's/^/  /' "$root.install.log"
  exit 1
}
echo "INSTALL ok"

cat > "$root/etc/systemd/system/ward-check.service" <<'UNIT'
[Unit]
Description=Looks at ward.service from inside the booted system, then powers off
After=ward.service
Wants=ward.service
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/bin/bash /root/check.sh
StandardOutput=file:/root/check.out
StandardError=file:/root/check.err
UNIT
ln -sfn /etc/systemd/system/ward-check.service "$root/etc/systemd/system/multi-user.target.wants/ward-check.service"

cat > "$root/root/check.sh" <<'CHECK'
set -u
show() { systemctl show ward.service -p "$1" --value; }
healthz() { # GET /healthz over HTTP/1.0 with bash's /dev/tcp: status line, then the body on one line
  local r
  r=$(exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\r\nHost: ward.test\r\n\r\n' >&3 && cat <&3 | tr -d '\r')
  echo "$1_STATUS $(printf '%s\n' "$r" | head -1)"
  echo "$1_BODY $(printf '%s\n' "$r" | sed '1,/^$/d' | tr -d '\n')"
}
echo "ACTIVE $(systemctl is-active ward.service)"
systemctl show ward.service -p Type -p User -p Group -p NotifyAccess -p StatusText -p Restart -p UMask \
  -p StateDirectory -p ProtectSystem -p ProtectHome -p PrivateTmp -p PrivateDevices -p PrivateUsers \
  -p NoNewPrivileges -p CapabilityBoundingSet -p AmbientCapabilities -p RestrictAddressFamilies \
  -p RestrictNamespaces -p ProtectKernelTunables -p ProtectControlGroups -p ProtectClock -p LockPersonality \
  -p SystemCallArchitectures -p MemoryDenyWriteExecute | sed 's/^/SHOW /'
echo "SECURITY $(systemd-analyze security ward.service --no-pager | sed -n 's/.*Overall exposure level for ward.service: //p')"
healthz HEALTHZ

# The running process, as the kernel sees it.
pid=$(show MainPID)
grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t ' ' ' | sed 's/^/PROC /'
echo "CREDENTIAL $(stat -c '%a %U' /run/credentials/ward.service/ca-passphrase 2>&1)"
# Its mount namespace: / read-only but for the state directory, homes hidden.
nsenter -t "$pid" -m touch /opt/ward/probe 2>/dev/null && echo "WRITE_OPT yes" || echo "WRITE_OPT no"
nsenter -t "$pid" -m touch /etc/ward/probe 2>/dev/null && echo "WRITE_ETC yes" || echo "WRITE_ETC no"
nsenter -t "$pid" -m sh -c 'touch /var/lib/ward/probe && rm /var/lib/ward/probe' && echo "WRITE_STATE yes" || echo "WRITE_STATE no"
nsenter -t "$pid" -m test -e /root/check.sh && echo "HOME_VISIBLE yes" || echo "HOME_VISIBLE no"
echo "WARDCTL $(wardctl ca show --json 2>&1 | tr -d '\n')"

# Restart=on-failure: killed, it comes back (after RestartSec=5s) and serves again.
kill -9 "$pid"
for _ in $(seq 1 900); do
  [ "$(show NRestarts)" = 1 ] && [ "$(systemctl is-active ward.service)" = active ] && break
  sleep 0.1
done
echo "RESTARTS $(show NRestarts)"
echo "NEW_PID $([ "$(show MainPID)" != "$pid" ] && echo yes || echo no)"
healthz AFTER_RESTART

systemctl stop ward.service
echo "STOPPED $(show Result) $(show ExecMainStatus)"
CHECK

echo "BOOT"
# The host's /usr, directory by directory, so that the installed /usr/local/bin/wardctl stays visible.
binds=()
for d in bin sbin lib lib64 libexec share; do
  [ -d "/usr/$d" ] && mkdir -p "$root/usr/$d" && binds+=("--bind-ro=/usr/$d")
done
timeout 300 systemd-nspawn -D "$root" --machine="ward-test-$$" "${binds[@]}" --register=no --keep-unit --private-network \
  --console=pipe -b -- systemd.unit=multi-user.target > "$root.boot.log" 2>&1 || echo "NSPAWN exit $?"
cat "$root/root/check.out" 2>/dev/null || echo "CHECK no output"
sed 's/^/CHECK_ERR /' "$root/root/check.err" 2>/dev/null || true
