"""Shared building blocks every service uses: settings, app factory, errors, logging, HTTP client, events."""
