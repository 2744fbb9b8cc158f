"""How messages leave: SMTP and Twilio, or the development sinks (.eml files, the log) without settings."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol

from app.messaging.models import OutboundMessage

log = logging.getLogger("winback.messaging")

# Twilio errors after which trying again cannot help.
TWILIO_INVALID_NUMBER = 21211
TWILIO_UNSUBSCRIBED = 21610
TWILIO_PERMANENT_CODES = frozenset({21211, 21214, 21408, 21610, 21612, 21614})
TWILIO_STATUS_CALLBACK_PATH = "/twilio/sms/status"


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None
    provider_status: str = "accepted"


class DeliveryError(Exception):
    """The provider refused the message; permanent errors are never retried."""

    def __init__(
        self, message: str, *, code: str | None = None, permanent: bool = False, opt_out: bool = False
    ):
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.opt_out = opt_out  # the recipient told the provider to stop (Twilio 21610)


class Transport(Protocol):
    simulated: bool

    def send(self, message: OutboundMessage) -> SendResult: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------- email


def message_id_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "winback.invalid"


def message_id_for(message_id: int, mail_from: str) -> str:
    """The Message-ID of outbox row `message_id`: fixed by the row, so it is known (and recorded as the
    provider id when the worker claims the row) before the email is sent. Keep in step with
    worker._claimed_message_id, which computes the same value in SQL."""
    return f"<outbox-{message_id}@{message_id_domain(mail_from)}>"


def header_safe(value: str) -> str:
    """One line: a line break in a merge value (a CRM name with `\\r\\nBcc: ...`) never starts a header."""
    lines = value.splitlines()
    if len(lines) == 1 and lines[0] == value:
        return value
    return " ".join(line.strip() for line in lines if line.strip())


def _header(value: str) -> str | Header:
    value = header_safe(value)
    return value if value.isascii() else Header(value, "utf-8")


def _address_header(value: Any) -> str | None:
    """ "Name <address>" as a header value (the name encoded when it is not ASCII); None when absent."""
    if not isinstance(value, str) or not value.strip():
        return None
    name, address = parseaddr(" ".join(value.split()))
    if not address or "@" not in address:
        return None
    return formataddr((name, address), charset="utf-8")


def build_email(message: OutboundMessage, *, mail_from: str, now: datetime | None = None) -> Message:
    """The email for an outbox row: text (and HTML) parts and the RFC 8058 one-click unsubscribe headers.

    Built with the compat32 MIME classes: the header parsing of EmailMessage costs more than the send.
    """
    meta: Mapping[str, Any] = message.meta or {}
    text = MIMEText(message.body_text, "plain", "utf-8")
    if message.body_html:
        email: Message = MIMEMultipart("alternative")
        email.attach(text)
        email.attach(MIMEText(message.body_html, "html", "utf-8"))
    else:
        email = text
    # A campaign's own sender and Reply-To (checked when saved); line breaks never reach a header.
    email["From"] = _address_header(meta.get("from")) or _header(mail_from)
    email["To"] = _header(message.recipient)
    reply_to = _address_header(meta.get("reply_to"))
    if reply_to:
        email["Reply-To"] = reply_to
    email["Subject"] = _header(message.subject or "")
    email["Date"] = formatdate(now.timestamp() if now else None, usegmt=True)
    # The worker recorded it as the provider id when it claimed the row; otherwise derive it the same way.
    email["Message-ID"] = header_safe(message.provider_id or message_id_for(message.id, mail_from))
    unsubscribe = [f"<{meta['unsubscribe_url']}>"] if meta.get("unsubscribe_url") else []
    if meta.get("unsubscribe_mailto"):
        unsubscribe.append(f"<mailto:{meta['unsubscribe_mailto']}>")
    if unsubscribe:
        email["List-Unsubscribe"] = header_safe(", ".join(unsubscribe))
        if meta.get("unsubscribe_url"):  # RFC 8058: one POST to the URL unsubscribes, no page needed
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email


def _unbuildable(error: Exception) -> DeliveryError:
    return DeliveryError(
        f"The email could not be built: {type(error).__name__}: {error}", code="unbuildable", permanent=True
    )


def _build_or_fail(message: OutboundMessage, *, mail_from: str) -> Message:
    """build_email, with a message that cannot be built failing alone (permanently, its reason kept)."""
    try:
        return build_email(message, mail_from=mail_from)
    except (ValueError, TypeError, MessageError) as error:
        raise _unbuildable(error) from None


class SmtpTransport:
    """One SMTP connection kept open across messages; reconnects when the server hangs up."""

    simulated = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        mail_from: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 30,
    ) -> None:
        self.host, self.port = host, port
        self.mail_from = mail_from
        self.username, self.password = username, password
        self.starttls, self.use_ssl = starttls, use_ssl
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def send(self, message: OutboundMessage) -> SendResult:
        email = _build_or_fail(message, mail_from=self.mail_from)
        envelope_from = parseaddr(self.mail_from)[1]
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(email, from_addr=envelope_from, to_addrs=[message.recipient])
                return SendResult(provider_id=email["Message-ID"], provider_status="accepted")
            except (ValueError, MessageError) as error:  # raised while flattening, before any DATA
                raise _unbuildable(error) from None
            except smtplib.SMTPServerDisconnected as error:
                self._smtp = None
                if attempt == 2:
                    raise DeliveryError(
                        f"SMTP server disconnected: {error}", code="smtp_disconnected"
                    ) from None
            except smtplib.SMTPRecipientsRefused as error:
                code, text = next(iter(error.recipients.values()))
                raise DeliveryError(
                    f"Recipient refused: {code} {_text(text)}",
                    code=f"smtp_{code}",
                    permanent=500 <= code < 600,
                ) from None
            except smtplib.SMTPResponseException as error:
                self._reset()
                raise DeliveryError(
                    f"SMTP error: {error.smtp_code} {_text(error.smtp_error)}",
                    code=f"smtp_{error.smtp_code}",
                    permanent=500 <= error.smtp_code < 600 and error.smtp_code not in (530, 535, 554),
                ) from None
            except (OSError, smtplib.SMTPException) as error:
                self._reset()
                raise DeliveryError(f"SMTP connection failed: {error}", code="smtp_connection") from None
        raise AssertionError("unreachable")

    def _reset(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class FileEmailTransport:
    """Development: each email becomes an .eml file under instance/mail/, nothing leaves the machine."""

    simulated = True

    def __init__(self, directory: str | Path, *, mail_from: str) -> None:
        self.directory = Path(directory)
        self.mail_from = mail_from

    def send(self, message: OutboundMessage) -> SendResult:
        self.directory.mkdir(parents=True, exist_ok=True)
        email = _build_or_fail(message, mail_from=self.mail_from)
        path = self.directory / f"outbox-{message.id:08d}.eml"
        try:
            content = email.as_bytes()
        except (ValueError, MessageError) as error:
            raise _unbuildable(error) from None
        path.write_bytes(content)
        log.info("email %s to %s written to %s (no SMTP_HOST set)", message.id, message.recipient, path)
        return SendResult(provider_id=email["Message-ID"], provider_status="written")

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------------ SMS


class TwilioSmsTransport:
    """SMS through the real twilio library; pass http_client to replace its HTTP transport (tests)."""

    simulated = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        http_client: Any = None,
        timeout: float = 30,
    ) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not from_number and not messaging_service_sid:
            raise ValueError("Twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
        # The library's own client waits for ever by default: a stalled request would outlive the claim.
        http_client = http_client or TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def send(self, message: OutboundMessage) -> SendResult:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        fields: dict[str, Any] = {"to": message.recipient, "body": message.body_text}
        if self.messaging_service_sid:
            fields["messaging_service_sid"] = self.messaging_service_sid
        else:
            fields["from_"] = self.from_number
        if self.status_callback:
            fields["status_callback"] = self.status_callback
        try:
            created = self.client.messages.create(**fields)
        except TwilioRestException as error:
            code = error.code
            permanent = code in TWILIO_PERMANENT_CODES or (400 <= error.status < 500 and error.status != 429)
            raise DeliveryError(
                f"Twilio error {code}: {error.msg}",
                code=f"twilio_{code}" if code else f"http_{error.status}",
                permanent=permanent,
                opt_out=code == TWILIO_UNSUBSCRIBED,
            ) from None
        except TwilioException as error:
            raise DeliveryError(f"Twilio request failed: {error}", code="twilio_connection") from None
        return SendResult(provider_id=created.sid, provider_status=created.status or "queued")

    def find_accepted(self, message: OutboundMessage, *, since: datetime) -> SendResult | None:
        """Ask Twilio whether it already took this message (a worker died before recording the SID)."""
        if message.provider_id:
            fetched = self.client.messages(message.provider_id).fetch()
            return SendResult(provider_id=fetched.sid, provider_status=fetched.status)
        for candidate in self.client.messages.list(to=message.recipient, date_sent_after=since, limit=50):
            if (candidate.body or "").strip() == message.body_text.strip():
                return SendResult(provider_id=candidate.sid, provider_status=candidate.status)
        return None

    def close(self) -> None:
        pass


class LogSmsTransport:
    """Development: SMS go to the log, nothing leaves the machine."""

    simulated = True

    def send(self, message: OutboundMessage) -> SendResult:
        log.info("SMS %s to %s (no Twilio settings): %s", message.id, message.recipient, message.body_text)
        return SendResult(provider_id=f"log-{message.id}", provider_status="logged")

    def find_accepted(self, message: OutboundMessage, *, since: datetime) -> SendResult | None:
        return SendResult(provider_id=f"log-{message.id}", provider_status="logged")

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------ selection


@dataclass
class Transports:
    email: Transport
    sms: Transport
    webhook: Transport | None = None

    def close(self) -> None:
        self.email.close()
        self.sms.close()
        if self.webhook is not None:
            self.webhook.close()


# -------------------------------------------------------------------------------------------- webhook


def _refuse_redirects():
    """A urllib handler that follows no redirect, so that a 3xx answer surfaces as an HTTPError.

    urllib would follow a 301/302/303 as a GET without the body and report the 200 it got there:
    the message would be marked sent although the receiver never saw it.
    """
    import urllib.request

    class RefuseRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None

    return RefuseRedirects()


class WebhookTransport:
    """POST a message's body (JSON) to its recipient URL with the headers queued in its meta.

    The sender signs the body when it queues the message (the secret never sits in the outbox). A 4xx
    answer is permanent (the receiver refused this message: retrying cannot help); a 5xx answer or a
    network error is retried with the outbox's backoff. A redirect (3xx) is not followed, neither as
    the GET urllib would turn it into nor as a second POST to an address nobody configured: it is a
    failure that is retried, and its message names where the receiver pointed, so that an admin can set
    the webhook address to it.
    """

    simulated = False

    def __init__(self, *, timeout: float = 10.0) -> None:
        import urllib.request

        self.timeout = timeout
        self.opener = urllib.request.build_opener(_refuse_redirects())

    def send(self, message: OutboundMessage) -> SendResult:
        import urllib.error
        import urllib.request

        url = message.recipient
        if not url.startswith(("https://", "http://")):
            raise DeliveryError(f"Not a web address: {url[:80]}", code="bad_url", permanent=True)
        headers = {"Content-Type": "application/json", "User-Agent": "Winback-Webhook/1"}
        headers.update({str(k): str(v) for k, v in ((message.meta or {}).get("headers") or {}).items()})
        request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
            url, data=message.body_text.encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return SendResult(provider_id=f"http-{response.status}", provider_status=str(response.status))
        except urllib.error.HTTPError as error:
            status = error.code
            location = (error.headers.get("Location") or "")[:200] if error.headers else ""
            error.close()
            message = f"The receiver answered HTTP {status}"
            if 300 <= status < 400:
                message += f", a redirect to {location or 'an address it did not give'} (not followed)"
            raise DeliveryError(message, code=f"http_{status}", permanent=400 <= status < 500) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(f"The receiver could not be reached: {reason}", code="unreachable") from None

    def close(self) -> None:
        pass


def email_is_simulated(config: Mapping[str, Any]) -> bool:
    return not config.get("SMTP_HOST")


def sms_is_simulated(config: Mapping[str, Any]) -> bool:
    return not (
        config.get("TWILIO_ACCOUNT_SID")
        and config.get("TWILIO_AUTH_TOKEN")
        and (config.get("TWILIO_FROM") or config.get("TWILIO_MESSAGING_SERVICE_SID"))
    )


def status_callback_url(config: Mapping[str, Any]) -> str:
    return config["PUBLIC_BASE_URL"].rstrip("/") + TWILIO_STATUS_CALLBACK_PATH


def send_timeout(config: Mapping[str, Any]) -> float:
    """Seconds one SMTP or Twilio call may take: the setting, capped well under the outbox's stale limit.

    A worker renews its claim before each send and stops a batch at half the stale limit, so a send
    that cannot outlast a quarter of it never runs while another worker takes its row back.
    """
    stale = float(config.get("OUTBOX_STALE_SECONDS") or 600)
    return min(float(config.get("OUTBOX_SEND_TIMEOUT_SECONDS") or 30), stale / 4)


def transports_from_config(config: Mapping[str, Any], *, twilio_http_client: Any = None) -> Transports:
    """SMTP and Twilio when configured; otherwise the development sinks."""
    mail_from = config["MAIL_FROM"]
    timeout = send_timeout(config)
    if email_is_simulated(config):
        email: Transport = FileEmailTransport(Path(config["INSTANCE_DIR"]) / "mail", mail_from=mail_from)
    else:
        email = SmtpTransport(
            config["SMTP_HOST"],
            int(config["SMTP_PORT"]),
            mail_from=mail_from,
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
            starttls=bool(config.get("SMTP_STARTTLS")),
            use_ssl=bool(config.get("SMTP_SSL")),
            timeout=timeout,
        )
    if sms_is_simulated(config):
        sms: Transport = LogSmsTransport()
    else:
        sms = TwilioSmsTransport(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            from_number=config.get("TWILIO_FROM"),
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID"),
            status_callback=status_callback_url(config),
            http_client=twilio_http_client,
            timeout=timeout,
        )
    return Transports(email=email, sms=sms, webhook=WebhookTransport(timeout=timeout))
