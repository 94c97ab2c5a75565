"""The machinery that runs untrusted learner code: the supervisor (runner, launcher), the
child process (child, plugin, capture, blocking detection) and the sandbox around it
(policy, scan, integrity, channel, processes, limits). What presents results lives outside
this package (grader.report, grader.explain, grader.gradescope)."""
