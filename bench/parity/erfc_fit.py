#!/usr/bin/env python3
"""Fits the polynomial that Kernels/VectorMath.swift's `verfc` uses.

    erfc(z) = t · Q(t) · e^(−z²),   t = 1/(1 + z/2),   z ≥ 0

Q(t) = e^(z²)·erfc(z)/t is smooth on t in [1/6, 1] (z in [0, 10]; beyond,
erfc underflows float32). A degree-8 polynomial, fitted for minimal maximum
relative error (Lawson's reweighted least squares in a Chebyshev basis),
is exact to 4.3e-8 relative in double; evaluated in float32 by Horner's rule
it is within 3.1e-7 of erfc. Needs numpy and mpmath (a development tool only).

    python3 bench/parity/erfc_fit.py
"""
import numpy as np
import mpmath
from numpy.polynomial import chebyshev as cheb, polynomial as poly

mpmath.mp.dps = 30
LOW, DEGREE = 1 / 6, 8


def q(t):
    z = 2 * (1 - t) / t
    return float(mpmath.erfc(z) * mpmath.exp(z * z) / t)


ts = LOW + (1 - LOW) * (1 - np.cos(np.linspace(0, np.pi, 3000))) / 2
ys = np.array([q(t) for t in ts])
x = (2 * ts - (1 + LOW)) / (1 - LOW)  # [LOW, 1] → [−1, 1]
basis = cheb.chebvander(x, DEGREE)
weights, best = np.ones_like(ts), None
for _ in range(60):
    w = np.sqrt(weights) / ys
    c, *_ = np.linalg.lstsq(basis * w[:, None], ys * w, rcond=None)
    err = np.abs(basis @ c - ys) / ys
    if best is None or err.max() < best[0]:
        best = (err.max(), c)
    weights = weights * (err + 1e-30)
    weights /= weights.sum()
print(f"max relative error in double: {best[0]:.2e}")

# Back to powers of t: x = a·t + b.
a, b = 2 / (1 - LOW), -(1 + LOW) / (1 - LOW)
monomial, power = np.zeros(1), np.array([1.0])
for coefficient in cheb.cheb2poly(best[1]):
    monomial = poly.polyadd(monomial, coefficient * power)
    power = poly.polymul(power, [b, a])

f = np.float32
zs = np.linspace(0, 10, 40001).astype(f)
t = f(1) / (f(1) + zs * f(0.5))
acc = np.full_like(t, f(monomial[-1]))
for coefficient in monomial[-2::-1]:
    acc = (acc * t + f(coefficient)).astype(f)
approx = (t * acc * np.exp(-(zs.astype(np.float64) ** 2)).astype(f)).astype(np.float64)
exact = np.array([float(mpmath.erfc(float(z))) for z in zs])
keep = exact > 1e-37
print(f"max relative error in float32: {np.max(np.abs(approx[keep] - exact[keep]) / exact[keep]):.2e}")
print("coefficients, t⁰ first:")
for coefficient in monomial:
    print(f"    {float(f(coefficient))!r}")
