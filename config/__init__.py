"""Settings and the default configuration data (departments, workflows, calendars)."""
