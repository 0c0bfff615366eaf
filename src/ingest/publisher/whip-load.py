#!/usr/bin/python3
"""Load generator: many WHIP publishes from one process, the media encoded only once.

A benchmark of the ingest needs dozens of publishers at a real bitrate, and one x264 encoder
per publisher (whip-publisher.py) starves a small machine long before that. Here one
videotestsrc (snow by default: incompressible, so the encoder really produces --kbps) goes
through one x264enc, one tone through one opusenc, and a tee hands both to every session:
each its own webrtcbin, peer connection, WHIP URL and bearer token. A leaky queue heads
every branch, so a session that falls behind loses its own frames and holds up nobody.
A keyframe request (PLI, FIR) from any session reaches the shared encoder, and the keyframe
goes to all: cheap for the encoder, and harmless for a receiver.

ICE is pinned to 127.0.0.1, as in whip-publisher.py.

The sessions are a JSON list of {"url": ..., "token": ...} in --sessions FILE ("-" reads
stdin to its end). Each session's state changes are JSON lines on stdout with its "index"
in that list: posted, answered, connected, failed, and keyframe-request (with the session's
running count); a failed session is cut off its tees and the others go on. A second in which the
shared sound fell 300 ms or more behind the clock gives a "sound-behind" line (atMs, encodedMs,
sentMs). The last line is {"event": "stopped", "code", "failed"}. SIGTERM, SIGINT or --duration end every session
with a DELETE of its Location; the exit code is 1 when any session failed.
"""

import argparse
import json
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

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

MAX_SESSIONS = 256
# Encoded media a branch may hold before it drops the oldest: enough to ride out a scheduling
# hiccup, little enough that a stuck session costs no memory to speak of.
BRANCH_QUEUE_NS = 1_000_000_000
# Every DELETE runs at once; the whole goodbye must fit in a parent's grace period.
DELETE_TIMEOUT_S = 3
# A second's worst lag of the sound behind the clock that is reported ("sound-behind").
SOUND_BEHIND_MS = 300
OFFER_ATTEMPTS = 10
OFFER_RETRY_MS = 300


class Session:
    def __init__(self, index, url, token):
        self.index = index
        self.url = url
        self.token = token
        self.webrtc = None
        self.ice_refs = None
        self.tee_pads = []
        self.location = None
        self.offer_sent = False
        self.state = "new"
        self.keyframe_requests = 0
        self.offer_attempts = 0


class Load:
    def __init__(self, args, sessions):
        self.args = args
        self.sessions = [Session(i, s["url"], s.get("token", "")) for i, s in enumerate(sessions)]
        self.loop = GLib.MainLoop()
        self.stopping = False
        self.lock = threading.Lock()
        self.http = ThreadPoolExecutor(max_workers=min(len(self.sessions), 64))
        self.pipeline = Gst.parse_launch(self.describe())
        self.owner = {}
        for s in self.sessions:
            s.webrtc = self.pipeline.get_by_name(f"webrtc{s.index}")
            s.ice_refs = pin_ice_to_loopback(s.webrtc)
            s.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed, s)
            s.webrtc.connect("notify::ice-gathering-state", self.on_gathering_state, s)
            s.webrtc.connect("notify::connection-state", self.on_connection_state, s)
            for kind in ("v", "a"):
                queue = self.pipeline.get_by_name(f"{kind}q{s.index}")
                s.tee_pads.append(queue.get_static_pad("sink").get_peer())
                if kind == "v":
                    queue.get_static_pad("src").add_probe(
                        Gst.PadProbeType.EVENT_UPSTREAM, self.on_upstream_event, s
                    )
                for name in (f"{kind}q{s.index}", f"{kind}pay{s.index}", f"webrtc{s.index}"):
                    self.owner[name] = s
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)
        # How far behind the clock the sound is as it is encoded and as the first session sends
        # it: a publisher short of CPU sends its sound ever later against its RTP time, which a
        # recorder's mixer then drops as late, while video, timed by arrival, hides the delay.
        self.behind = {"encoded": 0, "sent": 0}
        probes = [("aenc", "encoded")] + ([("apay0", "sent")] if self.sessions else [])
        for element, where in probes:
            self.pipeline.get_by_name(element).get_static_pad("src").add_probe(
                Gst.PadProbeType.BUFFER, self.on_sound, where
            )
        GLib.timeout_add(1000, self.report_sound_behind)

    def describe(self):
        a = self.args
        raw_video = f"video/x-raw,format=I420,width={a.width},height={a.height},framerate={a.fps}/1"
        queue = (
            "queue leaky=downstream max-size-buffers=0 max-size-bytes=0 "
            f"max-size-time={BRANCH_QUEUE_NS}"
        )
        parts = [
            f"videotestsrc is-live=true pattern={a.pattern} horizontal-speed={a.scroll} ! {raw_video} ! "
            f"x264enc name=venc tune=zerolatency speed-preset=ultrafast bitrate={a.kbps} "
            f"key-int-max={a.fps * 2} ! "
            "video/x-h264,profile=constrained-baseline ! tee name=vtee allow-not-linked=true",
            f"audiotestsrc is-live=true wave=sine freq={a.tone_hz} volume={a.volume} ! "
            "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=2 ! "
            "opusenc name=aenc bitrate=64000 ! tee name=atee allow-not-linked=true",
        ]
        for s in self.sessions:
            i = s.index
            # Payloading per branch: each session numbers its own packets, as a real
            # publisher would, and the payloader passes keyframe requests upstream.
            parts.append(
                f"webrtcbin name=webrtc{i} bundle-policy=max-bundle latency=200 "
                f"vtee. ! {queue} name=vq{i} ! "
                f"rtph264pay name=vpay{i} config-interval=-1 aggregate-mode=zero-latency ! "
                f"application/x-rtp,media=video,encoding-name=H264,payload=96 ! webrtc{i}. "
                f"atee. ! {queue} name=aq{i} ! rtpopuspay name=apay{i} ! "
                f"application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc{i}."
            )
        return " ".join(parts)

    def run(self):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        if self.args.duration > 0:
            GLib.timeout_add(int(self.args.duration * 1000), self.stop)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            emit("failed", message="the pipeline would not start")
            return 1
        self.loop.run()
        return self.exit_code()

    def exit_code(self):
        return 1 if any(s.state == "failed" for s in self.sessions) else 0

    def stop(self, *_):
        if self.stopping:
            return GLib.SOURCE_REMOVE
        with self.lock:
            self.stopping = True
            leaving = [s for s in self.sessions if s.location]
        # A POST still in flight deletes its own session when it returns (see post).
        futures = [
            self.http.submit(delete_session, s.location, s.token, DELETE_TIMEOUT_S)
            for s in leaving
        ]
        wait(futures, timeout=DELETE_TIMEOUT_S + 1)
        self.http.shutdown(wait=False, cancel_futures=True)
        self.pipeline.set_state(Gst.State.NULL)
        failed = sum(s.state == "failed" for s in self.sessions)
        emit("stopped", code=self.exit_code(), failed=failed)
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def fail(self, session, message):
        if session.state == "failed" or self.stopping:
            return GLib.SOURCE_REMOVE
        session.state = "failed"
        emit("failed", index=session.index, message=message)
        print(f"session {session.index}: {message}", file=sys.stderr, flush=True)
        # Dropping at the tee, not downstream: an error flowing back through a queue would
        # reach the tee and stop the shared encoders for every session.
        for pad in session.tee_pads:
            pad.add_probe(
                Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST,
                lambda *_: Gst.PadProbeReturn.DROP,
            )
        if session.location:
            self.http.submit(delete_session, session.location, session.token, DELETE_TIMEOUT_S)
            session.location = None
        return GLib.SOURCE_REMOVE

    def on_error(self, _bus, message):
        err, debug = message.parse_error()
        text = f"{err.message} ({debug})"
        element = message.src
        while element is not None and element.get_name() not in self.owner:
            element = element.get_parent()
        if element is not None:
            self.fail(self.owner[element.get_name()], text)
            return
        # The shared sources and encoders: nothing is published any more.
        for s in self.sessions:
            self.fail(s, text)
        print(text, file=sys.stderr, flush=True)
        self.stop()

    def on_sound(self, _pad, info, where):
        clock = self.pipeline.get_clock()
        pts = info.get_buffer().pts
        if clock is not None and pts != Gst.CLOCK_TIME_NONE:
            behind = clock.get_time() - self.pipeline.get_base_time() - pts
            self.behind[where] = max(self.behind[where], behind)
        return Gst.PadProbeReturn.OK

    def report_sound_behind(self):
        worst = {k: round(v / 1e6) for k, v in self.behind.items()}
        self.behind = {k: 0 for k in self.behind}
        if max(worst.values()) >= SOUND_BEHIND_MS:
            at_ms = round(time.time() * 1000)
            emit("sound-behind", atMs=at_ms, **{f"{k}Ms": v for k, v in worst.items()})
        return GLib.SOURCE_CONTINUE

    def on_upstream_event(self, _pad, info, session):
        if GstVideo.video_event_is_force_key_unit(info.get_event()):
            GLib.idle_add(self.report_keyframe_request, session)
        return Gst.PadProbeReturn.OK

    def report_keyframe_request(self, session):
        session.keyframe_requests += 1
        emit("keyframe-request", index=session.index, count=session.keyframe_requests)
        return GLib.SOURCE_REMOVE

    def on_negotiation_needed(self, element, session):
        make_sendonly(element)
        self.create_offer(session)

    def create_offer(self, session):
        promise = Gst.Promise.new_with_change_func(self.on_offer_created, session.webrtc, session)
        session.webrtc.emit("create-offer", None, promise)
        return GLib.SOURCE_REMOVE

    def on_offer_created(self, promise, element, session):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply and reply.has_field("offer") else None
        if offer is None:
            error = reply.get_value("error") if reply and reply.has_field("error") else None
            GLib.idle_add(self.retry_offer, session, error.message if error else "no reply")
            return
        element.emit("set-local-description", offer, Gst.Promise.new())
        # Candidates are not trickled, so wait for gathering, but not forever.
        GLib.timeout_add(GATHER_TIMEOUT_MS, self.send_offer, session)

    def retry_offer(self, session, reason):
        # Seen once on a loaded machine: webrtcbin had no offer to give a moment after
        # start-up. A later attempt gets one; only a persistent refusal fails the session.
        session.offer_attempts += 1
        print(f"session {session.index}: no offer ({reason})", file=sys.stderr, flush=True)
        if session.offer_attempts >= OFFER_ATTEMPTS:
            return self.fail(session, f"no offer: {reason}")
        if not self.stopping:
            GLib.timeout_add(OFFER_RETRY_MS, self.create_offer, session)
        return GLib.SOURCE_REMOVE

    def on_gathering_state(self, element, _pspec, session):
        state = element.get_property("ice-gathering-state")
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.send_offer, session)

    def on_connection_state(self, element, _pspec, session):
        # Streaming or webrtcbin thread: state and output belong to the main loop.
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            GLib.idle_add(self.connected, session)
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            GLib.idle_add(self.fail, session, "peer connection failed")

    def connected(self, session):
        if session.state == "answered":
            session.state = "connected"
            emit("connected", index=session.index)
        return GLib.SOURCE_REMOVE

    def send_offer(self, session):
        if session.offer_sent or self.stopping:
            return GLib.SOURCE_REMOVE
        session.offer_sent = True
        sdp = loopback_only(session.webrtc.get_property("local-description").sdp.as_text())
        session.state = "posted"
        emit("posted", index=session.index)
        # Off the main loop: with dozens of sessions, POSTs one after another would make
        # the last session's join wait for every other's answer.
        self.http.submit(self.post, session, sdp)
        return GLib.SOURCE_REMOVE

    def post(self, session, sdp):
        try:
            answer, location = post_offer(session.url, session.token, sdp)
        except WhipError as err:
            GLib.idle_add(self.fail, session, str(err))
            return
        # Under the lock, so that stop() either sees this Location or we see it stopping.
        with self.lock:
            late = self.stopping
            if not late:
                session.location = location
        if late:
            if location:
                delete_session(location, session.token, DELETE_TIMEOUT_S)
            return
        GLib.idle_add(self.answered, session, answer, location)

    def answered(self, session, answer, location):
        if self.stopping or session.state != "posted":
            return GLib.SOURCE_REMOVE
        description = parse_answer(answer)
        if description is None:
            return self.fail(session, "WHIP answer is not SDP")
        session.webrtc.emit("set-remote-description", description, Gst.Promise.new())
        session.state = "answered"
        emit("answered", index=session.index, location=location)
        return GLib.SOURCE_REMOVE


def read_sessions(path):
    with open(0 if path == "-" else path, encoding="utf-8") as f:
        sessions = json.load(f)
    if not isinstance(sessions, list) or not sessions:
        raise ValueError("expected a non-empty JSON list of {url, token}")
    if len(sessions) > MAX_SESSIONS:
        raise ValueError(f"at most {MAX_SESSIONS} sessions")
    for s in sessions:
        if not isinstance(s, dict) or not isinstance(s.get("url"), str):
            raise ValueError('every session needs a "url"')
        if not isinstance(s.get("token", ""), str):
            raise ValueError('a "token" must be a string')
    return sessions


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sessions", required=True, help='JSON list of {"url", "token"}; "-" reads stdin'
    )
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until SIGTERM")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--kbps", type=int, default=2500)
    parser.add_argument(
        "--scroll", type=int, default=0, help="pixels the pattern moves sideways per frame"
    )
    parser.add_argument("--tone-hz", type=float, default=440.0)
    parser.add_argument(
        "--volume", type=float, default=0.3, help="tone level; a mix of N sessions sums N of them"
    )
    parser.add_argument(
        "--pattern", default="snow", help="videotestsrc pattern; snow fills any --kbps"
    )
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    try:
        sessions = read_sessions(args.sessions)
    except (OSError, ValueError) as err:
        print(f"--sessions: {err}", file=sys.stderr)
        return 2
    Gst.init(None)
    return Load(args, sessions).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
