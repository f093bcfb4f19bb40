"""In-memory stand-ins for the services, held to the same API contract tests as the real ones."""
