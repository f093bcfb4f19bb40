"""Shopping carts: one document per cart, changed by conditional writes, with their change events."""
