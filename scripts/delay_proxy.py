#!/usr/bin/env python3
"""A TCP proxy that delays every byte by a fixed time in each direction: a round-trip time on
loopback where `tc netem` is unavailable (a kernel without sch_netem). Bytes keep their order;
each chunk read is written `--delay-ms` later. Not a model of loss, jitter or bandwidth.

Usage: python3 scripts/delay_proxy.py --listen 8197 --to 8196 --delay-ms 50   (100 ms RTT)
"""

import argparse
import asyncio


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send_when_due():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send_when_due())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--to", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=50)
    args = parser.parse_args()
    delay = args.delay_ms / 1000

    async def on_client(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", args.to)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, server_writer):
            sock = writer.get_extra_info("socket")
            sock.setsockopt(6, 1, 1)  # TCP_NODELAY
        await asyncio.gather(pipe(client_reader, server_writer, delay),
                             pipe(server_reader, client_writer, delay))

    server = await asyncio.start_server(on_client, "127.0.0.1", args.listen, backlog=1024)
    print(f"delaying 127.0.0.1:{args.listen} -> :{args.to} by {args.delay_ms} ms each way", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
