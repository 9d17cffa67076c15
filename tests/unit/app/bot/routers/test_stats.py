"""`/stats` through a real Dispatcher: the report list, a report's table, who may ask, failures."""

from __future__ import annotations

from tests.unit.app.bot.conftest import BOT_USERNAME, GROUP, Chat, FakeApi


async def test_stats_alone_lists_the_reports(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say("/stats")
    assert reply.text.startswith("📊 <b>Reports</b> over the history")
    for name in ("messages-per-day", "presence", "top-ssids-per-day", "probes-per-hour"):
        assert f"• <code>{name}</code>: " in reply.text
    assert "(mac=, gap=)" in reply.text and "(top=)" in reply.text
    assert fake_api.requests[-1][:2] == ("GET", "/analytics")


async def test_a_report_is_answered_as_a_table(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say("/stats messages-per-day 2026-11-18 2026-11-20")
    assert reply.text == (
        "📊 <b>messages-per-day</b> (since 2026-11-18, until 2026-11-20), 2 rows, times in UTC:\n"
        "<pre>day         messages\n"
        "2026-11-18         4\n"
        "2026-11-19        12</pre>"
    )
    asked = fake_api.requests[-1][1]
    assert asked == "/analytics/messages-per-day?since=2026-11-18&until=2026-11-20"


async def test_presence_takes_a_mac_and_a_gap(chat: Chat, fake_api: FakeApi) -> None:
    [reply] = await chat.say("/stats presence F0-18-98-11-22-33 gap=20")
    assert reply.text.startswith("📊 <b>presence</b> (mac f0:18:98:11:22:33, gap 20): no rows")
    asked = fake_api.requests[-1][1]
    assert asked == "/analytics/presence?mac=f0:18:98:11:22:33&gap_minutes=20"


async def test_only_chats_allowed_to_see_reports_get_them(chat: Chat, fake_api: FakeApi) -> None:
    for text in ("/stats", "/stats messages-per-day", f"/stats@{BOT_USERNAME} messages-per-day"):
        [refusal] = await chat.say_in_group(text)
        assert refusal.text.startswith("Sorry, reports are not open to this chat")
        assert f"<code>{GROUP}</code>" in refusal.text
        assert "PROBEWATCH_TELEGRAM_STATS_CHATS" in refusal.text
    assert not [path for _, path, _ in fake_api.requests if path.startswith("/analytics")]


async def test_a_report_that_does_not_exist(chat: Chat) -> None:
    [reply] = await chat.say("/stats messages-per-week")
    assert reply.text == "There is no report <code>messages-per-week</code>. /stats lists them."


async def test_what_the_api_refuses_is_passed_on(chat: Chat) -> None:
    [reply] = await chat.say("/stats presence gap=0")
    assert reply.text.startswith(
        "That report was refused: mac: give the device's MAC, aa:bb:cc:dd:ee:ff.\n"
    )
    [reply] = await chat.say("/stats presence f0:18:98:11:22:33 gap=0")
    assert reply.text.startswith("That report was refused: gap: must be a whole number from 1")
    [reply] = await chat.say("/stats messages-per-day top=3")
    assert reply.text.startswith("That report was refused: top: is not a parameter of this report")
    [reply] = await chat.say("/stats messages-per-day 2026-11-20 2026-11-18")
    assert reply.text.startswith("That report was refused: until: must be after since.")
    [reply] = await chat.say("/stats messages-per-day yesterday")
    assert "since: must be epoch seconds or an ISO-8601 time" in reply.text


async def test_arguments_that_cannot_be_read_get_the_usage(chat: Chat, fake_api: FakeApi) -> None:
    before = len(fake_api.requests)
    [reply] = await chat.say("/stats messages-per-day colour=red")
    assert reply.text.startswith("I could not read that: colour= is not something a report")
    assert "<code>/stats &lt;report&gt; [since] [until]</code>" in reply.text
    assert len(fake_api.requests) == before


async def test_no_lake_is_said_plainly(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.lake = False
    [reply] = await chat.say("/stats messages-per-day")
    assert reply.text.startswith("There is no history to report on: there is no lake")


async def test_the_api_down_is_said_plainly(chat: Chat, fake_api: FakeApi) -> None:
    fake_api.fail_with = [500]
    [reply] = await chat.say("/stats messages-per-day")
    assert reply.text.startswith("⚠️ That did not work: the API answered HTTP 500.")
    fake_api.fail_with = [502]
    [reply] = await chat.say("/stats")
    assert reply.text.startswith("⚠️ That did not work: the API answered HTTP 502.")


async def test_a_long_report_is_cut_to_one_message(chat: Chat, fake_api: FakeApi) -> None:
    rows = [{"day": f"2026-01-{1 + i % 28:02}", "messages": i} for i in range(2000)]
    fake_api.reports["messages-per-day"] = {"columns": ["day", "messages"], "rows": rows}
    [reply] = await chat.say("/stats messages-per-day")
    assert reply.text.startswith("📊 <b>messages-per-day</b>, 2000 rows, times in UTC:\n<pre>")
    shown = reply.text.split("</pre>")[0].split("\n")[2:]
    assert shown[0] == "2026-01-01         0" and len(shown) > 100
    assert reply.text.endswith(f"</pre>\n… and {2000 - len(shown)} more")  # the fake refuses
    # a message over 4096 characters, as Telegram does: the reply arriving shows it fits
