"""Code that looks unused to vulture but is called from outside its view: each name with its caller."""

# ruff: noqa: B018 (names listed for vulture, never evaluated for anything)
from http.server import BaseHTTPRequestHandler
from urllib.request import HTTPRedirectHandler

from app.auth.models import User
from app.codebook.service import require_code
from app.coding.service import require_answer
from app.db_types import UTCDateTime
from app.messaging.models import OutboundMessage
from app.ratelimit import InlineExpiryMemoryStorage
from campaigns.calls.dialing import count_for_number
from campaigns.calls.hours import contact_is_callable
from campaigns.calls.queue import held_task
from campaigns.models import Campaign
from tests.messaging.conftest import SmtpSink

User.get_id  # Flask-Login reads the id of the signed-in user
UTCDateTime.process_bind_param  # SQLAlchemy's TypeDecorator protocol
UTCDateTime.process_result_value
InlineExpiryMemoryStorage.base_exceptions  # the `limits` storage protocol
InlineExpiryMemoryStorage.check
InlineExpiryMemoryStorage.reset
Campaign.resume  # called by name: getattr(campaign, action) in campaigns/service.py
SmtpSink.handle_RCPT  # aiosmtpd's handler protocol
HTTPRedirectHandler.redirect_request  # urllib's protocol (the webhook transport's handler overrides it)
BaseHTTPRequestHandler.do_POST  # http.server calls do_<METHOD> and log_message (the tests' own handlers)
BaseHTTPRequestHandler.do_GET
BaseHTTPRequestHandler.log_message

# Unused today, taken out or put to use by the work on issue #23 (items 3 and 6); drop each line then.
User.has_role
require_code
require_answer
OutboundMessage.mark_sent
count_for_number
contact_is_callable
held_task
