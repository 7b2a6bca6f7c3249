"""A load and fault check of `tinygpt serve` (docs/serve.md, Reliability), bounded in count and time, loopback only.

    python3 bench/parity/serve_reliability.py .build/release/tinygpt CHECKPOINT [--parallel 4] [--connections 200]

Starts `tinygpt serve --parallel 4 --timeout 2` on a free loopback port, then sends, and checks that
every answer is a well-formed HTTP response (a status line, and for errors OpenAI's
{"error": {...}} JSON):
- malformed HTTP (garbage, a bad request line, a header without a colon, HTTP/2.0, a bad Content-Length);
- an oversized head (431) and body (413), invalid JSON, a non-object body, unknown fields (400);
- a huge max_tokens, streamed, read for a few events and then dropped (the slot must free);
- slow clients: half a request, then silence (408 after --timeout);
- N concurrent connections (default 200) each asking for a short chat completion: each gets 200 with
  usage, or a well-formed 503;
then checks /health (no slot left busy), reports the server's peak resident memory (VmHWM, Linux),
starts a few requests, sends Ctrl-C (SIGINT) while they run, and checks they finish with 200 and the
server exits 0. Exits non-zero on any failed check. Uses only the standard library.
"""
import argparse, json, os, signal, socket, subprocess, sys, threading, time, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port, data, timeout=60, read=True):
    """Sends raw bytes; returns (status, headers, body) of the reply, or (None, error, b"")."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            if not read:
                return None, "sent", b""
            chunks = []
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
                raw = b"".join(chunks)
                if b"\r\n\r\n" in raw:
                    head, _, body = raw.partition(b"\r\n\r\n")
                    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if length and len(body) >= length[0]:
                        break
            raw = b"".join(chunks)
    except OSError as e:
        return None, str(e), b""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.1") or not parts[1].isdigit():
        return None, f"no status line: {raw[:80]!r}", body
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    return int(parts[1]), headers, body


def post(path, body, extra=b""):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n").encode() + extra + b"\r\n" + data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("checkpoint")
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--connections", type=int, default=200)
    args = p.parse_args()
    port = free_port()
    server = subprocess.Popen([args.binary, "serve", "--checkpoint", args.checkpoint, "--port", str(port),
                               "--parallel", str(args.parallel), "--timeout", "2"], stderr=subprocess.PIPE, text=True)
    failures = []
    started = time.time()

    def check(name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        if not ok:
            failures.append(name)

    def error_shaped(status, headers, body, expected):
        if status != expected:
            return False
        try:
            e = json.loads(body)["error"]
            return all(k in e for k in ("message", "type", "param", "code"))
        except (ValueError, KeyError, TypeError):
            return False

    def health():
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read())

    try:
        for _ in range(600):
            try:
                health()
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit(f"tinygpt serve exited: {server.stderr.read()}")
                time.sleep(0.1)
        chat = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 4, "temperature": 0}

        cases = [
            ("garbage", b"\x00\x01\x02 nonsense\r\n\r\n", 400),
            ("bad request line", b"GET\r\n\r\n", 400),
            ("header without colon", b"GET /health HTTP/1.1\r\nbroken header\r\n\r\n", 400),
            ("HTTP/2.0", b"GET /health HTTP/2.0\r\n\r\n", 505),
            ("bad Content-Length", b"POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
            ("head over 16 KiB", b"GET /health HTTP/1.1\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n", 431),
            ("body over 4 MiB", b"POST /v1/completions HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n", 413),
            ("invalid JSON", post("/v1/chat/completions", b"{\"messages\": [}"), 400),
            ("non-object JSON", post("/v1/chat/completions", b"[1, 2, 3]"), 400),
            ("unknown field", post("/v1/chat/completions", dict(chat, colour="red")), 400),
            ("presence_penalty", post("/v1/chat/completions", dict(chat, presence_penalty=1)), 400),
            ("unknown path", b"GET /v2/everything HTTP/1.1\r\nConnection: close\r\n\r\n", 404),
        ]
        for name, data, expected in cases:
            status, headers, body = exchange(port, data)
            check(name, error_shaped(status, headers, body, expected), f"{status} {body[:90]!r}")

        # A huge max_tokens, streamed; dropped after a few events.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(post("/v1/chat/completions", dict(chat, max_tokens=10**9, stream=True, temperature=1)))
            got = b""
            while got.count(b"data: ") < 4:
                c = s.recv(4096)
                if not c:
                    break
                got += c
            check("huge max_tokens streams", got.startswith(b"HTTP/1.1 200") and got.count(b"data: ") >= 4)
        deadline = time.time() + 10
        while health()["busy"] and time.time() < deadline:
            time.sleep(0.05)
        check("dropped stream frees its slot", health()["busy"] == 0, json.dumps(health()))

        # Slow clients: half a request, then nothing.
        slow = []
        def slow_client(i):
            slow.append(exchange(port, b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pro", timeout=20))
        threads = [threading.Thread(target=slow_client, args=(i,)) for i in range(5)]
        t0 = time.time()
        for t in threads: t.start()
        for t in threads: t.join()
        check("slow clients get 408", all(error_shaped(*r, 408) for r in slow), f"{[r[0] for r in slow]} after {time.time() - t0:.1f} s")

        # Many connections at once.
        results = [None] * args.connections
        def client(i):
            results[i] = exchange(port, post("/v1/chat/completions", dict(chat, seed=i, temperature=0.8)), timeout=600)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.connections)]
        t0 = time.time()
        for t in threads: t.start()
        for t in threads: t.join()
        ok = sum(1 for s, h, b in results if s == 200 and "usage" in json.loads(b))
        busy = sum(1 for s, h, b in results if s == 503 and error_shaped(s, h, b, 503))
        check(f"{args.connections} concurrent connections, --parallel {args.parallel}", ok + busy == args.connections,
              f"{ok} answered, {busy} refused 503, {args.connections - ok - busy} other, in {time.time() - t0:.1f} s")
        h = health()
        check("nothing left busy or queued", h["busy"] == 0 and h["queued"] == 0, json.dumps(h))
        try:
            status = open(f"/proc/{server.pid}/status").read()
            peak = [l for l in status.splitlines() if l.startswith(("VmHWM", "VmRSS", "Threads"))]
            print("     server memory: " + ", ".join(" ".join(l.split()) for l in peak))
        except OSError:
            pass

        # Ctrl-C with requests in flight: they finish, then exit 0.
        inflight = [None] * 3
        def late(i):
            inflight[i] = exchange(port, post("/v1/chat/completions", dict(chat, max_tokens=24, seed=i)), timeout=120)
        threads = [threading.Thread(target=late, args=(i,)) for i in range(3)]
        for t in threads: t.start()
        deadline = time.time() + 10
        while health()["busy"] == 0 and time.time() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGINT)
        for t in threads: t.join()
        check("requests in flight at Ctrl-C finish", all(r[0] == 200 for r in inflight), str([r[0] for r in inflight]))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed after 90 s"
        check("server exits 0 after Ctrl-C", code == 0, f"exit status {code}")
    print(f"{time.time() - started:.0f} s in all")
    if failures:
        sys.exit(f"{len(failures)} check(s) failed: {', '.join(failures)}")
    print("all checks passed")


if __name__ == "__main__":
    main()
