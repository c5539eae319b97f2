#!/usr/bin/python3
"""The Deployment's own probes, run the way the kubelet runs them, against
a pod that `podman kube play` started (make image-test). Podman 4.3 ignores
the startup and readiness probes, and turns the livenessProbe into an
in-container `curl` healthcheck (with a named port resolved to 0), which
needs curl in the image and systemd timers to run; the kubelet probes from
outside the container. So this does what the kubelet would:
  1. startupProbe: a GET every periodSeconds until one succeeds; failing
     failureThreshold times in a row fails the pod (the kubelet kills it);
  2. readinessProbe, once started: successThreshold successes in a row make
     the pod ready; it must happen within failureThreshold periods;
  3. livenessProbe: one GET succeeds.
A probe succeeds on a status from 200 to 399 within timeoutSeconds. The
probe's port is resolved as the kubelet does (a name is the container's
port of that name), then mapped to the hostPort it is published on, on
127.0.0.1. Prints one line per probe and exits 1 if any failed.

Usage: kube_probe.py PLAY_YAML
"""
import sys
import time
import urllib.error
import urllib.request

import yaml


def container_of(path):
    with open(path) as f:
        docs = list(yaml.safe_load_all(f))
    (dep,) = [d for d in docs if d and d.get("kind") == "Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def host_port(c, port):
    for p in c["ports"]:
        if port in (p.get("name"), p["containerPort"]):
            return p["hostPort"]
    sys.exit(f"probe port {port!r} is not a port of the container")


def get(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def prober(c, kind):
    p = c.get(kind)
    if not p or "httpGet" not in p:
        sys.exit(f"the container has no httpGet {kind}")
    url = f"http://127.0.0.1:{host_port(c, p['httpGet']['port'])}{p['httpGet']['path']}"
    return p, url


def run(c, kind, need, allowed_failures):
    """Probes every periodSeconds until `need` successes in a row or more
    than `allowed_failures` failures in a row. Returns (ok, message)."""
    p, url = prober(c, kind)
    period, timeout = p.get("periodSeconds", 10), p.get("timeoutSeconds", 1)
    t0 = time.monotonic()
    time.sleep(p.get("initialDelaySeconds", 0))
    ok_run = fail_run = tries = 0
    while True:
        tries += 1
        st = get(url, timeout)
        if 200 <= st < 400:
            ok_run, fail_run = ok_run + 1, 0
        else:
            ok_run, fail_run = 0, fail_run + 1
        took = time.monotonic() - t0
        what = f"{kind} GET {p['httpGet']['path']} (period {period} s)"
        if ok_run >= need:
            return True, f"{what}: {st} after {tries} probe(s), {took:.1f} s"
        if fail_run > allowed_failures:
            return False, f"{what}: failed {fail_run} times in a row (last status {st})"
        time.sleep(period)


def main():
    c = container_of(sys.argv[1])
    sp = c["startupProbe"]
    rp = c["readinessProbe"]
    steps = [
        ("startupProbe", 1, sp.get("failureThreshold", 3) - 1),
        ("readinessProbe", rp.get("successThreshold", 1), rp.get("failureThreshold", 3) - 1),
        ("livenessProbe", 1, 0),
    ]
    bad = 0
    for kind, need, allowed in steps:
        ok, msg = run(c, kind, need, allowed)
        print(("ok   " if ok else "FAIL ") + msg)
        if not ok:
            bad += 1
            break
    sys.exit(1 if bad else 0)


main()
