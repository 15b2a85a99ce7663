"""A python-websockets echo server with permessage-deflate configured from the command line.

Usage: /usr/bin/python3 deflate_echo_server.py [--defaults] [--server-no-context-takeover]
           [--client-no-context-takeover] [--server-max-window-bits N]
           [--client-max-window-bits N]

Listens on 127.0.0.1, on an ephemeral port, and echoes every message with its type (the
handler of echo_server.py, subprotocol "echo-protocol"). Prints JSON lines (common.py):
  {"event": "listening", "port": N, "version": "10.4"}
  {"event": "deflate", "extensions": [{"name": ..., "remote_no_context_takeover": ...,
      "local_no_context_takeover": ..., "remote_max_window_bits": ...,
      "local_max_window_bits": ...}], "offered_extensions": ..., "accepted_extensions": ...}
  then echo_server.py's "open" and "closed" events, per connection.
With --defaults, compression="deflate" (websockets' defaults: server_max_window_bits=12,
client_max_window_bits=12 when the client allows it); otherwise exactly the options given.
"""

import argparse
import asyncio
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402

import echo_server  # noqa: E402
from common import emit  # noqa: E402
from deflate_common import add_deflate_arguments, connect_options, deflate_report  # noqa: E402


async def handler(ws):
    emit("deflate", **deflate_report(ws))
    await echo_server.handler(ws)


async def main():
    parser = argparse.ArgumentParser()
    add_deflate_arguments(parser)
    args = parser.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=["echo-protocol"],
        max_size=None,
        ping_interval=None,
        close_timeout=5,
        **connect_options(args, "server"),
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit("listening", port=port, version=websockets.__version__)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
