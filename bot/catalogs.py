"""Catalog maintenance with Babel's own API: the same extraction the README's pybabel commands perform."""

from __future__ import annotations

import gettext
import re
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.config import SUPPORTED_LANGUAGES

KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
SOURCE_DIRS = ("bot", "handlers")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def extract(root: Path) -> Catalog:
    """Every translatable string in the bot's source."""
    catalog = Catalog(project="city-service-bot", charset="utf-8")
    for folder in SOURCE_DIRS:
        method_map = [("**.py", "python")]
        for filename, lineno, message, comments, context in extract_from_dir(
            root / folder, method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        ):
            catalog.add(message, None, [(f"{folder}/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(root: Path, language: str) -> Path:
    return root / "locales" / language / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path, language: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update_catalogs(root: Path) -> None:
    """Writes messages.pot and merges it into each .po; English translations are the source strings."""
    template = extract(root)
    with (root / "locales" / "messages.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=False, width=110)
    for language in SUPPORTED_LANGUAGES:
        path = po_path(root, language)
        if path.exists():
            catalog = read_catalog(path, language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, project="city-service-bot", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        if language == "en":
            for message in catalog:
                if message.id and not _translated(message.string):
                    message.string = message.id
        with path.open("wb") as handle:
            write_po(handle, catalog, width=110, ignore_obsolete=True)


def set_translations(root: Path, language: str, translations: dict[str, str | list[str]]) -> list[str]:
    """Writes the given translations (msgid → msgstr, a list for plural forms) into a .po; returns unknown ids."""
    path = po_path(root, language)
    catalog = read_catalog(path, language)
    unknown = []
    for msgid, string in translations.items():
        message = catalog.get(msgid)
        if message is None:
            unknown.append(msgid)
            continue
        message.string = tuple(string) if isinstance(string, list) else string
        message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=110, ignore_obsolete=True)
    return unknown


def compile_catalogs(root: Path) -> None:
    for language in SUPPORTED_LANGUAGES:
        path = po_path(root, language)
        with path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, read_catalog(path, language))


def _translated(string: object) -> bool:
    if isinstance(string, tuple | list):
        return all(string)
    return bool(string)


def _placeholders(text: object) -> set[str]:
    if isinstance(text, tuple | list):
        return set().union(*(_placeholders(part) for part in text))
    return set(_PLACEHOLDER.findall(str(text)))


def check_catalogs(root: Path) -> list[str]:
    """Every problem found: a string missing or untranslated in a catalog, a wrong placeholder, a stale .mo."""
    problems = []
    template = extract(root)
    for language in SUPPORTED_LANGUAGES:
        path = po_path(root, language)
        catalog = read_catalog(path, language)
        for wanted in template:
            if not wanted.id:
                continue
            message = catalog.get(wanted.id, context=wanted.context)
            label = wanted.id if isinstance(wanted.id, str) else wanted.id[0]
            if message is None:
                problems.append(f"{language}: missing {label!r} (run scripts/catalogs.py update)")
            elif message.fuzzy or not _translated(message.string):
                problems.append(f"{language}: untranslated {label!r}")
            elif _placeholders(message.string) != _placeholders(wanted.id):
                problems.append(f"{language}: placeholders differ in {label!r}")
        mo_path = path.with_suffix(".mo")
        if not mo_path.exists():
            problems.append(f"{language}: {mo_path.name} is missing (run scripts/catalogs.py compile)")
            continue
        compiled = BytesIO()
        write_mo(compiled, catalog)
        with mo_path.open("rb") as handle:
            if compiled_meaning(BytesIO(compiled.getvalue())) != compiled_meaning(handle):
                problems.append(f"{language}: {mo_path.name} is stale (run scripts/catalogs.py compile)")
    return problems


def compiled_meaning(mo: BinaryIO) -> tuple[dict[object, str], str | None]:
    """What a .mo file means to gettext: its messages and its plural rule, not its bytes.

    Babel versions write other bytes (and their own name in the header) for the same catalog, so a fresh install
    must not call a .mo stale that says the same thing.
    """
    translations = gettext.GNUTranslations(mo)
    messages = dict(translations._catalog)  # type: ignore[attr-defined]
    header = messages.pop("", "")
    plural_forms = next((line for line in header.splitlines() if line.lower().startswith("plural-forms:")), None)
    return messages, plural_forms
