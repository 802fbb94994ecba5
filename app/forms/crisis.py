"""An organisation's crisis text: what the patient form's thank-you page says about where to
find urgent help, one text per language, in any language the catalogues found. The page shows
the text of its own language, else the English one, else none.

Set by an admin through `PUT /v1/form-settings` (audited) or by `bordin set-crisis-text`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from app.languages.catalogues import SOURCE_LANGUAGE
from app.platform import store_access
from app.platform.errors import InvalidRequestError, ItemError
from app.records.context import Records, audit_write

MAX_LENGTH = 1000  # characters of one language's text, once trimmed


def crisis_text(records: Records) -> dict[str, str] | None:
    """The organisation's texts by language tag, or None when it has none."""
    with records.database.session() as db:
        organisation = store_access.get_organization(db, records.organization_id)
        return organisation.crisis_text if organisation is not None else None


def set_crisis_text(records: Records, texts: Mapping[str, str] | None) -> dict[str, str] | None:
    """Replace the organisation's texts (None or empty: none), audited as `setFormSettings`.
    Each tag must be a language found (a 422 naming `crisis_text.<tag>` otherwise); each text
    is trimmed, and must hold something, at most MAX_LENGTH characters, and no control
    character. A ValueError for an unknown organisation (the command line's mistake)."""
    checked = checked_texts(texts or {}, spoken(records)) or None
    with records.database.session() as db:
        organisation = store_access.get_organization(db, records.organization_id)
        if organisation is None:
            raise ValueError(f"no organisation {records.organization_id}")
        organisation.crisis_text = checked
        audit_write(db, records, "setFormSettings", "organization", organisation.id, 200)
        db.commit()
    return checked


def spoken(records: Records) -> tuple[str, ...]:
    """The languages a text may be in: those the catalogues found (English at least)."""
    return records.languages.languages if records.languages is not None else (SOURCE_LANGUAGE,)


def checked_texts(texts: Mapping[str, str], languages: tuple[str, ...]) -> dict[str, str]:
    """`texts` trimmed, in the order of `languages`; an InvalidRequestError naming each
    offending `crisis_text.<tag>` otherwise."""
    errors: list[ItemError] = []
    for tag, text in texts.items():
        error = _problem(tag, text, languages)
        if error is not None:
            errors.append({"loc": ["crisis_text", tag], "code": error[0], "message": error[1]})
    if errors:
        named = ", ".join(f"crisis_text.{error['loc'][1]}" for error in errors)
        raise InvalidRequestError(f"crisis text refused: {named}", errors)
    return {tag: texts[tag].strip() for tag in languages if tag in texts}


def _problem(tag: str, text: str, languages: tuple[str, ...]) -> tuple[str, str] | None:
    if tag not in languages:
        return "unknown_language", f"one of {', '.join(languages)} (GET /v1/languages)"
    if has_control_character(text):
        return "control_character", "no control characters (line breaks, tabs...)"
    trimmed = text.strip()
    if not trimmed:
        return "empty_text", "a text, or leave the language out"
    if len(trimmed) > MAX_LENGTH:
        return "too_long", f"at most {MAX_LENGTH} characters"
    return None


def has_control_character(text: str) -> bool:
    """Whether `text` holds a control character (Unicode's Cc: C0, DEL, C1)."""
    return any(unicodedata.category(character) == "Cc" for character in text)
