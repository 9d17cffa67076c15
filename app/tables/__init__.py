"""Table declarations; agents are their only writers, web views only read them."""
