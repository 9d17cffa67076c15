"""One router per handler module; `app.bot.dispatcher` includes them, catch-all last."""
