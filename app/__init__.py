"""The application factory: the only place that knows every package."""

from __future__ import annotations

from flask import Flask

from config import Config, check_production_settings, config_from_env


def create_app(config: Config | type[Config] | dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=None)
    _load_config(app, config)
    _import_models()
    _init_extensions(app)
    _install_input_guards(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_periodic_jobs(app)

    from app.errorhandlers import register_error_handlers
    from app.templating import register_template_helpers

    register_error_handlers(app)
    register_template_helpers(app)
    _install_security(app)
    return app


def _install_input_guards(app: Flask) -> None:
    """Before the blueprints, so every `<int:...>` route is bounded."""
    from app.security import install_input_guards

    install_input_guards(app)


def _install_security(app: Flask) -> None:
    """Response headers on every page, and X-Forwarded-* trusted only from the configured proxies."""
    from app.security import install_security_headers, trust_proxies

    install_security_headers(app)
    trust_proxies(app)


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


def _import_models() -> None:
    """Every model module, so the metadata (and Alembic) sees every table."""
    import app.api.models
    import app.audit.models
    import app.auth.models
    import app.codebook.models
    import app.coding.models
    import app.crm.importing.models
    import app.crm.models
    import app.messaging.models
    import app.money.models
    import app.organisation.models
    import app.pipeline.models  # noqa: F401
    import app.reports.models  # noqa: F401
    import campaigns.calls.models  # noqa: F401
    import campaigns.models  # noqa: F401
    import surveys.models  # noqa: F401


def _init_extensions(app: Flask) -> None:
    from app import database, ratelimit  # noqa: F401 (ratelimit registers winback-memory:// first)
    from app.auth.guard import refuse_undeclared_routes
    from app.auth.models import User
    from app.auth.service import user_for_session
    from app.extensions import csrf, db, limiter, login_manager, migrate

    database.engine_options_for_backend(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_project_dir() / "migrations"))
    limiter.init_app(app)  # before CSRF, so requests refused for a bad token still count
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        return user_for_session(session_id)

    database.configure_sqlite(app)
    app.before_request(refuse_undeclared_routes)


def _register_blueprints(app: Flask) -> None:
    import campaigns
    import campaigns.calls
    import surveys.public
    import surveys.views
    from app import auth, coding, crm, dashboard, health, messaging, money, organisation, pipeline, reports
    from app.api.views import bp as api_bp
    from app.codebook.views import bp as codebook_bp
    from app.crm.importing.views import bp as imports_bp
    from app.messaging.worker import install_dev_worker_thread

    blueprints = (
        auth.bp,
        crm.bp,
        dashboard.bp,
        health.bp,
        messaging.bp,
        organisation.bp,
        money.bp,
        surveys.views.bp,
        surveys.public.bp,
        campaigns.bp,
        campaigns.calls.bp,
        api_bp,
        imports_bp,
        codebook_bp,
        coding.bp,
        pipeline.bp,
        pipeline.api_bp,
        reports.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    campaigns.connect_signals()
    _register_hooks(app)
    coding.init_app(app)  # signals, the opportunity page's reasons, the retraining job
    pipeline.init_app(app)  # signals (responses, imports), deferrals coming back, recycled links
    reports.init_app(app)  # the role homes' panels, the targets' early warning
    install_dev_worker_thread(app)


def _register_hooks(app: Flask) -> None:
    """Answers the core asks of higher layers (the core never imports them)."""
    from app.crm.importing import campaign_matches
    from campaigns import import_matches

    app.extensions[campaign_matches.PROVIDER] = import_matches.PROVIDER


def _register_cli(app: Flask) -> None:
    from app.api.cli import api_tokens_cli
    from app.auth.cli import users_cli
    from app.codebook.cli import codebook_cli
    from app.coding.cli import coding_cli
    from app.crm.cli import crm_cli
    from app.demo.cli import demo_cli
    from app.messaging.cli import worker_command
    from app.pipeline.cli import pipeline_cli
    from campaigns.calls.cli import calls_cli
    from campaigns.cli import campaigns_cli
    from surveys.cli import surveys_cli

    for group in (
        users_cli,
        demo_cli,
        crm_cli,
        api_tokens_cli,
        worker_command,
        surveys_cli,
        campaigns_cli,
        codebook_cli,
        coding_cli,
        calls_cli,
        pipeline_cli,
    ):
        app.cli.add_command(group)


def _register_periodic_jobs(app: Flask) -> None:
    """Scheduled work the outbox worker runs besides delivery (enrollment, reminders, deadlines)."""
    from pathlib import Path

    from app.crm.importing.jobs import delete_old_uploads, run_import_jobs
    from app.database import commit_checkpoint
    from app.db_types import utcnow
    from app.jobs import register_periodic_job
    from campaigns.calls.queue import fill_queue
    from campaigns.enrollment import run_periodic_enrollment
    from surveys.invitations import close_stale_responses

    deadline_days = app.config["SURVEY_RESPONSE_DEADLINE_DAYS"]
    register_periodic_job(
        app,
        "campaigns.enroll_and_remind",
        app.config["ENROLLMENT_INTERVAL_SECONDS"],
        # Jobs commit in chunks of a few thousand rows: SQLite's one write lock is never held for long.
        lambda now: run_periodic_enrollment(now=now, checkpoint=commit_checkpoint),
    )
    # The call queue's one periodic job (fill, cancel ended enrollments, expire leases): registered here only.
    register_periodic_job(
        app, "calls.fill_queue", app.config["CALL_FILL_INTERVAL_SECONDS"], lambda now: fill_queue(now=now)
    )
    register_periodic_job(
        app,
        "surveys.close_stale_responses",
        3600,
        lambda now: close_stale_responses(now=now, after_days=deadline_days, checkpoint=commit_checkpoint),
    )
    register_periodic_job(
        app,
        "imports.run_jobs",
        app.config["IMPORT_POLL_SECONDS"],
        lambda now: run_import_jobs(config=app.config, clock=utcnow),
    )
    register_periodic_job(
        app,
        "imports.delete_old_uploads",
        3600,
        lambda now: delete_old_uploads(
            folder=Path(app.config["INSTANCE_DIR"]) / "imports",
            now=now,
            retention_days=app.config["IMPORT_UPLOAD_RETENTION_DAYS"],
        ),
    )


def _project_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent
