"""The load scenario that `make load` runs with Locust."""
