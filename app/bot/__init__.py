"""The Telegram bot (aiogram): handlers, formatting and the client of our own HTTP API.

Nothing here imports the faust runtime (app.main, topics, tables, agents, web): updates reach the
dispatcher through `app.agents.telegram`, and replies are built from what `GET /devices/{mac}`
answers, so any worker can serve any chat.
"""
