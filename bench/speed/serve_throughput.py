"""Aggregate decoding throughput of `tinygpt serve` against llama-cpp-python's server, same model, same CPU.

    python3 bench/speed/serve_throughput.py .build/release/tinygpt CHECKPOINT MODEL.gguf [--streams 1 2 4 8] [--tokens 64]

For each server and each count k of concurrent streams (1, 2, 4, 8): k clients each stream one
/v1/completions reply of --tokens tokens at once (temperature 0.8), after a warm-up. The servers:
  tinygpt      tinygpt serve --parallel 8 on CHECKPOINT: the streams decode in one batched step
  tinygpt-p1   tinygpt serve --parallel 1: the streams queue and decode one after another
  llama.cpp    python3 -m llama_cpp.server on MODEL.gguf (n_ctx 2048, threads = cores,
               interrupt_requests off, else a new request cuts the stream in progress)
Every reply runs its full length: min_tokens for tinygpt, a logit_bias of -100 on the checkpoint's
end tokens for llama.cpp; only tokens received are counted. Reports tokens / wall time from the first
request to the last [DONE], and the mean time to the first token. The machine should be quiet:
figures taken while other jobs run are indicative.

A benchmark tool, not a dependency:  pip install 'llama-cpp-python[server]'
"""
import argparse, json, os, socket, subprocess, sys, threading, time, urllib.request

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, process, what):
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).read()
            return
        except OSError:
            if process.poll() is not None:
                sys.exit(f"{what} exited with {process.returncode}")
            time.sleep(0.1)
    sys.exit(f"{what} did not start")


def stream(port, tokens, seed, extra, out, i):
    body = dict(prompt=PROMPT, max_tokens=tokens, temperature=0.8, seed=seed, stream=True, **extra)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start, first, pieces = time.time(), None, 0
    with urllib.request.urlopen(request, timeout=600) as response:
        for line in response:
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            if json.loads(line[6:])["choices"][0].get("text"):
                pieces += 1
                first = first or time.time() - start
    out[i] = (pieces, first)


def run(port, k, tokens, extra):
    out = [None] * k
    threads = [threading.Thread(target=stream, args=(port, tokens, 100 + i, extra, out, i)) for i in range(k)]
    start = time.time()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.time() - start
    received = sum(o[0] for o in out)
    return received, wall, sum(o[1] for o in out) / k


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("checkpoint")
    p.add_argument("gguf")
    p.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--only", choices=["tinygpt", "tinygpt-p1", "llama.cpp"])
    args = p.parse_args()
    cores = os.cpu_count()
    config = json.load(open(os.path.join(args.checkpoint, "config.json")))
    ends = (config.get("tokenizer") or {}).get("eos_token_ids") or []
    servers = [("tinygpt", lambda port: [args.binary, "serve", "--checkpoint", args.checkpoint, "--port", str(port),
                                         "--parallel", str(max(args.streams))], {"min_tokens": args.tokens}),
               # One slot: the streams queue and decode one after another (what batching is measured against).
               ("tinygpt-p1", lambda port: [args.binary, "serve", "--checkpoint", args.checkpoint, "--port", str(port),
                                            "--parallel", "1"], {"min_tokens": args.tokens}),
               ("llama.cpp", lambda port: [sys.executable, "-m", "llama_cpp.server", "--model", args.gguf, "--port", str(port),
                                           "--n_ctx", "2048", "--n_threads", str(cores), "--n_threads_batch", str(cores),
                                           "--interrupt_requests", "False"],  # else a new request cuts the stream in progress
                {"logit_bias": {str(i): -100 for i in ends}})]
    print(f"CPU: {cores} cores; {args.tokens} tokens per stream; prompt {PROMPT!r}")
    print(f"{'server':10} {'streams':>7} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'first token s':>14}")
    for name, command, extra in servers:
        if args.only and name != args.only:
            continue
        port = free_port()
        process = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, process, name)
            run(port, 1, 8, extra if name == "llama.cpp" else {"min_tokens": 8})  # warm-up
            run(port, 1, 8, extra if name == "llama.cpp" else {"min_tokens": 8})
            for k in args.streams:
                received, wall, first = run(port, k, args.tokens, extra)
                print(f"{name:10} {k:>7} {received:>7} {wall:>8.2f} {received / wall:>9.1f} {first:>14.2f}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
