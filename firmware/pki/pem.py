# PEM armour: base64 DER between BEGIN/END lines, one or several blocks per text.
# No I/O; the caller reads and writes the files.
from compat import const
import binascii

_LINE_CHARS = const(64)  # base64 characters per line written (RFC 7468)


class PemError(ValueError):
    """The text holds no well-formed block of the wanted label."""


def decode_all(text, label="CERTIFICATE"):
    """The DER bytes of every `label` block in `text`, in order."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    begin = "-----BEGIN %s-----" % label
    end = "-----END %s-----" % label
    out = []
    pos = 0
    while True:
        i = text.find(begin, pos)
        if i < 0:
            break
        j = text.find(end, i)
        if j < 0:
            raise PemError("PEM: %s block without its END line" % label)
        body = "".join(text[i + len(begin):j].split())
        try:
            out.append(binascii.a2b_base64(body))
        except Exception:
            raise PemError("PEM: bad base64 in a %s block" % label)
        pos = j + len(end)
    if not out:
        raise PemError("PEM: no %s block" % label)
    return out


def decode(text, label="CERTIFICATE"):
    return decode_all(text, label)[0]


def encode(der, label="CERTIFICATE"):
    b64 = binascii.b2a_base64(der).decode().replace("\n", "")
    lines = [b64[i:i + _LINE_CHARS] for i in range(0, len(b64), _LINE_CHARS)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)
