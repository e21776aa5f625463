# log: levels and the secret redaction safety net, on CPython and micropython.
import io

import log

_MAX_SECRETS = 8  # logfile._MAX_SECRETS: the most secrets the log registers


def _capture(level_name="debug"):
    buf = io.StringIO()
    log.out = buf
    log.set_level(level_name)
    log.forget_secrets()
    return buf


def _restore():
    import sys
    log.out = sys.stdout
    log.set_level("info")
    log.forget_secrets()


def test_levels_filter_lines():
    buf = _capture("warning")
    try:
        log.error("e %d", 1)
        log.warning("w")
        log.info("i")
        log.debug("d")
        assert buf.getvalue() == "[error] e 1\n[warning] w\n"
        assert log.enabled(1) and not log.enabled(2)  # warning, info
    finally:
        _restore()


def test_bad_level_name_is_a_clear_error():
    try:
        log.set_level("verbose")
        assert False, "accepted"
    except ValueError as e:
        assert "error, warning, info, debug" in str(e)


def test_registered_secret_never_reaches_output():
    buf = _capture()
    try:
        key = "0123456789abcdef0123"
        log.secret(key)
        log.secret(b"wifi-pass-123")
        log.secret("")  # ignored: an empty secret would match everywhere
        log.info("key is %s", key)
        log.debug("frame: Authorization %s; wifi=%s", key + "tail", "wifi-pass-123")
        log.error("embedded" + key + "x")
        text = buf.getvalue()
        assert key not in text and "wifi-pass-123" not in text
        assert text.count("***") == 4  # log._REDACTED
        assert "[info] key is ***\n" in text
    finally:
        _restore()


def test_longer_secret_containing_a_shorter_one_is_replaced_whole():
    buf = _capture()
    try:
        log.secret("abcdefgh")
        log.secret("XXabcdefghYY")
        log.info("v=XXabcdefghYY")
        assert buf.getvalue() == "[info] v=***\n"
    finally:
        _restore()


def test_exception_traceback_is_redacted():
    buf = _capture()
    try:
        log.secret("topsecret-value-1")
        try:
            raise ValueError("bad key topsecret-value-1")
        except ValueError as e:
            log.exception("boot failed", e)
        text = buf.getvalue()
        assert "topsecret-value-1" not in text
        assert "[error] boot failed\n" in text and "ValueError: bad key ***" in text
    finally:
        _restore()


def test_long_lines_are_cut_and_bad_format_args_do_not_raise():
    buf = _capture()
    try:
        log.info("x" * 1024)  # twice log._MAX_LINE
        log.info("%d items", "not a number")
        lines = buf.getvalue().split("\n")
        assert len(lines[0]) == 512 + 3 and lines[0].endswith("...")
        assert lines[1].startswith("[info] %d items")
    finally:
        _restore()


def test_secret_list_is_bounded_and_full_list_refuses():
    _capture()
    try:
        for i in range(_MAX_SECRETS):
            log.secret("secret-number-%02d" % i)
        try:
            log.secret("one-too-many")
            assert False, "accepted"
        except ValueError as e:
            assert "more than %d secrets" % _MAX_SECRETS in str(e)
        log.secret("secret-number-00")  # already known: no error
        assert len(log._secrets) == _MAX_SECRETS
    finally:
        _restore()


def test_exception_out_of_heap_logs_a_line_and_returns():
    # Near the heap's limit formatting the traceback itself fails: the caller (the boot loop
    # that puts the charger in its safe state) must still go on.
    import compat
    buf = _capture()
    real = compat.print_exception

    def no_heap(exc, f):
        raise MemoryError("memory allocation failed")
    compat.print_exception = no_heap
    try:
        log.exception("app: stopped", ValueError("x"))
        assert buf.getvalue() == "[error] app: stopped\n[error]   (traceback not shown: out of memory)\n"
    finally:
        compat.print_exception = real
        _restore()
