"""The topics a worker creates before faust starts cover every table's changelog."""

from __future__ import annotations

from faust import App

from app.topics import TABLE_CHANGELOGS, changelog_topic


def test_every_table_changelog_is_created_before_the_worker_starts(app: App) -> None:
    declared = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    assert {changelog_topic(table) for table in TABLE_CHANGELOGS} == declared
