"""The course's autograder: `grader check NN` runs a chapter's checks on a learner's file.

Public surface: the command line (grader.cli), `grader.notebook.check` for the last cell of
each notebook, and `grader.lab` for writing checks.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
