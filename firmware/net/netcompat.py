# The TLS half of compat.py: how ssl contexts differ between MicroPython and CPython (feature
# detection only). Needed only to set up TLS, so net.tlsprofile imports it for that and it is
# unloaded after; compat.py stays resident. (Sockets: net/ws_open.py opens, net.ws releases.)
import os


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
