"""Fixtures the end-to-end modules share: ``browser``, a headless Chromium (tests/headless.py)."""
from headless import browser  # noqa: F401 - a fixture, found here by its name
