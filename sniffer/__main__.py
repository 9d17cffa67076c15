"""`python -m sniffer` runs the probewatch-sniffer command line."""

from sniffer.cli import main

raise SystemExit(main())
