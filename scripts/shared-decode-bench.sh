#!/usr/bin/env bash
# What decoding each host once would save: one livestream's five recordings (four 640x360 hosts
# and the 360x640 composite, tapedeck's encoder settings) from the same RTP, made four ways by bare
# gst-launch-1.0 pipelines, each recorder and decoder a process, CPU and RSS summed over a window.
#
#   per-recording  today's layout: every recording decodes its own copy of each host's RTP
#                  (eight H.264 decodes, eight copies sent)
#   shm            a decoder process per host sends raw frames over shared memory (shmsink) to
#                  the host's recording and the composite (four decodes, four copies sent)
#   udp-raw        the same decoders send raw frames as RTP (rtpvrawpay) over loopback UDP
#   one-process    one process records all five, each host decoded once and teed
#
# The "sender" column is the process that encodes the hosts' stream once and sends its copies:
# it stands in for the ingest and is not in the total. Loopback only.
#
# Usage: scripts/shared-decode-bench.sh [--rounds N] [--warmup S] [--window S] [LAYOUT ...]
set -euo pipefail

rounds=1 warmup=8 window=40 layouts=()
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    per-recording|shm|udp-raw|one-process) layouts+=("$1"); shift ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#layouts[@]} -gt 0 ] || layouts=(per-recording shm udp-raw one-process)
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$root/.tools/bin:$PATH
for tool in gst-launch-1.0 ffprobe bc; do
  command -v $tool >/dev/null || { echo "$tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

H264_CAPS='application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96'
RAW_CAPS='application/x-rtp,media=video,clock-rate=90000,encoding-name=RAW,sampling=YCbCr-4:2:0,depth=(string)8,width=(string)640,height=(string)360,colorimetry=(string)BT601-5,a-framerate=(string)15,payload=96'
CAMERA='video/x-raw,format=I420,width=640,height=360,pixel-aspect-ratio=1/1'

# The recorder's encoders and muxer, as src/media/pipeline/encoders.ts and outputs.ts build them.
encode() { # WIDTH HEIGHT MUXER
  echo "capsfilter caps=video/x-raw,format=I420,width=$1,height=$2,framerate=15/1,pixel-aspect-ratio=1/1 ! videorate drop-only=true ! queue max-size-time=1000000000 ! x264enc bitrate=5000 vbv-buf-capacity=1000 speed-preset=superfast tune=zerolatency key-int-max=5 threads=1 option-string=scenecut=0 ! video/x-h264,profile=main ! h264parse config-interval=-1 ! queue ! $3.video"
}
tone() { # FREQ MUXER
  echo "audiotestsrc is-live=true freq=$1 samplesperbuffer=1920 ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! audiorate ! queue ! voaacenc bitrate=44000 perfect-timestamp=true ! aacparse ! queue ! $2.audio_0"
}
muxer() { # NAME FILE-PREFIX
  echo "splitmuxsink name=$1 location=$out/$2_%05d.mp4 max-size-time=15000000000 send-keyframe-requests=true async-finalize=true muxer-factory=mp4mux"
}
# A host's RTP to camera-sized frames, as src/media/pipeline/inputs.ts builds it.
decode() { # PORT
  echo "udpsrc address=127.0.0.1 port=$1 buffer-size=4194304 caps=$H264_CAPS ! rtpjitterbuffer latency=200 mode=slave ! rtph264depay request-keyframe=true ! h264parse ! avdec_h264 ! videorate max-duplication-time=1000000000 ! video/x-raw,framerate=15/1 ! videoconvertscale add-borders=true ! $CAMERA"
}
from_shm() { echo "shmsrc socket-path=$out/host$1.shm is-live=true do-timestamp=true ! $CAMERA,framerate=15/1 ! queue max-size-buffers=3"; }
from_udp_raw() { echo "udpsrc address=127.0.0.1 port=$1 buffer-size=8388608 caps=$RAW_CAPS ! rtpvrawdepay ! videorate max-duplication-time=1000000000 ! video/x-raw,framerate=15/1"; }
compositor() {
  local c="compositor name=vmix background=black" i
  for i in 0 1 2 3; do
    c="$c sink_$i::xpos=$(((i % 2) * 180)) sink_$i::ypos=$(((i / 2) * 320 + 109)) sink_$i::width=180 sink_$i::height=101"
  done
  echo "$c"
}

pids=() sender=''
cleanup() { kill "${pids[@]}" $sender 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
start() { # LOG PIPELINE...
  local log=$1; shift
  gst-launch-1.0 -e -q $* >"$log" 2>&1 &
  pids+=($!)
}
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }

run() { # LAYOUT
  local layout=$1 copies=4 i
  out=$(mktemp -d /tmp/shared-decode.XXXXXX)
  pids=()
  [ "$layout" = per-recording ] && copies=8
  local sends=''
  for ((i = 0; i < copies; i++)); do sends="$sends t. ! queue ! udpsink host=127.0.0.1 port=$((5600 + i)) sync=false async=false"; done
  # Snow: incompressible, so the hosts' encoder really produces its 2.5 Mbit/s.
  gst-launch-1.0 -q videotestsrc is-live=true pattern=snow ! video/x-raw,width=640,height=360,framerate=15/1 ! \
    x264enc tune=zerolatency speed-preset=ultrafast bitrate=2500 key-int-max=60 ! \
    rtph264pay config-interval=-1 aggregate-mode=zero-latency ! tee name=t $sends >"$out/sender.log" 2>&1 &
  sender=$!
  case $layout in
    shm)
      for i in 0 1 2 3; do start "$out/decoder$i.log" "$(decode $((5600 + i))) ! shmsink socket-path=$out/host$i.shm shm-size=20000000 wait-for-connection=false sync=false"; done
      sleep 1 ;;
    udp-raw)
      for i in 0 1 2 3; do start "$out/decoder$i.log" "$(decode $((5600 + i))) ! rtpvrawpay mtu=60000 ! tee name=t t. ! queue ! udpsink host=127.0.0.1 port=$((5700 + i)) sync=false async=false t. ! queue ! udpsink host=127.0.0.1 port=$((5710 + i)) sync=false async=false"; done ;;
  esac
  if [ "$layout" = one-process ]; then
    local all="$(muxer cm composite) $(compositor) ! $(encode 360 640 cm) $(tone 440 cm)"
    for i in 0 1 2 3; do
      all="$all $(muxer m$i host$i) $(decode $((5600 + i))) ! tee name=d$i d$i. ! queue max-size-buffers=3 ! vmix.sink_$i d$i. ! queue max-size-buffers=3 ! $(encode 640 360 m$i) $(tone $((300 + 100 * i)) m$i)"
    done
    start "$out/all.log" "$all"
  else
    local inputs='' src
    for i in 0 1 2 3; do
      case $layout in
        per-recording) src=$(decode $((5600 + i))) ;;
        shm) src=$(from_shm $i) ;;
        udp-raw) src=$(from_udp_raw $((5700 + i))) ;;
      esac
      start "$out/host$i.log" "$(muxer m host$i) $src ! $(encode 640 360 m) $(tone $((300 + 100 * i)) m)"
      case $layout in
        per-recording) src=$(decode $((5604 + i))) ;;
        shm) src=$(from_shm $i) ;;
        udp-raw) src=$(from_udp_raw $((5710 + i))) ;;
      esac
      inputs="$inputs $src ! vmix.sink_$i"
    done
    start "$out/composite.log" "$(muxer m composite) $(compositor) ! $(encode 360 640 m) $inputs $(tone 440 m)"
  fi
  sleep "$warmup"
  local -A before
  local p
  for p in "${pids[@]}" $sender; do before[$p]=$(ticks $p); done
  sleep "$window"
  local total=0 rss=0 used parts=''
  for p in "${pids[@]}"; do
    used=$(($(ticks $p) - before[$p]))
    total=$((total + used))
    rss=$((rss + $(awk '/VmRSS/ {print $2}' /proc/$p/status)))
    parts="$parts $(basename "$(ls -l /proc/$p/fd/1 | sed 's/.* -> //')" .log)=$(echo "scale=1; $used / $window" | bc)"
  done
  local sent=$(($(ticks $sender) - before[$sender]))
  # Recorders first, so their last snippets close before any decoder goes away.
  for p in "${pids[@]}"; do grep -qa 'shmsink\|rtpvrawpay' /proc/$p/cmdline || kill -INT $p; done
  sleep 3
  cleanup
  local frames=0 files=0 f
  for f in "$out"/*.mp4; do
    files=$((files + 1))
    frames=$((frames + $(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$f")))
  done
  printf '%-14s %6s %% of a core  %5s MiB  sender %5s %%  %2d snippets, %6d frames, %d error lines\n   %s\n' \
    "$layout" "$(echo "scale=1; $total / $window" | bc)" $((rss / 1024)) "$(echo "scale=1; $sent / $window" | bc)" \
    $files $frames "$(cat "$out"/*.log | grep -ci error || true)" "$parts"
  rm -rf "$out"
}

echo "one livestream, $window-s window after $warmup s, CPU of recorders and decoders together:"
for ((r = 0; r < rounds; r++)); do
  for layout in "${layouts[@]}"; do run "$layout"; sleep 2; done
done
