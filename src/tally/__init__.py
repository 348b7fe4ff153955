"""tally: a self-hostable usage-based billing engine that speaks Metronome's API."""

__version__ = "0.1.0"
