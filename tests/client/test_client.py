#!/usr/bin/python3
"""test_client.py - clients/python/beamgrid_client.py against the real server.

Run by `make client-test` (part of `make test`) with Debian's /usr/bin/python3
(numpy); BEAMGRID_BIN names the server binary (default build/beamgrid). Each
server is started on a free loopback port (--port 0, the port read from its
startup line) and stopped with SIGTERM (exit 0 required).

- Offline: the port-shaped call's mapping. For every golden-torch case
  (tests/golden-torch, computed by the port itself) and for random
  arguments, the request port_request() makes is resolved again here with
  the port's own rules (docs/torch.md "Resolving count, range and step", written out independently in
  resolve_like_port) and must give back exactly the function's arguments;
  what cannot be requested raises NotExpressible. Retry-After parsing.
- Default semantics: sources() in npz (f8, f4), npy and json give the same
  numbers as the JSON answer.
- 304: the second sources() of the same parameters is a conditional GET
  answered 304 (the server's own 304 counter moves) and returns equal
  arrays, copies of the kept ones.
- 503: a real server with a small --max-memory-mb. A grid that can never
  fit: bounded retries, each after the Retry-After the server sent, then
  BeamgridError 503 (the server counted every attempt). A grid that fits
  once a stalled download of another grid is dropped: one 503, then 200.
- Beam models: every grid case of tests/golden-beams as npz (f8 to 1e-12,
  f4 the f8 values rounded).
- nanobrag_torch semantics (a server without it fails): every golden
  case through generate_sources_from_divergence_dispersion and through
  sources(), counts, weights and wavelengths exact, directions within the
  golden tolerances.
"""
import glob
import json
import math
import os
import random
import re
import socket
import sys
import time
import unittest
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import bgtest  # noqa: E402
import beamgrid_client as bg  # noqa: E402

GOLDEN = sorted(glob.glob(os.path.join(HERE, "..", "golden-torch", "*.json")))


def load(path):
    with open(path) as f:
        return json.load(f)


# ---- a real server ------------------------------------------------------

class Server(bgtest.Server):
    def __init__(self, *flags):
        super().__init__("--log-level", "off", *flags)

    def metric(self, name, **labels):
        """The sum of a metric's samples whose labels include `labels`."""
        text = urllib.request.urlopen(self.url + "/metrics", timeout=10).read().decode()
        total = 0.0
        for line in text.splitlines():
            m = re.match(r"^(\w+)(\{.*\})?\s+(\S+)$", line)
            if not m or m.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
        return total



class ServerCase(unittest.TestCase):
    """Tests against one server for the class, which must exit 0."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        code = cls.srv.stop()
        if code != 0:
            raise AssertionError("server exit %d" % code)


def wait_for(cond, what, timeout=10.0):
    """Wait on state, with a deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


# ---- docs/torch.md "Resolving count, range and step", written out here (not the client's code)

def auto_select(count, rng, step, default_range):
    count = -1 if count is None else count
    rng = -1.0 if rng is None else rng
    step = -1.0 if step is None else step
    if count <= 0 and rng < 0 and step <= 0:
        return 1, 0.0, 0.0
    if count <= 0 and rng < 0 and step > 0:
        return 2, step, step
    if count <= 0 and rng >= 0 and step <= 0:
        return 2, rng, rng
    if count > 0 and rng < 0 and step <= 0:
        c = max(count, 2)
        return c, default_range, default_range / (c - 1)
    if count <= 0 and rng >= 0 and step > 0:
        return math.ceil(rng / step), rng, step
    if count > 0 and rng < 0 and step > 0:
        return 2, step, step
    if count > 0 and rng >= 0 and step <= 0:
        return count, rng, rng / max(count - 1, 1)
    return count, rng, step


def resolve_like_port(req):
    """(hdiv, vdiv, disp, lambda_m, convention) of a request, as the port's
    CLI would resolve the same flags."""
    def mrad(k):
        return req[k] * 0.001 if k in req else None
    h = auto_select(req.get("hdivsteps"), mrad("hdivrange_mrad"), mrad("hdivstep_mrad"), 1.0)
    v = auto_select(req.get("vdivsteps"), mrad("vdivrange_mrad"), mrad("vdivstep_mrad"), 1.0)
    disp = req["dispersion_percent"] / 100.0 if "dispersion_percent" in req else None
    d = auto_select(req.get("dispsteps"), disp, None, 0.1)
    if req.get("energy_eV"):  # energy wins, and 0 is "not given"
        lam = (12398.42 / req["energy_eV"]) * 1e-10
    elif req.get("lambda_A"):
        lam = req["lambda_A"] * 1e-10
    else:
        lam = 1e-10
    return h, v, d, lam, req.get("convention", "MOSFLM")


def effective(axis, disp=False):
    """What the generator reads of (count, range, step)."""
    count, rng, step = axis
    if count <= 1:
        return (count,)
    return (count, rng) if disp else (count, rng, step)


def generator_inputs(h, v, d):
    """What decides the sources: a zero count anywhere is the fallback."""
    if 0 in (h[0], v[0], d[0]):
        return "fallback"
    return effective(h), effective(v), effective(d, True)


VECTORS = {"MOSFLM": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
           "XDS": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0))}


class Mapping(unittest.TestCase):
    def check_round_trip(self, hdiv, vdiv, disp, lam, beam, polar, round_div, dtype):
        req = bg.port_request(hdiv, vdiv, disp, lam, 10.0, beam, polar, round_div, dtype)
        self.assertEqual(req["semantics"], "nanobrag_torch")
        self.assertEqual(req["dtype"], dtype)
        self.assertEqual(req["round_div"], round_div)
        json.loads(json.dumps(req, allow_nan=False))  # plain JSON
        h, v, d, got_lam, conv = resolve_like_port(json.loads(json.dumps(req)))
        self.assertEqual(got_lam, lam, req)
        self.assertEqual(VECTORS[conv], (tuple(beam), tuple(polar)), req)
        want = generator_inputs(tuple(hdiv), tuple(vdiv), tuple(disp))
        self.assertEqual(generator_inputs(h, v, d), want, req)

    def test_golden_arguments_round_trip(self):
        self.assertEqual(len(GOLDEN), 10)
        for path in GOLDEN:
            case = load(path)
            pr = case["port_resolved"]
            axes = [(pr[k]["count"], pr[k]["range"], pr[k]["step"]) for k in ("hdiv", "vdiv", "disp")]
            with self.subTest(case=case["name"]):
                self.check_round_trip(*axes, pr["central_wavelength_m"], pr["beam_direction"],
                                      pr["polarization_axis"], pr["round_div"], case["dtype"])

    def test_random_arguments_round_trip_or_refuse(self):
        rnd = random.Random(10)
        expressed = refused = 0
        for _ in range(3000):
            def axis(disp):
                count = rnd.choice([0, 1, 2, 3, 5, 9, 25, 51])
                rng = rnd.choice([0.0, rnd.uniform(0, 2e-3), rnd.randint(1, 99) * 1e-5,
                                  rnd.randint(1, 999) * 0.001 * 0.001])
                step = rnd.choice([rnd.uniform(0, 5e-4), rng / max(count - 1, 1)])
                if rnd.random() < 0.05:
                    step = 0.0  # with a range > 0: not expressible
                if disp:
                    rng = rnd.choice([0.0, rnd.uniform(0, 0.05), rnd.randint(1, 99) / 100.0 / 100.0])
                return count, rng, step
            lam = rnd.choice([1e-10, rnd.uniform(0.5e-10, 3e-10), 12398.42 / rnd.uniform(5e3, 2e4) * 1e-10])
            conv = rnd.choice(["MOSFLM", "XDS"])
            args = (axis(False), axis(False), axis(True), lam, *VECTORS[conv],
                    rnd.random() < 0.5, rnd.choice(["float32", "float64"]))
            try:
                self.check_round_trip(*args)
                expressed += 1
            except bg.NotExpressible as e:
                refused += 1
                # the reasons: a step <= 0 with a range, or a double that
                # the server's conversion never reaches
                self.assertTrue(".step = 0.0" in str(e) or "converts to exactly" in str(e), str(e))
        self.assertGreater(expressed, 2400)

    def test_every_cli_made_value_is_expressible(self):
        """Ranges the CLI makes (mrad * 0.001, percent / 100, Angstrom *
        1e-10, (12398.42 / eV) * 1e-10) and the steps it derives (range /
        (count - 1)) always map back, for thousands of consecutive inputs."""
        mrad, pct = 0.24, 0.1
        for i in range(3000):
            count = 2 + i % 50
            rng = mrad * 0.001
            lam = (12398.42 / (9000.0 + i * 0.37)) * 1e-10 if i % 2 else (0.9 + i * 1e-5) * 1e-10
            self.check_round_trip((count, rng, rng / (count - 1)), (count, rng, 1e-5),
                                  (count, pct / 100.0, 0.0), lam, *VECTORS["MOSFLM"],
                                  True, "float32")
            mrad = float(np.nextafter(mrad, 1.0))
            pct = float(np.nextafter(pct, 1.0))

    def test_fallback_is_requested_as_a_zero_count(self):
        req = bg.port_request((0, 1e-4, 1e-5), (3, 2e-4, 1e-4), (1, 0, 0), 1e-10)
        h, v, d, _, _ = resolve_like_port(req)
        self.assertEqual(h[0], 0)
        req = bg.port_request((3, 2e-4, 1e-4), (3, 2e-4, 1e-4), (0, 0.01, 0), 1e-10)
        self.assertEqual(resolve_like_port(req)[0][0], 0)

    def test_not_expressible(self):
        ok = dict(hdiv_params=(3, 2e-4, 1e-4), vdiv_params=(3, 2e-4, 1e-4),
                  disp_params=(1, 0.0, 0.0), central_wavelength_m=1e-10)
        cases = [
            (dict(beam_direction=[0.0, 1.0, 0.0]), "beam_direction"),
            (dict(beam_direction=[1.0, 0.0, 0.0], polarization_axis=[0.0, 1.0, 0.0]), "polarization"),
            (dict(hdiv_params=(-1, 2e-4, 1e-4)), "hdiv_params.count"),
            (dict(vdiv_params=(3, -2e-4, 1e-4)), "vdiv_params.range"),
            (dict(hdiv_params=(3, 2e-4, 0.0)), "hdiv_params.step"),
            (dict(disp_params=(3, -0.01, 0.0)), "disp_params.range"),
            (dict(hdiv_params=(3, float("nan"), 1e-4)), "hdiv_params"),
            (dict(hdiv_params=(2.5, 2e-4, 1e-4)), "hdiv_params.count"),
            (dict(central_wavelength_m=0.0), "central_wavelength_m"),
            (dict(dtype="float16"), "dtype"),
        ]
        for change, named in cases:
            with self.subTest(named=named):
                with self.assertRaises(bg.NotExpressible) as cm:
                    bg.port_request(**{**ok, **change})
                self.assertIn(named, str(cm.exception))

    def test_accepts_port_like_arguments(self):
        class SamplingParams:  # the port's dataclass, by shape
            def __init__(self, count, range, step):  # noqa: A002 - the port's name
                self.count, self.range, self.step = count, range, step
        a = bg.port_request(SamplingParams(5, 4e-4, 1e-4), {"count": 3, "range": 2e-4, "step": 1e-4},
                            (1, 0.0, 0.0), 1e-10, dtype=np.float64)
        b = bg.port_request((5, 4e-4, 1e-4), (3, 2e-4, 1e-4), (1, 0.0, 0.0), 1e-10, dtype="f8")
        self.assertEqual(a, b)
        self.assertEqual(a["dtype"], "float64")

    def test_retry_after(self):
        self.assertEqual(bg._retry_after_seconds("3"), 3.0)
        now = 1_700_000_000
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 7))
        self.assertAlmostEqual(bg._retry_after_seconds(date, now=now), 7.0, places=3)
        self.assertIsNone(bg._retry_after_seconds("soon"))


# ---- against the real server --------------------------------------------

REQUESTS = [
    {},
    {"divergence_mrad": 0.5, "divsteps": 25, "dispersion_percent": 0.1, "dispsteps": 9},
    {"hdivrange_mrad": 0.3, "hdivsteps": 5, "vdivrange_mrad": 0.2, "vdivsteps": 4,
     "round_div": False, "convention": "XDS", "energy_eV": 12000},
]


class DefaultSemantics(ServerCase):
    def test_values_equal_the_json_answer(self):
        client = bg.Client(self.srv.url)
        for params in REQUESTS:
            with self.subTest(params=params):
                j = client.sources(params, fmt="json")
                n = j.raw["count"]
                self.assertEqual(j.directions.shape, (n, 3))
                for fmt, dtype in (("npz", None), ("npz", "float64"), ("npz", "float32"),
                                   ("npy", None), ("npy", "float32")):
                    g = client.sources(params, fmt=fmt, dtype=dtype)
                    dt = np.dtype(dtype or "float64")
                    self.assertEqual(g.id, j.id)
                    self.assertEqual(g.directions.shape, (n, 3))
                    self.assertEqual(g.weights.shape, (n,))
                    self.assertEqual(g.wavelengths.shape, (n,))
                    self.assertEqual(g.directions.dtype, dt)
                    self.assertTrue(np.array_equal(g.directions, j.directions.astype(dt)))
                    self.assertTrue(np.array_equal(g.weights, j.weights.astype(dt)))
                    self.assertTrue(np.array_equal(g.wavelengths, j.wavelengths.astype(dt)))

    def test_module_level_call_and_errors(self):
        g = bg.sources({"divergence_mrad": 0.5, "divsteps": 5}, base_url=self.srv.url)
        self.assertEqual(g.fmt, "npz")
        self.assertGreater(len(g.weights), 1)
        b = bg.sources({"divergence_mrad": 0.5, "divsteps": 5}, fmt="bin", base_url=self.srv.url)
        self.assertEqual((b.raw[:4], b.directions), (b"BGRD", None))
        t = bg.fetch(g.id, fmt="txt", base_url=self.srv.url)
        self.assertEqual(t.raw.count(b"\n"), len(g.weights))
        with self.assertRaises(ValueError):
            bg.sources({}, fmt="txt", dtype="float32", base_url=self.srv.url)
        with self.assertRaises(bg.BeamgridError) as cm:
            bg.sources({"lamda_A": 1}, base_url=self.srv.url)
        self.assertEqual(cm.exception.status, 400)
        self.assertEqual(cm.exception.field, "lamda_A")
        with self.assertRaises(bg.BeamgridError) as cm:
            bg.sources({"lambda_A": -1}, base_url=self.srv.url)
        self.assertEqual(cm.exception.status, 422)

    def test_second_fetch_is_a_304(self):
        client = bg.Client(self.srv.url)
        params = {"divergence_mrad": 0.4, "divsteps": 9, "dispsteps": 3, "dispersion_percent": 0.2}
        before = self.srv.metric("beamgrid_http_requests_total", status="304")
        first = client.sources(params, fmt="npz", dtype="float32")
        self.assertEqual(client.stats["304"], 0)
        first.directions[:] = 7  # the caller's copy; the kept one is intact
        second = client.sources(params, fmt="npz", dtype="float32")
        self.assertEqual(client.stats["304"], 1)
        self.assertEqual(self.srv.metric("beamgrid_http_requests_total", status="304"), before + 1)
        self.assertEqual(second.etag, first.etag)
        fresh = bg.Client(self.srv.url).sources(params, fmt="npz", dtype="float32")
        self.assertTrue(np.array_equal(second.directions, fresh.directions))
        self.assertTrue(np.array_equal(second.wavelengths, fresh.wavelengths))
        # by id too, and another representation of the same id is a 200
        third = client.fetch(first.id, fmt="npz", dtype="float32")
        self.assertEqual(client.stats["304"], 2)
        self.assertTrue(np.array_equal(third.weights, fresh.weights))
        client.fetch(first.id, fmt="npz")
        self.assertEqual(client.stats["304"], 2)


# A grid of 504,100 sources: 20 MB as npy.
BIG = {"hdivrange_mrad": 1, "vdivrange_mrad": 1, "hdivsteps": 710, "vdivsteps": 710,
       "round_div": False}
# 160,000 sources: 6.4 MB.
MID = {"hdivrange_mrad": 1, "vdivrange_mrad": 1, "hdivsteps": 400, "vdivsteps": 400,
       "round_div": False}


class Overloaded(unittest.TestCase):
    def test_bounded_retries_then_503(self):
        srv = Server("--max-memory-mb", "1")
        try:
            waits = []
            client = bg.Client(srv.url, retries=2, max_retry_wait=5,
                               on_retry=lambda n, w, e: waits.append((n, w, e.status)))
            t0 = time.monotonic()
            with self.assertRaises(bg.BeamgridError) as cm:
                client.sources(MID, fmt="npz")
            elapsed = time.monotonic() - t0
            self.assertEqual(cm.exception.status, 503)
            self.assertEqual(waits, [(1, 1.0, 503), (2, 1.0, 503)])  # Retry-After: 1
            self.assertGreaterEqual(elapsed, 2.0)
            self.assertEqual(client.stats["503"], 3)
            self.assertEqual(srv.metric("beamgrid_http_requests_total", status="503"), 3)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_503_then_success_once_memory_is_free(self):
        srv = Server("--cache-mb", "0", "--max-memory-mb", "24")
        try:
            # a download that stalls (small receive buffer, never read)
            # keeps BIG's 20 MB alive
            body = json.dumps(BIG).encode()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(b"POST /v1/sources?format=npy HTTP/1.1\r\nHost: t\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            wait_for(lambda: srv.metric("beamgrid_memory_live_bytes") > 20e6, "BIG alive")

            def release(attempt, wait, err):
                self.assertEqual((attempt, wait, err.status), (1, 1.0, 503))
                s.close()
                wait_for(lambda: srv.metric("beamgrid_memory_live_bytes") == 0, "BIG released")

            client = bg.Client(srv.url, retries=3, on_retry=release)
            g = client.sources(MID, fmt="npz")
            self.assertEqual(client.stats["503"], 1)
            self.assertEqual(client.stats["retries"], 1)
            self.assertEqual(g.weights.shape, (160000,))
            self.assertEqual(srv.metric("beamgrid_http_requests_total", status="503"), 1)
        finally:
            self.assertEqual(srv.stop(), 0)


# ---- nanobrag_torch semantics (the port's answers) ------------------------

def server_has_torch_semantics(url):
    req = urllib.request.Request(url + "/v1/sources", data=b'{"semantics": "nanobrag_torch"}',
                                 headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req, timeout=10).status == 200
    except urllib.error.HTTPError as e:
        e.close()
        return False


class GoldenBeamsNpz(ServerCase):
    """Every golden-beams grid (tests/golden-beams, docs/beams.md) as npz
    through the client: the same directions, weights and wavelengths as the
    case, to 1e-12 relative (1e-15 absolute near zero), in float64; and the
    float32 npz the float64 values rounded."""


    def close(self, got, want, what):
        want = np.asarray(want, dtype=np.float64)
        self.assertEqual(got.shape, want.shape, what)
        ok = np.abs(got - want) <= np.maximum(1e-12 * np.abs(want), 1e-15)
        self.assertTrue(ok.all(), "%s: %d values off, first at %s" %
                        (what, int((~ok).sum()), np.argwhere(~ok)[:1].tolist()))

    def test_every_case_as_npz(self):
        cases = [load(p) for p in sorted(glob.glob(os.path.join(
            HERE, "..", "golden-beams", "*.json")))]
        grids = [c for c in cases if "count" in c]
        self.assertGreaterEqual(len(grids), 8)
        client = bg.Client(self.srv.url)
        for c in grids:
            with self.subTest(case=c["why"]):
                g = client.sources(c["request"], fmt="npz")
                self.assertEqual(len(g.weights), c["count"])
                self.close(g.directions, c["directions"], "directions")
                self.close(g.weights, c["weights"], "weights")
                self.close(g.wavelengths, c["wavelengths_m"], "wavelengths")
                f = client.sources(c["request"], fmt="npz", dtype="float32")
                self.assertEqual(f.weights.dtype, np.float32)
                self.assertTrue(np.array_equal(f.weights, g.weights.astype(np.float32)))
                self.assertTrue(np.array_equal(f.wavelengths,
                                               g.wavelengths.astype(np.float32)))


class TorchSemantics(ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not server_has_torch_semantics(cls.srv.url):
            cls.srv.stop()
            raise AssertionError('the server refuses "semantics": "nanobrag_torch"')

    def check(self, case, d, w, l):
        dt = np.dtype(case["dtype"])
        n = case["count"]
        self.assertEqual(d.shape, (n, 3))
        self.assertEqual((d.dtype, w.dtype, l.dtype), (dt, dt, dt))
        self.assertTrue(np.array_equal(w, np.array(case["weights"], dtype=dt)))
        self.assertTrue(np.array_equal(l, np.array(case["wavelengths_m"], dtype=dt)))
        tol = 4 * 2.0 ** -24 if dt == np.float32 else 1e-12
        err = np.max(np.abs(d.astype(np.float64) - np.array(case["directions"])))
        self.assertLessEqual(err, tol)

    def test_port_call_gives_the_ports_arrays(self):
        client = bg.Client(self.srv.url)
        for path in GOLDEN:
            case = load(path)
            pr = case["port_resolved"]
            with self.subTest(case=case["name"]):
                d, w, l = client.generate_sources_from_divergence_dispersion(
                    pr["hdiv"], pr["vdiv"], pr["disp"], pr["central_wavelength_m"],
                    beam_direction=pr["beam_direction"],
                    polarization_axis=pr["polarization_axis"],
                    round_div=pr["round_div"], dtype=case["dtype"], as_torch=False)
                self.check(case, d, w, l)

    def test_flags_through_sources(self):
        client = bg.Client(self.srv.url)
        for path in GOLDEN:
            case = load(path)
            params = dict(case["params"], semantics="nanobrag_torch", dtype=case["dtype"])
            with self.subTest(case=case["name"]):
                g = client.sources(params, fmt="npz", dtype=case["dtype"])
                self.check(case, g.directions, g.weights, g.wavelengths)


if __name__ == "__main__":
    unittest.main(verbosity=2)
