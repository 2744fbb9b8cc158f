"""Code that looks unused to vulture but is called from outside its view: each name with its caller."""

# ruff: noqa: B018 (names listed for vulture, never evaluated for anything)
from http.server import BaseHTTPRequestHandler
from urllib.request import HTTPRedirectHandler

from app.auth.models import User
from app.db_types import UTCDateTime
from app.ratelimit import InlineExpiryMemoryStorage
from app.sessions import CachedSerializerSessionInterface
from campaigns.models import Campaign
from tests.messaging.conftest import SmtpSink

User.get_id  # Flask-Login reads the id of the signed-in user
UTCDateTime.process_bind_param  # SQLAlchemy's TypeDecorator protocol
UTCDateTime.process_result_value
CachedSerializerSessionInterface.open_session  # Flask's SessionInterface protocol, called per request
InlineExpiryMemoryStorage.base_exceptions  # the `limits` storage protocol
InlineExpiryMemoryStorage.check
InlineExpiryMemoryStorage.reset
Campaign.resume  # called by name: getattr(campaign, action) in campaigns/service.py
SmtpSink.handle_RCPT  # aiosmtpd's handler protocol
HTTPRedirectHandler.redirect_request  # urllib's protocol (the webhook transport's handler overrides it)
BaseHTTPRequestHandler.do_POST  # http.server calls do_<METHOD> and log_message (the tests' own handlers)
BaseHTTPRequestHandler.do_GET
BaseHTTPRequestHandler.log_message
