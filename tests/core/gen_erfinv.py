#!/usr/bin/python3
"""Writes tests/core/erfinv_values.txt: x and scipy.special.erfinv(x), as
float.hex, for test_beams.c. Needs Debian's python3-scipy:
    /usr/bin/python3 tests/core/gen_erfinv.py > tests/core/erfinv_values.txt
"""
import numpy as np
from scipy.special import erfinv

xs = set()
xs.update(np.linspace(-0.999, 0.999, 2001).tolist())
for k in range(1, 54):                      # towards +-1 and 0
    xs.update([1 - 2.0**-k, -(1 - 2.0**-k), 2.0**-k, -(2.0**-k)])
for n in (1, 2, 3, 7, 9, 20, 25, 100, 1000, 10000):   # quantile arguments
    xs.update((2 * (np.arange(n) + 0.5) / n - 1).tolist())
xs.update([1e-300, 5e-324, 0.5, -0.5, 0.9999999999999999])
for x in sorted(xs):
    y = float(erfinv(x))
    if np.isfinite(y):
        print(float(x).hex(), y.hex())
