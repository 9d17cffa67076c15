"""The Telegram bot (aiogram): handlers, formatting, the alert notifier and our API's client.

Nothing here imports the faust runtime (app.main, topics, tables, agents, web): updates reach the
dispatcher through `app.agents.telegram` and alerts the notifier through `app.agents.notify`, and
every reply or edit goes through our own HTTP API (`/devices`, `/watchlist`, `/subscriptions`), so
any worker can serve any chat.
"""
