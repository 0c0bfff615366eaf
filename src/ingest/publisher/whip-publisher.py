#!/usr/bin/python3
"""Synthetic host: publishes a moving pattern with the host's name and a tone over WHIP.

GStreamer webrtcbin is the WebRTC stack, so the ingest is exercised by an implementation
that shares no code with it. ICE is pinned to 127.0.0.1: tests and benchmarks must never
send connectivity checks to the machine's other addresses.

Prints one JSON line per state change on stdout (posted, answered, connected, failed,
stopped) so a parent process can follow along without parsing GStreamer logs, and one
keyframe-request line (with the running count) each time the video encoder is asked for a
keyframe: the far end's PLI or FIR, or the camera coming back on.

Commands on stdin, one per line, change what is sent while the session stays up (no
renegotiation). Each applied command is echoed as a JSON line; anything else gets
{"event": "error", ...} and publishing goes on. End of stdin is not a stop signal.

  camera off | camera on   no video RTP at all while off; on resumes with a keyframe
  mic off | mic on         no audio RTP at all while off
  impair black             black picture, host name hidden
  impair frozen            the picture of the moment repeated
  impair silence           digital silence
  impair clipping          the tone overdriven into hard clipping
  impair noise             loud white noise instead of the tone
  impair none              clears every impairment

Video impairments (black, frozen) and audio ones (silence, clipping, noise) are
independent: a new one replaces the previous one of its kind only. --camera, --mic and
--impair set the state at start.
"""

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo, GstWebRTC  # noqa: E402

from whip_client import (  # noqa: E402
    GATHER_TIMEOUT_MS,
    WhipError,
    delete_session,
    emit,
    loopback_only,
    make_sendonly,
    parse_answer,
    pin_ice_to_loopback,
    post_offer,
)

# Four hosts' tones add up in the composite: at 0.2 each their sum stays below full scale, where at
# 0.3 it reached it now and then and the composite was rightly flagged as clipping.
TONE_VOLUME = 0.2
NOISE_VOLUME = 0.8
# The volume element tops out at 10; ten times a 0.2 tone still clips most samples.
CLIPPING_GAIN = 10.0
VIDEO_IMPAIRMENTS = ("black", "frozen")
AUDIO_IMPAIRMENTS = ("silence", "clipping", "noise")
IMPAIRMENTS = ("none",) + VIDEO_IMPAIRMENTS + AUDIO_IMPAIRMENTS


class Publisher:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.location = None
        self.exit_code = 0
        self.offer_sent = False
        self.stopping = False
        self.pipeline = Gst.parse_launch(self.describe())
        self.webrtc = self.pipeline.get_by_name("webrtc")
        self.ice_refs = pin_ice_to_loopback(self.webrtc)
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering_state)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

        self.camera = self.pipeline.get_by_name("camera")
        self.label = self.pipeline.get_by_name("label")
        self.tone = self.pipeline.get_by_name("tone")
        self.gain = self.pipeline.get_by_name("gain")
        self.video_encoder = self.pipeline.get_by_name("venc")
        # Read by pad probes on streaming threads, written by the main loop; single
        # attribute stores, so the GIL is all the locking they need.
        self.camera_on = args.camera == "on"
        self.mic_on = args.mic == "on"
        self.video_needs_keyframe = True
        self.freeze = "off"  # off | armed (until a frame made after the switch) | on
        self.freeze_from = 0  # running time from which a frame shows the switched picture
        self.video_impairment = "none"
        self.audio_impairment = "none"
        self.stdin_pending = b""
        # Gating after the encoders, not before: caps still reach webrtcbin when the
        # camera starts off, and RTP sequence numbers stay contiguous across a gap.
        self.video_encoder.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.gate_video)
        self.pipeline.get_by_name("aenc").get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER, self.gate_audio
        )
        still = self.pipeline.get_by_name("still")
        if still:
            still.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.gate_freeze)
        # webrtcbin turns a PLI or FIR into a force-key-unit event travelling up to the encoder.
        self.keyframe_requests = 0
        self.video_encoder.get_static_pad("src").add_probe(
            Gst.PadProbeType.EVENT_UPSTREAM, self.on_upstream_event
        )
        for name in args.impair:
            self.set_impairment(name)

    def describe(self):
        a = self.args
        text = a.name.replace('"', "'")
        raw_video = f"video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1"
        # --sync: the picture flips between dark and bright every 50 frames and the sound ticks at
        # each flip, so a recording shows how far its sound is from its picture.
        picture = "pattern=ball flip=true" if a.sync else f"pattern={a.pattern}"
        sound = (
            f"wave=ticks tick-interval={round(50 * 1e9 / a.fps)} freq=1000 volume=0.8"
            if a.sync
            else f"wave=sine freq={a.tone_hz} volume={TONE_VOLUME}"
        )
        # imagefreeze keeps sending the last frame it got: starving it freezes the picture
        # without touching the encoder. It picks 25 fps unless told otherwise. It also stamps
        # each frame anew, up to 110 ms after its time: with --sync (no impairments) it is left
        # out, so that the picture keeps its time against the sound.
        freeze = (
            ""
            if a.sync
            else f"imagefreeze name=still is-live=true allow-replace=true ! {raw_video} ! "
        )
        return (
            "webrtcbin name=webrtc bundle-policy=max-bundle latency=200 "
            f"videotestsrc name=camera is-live=true {picture} "
            f"horizontal-speed={a.motion} ! {raw_video} ! "
            f'textoverlay name=label text="{text}" valignment=top halignment=left '
            'font-desc="Sans 24" ! '
            "videoconvert ! video/x-raw,format=I420 ! "
            f"{freeze}"
            f"x264enc name=venc tune=zerolatency speed-preset=ultrafast bitrate={a.kbps} "
            f"key-int-max={a.fps * 2} ! "
            "video/x-h264,profile=constrained-baseline ! "
            "rtph264pay config-interval=-1 aggregate-mode=zero-latency ! "
            "application/x-rtp,media=video,encoding-name=H264,payload=96 ! webrtc. "
            f"audiotestsrc name=tone is-live=true {sound} ! "
            "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=2 ! "
            # Integer samples, so that gain above 1 clips at full scale instead of
            # handing the encoder values beyond it.
            "volume name=gain ! "
            "opusenc name=aenc bitrate=64000 ! rtpopuspay ! "
            "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc. "
        )

    def run(self):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        if self.args.duration > 0:
            GLib.timeout_add(int(self.args.duration * 1000), self.stop)
        GLib.io_add_watch(
            0, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, self.on_stdin
        )
        self.pipeline.set_state(Gst.State.PLAYING)
        self.loop.run()
        return self.exit_code

    def on_stdin(self, fd, _condition):
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            # A parent that closes our stdin has not asked us to stop; signals and
            # --duration do that. Dropping the watch keeps HUP from spinning the loop.
            if self.stdin_pending.strip():
                self.command(self.stdin_pending.decode(errors="replace"))
            self.stdin_pending = b""
            return GLib.SOURCE_REMOVE
        *complete, self.stdin_pending = (self.stdin_pending + chunk).split(b"\n")
        for line in complete:
            self.command(line.decode(errors="replace"))
        return GLib.SOURCE_CONTINUE

    def command(self, line):
        words = line.split()
        if not words or self.stopping:
            return
        match words:
            case ["camera", ("on" | "off") as state]:
                self.set_camera(state == "on")
                emit("camera", on=self.camera_on)
            case ["mic", ("on" | "off") as state]:
                self.mic_on = state == "on"
                emit("mic", on=self.mic_on)
            case ["impair", name] if self.args.sync and name != "none":
                emit("error", message="no impairments with --sync: they change its flashes and ticks")
            case ["impair", name] if name in IMPAIRMENTS:
                self.set_impairment(name)
                emit("impair", name=name, video=self.video_impairment, audio=self.audio_impairment)
            case ["impair", name]:
                emit("error", message=f"unknown impairment {name}; one of {', '.join(IMPAIRMENTS)}")
            case _:
                emit("error", message=f"unknown command: {line.strip()}")

    def set_camera(self, on):
        if on and not self.camera_on:
            # Whatever the encoder has in flight is a delta frame nobody can decode after
            # the gap; gate_video drops those until the keyframe asked for here.
            self.video_needs_keyframe = True
            event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
            self.video_encoder.get_static_pad("src").send_event(event)
        self.camera_on = on

    def set_impairment(self, name):
        if name in VIDEO_IMPAIRMENTS or name == "none":
            self.video_impairment = name
            black = self.video_impairment == "black"
            Gst.util_set_object_arg(self.camera, "pattern", "black" if black else self.args.pattern)
            self.label.set_property("silent", black)
            self.freeze_from = self.running_time() + 2 * Gst.SECOND // self.args.fps
            self.freeze = "armed" if self.video_impairment == "frozen" else "off"
        if name in AUDIO_IMPAIRMENTS or name == "none":
            self.audio_impairment = name
            wave = {"silence": "silence", "noise": "white-noise"}.get(name, "sine")
            Gst.util_set_object_arg(self.tone, "wave", wave)
            self.tone.set_property("volume", NOISE_VOLUME if name == "noise" else TONE_VOLUME)
            self.gain.set_property("volume", CLIPPING_GAIN if name == "clipping" else 1.0)

    def gate_video(self, _pad, info):
        if not self.camera_on:
            return Gst.PadProbeReturn.DROP
        if self.video_needs_keyframe:
            if info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
                return Gst.PadProbeReturn.DROP
            self.video_needs_keyframe = False
        return Gst.PadProbeReturn.OK

    def on_upstream_event(self, _pad, info):
        if GstVideo.video_event_is_force_key_unit(info.get_event()):
            # Streaming thread: the line is printed from the main loop, whole.
            GLib.idle_add(self.report_keyframe_request)
        return Gst.PadProbeReturn.OK

    def report_keyframe_request(self):
        self.keyframe_requests += 1
        emit("keyframe-request", count=self.keyframe_requests)
        return GLib.SOURCE_REMOVE

    def gate_audio(self, _pad, _info):
        return Gst.PadProbeReturn.OK if self.mic_on else Gst.PadProbeReturn.DROP

    def running_time(self):
        clock = self.pipeline.get_clock()
        return 0 if clock is None else max(0, clock.get_time() - self.pipeline.get_base_time())

    def gate_freeze(self, _pad, info):
        # A live source fills a frame up to one frame time before its timestamp, and the
        # frames on their way here were made before the switch: so the picture frozen is
        # the first one stamped two frame times after it. A switch away from black then
        # freezes the live picture rather than the last black frame.
        if self.freeze == "armed" and info.get_buffer().pts >= self.freeze_from:
            self.freeze = "on"
            return Gst.PadProbeReturn.OK
        return Gst.PadProbeReturn.DROP if self.freeze == "on" else Gst.PadProbeReturn.OK

    def stop(self, *_):
        if self.stopping:
            return GLib.SOURCE_REMOVE
        self.stopping = True
        self.delete_session()
        self.pipeline.set_state(Gst.State.NULL)
        emit("stopped", code=self.exit_code)
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def fail(self, message):
        emit("failed", message=message)
        print(message, file=sys.stderr, flush=True)
        self.exit_code = 1
        self.stop()

    def on_error(self, _bus, message):
        err, debug = message.parse_error()
        self.fail(f"{err.message} ({debug})")

    def on_negotiation_needed(self, element):
        make_sendonly(element)
        promise = Gst.Promise.new_with_change_func(self.on_offer_created, element, None)
        element.emit("create-offer", None, promise)

    def on_offer_created(self, promise, element, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        element.emit("set-local-description", offer, Gst.Promise.new())
        # Candidates are not trickled (WHIP PATCH is optional), so wait for gathering,
        # but not forever: loopback gathering is instant, a stuck agent is not.
        GLib.timeout_add(GATHER_TIMEOUT_MS, self.send_offer)

    def on_gathering_state(self, element, _pspec):
        if element.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.send_offer)

    def on_connection_state(self, element, _pspec):
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            emit("connected")
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            GLib.idle_add(self.fail, "peer connection failed")

    def send_offer(self):
        if self.offer_sent or self.stopping:
            return GLib.SOURCE_REMOVE
        self.offer_sent = True
        sdp = loopback_only(self.webrtc.get_property("local-description").sdp.as_text())
        emit("posted")
        try:
            answer, self.location = post_offer(self.args.url, self.args.token, sdp)
        except WhipError as err:
            self.fail(str(err))
            return GLib.SOURCE_REMOVE
        description = parse_answer(answer)
        if description is None:
            self.fail("WHIP answer is not SDP")
            return GLib.SOURCE_REMOVE
        self.webrtc.emit("set-remote-description", description, Gst.Promise.new())
        emit("answered", location=self.location)
        return GLib.SOURCE_REMOVE

    def delete_session(self):
        if not self.location:
            return
        delete_session(self.location, self.args.token)
        self.location = None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="WHIP endpoint")
    parser.add_argument("--token", default="", help="bearer token")
    parser.add_argument("--name", default="host", help="text drawn on the video")
    parser.add_argument("--tone-hz", type=float, default=440.0)
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until SIGTERM")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--kbps", type=int, default=1500)
    # A moving ball compresses to ~100 kbit/s whatever the target; snow fills the budget,
    # which load measurements need.
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern (ball, snow, ...)")
    parser.add_argument(
        "--motion",
        type=int,
        default=2,
        help="pixels the picture scrolls per frame: a still picture looks frozen to moderation",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="flashes and ticks together every 50 frames, to measure A/V sync (overrides --pattern)",
    )
    parser.add_argument("--camera", choices=("on", "off"), default="on", help="video at start")
    parser.add_argument("--mic", choices=("on", "off"), default="on", help="audio at start")
    parser.add_argument(
        "--impair",
        choices=IMPAIRMENTS,
        action="append",
        default=[],
        help="impairment at start; repeat for one video and one audio impairment",
    )
    args = parser.parse_args(argv)
    if args.sync and args.impair:
        parser.error("--sync and --impair do not go together: impairments change the flashes and ticks")
    return args


def main(argv):
    Gst.init(None)
    return Publisher(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
