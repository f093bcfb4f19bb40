"""One package per deployable service; services never import one another."""
