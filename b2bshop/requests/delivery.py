"""Hand one email to the mail server; return only once the server has accepted it.

"Accepted" means the server's 2xx reply to DATA: from then on the message is the server's
to deliver. Anything before that reply (refused, timed out, connection lost) raises, and the
job tries again. Whatever happens after it (QUIT answered late or not at all) is logged and
ignored: the message is out.

The SMTP conversation has the fault-injection crash points of tests/faults
(b2bshop/core/faults.py): `before_connect`, and `during_data`, when half of the message
has been sent after DATA.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket

from flask import current_app
from flask_mailman import EmailMessage
from flask_mailman.backends import smtp

from b2bshop.core.faults import crash_point

log = logging.getLogger(__name__)


class _ConversationHooks:
    """Mixed into smtplib.SMTP: the `during_data` crash point."""

    _in_data = False

    def connect(self, host="localhost", port=0, source_address=None):  # type: ignore[no-untyped-def]
        reply = super().connect(host, port, source_address)  # type: ignore[misc]
        # The message goes out in two writes (the crash point between them): with Nagle's
        # algorithm the second waits for the server's delayed ACK, 40 ms an email.
        with contextlib.suppress(OSError, AttributeError):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
        return reply

    def data(self, msg):  # type: ignore[no-untyped-def]
        self._in_data = True
        try:
            return super().data(msg)  # type: ignore[misc]
        finally:
            self._in_data = False

    def send(self, s):  # type: ignore[no-untyped-def]
        # Inside DATA, the command itself goes as str and the message as bytes.
        if self._in_data and isinstance(s, bytes) and len(s) > 1:
            half = len(s) // 2
            super().send(s[:half])  # type: ignore[misc]
            crash_point("during_data")
            s = s[half:]
        super().send(s)  # type: ignore[misc]


class _SMTP(_ConversationHooks, smtplib.SMTP):
    pass


class _SMTPSSL(_ConversationHooks, smtplib.SMTP_SSL):
    pass


class SMTPBackend(smtp.EmailBackend):
    """Flask-Mailman's SMTP backend (same settings), one message per conversation."""

    @property
    def connection_class(self):  # type: ignore[no-untyped-def]
        return _SMTPSSL if self.use_ssl else _SMTP

    def send_accepted(self, message: EmailMessage) -> None:
        crash_point("before_connect")
        self.open()
        try:
            if not self._send(message):
                raise ValueError("the message has no recipient")
        except BaseException:
            self._close_quietly()
            raise
        self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self.close()
        except Exception:  # QUIT after the outcome is known changes nothing
            log.info("SMTP QUIT failed", exc_info=True)
            self.connection = None


def send(message: EmailMessage) -> None:
    """Send `message`; return once the mail server accepted it, raise otherwise."""
    mailman = current_app.extensions["mailman"]
    connection = mailman.get_connection()
    if isinstance(connection, smtp.EmailBackend):
        if not isinstance(connection, SMTPBackend):
            connection = SMTPBackend(mailman=mailman)
        connection.send_accepted(message)
        return
    # File and memory backends (embedded mode, tests): written is accepted.
    crash_point("before_connect")
    if connection.send_messages([message]) != 1:
        raise RuntimeError("the mail backend did not take the message")
