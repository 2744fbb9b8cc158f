"""Configuration classes; every setting comes from an environment variable with a safe default."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("WINBACK_INSTANCE_DIR", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _sqlite_default() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'winback.sqlite3'}"


def _development_secret_key() -> str:
    """Generate a key once and keep it in instance/, so sessions survive restarts."""
    key_file = INSTANCE_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _country_languages(raw: str) -> dict[str, str]:
    """ "BE=fr,CH=fr" → {"BE": "fr", "CH": "fr"} (blank pairs ignored)."""
    pairs = (part.split("=", 1) for part in raw.split(",") if "=" in part)
    return {country.strip().upper(): language.strip().lower() for country, language in pairs}


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_default()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # SQLite: how long a write waits for the single write lock before "database is locked".
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 10_000)
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # How passwords are hashed (werkzeug's method string); not read from the environment, so a deployment
    # cannot weaken it by mistake. Existing hashes keep verifying whatever this says.
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 (a method name, not a password)
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # a token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_MB", 512) * 1024 * 1024

    # Rate limiting: in-process memory by default, Redis (redis://127.0.0.1:6379/0) with several workers.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "winback-memory://")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    # Per account at one address; an office behind one address has the looser per-address limit.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "300 per minute;3000 per hour")
    # Per account (email), wherever the attempts come from: free failures, then a doubling lock.
    LOGIN_ACCOUNT_FREE_ATTEMPTS = _env_int("LOGIN_ACCOUNT_FREE_ATTEMPTS", 5)
    LOGIN_ACCOUNT_MAX_LOCK_SECONDS = _env_int("LOGIN_ACCOUNT_MAX_LOCK_SECONDS", 900)
    # Proxies in front of the app that set X-Forwarded-For/-Proto/-Host (0: trust none of them).
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute")

    # Public address, used in links sent to customers and to check Twilio signatures behind a proxy.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")

    # Email (SMTP). With no SMTP_HOST, development writes .eml files under instance/mail/.
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = _env_int("SMTP_PORT", 587)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
    SMTP_SSL = _env_bool("SMTP_SSL", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "Winback <winback@localhost>")

    # Twilio (SMS and voice). With no credentials, development logs SMS instead of sending them.
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN")
    TWILIO_FROM = os.environ.get("TWILIO_FROM")
    TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID")
    # Browser calling (Twilio Voice JavaScript SDK): an API key to sign Access Tokens, and the TwiML App
    # whose voice URL is PUBLIC_BASE_URL/twilio/voice/client. Tokens live this many seconds.
    TWILIO_API_KEY_SID = os.environ.get("TWILIO_API_KEY_SID")
    TWILIO_API_KEY_SECRET = os.environ.get("TWILIO_API_KEY_SECRET")
    TWILIO_TWIML_APP_SID = os.environ.get("TWILIO_TWIML_APP_SID")
    TWILIO_VOICE_TOKEN_TTL = _env_int("TWILIO_VOICE_TOKEN_TTL", 600)

    # Outbox delivery by `flask worker`.
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 6)
    OUTBOX_BACKOFF_SECONDS = _env_int("OUTBOX_BACKOFF_SECONDS", 60)
    OUTBOX_STALE_SECONDS = _env_int("OUTBOX_STALE_SECONDS", 600)
    # Network timeout of one SMTP or Twilio call; never more than a quarter of OUTBOX_STALE_SECONDS.
    OUTBOX_SEND_TIMEOUT_SECONDS = _env_int("OUTBOX_SEND_TIMEOUT_SECONDS", 30)

    # Languages (app/i18n): the organisation's own (its surveys are written in it; the last fallback), and
    # per-country defaults over the built-in table for contacts whose CRM gives no language, "BE=fr,CH=fr".
    DEFAULT_LANGUAGE = os.environ.get("DEFAULT_LANGUAGE", "en")
    COUNTRY_LANGUAGES = _country_languages(os.environ.get("COUNTRY_LANGUAGES", ""))

    # Campaigns and surveys.
    ENROLLMENT_INTERVAL_SECONDS = _env_int("ENROLLMENT_INTERVAL_SECONDS", 300)
    SURVEY_RESPONSE_DEADLINE_DAYS = _env_int("SURVEY_RESPONSE_DEADLINE_DAYS", 14)
    # Coding: the worker retrains the suggestion model after this many new confirmed codings (checked
    # every CODING_RETRAIN_CHECK_SECONDS); auto-accept is allowed only for codes measured this precise.
    CODING_RETRAIN_EVERY = _env_int("CODING_RETRAIN_EVERY", 50)
    CODING_RETRAIN_CHECK_SECONDS = _env_int("CODING_RETRAIN_CHECK_SECONDS", 300)
    CODING_AUTO_ACCEPT_MIN_PRECISION = float(os.environ.get("CODING_AUTO_ACCEPT_MIN_PRECISION", "0.9"))
    # The model suggests a code only above the threshold its held-out suggestions reach this precision at.
    CODING_TARGET_PRECISION = float(os.environ.get("CODING_TARGET_PRECISION", "0.8"))
    SURVEY_IP_RATE_LIMIT = os.environ.get("SURVEY_IP_RATE_LIMIT", "120 per minute")
    SURVEY_TOKEN_RATE_LIMIT = os.environ.get("SURVEY_TOKEN_RATE_LIMIT", "60 per minute")

    # The call queue.
    CALL_LEASE_SECONDS = _env_int("CALL_LEASE_SECONDS", 900)
    CALL_FILL_INTERVAL_SECONDS = _env_int("CALL_FILL_INTERVAL_SECONDS", 300)
    CALLS_MAX_PER_NUMBER_24H = _env_int("CALLS_MAX_PER_NUMBER_24H", 5)
    CALL_SCOPE_CACHE_SECONDS = _env_int("CALL_SCOPE_CACHE_SECONDS", 10)
    CALL_WINDOW_END_MARGIN_MINUTES = _env_int("CALL_WINDOW_END_MARGIN_MINUTES", 5)
    CALL_MIN_CONTACT_SPACING_MINUTES = _env_int("CALL_MIN_CONTACT_SPACING_MINUTES", 60)
    # Number health: a number that failed (no answer, busy, failed) on this many separate days is held
    # this many days, in every campaign.
    CALL_NUMBER_FAILED_DAYS = _env_int("CALL_NUMBER_FAILED_DAYS", 3)
    CALL_NUMBER_HOLD_DAYS = _env_int("CALL_NUMBER_HOLD_DAYS", 30)

    # Import defaults.
    # Dry runs and imports started from the pages are jobs for `flask worker`: how often it looks for
    # them, how long a running one may go without a heartbeat before it is marked failed, and how long
    # uploaded files are kept.
    IMPORT_POLL_SECONDS = _env_int("IMPORT_POLL_SECONDS", 2)
    IMPORT_STALE_SECONDS = _env_int("IMPORT_STALE_SECONDS", 300)
    IMPORT_UPLOAD_RETENTION_DAYS = _env_int("IMPORT_UPLOAD_RETENTION_DAYS", 7)
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "US")
    DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "USD")

    # The live CRM sync (README, "Live CRM sync"): credentials from the environment, or the connection
    # page's, stored encrypted with CRM_SECRETS_KEY.
    CRM_SYNC_INTERVAL_SECONDS = _env_int("CRM_SYNC_INTERVAL_SECONDS", 900)
    CRM_EXPECTED_CLOSE_DAYS = _env_int("CRM_EXPECTED_CLOSE_DAYS", 30)
    CRM_SECRETS_KEY = os.environ.get("CRM_SECRETS_KEY")  # a Fernet key: the connection page's secrets
    SALESFORCE_INSTANCE_URL = os.environ.get("SALESFORCE_INSTANCE_URL")
    SALESFORCE_ACCESS_TOKEN = os.environ.get("SALESFORCE_ACCESS_TOKEN")
    SALESFORCE_USERNAME = os.environ.get("SALESFORCE_USERNAME")
    SALESFORCE_PASSWORD = os.environ.get("SALESFORCE_PASSWORD")
    SALESFORCE_SECURITY_TOKEN = os.environ.get("SALESFORCE_SECURITY_TOKEN")
    SALESFORCE_CONSUMER_KEY = os.environ.get("SALESFORCE_CONSUMER_KEY")
    SALESFORCE_PRIVATE_KEY_FILE = os.environ.get("SALESFORCE_PRIVATE_KEY_FILE")
    SALESFORCE_DOMAIN = os.environ.get("SALESFORCE_DOMAIN")
    SALESFORCE_API_VERSION = os.environ.get("SALESFORCE_API_VERSION", "62.0")
    SALESFORCE_EXTERNAL_ID_FIELD = os.environ.get("SALESFORCE_EXTERNAL_ID_FIELD", "Winback_ID__c")
    SALESFORCE_LOSS_REASON_FIELD = os.environ.get("SALESFORCE_LOSS_REASON_FIELD")
    SALESFORCE_CONTACT_LANGUAGE_FIELD = os.environ.get("SALESFORCE_CONTACT_LANGUAGE_FIELD")
    SALESFORCE_COMPETITOR_FIELD = os.environ.get("SALESFORCE_COMPETITOR_FIELD")
    SALESFORCE_PUSH_STAGE = os.environ.get("SALESFORCE_PUSH_STAGE", "Qualification")
    HUBSPOT_ACCESS_TOKEN = os.environ.get("HUBSPOT_ACCESS_TOKEN")
    HUBSPOT_BASE_URL = os.environ.get("HUBSPOT_BASE_URL", "https://api.hubapi.com")
    HUBSPOT_REFRESH_TOKEN = os.environ.get("HUBSPOT_REFRESH_TOKEN")
    HUBSPOT_CLIENT_ID = os.environ.get("HUBSPOT_CLIENT_ID")
    HUBSPOT_CLIENT_SECRET = os.environ.get("HUBSPOT_CLIENT_SECRET")
    HUBSPOT_EXTERNAL_ID_PROPERTY = os.environ.get("HUBSPOT_EXTERNAL_ID_PROPERTY", "winback_id")
    HUBSPOT_LOSS_REASON_PROPERTY = os.environ.get("HUBSPOT_LOSS_REASON_PROPERTY", "closed_lost_reason")
    HUBSPOT_COMPETITOR_PROPERTY = os.environ.get("HUBSPOT_COMPETITOR_PROPERTY")
    HUBSPOT_PUSH_STAGE = os.environ.get("HUBSPOT_PUSH_STAGE", "appointmentscheduled")
    HUBSPOT_PUSH_PIPELINE = os.environ.get("HUBSPOT_PUSH_PIPELINE", "default")

    INSTANCE_DIR = str(INSTANCE_DIR)


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # `flask run --debug` turns the debugger on explicitly

    def __init__(self) -> None:
        if not self.SECRET_KEY:
            self.SECRET_KEY = _development_secret_key()


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite:///:memory:"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    CALL_SCOPE_CACHE_SECONDS = 0  # tests change campaigns and clocks between claims
    # Tests hash and check passwords hundreds of times: scrypt's deliberate cost (0.1 s each) adds up.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (a method name, not a password)
    PUBLIC_BASE_URL = "http://winback.test"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")

    def __init__(self) -> None:
        check_production_settings({"SECRET_KEY": self.SECRET_KEY, "PUBLIC_BASE_URL": self.PUBLIC_BASE_URL})


MIN_SECRET_KEY_BYTES = 32
_GENERATE_KEY = '(generate one with: python -c "import secrets; print(secrets.token_hex(32))")'
# Words people put in a secret they made up; a key is refused when little is left once they are removed.
_COMMON_WORDS = (
    "password", "passwd", "secret", "secretkey", "changeme", "change", "winback", "admin", "letmein",
    "qwerty", "azerty", "example", "default", "development", "production", "staging", "testing", "test",
    "flask", "django", "key", "welcome", "monkey", "dragon", "master", "hello", "love", "abc", "123",
)  # fmt: skip
_MIN_DISTINCT_CHARACTERS = 8  # a token_hex(16) key (32 characters) has 14 or so, rarely fewer than 10


def secret_key_weakness(key: str) -> str | None:
    """Why this SECRET_KEY is guessable (repeated characters, dictionary words), or None."""
    if len(set(key)) < _MIN_DISTINCT_CHARACTERS or key in (key + key)[1:-1]:
        return "it repeats a few characters"
    remainder = key.lower()
    for word in sorted(_COMMON_WORDS, key=len, reverse=True):
        remainder = remainder.replace(word, "")
    if len(remainder) < 16 or re.fullmatch(r"[a-z\s_.-]+", key):
        return "it is made of dictionary words"
    return None


def _is_this_machine(host: str) -> bool:
    """Loopback or unspecified however it is spelt: 127.1, 0x7f000001, 2130706433, 0, [::ffff:127.0.0.1]."""
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the legacy IPv4 forms every resolver still accepts (hex, octal, a single number)
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    mapped = getattr(address, "ipv4_mapped", None)
    return any(a is not None and (a.is_loopback or a.is_unspecified) for a in (address, mapped))


def check_production_settings(settings) -> None:
    """Refuse to run production with a guessable secret or customer links that point at localhost."""
    key = settings.get("SECRET_KEY") or ""
    if not key:
        raise RuntimeError(f"SECRET_KEY is not set: production refuses to start without one {_GENERATE_KEY}")
    if len(key.encode() if isinstance(key, str) else key) < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(
            f"SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes: production refuses to start with it "
            f"{_GENERATE_KEY}"
        )
    weakness = secret_key_weakness(key if isinstance(key, str) else key.decode("utf-8", "replace"))
    if weakness:
        raise RuntimeError(
            f"SECRET_KEY is guessable ({weakness}): production refuses to start with it {_GENERATE_KEY}"
        )
    base_url = (settings.get("PUBLIC_BASE_URL") or "").strip()
    host = (urlsplit(base_url).hostname or "").lower() if base_url else ""
    if _is_this_machine(host):
        raise RuntimeError(
            "PUBLIC_BASE_URL is unset or points at this machine "
            f"({base_url or 'unset'}): every link sent to customers would point there and Twilio "
            "signatures would fail. Set it to the public address, e.g. https://winback.example.com"
        )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> Config:
    """Pick the config class named by WINBACK_ENV (development by default)."""
    name = os.environ.get("WINBACK_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"WINBACK_ENV={name!r} is not one of {sorted(CONFIGS)}") from None
