"""Mail helpers. The embedded mode writes each message to its own .eml file."""

from __future__ import annotations

import os
import uuid

from flask_mailman.backends.file import EmailBackend as _FileBackend


class EmlFileEmailBackend(_FileBackend):
    """One RFC 5322 file per message, so any mail client can open it.

    Flask-Mailman's file backend appends every message of a connection to one .log file
    with separators, which no mail client reads.
    """

    def send_messages(self, email_messages):
        sent = 0
        for message in email_messages or []:
            name = f"{message.extra_headers.get('X-B2B-Key') or uuid.uuid4().hex}.eml"
            tmp = os.path.join(self.file_path, f".{name}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(message.message().as_bytes(linesep="\r\n"))
            # Rename is atomic: a reader never sees half a message.
            os.replace(tmp, os.path.join(self.file_path, name))
            sent += 1
        return sent
