"""APScheduler 3.11 wiring: the one tick job (sweep, then notification dispatch), the cron jobs,
and the database lease that elects one active scheduler among several processes."""
