"""The people a finding or host may be given to, offered as a list wherever an owner is
typed (``known_owners()`` in templates); the server checks the same list."""

from __future__ import annotations

from flask.blueprints import BlueprintSetupState

from ..findings import owners
from ..policy import loader
from .blueprint import engine, web


def known_owners() -> list[str]:
    """Enabled users and the policy's contacts, by name."""
    with engine().connect() as conn:
        return owners.known_owners(conn, loader.current(conn))


@web.record_once
def _setup(state: BlueprintSetupState) -> None:
    state.app.jinja_env.globals["known_owners"] = known_owners
