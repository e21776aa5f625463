# The network half of compat.py: how TCP/TLS streams and ssl contexts differ between MicroPython
# and CPython (feature detection only). Needed only to open or close a connection and to set up
# TLS, so it is imported for that and unloaded after (net.ws._load); compat.py stays resident.
from compat import const
import asyncio
import os

_STREAM_CLOSE_MS = const(1000)  # longest close_stream() waits for the runtime to release a socket

# MicroPython's asyncio.open_connection leaks its socket when the connect raises at once or is
# cancelled (timeout), and its Stream.close() does nothing (wait_closed() closes the socket): here
# the socket is ours from its creation, and close_stream() closes it (and the TCP socket beneath a
# TLS one: after a failed TLS handshake, closing the TLS socket leaves that one open).
try:
    from asyncio.stream import Stream as _Stream  # MicroPython: a stream wraps a socket we own
except ImportError:  # CPython
    _Stream = None


async def open_stream(host, port, ssl=None, server_hostname=None):
    """(reader, writer) of a TCP connection (TLS when ssl is a context); nothing stays open on failure."""
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
        st = _Stream(s)
        st.tcp = tcp  # closed by close_stream() with s
        await asyncio.sleep_ms(0)  # the connect completes (or fails) at the first write
        return st, st
    except BaseException:
        s.close()
        tcp.close()
        raise


async def close_stream(writer):
    """Close a stream's socket for real and wait (bounded) until the runtime has released it."""
    try:
        writer.close()
    except Exception:  # already gone: nothing left to release
        pass
    try:
        w = writer.wait_closed()
        if _Stream is None:
            await asyncio.wait_for(w, _STREAM_CLOSE_MS / 1000)
        else:
            await w  # MicroPython: closes the socket, never blocks
    except Exception:  # a reset or timed-out TLS shutdown still leaves the socket closed
        pass
    tcp = getattr(writer, "tcp", None)
    if tcp is not None:
        tcp.close()


# TLS (net.tlsprofile). Both runtimes take CA certificates as DER bytes, one per
# load_verify_locations call. MicroPython's ssl (mbedTLS) takes the client certificate
# and key as DER bytes and names cipher suites (a list, mbedTLS names) on its inner
# context; CPython's takes files and an OpenSSL cipher string.
def tls_client_context():
    """A client context that verifies the server (certificate path and host name), TLS 1.2+."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if hasattr(ssl, "TLSVersion"):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx  # MicroPython: mbedTLS is built for TLS 1.2 (and 1.3) only


def tls_ciphers(ctx, mbedtls_names, openssl_names):
    """Restrict the TLS 1.2 suites; False when the runtime cannot."""
    inner = getattr(ctx, "_context", None)
    if inner is not None and hasattr(inner, "set_ciphers"):
        inner.set_ciphers(list(mbedtls_names))
        return True
    if inner is None and hasattr(ctx, "set_ciphers"):
        ctx.set_ciphers(":".join(openssl_names))
        return True
    return False


def tls_client_cert(ctx, cert_der, key_der, chain_pem, key_pem, scratch_path):
    """Present a client certificate. MicroPython: the leaf and key as DER (its ssl loads one
    certificate, so no intermediates); CPython: the PEM chain and key through a file, removed after."""
    if getattr(ctx, "_context", None) is not None:
        ctx.load_cert_chain(cert_der, key_der)
        return
    with open(scratch_path, "w") as f:
        f.write(chain_pem + key_pem)
    try:
        ctx.load_cert_chain(scratch_path)
    finally:
        os.remove(scratch_path)
