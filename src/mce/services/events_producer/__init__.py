"""events-producer: synthetic shoppers' activity on the user-events topic, for demos, tests and benchmarks."""
