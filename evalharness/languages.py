"""The languages the harness knows, as data: one row per language, keyed by the short code users write.

A corpus or test set declares its two languages by these codes (``ms``, ``en``, ``id``: the names in
``directions: [ms-en, en-ms]``, in ``pairs.jsonl`` fields and in file names); a direction is two of them joined by
``-``. Everything that depends on the language reads it from this table rather than from a code of its own:
language identification (the ``wrong_language`` flag: :attr:`Language.lingua`), sentence splitting
(:attr:`Language.sentencex`) and NLLB-style models' language tokens (:attr:`Language.flores`). Adding a language is
one row in :data:`LANGUAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.errors import InputError


class LanguageError(InputError):
    """A language code or direction that the table does not know, or that is not written as one."""


@dataclass(frozen=True)
class Language:
    """One language: its short code and what each tool calls it."""

    code: str  # what users write: ms, en, id
    name: str
    iso639_3: str  # the individual language, not the macro-language (zsm is Standard Malay, msa is Malay at large)
    script: str  # ISO 15924
    lingua: str  # lingua.Language member name, for language identification
    sentencex: str  # sentencex's language code, for sentence splitting
    close: tuple[str, ...] = ()  # languages an identifier confuses with this one on short texts

    @property
    def flores(self) -> str:
        """The FLORES-200 / NLLB code, ISO 639-3 plus script: ``zsm_Latn``."""
        return f"{self.iso639_3}_{self.script}"


LANGUAGES: dict[str, Language] = {
    lang.code: lang for lang in (
        # The order matters: it is the order of the identifier's languages in the language-ID cache key.
        Language("ms", "Malay", "zsm", "Latn", "MALAY", "ms", close=("id",)),
        Language("en", "English", "eng", "Latn", "ENGLISH", "en"),
        Language("id", "Indonesian", "ind", "Latn", "INDONESIAN", "id", close=("ms",)),
    )
}
"""Every known language by its short code."""

DEFAULT_PAIR: tuple[str, str] = ("ms", "en")
"""The languages of the shipped corpus, and of a corpus that declares none."""


def language(code: str, *, where: str = "language") -> Language:
    """The row of ``code``; an unknown code names the known ones and the file to add a row to."""
    if code in LANGUAGES:
        return LANGUAGES[code]
    by_flores = {lang.flores: lang for lang in LANGUAGES.values()}
    if code in by_flores:
        return by_flores[code]
    from evalharness.registry import did_you_mean

    raise LanguageError(f"{where}: unknown language {code!r}{did_you_mean(code, LANGUAGES)} (known: "
                        f"{', '.join(LANGUAGES)}); a new one is a row in evalharness/languages.py")


def split_direction(direction: str, *, where: str = "direction") -> tuple[str, str]:
    """(source, target) codes of ``direction`` (``ms-en``): two different known languages joined by ``-``."""
    parts = direction.split("-")
    if len(parts) != 2 or not all(parts):
        raise LanguageError(f"{where}: {direction!r} is not a direction; write SOURCE-TARGET, e.g. ms-en")
    src, tgt = (language(p, where=where).code for p in parts)
    if (src, tgt) != (parts[0], parts[1]):
        raise LanguageError(f"{where}: write {direction!r} with short codes: {src}-{tgt}")
    if src == tgt:
        raise LanguageError(f"{where}: {direction!r} translates a language into itself; give two languages")
    return src, tgt


def directions_of(pair: tuple[str, str]) -> list[str]:
    """Both directions between the two languages of ``pair``, first into second first: ``['ms-en', 'en-ms']``."""
    a, b = pair
    return [f"{a}-{b}", f"{b}-{a}"]
