# SPDX-License-Identifier: Apache-2.0
"""Every change the boot platform makes to flash, counted, so power cuts can be tested.

Why one funnel: the never-brick promise is about what survives a power cut
between any two writes. Each mutating call here is one numbered operation;
the unix port can be told to lose power just before operation N
(``--power-cut-at N``: a write is torn in half, then the process exits), and
an observer hears each number, so a test can walk every point of an update.
The files stay plain files on both ports (LittleFS on the RP2040, whose
rename is atomic, as POSIX rename is under the unix port).
"""

import os


class PowerCut(BaseException):
    """Raised at the planned cut point (unix test option); nothing catches it."""


class Flash:
    def __init__(self, cut_at=0, observer=None):
        self.ops = 0
        self._cut_at = cut_at
        self._observer = observer

    def _op(self, what, path):
        self.ops += 1
        if self._observer is not None:
            self._observer(self.ops, what, path)
        return self._cut_at and self.ops == self._cut_at

    def write(self, path, data, append=False):
        cut = self._op("write", path)
        with open(path, "ab" if append else "wb") as handle:
            handle.write(data[: len(data) // 2] if cut else data)
        if cut:
            raise PowerCut()

    def rename(self, old, new):
        if self._op("rename", new):
            raise PowerCut()
        os.rename(old, new)

    def remove(self, path):
        if self._op("remove", path):
            raise PowerCut()
        try:
            os.remove(path)
        except OSError:
            pass

    def mkdir(self, path):
        if self._op("mkdir", path):
            raise PowerCut()
        try:
            os.mkdir(path)
        except OSError:
            pass

    def rmtree(self, path):
        """Remove ``path`` and everything under it (each removal one operation)."""
        try:
            entries = os.listdir(path)
        except OSError:
            return
        for name in entries:
            child = path + "/" + name
            if _is_dir(child):
                self.rmtree(child)
            else:
                self.remove(child)
        if self._op("rmdir", path):
            raise PowerCut()
        try:
            os.rmdir(path)
        except OSError:
            pass


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1
