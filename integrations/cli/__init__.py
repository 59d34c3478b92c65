"""The `billing-assistant` command line: a thin shell over the same functions the agent calls."""
