#!/usr/bin/env bash
# Builds the release tarball an offline hospital VM installs from (scripts/install.sh TARBALL):
#   ward-VERSION-linux-ARCH/
#     package.json package-lock.json   what was built, with the lock's integrity hashes
#     dist/                            compiled daemon (main.js) and wardctl (cli.js)
#     node_modules/                    production dependencies only, from this checkout's install (no
#                                      network): the pinned node-linux-ARCH runtime (bin/node) and
#                                      better-sqlite3 with only its linux-ARCH prebuild
#     migrations/ systemd/ scripts/    schema, unit + sysusers, install.sh
#     appliance.config.yaml            default config of an installed appliance
#     bin/wardctl                      wardctl wrapper (runs as the ward user)
#     docs/operations.md
# Writes FILE and FILE.sha256. Usage: scripts/make-dist.sh [--compiled DIR] [--out FILE] [--fast]
#   --compiled DIR   compiled JavaScript of src/ (default dist/, from `tsc -p tsconfig.json`)
#   --fast           gzip -1 (tests); releases use gzip -6
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
compiled=$repo/dist
out=
level=6
while [ $# -gt 0 ]; do
  case "$1" in
    --compiled) compiled=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --fast) level=1; shift ;;
    *) echo "usage: scripts/make-dist.sh [--compiled DIR] [--out FILE] [--fast]" >&2; exit 2 ;;
  esac
done

node=$repo/node_modules/.bin/node
[ -x "$node" ] || { echo "make-dist: $node missing: run make install first" >&2; exit 1; }
[ -f "$compiled/main.js" ] && [ -f "$compiled/cli.js" ] || { echo "make-dist: no main.js/cli.js in $compiled: build first" >&2; exit 1; }
version=$("$node" -p "require('$repo/package.json').version")
arch=$("$node" -p process.arch)
runtime=node-linux-$arch
[ -x "$repo/node_modules/$runtime/bin/node" ] || { echo "make-dist: the pinned runtime $runtime is not installed" >&2; exit 1; }
name=ward-$version-linux-$arch
out=${out:-$repo/build/release/$name.tar.gz}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

work=$(mktemp -d "${TMPDIR:-/tmp}/ward-dist-XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/$name
mkdir -p "$stage"/{bin,docs,scripts,node_modules/.bin}

cp "$repo/package.json" "$repo/package-lock.json" "$stage/"
cp -a "$compiled" "$stage/dist"
# The web console's static files are served from beside the compiled admin code (src/admin/console.ts).
mkdir -p "$stage/dist/admin"
cp -a "$repo/src/admin/console" "$stage/dist/admin/"
cp -a "$repo/migrations" "$repo/systemd" "$stage/"
cp "$repo/scripts/install.sh" "$stage/scripts/"
cp "$repo/scripts/release/appliance.config.yaml" "$stage/appliance.config.yaml"
install -m 0755 "$repo/scripts/release/wardctl" "$stage/bin/wardctl"
cp "$repo/docs/operations.md" "$stage/docs/"

# Production packages per package-lock.json (not dev, not dev-only optional), as installed here.
"$node" -e '
  const lock = require(process.argv[1] + "/package-lock.json");
  for (const [key, p] of Object.entries(lock.packages)) {
    if (!key || p.dev || p.devOptional) continue;
    if (key.split("node_modules/").length !== 2) continue; // nested ones travel with their parent
    if (/^node_modules\/node-linux-/.test(key) && key !== "node_modules/" + process.argv[2]) continue;
    console.log(key);
  }' "$repo" "$runtime" | while read -r dir; do
  [ -d "$repo/$dir" ] || { echo "make-dist: $dir is in the lock but not installed (run make install)" >&2; exit 1; }
  mkdir -p "$(dirname "$stage/$dir")"
  # Hard links when the stage is on the same filesystem (only removals happen in the stage).
  cp -al "$repo/$dir" "$stage/$dir" 2>/dev/null || { rm -rf "${stage:?}/$dir"; cp -a "$repo/$dir" "$stage/$dir"; }
done

# Only what runs on linux-ARCH: the runtime binary, better-sqlite3's prebuilt addon (N-API).
rm -rf "$stage/node_modules/$runtime/include" "$stage/node_modules/$runtime/share"
sqlite=$stage/node_modules/better-sqlite3
rm -rf "$sqlite/deps" "$sqlite/src"
find "$sqlite/prebuilds" -type f ! -name "linux-$arch.node" -delete
ln -s "../$runtime/bin/node" "$stage/node_modules/.bin/node"

# Smoke test: the bundled runtime loads the bundled addon and the compiled config schema.
(cd "$stage" && ./node_modules/.bin/node -e "
  const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();
  require('./dist/config');
") || { echo "make-dist: the staged tree does not load" >&2; exit 1; }

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}" -C "$work" -cf - "$name" | gzip "-$level" -n > "$out.partial"
mv "$out.partial" "$out"
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
echo "$out ($(du -h "$out" | cut -f1))"
