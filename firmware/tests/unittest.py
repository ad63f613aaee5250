# SPDX-License-Identifier: Apache-2.0
"""A tiny subset of ``unittest`` for the MicroPython unix port, which has none.

The API is the standard one (TestCase, assert*, assertRaises as a context
manager), so the test modules read like CPython tests and would run
unchanged under micropython-lib's ``unittest`` on a board. MicroPython has
no test discovery: ``run.py`` lists the test classes explicitly.
"""


class SkipTest(Exception):
    pass


class _Raises:
    def __init__(self, exc):
        self.exc = exc
        self.exception = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("%s not raised" % self.exc.__name__)
        if issubclass(exc_type, self.exc):
            self.exception = exc
            return True
        return False


class TestCase:
    def setUp(self):
        pass

    def tearDown(self):
        pass

    def assertEqual(self, a, b, msg=None):
        if a != b:
            raise AssertionError(msg or "%r != %r" % (a, b))

    def assertNotEqual(self, a, b, msg=None):
        if a == b:
            raise AssertionError(msg or "%r == %r" % (a, b))

    def assertTrue(self, x, msg=None):
        if not x:
            raise AssertionError(msg or "%r is not true" % (x,))

    def assertFalse(self, x, msg=None):
        if x:
            raise AssertionError(msg or "%r is not false" % (x,))

    def assertIn(self, a, b, msg=None):
        if a not in b:
            raise AssertionError(msg or "%r not in %r" % (a, b))

    def assertNotIn(self, a, b, msg=None):
        if a in b:
            raise AssertionError(msg or "%r in %r" % (a, b))

    def assertIsNone(self, x, msg=None):
        if x is not None:
            raise AssertionError(msg or "%r is not None" % (x,))

    def assertRaises(self, exc):
        return _Raises(exc)


def run_classes(classes):
    """Run every ``test*`` method of ``classes``; return (run, failures)."""
    run = 0
    failures = []
    for cls in classes:
        for name in sorted(dir(cls)):
            if not name.startswith("test"):
                continue
            case = cls()
            run += 1
            try:
                case.setUp()
                try:
                    getattr(case, name)()
                finally:
                    case.tearDown()
                print("ok   %s.%s" % (cls.__name__, name))
            except SkipTest:
                print("skip %s.%s" % (cls.__name__, name))
            except Exception as error:  # noqa: BLE001 - report every failure
                failures.append("%s.%s: %s: %s" % (cls.__name__, name, type(error).__name__, error))
                print("FAIL %s.%s: %r" % (cls.__name__, name, error))
    return run, failures
