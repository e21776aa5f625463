# net.backoff on both runtimes: growth, cap, jitter bounds, determinism, reset, bad parameters.
from net.backoff import Backoff, BASE_MS, MAX_MS


def seq(b, n):
    return [b.next_ms() for _ in range(n)]


def raises(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ValueError as e:
        return str(e)
    raise AssertionError("no ValueError")


def test_exponential_growth_capped_without_jitter():
    b = Backoff(base_ms=100, max_ms=1000, factor=2, jitter=0)
    assert seq(b, 7) == [100, 200, 400, 800, 1000, 1000, 1000]
    assert b.attempts == 7


def test_reset_starts_again_from_base():
    b = Backoff(base_ms=100, max_ms=1000, jitter=0)
    seq(b, 4)
    b.reset()
    assert b.attempts == 0
    assert seq(b, 2) == [100, 200]


def test_jitter_takes_off_at_most_its_fraction():
    b = Backoff(base_ms=1000, max_ms=8000, jitter=0.5, rand=lambda: 1.0)
    assert seq(b, 5) == [500, 1000, 2000, 4000, 4000]
    b = Backoff(base_ms=1000, max_ms=8000, jitter=0.5, rand=lambda: 0.0)
    assert seq(b, 5) == [1000, 2000, 4000, 8000, 8000]


def test_deterministic_with_a_given_rand():
    def lcg():
        state = [12345]

        def rand():
            state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
            return state[0] / 0x80000000
        return rand
    a = seq(Backoff(rand=lcg()), 12)
    b = seq(Backoff(rand=lcg()), 12)
    assert a == b
    assert len(set(a[-4:])) > 1  # jitter really varies once capped


def test_default_random_stays_in_bounds():
    b = Backoff()
    ceiling = BASE_MS
    for _ in range(30):
        d = b.next_ms()
        assert ceiling * 0.5 <= d <= ceiling, (d, ceiling)
        ceiling = min(MAX_MS, ceiling * 2)


def test_fractional_factor_and_bad_parameters():
    b = Backoff(base_ms=1000, max_ms=3000, factor=1.5, jitter=0)
    assert seq(b, 5) == [1000, 1500, 2250, 3000, 3000]
    assert "base_ms" in raises(Backoff, base_ms=0)
    assert "max_ms" in raises(Backoff, base_ms=100, max_ms=50)
    assert "factor" in raises(Backoff, factor=0.5)
    assert "jitter" in raises(Backoff, jitter=1.5)
    assert "rand" in raises(Backoff(rand=lambda: 2).next_ms)
