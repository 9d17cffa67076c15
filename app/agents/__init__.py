"""Stream processors: the only code that writes tables."""
