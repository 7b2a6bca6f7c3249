"""Expected float32 → f16 and float32 → bf16 roundings for HalfCheckpointTests (FormatsTests),
from numpy (astype(float16)) and torch (.to(torch.bfloat16)): the references
for IEEE binary16 and bfloat16, both rounding to nearest, ties to even.

    python3 Tests/FormatsTests/Fixtures/make_half_rounding.py

Writes half-rounding.bin beside this script, little-endian:
    u32 N, then N float32 bit patterns (u32), N f16 results (u16), N bf16 results (u16).
The cases: signed zeros, infinities, the f16 limits (largest finite 65504 and
the tie above it, smallest normal and subnormal, the ties below those), ties
between neighbouring halves at several exponents (odd and even kept bits, for
both formats), bf16's overflow tie, and random values from 1e-9 to 1e6 and
random bit patterns. NaNs are left out: both formats keep NaN a NaN, which
the test checks on its own.
"""
import os
import struct

import numpy as np
import torch

rng = np.random.default_rng(28)
cases = []


def bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


cases += [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0xFF7FFFFF]
# f16 limits: 65504, the tie 65520 (to infinity), just below it, the smallest normal 2^-14, the
# smallest subnormal 2^-24, the tie 2^-25 (to zero), just above it, 3·2^-25 (tie to even 2^-23).
for x in [65504.0, 65520.0, 65519.996, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -24, 3 * 2.0 ** -25, 6.0e-8, -65520.0]:
    cases.append(bits(x))
cases.append(bits(2.0 ** -25) + 1)
# Ties: the dropped bits exactly half an ulp, with the kept last bit even and odd, at several exponents.
for e in [-20, -14, -3, 0, 1, 7, 15]:
    for kept in [0x000000, 0x002000, 0x7FC000, 0x7FE000]:
        cases.append(((e + 127) << 23) | kept | 0x1000)          # f16 tie
        cases.append(((e + 127) << 23) | (kept & 0x7F0000) | 0x8000)  # bf16 tie
        cases.append(((e + 127) << 23) | (kept & 0x7F0000) | 0x18000)
# bf16: the largest finite value and the tie above it (to infinity).
cases += [0x7F7F0000, 0x7F7F8000, 0x7F7F7FFF, 0xFF7F8000]
for scale in [1e-9, 1e-6, 1e-3, 0.02, 1.0, 300.0, 7e4, 1e6]:
    cases += [bits(float(np.float32(v))) for v in rng.normal(0, scale, 48)]
cases += [int(b) for b in rng.integers(0, 2 ** 32, 400, dtype=np.uint64)]
cases = [c for c in cases if not np.isnan(np.array([c], dtype=np.uint32).view(np.float32)[0])]

values = np.array(cases, dtype=np.uint32).view(np.float32)
with np.errstate(over="ignore"):
    f16 = values.astype(np.float16).view(np.uint16)
bf16 = torch.from_numpy(values.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "half-rounding.bin")
with open(out, "wb") as f:
    f.write(struct.pack("<I", len(cases)))
    f.write(np.array(cases, dtype="<u4").tobytes())
    f.write(f16.astype("<u2").tobytes())
    f.write(bf16.astype("<u2").tobytes())
print(f"wrote {out}: {len(cases)} cases")
