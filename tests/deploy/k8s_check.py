#!/usr/bin/python3
"""Field checks over deploy/k8s/*.yaml, deploy/compose.yaml and the nginx
template: the settings that matter for running beamgrid, and that the
documents agree with each other and with the server.

Usage: k8s_check.py REPO_ROOT [BEAMGRID_BIN]

Uses Debian's python3-yaml. With BEAMGRID_BIN, the ConfigMap's keys are
checked against the variables `beamgrid --help` lists; without it, against
the BEAMGRID_* names in server/config.c. Prints one line per check and
"N passed, N failed"; exits 1 on any failure.
"""
import math
import os
import re
import subprocess
import sys

import yaml

root = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else ""
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")
    return ok


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def cpu(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}


def mem(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(q))
    if not m:
        raise ValueError(f"bad memory quantity {q}")
    return float(m.group(1)) * UNITS.get(m.group(2) or "", 1)


def get(d, *path, default=None):
    for p in path:
        if isinstance(d, dict) and p in d:
            d = d[p]
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return default
    return d


def subset(a, b):
    """Every label of selector a is on b."""
    return bool(a) and all(b.get(k) == v for k, v in a.items())


# The server's settings: from the binary's --help if given, else the source.
if binary and os.access(binary, os.X_OK):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    help_text = out.stdout + out.stderr
    source = f"{binary} --help"
else:
    with open(os.path.join(root, "server", "config.c")) as f:
        help_text = f.read()
    source = "server/config.c"
known_env = set(re.findall(r"BEAMGRID_[A-Z0-9_]+", help_text))

k8s = os.path.join(root, "deploy", "k8s")
docs = {}
for name in sorted(os.listdir(k8s)):
    if name.endswith(".yaml"):
        for d in load_all(os.path.join(k8s, name)):
            docs.setdefault(d.get("kind"), []).append(d)

for kind in ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
             "PodDisruptionBudget", "Kustomization"]:
    check(len(docs.get(kind, [])) == 1, f"deploy/k8s has one {kind}")

cm = docs["ConfigMap"][0]
dep = docs["Deployment"][0]
svc = docs["Service"][0]
hpa = docs["HorizontalPodAutoscaler"][0]
pdb = docs["PodDisruptionBudget"][0]
kus = docs["Kustomization"][0]

# Kustomization lists every manifest.
manifests = sorted(n for n in os.listdir(k8s) if n.endswith(".yaml") and n != "kustomization.yaml")
check(sorted(kus.get("resources", [])) == manifests, "kustomization.yaml lists every manifest")

# ConfigMap: BEAMGRID_* settings the server knows, as strings.
data = cm.get("data", {})
check(bool(known_env), f"server settings read from {source} ({len(known_env)} variables)")
for k, v in data.items():
    check(k in known_env, f"ConfigMap {k} is a setting of the server")
    check(isinstance(v, str), f"ConfigMap {k} is a string")
check(data.get("BEAMGRID_BIND") == "0.0.0.0", "ConfigMap binds 0.0.0.0 (reachable from the Service)")
port = int(data.get("BEAMGRID_PORT", "8080"))
drain = int(data.get("BEAMGRID_DRAIN_S", "10"))

# Deployment
spec = dep["spec"]
pod = spec["template"]["spec"]
labels = get(spec, "template", "metadata", "labels", default={})
check(spec.get("replicas") == 3, "Deployment replicas: 3")
check(subset(get(spec, "selector", "matchLabels", default={}), labels),
      "Deployment selector matches its pod labels")
check(len(pod.get("containers", [])) == 1, "one container")
c = pod["containers"][0]
ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
check(port in ports.values(), f"container port is BEAMGRID_PORT ({port})")


def probe_port(p):
    pp = get(p, "httpGet", "port")
    return ports.get(pp) if isinstance(pp, str) else pp


rp, lp = c.get("readinessProbe"), c.get("livenessProbe")
check(get(rp, "httpGet", "path") == "/readyz" and probe_port(rp) == port,
      "readinessProbe: GET /readyz on the server port")
check(get(lp, "httpGet", "path") == "/healthz" and probe_port(lp) == port,
      "livenessProbe: GET /healthz on the server port")
# Liveness must not kill a pod that is merely draining or busy.
check(get(lp, "failureThreshold", default=3) * get(lp, "periodSeconds", default=10) >= 20,
      "livenessProbe tolerates >= 20 s of failures")

res = c.get("resources", {})
for kind in ("requests", "limits"):
    for r in ("cpu", "memory"):
        check(r in res.get(kind, {}), f"resources.{kind}.{r} set")
try:
    check(cpu(res["requests"]["cpu"]) <= cpu(res["limits"]["cpu"]), "cpu request <= limit")
    check(mem(res["requests"]["memory"]) <= mem(res["limits"]["memory"]), "memory request <= limit")
    cache_mb = int(data.get("BEAMGRID_CACHE_MB", "256"))
    # The default bound on grids alive (4096 MiB) would outgrow most limits.
    max_mem = int(data.get("BEAMGRID_MAX_MEMORY_MB", "4096"))
    check(cache_mb <= max_mem, f"BEAMGRID_CACHE_MB ({cache_mb}) <= BEAMGRID_MAX_MEMORY_MB ({max_mem})")
    check(mem(res["limits"]["memory"]) >= (max_mem + 256) * 2**20,
          f"memory limit leaves >= 256 MiB above BEAMGRID_MAX_MEMORY_MB ({max_mem})")
    cpu_limit = math.ceil(cpu(res["limits"]["cpu"]))
    for k in ("BEAMGRID_THREADS", "BEAMGRID_COMPUTE_THREADS"):
        n = int(data.get(k, "0"))
        # 0 means "cores of the node", which ignores the cgroup CPU limit.
        check(1 <= n <= cpu_limit, f"{k} ({n}) is set and within the CPU limit ({cpu_limit})")
except (KeyError, ValueError) as e:
    check(False, f"resources parse: {e}")

psc = pod.get("securityContext", {})
csc = c.get("securityContext", {})
check(psc.get("runAsNonRoot") is True or csc.get("runAsNonRoot") is True, "runAsNonRoot")
check((csc.get("runAsUser", psc.get("runAsUser", 1)) or 0) != 0, "runAsUser is not 0")
check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
check("ALL" in get(csc, "capabilities", "drop", default=[]), "capabilities drop ALL")
check(get(psc, "seccompProfile", "type") == "RuntimeDefault", "seccompProfile RuntimeDefault")
check(any(get(e, "configMapRef", "name") == cm["metadata"]["name"] for e in c.get("envFrom", [])),
      "envFrom the ConfigMap")

pre = get(c, "lifecycle", "preStop", "exec", "command", default=[])
sleep_s = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" and pre[1].isdigit() else 0
check(sleep_s > 0, f"preStop sleeps ({sleep_s} s) so endpoints drop before SIGTERM")
grace = pod.get("terminationGracePeriodSeconds", 30)
check(grace > sleep_s + drain,
      f"terminationGracePeriodSeconds ({grace}) > preStop ({sleep_s}) + BEAMGRID_DRAIN_S ({drain})")
check(grace > drain, f"terminationGracePeriodSeconds ({grace}) > --drain-s ({drain})")
check(get(spec, "strategy", "rollingUpdate", "maxUnavailable") == 0,
      "rolling update keeps every replica until its successor is ready")

# Service
check(subset(svc["spec"].get("selector", {}), labels), "Service selector matches the pods")
tps = [p.get("targetPort") for p in svc["spec"].get("ports", [])]
check(bool(tps) and all((ports.get(t) if isinstance(t, str) else t) == port for t in tps),
      "Service targetPort is the container port")

# HPA
check(hpa.get("apiVersion") == "autoscaling/v2", "HPA is autoscaling/v2")
ref = hpa["spec"].get("scaleTargetRef", {})
check(ref.get("kind") == "Deployment" and ref.get("name") == dep["metadata"]["name"],
      "HPA targets the Deployment")
mn, mx = hpa["spec"].get("minReplicas", 1), hpa["spec"].get("maxReplicas", 0)
check(mn >= 2 and mn <= mx, f"HPA min {mn} >= 2 and <= max {mx}")
check(mn == spec.get("replicas"), "HPA minReplicas equals Deployment replicas")
cpu_metric = [m for m in hpa["spec"].get("metrics", [])
              if get(m, "resource", "name") == "cpu"
              and get(m, "resource", "target", "type") == "Utilization"]
check(len(cpu_metric) == 1, "HPA scales on CPU utilization")
check("cpu" in res.get("requests", {}), "CPU request set (HPA utilization is relative to it)")

# PDB
check(subset(get(pdb, "spec", "selector", "matchLabels", default={}), labels),
      "PDB selector matches the pods")
mu, ma = get(pdb, "spec", "maxUnavailable"), get(pdb, "spec", "minAvailable")
check((mu is not None and mu != 0 and mu != "0%") or (isinstance(ma, int) and ma < mn),
      "PDB lets a node drain proceed (maxUnavailable > 0 or minAvailable < minReplicas)")

# nginx template: its placeholders, and its body limit against the server's.
conf_path = os.path.join(root, "deploy", "nginx", "beamgrid.conf")
with open(conf_path) as f:
    conf = f.read()
body = "\n".join(l.split("#", 1)[0] for l in conf.splitlines())
placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", body))
check(placeholders == {"UPSTREAM_1", "UPSTREAM_2", "LISTEN", "CACHE_DIR"},
      f"nginx template placeholders: {sorted(placeholders)}")
m = re.search(r'"max-body-kb".*?"(\d+)"', help_text, re.S) or \
    re.search(r"max-body-kb\b[^\n]*?(\d+)\s*$", help_text, re.M)
cmbs = re.search(r"client_max_body_size\s+(\d+)k;", body)
if m and cmbs:
    check(cmbs.group(1) == m.group(1),
          f"nginx client_max_body_size {cmbs.group(1)}k = server --max-body-kb default {m.group(1)}")
else:
    check(False, "nginx client_max_body_size and the server's --max-body-kb default found")

# compose: two replicas and nginx with the same template.
comp = load_all(os.path.join(root, "deploy", "compose.yaml"))[0]
services = comp.get("services", {})
reps = [n for n, s in services.items() if "beamgrid" in str(s.get("image", ""))]
check(len(reps) >= 2, f"compose runs >= 2 beamgrid replicas ({reps})")
ngx = services.get("nginx", {})
vols = [str(v) for v in ngx.get("volumes", [])]
check(any(v.startswith("./nginx/beamgrid.conf:/etc/nginx/templates/") and
          ".template" in v for v in vols),
      "compose nginx uses deploy/nginx/beamgrid.conf as its template")
env = ngx.get("environment", {})
check(placeholders <= set(env), "compose nginx sets every template placeholder")
for i, r in enumerate(reps[:2], 1):
    check(str(env.get(f"UPSTREAM_{i}", "")).split(":")[0] == r, f"UPSTREAM_{i} is {r}")
for r in reps:
    s = services[r]
    senv = s.get("environment", {})
    check(senv.get("BEAMGRID_BIND") == "0.0.0.0", f"compose {r} binds 0.0.0.0")
    check(set(k for k in senv if k.startswith("BEAMGRID_")) <= known_env,
          f"compose {r} sets only known BEAMGRID_* variables")
    g = str(s.get("stop_grace_period", "10s"))
    gs = int(g[:-1]) if g.endswith("s") and g[:-1].isdigit() else 0
    check(gs > int(senv.get("BEAMGRID_DRAIN_S", "10")), f"compose {r} stop_grace_period > drain")
    check(s.get("read_only") is True and "ALL" in s.get("cap_drop", []),
          f"compose {r} read-only, all capabilities dropped")
    lim = mem(str(s.get("mem_limit", "0")).replace("m", "M").replace("g", "G").replace("M", "Mi").replace("G", "Gi"))
    cmax = int(senv.get("BEAMGRID_MAX_MEMORY_MB", "4096"))
    check(lim >= (cmax + 256) * 2**20, f"compose {r} mem_limit leaves >= 256 MiB above BEAMGRID_MAX_MEMORY_MB")
for p in ngx.get("ports", []):
    check(str(p).startswith("127.0.0.1:"), f"compose publishes {p} on loopback only")

# README.md documents every setting the server has.
with open(os.path.join(root, "README.md")) as f:
    ops = f.read()
undocumented = sorted(v for v in known_env if v not in ops)
check(not undocumented, f"README.md documents every BEAMGRID_* setting (missing: {undocumented})")

print(f"k8s-fields: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
