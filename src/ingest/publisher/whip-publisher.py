#!/usr/bin/python3
"""Synthetic host: publishes a moving pattern with the host's name and a tone over WHIP.

GStreamer webrtcbin is the WebRTC stack, so the ingest is exercised by an implementation
that shares no code with it. ICE is pinned to 127.0.0.1: tests and benchmarks must never
send connectivity checks to the machine's other addresses.

Prints one JSON line per state change on stdout (posted, answered, connected, failed,
stopped) so a parent process can follow along without parsing GStreamer logs.
"""

import argparse
import ctypes
import json
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

LOOPBACK = "127.0.0.1"
GATHER_TIMEOUT_MS = 2000


def emit(event, **fields):
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


def pin_ice_to_loopback(webrtc):
    """Makes libnice gather on 127.0.0.1 only.

    libnice skips loopback unless told about it, and once it is given any local address
    it gathers on those alone. GStreamer 1.22 has no binding for that (add-local-ip-address
    came later) and Debian ships no Nice typelib, so the C call goes through ctypes.
    """
    ice = webrtc.get_property("ice-agent")
    # TCP candidates would only add a second path to fail over to; UDP is what we test.
    ice.set_property("ice-tcp", False)
    agent = ice.get_property("agent")
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    agent_ptr = get_pointer(agent.__gpointer__, None)
    nice = ctypes.CDLL("libnice.so.10")
    nice.nice_address_new.restype = ctypes.c_void_p
    nice.nice_address_set_from_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    nice.nice_address_set_from_string.restype = ctypes.c_int
    nice.nice_agent_add_local_address.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    nice.nice_agent_add_local_address.restype = ctypes.c_int
    nice.nice_address_free.argtypes = [ctypes.c_void_p]
    address = nice.nice_address_new()
    try:
        if not nice.nice_address_set_from_string(address, LOOPBACK.encode()):
            raise RuntimeError("libnice refused the loopback address")
        if not nice.nice_agent_add_local_address(agent_ptr, address):
            raise RuntimeError("libnice refused to add the loopback address")
    finally:
        nice.nice_address_free(address)
    # The Python wrappers must outlive the pipeline, or the agent loses its last ref.
    return ice, agent


def loopback_only(sdp_text):
    """Drops every candidate line that is not on 127.0.0.1 (belt and braces)."""
    lines = []
    for line in sdp_text.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) < 5 or parts[4] != LOOPBACK:
                continue
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


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

    def describe(self):
        a = self.args
        text = a.name.replace('"', "'")
        return (
            "webrtcbin name=webrtc bundle-policy=max-bundle latency=200 "
            f"videotestsrc is-live=true pattern={a.pattern} ! "
            f"video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 ! "
            f'textoverlay text="{text}" valignment=top halignment=left font-desc="Sans 24" ! '
            "videoconvert ! video/x-raw,format=I420 ! "
            f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={a.kbps} "
            f"key-int-max={a.fps * 2} ! "
            "video/x-h264,profile=constrained-baseline ! "
            "rtph264pay config-interval=-1 aggregate-mode=zero-latency ! "
            "application/x-rtp,media=video,encoding-name=H264,payload=96 ! webrtc. "
            f"audiotestsrc is-live=true wave=sine freq={a.tone_hz} volume=0.3 ! "
            "audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! "
            "opusenc bitrate=64000 ! rtpopuspay ! "
            "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc. "
        )

    def run(self):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        if self.args.duration > 0:
            GLib.timeout_add(int(self.args.duration * 1000), self.stop)
        self.pipeline.set_state(Gst.State.PLAYING)
        self.loop.run()
        return self.exit_code

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
        # A publisher only sends; sendrecv would ask the server for media it never has.
        index = 0
        while (transceiver := element.emit("get-transceiver", index)) is not None:
            transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
            index += 1
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
        headers = {"Content-Type": "application/sdp"}
        if self.args.token:
            headers["Authorization"] = f"Bearer {self.args.token}"
        request = urllib.request.Request(self.args.url, data=sdp.encode(), headers=headers, method="POST")
        emit("posted")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = response.read().decode()
                location = response.headers.get("Location")
                status = response.status
        except urllib.error.HTTPError as err:
            self.fail(f"WHIP POST answered {err.code}: {err.read().decode(errors='replace')}")
            return GLib.SOURCE_REMOVE
        except OSError as err:
            self.fail(f"WHIP POST failed: {err}")
            return GLib.SOURCE_REMOVE
        if status != 201:
            self.fail(f"WHIP POST answered {status}, expected 201")
            return GLib.SOURCE_REMOVE
        if location:
            self.location = urllib.parse.urljoin(self.args.url, location)
        ok, message = GstSdp.SDPMessage.new_from_text(answer)
        if ok != GstSdp.SDPResult.OK:
            self.fail("WHIP answer is not SDP")
            return GLib.SOURCE_REMOVE
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self.webrtc.emit("set-remote-description", description, Gst.Promise.new())
        emit("answered", location=self.location)
        return GLib.SOURCE_REMOVE

    def delete_session(self):
        if not self.location:
            return
        headers = {}
        if self.args.token:
            headers["Authorization"] = f"Bearer {self.args.token}"
        request = urllib.request.Request(self.location, headers=headers, method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except (urllib.error.HTTPError, OSError) as err:
            print(f"WHIP DELETE failed: {err}", file=sys.stderr, flush=True)
        self.location = None


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    return parser.parse_args(argv)


def main(argv):
    Gst.init(None)
    return Publisher(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
