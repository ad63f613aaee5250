# SPDX-License-Identifier: Apache-2.0
"""The boot selector's handle: pick a slot, make Python import from it, confirm it.

``main.py`` calls ``select`` at every (re)boot, then imports ``myna_fw.app``
from whatever it chose; the app receives this object, confirms a trial after
its self-test, serves update commands through ``receiver`` and asks for a
reboot after a commit. Without a filesystem root (the unix port started
without ``--fs``) there are no slots: the factory firmware runs and update
commands are unknown, as on a board built without this feature.
"""

import sys

from myna_boot.flash import Flash, exists
from myna_boot.slots import FACTORY, Slots
from myna_boot.update import Receiver


class Boot:
    def __init__(self, root=None, cut_at=0, observer=None):
        self.slots = None
        self.receiver = None
        self._slot_path = None
        if root:
            flash = Flash(cut_at, observer)
            if not exists(root):
                flash.mkdir(root)
            self.slots = Slots(root, flash)

    @property
    def trial(self):
        return self.slots is not None and self.slots.trial

    @property
    def running(self):
        return FACTORY if self.slots is None else self.slots.running

    def select(self):
        """Choose the image for this boot and put its files first on ``sys.path``."""
        slots = self.slots
        slot = FACTORY if slots is None else slots.select()
        if self._slot_path is not None and self._slot_path in sys.path:
            sys.path.remove(self._slot_path)
        self._slot_path = None
        if slots is not None and slot != FACTORY:
            self._slot_path = slots.slot_dir(slot)
            sys.path.insert(0, self._slot_path)
        # Forget the previous image's modules so the next import reads this one.
        for name in list(sys.modules):
            if name == "myna_fw" or name.startswith("myna_fw."):
                del sys.modules[name]
        self.receiver = None if slots is None else Receiver(slots)
        return slot

    def confirm(self):
        """Called by the app once its self-test passed: keep this image."""
        if self.slots is not None:
            self.slots.confirm()

    def version(self, fallback):
        """The running image's version from its signed head (``fallback`` for factory)."""
        head = None if self.slots is None else self.slots.head
        return fallback if head is None else tuple(head.version)
