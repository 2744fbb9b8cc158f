"""The application factory: the packages, lowest layer first, each one initialised through its `init_app`."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

from config import Config, check_production_settings, config_from_env

# Layer order (see pyproject.toml's import-linter contract): a package may listen to, and register links
# on, the ones above it. Each one's init_app registers all it brings: blueprints, CLI, signal listeners,
# periodic jobs, menu items, panels. Listeners of one signal run in this order.
PACKAGES = (
    "app.foundation",
    "app.i18n",
    "app.auth",
    "app.audit",
    "app.crm",
    "app.messaging",
    "app.codebook",
    "app.money",
    "app.organisation",
    "app.api",
    "app.dashboard",
    "app.health",
    "surveys",
    "campaigns",
    "campaigns.calls",
    "app.coding",
    "app.pipeline",
    "app.reports",
    "app.demo",
)


class Winback(Flask):
    """Flask, deciding once per function whether a hook or view is a coroutine: Flask asks
    `inspect.iscoroutinefunction` of every before-request, after-request and teardown hook, and of the view,
    on every request (about ten times each), a tenth of a bare page's server time."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sync_callables: dict = {}

    def ensure_sync(self, func):
        try:
            return self._sync_callables[func]
        except KeyError:
            made = self._sync_callables[func] = super().ensure_sync(func)
            return made
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)


def create_app(config: Config | type[Config] | dict | None = None) -> Flask:
    app = Winback(__name__, instance_path=None)
    _load_config(app, config)
    for package in PACKAGES:
        import_module(package).init_app(app)
    return app


def _load_config(app: Flask, config: Config | type[Config] | dict | None) -> None:
    if config is None:
        config = config_from_env()
    if isinstance(config, dict):
        base = config_from_env()
        app.config.from_object(base)
        app.config.update(config)
    else:
        app.config.from_object(config() if isinstance(config, type) else config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set")
    if app.config.get("ENV_NAME") == "production":
        check_production_settings(app.config)
