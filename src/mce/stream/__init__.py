"""The unique-users stream job: its window semantics, the embedded runner and its deployable."""
