"""tinygpt's run config (docs/config.md) read in Python: the same sections,
fields, defaults, types, `--set section.field=value` overrides and checks, so
that train_ddp.py takes the very file tinygpt takes.

The table below mirrors Sources/Config/Config.swift (and the generated tables
in docs/config.md). scale/check_equivalence.py compares its defaults with
`tinygpt info`'s resolved config, so a drift is caught.
"""
import difflib
import json
import math

# (name, type, default, allowed). type: int, int?, number, bool, str, list,
# or a tuple of choices. allowed: (low, low_inclusive, high, high_inclusive) or None.
_ANY = None
FIELDS = {
    "model": [
        ("vocab_size", "int?", None, (1, True, 16777216, True)),
        ("context_length", "int", 256, (1, True, 1048576, True)),
        ("n_layer", "int", 6, (1, True, 10000, True)),
        ("d_model", "int", 384, (1, True, 1048576, True)),
        ("n_head", "int", 6, (1, True, None, True)),
        ("n_kv_head", "int?", None, (1, True, None, True)),
        ("d_ff", "int?", None, (1, True, 4194304, True)),
        ("norm", ("layernorm", "rmsnorm"), "layernorm", _ANY),
        ("norm_position", ("pre", "post", "deepnorm"), "pre", _ANY),
        ("norm_eps", "number", 1e-5, (0, False, None, True)),
        ("position", ("learned", "sinusoidal", "rope", "alibi", "none"), "learned", _ANY),
        ("rope_theta", "number", 10000.0, (0, False, None, True)),
        ("rope_scaling", "object?", None, _ANY),
        ("activation", ("relu", "gelu", "gelu_tanh", "swish", "swiglu", "geglu", "reglu"), "gelu", _ANY),
        ("bias", "bool", True, _ANY),
        ("dropout", "number", 0.0, (0, True, 1, False)),
        ("tie_embeddings", "bool", True, _ANY),
        ("init", ("gpt2", "xavier", "kaiming"), "gpt2", _ANY),
    ],
    "tokenizer": [
        ("type", ("char", "bpe"), "char", _ANY),
        ("vocab_size", "int", 512, (1, True, 16777216, True)),
        ("special_tokens", "list", [], _ANY),
    ],
    "data": [
        ("path", "str", "data/corpus.txt", _ANY),
        ("val_fraction", "number", 0.1, (0, False, 1, False)),
    ],
    "train": [
        ("batch_size", "int", 12, (1, True, 1048576, True)),
        ("grad_accum_steps", "int", 1, (1, True, 1048576, True)),
        ("max_steps", "int", 2000, (1, True, None, True)),
        ("optimizer", ("adamw", "adam", "sgd"), "adamw", _ANY),
        ("lr", "number", 1e-3, (0, False, None, True)),
        ("min_lr", "number", 1e-4, (0, True, None, True)),
        ("warmup_steps", "int", 100, (0, True, None, True)),
        ("lr_schedule", ("cosine", "linear", "constant"), "cosine", _ANY),
        ("beta1", "number", 0.9, (0, True, 1, False)),
        ("beta2", "number", 0.99, (0, True, 1, False)),
        ("eps", "number", 1e-8, (0, False, None, True)),
        ("weight_decay", "number", 0.1, (0, True, None, True)),
        ("momentum", "number", 0.9, (0, True, 1, False)),
        ("l1", "number", 0.0, (0, True, None, True)),
        ("l2", "number", 0.0, (0, True, None, True)),
        ("grad_clip", "number", 1.0, (0, True, None, True)),
        ("eval_interval", "int", 250, (1, True, None, True)),
        ("eval_steps", "int", 200, (1, True, None, True)),
        ("log_interval", "int", 10, (1, True, None, True)),
        ("seed", "int", 1337, _ANY),
        ("threads", "int", 0, (0, True, 1024, True)),
    ],
    "sample": [
        ("strategy", ("greedy", "sample", "beam"), "sample", _ANY),
        ("max_new_tokens", "int", 200, (0, True, None, True)),
        ("temperature", "number", 0.8, (0, True, None, True)),
        ("top_k", "int", 0, (0, True, None, True)),
        ("top_p", "number", 1.0, (0, False, 1, True)),
        ("min_p", "number", 0.0, (0, True, 1, False)),
        ("repetition_penalty", "number", 1.0, (0, False, None, True)),
        ("no_repeat_ngram", "int", 0, (0, True, None, True)),
        ("beam_width", "int", 4, (1, True, None, True)),
        ("length_penalty", "number", 1.0, _ANY),
        ("num_samples", "int", 1, (1, True, None, True)),
        ("seed", "int", 1337, _ANY),
        ("stop", "list", [], _ANY),
        ("stream", "bool", True, _ANY),
        ("prompt", "str", "", _ANY),
    ],
}


class ConfigError(Exception):
    pass


def _field(section, name):
    for f in FIELDS[section]:
        if f[0] == name:
            return f
    return None


def _suggest(name, names):
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _summary(value):
    return json.dumps(value) if not isinstance(value, str) else f'"{value}"'


def _checked_type(key, kind, value):
    """The value if it has the field's JSON type (as tinygpt checks it), else a ConfigError."""
    if kind == "int" or (kind == "int?" and value is not None):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer{' or null' if kind == 'int?' else ''}, got {_summary(value)}")
        return value
    if kind == "int?":
        return None
    if kind == "object?":
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{key} must be an object or null, got {_summary(value)}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {_summary(value)}")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {_summary(value)}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {_summary(value)}")
        return value
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of strings, got {_summary(value)}")
        return list(value)
    if not isinstance(value, str) or value not in kind:
        raise ConfigError(f"{key} must be one of {' | '.join(kind)}, got {_summary(value)}")
    return value


def _parse_text(key, kind, text):
    """`--set` text read according to the field's type."""
    if kind in ("int", "int?"):
        if kind == "int?" and text == "null":
            return None
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key} must be an integer{' or null' if kind == 'int?' else ''}, got '{text}'")
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got '{text}'")
    if kind == "bool":
        if text not in ("true", "false"):
            raise ConfigError(f"{key} must be true or false, got '{text}'")
        return text == "true"
    if kind == "object?":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"{key}: '{text}' is not a JSON object or null")
    if kind == "list":
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(f"{key}: '{text}' is not a JSON array of strings")
        return [] if text == "" else text.split(",")
    return text


def _unique_keys(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ConfigError(f"duplicate key '{k}'")
        seen[k] = v
    return seen


def defaults():
    return {s: {f[0]: (list(f[2]) if isinstance(f[2], list) else f[2]) for f in fields} for s, fields in FIELDS.items()}


def load(path=None, overrides=()):
    """The resolved config: defaults ← file ← `--set` overrides, validated.
    Also returns the set of keys ("section.field") the file or the overrides gave."""
    config = defaults()
    given = set()
    if path is not None:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file '{path}': {e.strerror}")
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}")
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}")
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a JSON object")
        for section, fields in data.items():
            if section not in FIELDS:
                raise ConfigError(f"{path}: unknown key '{section}'{_suggest(section, list(FIELDS))}")
            if not isinstance(fields, dict):
                raise ConfigError(f"{path}: '{section}' must be an object")
            for name, value in fields.items():
                field = _field(section, name)
                key = f"{section}.{name}"
                if field is None:
                    raise ConfigError(f"{path}: unknown key '{key}'{_suggest(name, [f[0] for f in FIELDS[section]])}")
                config[section][name] = _checked_type(key, field[1], value)
                given.add(key)
    for assignment in overrides:
        key, eq, text = assignment.partition("=")
        section, dot, name = key.partition(".")
        if not eq or not dot:
            raise ConfigError(f"--set '{assignment}' must look like section.field=value")
        if section not in FIELDS:
            raise ConfigError(f"unknown key '{section}'{_suggest(section, list(FIELDS))}")
        field = _field(section, name)
        if field is None:
            raise ConfigError(f"unknown key '{key}'{_suggest(name, [f[0] for f in FIELDS[section]])}")
        config[section][name] = _checked_type(key, field[1], _parse_text(key, field[1], text))
        given.add(key)
    resolve(config)
    validate(config)
    return config, given


def resolve(config):
    """Fills n_kv_head and d_ff as tinygpt's resolved config does."""
    m = config["model"]
    if m["n_kv_head"] is None:
        m["n_kv_head"] = m["n_head"]
    if m["d_ff"] is None:
        m["d_ff"] = 4 * m["d_model"]


def validate(config):
    for section, fields in FIELDS.items():
        for name, kind, _, bounds in fields:
            value = config[section][name]
            key = f"{section}.{name}"
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{key} must be finite, got {value}")
            if bounds is None or value is None or kind in ("bool", "str", "list") or isinstance(kind, tuple):
                continue
            low, low_in, high, high_in = bounds
            ok = (low is None or (value >= low if low_in else value > low)) and \
                 (high is None or (value <= high if high_in else value < high))
            if not ok:
                text = (("≥ " if low_in else "> ") + f"{low}") if high is None else \
                    f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
                raise ConfigError(f"{key} must be {text}, got {value}")
    m, t = config["model"], config["train"]
    if m["d_model"] % m["n_head"]:
        raise ConfigError(f"model.n_head ({m['n_head']}) must divide model.d_model ({m['d_model']})")
    if m["n_head"] % m["n_kv_head"]:
        raise ConfigError(f"model.n_kv_head ({m['n_kv_head']}) must divide model.n_head ({m['n_head']})")
    if not 0 <= t["min_lr"] <= t["lr"]:
        raise ConfigError(f"train.min_lr ({t['min_lr']}) must be in [0, train.lr] = [0, {t['lr']}]")
    if not 0 <= t["warmup_steps"] <= t["max_steps"]:
        raise ConfigError(f"train.warmup_steps ({t['warmup_steps']}) must be in [0, train.max_steps] = [0, {t['max_steps']}]")
