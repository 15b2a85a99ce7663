"""Shared helpers of the permessage-deflate interop peers (deflate_echo_*.py).

Builds python-websockets' permessage-deflate factories from command-line options, and
reports what a connection agreed, as python-websockets sees it. Written against the
asyncio API of Debian's python3-websockets 10.x; see common.py for the JSON-line events.
"""

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

#: The attributes of websockets' PerMessageDeflate extension that say what was agreed:
#: "remote" is what the peer does (its context takeover, its window), "local" ours.
AGREED = (
    "remote_no_context_takeover",
    "local_no_context_takeover",
    "remote_max_window_bits",
    "local_max_window_bits",
)


def window_bits(value):
    """Parses a window-bits option: an integer 8..15, or "true" (offered without a value)."""
    if value == "true":
        return True
    return int(value)


def add_deflate_arguments(parser):
    """Adds the options: --defaults, or the four RFC 7692 parameters."""
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="compression='deflate': websockets' own default settings",
    )
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int, default=None)
    parser.add_argument("--client-max-window-bits", type=window_bits, default=None)


def connect_options(args, side):
    """Gives the compression/extensions arguments of websockets.serve or connect."""
    if args.defaults:
        return dict(compression="deflate")
    factory = ServerPerMessageDeflateFactory if side == "server" else ClientPerMessageDeflateFactory
    return dict(
        compression=None,
        extensions=[
            factory(
                server_no_context_takeover=args.server_no_context_takeover,
                client_no_context_takeover=args.client_no_context_takeover,
                server_max_window_bits=args.server_max_window_bits,
                client_max_window_bits=args.client_max_window_bits,
                compress_settings={"memLevel": 5},
            )
        ],
    )


def deflate_report(ws):
    """What the handshake agreed: each extension with its parameters, and both headers."""
    extensions = []
    for extension in ws.extensions:
        report = dict(name=extension.name)
        for attribute in AGREED:
            if hasattr(extension, attribute):
                report[attribute] = getattr(extension, attribute)
        extensions.append(report)
    return dict(
        version=websockets.__version__,
        extensions=extensions,
        offered_extensions=ws.request_headers.get("Sec-WebSocket-Extensions"),
        accepted_extensions=ws.response_headers.get("Sec-WebSocket-Extensions"),
    )
