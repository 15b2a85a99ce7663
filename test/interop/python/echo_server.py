"""A python-websockets echo server for the interop tests.

Usage: /usr/bin/python3 echo_server.py [--compression deflate|none]

Listens on 127.0.0.1, on an ephemeral port, speaking the subprotocol "echo-protocol", and
prints JSON lines (see common.py):
  {"event": "listening", "port": N, "version": "10.4"}
  {"event": "open", "path": ..., "subprotocol": ..., "extensions": [...], ...}  per connection
  {"event": "pong", "data": ...}                                                 see /control
  {"event": "closed", "path": ..., "code": ..., "reason": ..., "clean": ...}     per connection
Every path echoes each message with its type. On /control, a text message that is a JSON
object with "cmd" is a command instead:
  {"cmd": "ping", "data": "..."}   pings the client, waits (5 s at most) for its pong, and
                                   answers with the text {"event": "pong", "data": "..."}
  {"cmd": "close", "code": N, "reason": "..."}   closes the connection with that code
"""

import argparse
import asyncio
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402

from common import close_report, emit, handshake_report  # noqa: E402


def parse_command(message):
    if not isinstance(message, str) or not message.startswith("{"):
        return None
    try:
        command = json.loads(message)
    except ValueError:
        return None
    return command if isinstance(command, dict) and "cmd" in command else None


async def handler(ws):
    emit("open", **handshake_report(ws))
    try:
        async for message in ws:
            command = parse_command(message) if ws.path == "/control" else None
            if command is None:
                await ws.send(message)
            elif command["cmd"] == "ping":
                waiter = await ws.ping(command["data"])
                await asyncio.wait_for(waiter, 5)
                emit("pong", data=command["data"])
                await ws.send(json.dumps(dict(event="pong", data=command["data"])))
            elif command["cmd"] == "close":
                await ws.close(command["code"], command["reason"])
                break
    except websockets.ConnectionClosed:
        pass
    except Exception as err:  # reported, so that the test shows it
        emit("error", message=repr(err))
    finally:
        try:
            await asyncio.wait_for(ws.wait_closed(), 10)
        except asyncio.TimeoutError:
            emit("error", message="the connection did not close within 10 s")
        emit("closed", **close_report(ws))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    args = parser.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=["echo-protocol"],
        compression=None if args.compression == "none" else "deflate",
        max_size=None,
        ping_interval=None,
        close_timeout=5,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit("listening", port=port, version=websockets.__version__)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
