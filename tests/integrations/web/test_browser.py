"""The chat page in real headless Chromium against the app under uvicorn: sign in, a streamed denial
explanation with citations, a payment confirmed from its card (the claim's balance changes), a front
desk user refused on an adjustment, the worklists view (sorting, paging, CSV, the denial trend) and the
actions on an answer (Copy, Regenerate, Not helpful with a comment). Screenshots of the main screens go to
test-artifacts/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.practice.models import AppealLetter, Claim, ClaimStatus, Feedback, LedgerEntry, Remittance
from tests.integrations.web.conftest import ARTIFACTS, LiveServer, WebPractice

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def clipboard_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page whose origin may write and read the clipboard (Copy, and the test reading what it copied)."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 860},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=False)


def sign_in(page: Page, web: WebPractice, email: str) -> None:
    page.goto("/")
    expect(page.get_by_label("Email")).to_be_focused()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(web.credentials[email])
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_label("Your question")).to_be_focused()


def ask(page: Page, text: str) -> None:
    page.get_by_label("Your question").fill(text)
    page.get_by_label("Your question").press("Enter")  # Enter sends


def patient_balance(web: WebPractice, claim_number: str) -> Decimal:
    with Session(web.engine) as session:
        claim = session.scalars(
            select(Claim).where(Claim.practice_id == web.practice_id, Claim.claim_number == claim_number)
        ).one()
        return claim.patient_responsibility - claim.patient_paid


def write_offs(web: WebPractice) -> int:
    with Session(web.engine) as session:
        return int(
            session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "write_off")) or 0
        )


def test_biller_asks_reads_sources_and_confirms_a_payment(page: Page, web_practice: WebPractice) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill("biller@demo.example")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    shot(page, "sign-in")
    sign_in(page, web_practice, "biller@demo.example")

    denied = web_practice.claim(Claim.status == ClaimStatus.DENIED)
    ask(page, f"Why was claim {denied.claim_number} denied?")
    bubble = page.locator(".msg.assistant").last
    expect(bubble.locator(".steps li")).to_have_text([f"Explaining the denial of claim {denied.claim_number}…"])
    expect(bubble.locator(".answer strong").first).to_have_text(f"Claim {denied.claim_number}")
    expect(bubble.get_by_label(f"Denial of claim {denied.claim_number}")).to_be_visible()
    expect(bubble.get_by_role("list", name="Sources").locator("li")).to_have_count(2)
    expect(bubble.locator(".answer")).not_to_contain_text("Sources:")  # listed once, not also as text
    expect(bubble.get_by_label(f"Denial of claim {denied.claim_number}")).to_contain_text("Next step")
    assert bubble.locator(".answer script, .answer img").count() == 0
    shot(page, "denial-answer")

    bubble.locator("button.cite").first.click()  # the [1] in the answer opens the cited passage
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("CO-16 means the claim lacked information")
    expect(page.locator("#passage-close")).to_be_focused()
    shot(page, "citation")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(bubble.locator("button.cite").first).to_be_focused()

    claim = web_practice.owing_claim(skip=3)
    before = patient_balance(web_practice, claim.claim_number)
    ask(page, f"post $6.25 copay to claim {claim.claim_number} paid today by card")
    card = page.get_by_label("Waiting for confirmation").last
    expect(card).to_contain_text("$6.25")
    assert patient_balance(web_practice, claim.claim_number) == before  # nothing written before Confirm
    card.get_by_role("button", name="Confirm").click()
    expect(card.get_by_role("status")).to_contain_text("Done")
    updated = page.get_by_label(f"Claim {claim.claim_number}").last
    after = before - Decimal("6.25")
    expect(updated).to_contain_text(f"Patient balance${after:.2f}")
    assert patient_balance(web_practice, claim.claim_number) == after
    shot(page, "payment-confirmed")

    expect(page.locator("#thread-list li")).not_to_have_count(0)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "phone")
    page.get_by_role("button", name="Conversations").click()
    expect(page.get_by_role("navigation", name="Conversations")).to_be_visible()
    shot(page, "phone-conversations")


def test_front_desk_is_refused_on_an_adjustment(page: Page, web_practice: WebPractice) -> None:
    sign_in(page, web_practice, "frontdesk@demo.example")
    claim = web_practice.owing_claim(skip=4)
    ask(page, f"write off $1 small balance on claim {claim.claim_number}")
    card = page.get_by_label("Waiting for confirmation").last
    expect(card).to_contain_text("May confirm: admin, biller")
    before = write_offs(web_practice)
    card.get_by_role("button", name="Confirm").click()
    expect(card.get_by_role("alert")).to_have_text(re.compile("may not confirm post adjustment"))
    assert write_offs(web_practice) == before
    shot(page, "front-desk-refused")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("alert")).to_have_text("You are signed out.")


def test_biller_downloads_and_edits_an_appeal_letter_from_its_card(page: Page, web_practice: WebPractice) -> None:
    sign_in(page, web_practice, "biller@demo.example")
    ask(page, "draft the appeal for claim 1042")
    card = page.locator(".msg.assistant").last.locator("section.card.letter")
    expect(card).to_be_visible()
    letter_id = int(card.get_attribute("data-letter") or "0")
    expect(card.get_by_role("link", name="Download DOCX")).to_have_attribute(
        "href", f"/api/appeals/{letter_id}/download?format=docx"
    )
    with page.expect_download() as download:
        card.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")
    card.get_by_role("button", name="Edit").click()
    box = card.get_by_label("Letter text")
    expect(box).to_be_focused()
    box.fill("Edited in the browser.\n")
    card.get_by_role("button", name="Save").click()
    expect(card.get_by_role("status")).to_contain_text("Saved")
    shot(page, "appeal-letter")
    with Session(web_practice.engine) as session:
        letter = session.get(AppealLetter, letter_id)
        assert letter is not None and letter.body == "Edited in the browser.\n"


def test_biller_takes_the_whole_denial_worklist_as_csv(page: Page, web_practice: WebPractice) -> None:
    sign_in(page, web_practice, "biller@demo.example")
    ask(page, "open denials")
    card = page.locator(".msg.assistant").last.locator("section.card.worklist")
    expect(card).to_be_visible()
    with page.expect_download() as download:
        card.get_by_role("link", name="Download all as CSV").click()
    assert download.value.suggested_filename.startswith("denials-")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    total = int(re.search(r"Denials to work: (\d+)", card.inner_text()).group(1))  # type: ignore[union-attr]
    assert lines[0].startswith("claim_number,payer") and len(lines) - 1 == min(total, 200)
    shot(page, "denial-worklist")


def test_coder_searches_an_index_path_and_answers_the_side(page: Page, web_practice: WebPractice) -> None:
    sign_in(page, web_practice, "coder@demo.example")
    ask(page, "Pain, joint, knee")
    card = page.locator(".msg.assistant").last.locator("section.card.codes")
    expect(card).to_be_visible()
    expect(card.locator("li").first).to_contain_text("M25.569")
    expect(card.locator("li").first).to_contain_text("M25.5 Pain in joint")  # why it matched, in words
    expect(card.get_by_label("To ask")).to_contain_text("Which side?")
    ask(page, "left")
    narrowed = page.locator(".msg.assistant").last.locator("section.card.codes")
    expect(narrowed.locator("li").first).to_contain_text("M25.562")
    shot(page, "index-path-search")


def test_a_reopened_conversation_shows_its_cards_and_sources(page: Page, web_practice: WebPractice) -> None:
    sign_in(page, web_practice, "biller@demo.example")
    ask(page, "why was claim 1042 denied?")
    live = page.locator(".msg.assistant").last
    expect(live.locator("section.card.denial")).to_be_visible()
    sources = live.get_by_role("list", name="Sources").locator("li").count()
    page.reload()  # a new page, the same session: the conversation comes back from the server
    expect(page.get_by_label("Your question")).to_be_visible()
    listed = page.get_by_role("navigation", name="Conversations").get_by_role("button", name=re.compile("1042")).first
    expect(listed.locator(".thread-date")).to_have_text(re.compile(r"\d"))  # when it was last active
    listed.click()
    reopened = page.locator(".msg.assistant").last
    expect(reopened.locator("section.card.denial")).to_be_visible()
    expect(reopened.get_by_role("list", name="Sources").locator("li")).to_have_count(sources)
    expect(reopened.get_by_role("group", name="Was this helpful?")).to_be_visible()
    shot(page, "reopened-conversation")


def test_a_large_import_confirmed_in_chat_shows_its_job_progress_until_done(
    page: Page, web_practice: WebPractice
) -> None:
    """A file over the job threshold is queued, not posted in the request; the chat shows the job's line
    from GET /api/jobs/{id} and follows it to the end when the worker has run it."""
    from knowledge.practice.accounts import add_user
    from knowledge.practice.database import make_session_factory, session_scope
    from knowledge.practice.models import Practice, Role
    from knowledge.x12 import jobs
    from knowledge.x12.generator import seed_synthetic_claims, write_synthetic_835
    from tools.import_remittance import JOB_THRESHOLD

    count = JOB_THRESHOLD + 20
    sessions = make_session_factory(web_practice.engine)
    email, password = "imports@third.example", "third-practice-password"
    with session_scope(sessions) as session:  # a practice of its own: the others' claims stay as they are
        third = Practice(slug="third", name="A third practice")
        session.add(third)
        session.flush()
        add_user(session, practice_id=third.id, email=email, name="Third owner", role=Role.ADMIN, password=password)
        seed_synthetic_claims(session, practice_id=third.id, count=count, prefix="BIG")
        third_id = third.id
    web_practice.credentials[email] = password
    inbox = web_practice.settings.resolved_home / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    write_synthetic_835(inbox / "era-big.835", count=count, prefix="BIG", trace="BIGTRACE1")

    sign_in(page, web_practice, email)
    ask(page, "import era-big.835")
    card = page.get_by_label("Waiting for confirmation").last
    expect(card).to_contain_text("background import job")
    card.get_by_role("button", name="Confirm").click()
    expect(card.get_by_role("status")).to_contain_text("queued as import job")
    line = page.locator(".job-progress").last
    expect(line).to_contain_text("is queued")  # no worker runs in this test until now
    with session_scope(sessions) as session:
        posted = select(func.count()).select_from(Remittance)
        assert session.scalar(posted.where(Remittance.practice_id == third_id)) == 0
    assert jobs.work(sessions, stop=threading.Event(), once=True) == 1
    expect(line).to_have_attribute("data-status", "done")
    expect(line).to_contain_text(f"is done: {count:,} claim(s) posted")
    shot(page, "import-job-done")


def test_a_person_renames_searches_and_deletes_conversations(page: Page, web_practice: WebPractice) -> None:
    """Issue 16: the history is dated (the same question twice is told apart), long titles end in an ellipsis
    with the whole title on hover, and renaming, searching and deleting work from the keyboard."""
    from knowledge.practice.accounts import add_user
    from knowledge.practice.models import ConversationThread, Role, User

    email, password = "history@demo.example", "history-browser-password"
    with Session(web_practice.engine) as session:  # a history of its own: only what this test asks
        add_user(
            session,
            practice_id=web_practice.practice_id,
            email=email,
            name="History browser",
            role=Role.BILLER,
            password=password,
        )
        session.commit()
    web_practice.credentials[email] = password
    sign_in(page, web_practice, email)
    history = page.get_by_role("navigation", name="Conversations")
    rows = history.locator("li.thread")
    for number, question in enumerate(["what is E11.65?", "what is E11.65?", "what is M25.562?"]):
        if number:
            page.get_by_role("button", name="New conversation").click()
        ask(page, question)
        expect(page.locator(".msg.assistant").last.get_by_role("group", name="Was this helpful?")).to_be_visible()
        expect(rows).to_have_count(number + 1)
    twins = rows.filter(has_text="what is E11.65?").locator(".thread-date").all_inner_texts()
    assert len(twins) == 2 and all(twins) and twins[0] != twins[1]  # the same title, two dates

    # Rename from the keyboard: Enter on the row's Rename button, type, Enter saves.
    title = "Diabetes with hyperglycemia: the code the payer asked about on the corrected claim, November visit"
    rows.filter(has_text="what is E11.65?").first.get_by_role("button", name="Rename").focus()
    page.keyboard.press("Enter")
    box = history.get_by_label("New title")
    expect(box).to_be_focused()
    page.keyboard.type(title)  # the old title was selected: typing replaces it
    page.keyboard.press("Enter")
    renamed = rows.filter(has_text="Diabetes with hyperglycemia")
    expect(renamed).to_have_count(1)
    expect(renamed.get_by_role("button", name="Rename")).to_be_focused()
    expect(history.get_by_role("status")).to_have_text("Renamed.")
    opener = renamed.locator(".thread-open")
    expect(opener).to_have_attribute("title", title)  # the whole title on hover
    cut = renamed.locator(".thread-title").evaluate(
        "node => node.scrollWidth > node.clientWidth && getComputedStyle(node).textOverflow === 'ellipsis'"
    )
    assert cut, "a long title is cut with an ellipsis, not overflowing the list"
    opener.focus()
    page.keyboard.press("F2")  # the shortcut opens the same editor; Escape leaves the title as it was
    expect(box).to_be_focused()
    page.keyboard.press("Escape")
    expect(renamed.get_by_role("button", name="Rename")).to_be_focused()
    expect(renamed.locator(".thread-title")).to_have_text(title)
    with Session(web_practice.engine) as session:
        user_id = session.scalars(select(User.id).where(User.email == email)).one()
        titles = set(session.scalars(select(ConversationThread.title).where(ConversationThread.user_id == user_id)))
    assert titles == {title, "what is E11.65?", "what is M25.562?"}
    shot(page, "conversation-renamed")

    # Search: by the answers' words, by the title's, and nothing; Escape brings the whole list back.
    search = page.get_by_label("Search conversations")
    search.fill("HYPERGLYCEMIA")
    expect(rows).to_have_count(2)
    expect(history.get_by_role("status")).to_have_text("2 conversations match.")
    search.fill("november visit")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Diabetes with hyperglycemia")
    shot(page, "conversation-search")
    search.fill("zanzibar")
    expect(rows).to_have_count(0)
    expect(history.get_by_role("status")).to_have_text("No conversation matches “zanzibar”.")
    search.press("Escape")
    expect(search).to_have_value("")
    expect(rows).to_have_count(3)

    # Delete asks first; Escape keeps the conversation, Delete in the dialog removes it (the open one here).
    knee = rows.filter(has_text="what is M25.562?")
    knee.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this conversation?")
    expect(dialog).to_contain_text("what is M25.562?")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(knee.get_by_role("button", name="Delete")).to_be_focused()
    expect(rows).to_have_count(3)
    page.keyboard.press("Enter")
    shot(page, "conversation-delete")
    dialog.get_by_role("button", name="Delete").click()
    expect(rows).to_have_count(2)
    expect(history.get_by_role("status")).to_have_text("Conversation deleted.")
    expect(rows.first.locator(".thread-open")).to_be_focused()
    expect(page.locator("#log")).to_contain_text("That conversation was deleted.")
    with Session(web_practice.engine) as session:
        left = set(session.scalars(select(ConversationThread.title).where(ConversationThread.user_id == user_id)))
    assert left == {title, "what is E11.65?"}


def dollars(amount: Decimal | str) -> str:
    """The page's one money format: $5,690.00."""
    return f"${Decimal(amount):,.2f}"


def column(table: Locator, name: str) -> list[str]:
    """The texts of one column of a worklist table, top to bottom."""
    headers = [text.strip(" ▲▼\n") for text in table.locator("thead th").all_inner_texts()]  # without the sort mark
    index = headers.index(name)
    return [row.locator("td").nth(index).inner_text() for row in table.locator("tbody tr").all()]


def amount(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def test_biller_works_the_worklists_sorted_paged_as_csv_with_the_denial_trend(
    page: Page, web_practice: WebPractice
) -> None:
    api = web_practice.sign_in("biller@demo.example")
    denials = api.get("/api/worklists/denials", params={"page_size": 200}).json()
    trend = api.get("/api/worklists/denials/by-month").json()
    aging = api.get("/api/worklists/aging", params={"page_size": 200}).json()
    assert aging["total_rows"] > 50, "the demo practice needs a second page of A/R"
    sign_in(page, web_practice, "biller@demo.example")
    page.get_by_role("navigation", name="Conversations").get_by_role("button", name="Worklists").click()
    view = page.get_by_role("region", name="Worklists")
    expect(view.get_by_role("tab", name="Open denials")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Your question")).to_be_hidden()
    panel = view.get_by_role("tabpanel")
    table = panel.get_by_role("table", name="Open denials", exact=True)
    expect(table.locator("tbody tr")).to_have_count(denials["total_rows"])
    expect(panel.locator(".worklist-totals")).to_have_text(
        f"{denials['total_claims']} open denials: {dollars(denials['total_amount'])}"
    )
    assert "patient" not in " ".join(table.locator("thead th").all_inner_texts()).lower()

    # The trend: every month of the window, with its count and amount, in the chart and in its table.
    figure = panel.get_by_role("figure")
    chart = figure.get_by_role("img")
    months = trend["months"]
    expect(figure.locator("rect.bar-count")).to_have_count(len(months))
    figure.get_by_text("The figures as a table").click()
    rows = figure.locator(".trend-table tbody tr")
    expect(rows).to_have_count(len(months))
    label = chart.get_attribute("aria-label") or ""
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    for row, month in zip(rows.all(), months, strict=True):
        name = f"{names[int(month['month'][5:]) - 1]} {month['month'][:4]}"
        expect(row).to_have_text(f"{name}{month['claims']}{dollars(month['amount'])}")
        noun = "denial" if month["claims"] == 1 else "denials"
        assert f"{name}: {month['claims']} {noun}, {dollars(month['amount'])}" in label
    heights = {
        bar.get_attribute("data-month"): float(bar.get_attribute("height") or "0")
        for bar in figure.locator("rect.bar-count").all()
    }
    busiest = max(months, key=lambda m: m["claims"])
    assert heights[busiest["month"]] == max(heights.values()) > 0
    assert all(heights[m["month"]] == 0 for m in months if m["claims"] == 0)
    shot(page, "worklist-denials")

    # Sorting: a click on a header sorts by it (aria-sort says how), a second click turns the order round.
    amount_header = table.locator("th", has_text="Amount")
    amount_header.get_by_role("button").click()
    expect(amount_header).to_have_attribute("aria-sort", "ascending")
    expect(amount_header.get_by_role("button")).to_be_focused()
    ascending = [amount(text) for text in column(table, "Amount")]
    assert ascending == sorted(ascending) and ascending != [amount(r["amount"]) for r in denials["rows"]]
    amount_header.get_by_role("button").click()
    expect(amount_header).to_have_attribute("aria-sort", "descending")
    expect(table.locator("tbody tr").first.locator("td").nth(denials["columns"].index("amount"))).to_have_text(
        dollars(max(Decimal(r["amount"]) for r in denials["rows"]))
    )
    assert [amount(text) for text in column(table, "Amount")] == sorted(ascending, reverse=True)
    assert table.locator("th[aria-sort]").count() == 1
    with page.expect_download() as download:  # the CSV has every row, in the order shown
        panel.get_by_role("link", name="Download all as CSV").click()
    assert download.value.suggested_filename.startswith("denials-")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == denials["columns"] and len(lines) - 1 == denials["total_rows"]
    assert [line.split(",")[0] for line in lines[1:]] == column(table, "Claim")

    # Paging: A/R aging has more than a page; Next shows the rest and says which rows they are.
    view.get_by_role("tab", name="Open denials").press("ArrowRight")  # the tabs pattern: arrows move and show
    expect(view.get_by_role("tab", name="A/R aging")).to_have_attribute("aria-selected", "true")
    expect(view.get_by_role("tab", name="A/R aging")).to_be_focused()
    aged = panel.get_by_role("table", name="A/R aging", exact=True)
    pager = panel.get_by_role("navigation", name="Pages")
    total = aging["total_rows"]
    expect(pager.get_by_role("status")).to_have_text(f"1-50 of {total}")
    expect(aged.locator("tbody tr")).to_have_count(50)
    expect(pager.get_by_role("button", name="Previous")).to_be_disabled()
    first_page = column(aged, "Claim")
    assert first_page == [r["claim_number"] for r in aging["rows"][:50]]  # the oldest first, as the API sorts
    expect(panel.locator(".worklist-totals")).to_contain_text(dollars(aging["total_amount"]))
    pager.get_by_role("button", name="Next").click()
    expect(pager.get_by_role("status")).to_have_text(f"51-{total} of {total}")
    expect(aged.locator("tbody tr")).to_have_count(total - 50)
    assert column(aged, "Claim") == [r["claim_number"] for r in aging["rows"][50:]]
    expect(pager.get_by_role("button", name="Next")).to_be_disabled()
    expect(pager.get_by_role("button", name="Previous")).to_be_focused()
    balances = column(aged, "Balance")
    assert all(re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d\d", text) for text in balances)
    shot(page, "worklist-aging")

    # A claim number asks the chat about that claim.
    view.get_by_role("tab", name="Open denials").click()
    expect(table.locator("tbody tr")).to_have_count(denials["total_rows"])
    claim = column(table, "Claim")[0]
    table.get_by_role("button", name=claim, exact=True).click()
    expect(view).to_be_hidden()
    expect(page.locator(".msg.user").last).to_have_text(f"why was claim {claim} denied?")
    expect(page.locator(".msg.assistant").last.get_by_label(f"Denial of claim {claim}")).to_be_visible()


def test_biller_filters_the_worklists_by_payer_reason_and_filing_window(page: Page, web_practice: WebPractice) -> None:
    api = web_practice.sign_in("biller@demo.example")
    everything = api.get("/api/worklists/denials", params={"page_size": 200}).json()
    by_payer: dict[str, int] = {}
    for row in everything["rows"]:
        by_payer[row["payer"]] = by_payer.get(row["payer"], 0) + 1
    payer = max(by_payer, key=lambda name: by_payer[name])
    assert by_payer[payer] < everything["total_rows"], "the demo practice needs denials from several payers"
    narrowed = api.get("/api/worklists/denials", params={"payer": payer, "page_size": 200}).json()
    assert narrowed["total_rows"] == by_payer[payer]
    sign_in(page, web_practice, "biller@demo.example")
    page.get_by_role("navigation", name="Conversations").get_by_role("button", name="Worklists").click()
    panel = page.get_by_role("region", name="Worklists").get_by_role("tabpanel")
    table = panel.get_by_role("table", name="Open denials", exact=True)
    expect(table.locator("tbody tr")).to_have_count(everything["total_rows"])
    filters = panel.get_by_role("form", name="Filters")
    expect(filters.get_by_role("button", name="Clear")).to_be_disabled()
    filters.get_by_label("Payer").select_option(payer)
    filters.get_by_role("button", name="Apply").click()
    expect(table.locator("tbody tr")).to_have_count(narrowed["total_rows"])
    assert set(column(table, "Payer")) == {payer}
    expect(panel.locator(".worklist-totals")).to_have_text(
        f"{narrowed['total_claims']} open denials: {dollars(narrowed['total_amount'])}"
    )
    trend = api.get("/api/worklists/denials/by-month", params={"payer": payer}).json()
    figure = panel.get_by_role("figure")
    figure.get_by_text("The figures as a table").click()
    counts = [int(t) for t in figure.locator(".trend-table tbody tr td:nth-child(2)").all_inner_texts()]
    assert counts == [m["claims"] for m in trend["months"]]  # the chart follows the filter
    with page.expect_download() as download:  # and so does the CSV
        panel.get_by_role("link", name="Download all as CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) - 1 == narrowed["total_rows"]
    expect(filters.get_by_label("Payer")).to_have_value(payer)  # the form shows what is applied
    shot(page, "worklist-filtered")

    # A reason that no open denial has: an empty list that says so, and Clear brings every row back.
    filters.get_by_label("Reason (CARC)").fill("CO-999")
    filters.get_by_role("button", name="Apply").click()
    expect(table.locator("tbody tr")).to_have_text(["No claims on this worklist."])
    filters.get_by_role("button", name="Clear").click()
    expect(table.locator("tbody tr")).to_have_count(everything["total_rows"])
    expect(filters.get_by_label("Payer")).to_have_value("")

    # Timely-filing risk with a wider window: the totals name it and the rows are the API's.
    page.get_by_role("region", name="Worklists").get_by_role("tab", name="Timely-filing risk").click()
    risk = api.get("/api/worklists/filing-risk", params={"within_days": 90, "page_size": 200}).json()
    filters = panel.get_by_role("form", name="Filters")
    expect(filters.get_by_label("Deadline within (days)")).to_have_value("30")
    filters.get_by_label("Deadline within (days)").fill("90")
    filters.get_by_role("button", name="Apply").click()
    risky = panel.get_by_role("table", name="Timely-filing risk", exact=True)
    expect(panel.locator(".worklist-totals")).to_have_text(
        f"{risk['total_claims']} claim{'' if risk['total_claims'] == 1 else 's'} near or past the filing limit"
        f" (90 days): {dollars(risk['total_amount'])}"
    )
    expect(risky.locator("tbody tr")).to_have_count(min(50, risk["total_rows"]) or 1)
    if risk["rows"]:
        assert column(risky, "Claim") == [r["claim_number"] for r in risk["rows"][:50]]
    shot(page, "worklist-filing-risk")


def test_an_answer_is_copied_regenerated_and_marked_not_helpful_with_a_comment(
    clipboard_page: Page, web_practice: WebPractice
) -> None:
    page = clipboard_page
    sign_in(page, web_practice, "coder@demo.example")
    ask(page, "what is E11.65?")
    first = page.locator(".msg.assistant").last
    expect(first.get_by_role("group", name="Was this helpful?")).to_be_visible()
    actions = first.get_by_role("group", name="Answer actions")
    actions.get_by_role("button", name="Copy").click()
    expect(actions.get_by_role("status")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == first.locator(".answer").inner_text().strip() and "E11.65" in copied
    assert "**" not in copied  # the answer as shown, not its markdown

    threads = page.request.get("/api/threads").json()
    actions.get_by_role("button", name="Regenerate").click()
    expect(page.locator(".msg.assistant")).to_have_count(2)
    second = page.locator(".msg.assistant").last
    expect(second.get_by_role("group", name="Was this helpful?")).to_be_visible()
    expect(second.locator(".answer")).to_contain_text("E11.65")
    thread_id = threads[0]["id"]
    asked = [m["text"] for m in page.request.get(f"/api/threads/{thread_id}").json()["messages"] if m["role"] == "user"]
    assert asked == ["what is E11.65?", "what is E11.65?"]  # asked again in the same conversation
    assert [t["id"] for t in page.request.get("/api/threads").json()] == [t["id"] for t in threads]

    feedback = second.get_by_role("group", name="Was this helpful?")
    feedback.get_by_role("button", name="Not helpful").click()
    box = feedback.get_by_label("What was wrong?")
    expect(box).to_be_focused()
    box.press("Escape")  # changing one's mind brings the buttons back, nothing is sent
    expect(feedback.get_by_role("button", name="Not helpful")).to_be_focused()
    feedback.get_by_role("button", name="Not helpful").click()
    comment = "It should say the 7th character does not apply here."
    feedback.get_by_label("What was wrong?").fill(comment)
    shot(page, "answer-not-helpful")
    feedback.get_by_role("button", name="Send").click()
    expect(feedback.get_by_role("status")).to_have_text("Thanks for the feedback.")
    with Session(web_practice.engine) as session:
        stored = session.scalars(select(Feedback).where(Feedback.thread_id == thread_id)).all()
    assert [(f.value, f.comment) for f in stored] == [(-1, comment)]
