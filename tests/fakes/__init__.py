"""Fakes of the platform's services for tests of their callers, each held to its service's API contract suite."""
