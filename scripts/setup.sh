#!/usr/bin/env bash
# Installs everything tapedeck needs on a fresh Debian 12 machine, idempotently.
# A stamp file records what has been installed, so the second run costs well under a second.
# Usage: scripts/setup.sh [--force]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"

# Two commands started at once (a test run and a demo) must not install at the same time:
# concurrent `npm ci` runs delete each other's node_modules.
exec 9>"$tools/setup.lock"
flock 9

# Bump this when the lists below change, so every machine reinstalls once.
setup_version=4
temporal_cli_version=1.5.1
versitygw_version=1.7.0

debian_packages=(
  # GStreamer runtime and plugins (media engine)
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice gstreamer1.0-x
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0 fonts-dejavu-core
  # node-gtk builds from source against these
  build-essential pkg-config libgirepository1.0-dev libcairo2-dev
  # synthetic WebRTC publishers
  python3-gi python3-gst-1.0
  # test peers and independent verification: RTMP server, NATS, browser, ffmpeg/ffprobe
  nginx libnginx-mod-rtmp nats-server chromium ffmpeg attr procps iproute2
  # snippet delivery: completed files are noticed through inotify (close-write, moved-to)
  inotify-tools
)

log() { printf '[setup] %s\n' "$*" >&2; }
stamp="$tools/setup.stamp"
want_stamp="v$setup_version $(sha256sum "$root/package-lock.json" | cut -c1-16)"
if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]] \
  && [[ -x "$bin/temporal" && -x "$bin/versitygw" && -d "$root/node_modules/node-gtk" ]]; then
  exit 0
fi
started=$(date +%s)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these as system services; tapedeck starts its own instances on loopback ports.
  for svc in nginx nats-server; do
    "${sudo_cmd[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
    "${sudo_cmd[@]}" pkill -x "$svc" >/dev/null 2>&1 || true
  done
fi

# node-gyp cannot download Node's headers here; build native modules against the local ones.
if [[ -d /usr/include/node ]]; then
  export npm_config_nodedir=/usr
fi
# node-gtk's prebuilt download is unreachable here and only times out: build it straight away.
export npm_config_build_from_source=node-gtk
log "npm ci"
(cd "$root" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

go_install() { # name version module
  local name=$1 version=$2 module=$3 ldflags=$4
  if [[ -x "$bin/$name" && -f "$bin/$name.version" && "$(cat "$bin/$name.version")" == "$version" ]]; then
    return
  fi
  log "building $name $version with go install (first time only)"
  GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$bin" GOFLAGS=-mod=mod \
    go install -ldflags="$ldflags" "$module@v$version"
  echo "$version" >"$bin/$name.version"
}
export PATH="$PATH:/usr/local/go/bin"
# The two builds take minutes on a cold module cache; run them side by side.
go_install temporal "$temporal_cli_version" github.com/temporalio/cli/cmd/temporal \
  "-s -w -X github.com/temporalio/cli/temporalcli.Version=$temporal_cli_version" &
temporal_build=$!
go_install versitygw "$versitygw_version" github.com/versity/versitygw/cmd/versitygw "-s -w" &
versitygw_build=$!
wait "$temporal_build"
wait "$versitygw_build"

echo "$want_stamp" >"$stamp"
log "ready in $(($(date +%s) - started)) s"
