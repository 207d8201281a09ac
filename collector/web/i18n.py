"""English and Chinese (zh-CN) for the dashboard: Flask-Babel, chosen by cookie or browser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, request
from flask_babel import Babel

LANGUAGES = {"en": "English", "zh_CN": "中文"}
COOKIE = "hostpatrol_lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def default_locale() -> str:
    """The deployment's language (``language`` in collector.yaml) as a locale."""
    config = current_app.extensions.get("hostpatrol.config")
    return "zh_CN" if config is not None and config.settings.get("language") == "zh-CN" \
        else "en"


def select_locale() -> str:
    """The language cookie when valid, else the browser's best match, else the
    deployment's language."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    fallback = default_locale()
    best = request.accept_languages.best_match(["en", "zh-CN", "zh"],
                                               default="zh" if fallback == "zh_CN" else "en")
    return "zh_CN" if best.startswith("zh") else "en"


def init_i18n(app: Flask, timezone: Callable[[], str]) -> None:
    """Attach Flask-Babel with our catalogs, locale selector and configured timezone."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=select_locale,
          timezone_selector=timezone)
