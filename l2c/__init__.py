"""Lead-to-Cash warehouse package."""
