"""The analytics service: stores the unique-users windows the stream job counts and serves them to the dashboard."""
