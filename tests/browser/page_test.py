#!/usr/bin/python3
"""page_test.py - the page at / in a real browser (headless Chromium).

Starts build/beamgrid (BEAMGRID_BIN) on a free loopback port and drives
Debian's chromium through chromedriver (python3-selenium):

- loads /, waits until the page has read the formats from /openapi.yaml;
- fills the form's fields (named as the JSON request), submits, and waits
  (an explicit wait on the page's state, no sleep) until the count shown is
  the count the API answers for the same request body;
- checks the picture: an inline <svg> displayed at a sensible size, one
  circle.pt mark per divergence point (the API's count over its dispsteps),
  one line.ch stem per wavelength, the trim ellipse, the axis labels and the
  counts text;
- checks every download link answers 200 with its format's Content-Type, and
  that the links are exactly the formats openapi.yaml lists;
- runs the curl command the page shows and compares its count;
- saves build/page.png, then submits a bad value (divergence_mrad -1) and a
  wrong type (dispsteps "many") and checks each server detail appears beside
  its field (the same detail the API gives), saving build/page-error.png;
- requires a browser console with no error (apart from the network lines of
  the deliberately refused requests) and a server that exits 0 on SIGTERM.

Prints 'ok'/'FAIL' lines and 'N passed, N failed'; exit 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from bgtest import BIN, Server, check, http, report  # noqa: E402

OUT = os.path.dirname(os.path.abspath(BIN))
CONTENT_TYPES = {
    "json": "application/json", "npy": "application/x-npy", "npz": "application/x-npz",
    "bin": "application/octet-stream", "txt": "text/plain", "svg": "image/svg+xml",
    "lam": "text/plain", "dxtbx": "application/json",
}


def api_post(base, body):
    return http(base, "POST", "/v1/sources", json.dumps(body).encode(),
                {"Content-Type": "application/json"})


def start_server():
    """The server, its stderr kept beside the screenshots."""
    log = open(os.path.join(OUT, "page_test_server.log"), "w")
    return Server(stderr=log)


def browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1150", "--no-first-run", "--user-data-dir=" + profile):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def fill(driver, name, value):
    el = driver.find_element(By.NAME, name)
    if el.tag_name == "select":
        Select(el).select_by_value(value)
    else:
        el.clear()
        el.send_keys(value)


def console_errors(driver, allowed=()):
    """SEVERE console entries, minus network lines of expected refusals."""
    out = []
    for e in driver.get_log("browser"):
        if e["level"] != "SEVERE":
            continue
        if e.get("source") == "network" and any(a in e["message"] for a in allowed):
            continue
        out.append(e["message"])
    return out


def check_picture(driver, count, dispsteps):
    svg = driver.find_element(By.CSS_SELECTOR, "#picture svg")
    size = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", svg)
    check(600 <= size[0] <= 1400 and 0.3 * size[0] <= size[1] <= 0.7 * size[0],
          f"the picture is displayed at a sensible size ({size[0]:.0f} x {size[1]:.0f})")
    check(svg.is_displayed(), "the picture is visible")
    points = count // dispsteps
    marks = len(driver.find_elements(By.CSS_SELECTOR, "#picture svg circle.pt"))
    check(marks == points, f"one mark per divergence point ({marks} == {points})")
    stems = len(driver.find_elements(By.CSS_SELECTOR, "#picture svg line.ch"))
    check(stems == dispsteps, f"one stem per wavelength ({stems} == {dispsteps})")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#picture svg ellipse.trim")) == 1,
          "the trim ellipse is drawn")
    texts = [t.get_attribute("textContent") for t in
             driver.find_elements(By.CSS_SELECTOR, "#picture svg text")]
    for label in ("h (mrad)", "v (mrad)", "wavelength \u03bb (\u00c5)", "channel weight"):
        check(label in texts, f"axis label {label!r}")
    want = f"{count} sources = {points} divergence points \u00d7 {dispsteps} channels"
    check(want in texts, f"the counts text {want!r}")
    box = driver.execute_script(
        "const r = document.querySelector('#picture svg ellipse.trim').getBoundingClientRect();"
        "return [r.width, r.height];")
    check(box[0] > 100 and box[1] > 100, f"the ellipse is drawn large ({box[0]:.0f} x {box[1]:.0f})")


def check_links(driver, base):
    status, _, doc = http(base, "GET", "/openapi.yaml")

    served = yaml.safe_load(doc)["components"]["parameters"]["format"]["schema"]["enum"]
    links = driver.find_elements(By.CSS_SELECTOR, "#downloads a")
    shown = [a.get_attribute("data-format") for a in links]
    check(shown == served, f"download links are the served formats ({shown} == {served})")
    for a in links:
        fmt, href = a.get_attribute("data-format"), a.get_attribute("href")
        status, headers, body = http("", "GET", href)
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
        want = CONTENT_TYPES.get(fmt)
        check(status == 200 and len(body) > 0 and (want is None or ctype == want),
              f"link {fmt}: {status} {ctype} ({len(body)} bytes)")


def check_curl(driver, count):
    cmd = driver.find_element(By.ID, "curl").text
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["bash", "-c", cmd], cwd=d, check=False, timeout=60)
        try:
            got = json.load(open(os.path.join(d, "grid.json")))["count"]
        except (OSError, ValueError, KeyError):
            got = None
    check(got == count, f"the curl command shown gives the same count ({got} == {count})")


def check_error(driver, base, body, field, value, shot):
    fill(driver, field, value)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("data-state") == "error")
    bad = dict(body)
    try:
        bad[field] = float(value)
    except ValueError:
        bad[field] = value
    status, _, problem = api_post(base, bad)
    problem = json.loads(problem)
    shown = driver.find_element(By.CSS_SELECTOR, f'.err[data-err-for="{field}"]').text
    check(problem.get("field") == field and shown == problem["detail"],
          f"{field}={value}: the {status} detail is beside the field ({shown!r})")
    cls = driver.find_element(By.NAME, field).get_attribute("class")
    check("invalid" in cls, f"{field} is marked invalid")
    rect = driver.execute_script(
        "const a = document.querySelector(arguments[0]).getBoundingClientRect();"
        "const b = document.getElementsByName(arguments[1])[0].getBoundingClientRect();"
        "return [a.top - b.bottom, Math.abs(a.left - b.left)];",
        f'.err[data-err-for="{field}"]', field)
    check(-2 <= rect[0] <= 40, f"the message sits right under its field ({rect[0]:.0f} px)")
    stale = (driver.find_element(By.ID, "count").text,
             len(driver.find_elements(By.CSS_SELECTOR, "#picture svg")),
             len(driver.find_elements(By.CSS_SELECTOR, "#downloads a")))
    check(stale == ("-", 0, 0), f"nothing of the earlier grid stays shown ({stale})")
    driver.save_screenshot(shot)
    return status


def submit_and_wait(driver, state):
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("data-state") == state)


def check_torch(driver, base, body):
    """The port's semantics from the form: the API's count for the same
    request, and the picture names the semantics."""
    fill(driver, "semantics", "nanobrag_torch")
    fill(driver, "dtype", "float64")
    fill(driver, "hdivsteps", "15")  # the port never reads divsteps
    fill(driver, "vdivsteps", "15")
    status, _, answer = api_post(base, dict(body, semantics="nanobrag_torch", dtype="float64",
                                            hdivsteps=15, vdivsteps=15))
    count = json.loads(answer)["count"]
    check(status == 200 and count > 100, f"the API answers the port's request ({count})")
    submit_and_wait(driver, "done")
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "count").text == str(count))
    check(driver.find_element(By.ID, "count").text == str(count),
          f"nanobrag_torch: the page shows the API's count ({count})")
    label = driver.find_element(By.CSS_SELECTOR, "#picture svg text.semantics").text
    check("nanobrag_torch (float64)" in label, f"the picture names the semantics ({label!r})")
    for name in ("semantics", "dtype", "hdivsteps", "vdivsteps"):
        fill(driver, name, "")


def check_model_error(driver, base, body):
    """A beam model's 422, named down to the entry (spectrum.weights[1]), is
    shown beside the spectrum field."""
    spectrum = {"kind": "table", "lambda_A": [1.2, 1.21], "weights": [1, -1]}
    for name in ("dispersion_percent", "dispsteps"):
        fill(driver, name, "")
    fill(driver, "spectrum", json.dumps(spectrum))
    submit_and_wait(driver, "error")
    bad = {k: v for k, v in body.items() if k not in ("dispersion_percent", "dispsteps")}
    status, _, problem = api_post(base, dict(bad, spectrum=spectrum))
    problem = json.loads(problem)
    shown = driver.find_element(By.CSS_SELECTOR, '.err[data-err-for="spectrum"]').text
    check(status == 422 and problem.get("field") == "spectrum.weights[1]"
          and shown == problem["detail"],
          f"spectrum.weights[1]: the 422 detail is beside the spectrum field ({shown!r})")
    driver.save_screenshot(os.path.join(OUT, "page-error-model.png"))


def main():
    srv = start_server()
    base = srv.url
    profile = tempfile.mkdtemp(prefix="page_test_")
    driver = browser(profile)
    try:
        driver.get(base + "/")
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-formats"))
        check(driver.title == "beamgrid", "the page loads")
        body = {"lambda_A": 1.2, "dispersion_percent": 0.2, "dispsteps": 5,
                "divergence_mrad": 0.4, "divsteps": 15, "round_div": True,
                "convention": "XDS"}
        fill(driver, "lambda_A", "1.2")
        fill(driver, "dispersion_percent", "0.2")
        fill(driver, "dispsteps", "5")
        fill(driver, "divergence_mrad", "0.4")
        fill(driver, "divsteps", "15")
        fill(driver, "round_div", "true")
        fill(driver, "convention", "XDS")
        status, _, answer = api_post(base, body)
        count = json.loads(answer)["count"]
        check(status == 200 and count > 100, f"the API answers {count} sources")
        driver.find_element(By.ID, "submit").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "result").get_attribute("data-state") == "done"
            and d.find_element(By.ID, "count").text == str(count))
        check(driver.find_element(By.ID, "count").text == str(count),
              f"the page shows the API's count ({count})")
        check_picture(driver, count, 5)
        check_links(driver, base)
        check_curl(driver, count)
        shot = os.path.join(OUT, "page.png")
        driver.save_screenshot(shot)
        check(os.path.getsize(shot) > 10000, f"screenshot {shot}")
        errors = console_errors(driver)
        check(not errors, f"no console error after building ({errors})")
        s1 = check_error(driver, base, body, "divergence_mrad", "-1",
                         os.path.join(OUT, "page-error.png"))
        check(s1 == 422, f"a negative divergence is 422 ({s1})")
        fill(driver, "divergence_mrad", "0.4")
        s2 = check_error(driver, base, body, "dispsteps", "many",
                         os.path.join(OUT, "page-error-type.png"))
        check(s2 == 400, f"a wrong type is 400 ({s2})")
        fill(driver, "dispsteps", "5")
        check_torch(driver, base, body)
        check_model_error(driver, base, body)
        errors = console_errors(driver, allowed=(" 422 ", " 400 "))
        check(not errors, f"no console error but the refused requests ({errors})")
    finally:
        driver.quit()
        code = srv.stop()
    check(code == 0, f"SIGTERM: exit {code}")
    return report("page-test")


if __name__ == "__main__":
    sys.exit(main())
