"""The chat page of `tinygpt serve` in a real browser: headless Chromium, driven over the DevTools protocol.

    python3 bench/parity/serve_page_check.py .build/release/tinygpt CHECKPOINT [--out chat.png] [--chromium chromium]

Starts `tinygpt serve` on a free loopback port and Chromium headless, opens the page at /, types a
message into the box (DevTools Input.insertText, then an Enter key press, as a user does), waits for the
streamed reply to finish, checks that it is not empty and that the page received it in several pieces,
and saves a screenshot. Exits non-zero on a failed check.

A check script, not a dependency:  apt-get install chromium; pip install websocket-client
"""
import argparse, base64, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

import websocket

MESSAGE = "What is the capital of France?"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, process, what, seconds=60):
    for _ in range(seconds * 10):
        try:
            return urllib.request.urlopen(url, timeout=1).read()
        except OSError:
            if process.poll() is not None:
                sys.exit(f"{what} exited with {process.returncode}")
            time.sleep(0.1)
    sys.exit(f"{what} did not answer {url}")


class DevTools:
    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=60)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("checkpoint")
    p.add_argument("--out", default="chat.png")
    p.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    args = p.parse_args()
    port, debug = free_port(), free_port()
    profile = tempfile.mkdtemp(prefix="serve-page-")
    server = subprocess.Popen([args.binary, "serve", "--checkpoint", args.checkpoint, "--port", str(port),
                               "--max-new-tokens", "48"], stderr=subprocess.DEVNULL)
    browser = subprocess.Popen([args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={debug}",
                                f"--user-data-dir={profile}", "--window-size=900,700", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failures = []

    def check(name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        if not ok:
            failures.append(name)

    try:
        wait_for(f"http://127.0.0.1:{port}/health", server, "tinygpt serve", 120)
        wait_for(f"http://127.0.0.1:{debug}/json/version", browser, "chromium")
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{debug}/json/list").read())
        tab = DevTools(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"])
        tab.call("Page.enable")
        tab.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
        for _ in range(100):
            if tab.evaluate("document.readyState") == "complete" and tab.evaluate("!!document.getElementById('input')"):
                break
            time.sleep(0.1)
        check("page loads", tab.evaluate("document.title") == "tinygpt chat")
        # Count the reply's updates as they stream in.
        tab.evaluate("""window.updates = 0; new MutationObserver(() => window.updates++)
                          .observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true})""")
        tab.evaluate("document.getElementById('input').focus()")
        tab.call("Input.insertText", text=MESSAGE)
        for kind in ("keyDown", "keyUp"):
            tab.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")
        done = False
        for _ in range(1200):
            if tab.evaluate("document.querySelector('.assistant, .error')?.dataset.done === 'true'"):
                done = True
                break
            time.sleep(0.1)
        reply = tab.evaluate("document.querySelector('.assistant, .error')?.textContent") or ""
        user = tab.evaluate("document.querySelector('.user')?.textContent")
        check("message typed and sent", user == MESSAGE, repr(user))
        check("reply streamed in", done and reply.strip() != "" and tab.evaluate("document.querySelector('.error') === null")
              and tab.evaluate("window.updates") > 3, f"{tab.evaluate('window.updates')} updates: {reply[:120]!r}")
        png = tab.call("Page.captureScreenshot", format="png")["data"]
        with open(args.out, "wb") as f:
            f.write(base64.b64decode(png))
        print(f"     screenshot: {args.out}")
    finally:
        browser.terminate()
        server.send_signal(signal.SIGINT)
        browser.wait(timeout=30)
        check("server exits 0", server.wait(timeout=60) == 0)
        shutil.rmtree(profile, ignore_errors=True)
    if failures:
        sys.exit(f"{len(failures)} check(s) failed: {', '.join(failures)}")
    print("all checks passed")


if __name__ == "__main__":
    main()
