"""The `hongbao` command: parses, calls the packages, renders. No logic of its own."""
