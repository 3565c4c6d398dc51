"""The `koe` command line: set up, run and administer Koe."""
