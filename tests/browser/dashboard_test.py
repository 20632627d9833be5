#!/usr/bin/env python3
"""The dashboard in a real browser: central and two peer-servers (the real
binaries), the page at / opened in headless Chromium through Selenium
(Debian's chromium, chromium-driver and python3-selenium).

Checks what a person would see: both peers and their files appear, the
search box filters, a file named like HTML shows as text (and runs nothing),
10 000 files are paged, new events arrive without a reload. Saves a
screenshot in the build tree.

    dashboard_test.py --bin-dir BUILD --out DIR
"""
import argparse
import json
import os
import shutil
import ssl
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

HOSTILE = "<img src=x onerror=alert(1)>.txt"
PORTS = (32000, 32019)  # above the C++ tests' ranges, below the ephemeral ports


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# central serves HTTPS with a certificate from the CA it makes in its
# folder; the test trusts exactly that CA (set once central has made it).
CA_CONTEXT = None


def get_json(url):
    with urllib.request.urlopen(url, timeout=5, context=CA_CONTEXT) as r:
        return json.load(r)


def wait_for(what, check, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Network:
    def __init__(self, bin_dir, work):
        self.bin_dir, self.work, self.procs = bin_dir, work, []
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.ca = os.path.join(work, "ca", "ca.pem")

    def spawn(self, name, argv):
        log = open(os.path.join(self.work, name + ".log"), "w")
        self.procs.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL)))

    def start_central(self):
        config = os.path.join(self.work, "central.json")
        with open(config, "w") as f:
            json.dump({"listen": "127.0.0.1:%d" % self.port, "db": os.path.join(self.work, "central.db"),
                       "port_range": list(PORTS), "heartbeat_interval_s": 1, "session_ttl_s": 5}, f)
        self.spawn("central", [os.path.join(self.bin_dir, "central", "central"), "--config", config])
        wait_for("central's CA", lambda: os.path.exists(self.ca))
        global CA_CONTEXT
        CA_CONTEXT = ssl.create_default_context(cafile=self.ca)
        wait_for("central", lambda: get_json(self.url + "/healthz")["status"] == "ok")

    def start_peer(self, user, files):
        home = os.path.join(self.work, user)
        shared = os.path.join(home, "shared")
        os.makedirs(shared, exist_ok=True)
        for name, data in files.items():
            path = os.path.join(shared, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        config = os.path.join(home, "peer.json")
        with open(config, "w") as f:
            json.dump({"username": user, "password": user + "-password", "central_url": self.url, "central_ca": self.ca,
                       "shared_dir": shared, "download_dir": os.path.join(home, "downloads")}, f)
        self.spawn(user, [os.path.join(self.bin_dir, "pserver", "peer-server"), "--config", config])

    def stop(self):
        for _, p in self.procs:
            p.terminate()
        for _, p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    def dump_logs(self):
        for name, _ in self.procs:
            with open(os.path.join(self.work, name + ".log")) as f:
                sys.stderr.write("---- %s log ----\n%s\n" % (name, f.read()[-4000:]))


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    # The browser does not know the network's CA (installing it would need
    # a profile of its own): it accepts central's certificate as given.
    options.set_capability("acceptInsecureCerts", True)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def clear(box):
    # As a person would (element.clear() fires no input event).
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)


def rows(driver, body_id, attr):
    # One script, so a refresh of the table cannot slip in between reads.
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.getAttribute(arguments[1]));",
        "#%s tr[%s]" % (body_id, attr), attr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="p2pshare-browser-")
    net = Network(args.bin_dir, work)
    driver = None
    ok = False
    try:
        net.start_central()
        net.start_peer("alice", {"music/alice-song.ogg": b"la" * 5000, HOSTILE: b"just text\n",
                                 "notes.txt": b"notes\n"})
        # bob shares 10 000 small files: the page must page them.
        net.start_peer("bob", {"bulk/file-%05d.dat" % i: b"%d" % i for i in range(10000)})
        wait_for("both peers and all files indexed",
                 lambda: get_json(net.url + "/api/v1/search?q=&limit=1")["total"] == 10003, timeout=60)

        driver = browser()
        driver.get(net.url + "/")
        wait = WebDriverWait(driver, 20)
        wait.until(lambda d: set(rows(d, "peers", "data-peer")) == {"alice", "bob"})
        peer_text = driver.find_element(By.ID, "peers").text
        assert "10000" in peer_text, peer_text  # bob's file count
        wait.until(lambda d: d.find_element(By.ID, "t-files").text == "10003")

        # The first page of 10 003 files, and the next one.
        wait.until(lambda d: len(rows(d, "files", "data-name")) == 50)
        info = driver.find_element(By.ID, "page-info").text
        assert info.startswith("1–50 of 10003"), info
        driver.find_element(By.ID, "next").click()
        wait.until(lambda d: d.find_element(By.ID, "page-info").text.startswith("51–100 of 10003"))

        # The search box filters (and starts again at the first page).
        box = driver.find_element(By.ID, "q")
        box.send_keys("alice-song")
        wait.until(lambda d: rows(d, "files", "data-name") == ["music/alice-song.ogg"])
        assert driver.find_element(By.ID, "page-info").text.startswith("1–1 of 1"), \
            driver.find_element(By.ID, "page-info").text
        # Each file has a copy-link button: the p2pshare: link peer-client downloads.
        link = driver.execute_script(
            "return document.querySelector('#files tr[data-name] button').dataset.link;")
        song = get_json(net.url + "/api/v1/search?q=alice-song")["results"][0]
        assert link == "p2pshare:?sha256=%s&size=%d&name=music%%2Falice-song.ogg" % (song["sha256"], song["size"]), link

        # A hostile name is text: shown as typed, no element made of it, no script run.
        clear(box)
        box.send_keys("onerror")
        wait.until(lambda d: rows(d, "files", "data-name") == [HOSTILE])
        shown = driver.execute_script(
            "return document.querySelector('#files tr[data-name] td').textContent;")
        assert shown == HOSTILE, shown
        hostile_link = driver.execute_script(
            "return document.querySelector('#files tr[data-name] button').dataset.link;")
        assert "<" not in hostile_link and "%3Cimg" in hostile_link, hostile_link
        assert driver.find_elements(By.TAG_NAME, "img") == [], "a file name became an <img>"
        try:
            alert = driver.switch_to.alert
            raise AssertionError("a file name ran script: alert(%r)" % alert.text)
        except NoAlertPresentException:
            pass

        # Events arrive by themselves: a third peer logs in while we watch.
        net.start_peer("carol", {"c.txt": b"c"})
        wait.until(lambda d: "carol" in d.find_element(By.ID, "events").text
                   and set(rows(d, "peers", "data-peer")) == {"alice", "bob", "carol"})
        events = driver.find_element(By.ID, "events").text
        assert "LOGIN" in events.upper(), events

        # The plots of the last hour are drawn on the page: a sample every
        # 10 s, so within one step the peers plot says 3.
        wait.until(lambda d: d.execute_script(
            "return document.querySelector('.plot[data-key=peers_online] h3 b').textContent;") == "3",
            message="the peers-online plot never showed 3")
        for key in ("peers_online", "files", "requests_per_s"):
            n, pts = driver.execute_script(
                "const p = document.querySelector('.plot[data-key=' + arguments[0] + ']');"
                "return [Number(p.dataset.points), p.querySelector('polyline').getAttribute('points')];", key)
            assert n >= 2 and len(pts.split()) >= 2, (key, n, pts)
        files_plot = driver.execute_script(
            "return document.querySelector('.plot[data-key=files] h3 b').textContent;")
        assert files_plot == "10004", files_plot
        assert driver.execute_script("return document.scripts.length;") == 1, "a script from elsewhere"
        # The peers table has each peer's transfers as its heartbeats report them.
        headers = driver.find_element(By.CSS_SELECTOR, "#peers").find_element(By.XPATH, "..").text
        assert "transfers" in headers and "sending" in headers and "receiving" in headers, headers
        # Central reached every peer at its address, and the table says so.
        assert "reachable" in headers, headers
        wait.until(lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('#peers tr[data-peer]'))"
            ".map(tr => tr.cells[2].textContent);") == ["direct"] * 3,
            message="the peers table never showed every peer reachable")

        # Events filter by kind: carol leaves (a logout), then only logouts show.
        for name, p in net.procs:
            if name == "carol":
                p.terminate()
                p.wait(timeout=10)
        wait.until(lambda d: "LOGOUT" in d.find_element(By.ID, "events").text.upper())
        Select(driver.find_element(By.ID, "kind")).select_by_visible_text("logout")
        shown = driver.execute_script(
            "return Array.from(document.querySelectorAll('#events li')).filter(li => !li.hidden)"
            ".map(li => li.dataset.kind);")
        assert shown and set(shown) == {"logout"}, shown
        Select(driver.find_element(By.ID, "kind")).select_by_visible_text("login")
        shown = driver.execute_script(
            "return Array.from(document.querySelectorAll('#events li')).filter(li => !li.hidden)"
            ".map(li => li.dataset.kind);")
        assert len(shown) >= 3 and set(shown) == {"login"}, shown
        Select(driver.find_element(By.ID, "kind")).select_by_visible_text("every kind")

        # Searches as a person types them: accents and case folded, words in
        # any order, filters, a sort, and "did you mean" on a typo.
        net.start_peer("dave", {"Zoë Müller.txt": b"z", "Photos été 2024/IMG_0001.jpg": b"j" * (3 << 19),
                                "The Beatles/Help.ogg": b"h" * 100, "holiday photos/a.png": b"p"})
        wait_for("dave's files indexed",
                 lambda: get_json(net.url + "/api/v1/search?q=help")["total"] == 1, timeout=60)
        for typed, want in (("zoe", ["Zoë Müller.txt"]), ("ZOË", ["Zoë Müller.txt"]),
                            ("photos img", ["Photos été 2024/IMG_0001.jpg"]),
                            ("ete", ["Photos été 2024/IMG_0001.jpg"]),
                            ("size>1M type:image", ["Photos été 2024/IMG_0001.jpg"])):
            clear(box)
            box.send_keys(typed)
            wait.until(lambda d: rows(d, "files", "data-name") == want,
                       message="typing %r did not show %r" % (typed, want))
        clear(box)
        box.send_keys("beatels")
        wait.until(lambda d: d.find_element(By.ID, "suggestion").is_displayed()
                   and d.find_element(By.ID, "suggestion").text == "beatles")
        driver.find_element(By.ID, "suggestion").click()
        wait.until(lambda d: rows(d, "files", "data-name") == ["The Beatles/Help.ogg"])
        assert box.get_attribute("value") == "beatles", box.get_attribute("value")
        clear(box)
        box.send_keys("size>ten")
        wait.until(lambda d: "a size is a number" in d.find_element(By.ID, "files").text)
        clear(box)
        box.send_keys("photos")
        Select(driver.find_element(By.ID, "sort")).select_by_visible_text("name")
        wait.until(lambda d: rows(d, "files", "data-name") == ["holiday photos/a.png", "Photos été 2024/IMG_0001.jpg"])
        Select(driver.find_element(By.ID, "sort")).select_by_visible_text("largest")
        wait.until(lambda d: rows(d, "files", "data-name") == ["Photos été 2024/IMG_0001.jpg", "holiday photos/a.png"])
        Select(driver.find_element(By.ID, "sort")).select_by_visible_text("best match")

        clear(box)
        wait.until(lambda d: len(rows(d, "files", "data-name")) == 50)
        shot = os.path.join(args.out, "dashboard.png")
        driver.save_screenshot(shot)
        print("screenshot:", shot)
        ok = True
    except (AssertionError, TimeoutException) as e:
        sys.stderr.write("FAILED: %s\n" % (e or "timed out"))
        if driver is not None:
            driver.save_screenshot(os.path.join(args.out, "dashboard-failed.png"))
            sys.stderr.write("page text:\n%s\n" % driver.find_element(By.TAG_NAME, "body").text[:3000])
        net.dump_logs()
    finally:
        if driver is not None:
            driver.quit()
        net.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            sys.stderr.write("kept %s\n" % work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
