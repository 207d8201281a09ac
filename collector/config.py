"""Collector configuration: the data dir layout and ``collector.yaml``'s strict schema."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hostpatrol.shared.configfile import ConfigError, Field, load, load_yaml

CONFIG_NAME = "collector.yaml"
DEFAULT_BIND = "127.0.0.1:8443"
LANGUAGES = ("en", "zh-CN")
ZONE_OF_LANGUAGE = {"zh-CN": "Asia/Shanghai"}  # else UTC

SPEC: dict[str, Field] = {
    "bind": Field(str, DEFAULT_BIND, "HOST:PORT that `serve` listens on (HTTPS)"),
    "public_url": Field((str, type(None)), None,
                        "URL agents use to reach this collector (default: https://BIND)"),
    "database_url": Field((str, type(None)), None,
                          "SQLAlchemy URL; default SQLite file hostpatrol.db in the data dir. "
                          "Overridden by HOSTPATROL_DATABASE_URL"),
    "language": Field(str, "en", "the deployment's language: the dashboard's when a browser "
                                 "asks for neither, the CLI report's default, and the time "
                                 "zone's default (zh-CN: Asia/Shanghai)", choices=LANGUAGES),
    "workers": Field(int, 2, "worker processes for `serve` (one per CPU core)"),
    "threads": Field(int, 64, "WSGI threads per `serve` worker"),
    "tls": Field(dict, doc="TLS certificate and key for `serve`", children={
        "cert": Field(str, "tls/cert.pem", "PEM certificate (relative to the data dir)"),
        "key": Field(str, "tls/key.pem", "PEM private key (relative to the data dir)"),
    }),
    "ingest": Field(dict, doc="limits applied to agent reports", children={
        "max_body_bytes": Field(int, 4 * 1024 * 1024, "largest request body accepted"),
        "max_report_bytes": Field(int, 1024 * 1024, "largest single JWS report accepted"),
        "max_batch": Field(int, 100, "most reports in one JSON batch"),
        "clock_skew_seconds": Field(int, 300, "how far in the future created_at may be"),
        "replay_horizon_days": Field(int, 30,
                                     "reports created longer ago than this are refused"),
        "agent_rate_per_minute": Field(int, 120, "reports one agent may deliver per minute "
                                                 "(per worker process; then 429)"),
        "agent_burst": Field(int, 300, "reports one agent may deliver at once before its "
                                       "rate applies"),
        "max_concurrent": Field(int, 48, "report deliveries one worker has in flight at once "
                                        "(they share one group commit; 0: no limit); more "
                                        "wait, then get 429"),
        "queue_wait_ms": Field(int, 200, "how long a delivery waits for a free slot "
                                         "before 429"),
        "busy_retry_after_seconds": Field(int, 30, "Retry-After sent with that 429"),
    }),
    "enroll": Field(dict, doc="enrollment protection", children={
        "max_failures_per_ip": Field(int, 10, "failed enrollments from one address before "
                                              "it is refused (429)"),
        "window_minutes": Field(int, 15, "how long failed enrollments count"),
    }),
    "session": Field(dict, doc="dashboard sessions", children={
        "lifetime_hours": Field(int, 12, "how long a login lasts"),
    }),
    "dashboard": Field(dict, doc="dashboard pages", children={
        "silent_hours": Field(int, 48, "an active host quiet this long shows as silent"),
        "page_size": Field(int, 50, "rows per page in the host list"),
        "timezone": Field((str, type(None)), None,
                          "IANA zone dates are shown in, e.g. Asia/Shanghai (default: "
                          "Asia/Shanghai when language is zh-CN, else UTC)"),
        "trend_weeks": Field(int, 12, "weeks shown in the overview's trend charts"),
    }),
    "login": Field(dict, doc="sign-in protection (lockout after 5 failures is per account)",
                   children={
        "max_failures_per_ip": Field(int, 20, "failed sign-ins from one address before "
                                              "it is refused (429)"),
        "window_minutes": Field(int, 15, "how long failed sign-ins count"),
    }),
    "report": Field(dict, doc="the self-inspection report (自查报告)", children={
        "unit": Field(str, "", "the reporting unit's name printed in the title"),
        "addressee": Field(str, "", "the addressee (主送), e.g. the supervising unit"),
        "organisation": Field(str, "", "how the inspection was organised (section 一), "
                                       "the draft's starting text"),
        "timezone": Field((str, type(None)), None,
                          "IANA zone of the periods' midnights (default: "
                          "dashboard.timezone)"),
        "basis": Field(str, "", "the rules the inspection follows (依据), printed in "
                                "the header"),
        "checklist": Field((list, type(None)), None,
                           "manual checklist items of the annex (default: physical "
                           "security, UPS, fire protection, training, media, emergency plan)"),
    }),
}


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Settings resolved against a data dir."""

    data_dir: Path
    settings: dict[str, Any]

    @property
    def database_url(self) -> str:
        """The database URL: environment, then config, then SQLite in the data dir."""
        env = os.environ.get("HOSTPATROL_DATABASE_URL")
        if env:
            return env
        return self.settings["database_url"] or f"sqlite:///{self.data_dir / 'hostpatrol.db'}"

    @property
    def bind(self) -> str:
        """HOST:PORT to listen on."""
        return self.settings["bind"]

    @property
    def public_url(self) -> str:
        """The URL printed in join lines."""
        return self.settings["public_url"] or f"https://{self.bind}"

    @property
    def tls_cert(self) -> Path:
        """Path of the TLS certificate."""
        return self.data_dir / self.settings["tls"]["cert"]

    @property
    def tls_key(self) -> Path:
        """Path of the TLS private key."""
        return self.data_dir / self.settings["tls"]["key"]

    @property
    def signing_key(self) -> Path:
        """Path of the collector's Ed25519 signing key."""
        return self.data_dir / "keys" / "collector.key"

    @property
    def secret_key_file(self) -> Path:
        """Path of the Flask session secret."""
        return self.data_dir / "keys" / "session.secret"

    @property
    def ingest(self) -> dict[str, int]:
        """Ingest limits."""
        return self.settings["ingest"]


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """Data dir from the flag, then HOSTPATROL_DATA_DIR, then /var/lib/hostpatrol-collector."""
    chosen = data_dir or os.environ.get("HOSTPATROL_DATA_DIR") or "/var/lib/hostpatrol-collector"
    return Path(chosen).absolute()


def load_config(data_dir: Path, config_path: Path | None = None) -> CollectorConfig:
    """Load ``collector.yaml`` from the data dir (or ``config_path``)."""
    path = config_path or data_dir / CONFIG_NAME
    if not path.exists():
        msg = (f"{path}: no collector config; run `hostpatrol-collector init --data-dir "
               f"{data_dir}` first")
        raise ConfigError(msg)
    settings = load(path, SPEC)
    dashboard, report = settings["dashboard"], settings["report"]
    dashboard["timezone"] = _zone(dashboard["timezone"], "dashboard.timezone", path) or \
        ZONE_OF_LANGUAGE.get(settings["language"], "UTC")
    report["timezone"] = _zone(report["timezone"], "report.timezone", path) or \
        dashboard["timezone"]
    return CollectorConfig(data_dir=data_dir, settings=settings)


def _zone(name: str | None, key: str, path: Path) -> str | None:
    """``name`` when it is a time zone Python knows; else a ConfigError with the line."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        line = load_yaml(path)[1].get(key)
        msg = (f"{path}{f':{line}' if line else ''}: {key}: unknown time zone {name!r} "
               "(an IANA name such as Asia/Shanghai or UTC)")
        raise ConfigError(msg) from e
    return name
