"""What the hub tells its operators: Prometheus metrics (the holder on the Hub, the collectors that read
the database at scrape time, the scrape itself)."""
