"""A python-websockets client for the interop tests, driven by JSON commands on stdin.

Usage: /usr/bin/python3 echo_client.py URL [--protocol echo-protocol] [--compression deflate|none]

Connects (offering the subprotocol, and permessage-deflate unless --compression none),
prints {"event": "open", ...} (see common.py), then runs one command per stdin line:
  {"cmd": "echo", "type": "text", "data": "..."}     sends a message and waits (20 s at
  {"cmd": "echo", "type": "binary", "b64": "..."}    most) for the next one, printed as
                                                     {"event": "message", "type": ..., ...}
  {"cmd": "ping", "data": "..."}                     pings; prints {"event": "pong"} on the pong
  {"cmd": "close", "code": N, "reason": "..."}       closes; prints {"event": "closed", ...}
  {"cmd": "wait_closed"}                             waits for the server to close; prints
                                                     {"event": "closed", ...}
A failed command prints {"event": "error", "message": ...}. The script exits after a close.
"""

import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402

from common import (  # noqa: E402
    close_report,
    decode_message,
    describe_message,
    emit,
    handshake_report,
)


async def stdin_reader():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run(ws, command):
    """Runs one command; returns True when the connection is over."""
    name = command["cmd"]
    if name == "echo":
        await ws.send(decode_message(command))
        reply = await asyncio.wait_for(ws.recv(), 20)
        emit("message", **describe_message(reply))
        return False
    if name == "ping":
        waiter = await ws.ping(command["data"])
        await asyncio.wait_for(waiter, 5)
        emit("pong", data=command["data"])
        return False
    if name == "close":
        await asyncio.wait_for(ws.close(command["code"], command["reason"]), 10)
        await asyncio.wait_for(ws.wait_closed(), 10)
        emit("closed", **close_report(ws))
        return True
    if name == "wait_closed":
        try:
            while True:
                message = await asyncio.wait_for(ws.recv(), 10)
                emit("message", **describe_message(message))
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), 10)
        emit("closed", **close_report(ws))
        return True
    raise ValueError("unknown command " + name)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--protocol", action="append", default=[])
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    args = parser.parse_args()
    reader = await stdin_reader()
    ws = await websockets.connect(
        args.url,
        subprotocols=args.protocol or None,
        compression=None if args.compression == "none" else "deflate",
        max_size=None,
        ping_interval=None,
        close_timeout=5,
        open_timeout=10,
    )
    emit("open", version=websockets.__version__, **handshake_report(ws))
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line.decode("utf-8"))
        try:
            if await run(ws, command):
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
