"""Driver tests: the shared flow scenarios run through each driver (issue 4)."""
