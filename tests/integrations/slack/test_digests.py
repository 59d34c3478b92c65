"""Worklist digests (issue 16): a channel subscribes with `/denials digest daily`, gets the open-denials
worklist at the digest hour, once, whatever the number of workers, and without patient fields where the
channel is not cleared for them. Signed slash commands through Bolt; posts to the local Slack stand-in."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assistant.digests import Digests, DigestView, next_due
from integrations.cli import main as cli_main
from integrations.slack.digests import DigestLoop, SlackDigestPoster
from knowledge.errors import InvalidInput
from knowledge.practice.models import AuditRecord, DigestSubscription, Role, User
from tests.integrations.slack.conftest import DM_CHANNEL, OPEN_CHANNEL, SlackHarness

FRIDAY_AFTERNOON = dt.datetime(2026, 12, 4, 14, 30, tzinfo=dt.UTC)


def test_digest_slots_are_the_next_full_hour_each_day_or_each_monday() -> None:
    assert next_due("daily", FRIDAY_AFTERNOON, hour=13) == dt.datetime(2026, 12, 5, 13, tzinfo=dt.UTC)
    assert next_due("daily", FRIDAY_AFTERNOON, hour=15) == dt.datetime(2026, 12, 4, 15, tzinfo=dt.UTC)
    assert next_due("daily", dt.datetime(2026, 12, 4, 13, tzinfo=dt.UTC), hour=13) == dt.datetime(
        2026, 12, 5, 13, tzinfo=dt.UTC
    )  # strictly after: the slot just served is not due again
    assert next_due("weekly", FRIDAY_AFTERNOON, hour=13) == dt.datetime(2026, 12, 7, 13, tzinfo=dt.UTC)
    assert next_due("weekly", dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC), hour=13) == dt.datetime(
        2026, 12, 7, 13, tzinfo=dt.UTC
    )
    with pytest.raises(InvalidInput):
        next_due("hourly", FRIDAY_AFTERNOON, hour=13)


def _subscriptions(slack: SlackHarness) -> list[DigestSubscription]:
    with Session(slack.engine) as session:
        return list(session.scalars(select(DigestSubscription)))


def test_a_channel_subscribes_changes_and_stops_its_digest_and_each_change_is_audited(slack: SlackHarness) -> None:
    _, url = slack.command("/denials", "digest daily")
    [answer] = slack.wait_response(url)
    assert answer.body["response_type"] == "ephemeral"
    assert "This channel will get the open-denials worklist every day at 13:00 UTC" in answer.text()
    [row] = _subscriptions(slack)
    assert (row.channel_id, row.kind, row.frequency) == (OPEN_CHANNEL, "denials", "daily")
    assert row.created_by_user_id == slack.facts.users[Role.BILLER]
    assert row.due_at.hour == 13 and row.due_at.minute == 0

    _, url = slack.command("/denials", "digest weekly")
    [answer] = slack.wait_response(url)
    assert "every Monday" in answer.text()
    [row] = _subscriptions(slack)  # changed, not a second subscription
    assert row.frequency == "weekly"
    assert row.due_at.weekday() == 0

    _, url = slack.command("/denials", "digest")
    [answer] = slack.wait_response(url)
    assert "gets the open-denials worklist every Monday" in answer.text()

    _, url = slack.command("/denials", "digest off")
    [answer] = slack.wait_response(url)
    assert "will no longer get the denials digest" in answer.text()
    assert _subscriptions(slack) == []
    with Session(slack.engine) as session:
        actions = list(
            session.scalars(
                select(AuditRecord.action).where(AuditRecord.action.like("digest_%")).order_by(AuditRecord.id)
            )
        )
    assert actions == ["digest_subscribe", "digest_subscribe", "digest_unsubscribe"]


def test_a_digest_request_it_cannot_read_gets_the_usage_and_writes_nothing(slack: SlackHarness) -> None:
    response, url = slack.command("/denials", "digest hourly")
    assert "Usage: `/denials digest daily`" in response.json()["text"]
    slack.settle()
    assert slack.at(url)(slack.api.calls) == [] and _subscriptions(slack) == []


def test_someone_outside_the_practice_cannot_subscribe_and_the_refusal_is_audited(slack: SlackHarness) -> None:
    _, url = slack.command("/denials", "digest daily", user="U0STRANGER")
    [answer] = slack.wait_response(url)
    assert "Only the practice's staff" in answer.text()
    assert _subscriptions(slack) == []
    with Session(slack.engine) as session:
        refused = session.scalars(select(AuditRecord).where(AuditRecord.action == "digest_subscribe")).all()
    assert [r.outcome for r in refused] == ["denied"]


def _loop(slack: SlackHarness, now: dt.datetime) -> DigestLoop:
    """The app's digest loop as a worker whose clock reads `now`."""
    app_loop: DigestLoop = slack.app.state.slack_digests
    return DigestLoop(Digests(slack.agent, hour=13, clock=lambda: now), app_loop.poster)


def _subscribe(slack: SlackHarness, channel: str = OPEN_CHANNEL) -> DigestView:
    _, url = slack.command("/denials", "digest daily", channel=channel)
    slack.wait_response(url)
    [view] = slack.app.state.slack_digests.digests.subscriptions(slack.facts.practice_id, channel_id=channel)
    return view  # type: ignore[no-any-return]


def test_a_due_digest_is_posted_once_with_the_worklist_and_no_patient_fields(slack: SlackHarness) -> None:
    view = _subscribe(slack)
    worker = _loop(slack, view.due_at + dt.timedelta(minutes=1))
    assert _loop(slack, view.due_at - dt.timedelta(minutes=1)).run_once() == []  # not yet due

    [run] = worker.run_once()
    assert run.outcome == "sent" and run.channel_id == OPEN_CHANNEL
    posts = [c for c in slack.api.named("chat.postMessage") if c.body.get("channel") == OPEN_CHANNEL]
    assert "Daily denials digest" in posts[0].text()
    shown = " ".join(post.text() for post in posts)
    assert slack.facts.claim_number in shown  # the open denials, by claim number
    assert not any(value in shown for value in slack.facts.phi)  # an open channel: no patient fields

    assert worker.run_once() == []  # the same slot again: nothing more
    assert len([c for c in slack.api.named("chat.postMessage") if c.body.get("channel") == OPEN_CHANNEL]) == len(posts)
    [row] = _subscriptions(slack)
    assert row.last_sent_at is not None and row.last_error is None
    assert row.due_at.replace(tzinfo=dt.UTC) == view.due_at + dt.timedelta(days=1)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_workers_post_a_due_digest_once(database: str, request: pytest.FixtureRequest) -> None:
    slack: SlackHarness = request.getfixturevalue("slack" if database == "sqlite" else "slack_on_postgresql")
    view = _subscribe(slack, channel=DM_CHANNEL)
    now = view.due_at + dt.timedelta(minutes=3)
    workers = [_loop(slack, now), _loop(slack, now)]
    start = threading.Barrier(2)
    runs: list[list[object]] = [[], []]

    def work(i: int) -> None:
        found = workers[i].digests.due()  # both read it due before either claims it
        start.wait()
        runs[i] = list(workers[i].run_once(found))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(len(r) for r in runs) == [0, 1]
    headings = [c for c in slack.api.named("chat.postMessage") if "denials digest" in c.text()]
    assert len(headings) == 1


def test_a_digest_stops_when_its_subscriber_leaves_and_says_why(slack: SlackHarness) -> None:
    view = _subscribe(slack)
    with Session(slack.engine) as session:
        session.execute(update(User).where(User.id == view.subscribed_by_user_id).values(active=False))
        session.commit()
    [run] = _loop(slack, view.due_at + dt.timedelta(minutes=1)).run_once()
    assert run.outcome == "skipped" and "no longer has access" in run.detail
    assert not [c for c in slack.api.named("chat.postMessage") if "denials digest" in c.text()]
    [row] = _subscriptions(slack)
    assert row.last_error is not None and "subscribe again" in row.last_error


def test_a_post_slack_refuses_is_kept_as_the_subscriptions_error(slack: SlackHarness) -> None:
    view = _subscribe(slack)
    slack.api.fail_next("chat.postMessage", "channel_not_found")
    [run] = _loop(slack, view.due_at + dt.timedelta(minutes=1)).run_once()
    assert run.outcome == "failed"
    [row] = _subscriptions(slack)
    assert row.last_error is not None and "could not be posted" in row.last_error and row.last_sent_at is None


def test_the_loop_posts_what_is_due_in_the_background_until_stopped(slack: SlackHarness) -> None:
    view = _subscribe(slack)
    app_loop: DigestLoop = slack.app.state.slack_digests
    poster: SlackDigestPoster = app_loop.poster
    loop = DigestLoop(
        Digests(slack.agent, hour=13, clock=lambda: view.due_at + dt.timedelta(seconds=5)), poster, every=0.05
    )
    loop.start()
    try:
        slack.api.wait_for(
            lambda calls: any("denials digest" in c.text() for c in calls), what="the digest", timeout=60
        )
    finally:
        loop.stop()


def test_the_cli_lists_the_subscriptions_and_posts_the_due_ones(
    slack: SlackHarness,
    tmp_path: Path,
    codesets_cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = _subscribe(slack)
    with Session(slack.engine) as session:  # its slot passed an hour ago
        session.execute(update(DigestSubscription).values(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
        session.commit()
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    for cached in codesets_cache_dir.glob("codesets-*"):
        shutil.copy2(cached, home / "cache" / cached.name)
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(home))
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", slack.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BILLING_ASSISTANT_SLACK_API_URL", slack.api.api_url.rstrip("/"))

    def cli(*args: str) -> tuple[int, Any]:
        monkeypatch.setattr(sys, "argv", ["billing-assistant", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            cli_main.run()
        code = exited.value.code
        return (code if isinstance(code, int) else 0), json.loads(capsys.readouterr().out)

    code, listed = cli("digests", "list", "--json")
    assert code == 0 and [(d["id"], d["channel_id"], d["frequency"]) for d in listed] == [
        (view.id, OPEN_CHANNEL, "daily")
    ]
    code, runs = cli("digests", "run", "--json")
    assert code == 0 and [(r["subscription_id"], r["outcome"]) for r in runs] == [(view.id, "sent")]
    assert [c for c in slack.api.named("chat.postMessage") if "denials digest" in c.text()]
    code, runs = cli("digests", "run", "--json")
    assert code == 0 and runs == []  # posted once
