"""Inside a notebook sandbox with an egress allow-list: forwards 127.0.0.1:PORT to the service's
proxy on a Unix socket (the sandbox has no network of its own), then runs the given command.

    python3 assay_egress.py SOCKET PORT -- COMMAND...

The proxy outside the sandbox decides what may be reached; this forwarder only carries bytes,
so code in the sandbox gains nothing by stopping or replacing it.
"""
import asyncio
import os
import sys


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _forward(socket_path, port):
    async def handle(reader, writer):
        try:
            proxy_reader, proxy_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, proxy_writer), _pipe(proxy_reader, writer))

    server = await asyncio.start_server(handle, '127.0.0.1', port)
    async with server:
        await server.serve_forever()


def main():
    socket_path, port, separator, *command = sys.argv[1:]
    if separator != '--' or not command:
        sys.exit('usage: assay_egress.py SOCKET PORT -- COMMAND...')
    if os.fork() == 0:
        asyncio.run(_forward(socket_path, int(port)))
        os._exit(0)
    os.execv(command[0], command)


if __name__ == '__main__':
    main()
