"""`tinygpt serve` spoken to by a real client: the `openai` Python package.

    python3 bench/parity/serve_openai_check.py .build/release/tinygpt CHECKPOINT [--parallel 2]

Starts `tinygpt serve` on a free loopback port with an API key, then through
`openai.OpenAI(base_url=..., api_key=...)`: lists the models, asks for a chat
completion (whole and streamed, which must give the same text with the same
seed), a text completion with n=2, and checks the error cases the client maps
to exceptions (a wrong key: AuthenticationError; presence_penalty:
BadRequestError naming the parameter). Ends the server with Ctrl-C (SIGINT)
and checks that it exits 0. Prints each result; exits non-zero on a failed check.

A check script, not a dependency:  pip install openai
"""
import argparse, os, signal, socket, subprocess, sys, time, urllib.request

import openai


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("checkpoint")
    p.add_argument("--parallel", type=int, default=2)
    args = p.parse_args()
    port, key = free_port(), "check-key"
    server = subprocess.Popen([args.binary, "serve", "--checkpoint", args.checkpoint, "--port", str(port),
                               "--parallel", str(args.parallel), "--api-key", key], stderr=subprocess.PIPE, text=True)
    failures = []

    def check(name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
        if not ok:
            failures.append(name)

    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit(f"tinygpt serve exited: {server.stderr.read()}")
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key)
        models = client.models.list()
        model = models.data[0].id
        check("models.list", len(models.data) == 1, model)

        messages = [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is the capital of France?"}]
        whole = client.chat.completions.create(model=model, messages=messages, max_tokens=24, seed=7, temperature=0.3)
        text = whole.choices[0].message.content
        check("chat.completions", whole.choices[0].finish_reason in ("stop", "length") and whole.usage.completion_tokens > 0,
              f"{text!r} finish={whole.choices[0].finish_reason} usage={whole.usage.prompt_tokens}+{whole.usage.completion_tokens}")

        pieces, usage = [], None
        stream = client.chat.completions.create(model=model, messages=messages, max_tokens=24, seed=7, temperature=0.3,
                                                stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = chunk.usage
        check("chat.completions stream", "".join(pieces) == text and usage is not None
              and usage.completion_tokens == whole.usage.completion_tokens,
              f"{len(pieces)} chunks, same text as the whole reply: {''.join(pieces) == text}")

        completion = client.completions.create(model=model, prompt="The capital of France is", max_tokens=12, n=2, seed=3)
        check("completions n=2", len(completion.choices) == 2 and completion.usage.completion_tokens > 0,
              " | ".join(repr(c.text) for c in completion.choices))

        try:
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong").models.list()
            check("wrong key refused", False, "no error")
        except openai.AuthenticationError as e:
            check("wrong key refused", e.status_code == 401, str(e.body))
        try:
            client.chat.completions.create(model=model, messages=messages, max_tokens=4, presence_penalty=0.5)
            check("presence_penalty refused", False, "no error")
        except openai.BadRequestError as e:
            check("presence_penalty refused", e.status_code == 400 and e.param == "presence_penalty", e.message[:100])
    finally:
        server.send_signal(signal.SIGINT)
        try:
            status = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            status = "killed after 60 s"
        check("Ctrl-C exits 0", status == 0, f"exit status {status}")
    if failures:
        sys.exit(f"{len(failures)} check(s) failed: {', '.join(failures)}")
    print("all checks passed")


if __name__ == "__main__":
    main()
