"""Shared helpers of the interop peers: JSON-line events on stdout, close reports.

Every line printed is one JSON object with an "event" name (ASCII only, so the locale
does not matter); the Node tests parse them (test/helpers/peers.ts, PeerProcess).
Written against the asyncio ("legacy") API of Debian's python3-websockets 10.x.
"""

import base64
import hashlib
import json
import sys

#: Messages up to this size are reported in full; larger ones by length and SHA-256.
FULL_REPORT_LIMIT = 70_000


def emit(event, **fields):
    """Prints one event line and flushes it, so the test sees it at once."""
    sys.stdout.write(json.dumps(dict(event=event, **fields)) + "\n")
    sys.stdout.flush()


def describe_message(message):
    """Describes a received message: its type, length, digest, and content when small."""
    if isinstance(message, str):
        data = message.encode("utf-8")
        report = dict(type="text", length=len(data), sha256=hashlib.sha256(data).hexdigest())
        if len(data) <= FULL_REPORT_LIMIT:
            report["data"] = message
        return report
    data = bytes(message)
    report = dict(type="binary", length=len(data), sha256=hashlib.sha256(data).hexdigest())
    if len(data) <= FULL_REPORT_LIMIT:
        report["b64"] = base64.b64encode(data).decode("ascii")
    return report


def decode_message(command):
    """Gives the message a command asks to send: str for text, bytes for binary."""
    if command["type"] == "text":
        return command["data"]
    return base64.b64decode(command["b64"])


def close_frame(close):
    """Describes a Close frame sent or received (None when there was none)."""
    if close is None:
        return None
    return dict(code=close.code, reason=close.reason)


def handshake_report(ws):
    """What the opening handshake agreed on, and what was offered."""
    return dict(
        path=getattr(ws, "path", None),
        subprotocol=ws.subprotocol,
        extensions=[extension.name for extension in ws.extensions],
        offered_extensions=ws.request_headers.get("Sec-WebSocket-Extensions"),
        accepted_extensions=ws.response_headers.get("Sec-WebSocket-Extensions"),
        offered_protocols=ws.request_headers.get("Sec-WebSocket-Protocol"),
    )


def close_report(ws):
    """How the connection ended, as this peer saw it.

    code/reason are websockets' close_code/close_reason (the peer's Close, 1006 without
    one); clean means both Close frames were exchanged (as the WHATWG wasClean).
    """
    return dict(
        path=getattr(ws, "path", None),
        code=ws.close_code,
        reason=ws.close_reason,
        received=close_frame(ws.close_rcvd),
        sent=close_frame(ws.close_sent),
        clean=ws.close_rcvd is not None and ws.close_sent is not None,
    )
