#!/usr/bin/env python3
"""The dashboard in a real browser: headless chromium (driven by chromium-driver through
python3-selenium) against a real `dlnest server` training the toy project. The task appears, its
progress (the worker's progress.json) moves, its curve gains points, deleting it from the page
ends it, and a hostile description stays text. Screenshots go to --out-dir, among them
dashboard_clean.png: the task page of a normal run, for docs/images/dashboard.png. Exits 77
(skipped) without chromium."""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
TOY_PROJECT = os.path.join(HERE, "..", "worker", "testdata", "toy_project")
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def skip(why):
    print("SKIPPED: " + why + " (scripts/install_deps.sh installs chromium, chromium-driver and "
          "python3-selenium)")
    sys.exit(SKIP)


def find_browser():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser:
        skip("no chromium")
    if not driver:
        skip("no chromedriver (Debian package chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip("no python3-selenium")
    return browser, driver


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, path, params=None, method="GET"):
    data = urllib.parse.urlencode(params or {})
    url = base + path + ("?" + data if method == "GET" and data else "")
    body = data.encode() if method == "POST" else None
    with urllib.request.urlopen(urllib.request.Request(url, body, method=method), timeout=30) as r:
        return json.load(r)


def wait_for(what, check, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class Server:
    def __init__(self, bin_dir, work):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(work, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "dlnest"), "--state-dir", os.path.join(work, "state"), "server",
             "--port", str(self.port), "--delay", "1"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("the server", self.ready, 60)

    def ready(self):
        try:
            return call(self.base, "/get_server_info")["status"] == "success"
        except OSError:
            return False

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def make_driver(browser, driver, width=1400, height=1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=%d,%d" % (width, height)):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


class DashboardCheck:
    def __init__(self, web, server, out_dir, package_of):
        self.web, self.server, self.out_dir, self.package_of = web, server, out_dir, package_of

    def js(self, script, *args):
        return self.web.execute_script(script, *args)

    def shot(self, name):
        path = os.path.join(self.out_dir, name + ".png")
        self.web.save_screenshot(path)
        print("screenshot " + path)

    def load_and_time(self):
        self.web.get(self.server.base + "/")
        wait_for("the task table", lambda: self.js("return !!document.querySelector('#active table, #active p')"), 30)
        paint = self.js("const e = performance.getEntriesByName('first-contentful-paint')[0];"
                        "return e ? e.startTime : null")
        listed = self.js("const n = performance.getEntriesByType('navigation')[0];"
                         "return performance.now() - n.startTime")
        return paint, listed

    def first_paint(self):
        """The first contentful paint of the page in a browser that has loaded it before (the
        browser's own first navigation also starts its renderer)."""
        cold = self.load_and_time()
        self.web.get("about:blank")
        paint, listed = self.load_and_time()
        print("first contentful paint %.0f ms (first navigation of the browser: %.0f ms); task "
              "list shown after at most %.0f ms" % (paint, cold[0], listed))
        return paint

    def row_status(self, task_id):
        return self.js("const r = document.querySelector('tr[data-task=\"' + arguments[0] + '\"] .badge');"
                       "return r ? r.textContent : null", task_id)

    def curve_points(self):
        return self.js("let n = 0; document.querySelectorAll('#charts polyline')"
                       ".forEach(p => n = Math.max(n, +p.getAttribute('data-points'))); return n")

    def progress_text(self):
        return self.js("const p = document.getElementById('progress'); return p ? p.textContent : ''")

    def task_page(self, task_id):
        self.web.get(self.server.base + "/#/task/" + task_id)
        wait_for("Running on the task page",
                 lambda: "Running" in self.js("return document.getElementById('task-facts').textContent"), 600)
        # The curves come from the trainer's own step records in metrics.jsonl.
        first = wait_for("points on a curve", self.curve_points, 120)
        wait_for("more points on the curve", lambda: self.curve_points() > first, 120)
        print("curve grew from %d to %d points" % (first, self.curve_points()))
        self.check_progress(task_id)
        wait_for("output", lambda: self.js("return document.getElementById('output').textContent.length") > 0, 60)
        assert HOSTILE in self.js("return document.getElementById('task-facts').textContent")
        assert self.js("return window.__pwned === undefined && !document.querySelector('#task-facts img')")
        self.shot("task")

    def check_progress(self, task_id):
        """The worker's own progress.json, shown on the task page, moves as the training goes."""
        progress_file = os.path.join(self.package_of(task_id), "progress.json")
        wait_for("the worker's progress.json", lambda: os.path.exists(progress_file), 60)
        first = wait_for("progress", self.progress_text, 60)
        wait_for("the progress to move", lambda: self.progress_text() not in ("", first), 120)
        text = self.progress_text()
        assert "/ 200" in text and "it/s" in text, text

    def delete_from_page(self, task_id):
        self.web.get(self.server.base + "/")
        button = wait_for("the Delete button", lambda: self.web.find_elements(
            "css selector", 'tr[data-task="%s"] button.del' % task_id), 30)
        # The task list's progress column, from the progress the task info carries.
        wait_for("the epoch in the task list", lambda: "/200" in self.js(
            "const r = document.querySelector('tr[data-task=\"' + arguments[0] + '\"]');"
            "return r ? r.textContent : ''", task_id), 30)
        self.shot("tasks")
        button[0].click()
        self.web.switch_to.alert.accept()
        wait_for("Killed in the ended tasks", lambda: self.js(
            "const r = document.querySelector('#ended-tasks tr[data-task=\"' + arguments[0] + '\"] .badge');"
            "return r && r.textContent === 'Killed'", task_id), 60)
        self.shot("tasks_after_delete")

    def clean_shot(self, task_id, name):
        """A screenshot of the task page of a training with nothing hostile in it, once its
        curves have some points and its progress has moved (docs/images/dashboard.png)."""
        self.web.get(self.server.base + "/#/task/" + task_id)
        wait_for("Running on the task page",
                 lambda: "Running" in self.js("return document.getElementById('task-facts').textContent"), 600)
        self.check_progress(task_id)
        wait_for("epoch 6 in the progress", lambda: int(
            (re.search(r"(\d+) / 200", self.progress_text()) or re.search("(0)", "0")).group(1)) >= 6, 180)
        try:  # curves of some length, for the picture (metrics.jsonl's step records)
            wait_for("a curve of 30 points", lambda: self.curve_points() >= 30, 60)
        except AssertionError as e:
            print("screenshot without long curves: %s" % e)
        self.shot(name)

    def compare(self):
        self.web.get(self.server.base + "/#/compare")
        wait_for("an overlaid curve", lambda: self.js(
            "return document.querySelectorAll('#compare-chart polyline').length") >= 1, 60)
        self.shot("compare")


def run(args):
    browser, driver = find_browser()
    os.makedirs(args.out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="dashboard_browser_test.")
    project = os.path.join(work, "toy_project")
    shutil.copytree(TOY_PROJECT, project)
    freq = os.path.join(work, "slow.json")
    with open(freq, "w") as f:
        # The toy runner also logs a scalar of this name each step: a hostile metric name.
        json.dump({"epochs": 200, "step_ms": 150, "extra_scalar": HOSTILE}, f)
    server = Server(args.bin_dir, work)
    web = None
    try:
        submit = {"config_path": os.path.join(project, "root_config.json"), "freq_path": freq,
                  "CPU": "True", "description": HOSTILE}
        reply = call(server.base, "/run_train", submit, "POST")
        assert reply["status"] == "success", reply
        task_id = reply["task_ID"]
        web = make_driver(browser, driver)
        check = DashboardCheck(web, server, args.out_dir, lambda _: reply["record_path"])
        paint = check.first_paint()
        wait_for("the task in the list", lambda: check.row_status(task_id), 30)
        check.task_page(task_id)
        check.delete_from_page(task_id)
        check.compare()
        # A normal run, for the picture of the dashboard in the docs.
        with open(freq, "w") as f:
            json.dump({"epochs": 200, "step_ms": 150}, f)
        clean = call(server.base, "/run_train", dict(submit, description="toy run, 150 ms a step"), "POST")
        assert clean["status"] == "success", clean
        check.package_of = lambda _: clean["record_path"]
        check.clean_shot(clean["task_ID"], "dashboard_clean")
        call(server.base, "/del_task", {"task_ID": clean["task_ID"]}, "POST")
        assert paint < 300, "first paint took %.0f ms" % paint
        print("PASSED")
    finally:
        if web is not None:
            web.quit()
        server.stop()
        shutil.copy(os.path.join(work, "server.log"), args.out_dir)
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin-dir", required=True, help="folder of dlnest and dlnest-worker")
    parser.add_argument("--out-dir", required=True, help="screenshots and the server's log")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
