"""Campaign emails under faults, on real processes (issue 17): a worker killed mid-batch
neither skips nor double-sends a contact, the invoice emails' rule.

The stack of tests/faults/test_jobs_faults.py (a private redis-server, this test's
PostgreSQL database, an aiosmtpd sink counting by X-B2B-Key, `flask --app wsgi cron` and
`flask --app wsgi worker` processes): a campaign to 60 contacts in batches of 30, a first
worker that SIGKILLs itself at a crash point (b2bshop/core/faults.py), then a cron and a
worker as a process manager would start them.

| case               | the first worker dies                                          |
|--------------------|----------------------------------------------------------------|
| campaign_mid_batch | after its 5th accepted email, 15 more claimed (intent committed) |
| during_data        | with half of its first message sent after DATA                  |
| after_accept       | after the sink's 250 to its first message, before recording it  |

Every contact gets its email; only `after_accept` (the unknown outcome) makes a second
one, with the same Message-ID.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.campaigns import service
from b2bshop.campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientState
from b2bshop.campaigns.targets import TargetFilter
from b2bshop.extensions import db
from tests import factories
from tests.faults import test_jobs_faults as jobs_faults
from tests.faults.test_jobs_faults import CASE_TIMEOUT, ON_POSTGRES, _tail, _wait_for

#: The fault suite's fixtures: its sink and its stack of processes.
sink = jobs_faults.sink
stack = jobs_faults.stack

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="several processes on one database"),
]

CONTACTS = 60
#: The lease outlasts the job timeout (as the defaults do), both short for a fast suite.
CAMPAIGN = {"CAMPAIGN_BATCH_SIZE": "30", "CAMPAIGN_JOB_TIMEOUT": "4", "CAMPAIGN_LEASE_SECONDS": "6"}


@pytest.fixture
def web(make_app, stack):  # type: ignore[no-untyped-def]
    settings = {**jobs_faults.TIMINGS, **CAMPAIGN}
    return make_app(
        REDIS_URL=stack.redis.url, **{k: jobs_faults._setting(v) for k, v in settings.items()}
    )


def start_campaign(web) -> int:  # type: ignore[no-untyped-def]
    with web.test_request_context():
        admin = factories.user("admin@store.example", role=Role.STORE_ADMIN)
        lead = factories.party("lead")
        for n in range(CONTACTS):
            factories.contact(lead, f"c{n:02d}@fault.example", language=("en", "fr")[n % 2])
        db.session.commit()
        campaign = service.save_campaign(
            admin,
            None,
            service.CampaignInput(
                "Faults",
                "email",
                TargetFilter(),
                {"en": ("Hi", "Hello"), "fr": ("Salut", "Bonjour")},
            ),
        )
        db.session.commit()
        service.start(admin, campaign.id)
        db.session.commit()  # the batch jobs go to the private Redis now
        campaign_id = campaign.id
        db.session.remove()
    return campaign_id


def crash_worker(stack, point: str) -> None:  # type: ignore[no-untyped-def]
    """A worker, with the campaign settings, that dies at `point` in its first batch."""
    crashing = stack.worker(f"worker-crash-{point}", FAULT_CRASH_AT=point, **CAMPAIGN)
    code = _wait_for(lambda: crashing.poll(), 30, f"the worker dying at {point}")
    assert code == -signal.SIGKILL, (
        f"exit {code}:\n{_tail(stack.tmp / f'worker-crash-{point}.log')}"
    )


def done(web, campaign_id: int) -> bool:  # type: ignore[no-untyped-def]
    with web.app_context():
        status = db.session.get(Campaign, campaign_id).status
        db.session.remove()
    return status == CampaignStatus.DONE


@pytest.mark.parametrize("point", ["campaign_mid_batch", "during_data", "after_accept"])
def test_a_worker_killed_mid_batch_neither_skips_nor_double_sends(point, stack, web):
    started = time.monotonic()
    campaign_id = start_campaign(web)
    crash_worker(stack, point)  # with the campaign settings (the env of stack.start)
    with web.app_context():
        claimed = db.session.scalar(
            select(func.count()).where(CampaignRecipient.state == RecipientState.SENDING)
        )
        db.session.remove()
    assert claimed >= 1  # the dead worker's claim, under its lease
    before = len(stack.sink.accepted)
    assert before == {"campaign_mid_batch": 5, "during_data": 0, "after_accept": 1}[point]

    stack.start("cron", "cron", **CAMPAIGN)
    stack.worker("worker", **CAMPAIGN)
    _wait_for(lambda: done(web, campaign_id), CASE_TIMEOUT, f"{point}: campaign done")
    time.sleep(0.3)  # a late duplicate would arrive now
    per_key = Counter(key for key, _mid in stack.sink.accepted)
    ids_per_key: dict[str, set[str]] = {}
    for key, message_id in stack.sink.accepted:
        ids_per_key.setdefault(key, set()).add(message_id)
    with web.app_context():
        rows = db.session.execute(
            select(CampaignRecipient.id, CampaignRecipient.state, CampaignRecipient.sends)
        ).all()
        db.session.remove()
    keys = {f"campaign-{campaign_id}-{r.id}" for r in rows}
    duplicates = sum(n - 1 for n in per_key.values())
    print(
        f"figures: {point}: {len(rows)} contacts, {sum(per_key.values())} emails,"
        f" {duplicates} duplicates, {sum(r.sends for r in rows)} claims (sends),"
        f" {time.monotonic() - started:.1f} s"
    )
    assert all(r.state == RecipientState.SENT for r in rows)
    assert set(per_key) == keys  # nobody skipped
    assert duplicates == (1 if point == "after_accept" else 0), per_key
    # A second email is the same message: one Message-ID per contact.
    assert all(len(ids) == 1 for ids in ids_per_key.values())
