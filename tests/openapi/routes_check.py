#!/usr/bin/python3
"""routes_check.py - every route openapi.yaml documents answers on the real server.

Starts build/beamgrid (BEAMGRID_BIN) on a free loopback port, then for each
documented path and method sends a request built from the document itself (the
first requestBody example, a real id for {id}) and checks that the status is
one the operation documents, that the Content-Type is one documented for that
status, and that JSON bodies validate against the documented schema. Then it
sends one documented error per operation that takes input (a malformed body,
an unknown id) and validates the problem+json the same way. Every value of the
documented `format` and `dtype` query enums is asked for and must answer with a
documented media type; the npz (by ?format= and by Accept) must load in numpy
with the documented names, shapes and dtypes; the page at / must come with a
Content-Security-Policy. Every example request body of POST /v1/sources (the
beam models of docs/beams.md among them) is sent and its answer validated, each
also as ?format=lam and ?format=dxtbx by GET of its id; and a model's 422 and
400 name their fields. Stops the server with SIGTERM and requires exit 0.
Prints 'N passed, N failed'.
"""
import json
import os
import sys

import jsonschema
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from bgtest import ROOT, Server, check, http, report  # noqa: E402

DOC = yaml.safe_load(open(os.path.join(ROOT, "openapi.yaml")))


def resolve(node):
    """Follow a local $ref of the document."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        node = DOC
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
    return node


def validate(schema, instance):
    """Validate against a schema of the document, $refs resolving in it."""
    root = dict(schema)
    root["components"] = DOC["components"]
    jsonschema.Draft202012Validator(root).validate(instance)


def request(base, method, path, body=None, headers=None):
    return http(base, method, path, body, headers, timeout=30)


def check_response(op, where, status, headers, body):
    responses = op["responses"]
    documented = str(status) in responses
    check(documented, f"{where}: status {status} is documented ({sorted(responses)})")
    if not documented:
        return
    resp = resolve(responses[str(status)])
    content = resp.get("content")
    if not content or status == 304:
        return
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    check(ctype in content, f"{where}: Content-Type {ctype} is documented for {status}")
    if ctype in ("application/json", "application/problem+json") and ctype in content:
        schema = resolve(content[ctype].get("schema", {}))
        try:
            validate(schema, json.loads(body))
            check(True, f"{where}: body validates against the documented schema")
        except (jsonschema.ValidationError, ValueError) as e:
            check(False, f"{where}: body validates against the documented schema: {e}")


def example_body(op):
    content = op["requestBody"]["content"]["application/json"]
    examples = content.get("examples", {})
    first = next(iter(examples.values()))["value"] if examples else {}
    return json.dumps(first).encode()


def main():
    srv = Server("--log-level", "off")
    base = srv.url
    try:
        json_hdr = {"Content-Type": "application/json"}
        post = DOC["paths"]["/v1/sources"]["post"]
        status, headers, body = request(base, "POST", "/v1/sources", example_body(post), json_hdr)
        grid_id = headers.get("Content-Location", "/").rsplit("/", 1)[1]
        for path, item in DOC["paths"].items():
            for method, op in item.items():
                real = path.replace("{id}", grid_id)
                body = example_body(op) if "requestBody" in op else None
                status, headers, data = request(base, method.upper(), real, body,
                                                json_hdr if body else {})
                check(200 <= status < 300, f"{method.upper()} {path}: answers {status}")
                check_response(op, f"{method.upper()} {path}", status, headers, data)
        # One documented error for each operation that takes input.
        status, headers, data = request(base, "POST", "/v1/sources", b'{"lamda_A":1}', json_hdr)
        check_response(post, "POST /v1/sources (unknown field)", status, headers, data)
        check(status == 400, "POST /v1/sources (unknown field): 400")
        status, headers, data = request(base, "POST", "/v1/sources", b'{"divsteps":1}', json_hdr)
        check_response(post, "POST /v1/sources (all trimmed)", status, headers, data)
        check(status == 422, "POST /v1/sources (all trimmed): 422")
        # The PyTorch port's semantics: every example of the POST (the torch
        # one among them) and a request with warnings, by POST and by id.
        get = DOC["paths"]["/v1/sources/{id}"]["get"]
        examples = post["requestBody"]["content"]["application/json"]["examples"]
        check("torch" in examples, "POST /v1/sources: a nanobrag_torch example")
        torch_bodies = [json.dumps(e["value"]).encode() for e in examples.values()]
        torch_bodies.append(json.dumps({"semantics": "nanobrag_torch", "divsteps": 25,
                                        "divergence_mrad": 0.5}).encode())
        for i, tb in enumerate(torch_bodies):
            status, headers, data = request(base, "POST", "/v1/sources", tb, json_hdr)
            check_response(post, f"POST /v1/sources (example {i})", status, headers, data)
            loc = headers.get("Content-Location", "/")
            status, headers, data = request(base, "GET", loc)
            check_response(get, f"GET {loc} (example {i})", status, headers, data)
        answer = json.loads(data)
        check(answer.get("resolved", {}).get("semantics") == "nanobrag_torch"
              and len(answer.get("warnings", [])) == 2
              and headers.get("Beamgrid-Warning") is not None,
              "GET /v1/sources/{id} (torch fallback): warnings and Beamgrid-Warning")
        status, headers, data = request(base, "POST", "/v1/sources", b'{"dtype":"float64"}',
                                        json_hdr)
        check_response(post, "POST /v1/sources (dtype without torch)", status, headers, data)
        check(status == 422 and json.loads(data).get("field") == "dtype",
              "POST /v1/sources (dtype without torch): 422 naming dtype")
        status, headers, data = request(base, "GET", "/v1/sources/AAAA")
        check_response(get, "GET /v1/sources/{id} (unknown id)", status, headers, data)
        check(status == 404, "GET /v1/sources/{id} (unknown id): 404")
        check_formats(base, get, grid_id)
        status, headers, data = request(base, "GET", "/v1/sources/" + grid_id,
                                        headers={"If-None-Match": headers_etag(base, grid_id)})
        check_response(get, "GET /v1/sources/{id} (If-None-Match)", status, headers, data)
        check(status == 304, "GET /v1/sources/{id} (If-None-Match): 304")
        status, headers, data = request(base, "GET", "/")
        csp = headers.get("Content-Security-Policy") or ""
        check(status == 200 and csp.startswith("default-src 'none'"),
              f"GET /: 200 with a Content-Security-Policy ({status}, {csp[:40]})")
        check_examples(base, post, get, json_hdr)
    finally:
        code = srv.stop()
    check(code == 0, f"SIGTERM: exit {code}")
    return report("routes-check")


def query_enum(name):
    return resolve(DOC["components"]["parameters"][name])["schema"]["enum"]


def check_npz(where, data, dtype, count):
    """The documented npz: numpy.load, the three names, shapes and dtype."""
    import io
    import numpy as np
    try:
        npz = np.load(io.BytesIO(data))
        shapes = {k: npz[k].shape for k in npz.files}
        dtypes = {str(npz[k].dtype) for k in npz.files}
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        check(False, f"{where}: numpy.load reads it: {e}")
        return
    want = {"directions": (count, 3), "weights": (count,), "wavelengths": (count,)}
    check(shapes == want, f"{where}: members {shapes} are {want}")
    check(dtypes == {dtype}, f"{where}: dtype {dtypes} is {dtype}")


def check_formats(base, get, grid_id):
    """Every documented ?format= (and ?dtype= where it applies) answers."""
    count = json.loads(request(base, "GET", "/v1/sources/" + grid_id)[2])["count"]
    for fmt in query_enum("format"):
        dtypes = [None] + (query_enum("dtype") if fmt in ("npy", "bin", "npz") else [])
        for dt in dtypes:
            query = f"?format={fmt}" + (f"&dtype={dt}" if dt else "")
            where = f"GET /v1/sources/{{id}}{query}"
            status, headers, data = request(base, "GET", f"/v1/sources/{grid_id}{query}")
            check(status == 200, f"{where}: 200 ({status})")
            check_response(get, where, status, headers, data)
            if fmt == "npz" and status == 200:
                want = "float32" if dt in ("float32", "f4") else "float64"
                check_npz(where, data, want, count)
    status, headers, data = request(base, "GET", f"/v1/sources/{grid_id}",
                                    headers={"Accept": "application/x-npz"})
    where = "GET /v1/sources/{id} (Accept: application/x-npz)"
    check_response(get, where, status, headers, data)
    check((headers.get("Content-Type") or "") == "application/x-npz",
          f"{where}: Content-Type application/x-npz")
    check_npz(where, data, "float64", count)
def check_examples(base, post, get, json_hdr):
    """Every request example, its answer, and its lam and dxtbx exports."""
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    for name, ex in examples.items():
        where = f"POST /v1/sources (example {name})"
        status, headers, data = request(base, "POST", "/v1/sources",
                                        json.dumps(ex["value"]).encode(), json_hdr)
        check(status == 200, f"{where}: 200 (got {status})")
        check_response(post, where, status, headers, data)
        if status != 200:
            continue
        check("summary" in json.loads(data), f"{where}: has a summary")
        loc = headers.get("Content-Location", "")
        for fmt in ("lam", "dxtbx"):
            st, hd, body = request(base, "GET", f"{loc}?format={fmt}")
            check_response(get, f"GET {fmt} of example {name}", st, hd, body)
            check(st == 200, f"GET {fmt} of example {name}: 200 (got {st})")
    for body, status, field in (
            ({"spectrum": {"kind": "table", "lambda_A": [1, 1.1], "weights": [1, -1]}},
             422, "spectrum.weights[1]"),
            ({"spectrum": {"kind": "gaussian", "fwhm_eV": 1, "channels": 3, "channel_eV": 1},
              "dispsteps": 3}, 422, "spectrum"),
            ({"weights": {"normalize": "mean", "total_flux": 2}}, 422, "weights.total_flux"),
            ({"divergence_profile": {"kind": "gaussian", "sigma_h_mrad": 1, "sigma": 1}},
             400, "divergence_profile.sigma")):
        where = f"POST /v1/sources ({field} refused)"
        st, hd, data = request(base, "POST", "/v1/sources", json.dumps(body).encode(), json_hdr)
        check_response(post, where, st, hd, data)
        check(st == status and json.loads(data).get("field") == field,
              f"{where}: {status} naming {field} (got {st}, {data[:120]!r})")


def headers_etag(base, grid_id):
    return request(base, "GET", "/v1/sources/" + grid_id)[1].get("ETag", "")


if __name__ == "__main__":
    sys.exit(main())
