#!/usr/bin/env bash
# What handing a shared decoder's frames to its readers costs, by transport: four "decoders"
# (live 640x360 I420 pictures at 15 fps, as a decoder serves them) and two readers per decoder (a
# host's recording and the composite), each reader scaling the frames as a composite tile would.
# CPU of every process summed over a window, % of one core.
#
#   sources   the four picture sources alone, no readers (what every layout below includes)
#   copyless  each source's two "readers" in its own process (tee ! queue): the readers' own
#             work with no transport at all, the floor for any transport
#   tcp       what tapedeck builds: gdppay ! tcpserversink, read by tcpclientsrc ! gdpdepay
#   shm-gdp   one gdppay ! shmsink per reader, blocking until its reader connects so that the
#             reader gets GDP's caps first; read by shmsrc ! gdpdepay
#   tile-tcp  the host's recording is the decoder's process (its reader in there, as copyless), and
#             the composite gets the picture already scaled to its tile over tcp
#
# Loopback and local sockets only. Usage: scripts/shared-frames-transport-bench.sh [--rounds N]
# [--window S]
set -euo pipefail

rounds=2 window=20
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v gst-launch-1.0 >/dev/null || { echo "gst-launch-1.0 is missing: run scripts/setup.sh" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

FRAMES='videotestsrc is-live=true pattern=snow ! video/x-raw,format=I420,width=640,height=360,framerate=15/1'
TILE='videoscale ! video/x-raw,width=320,height=180 ! fakesink sync=false'
cpu_ticks() { local t=0 p; for p in "$@"; do [ -e /proc/$p/stat ] && t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }

run() { # layout
  local layout=$1 h r port base
  pids=()
  base=$((40000 + RANDOM % 20000))
  for h in 1 2 3 4; do
    port=$((base + h))
    case $layout in
      sources) gst-launch-1.0 -q $FRAMES ! fakesink sync=false >/dev/null 2>&1 & ;;
      copyless) gst-launch-1.0 -q $FRAMES ! tee name=t t. ! queue ! $TILE t. ! queue ! $TILE >/dev/null 2>&1 & ;;
      tile-tcp) gst-launch-1.0 -q $FRAMES ! tee name=t t. ! queue ! $TILE \
          t. ! queue ! videoscale ! video/x-raw,width=320,height=180 ! gdppay ! tcpserversink host=127.0.0.1 port=$port sync=false >/dev/null 2>&1 & ;;
      tcp) gst-launch-1.0 -q $FRAMES ! gdppay ! tcpserversink host=127.0.0.1 port=$port sync=false >/dev/null 2>&1 & ;;
      shm-gdp) gst-launch-1.0 -q $FRAMES ! tee name=t \
          t. ! queue leaky=downstream max-size-buffers=8 ! gdppay ! shmsink socket-path="$work/h$h-a" shm-size=20000000 wait-for-connection=true sync=false \
          t. ! queue leaky=downstream max-size-buffers=8 ! gdppay ! shmsink socket-path="$work/h$h-b" shm-size=20000000 wait-for-connection=true sync=false >/dev/null 2>&1 & ;;
    esac
    pids+=($!)
  done
  sleep 1
  for h in 1 2 3 4; do
    port=$((base + h))
    for r in a b; do
      case $layout in
        tcp) gst-launch-1.0 -q tcpclientsrc host=127.0.0.1 port=$port ! gdpdepay ! queue ! $TILE >/dev/null 2>&1 & pids+=($!) ;;
        tile-tcp) [ $r = a ] && { gst-launch-1.0 -q tcpclientsrc host=127.0.0.1 port=$port ! gdpdepay ! queue ! fakesink sync=false >/dev/null 2>&1 & pids+=($!); } ;;
        shm-gdp) gst-launch-1.0 -q shmsrc socket-path="$work/h$h-$r" is-live=true ! gdpdepay ! queue ! $TILE >/dev/null 2>&1 & pids+=($!) ;;
      esac
    done
  done
  sleep 3
  local t0 t1 alive=0 p
  t0=$(cpu_ticks "${pids[@]}")
  sleep "$window"
  t1=$(cpu_ticks "${pids[@]}")
  for p in "${pids[@]}"; do [ -e /proc/$p ] && alive=$((alive + 1)); done
  awk -v l="$layout" -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v d="$window" -v n="$alive" -v m="${#pids[@]}" \
    'BEGIN { printf "%-8s %6.1f %% of a core   (%d of %d processes running at the end)\n", l, (b - a) / hz / d * 100, n, m }'
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$work"/h*
}

for ((i = 1; i <= rounds; i++)); do
  echo "round $i ($window-s window)"
  for layout in sources copyless tcp shm-gdp tile-tcp; do run $layout; done
done
