"""tinygpt's run config (docs/config.md) read in Python by asking tinygpt.

`load` runs `tinygpt info --json [--config FILE] [--set section.field=value ...]`
and takes its resolved, validated config: the same sections, fields, defaults,
types, overrides, checks and error messages as every tinygpt command, with no
copy of the field table here to drift. The tinygpt binary is, in order: the
`tinygpt` argument, $TINYGPT, the repository's .build/release/tinygpt, or
`tinygpt` on PATH.
"""
import json
import os
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ConfigError(Exception):
    pass


def find_tinygpt(tinygpt=None):
    """The tinygpt executable to ask, or a ConfigError saying how to get one."""
    for candidate in (tinygpt, os.environ.get("TINYGPT"), os.path.join(REPO, ".build", "release", "tinygpt"), shutil.which("tinygpt")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError("cannot find the tinygpt executable to read the config with: build it (swift build -c release) "
                      "or name it with $TINYGPT")


def load(path=None, overrides=(), tinygpt=None):
    """The resolved config as tinygpt takes it: defaults ← file ← `--set`
    overrides, validated. Also returns the set of keys ("section.field") the
    file or the overrides gave."""
    command = [find_tinygpt(tinygpt), "info", "--json"]
    if path is not None:
        command += ["--config", path]
    for assignment in overrides:
        command += ["--set", assignment]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"tinygpt info exited {result.returncode}"
        raise ConfigError(message.removeprefix("tinygpt: error: "))
    config = json.loads(result.stdout)["config"]
    given = set()
    if path is not None:
        with open(path, "rb") as f:
            for section, fields in json.loads(f.read().decode("utf-8")).items():
                given.update(f"{section}.{name}" for name in (fields or {}))
    given.update(assignment.partition("=")[0] for assignment in overrides)
    return config, given
