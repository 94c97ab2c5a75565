"""One module per grader command; cli.py only parses arguments and dispatches."""
