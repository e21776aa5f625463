# The only module that knows MicroPython from CPython. Everything else imports
# time, const, exception printing and file syncing from here. Feature detection
# only (hasattr / try-import), never platform names.
import time

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
else:  # CPython: monotonic milliseconds, no wrap-around
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        time.sleep(ms / 1000)

try:
    from sys import print_exception
except ImportError:  # CPython
    import traceback

    def print_exception(exc, file=None):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)

import os

if hasattr(os, "fsync"):
    def fsync(f):
        f.flush()
        os.fsync(f.fileno())
else:  # MicroPython: close() commits a LittleFS file; flush is the most we can ask before that
    def fsync(f):
        f.flush()

if hasattr(os, "replace"):
    replace = os.replace
else:  # MicroPython's rename overwrites an existing target on LittleFS and POSIX
    replace = os.rename


# Seconds from 1970-01-01 to 2000-01-01: MicroPython on a device counts from 2000.
UNIX_2000 = 946684800


def unix_time():
    """time.time() as Unix epoch seconds, also on ports whose epoch is 2000."""
    t = int(time.time())
    if time.gmtime(0)[0] == 2000:
        t += UNIX_2000
    return t


def file_exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def mem_free():
    """Free heap in bytes, or None where the runtime cannot tell."""
    try:
        import gc
        return gc.mem_free()
    except AttributeError:
        return None


# TCP (+TLS) streams. MicroPython's asyncio.open_connection leaks its socket when the
# connect raises at once or is cancelled (timeout), and its Stream.close() does not
# close the socket (wait_closed() does): here the socket is ours from its creation.
try:
    from asyncio.stream import Stream as _Stream  # MicroPython: a stream wraps a socket we own
except ImportError:  # CPython
    _Stream = None

if _Stream is not None:
    class _OwnedStream(_Stream):
        # close() closes for real, and the TCP socket too: after a failed TLS handshake,
        # closing the TLS socket leaves the one beneath it open.
        def __init__(self, s, tcp):
            super().__init__(s)
            self._tcp = tcp

        def close(self):
            self.s.close()
            self._tcp.close()

        async def wait_closed(self):
            self.close()

STREAM_CLOSE_MS = 1000  # longest close_stream() waits for the runtime to release a socket


async def open_stream(host, port, ssl=None, server_hostname=None):
    """(reader, writer) of a TCP connection (TLS when ssl is a context); nothing stays open on failure."""
    import asyncio
    if _Stream is None:
        if ssl is None:
            return await asyncio.open_connection(host, port)
        return await asyncio.open_connection(host, port, ssl=ssl, server_hostname=server_hostname)
    import errno
    import socket
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    tcp = s = socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != errno.EINPROGRESS:  # a non-blocking connect completes later
                raise
        if ssl is not None:
            s = ssl.wrap_socket(s, server_hostname=server_hostname, do_handshake_on_connect=False)
            s.setblocking(False)
        st = _OwnedStream(s, tcp)
        await asyncio.sleep_ms(0)  # the connect completes (or fails) at the first write
        return st, st
    except BaseException:
        s.close()
        tcp.close()
        raise


async def close_stream(writer):
    """Close a stream's socket for real and wait (bounded) until the runtime has released it."""
    import asyncio
    try:
        writer.close()
    except Exception:  # already gone: nothing left to release
        pass
    try:
        w = writer.wait_closed()
        if _Stream is None:
            await asyncio.wait_for(w, STREAM_CLOSE_MS / 1000)
        else:
            await w  # MicroPython: closes the socket, never blocks
    except Exception:  # a reset or timed-out TLS shutdown still leaves the socket closed
        pass
