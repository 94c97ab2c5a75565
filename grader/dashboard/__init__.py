"""The live workshop dashboard (`grader serve`): learners' `grader check --share` results,
live, for the teacher. A small Quart app with a WebSocket, stored in SQLite, served by
Hypercorn; the page and its script are in this package (page.html): nothing from the
internet."""

from .app import create_app

__all__ = ["create_app"]
