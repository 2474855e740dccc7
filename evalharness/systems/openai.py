"""An LLM behind an OpenAI-compatible HTTP endpoint (vLLM, llama.cpp's ``llama-server``, ``transformers serve``,
TGI, hosted APIs): one request per segment, ``max_concurrent`` at a time, outputs in corpus order.

Failures the server means as "later" — 429, 5xx, a dropped connection, a timeout, a body that is not whole JSON,
an empty answer — are retried with exponential backoff and jitter, waiting at least what ``Retry-After`` asks.
A request that still fails ends the run with one line naming the segment and the status; the answers that came
back before it were handed to the translation cache as they came, so a rerun sends only the rest.

The API key is read from the environment variable that ``api_key_env`` names, at request time; it is in no
setting, identity, manifest or message (a server that echoes it in an error body has it replaced by ``***``).
httpx is imported only when the first request goes out (``pip install 'evalharness[llm]'``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from evalharness.errors import ConfigError, MissingDependencyError, TranslationError
from evalharness.systems.base import BatchFn, System, Translation
from evalharness.systems.batching import run_concurrently
from evalharness.systems.postprocess import DEFAULT_RULES, check_rules, finish, ordered
from evalharness.systems.settings import Strict, SystemSettings

DEFAULT_LANGUAGE_NAMES = {"ms": "Malay", "en": "English"}
MAX_BACKOFF_S = 60.0
"""The longest wait between two tries that backoff alone chooses (a ``Retry-After`` may ask for more)."""
MAX_RETRY_AFTER_S = 600.0
"""A ``Retry-After`` longer than this is not waited for: the request fails and says what the server asked."""


class Example(Strict):
    """One few-shot example: a source and its translation, used for requests in its direction."""

    source_language: str
    target_language: str
    source: str = Field(min_length=1)
    translation: str = Field(min_length=1)


class Prompt(Strict):
    """The request's messages: ``system`` and ``user`` templates with ``{source}``, ``{source_language}`` and
    ``{target_language}``; few-shot ``examples`` go between them as user/assistant turns."""

    system: str = ("You are a professional translator. Translate the user's text from {source_language} into "
                   "{target_language}. Reply with the translation only: no explanation, no notes, no quotes.")
    user: str = "{source}"
    examples: list[Example] = Field(default_factory=list)
    language_names: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LANGUAGE_NAMES))

    @field_validator("system", "user")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        import string

        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as err:
            raise ValueError(f"not a valid template ({err}); write a literal brace as {{{{ or }}}}") from None
        unknown = names - {"source", "source_language", "target_language"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; known: {{source}}, {{source_language}}, "
                             "{target_language}")
        return template

    def names(self, src: str, tgt: str) -> dict[str, str]:
        """The placeholders' values except the source."""
        return {"source_language": self.language_names.get(src, src),
                "target_language": self.language_names.get(tgt, tgt)}

    def messages(self, source: str, src: str, tgt: str) -> list[dict[str, str]]:
        """Chat messages for one segment."""
        values = self.names(src, tgt)
        out = [{"role": "system", "content": self.system.format(source=source, **values)}] if self.system else []
        for ex in self.examples:
            if (ex.source_language, ex.target_language) == (src, tgt):
                out += [{"role": "user", "content": self.user.format(source=ex.source, **values)},
                        {"role": "assistant", "content": ex.translation}]
        return [*out, {"role": "user", "content": self.user.format(source=source, **values)}]

    def text(self, source: str, src: str, tgt: str) -> str:
        """One prompt for the completions endpoint: the system text, the examples, the segment, each on its own."""
        values = self.names(src, tgt)
        parts = [self.system.format(source=source, **values)] if self.system else []
        for ex in self.examples:
            if (ex.source_language, ex.target_language) == (src, tgt):
                parts.append(self.user.format(source=ex.source, **values) + "\n" + ex.translation)
        parts.append(self.user.format(source=source, **values) + "\n")
        return "\n\n".join(parts)

    def sha256(self) -> str:
        """Hash of the template as configured (what the cache key and the manifest record)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


class LLMGeneration(Strict):
    """Sampling settings sent with every request; each one is part of the cache key. Unset ones are not sent."""

    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    max_tokens: StrictInt = Field(default=512, ge=1, le=131_072)
    seed: StrictInt | None = Field(default=None, ge=0, le=2**63 - 1)
    stop: list[str] | None = None


class OpenAISettings(SystemSettings):
    """An OpenAI-compatible endpoint: where it is, which model, how to ask and how hard to push it."""

    backend: Literal["openai"] = "openai"
    base_url: str = Field(min_length=1)  # up to /v1: http://127.0.0.1:8000/v1
    model: str = Field(min_length=1)
    endpoint: Literal["chat", "completions"] = "chat"
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    prompt: Prompt = Field(default_factory=Prompt)
    generation: LLMGeneration = Field(default_factory=LLMGeneration)
    postprocess: list[str] = Field(default_factory=lambda: list(DEFAULT_RULES))
    max_concurrent: StrictInt = Field(default=4, ge=1, le=256)
    requests_per_minute: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    timeout_s: float = Field(default=120.0, gt=0, le=3600, allow_inf_nan=False)
    max_retries: StrictInt = Field(default=5, ge=0, le=50)

    _rules = field_validator("postprocess")(check_rules)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL up to the API version, e.g. http://127.0.0.1:8000/v1")
        if parts.username or parts.password:  # not echoed back (runs/config.py leaves a "secret" error's value out)
            raise PydanticCustomError("secret", "credentials in the URL would be recorded with it: put the key in an "
                                      "environment variable and name it in api_key_env")
        if parts.query or parts.fragment:
            raise ValueError("no query or fragment: the URL is the API's base, e.g. http://127.0.0.1:8000/v1")
        return url.strip().rstrip("/")


def host_of(url: str) -> str:
    """``host[:port]`` of a URL: what the manifest records (never the path, which may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"[{host}]:{parts.port}" if ":" in host and parts.port else f"{host}:{parts.port}" if parts.port else host


class Retry(Exception):
    """A failure worth another try; ``after`` is what ``Retry-After`` asked for, if anything."""

    def __init__(self, status: str, after: float | None = None) -> None:
        super().__init__(status)
        self.status, self.after = status, after


class Fatal(Exception):
    """A failure another try will not mend (400, 401, 404…)."""


@dataclass
class Tally:
    """What the manifest says about the requests of a run (all directions)."""

    requests: int = 0
    retries: int = 0
    http_429: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    postprocessed: dict[str, int] = field(default_factory=dict)
    fingerprints: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)  # the model ids the server said answered
    lock: threading.Lock = field(default_factory=threading.Lock)


class RateLimit:
    """Starts of requests spaced ``60 / requests_per_minute`` seconds apart, across threads."""

    def __init__(self, per_minute: float | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Sleep until this thread may start a request."""
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        time.sleep(max(0.0, start - now))


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def import_httpx() -> Any:
    """``httpx``, or an error that names the extra."""
    try:
        import httpx
    except ImportError:
        raise MissingDependencyError("backend openai needs httpx: pip install 'evalharness[llm]'") from None
    return httpx


class OpenAISystem(System):
    """Translation by an LLM behind an OpenAI-compatible ``/chat/completions`` (or ``/completions``) endpoint."""

    Settings = OpenAISettings
    settings: OpenAISettings
    cacheable: ClassVar[bool] = True
    runs_on_driver: ClassVar[bool] = True

    def __init__(self, settings: OpenAISettings, **context: Any) -> None:
        super().__init__(settings, **context)  # seed, key, store, notify: see System
        self.tally = Tally()
        self._client: Any = None
        self._limit = RateLimit(settings.requests_per_minute)

    # ------------------------------------------------------------------ what identifies the outputs

    def repeatable(self) -> bool:
        """Greedy (temperature 0) or seeded: only then are answers cached."""
        gen = self.settings.generation
        return gen.temperature == 0 or gen.seed is not None

    def cache_mode(self) -> str:
        """Why answers are cached or not, for the manifest."""
        gen = self.settings.generation
        if gen.temperature == 0:
            return "cached: temperature 0 (greedy)"
        if gen.seed is not None:
            return f"cached: seed {gen.seed} (assumes the server honours seed)"
        return f"not cached: temperature {gen.temperature:g} with no seed samples anew each run"

    def identity(self) -> dict[str, Any]:
        """Endpoint model, template (and its hash), every generation setting, the post-processing rules.

        The base URL's host is left out (the same model served elsewhere gives the same answers) and so is the
        key; the ``system_fingerprint`` a server reports is known only after a request, so it is recorded in the
        manifest instead (the key must be known with the server down, for a rerun served from the cache).
        """
        s = self.settings
        return {"backend": "openai", "model": s.model, "endpoint": s.endpoint,
                "prompt": s.prompt.model_dump(mode="json"), "prompt_sha256": s.prompt.sha256(),
                "generation": s.generation.model_dump(mode="json"), "postprocess": ordered(s.postprocess)}

    def manifest(self) -> dict[str, Any]:
        """Identity plus where it was served from and what the requests cost."""
        t, s = self.tally, self.settings
        return {**self.identity(), "host": host_of(s.base_url), "cache": self.cache_mode(),
                "max_concurrent": s.max_concurrent, "requests_per_minute": s.requests_per_minute,
                "timeout_s": s.timeout_s, "max_retries": s.max_retries,
                "requests": t.requests, "retries": t.retries, "http_429": t.http_429,
                "tokens": {"prompt": t.prompt_tokens, "completion": t.completion_tokens},
                "postprocessed": dict(sorted(t.postprocessed.items())),
                "system_fingerprints": sorted(t.fingerprints), "served_by": sorted(t.models),
                "api_key_env": s.api_key_env}

    # ------------------------------------------------------------------ checks and the client

    def _key(self) -> str | None:
        name = self.settings.api_key_env
        if name is None:
            return None
        value = os.environ.get(name, "")
        if not value:
            raise ConfigError(f"{self.key}.api_key_env: environment variable {name} is not set (system "
                              f"{self.name!r}); export it, or leave api_key_env out for a server without keys")
        return value

    def preflight(self, segments: int) -> None:
        """The key's variable is set and httpx is installed, before any system translates."""
        self._key()
        import_httpx()

    def _hide(self, text: str) -> str:
        key = os.environ.get(self.settings.api_key_env or "", "")
        return text.replace(key, "***") if key else text

    def client(self) -> Any:
        """One pooled HTTP client for all threads (httpx's ``Client`` is thread-safe)."""
        if self._client is None:
            httpx = import_httpx()
            n = self.settings.max_concurrent
            self._client = httpx.Client(timeout=self.settings.timeout_s,
                                        limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
        return self._client

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ one request

    def body(self, source: str, src: str, tgt: str) -> dict[str, Any]:
        """The JSON body of the request for one segment."""
        s = self.settings
        body: dict[str, Any] = {"model": s.model}
        if s.endpoint == "chat":
            body["messages"] = s.prompt.messages(source, src, tgt)
        else:
            body["prompt"] = s.prompt.text(source, src, tgt)
        gen = s.generation.model_dump(exclude_none=True)
        body.update(gen)
        return body

    def _ask_once(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One POST: the answer's text and the parsed response, or :class:`Retry` / :class:`Fatal`."""
        httpx = import_httpx()
        s = self.settings
        headers = {"Content-Type": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = f"{s.base_url}/{'chat/completions' if s.endpoint == 'chat' else 'completions'}"
        self._limit.wait()
        with self.tally.lock:
            self.tally.requests += 1
        try:
            response = self.client().post(url, content=json.dumps(body).encode(), headers=headers)
        except httpx.TimeoutException:
            raise Retry(f"no answer within timeout_s {s.timeout_s:g}") from None
        except httpx.TransportError as err:
            raise Retry(f"connection failed ({type(err).__name__}: {self._hide(str(err)) or 'no detail'})") from None
        status = response.status_code
        if status == 429 or status >= 500 or status == 408:
            if status == 429:
                with self.tally.lock:
                    self.tally.http_429 += 1
            raise Retry(f"HTTP {status}", retry_after(response.headers.get("retry-after")))
        if status != 200:
            raise Fatal(f"HTTP {status}: {self._hide(response.text.strip()[:200]) or 'empty body'}")
        try:
            data = json.loads(response.content)
        except ValueError:
            raise Retry(f"HTTP 200 with a body that is not whole JSON ({len(response.content)} bytes)") from None
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if s.endpoint == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise Retry("HTTP 200 without choices[0]." + ("message.content" if s.endpoint == "chat" else "text")
                        ) from None
        if not isinstance(text, str) or not text.strip():
            raise Retry("HTTP 200 with an empty answer")
        return text, data

    def ask(self, source: str, src: str, tgt: str, position: int) -> Translation:
        """One segment's answer, retried as the failure allows, post-processed."""
        s = self.settings
        body = self.body(source, src, tgt)
        attempt = 0
        while True:
            try:
                text, data = self._ask_once(body)
                break
            except Fatal as err:
                raise TranslationError(self._failure(position, str(err), attempt)) from None
            except Retry as err:
                if attempt >= s.max_retries:
                    raise TranslationError(self._failure(position, err.status, attempt)) from None
                if err.after is not None and err.after > MAX_RETRY_AFTER_S:
                    raise TranslationError(self._failure(
                        position, f"{err.status}, Retry-After {err.after:g} s (more than {MAX_RETRY_AFTER_S:g} s "
                        "is not waited for)", attempt)) from None
                backoff = min(MAX_BACKOFF_S, 0.5 * 2**attempt)
                delay = max(err.after or 0.0, backoff * (0.5 + random.random() / 2))  # jitter: 50-100 %
                attempt += 1
                with self.tally.lock:
                    self.tally.retries += 1
                time.sleep(delay)
        return self._answer(text, data, source)

    def _failure(self, position: int, status: str, attempt: int) -> str:
        tries = f"after {attempt + 1} tries" if attempt else "on the first try"
        return (f"system {self.name!r} ({host_of(self.settings.base_url)}): segment {position + 1} failed {tries}: "
                f"{status}; the answers that came back are in the translation cache (when it is on): a rerun sends "
                f"only the rest (or raise {self.key}.max_retries / timeout_s)")

    def _answer(self, text: str, data: dict[str, Any], source: str) -> Translation:
        usage: dict[str, Any] = data["usage"] if isinstance(data.get("usage"), dict) else {}
        completion = int(usage.get("completion_tokens") or 0)
        choice = data["choices"][0]
        with self.tally.lock:
            self.tally.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.tally.completion_tokens += completion
            if data.get("system_fingerprint"):
                self.tally.fingerprints.add(str(data["system_fingerprint"]))
            if data.get("model"):
                self.tally.models.add(str(data["model"]))
        raw = Translation(text, completion, choice.get("finish_reason") == "length")
        return self.finish(raw, source)

    def finish(self, raw: Translation, source: str) -> Translation:
        """The configured clean-up rules applied, each removal (and a multi-line answer) noted and counted."""
        with self.tally.lock:
            return finish(raw, source, self.settings.postprocess, self.tally.postprocessed)

    # ------------------------------------------------------------------ the corpus

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """Every segment asked, ``max_concurrent`` at a time; ``on_batch`` hears each answer in this thread (the
        cache's SQLite connection belongs to it). On a failure no new request starts, those in flight finish and
        are reported, then the error is raised."""
        return run_concurrently([[i] for i in range(len(texts))], lambda b: [self.ask(texts[b[0]], src, tgt, b[0])],
                                self.settings.max_concurrent, on_batch)
