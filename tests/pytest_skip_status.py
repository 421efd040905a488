"""pytest plugin that CTest loads (tests/CMakeLists.txt: `-p pytest_skip_status`): when nothing
failed but a test was skipped, pytest exits with LIMIT_EVAL_PYTEST_SKIP_STATUS (77), which CTest's
SKIP_RETURN_CODE reports as "Skipped" instead of "Passed". The skip reasons are in the test's output
(pytest runs with -rs). A failure keeps its own exit status."""

from __future__ import annotations

import os


def pytest_sessionfinish(session, exitstatus):
    status = os.environ.get("LIMIT_EVAL_PYTEST_SKIP_STATUS")
    if not status or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped"):
        session.exitstatus = int(status)
