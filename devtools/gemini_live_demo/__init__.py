"""The end-to-end demo and the simulated Wyoming satellite it (and the tests) use; development tools only."""
