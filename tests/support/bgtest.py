"""bgtest.py - what the Python tests share (tests/openapi/routes_check.py,
tests/browser/page_test.py, tests/client/test_client.py): 'ok'/'FAIL' check
lines with their counts, an HTTP request that returns error statuses instead
of raising, and a real build/beamgrid on a free loopback port (--port 0, the
port read from its startup line), ready before it is used and stopped with
SIGTERM."""
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BEAMGRID_BIN", os.path.join(ROOT, "build", "beamgrid"))

passed = failed = 0


def check(ok, what):
    """Count and print one check; returns ok."""
    global passed, failed
    if ok:
        passed += 1
        print("ok  ", what)
    else:
        failed += 1
        print("FAIL", what)
    return ok


def report(name):
    """Print 'name: N passed, N failed'; the exit status (1 on a failure)."""
    print(f"{name}: {passed} passed, {failed} failed")
    return 1 if failed else 0


def http(base, method, path, body=None, headers=None, timeout=60):
    """(status, headers, body) of one request; an HTTP error status is an
    answer, not an exception."""
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Server:
    """build/beamgrid on 127.0.0.1, a port of its own choosing, with extra
    flags; stderr to a file or discarded. Ready (/readyz 200) on return."""

    def __init__(self, *flags, stderr=subprocess.DEVNULL, ready_s=20):
        self.proc = subprocess.Popen([BIN, "--bind", "127.0.0.1", "--port", "0", *flags],
                                     stdout=subprocess.PIPE, stderr=stderr)
        line = self.proc.stdout.readline().decode()
        m = re.search(r'"port":\s*(\d+)', line)
        if not m:
            self.proc.kill()
            raise RuntimeError("no startup line: %r" % line)
        self.port = int(m.group(1))
        self.url = "http://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            try:
                if http(self.url, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.02)  # listening, not accepting yet: poll again
        self.proc.kill()
        raise RuntimeError("beamgrid did not become ready")

    def stop(self, timeout=30):
        """SIGTERM, then the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        return code
