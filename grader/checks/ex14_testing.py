"""Checks for chapter 14: the learner's tests, judged by the faults they catch.

Every check is one faulty version of the given to-do app (grader/lab/todo_app.py, the
grader's copy of exercises/ex14_todo_app.py), named for what a user of the app would see.
The learner's tests run on the given app first (all must pass, twice; see
grader.lab.learner_tests), then on the faulty one: the check passes when one of them fails.
Three faults show only when requests overlap, one only in a loop that stops running.

A fault changes lines of the app and never moves one (grader.lab.learner_tests.app_version
pads a shorter edit with blank lines and refuses a longer one, `;` joins statements): a
faulty app differs from the given one only in what it does.
"""

from grader.lab import Learner, check
from grader.lab.learner_tests import Fault, expect_caught, register_given_app

register_given_app()  # before the learner's file is imported: it may import the app

# The given app's code that the faults below rewrite.
CREATED = "        todo = await todos.add(title, done)\n        return todo, 201\n"
NEW_ID = "        self._last_id += 1\n        todo_id = self._last_id\n"
STRIPPED = (
    '        raise InvalidTodo(f"title must be at most {MAX_TITLE} characters")\n    return title\n'
)
TITLE_REQUIRED = (
    '        if "title" not in body:\n            raise InvalidTodo("title is required")\n'
)
FOUND = (
    "        todo = await todos.get(todo_id)\n"
    "        if todo is None:\n"
    '            raise NotFound(f"there is no to-do {todo_id}")\n'
    "        return todo\n"
)
DONE_IF_SENT = '        if "done" in body:\n            changes["done"] = read_done(body["done"])\n'
BAD_FILTER = (
    '            raise InvalidTodo("done must be true or false")\n'
    '        return {"todos": await todos.select(done)}\n'
)

# --- task 1: creating and reading one to-do ---------------------------------------------

ANSWERED_200 = Fault(
    ((CREATED, CREATED.replace("return todo, 201", "return todo")),),
    "Assert the status of every answer, not only its body: a new to-do is 201 Created.",
)
IDS_FROM_0 = Fault(
    ((NEW_ID, "        todo_id = self._last_id\n        self._last_id += 1\n"),),
    'Compare the whole answer with exact values: `assert body == {"id": 1, ...}`. '
    '`assert "id" in body` passes whatever the id is.',
)
UNKNOWN_ID_CRASHES = Fault(
    ((FOUND, "        return await todos.get(todo_id)\n"),),
    "Ask for an id that does not exist, too: the answer must be a 404 with a JSON error.",
)

# --- task 2: bad input is refused --------------------------------------------------------

TITLE_NOT_STRIPPED = Fault(
    ((STRIPPED, STRIPPED.replace("return title", "return value")),),
    'Send a title with spaces around it, such as "  Buy milk  ", and check what is stored.',
)
BLANK_TITLE_ACCEPTED = Fault(
    (("    if not title:\n", "    if not value:\n"),),
    "An empty title is refused; what about a title that is only spaces?",
)
LONGEST_TITLE_REFUSED = Fault(
    (("if len(title) > MAX_TITLE:", "if len(title) >= MAX_TITLE:"),),
    "Test the edges of a rule: the longest title allowed (200 characters) is accepted, one "
    "character more is refused.",
)
MISSING_TITLE_CRASHES = Fault(
    ((TITLE_REQUIRED, ""),),
    "Send a body without a title: the answer must be a 400 with a JSON error, not a 500.",
)
DONE_NOT_CHECKED = Fault(
    (
        (
            '        done = read_done(body.get("done", False))\n',
            '        done = bool(body.get("done", False))\n',
        ),
    ),
    'Send a `done` that is not true or false ("yes", 1, null): each must be refused with a 400.',
)

# --- task 3: listing, filtering, counting -----------------------------------------------

NEWEST_FIRST = Fault(
    (("sorted(self._todos.items())", "sorted(self._todos.items(), reverse=True)"),),
    "Create a few to-dos and compare the whole list, in order: it is sorted by id.",
)
DONE_FALSE_LISTS_DONE = Fault(
    (('            done = flag == "true"\n', "            done = bool(flag)\n"),),
    "Test both filters, ?done=true and ?done=false, on a list that has both kinds of to-do.",
)
BAD_FILTER_IGNORED = Fault(
    (
        (
            BAD_FILTER,
            BAD_FILTER.replace('raise InvalidTodo("done must be true or false")', "done = None"),
        ),
    ),
    "What does GET /todos?done=yes answer? The contract says 400.",
)
STATS_OPEN_WRONG = Fault(
    (('"open": len(every) - finished', '"open": len(every)'),),
    "Check every number of the stats, with some to-dos done and some open.",
)

# --- task 4: updating and deleting ------------------------------------------------------

PATCH_RESETS_DONE = Fault(
    ((DONE_IF_SENT, '        changes["done"] = read_done(body.get("done", False))\n'),),
    "Update a to-do that is done, sending only its title: what happens to `done`?",
)
PATCH_TITLE_NOT_CHECKED = Fault(
    (
        (
            '            changes["title"] = read_title(body["title"])\n',
            '            changes["title"] = body["title"]\n',
        ),
    ),
    "An update is input too: send it a bad title and expect a 400.",
)
DELETE_NOT_AWAITED = Fault(
    (("if not await todos.delete(todo_id):", "if not todos.delete(todo_id):"),),
    "An answer of 204 is not proof: after the DELETE, ask for the to-do again.",
)

# --- task 5: requests that overlap ------------------------------------------------------

IDS_RACE = Fault(
    (
        (
            NEW_ID + "        await self._query()\n",
            "        todo_id = self._last_id + 1\n"
            "        await self._query()\n"
            "        self._last_id = todo_id\n",
        ),
    ),
    "One request at a time never shows it. Send several POSTs at once "
    "(`await asyncio.gather(...)`) and check that every answer has an id of its own.",
)
ANSWERED_WITH_ANOTHER = Fault(
    (
        (
            CREATED,
            "        await todos.add(title, done)\n"
            "        return (await todos.select())[-1], 201\n",
        ),
    ),
    "Send several POSTs at once with different titles, and check that each answer is the "
    "to-do that request created.",
)
LOST_UPDATE = Fault(
    (
        (
            "        todo = await todos.update(todo_id, changes)\n",
            # Reads the whole to-do, then writes it all back after the store's wait.
            "        todo = await todos.update(todo_id, "
            "{**(await todos.get(todo_id) or {}), **changes})\n",
        ),
    ),
    "Send two updates of one to-do at once (one changes the title, the other `done`), then "
    "check that the to-do has both changes.",
)

# --- task 6: a blocked event loop -------------------------------------------------------

BLOCKING_STORE = Fault(
    (
        # A blocking wait (time.sleep, as a sync database driver does). A tenth of the delay
        # in real time keeps the check quick; in loop time it takes nothing, which is the point.
        # Imported where it is used: the module's names stay those of the given app.
        (
            "        await asyncio.sleep(self.delay)\n",
            '        __import__("time").sleep(self.delay / 10)\n',
        ),
    ),
    "Every answer is still right: only the event loop shows it. Run a task beside the "
    "requests (one that counts `await asyncio.sleep(0.01)` ticks) and check that it kept "
    "running, or measure the requests in loop time.",
)


@check("a new to-do is answered 200 instead of 201 Created", task=1)
def test_created_status(learner: Learner) -> None:
    expect_caught(learner, ANSWERED_200)


@check("the first to-do gets the id 0", task=1)
def test_ids_start_at_one(learner: Learner) -> None:
    expect_caught(learner, IDS_FROM_0)


@check("asking for a to-do that does not exist crashes the app instead of a 404", task=1)
def test_unknown_id(learner: Learner) -> None:
    expect_caught(learner, UNKNOWN_ID_CRASHES)


@check("titles are stored with the spaces around them", task=2)
def test_title_stripped(learner: Learner) -> None:
    expect_caught(learner, TITLE_NOT_STRIPPED)


@check("a title of only spaces is accepted", task=2)
def test_blank_title(learner: Learner) -> None:
    expect_caught(learner, BLANK_TITLE_ACCEPTED)


@check("a title of exactly 200 characters is refused", task=2)
def test_longest_title(learner: Learner) -> None:
    expect_caught(learner, LONGEST_TITLE_REFUSED)


@check("a POST without a title crashes the app instead of a 400", task=2)
def test_missing_title(learner: Learner) -> None:
    expect_caught(learner, MISSING_TITLE_CRASHES)


@check("a `done` that is not true or false is accepted", task=2)
def test_done_checked(learner: Learner) -> None:
    expect_caught(learner, DONE_NOT_CHECKED)


@check("the list comes newest first instead of by id", task=3)
def test_list_order(learner: Learner) -> None:
    expect_caught(learner, NEWEST_FIRST)


@check("?done=false lists the finished to-dos", task=3)
def test_filter_false(learner: Learner) -> None:
    expect_caught(learner, DONE_FALSE_LISTS_DONE)


@check("a ?done= value other than true or false is ignored instead of refused", task=3)
def test_bad_filter(learner: Learner) -> None:
    expect_caught(learner, BAD_FILTER_IGNORED)


@check("the stats count finished to-dos as open", task=3)
def test_stats(learner: Learner) -> None:
    expect_caught(learner, STATS_OPEN_WRONG)


@check("updating only the title marks a finished to-do as not done", task=4)
def test_update_keeps_fields(learner: Learner) -> None:
    expect_caught(learner, PATCH_RESETS_DONE)


@check("an update can give a to-do an empty title", task=4)
def test_update_validated(learner: Learner) -> None:
    expect_caught(learner, PATCH_TITLE_NOT_CHECKED)


@check("a deleted to-do is still there afterwards", task=4)
def test_delete_deletes(learner: Learner) -> None:
    expect_caught(learner, DELETE_NOT_AWAITED)


@check("a to-do can be created twice with the same id when requests overlap", task=5)
def test_ids_unique_under_overlap(learner: Learner) -> None:
    expect_caught(learner, IDS_RACE)


@check("when two POSTs overlap, one is answered with the other's to-do", task=5)
def test_answers_under_overlap(learner: Learner) -> None:
    expect_caught(learner, ANSWERED_WITH_ANOTHER)


@check("of two updates to one to-do that overlap, one is lost", task=5)
def test_updates_under_overlap(learner: Learner) -> None:
    expect_caught(learner, LOST_UPDATE)


@check("while the app waits for its store, nothing else on the server runs", task=6)
def test_loop_not_blocked(learner: Learner) -> None:
    expect_caught(learner, BLOCKING_STORE)
