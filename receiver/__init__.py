"""The receiver: a small Flask app that takes pulpcore's daily analytics and stores them.

``create_app`` is the only entry point; see ``receiver.config`` for the settings it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from receiver.config import ConfigError, Settings, load_settings
from receiver.contract import MAX_BODY_BYTES
from receiver.identity import IdKey, load_id_key
from receiver.store import Store, open_store, redact

__all__ = ["ConfigError", "Receiver", "create_app", "instance_path"]


class Receiver:
    """What the views need: the settings, the ID key and the store. Kept in
    ``app.extensions``."""

    def __init__(self, settings: Settings, instance: Path) -> None:
        self.settings = settings
        self.id_key: IdKey = load_id_key(settings, instance)
        self.store: Store = open_store(settings.database, settings.synchronous)

    def init_app(self, app: Flask) -> None:
        app.extensions["analytics"] = self
        self.store.migrate(self.settings.clock().date(), self.id_key.hash)


def instance_path() -> Path:
    """Flask's instance folder for the receiver, where its database goes by default."""
    return Path(Flask(__name__, instance_relative_config=True).instance_path)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the receiver app; ``config`` overrides ``ANALYTICS_*`` variables and defaults."""
    from receiver import export, views

    app = Flask(__name__, instance_relative_config=True)
    settings = load_settings(config, Path(app.instance_path))
    app.config.from_mapping(
        {k: v for k, v in (config or {}).items() if k.isupper()},
        DATABASE=redact(settings.database),  # a URL's password never reaches the config
        DEPLOYMENT=settings.deployment,
        COLLECT_DEV_SYSTEMS=settings.collect_dev_systems,
        RETENTION_DAYS=settings.retention_days,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES + 1,  # one byte more tells a chunked body is too big
    )
    Receiver(settings, Path(app.instance_path)).init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(export.bp)
    views.register_error_handlers(app)
    return app
