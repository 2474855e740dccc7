"""Named clean-up rules for what an LLM or a command wraps around a translation, each removal reported.

An LLM often answers with more than the translation: a reasoning block (``<think>…</think>``), a preamble
("Here is the translation:"), the translation in quotes or a code fence, a chat end token (``<end_of_turn>``,
``<|im_end|>``). Scoring that text as the translation measures the wrapper, not the translation; removing it
silently hides a habit of the system. So each rule has a name, is chosen in the config (``postprocess:``), and
every removal is returned as a note that the run keeps on the segment and counts in the manifest.

The rules are applied in :data:`RULES` order, whatever order the config lists them in, so the same set of names
always gives the same output (the set is part of the cache key).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from evalharness.systems.base import Translation

END_TOKENS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "</s>", "<eos>",
              "<|end_of_text|>", "<|return|>")
"""Chat end tokens that servers leave in the text when the template's stop token is not set up as such."""

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_UNCLOSED_THINK_END = re.compile(r"^.*?</(think|thinking|reasoning)>", re.DOTALL | re.IGNORECASE)
_END_TOKEN = re.compile("(?:" + "|".join(re.escape(t) for t in END_TOKENS) + r")[\s\S]*\Z")
_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?```\s*\Z", re.DOTALL)
_PREAMBLE = re.compile(
    r"\A\s*(?:"
    r"(?:sure|certainly|of course|okay|ok)[!,.]?\s*"  # "Sure! Here is the translation:"
    r")?(?:"
    r"here(?:\s+is|'s|\s+are)\b[^\n:]{0,80}?\btranslat\w*[^\n:]{0,60}"  # Here is the (Malay) translation (of …)
    r"|(?:the\s+)?(?:\w+\s+)?translation(?:\s+\w+){0,6}"  # Translation: / English translation: / Translation in Malay:
    r"|berikut(?:\s+(?:ialah|adalah|merupakan))?[^\n:]{0,80}?\bterjemahan\w*[^\n:]{0,60}"  # Malay preambles
    r"|terjemahan(?:\s+\w+){0,4}"
    r")\s*[:：]\s*(?:\n|(?=\S))",
    re.IGNORECASE,
)
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("«", "»"), ("„", "“"), ("「", "」"))


def _think(text: str, source: str) -> str:
    text = _THINK.sub("", text)
    # a server that puts the opening tag in the prompt (the chat template) returns only "…</think> answer"
    return _UNCLOSED_THINK_END.sub("", text, count=1)


def _end_tokens(text: str, source: str) -> str:
    return _END_TOKEN.sub("", text)


def _code_fence(text: str, source: str) -> str:
    match = _FENCE.match(text)
    return match["body"] if match else text


def _preamble(text: str, source: str) -> str:
    if _PREAMBLE.match(source):  # the source itself starts so: translating it faithfully keeps it
        return text
    return _PREAMBLE.sub("", text, count=1)


def _quotes(text: str, source: str) -> str:
    stripped, src = text.strip(), source.strip()
    for left, right in _QUOTES:
        if len(stripped) >= 2 and stripped.startswith(left) and stripped.endswith(right):
            if any(src.startswith(a) and src.endswith(b) for a, b in _QUOTES):
                return text  # the source is quoted as a whole: the quotes belong to the translation
            inner = stripped[len(left):-len(right)]
            if left in inner or right in inner:  # "a" and "b": two quotations, not one wrapper
                return text
            return inner
    return text


Rule = Callable[[str, str], str]
RULES: dict[str, Rule] = {
    "think": _think,
    "end_tokens": _end_tokens,
    "code_fence": _code_fence,
    "preamble": _preamble,
    "quotes": _quotes,
}
"""Rule name → function(text, source) → text; applied in this order."""

DEFAULT_RULES = tuple(RULES)


def ordered(rules: Sequence[str]) -> list[str]:
    """``rules`` in application order, each once (how the cache key records them)."""
    return [name for name in RULES if name in rules]


def clean(text: str, source: str, rules: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """``text`` with the named rules applied, and the names of the rules that removed something.

    Surrounding white space is stripped at the end whatever the rules; that alone is not a note.
    """
    notes: list[str] = []
    for name in ordered(rules):
        after = RULES[name](text, source)
        if after.strip() != text.strip():
            notes.append(name)
        text = after
    return text.strip(), tuple(notes)


def check_rules(rules: Sequence[str]) -> list[str]:
    """``rules`` if every name is known; a ``ValueError`` naming the unknown one and the known ones otherwise."""
    for name in rules:
        if name not in RULES:
            raise ValueError(f"unknown post-processing rule {name!r}; known: {', '.join(RULES)}")
    if len(set(rules)) != len(rules):
        raise ValueError(f"each post-processing rule once: {list(rules)}")
    return list(rules)


MULTI_LINE = "multi_line"
"""The note on an answer that spans several lines for a one-line source (kept as it is: it is a symptom — an
explanation, a list of alternatives — not a wrapper a rule can safely cut)."""


def finish(raw: Translation, source: str, rules: Sequence[str], counts: dict[str, int]) -> Translation:
    """``raw`` cleaned by ``rules``, with its notes (``multi_line`` included) added to ``counts``; the raw text is
    kept on the output when a rule changed it (the cache stores that)."""
    text, notes = clean(raw.text, source, rules)
    if "\n" not in source.strip() and "\n" in text:
        notes = (*notes, MULTI_LINE)
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    return Translation(text, raw.tokens, raw.hit_limit, notes, raw.text if text != raw.text else None)
