"""What every GStreamer WHIP publisher here shares: JSON lines out, ICE on 127.0.0.1 only, and
the WHIP exchange itself (POST offer, SDP answer, DELETE on the way out).

Tests and benchmarks must never send connectivity checks to the machine's other addresses,
so ICE is pinned to loopback and non-loopback candidates never leave in an offer.
"""

import ctypes
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GstSdp, GstWebRTC  # noqa: E402

LOOPBACK = "127.0.0.1"
GATHER_TIMEOUT_MS = 2000


class WhipError(Exception):
    """The WHIP exchange failed; the message is meant for the JSON line and stderr."""


# Events come from the main loop and from GStreamer's threads alike; print() writes a line and its
# newline separately, so two threads could run two events into one line.
_emit_lock = threading.Lock()


def emit(event, **fields):
    line = json.dumps({"event": event, "t": time.time(), **fields}) + "\n"
    with _emit_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


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


def make_sendonly(webrtc):
    """A publisher only sends; sendrecv would ask the server for media it never has."""
    index = 0
    while (transceiver := webrtc.emit("get-transceiver", index)) is not None:
        transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        index += 1


def post_offer(url, token, sdp, timeout=10):
    """POSTs the offer; returns the answer's text and the session's absolute URL (or None).

    Blocks, so a caller with many sessions runs it off the main loop.
    """
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=sdp.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read().decode()
            location = response.headers.get("Location")
            status = response.status
    except urllib.error.HTTPError as err:
        raise WhipError(f"WHIP POST answered {err.code}: {err.read().decode(errors='replace')}")
    except OSError as err:
        raise WhipError(f"WHIP POST failed: {err}")
    if status != 201:
        raise WhipError(f"WHIP POST answered {status}, expected 201")
    return answer, urllib.parse.urljoin(url, location) if location else None


def parse_answer(text):
    """The answer as webrtcbin takes it, or None when it is not SDP."""
    ok, message = GstSdp.SDPMessage.new_from_text(text)
    if ok != GstSdp.SDPResult.OK:
        return None
    return GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)


def delete_session(location, token, timeout=5):
    """Ends the session on the server; a failure is only worth a line on stderr."""
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(location, headers=headers, method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except (urllib.error.HTTPError, OSError) as err:
        print(f"WHIP DELETE failed: {err}", file=sys.stderr, flush=True)
