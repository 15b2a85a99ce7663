"""A python-websockets client with permessage-deflate configured from the command line.

Usage: /usr/bin/python3 deflate_echo_client.py URL [--defaults] [--server-no-context-takeover]
           [--client-no-context-takeover] [--server-max-window-bits N]
           [--client-max-window-bits N|true]

Connects (offering the subprotocol "echo-protocol"), prints
  {"event": "open", "extensions": [...], "offered_extensions": ..., "accepted_extensions": ...}
(see deflate_common.deflate_report), then runs echo_client.py's commands, one per stdin
line (echo, ping, close, wait_closed). With --defaults, compression="deflate" (websockets'
default offer: client_max_window_bits without a value); otherwise exactly the options given.
"""

import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402

import echo_client  # noqa: E402
from common import emit  # noqa: E402
from deflate_common import add_deflate_arguments, connect_options, deflate_report  # noqa: E402


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    add_deflate_arguments(parser)
    args = parser.parse_args()
    reader = await echo_client.stdin_reader()
    ws = await websockets.connect(
        args.url,
        subprotocols=["echo-protocol"],
        max_size=None,
        ping_interval=None,
        close_timeout=5,
        open_timeout=10,
        **connect_options(args, "client"),
    )
    emit("open", **deflate_report(ws))
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line.decode("utf-8"))
        try:
            if await echo_client.run(ws, command):
                break
        except Exception as err:  # reported, so that the test shows it
            emit("error", cmd=command["cmd"], message=repr(err))
    if ws.close_code is None:
        await ws.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as err:
        emit("error", cmd="connect", message=repr(err))
        sys.exit(1)
