"""A creator uses the dashboard in a real browser: sign in through the dev sign-in's creator
choice, upload by file picker and by drag and drop, watch the statuses, delete, edit the
persona, try the preview, and read the content gaps fans leave behind."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

import httpx
from creator_chat.local.runtime import LocalRuntime
from playwright.sync_api import FilePayload, Page, expect

from tests.e2e.conftest import TokenFactory, bearer
from tests.unit.test_parsers import make_pdf

from .conftest import PHONE

PROCESSING_TIMEOUT_MS = 90_000
VIDEO_URL = "https://www.youtube.com/watch?v=Gr4velTyre1"
VTT = """WEBVTT

00:00:00.000 --> 00:00:07.000
Welcome back to the trail, today we set up a gravel bike for a long race.

00:00:07.000 --> 00:00:16.000
For gravel racing I run the tubeless tyres at thirty two psi in the front, thirty four in the back.

00:00:16.000 --> 00:00:25.000
Check the sealant every two months: shake the wheel and listen for the slosh.
"""
PDF = make_pdf(
    [
        ["Derailleur Manual", "Indexing the rear derailleur", "Turn the barrel adjuster a"],
        ["half turn anticlockwise when the chain hesitates on the larger cogs."],
    ]
)


def new_creator(page: Page, runtime: LocalRuntime, name: str | None = None) -> dict[str, str]:
    """Sign in on the dashboard as the owner of a new creator; its name and slug."""
    name = name or f"Trail Lab {uuid.uuid4().hex[:6]}"
    page.goto(runtime.url + "/dashboard")
    expect(page.get_by_role("heading", name="Sign in to your dashboard")).to_be_visible()
    page.get_by_label("User id").fill(f"owner-{uuid.uuid4().hex[:6]}")
    page.get_by_label("Creator", exact=True).select_option(label="A new creator…")
    new = page.get_by_role("group", name="The new creator")
    new.get_by_label("Name").fill(name)
    slug = new.get_by_label("Address").input_value()  # follows the name
    assert slug == name.lower().replace(" ", "-"), slug
    page.get_by_role("button", name="Sign in", exact=True).click()
    heading = page.get_by_role("heading", name=f"{name}: dashboard")
    expect(heading).to_be_focused()  # where the page went, for a screen reader too
    return {"name": name, "slug": slug}


def creator_id(api: httpx.Client, token: TokenFactory, slug: str) -> str:
    r = api.get(f"/v1/creators/{slug}", headers=bearer(token("admin-dash", "admin")))
    assert r.status_code == 200, r.text
    return str(r.json()["creator_id"])


def document(page: Page, title: str):
    """A document of the list, by its title."""
    return page.locator("#documents .doc").filter(
        has=page.locator(".doc-title", has_text=re.compile(rf"^{re.escape(title)}\b"))
    )


def drop_file(page: Page, name: str, data: bytes, mime: str, *, pad_to: int = 0) -> None:
    """Drag a file from the desktop onto the drop zone (dragenter, dragover, drop); ``pad_to``
    makes it that many bytes, with zeros made in the page (nothing large crosses to it)."""
    transfer = page.evaluate_handle(
        """([name, b64, type, padTo]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const padding = new Uint8Array(Math.max(0, padTo - bytes.length));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes, padding], name, { type }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode(), mime, pad_to],
    )
    for event in ("dragenter", "dragover"):
        page.dispatch_event("#drop", event, {"dataTransfer": transfer})
    expect(page.locator("#drop")).to_have_class(re.compile(r"\bover\b"))
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    expect(page.locator("#drop")).not_to_have_class(re.compile(r"\bover\b"))


def choose_files(page: Page, *files: FilePayload) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").click()
    chooser.value.set_files(list(files))


def test_a_creator_uploads_watches_both_files_finish_deletes_one_and_edits_the_persona(
    page: Page, runtime: LocalRuntime, api: httpx.Client, token: TokenFactory
):
    creator = new_creator(page, runtime)
    cid = creator_id(api, token, creator["slug"])
    expect(page.locator("#documents-empty")).to_be_visible()
    expect(page.get_by_role("link", name=f"/c/{creator['slug']}")).to_have_attribute(
        "href", f"/c/{creator['slug']}"
    )

    # every status each document shows, in order, as the page polls
    page.evaluate(
        """() => {
            window.seen = {};
            const record = () => {
                for (const li of document.querySelectorAll("#documents .doc")) {
                    const title = li.querySelector(".doc-title").textContent
                        .replace(" (opens in a new tab)", "");
                    const statuses = (window.seen[title] = window.seen[title] || []);
                    if (statuses.at(-1) !== li.dataset.status) statuses.push(li.dataset.status);
                }
            };
            new MutationObserver(record).observe(
                document.getElementById("documents"), { childList: true, subtree: true });
        }"""
    )

    # a VTT through the file picker, with the video it captions; a PDF dropped on the zone
    page.get_by_label("Link for the next file (optional)").fill(VIDEO_URL)
    choose_files(
        page, {"name": "gravel-race-setup.vtt", "mimeType": "text/vtt", "buffer": VTT.encode()}
    )
    drop_file(page, "derailleur_manual.pdf", PDF, "application/pdf")

    vtt, pdf = document(page, "gravel race setup"), document(page, "derailleur manual")
    for doc in (vtt, pdf):
        expect(doc).to_be_visible()
        expect(doc.locator(".badge")).to_have_text("Done", timeout=PROCESSING_TIMEOUT_MS)
        expect(doc).to_contain_text(re.compile(r"\d+ passages?"))
    expect(page.locator("#announcer")).to_contain_text("is ready")
    seen = page.evaluate("window.seen")
    order = ["queued", "processing", "done"]
    for title in ("gravel race setup", "derailleur manual"):
        statuses = seen[title]  # live: forward only, through whichever steps a poll caught
        assert statuses[-1] == "done", seen
        assert statuses == sorted(statuses, key=order.index), seen
    expect(page.get_by_label("Link for the next file (optional)")).to_have_value("")
    listed = api.get(f"/v1/creators/{cid}/documents", headers=bearer(token("admin-dash", "admin")))
    by_title = {d["title"]: d for d in listed.json()["documents"]}
    assert by_title["gravel race setup"]["status"] == "done"
    assert by_title["gravel race setup"]["video_id"] == "Gr4velTyre1"
    assert by_title["gravel race setup"]["source_url"] == VIDEO_URL
    assert by_title["derailleur manual"]["status"] == "done"
    assert by_title["derailleur manual"]["kind"] == "pdf"

    # what would my assistant see: the passage that answers, linked at its second
    page.get_by_label("A fan's question").fill("What tyre pressure for gravel racing?")
    page.get_by_role("button", name="Try it").click()
    hit = page.locator("#preview-results .hit").first
    expect(hit).to_contain_text("thirty two psi")
    link = hit.get_by_role("link")
    # (the passage's own start: this short video is one passage, from 0:00)
    expect(link).to_have_attribute("href", re.compile(r"youtube\.com/watch\?v=Gr4velTyre1&t=0s$"))
    expect(link).to_contain_text("gravel race setup, at 0:00")
    page.get_by_label("A fan's question").fill("Which espresso grinder should I buy?")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#preview-status")).to_contain_text("Nothing in your content answers this")
    expect(page.locator("#preview-results .hit")).to_have_count(0)

    # delete the PDF: a confirmation first (Escape keeps it), then it is gone
    delete = page.get_by_role("button", name="Delete “derailleur manual”")
    delete.click()
    dialog = page.get_by_role("dialog", name="Delete this document?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    expect(pdf).to_be_visible()
    delete.click()
    dialog.get_by_role("button", name="Delete").click()
    expect(pdf).to_have_count(0)
    expect(vtt).to_be_visible()
    expect(page.locator("#announcer")).to_have_text("Deleted “derailleur manual”.")
    expect(page.get_by_role("button", name="Delete “gravel race setup”")).to_be_focused()
    gone = api.get(
        f"/v1/creators/{cid}/documents/{by_title['derailleur manual']['document_id']}",
        headers=bearer(token("admin-dash", "admin")),
    )
    assert gone.status_code == 404

    # edit the persona and the specialty: saved, and still there after a reload
    persona = "Friendly and brief; talks to weekend racers; metric units first."
    page.get_by_label("Persona", exact=True).fill(persona)
    page.get_by_label("Specialty").fill("Gravel bikes and long races")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-status")).to_contain_text("Saved at")
    saved = api.get(f"/v1/creators/{cid}", headers=bearer(token("admin-dash", "admin"))).json()
    assert saved["persona"] == persona and saved["specialty"] == "Gravel bikes and long races"
    page.reload()
    expect(page.get_by_label("Persona", exact=True)).to_have_value(persona)
    expect(vtt.locator(".badge")).to_have_text("Done")


def test_unsupported_and_too_large_files_are_refused_with_a_clear_reason(
    page: Page, runtime: LocalRuntime, api: httpx.Client, token: TokenFactory
):
    creator = new_creator(page, runtime)
    limit = httpx.get(runtime.url + "/config.json").json()["max_upload_bytes"]
    choose_files(
        page,
        {"name": "thumbnail.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n"},
        {"name": "notes.md", "mimeType": "text/markdown", "buffer": b""},
    )
    drop_file(page, "whole-season.pdf", b"%PDF-1.4\n", "application/pdf", pad_to=limit + 1)
    log = page.locator("#upload-log")
    expect(log.locator(".upload-item", has_text="thumbnail.png")).to_contain_text(
        "not a supported type: upload .vtt, .srt, .json (YouTube transcript), .md, .txt or .pdf"
    )
    expect(log.locator(".upload-item", has_text="notes.md")).to_contain_text("the file is empty")
    expect(log.locator(".upload-item", has_text="whole-season.pdf")).to_contain_text(
        "too large (5.0 MB): the limit is 5.0 MB a file."
    )
    expect(log.locator(".upload-item.failed")).to_have_count(3)
    expect(page.locator("#documents-empty")).to_be_visible()
    cid = creator_id(api, token, creator["slug"])
    docs = api.get(f"/v1/creators/{cid}/documents", headers=bearer(token("admin-dash", "admin")))
    assert docs.json()["documents"] == []  # nothing was asked of the server


def test_a_content_gap_shows_once_three_different_fans_asked_and_not_before(
    page: Page, runtime: LocalRuntime, api: httpx.Client, token: TokenFactory
):
    creator = new_creator(page, runtime)
    cid = creator_id(api, token, creator["slug"])
    question = f"Do you sell replacement saddles for the model {uuid.uuid4().hex[:4]}?"

    def fan_asks(fan: str) -> None:
        r = api.post(
            f"/v1/creators/{cid}/chat", json={"message": question}, headers=bearer(token(fan))
        )
        assert r.status_code == 200, r.text

    gaps = page.locator("#gap-list")
    refresh = page.locator("#gaps").get_by_role("button", name="Refresh")
    expect(page.locator("#gaps-status")).to_contain_text("No gaps yet")
    fans = [f"gap-fan-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    fan_asks(fans[0])
    fan_asks(fans[1])
    fan_asks(fans[1])  # the same fan again counts once
    owner = bearer(token("owner-gaps", "creator", creator=cid))
    assert api.get(f"/v1/creators/{cid}/gaps", headers=owner).json()["gaps"] == []
    refresh.click()
    # refreshed (the announcement comes once the list is drawn), and still nothing to show
    expect(page.locator("#announcer")).to_have_text("Content gaps refreshed.")
    expect(gaps.locator(".gap")).to_have_count(0)
    expect(page.locator("#gaps-status")).to_contain_text("No gaps yet")

    fan_asks(fans[2])
    refresh.click()
    gap = gaps.locator(".gap", has=page.get_by_text(question, exact=True))
    expect(gap).to_be_visible()
    expect(gap).to_contain_text("3 fans · asked 4 times · last")
    expect(gaps.locator(".gap")).to_have_count(1)
    # the analytics panel counts the same questions, none found in the content
    page.locator("#analytics").get_by_role("button", name="Refresh").click()
    totals = page.locator("#totals")
    expect(totals.locator("div", has_text="Questions").locator("dd")).to_have_text("4")
    expect(totals.locator("div", has_text="Not in your content").locator("dd")).to_have_text(
        "4 (100%)"
    )
    expect(page.locator("#days tbody tr").first).to_be_visible()


def test_at_phone_width_the_dashboard_does_not_scroll_sideways(
    phone_page: Page, runtime: LocalRuntime, screenshots: Path
):
    page = phone_page
    new_creator(page, runtime, name=f"A Rather Long Creator Name For Phones {uuid.uuid4().hex[:4]}")
    choose_files(
        page,
        {
            "name": "a-very-long-file-name-for-a-phone-screen-about-tyres.vtt",
            "mimeType": "text/vtt",
            "buffer": VTT.encode(),
        },
    )
    doc = document(page, "a very long file name for a phone screen about tyres")
    expect(doc.locator(".badge")).to_have_text("Done", timeout=PROCESSING_TIMEOUT_MS)
    page.get_by_label("A fan's question").fill("What tyre pressure for gravel racing?")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#preview-results .hit").first).to_be_visible()

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    controls = "button:visible, a:visible, input:visible, textarea:visible, select:visible, h1, h2"
    for box in page.locator(controls).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })"
    ):
        assert box[0] >= 0 and box[1] <= PHONE["width"], box

    doc.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    dialog.get_by_role("button", name="Keep it").click()

    shot = screenshots / "dashboard-375px.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_the_dashboard_works_with_the_keyboard_alone(page: Page, runtime: LocalRuntime):
    page.goto(runtime.url + "/dashboard")
    user_id = page.get_by_label("User id")
    expect(user_id).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the dashboard")).to_be_focused()
    for _ in range(5):
        page.keyboard.press("Tab")
        if user_id.evaluate("el => el === document.activeElement"):
            break
    expect(user_id).to_be_focused()
    page.keyboard.press("Tab")
    creator = page.get_by_label("Creator", exact=True)
    expect(creator).to_be_focused()
    creator.select_option(label="A new creator…")  # what arrow keys do in a native select
    page.keyboard.press("Tab")
    expect(page.get_by_role("group", name="The new creator").get_by_label("Name")).to_be_focused()
    name = f"Keys Only {uuid.uuid4().hex[:6]}"
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Address")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"{name}: dashboard")).to_be_focused()

    # on to the preview and the profile without a mouse
    order: list[str] = []
    for _ in range(15):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        if order[-1] == "preview-query":
            break
    assert order.index("choose") < order.index("source-url") < order.index("p-name"), order
    assert order[-1] == "preview-query", order
    page.keyboard.type("What is in my content?")
    page.keyboard.press("Enter")
    expect(page.locator("#preview-status")).to_contain_text("Nothing in your content answers this")


def test_fans_ratings_show_per_week_and_a_down_rated_question_once_three_fans_rated_it(
    page: Page, runtime: LocalRuntime, api: httpx.Client, token: TokenFactory
):
    creator = new_creator(page, runtime)
    cid = creator_id(api, token, creator["slug"])
    question = f"Is the frame warranty transferable {uuid.uuid4().hex[:4]}?"
    panel = page.locator("#feedback")
    expect(page.locator("#feedback-status")).to_contain_text("No ratings from fans yet")

    def fan_rates(fan: str, rating: str) -> None:
        tok = bearer(token(fan))
        r = api.post(f"/v1/creators/{cid}/chat", json={"message": question}, headers=tok)
        assert r.status_code == 200, r.text
        rated = api.post(
            f"/v1/messages/{r.json()['message_id']}/feedback", json={"rating": rating}, headers=tok
        )
        assert rated.status_code == 204, rated.text

    fans = [f"rating-fan-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    fan_rates(fans[0], "down")
    fan_rates(fans[1], "down")
    fan_rates(fans[2], "up")
    panel.get_by_role("button", name="Refresh").click()
    expect(page.locator("#announcer")).to_have_text("Ratings refreshed.")
    row = page.locator("#weeks tbody tr").first
    expect(row.locator("td")).to_have_text(["1", "2"])
    expect(page.locator("#down-rated .gap")).to_have_count(0)  # two fans: not shown yet

    fan_rates(fans[3], "down")
    panel.get_by_role("button", name="Refresh").click()
    expect(row.locator("td")).to_have_text(["1", "3"])
    down = page.locator("#down-rated .gap")
    expect(down).to_have_count(1)
    expect(down).to_contain_text(question)
    expect(down).to_contain_text("3 fans rated the answer down")
