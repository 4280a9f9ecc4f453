"""daily-papers-newsletter: feeds, email issues and a web archive from daily paper digests."""

__version__ = "0.1.0"
