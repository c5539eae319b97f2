"""beamgrid_client.py - a small client of beamgrid for simulation workers.

One file: the standard library plus numpy; torch only if it is installed.
Copy it next to your code, or put clients/python on PYTHONPATH.

    import beamgrid_client as bg

    # any request: (directions (N,3), weights (N,), wavelengths (N,)) as numpy
    g = bg.sources({"divergence_mrad": 0.5, "divsteps": 25}, fmt="npz")
    g.directions, g.weights, g.wavelengths, g.id, g.etag

    # the PyTorch port's call, answered by beamgrid ("semantics":
    # "nanobrag_torch"); torch tensors when torch is importable
    d, w, l = bg.generate_sources_from_divergence_dispersion(
        hdiv_params, vdiv_params, disp_params, central_wavelength_m,
        beam_direction=..., polarization_axis=..., round_div=True,
        dtype=torch.float64)

What it does on the wire (README, "Python client"; docs/formats.md for npz):

- POST /v1/sources with the parameters as JSON, ?format= and ?dtype=.
- 503 (overloaded, draining, out of memory) is retried after its
  Retry-After (seconds or an HTTP date), each wait capped at
  max_retry_wait, at most `retries` times; then BeamgridError (status 503).
- Every answer's id (Content-Location) and ETag are remembered in a small
  in-memory LRU (cache_size entries). Asking for the same parameters (or
  the same id) again sends GET /v1/sources/{id} with If-None-Match; a 304
  returns the arrays kept from the first answer, with no body sent.
- Errors are BeamgridError with the problem+json fields (status, type,
  title, detail, field).

generate_sources_from_divergence_dispersion takes the port's function's
already-resolved arguments (counts, ranges in radians, a dispersion
fraction, a wavelength in metres, vectors) and maps them to request fields
that the server resolves back to exactly those values (docs/torch.md's rules:
count, range and step all given are used as given; mrad * 0.001, percent /
100, Angstrom * 1e-10 are inverted bit-exactly). Arguments no request can
carry raise NotExpressible (a ValueError) naming the argument; see
_axis_fields and _vectors_convention for the cases.
"""

import collections
import email.utils
import io
import json
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

try:  # optional: tensors out of the port-shaped call
    import torch as _torch
except ImportError:  # pragma: no cover - depends on the machine
    _torch = None

__all__ = [
    "BeamgridError", "NotExpressible", "Grid", "Client", "sources", "fetch",
    "generate_sources_from_divergence_dispersion", "port_request",
    "DEFAULT_URL",
]

DEFAULT_URL = os.environ.get("BEAMGRID_URL", "http://127.0.0.1:8080")

FORMATS = ("npz", "npy", "json", "bin", "txt")


class BeamgridError(Exception):
    """A problem+json answer (or a transport failure: status 0)."""

    def __init__(self, status, problem=None, message=None):
        self.status = status
        self.problem = problem or {}
        self.type = self.problem.get("type")
        self.title = self.problem.get("title")
        self.detail = self.problem.get("detail")
        self.field = self.problem.get("field")
        text = message or "beamgrid answered %s: %s%s" % (
            status, self.detail or self.title or "",
            " (field %s)" % self.field if self.field else "")
        super().__init__(text)


class NotExpressible(ValueError):
    """The port's arguments have no beamgrid request that gives the same
    sources (the argument is named in the message)."""


Grid = collections.namedtuple(
    "Grid", "directions weights wavelengths id etag fmt dtype raw")
Grid.__doc__ = """One answer. directions (N,3), weights (N,), wavelengths (N,) are
numpy arrays for npz, npy and json (None for bin and txt, whose bytes are in
raw); raw is the parsed JSON object for json. id and etag identify it."""


def _dtype_name(dtype):
    """'float32' or 'float64' from a string, numpy or torch dtype, or None."""
    if dtype is None:
        return None
    if _torch is not None and isinstance(dtype, _torch.dtype):
        names = {_torch.float32: "float32", _torch.float64: "float64"}
        if dtype in names:
            return names[dtype]
        raise NotExpressible("dtype %s: beamgrid computes float32 or float64" % dtype)
    text = str(dtype).replace("torch.", "")
    aliases = {"float32": "float32", "f4": "float32", "<f4": "float32",
               "float64": "float64", "f8": "float64", "<f8": "float64",
               "float": "float64", "double": "float64"}
    if text in aliases:
        return aliases[text]
    try:
        np_name = np.dtype(dtype).name
    except TypeError:
        np_name = None
    if np_name in ("float32", "float64"):
        return np_name
    raise NotExpressible("dtype %r: beamgrid computes float32 or float64" % (dtype,))


def _retry_after_seconds(value, now=None):
    """Seconds from a Retry-After value (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _decode(fmt, body, dtype):
    """The arrays of a body in format fmt."""
    if fmt == "npz":
        with np.load(io.BytesIO(body)) as z:
            return z["directions"], z["weights"], z["wavelengths"], None
    if fmt == "npy":
        a = np.load(io.BytesIO(body))
        return (np.ascontiguousarray(a[:, 0:3]), a[:, 3].copy(), a[:, 4].copy(), None)
    if fmt == "json":
        j = json.loads(body)
        dt = np.dtype(dtype or "float64")
        n = j["count"]
        d = np.array(j["directions"], dtype=np.float64).reshape(n, 3).astype(dt)
        return (d, np.array(j["weights"], dtype=np.float64).astype(dt),
                np.array(j["wavelengths_m"], dtype=np.float64).astype(dt), j)
    return None, None, None, body


def _copy(grid):
    """A copy of a kept answer, so callers never share (or mutate) it."""
    def c(a):
        return a.copy() if isinstance(a, np.ndarray) else a
    return grid._replace(directions=c(grid.directions), weights=c(grid.weights),
                         wavelengths=c(grid.wavelengths))


class _EtagCache:
    """A small LRU: request key -> id, and (id, fmt, dtype) -> Grid."""

    def __init__(self, size):
        self.size = max(0, int(size))
        self.lock = threading.Lock()
        self.ids = collections.OrderedDict()
        self.grids = collections.OrderedDict()

    def _put(self, table, key, value):
        if self.size == 0:
            return
        with self.lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self.size:
                table.popitem(last=False)

    def _get(self, table, key):
        with self.lock:
            value = table.get(key)
            if value is not None:
                table.move_to_end(key)
            return value

    def put_id(self, request_key, grid_id):
        self._put(self.ids, request_key, grid_id)

    def get_id(self, request_key):
        return self._get(self.ids, request_key)

    def put_grid(self, key, grid):
        self._put(self.grids, key, grid)

    def get_grid(self, key):
        return self._get(self.grids, key)


class Client:
    """A beamgrid endpoint with its retry policy and ETag cache.

    base_url: e.g. "http://127.0.0.1:8080" (default: $BEAMGRID_URL, else
    that). token: a bearer token (--token-file). retries: 503s retried at
    most this many times; max_retry_wait caps each wait (seconds) and
    default_retry_wait is used when a 503 has no usable Retry-After.
    cache_size: answers (and ids) kept for If-None-Match; 0 keeps none.
    on_retry(attempt, wait_s, error): called before each wait (logging).
    """

    def __init__(self, base_url=None, token=None, timeout=60.0, retries=5,
                 max_retry_wait=30.0, default_retry_wait=1.0, cache_size=32,
                 on_retry=None):
        self.base_url = (base_url or DEFAULT_URL).rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = int(retries)
        self.max_retry_wait = float(max_retry_wait)
        self.default_retry_wait = float(default_retry_wait)
        self.cache = _EtagCache(cache_size)
        self.on_retry = on_retry
        self.stats = collections.Counter()  # requests, 503, 304, retries

    # ---- HTTP ----

    def _send(self, method, path, body=None, headers=None):
        """One exchange: (status, headers, body); HTTP errors are answers."""
        h = {"Accept-Encoding": "identity"}
        if body is not None:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        req = urllib.request.Request(self.base_url + path, data=body,
                                     method=method, headers=h)
        self.stats["requests"] += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise BeamgridError(0, message="beamgrid at %s: %s" % (self.base_url, e)) from e

    def _exchange(self, method, path, body=None, headers=None):
        """_send, retrying 503 as Retry-After says (bounded)."""
        attempt = 0
        while True:
            status, h, data = self._send(method, path, body, headers)
            if status != 503:
                return status, h, data
            self.stats["503"] += 1
            err = _problem_error(status, data)
            if attempt >= self.retries:
                raise err
            wait = _retry_after_seconds(h.get("Retry-After"))
            if wait is None:
                wait = self.default_retry_wait
            wait = min(wait, self.max_retry_wait)
            attempt += 1
            self.stats["retries"] += 1
            if self.on_retry is not None:
                self.on_retry(attempt, wait, err)
            time.sleep(wait)

    # ---- grids ----

    @staticmethod
    def _query(fmt, dtype):
        if fmt not in FORMATS:
            raise ValueError("fmt must be one of %s" % ", ".join(FORMATS))
        q = {"format": fmt}
        if dtype is not None:
            if fmt in ("json", "txt"):
                raise ValueError("dtype applies to npz, npy and bin only")
            q["dtype"] = _dtype_name(dtype)
        return "?" + urllib.parse.urlencode(q)

    def _answer(self, status, h, data, fmt, dtype, kept):
        if status == 304 and kept is not None:
            self.stats["304"] += 1
            return _copy(kept)
        if status != 200:
            raise _problem_error(status, data)
        d, w, l, raw = _decode(fmt, data, dtype)
        loc = h.get("Content-Location") or ""
        grid = Grid(d, w, l, loc.rsplit("/", 1)[-1] or None, h.get("ETag"),
                    fmt, _dtype_name(dtype) if dtype else None, raw)
        if grid.id is not None and grid.etag:
            self.cache.put_grid((grid.id, fmt, grid.dtype), _copy(grid))
        return grid

    def fetch(self, grid_id, fmt="npz", dtype=None):
        """GET /v1/sources/{id}: with If-None-Match when this answer is kept
        (304 -> the kept arrays)."""
        dt = _dtype_name(dtype) if dtype is not None else None
        kept = self.cache.get_grid((grid_id, fmt, dt))
        headers = {"If-None-Match": kept.etag} if kept is not None else {}
        status, h, data = self._exchange(
            "GET", "/v1/sources/%s%s" % (grid_id, self._query(fmt, dt)),
            headers=headers)
        return self._answer(status, h, data, fmt, dt, kept)

    def sources(self, params, fmt="npz", dtype=None):
        """The grid of a request (a dict of request fields). The first time,
        a POST; then a conditional GET of its id (304 -> kept arrays)."""
        dt = _dtype_name(dtype) if dtype is not None else None
        body = json.dumps(params, sort_keys=True, allow_nan=False).encode()
        grid_id = self.cache.get_id(body)
        if grid_id is not None:
            return self.fetch(grid_id, fmt, dt)
        status, h, data = self._exchange("POST", "/v1/sources" + self._query(fmt, dt), body)
        grid = self._answer(status, h, data, fmt, dt, None)
        if grid.id is not None:
            self.cache.put_id(body, grid.id)
        return grid

    def generate_sources_from_divergence_dispersion(self, *args, **kwargs):
        """See the module-level function of this name."""
        return _generate(self, *args, **kwargs)


def _problem_error(status, data):
    try:
        problem = json.loads(data)
        if not isinstance(problem, dict):
            problem = {}
    except ValueError:
        problem = {"detail": data[:200].decode("utf-8", "replace")}
    return BeamgridError(status, problem)


_default = None
_default_lock = threading.Lock()


def _client(base_url):
    global _default
    if base_url is not None:
        return Client(base_url)
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def sources(params, fmt="npz", dtype=None, base_url=None, client=None):
    """The grid of any request (dict of request fields), as a Grid.
    client: a Client (its retries, token, cache); else one for base_url, or
    the module's default (BEAMGRID_URL), whose ETag cache lasts the process."""
    return (client or _client(base_url)).sources(params, fmt, dtype)


def fetch(grid_id, fmt="npz", dtype=None, base_url=None, client=None):
    """GET a grid by id, as a Grid (If-None-Match when kept)."""
    return (client or _client(base_url)).fetch(grid_id, fmt, dtype)


# ---- the PyTorch port's call -------------------------------------------

# How the server turns request fields into the port's values (docs/torch.md):
# mrad * 0.001 (not / 1000), percent / 100.0, Angstrom * 1e-10.
def _mrad_to_rad(x):
    return x * 0.001


def _percent_to_fraction(x):
    return x / 100.0


def _angstrom_to_m(x):
    return x * 1e-10


def _ev_to_m(x):
    return (12398.42 / x) * 1e-10


def _search(target, forward, guess):
    """A double x near guess with forward(x) == target exactly, or None."""
    if forward(guess) == target:
        return guess
    for toward in (math.inf, -math.inf):
        x = guess
        for _ in range(64):
            x = float(np.nextafter(x, toward))
            if forward(x) == target:
                return x
    return None


def _preimage(target, forward, guess, what):
    """A double x with forward(x) == target exactly, searched around guess
    (the server computes forward; JSON carries x exactly)."""
    x = _search(target, forward, guess)
    if x is not None:
        return x
    raise NotExpressible(
        "%s = %r: no request value converts to exactly this double "
        "(the server converts with a single IEEE operation, which skips "
        "some doubles); round it to the value the port's CLI would make" % (what, target))


def _triple(p, what):
    """(count, range, step) from a SamplingParams-like object, a mapping or
    a 3-sequence."""
    if p is None:
        return 1, 0.0, 0.0
    if isinstance(p, dict):
        vals = (p["count"], p["range"], p["step"])
    elif all(hasattr(p, a) for a in ("count", "range", "step")):
        vals = (p.count, p.range, p.step)
    else:
        vals = tuple(p)
        if len(vals) != 3:
            raise NotExpressible("%s: expected (count, range, step)" % what)
    count, rng, step = vals
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise NotExpressible("%s.count = %r: an integer" % (what, count))
    rng, step = float(rng), float(step)
    if not (math.isfinite(rng) and math.isfinite(step)):
        raise NotExpressible("%s: range and step must be finite (the port fails on NaN)" % what)
    return int(count), rng, step


def _axis_fields(prefix, p, what):
    """Request fields that resolve to divergence axis p = (count, range,
    step) in radians, or None when the count is 0 (no angle at all).

    count 1: no field (the port's single angle 0 ignores range and step).
    count >= 2, step == range / (count - 1) (what the CLI derives, and a
    zero range with a zero step): count and range; the server derives the
    same step with the same division (docs/torch.md, rule 7).
    count >= 2, another step > 0, range >= 0: all three given, used as
    given (rule 8).
    Not expressible: a negative count (the port's arange fails), a negative
    range (a request's negative range means "not given"), another step <= 0
    (the server derives a step <= 0 only from a zero range)."""
    count, rng, step = _triple(p, what)
    if count < 0:
        raise NotExpressible("%s.count = %d: negative (the port fails)" % (what, count))
    if count == 0:
        return None
    if count == 1:
        return {}
    if rng < 0:
        raise NotExpressible("%s.range = %r: a negative range cannot be requested" % (what, rng))
    fields = {prefix + "divsteps": count,
              prefix + "divrange_mrad": _preimage(rng, _mrad_to_rad, rng * 1000.0,
                                                  what + ".range")}
    if step == rng / max(count - 1, 1):
        return fields
    if step <= 0:
        raise NotExpressible(
            "%s.step = %r with range %r: the server derives a step <= 0 only "
            "from a zero range" % (what, step, rng))
    fields[prefix + "divstep_mrad"] = _preimage(step, _mrad_to_rad, step * 1000.0,
                                                what + ".step")
    return fields


def _disp_fields(p, what):
    """Request fields for the dispersion (count, fraction range, step); None
    when the count is 0. The port ignores the step (and, with count 1, the
    range), so only dispsteps and dispersion_percent are sent."""
    count, rng, _step = _triple(p, what)
    if count < 0:
        raise NotExpressible("%s.count = %d: negative (the port fails)" % (what, count))
    if count == 0:
        return None
    if count == 1:
        return {}
    if rng < 0:
        raise NotExpressible("%s.range = %r: a negative dispersion cannot be requested" % (what, rng))
    return {"dispsteps": count,
            "dispersion_percent": _preimage(rng, _percent_to_fraction, rng * 100.0,
                                            what + ".range")}


def _vec(v, default, what):
    if v is None:
        return default
    if hasattr(v, "tolist"):
        v = v.tolist()
    v = tuple(float(x) for x in v)
    if len(v) != 3:
        raise NotExpressible("%s: three components" % what)
    return v


def _vectors_convention(beam, polar):
    """The convention whose vectors the port's CLI passes: MOSFLM's (1,0,0) /
    (0,0,1), or every other convention's (0,0,1) / (0,1,0). The server's
    nanobrag_torch mode takes vectors only this way (custom vectors are
    ignored, as by the port's CLI), so any other pair is not expressible."""
    b = _vec(beam, (1.0, 0.0, 0.0), "beam_direction")
    p = _vec(polar, (0.0, 0.0, 1.0), "polarization_axis")
    if b == (1.0, 0.0, 0.0) and p == (0.0, 0.0, 1.0):
        return "MOSFLM"
    if b == (0.0, 0.0, 1.0) and p == (0.0, 1.0, 0.0):
        return "XDS"
    raise NotExpressible(
        "beam_direction %s with polarization_axis %s: beamgrid's nanobrag_torch "
        "mode reproduces the port's CLI, which only passes (1,0,0)/(0,0,1) "
        "(MOSFLM) or (0,0,1)/(0,1,0) (other conventions)" % (b, p))


def _wavelength_fields(lam):
    """lambda_A with lambda_A * 1e-10 == lam; failing that, energy_eV with
    (12398.42 / energy_eV) * 1e-10 == lam (the CLI's two ways)."""
    x = _search(lam, _angstrom_to_m, lam / 1e-10)
    if x is not None:
        return {"lambda_A": x}
    e = _search(lam, _ev_to_m, 12398.42 / (lam / 1e-10))
    if e is not None and e > 0:
        return {"energy_eV": e}
    return {"lambda_A": _preimage(lam, _angstrom_to_m, lam / 1e-10, "central_wavelength_m")}


# the fallback when nothing is left: a zero count on an axis (docs/torch.md,
# rule 5: a range of 0 with a step and no count gives count 0)
_EMPTY_AXIS = {"hdivrange_mrad": 0.0, "hdivstep_mrad": 1.0}


def port_request(hdiv_params, vdiv_params, disp_params, central_wavelength_m,
                 source_distance_m=10.0, beam_direction=None,
                 polarization_axis=None, round_div=True, dtype="float32"):
    """The beamgrid request (a dict) that gives the port's function's
    sources for these arguments; NotExpressible if there is none.
    source_distance_m is accepted and ignored, as the port's function does."""
    del source_distance_m  # never read by the port's function
    lam = float(central_wavelength_m)
    if not math.isfinite(lam) or lam == 0:
        raise NotExpressible(
            "central_wavelength_m = %r: a lambda of 0 (or not finite) means "
            "'not given' to the port's CLI" % (lam,))
    req = {"semantics": "nanobrag_torch", "dtype": _dtype_name(dtype),
           "convention": _vectors_convention(beam_direction, polarization_axis),
           "round_div": bool(round_div)}
    req.update(_wavelength_fields(lam))
    parts = [_axis_fields("h", hdiv_params, "hdiv_params"),
             _axis_fields("v", vdiv_params, "vdiv_params"),
             _disp_fields(disp_params, "disp_params")]
    if any(p is None for p in parts):
        req.update(_EMPTY_AXIS)  # one +z source, weight 1, lambda0
        return req
    for p in parts:
        req.update(p)
    return req


def _generate(client, hdiv_params, vdiv_params, disp_params, central_wavelength_m,
              source_distance_m=10.0, beam_direction=None, polarization_axis=None,
              round_div=True, dtype="float32", as_torch=None):
    req = port_request(hdiv_params, vdiv_params, disp_params, central_wavelength_m,
                       source_distance_m, beam_direction, polarization_axis,
                       round_div, dtype)
    g = client.sources(req, fmt="npz", dtype=req["dtype"])
    out = (g.directions, g.weights, g.wavelengths)
    if as_torch is None:
        as_torch = _torch is not None
    if as_torch:
        if _torch is None:
            raise ImportError("as_torch=True but torch is not installed")
        return tuple(_torch.from_numpy(np.ascontiguousarray(a)) for a in out)
    return out


def generate_sources_from_divergence_dispersion(
        hdiv_params, vdiv_params, disp_params, central_wavelength_m,
        source_distance_m=10.0, beam_direction=None, polarization_axis=None,
        round_div=True, dtype="float32", *, as_torch=None, base_url=None,
        client=None):
    """The PyTorch port's function (nanobrag_torch.utils.auto_selection),
    answered by beamgrid: the same arguments, the same three arrays.

    hdiv_params, vdiv_params, disp_params: the port's SamplingParams (or any
    object with count, range, step; or a (count, range, step) tuple or
    dict): divergence in radians, dispersion as a fraction of lambda.
    central_wavelength_m: lambda0 in metres. beam_direction,
    polarization_axis: as the port (None: MOSFLM's (1,0,0), (0,0,1)).
    round_div: the elliptical trim. dtype: torch.float32 (the port's
    default) or torch.float64, or their numpy/string names. as_torch: None
    (tensors when torch is importable), True or False.

    Returns (directions (N,3), weights (N,), wavelengths (N,)) in dtype.
    Raises NotExpressible when no request gives these sources, and
    BeamgridError for an error answer."""
    return _generate(client or _client(base_url), hdiv_params, vdiv_params,
                     disp_params, central_wavelength_m, source_distance_m,
                     beam_direction, polarization_axis, round_div, dtype,
                     as_torch)
