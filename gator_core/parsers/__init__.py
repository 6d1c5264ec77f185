"""Log parsers that come with Gator (each registered as a plugin, like a third party's)."""
