"""Counter-based RNG shared by the Python reference, the C engine and the CUDA engine.

Design
------
The sampler needs uniform numbers for Gumbel-max sampling (one per canvas position and
vocab id per step) and for random remasking (one per position per step). A sequential
generator (torch.rand) would force every engine to draw numbers in the same order for
the same tensor shapes. A counter-based generator instead makes every number a pure
function of (seed, stream, step, pos, tok), so any engine can compute any row in any
order, on any device, and get the same bits. All arithmetic is on unsigned 64-bit
integers modulo 2^64:

    mix64(z): z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
              z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31
    rng_u64(seed, stream, step, pos, tok):
        h = mix64(seed ^ 0x9E3779B97F4A7C15)
        h = mix64(h ^ ((stream << 32) | step))
        h = mix64(h ^ pos)
        h = mix64(h ^ tok)
    rng_uniform(...) = (float64(h >> 12) + 0.5) * 2**-52      # in (0, 1), never 0 or 1

seed: integer in [0, 2^64); stream: 0 = Gumbel noise, 1 = random remasking;
step: the global denoising step counter (0-based, not reset per block);
pos: absolute canvas position; tok: vocab id for Gumbel, 0 for random remasking.
stream and step must each fit in 32 bits (checked).

Two implementations: scalar Python ints (rng_u64 / rng_uniform) and vectorised numpy
uint64 (rng_uniform_np, used by the sampler); the self-test checks they agree.

Test vectors (printed by `/usr/bin/python3 ops/reference/rng.py`, which also self-tests;
the C side asserts the same values; args are seed, stream, step, pos, tok):

    rng_u64(0, 0, 0, 0, 0)
        = 0x1957a7604e215178   uniform = 0.098993741046915829
    rng_u64(42, 0, 3, 17, 5)
        = 0x3968b8dc79ad0d4c   uniform = 0.22425418265054387
    rng_u64(42, 1, 3, 17, 0)
        = 0x24f733f8a0831e9d   uniform = 0.14439701862330556
    rng_u64(1234, 0, 0, 40, 272)
        = 0x9ff957f2b5a7eeb3   uniform = 0.62489843059088879
    rng_u64(18446744073709551615, 1, 4294967295, 4095, 126463)
        = 0xd5029fa276100b0a   uniform = 0.83207128254258589
    mix64(0) = 0, mix64(0x9E3779B97F4A7C15) = 0xe220a8397b1dcdaf (the first splitmix64
    output for state 0, a known value)

Endpoint note: 52 bits are used (not 53) so that every value is exact in float64: the
smallest uniform is 2^-53 and the largest 1 - 2^-53, so u is never 0 or 1 and -log(u) is
always finite and positive. (With 53 bits, (2^53 - 1 + 0.5) * 2^-53 would round to 1.0.)
"""

import sys

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
STREAM_GUMBEL = 0
STREAM_REMASK = 1


def mix64(z):
    z &= MASK64
    z ^= z >> 30
    z = (z * M1) & MASK64
    z ^= z >> 27
    z = (z * M2) & MASK64
    z ^= z >> 31
    return z


def _check(seed, stream, step, pos, tok):
    for name, v, lim in (("seed", seed, 1 << 64), ("stream", stream, 1 << 32),
                         ("step", step, 1 << 32), ("pos", pos, 1 << 64),
                         ("tok", tok, 1 << 64)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not (0 <= int(v) < lim):
            raise ValueError("rng: %s must be an integer in [0, %d), got %r" % (name, lim, v))


def rng_u64(seed, stream, step, pos, tok):
    _check(seed, stream, step, pos, tok)
    h = mix64(int(seed) ^ GOLDEN)
    h = mix64(h ^ ((int(stream) << 32) | int(step)))
    h = mix64(h ^ int(pos))
    h = mix64(h ^ int(tok))
    return h


def u64_to_uniform(h):
    return (float(h >> 12) + 0.5) * 2.0 ** -52


def rng_uniform(seed, stream, step, pos, tok):
    return u64_to_uniform(rng_u64(seed, stream, step, pos, tok))


# ----------------------------------------------------------------------------- numpy

_U = np.uint64


def _mix64_np(z):
    z = z ^ (z >> _U(30))
    z = z * _U(M1)
    z = z ^ (z >> _U(27))
    z = z * _U(M2)
    z = z ^ (z >> _U(31))
    return z


def rng_u64_np(seed, stream, step, pos, tok):
    """Vectorised rng_u64: pos and tok are broadcastable integer arrays (>= 0)."""
    _check(seed, stream, step, 0, 0)
    pos = np.asarray(pos)
    tok = np.asarray(tok)
    if (pos < 0).any() or (tok < 0).any():
        raise ValueError("rng: pos and tok must be non-negative")
    with np.errstate(over="ignore"):
        h = _mix64_np(np.array(int(seed) ^ GOLDEN, dtype=np.uint64))
        h = _mix64_np(h ^ _U((int(stream) << 32) | int(step)))
        h = _mix64_np(h ^ pos.astype(np.uint64))
        h = _mix64_np(h ^ tok.astype(np.uint64))
    return h


def rng_uniform_np(seed, stream, step, pos, tok):
    h = rng_u64_np(seed, stream, step, pos, tok)
    return ((h >> _U(12)).astype(np.float64) + 0.5) * 2.0 ** -52


# ----------------------------------------------------------------------------- vectors

VECTOR_ARGS = [
    (0, 0, 0, 0, 0),
    (42, 0, 3, 17, 5),
    (42, 1, 3, 17, 0),
    (1234, 0, 0, 40, 272),
    (2 ** 64 - 1, 1, 2 ** 32 - 1, 4095, 126463),
]


def vectors():
    """[(args, u64, uniform)] for VECTOR_ARGS."""
    out = []
    for a in VECTOR_ARGS:
        h = rng_u64(*a)
        out.append((a, h, u64_to_uniform(h)))
    return out


def format_vectors():
    lines = []
    for (seed, stream, step, pos, tok), h, u in vectors():
        lines.append("rng_u64(seed=%d, stream=%d, step=%d, pos=%d, tok=%d) = 0x%016x"
                     "  uniform = %.17g" % (seed, stream, step, pos, tok, h, u))
    lines.append("mix64(0) = 0x%016x, mix64(1) = 0x%016x" % (mix64(0), mix64(1)))
    return "\n".join(lines)


def self_test():
    """Scalar and numpy implementations agree; uniform is in (0, 1)."""
    pos = np.arange(0, 50)[:, None]
    tok = np.arange(0, 40)[None, :]
    for seed, stream, step in ((0, 0, 0), (7, 1, 9), (2 ** 64 - 1, 0, 2 ** 32 - 1)):
        hn = rng_u64_np(seed, stream, step, pos, tok)
        for p in (0, 13, 49):
            for t in (0, 7, 39):
                if int(hn[p, t]) != rng_u64(seed, stream, step, p, t):
                    raise AssertionError("numpy/scalar mismatch at %r" % ((seed, stream, step, p, t),))
        un = rng_uniform_np(seed, stream, step, pos, tok)
        if not ((un > 0).all() and (un < 1).all()):
            raise AssertionError("uniform out of (0,1)")
    # Endpoints: exact and strictly inside (0, 1).
    if u64_to_uniform(0) != 2.0 ** -53 or u64_to_uniform(MASK64) != 1.0 - 2.0 ** -53:
        raise AssertionError("uniform endpoints")


if __name__ == "__main__":
    self_test()
    sys.stdout.write(format_vectors() + "\n")
