#!/usr/bin/env bash
# Whether a host's picture stays in step with its sound when a decoder process hands the frames
# to the recording over shared memory, against today's recording that decodes the RTP itself.
# One sender makes one host's RTP (H.264 and Opus) from tapedeck's sync source: the picture
# inverts and the audio ticks on the same instants. Three recordings take copies of the same RTP
# at once, so the sender's own offset is the same for all; each writes 5-s MP4 snippets with
# tapedeck's encoders, and the A/V offset of every inversion is measured
# (test/support/av-sync.ts; positive = audio late).
#
#   per-recording  receives the RTP and decodes it (today)
#   shm            reads raw frames a decoder process puts in shared memory (shmsrc, stamped
#                  on arrival)
#   shm-offset     as shm, with its audio put later by --audio-offset-ms (rtpjitterbuffer
#                  ts-offset; default 55, what the frames lost against per-recording here)
#
# After --seconds the decoder is killed, and the script says which recordings were still
# running 3 s later. Loopback only.
# Usage: scripts/shared-decode-sync.sh [--seconds S] [--audio-offset-ms MS]
set -euo pipefail

seconds=30 audio_offset_ms=55
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --audio-offset-ms) audio_offset_ms=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$root/.tools/bin:$PATH
for tool in gst-launch-1.0 ffmpeg; do
  command -v $tool >/dev/null || { echo "$tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

JITTER_MS=100
PERIOD_NS=$((50 * 1000000000 / 15)) # syncPeriodNs(15): the ball pattern inverts every 50 frames
H264_CAPS='application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96'
OPUS_CAPS='application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111'
CAMERA='video/x-raw,format=I420,width=640,height=360,pixel-aspect-ratio=1/1'

# As src/media/pipeline/inputs.ts, encoders.ts and outputs.ts build them.
decode() { # PORT
  echo "udpsrc address=127.0.0.1 port=$1 buffer-size=4194304 caps=$H264_CAPS ! rtpjitterbuffer latency=$JITTER_MS mode=slave ! rtph264depay request-keyframe=true ! h264parse ! avdec_h264 ! videorate max-duplication-time=1000000000 ! video/x-raw,framerate=15/1 ! videoconvertscale add-borders=true ! $CAMERA"
}
microphone() { # PORT TS-OFFSET-NS
  echo "udpsrc address=127.0.0.1 port=$1 buffer-size=4194304 caps=$OPUS_CAPS ! rtpjitterbuffer latency=$JITTER_MS mode=slave ts-offset=$2 ! rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1"
}
from_shm() { echo "shmsrc socket-path=$out/host.shm is-live=true do-timestamp=true ! $CAMERA,framerate=15/1 ! queue max-size-buffers=3"; }
record() { # NAME VIDEO AUDIO-PORT AUDIO-OFFSET-NS
  start "$out/$1.log" "splitmuxsink name=m location=$out/$1_%05d.mp4 max-size-time=5000000000 send-keyframe-requests=true async-finalize=true muxer-factory=mp4mux" \
    "$2 ! capsfilter caps=video/x-raw,format=I420,width=640,height=360,framerate=15/1,pixel-aspect-ratio=1/1 ! videorate drop-only=true ! queue max-size-time=1000000000 ! x264enc bitrate=5000 vbv-buf-capacity=1000 speed-preset=superfast tune=zerolatency key-int-max=5 threads=1 option-string=scenecut=0 ! video/x-h264,profile=main ! h264parse config-interval=-1 ! queue ! m.video" \
    "$(microphone "$3" "$4") ! audioconvert ! audiorate ! queue ! voaacenc bitrate=44000 perfect-timestamp=true ! aacparse ! queue ! m.audio_0"
  recorders[$1]=${pids[-1]}
}

pids=()
declare -A recorders
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
start() { # LOG PIPELINE...
  local log=$1; shift
  gst-launch-1.0 -e -q $* >"$log" 2>&1 &
  pids+=($!)
}

out=$(mktemp -d /tmp/shared-decode-sync.XXXXXX)
start "$out/sender.log" \
  "videotestsrc is-live=true pattern=ball flip=true ! video/x-raw,width=640,height=360,framerate=15/1 ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=2500 key-int-max=30 ! rtph264pay config-interval=-1 aggregate-mode=zero-latency ! tee name=v" \
  "v. ! queue ! udpsink host=127.0.0.1 port=5800 sync=false async=false v. ! queue ! udpsink host=127.0.0.1 port=5802 sync=false async=false" \
  "audiotestsrc is-live=true wave=ticks tick-interval=$PERIOD_NS freq=1000 volume=0.8 ! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay pt=111 ! tee name=a" \
  "a. ! queue ! udpsink host=127.0.0.1 port=5801 sync=false async=false a. ! queue ! udpsink host=127.0.0.1 port=5803 sync=false async=false a. ! queue ! udpsink host=127.0.0.1 port=5805 sync=false async=false"
start "$out/decoder.log" "$(decode 5802) ! shmsink socket-path=$out/host.shm shm-size=20000000 wait-for-connection=false sync=false"
decoder=${pids[-1]}
sleep 1
record per-recording "$(decode 5800)" 5801 0
record shm "$(from_shm)" 5803 0
record shm-offset "$(from_shm)" 5805 $((audio_offset_ms * 1000000))
sleep "$seconds"
kill -9 "$decoder"
sleep 3
for name in per-recording shm shm-offset; do
  state=stopped
  kill -0 "${recorders[$name]}" 2>/dev/null && state=running
  echo "$name: $state 3 s after the decoder was killed; $(grep -ci error "$out/$name.log" || true) error lines $(grep -i -m1 error "$out/$name.log" | sed 's/.*: //' | cut -c1-80 || true)"
  kill -INT "${recorders[$name]}" 2>/dev/null || true
done
sleep 3
cleanup
(cd "$root" && npx tsx -e "
  import { measureAvSync } from './test/support/av-sync.ts';
  import { readdirSync } from 'node:fs';
  const dir = '$out';
  void (async () => {
    for (const name of ['per-recording', 'shm', 'shm-offset']) {
      const files = readdirSync(dir).filter((f) => f.startsWith(name + '_')).sort();
      const offsets: string[] = [];
      for (const f of files) {
        try {
          offsets.push(...(await measureAvSync(dir + '/' + f)).offsetsMs.map((o) => o.toFixed(0)));
        } catch (e) {
          offsets.push('(' + f + ': ' + (e as Error).message.split(dir + '/').join('').split('\n')[0] + ')');
        }
      }
      console.log(name + ': ' + files.length + ' snippets, A/V offsets in ms: ' + offsets.join(', '));
    }
  })();")
rm -rf "$out"
