"""The embedded mail backend writes one .eml file per message."""

from __future__ import annotations

import email

from flask_mailman import EmailMessage


def test_eml_file_per_message(make_app, tmp_path):
    app = make_app(MAIL_BACKEND="b2bshop.mailing.EmlFileEmailBackend", MAIL_FILE_PATH=str(tmp_path))
    with app.app_context():
        for n in range(2):
            EmailMessage(f"Subject {n}", "Body", to=[f"to{n}@example.com"]).send()
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    parsed = [email.message_from_bytes(f.read_bytes()) for f in files]
    assert sorted(m["Subject"] for m in parsed) == ["Subject 0", "Subject 1"]
