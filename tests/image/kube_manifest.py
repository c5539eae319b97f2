#!/usr/bin/python3
"""The deploy/k8s ConfigMap and Deployment as one file for `podman kube
play` on this host (make image-test), changed only where a single host
needs it:
  - replicas: 1 (podman makes one pod per replica, all on one host port);
  - the named container port gets hostIP 127.0.0.1 and hostPort PORT, since
    podman publishes a containerPort without them on 0.0.0.0:8080;
  - the container's image: IMAGE (the one make image built);
  - the pod's name prefix: NAME (so that runs never collide).
Probes, security context, resources, envFrom and volumes are untouched.

Usage: kube_manifest.py K8S_DIR PORT IMAGE NAME > play.yaml
"""
import sys

import yaml

k8s, port, image, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(f"{k8s}/configmap.yaml") as f:
    cm = yaml.safe_load(f)
with open(f"{k8s}/deployment.yaml") as f:
    dep = yaml.safe_load(f)
dep["metadata"]["name"] = name
dep["spec"]["replicas"] = 1
(container,) = dep["spec"]["template"]["spec"]["containers"]
container["image"] = image
for p in container["ports"]:
    if p.get("name") == "http":
        p["hostIP"] = "127.0.0.1"
        p["hostPort"] = port
cm_name = cm["metadata"]["name"]
refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
if cm_name not in refs:
    sys.exit(f"the Deployment does not load ConfigMap {cm_name} (envFrom: {refs})")
yaml.safe_dump_all([cm, dep], sys.stdout, sort_keys=False)
