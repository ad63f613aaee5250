# SPDX-License-Identifier: Apache-2.0
"""The boot selector's handle: pick a slot, make Python import from it, confirm it.

``main.py`` calls ``select`` at every (re)boot, then imports ``myna_fw.app``
from whatever it chose; the app receives this object, confirms a trial after
its self-test, serves update commands through ``receiver`` and asks for a
reboot after a commit. Without a filesystem root (the unix port started
without ``--fs``) there are no slots: the factory firmware runs and update
commands are unknown, as on a board built without this feature.

The PIN keys belong to one signing authority (the boot record's ``auth``).
When the image chosen for this boot was signed by another trusted authority,
the keys are erased *before* its code is imported, and only then is the new
authority written down: a power cut in between erases again at the next
boot, never runs the new code with the old keys. An image by the same
authority (any update of ours) finds the keys where they were.
"""

import sys
from binascii import hexlify

from myna_boot.flash import Flash, exists
from myna_boot.image import factory_authority
from myna_boot.slots import FACTORY, BootRecord, Slots
from myna_boot.update import Receiver

_KEY_MAGIC = b"MYK1"  # myna_fw/keystore.py's record: MAGIC FLAGS(1) COUNTER(4) KEY(32)
_FLAG_COMMISSIONED = 0x01


def erase_keys(storage):
    """Drop the board key from ``storage``; keep the PIN counter (never reset) and flags.

    Why here and not in the app: the app is updatable, and the new
    authority's code must not be the one trusted to erase.
    """
    record = storage.load()
    if not record or len(record) < 9 or bytes(record[:4]) != _KEY_MAGIC:
        return False
    if len(record) == 9 and not record[4] & _FLAG_COMMISSIONED:
        return False  # nothing left to erase
    flags = record[4] & ~_FLAG_COMMISSIONED & 0xFF
    storage.save(_KEY_MAGIC + bytes((flags,)) + bytes(record[5:9]))
    return True


class Boot:
    def __init__(self, root=None, cut_at=0, observer=None, keys=None):
        self.slots = None
        self.receiver = None
        self._slot_path = None
        self._keys = keys  # the hardware layer's key storage (erased on a change of authority)
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
        if slots is not None:
            self._check_authority(slots)
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

    def _check_authority(self, slots):
        head = slots.head
        auth = hexlify(factory_authority() if head is None else bytes(head.key_id)).decode()
        rec = slots.record
        if auth == rec.auth:
            return
        if self._keys is not None:
            erase_keys(self._keys)
        slots.save(BootRecord(rec.primary, rec.pending, rec.trial, rec.floor, auth))

    def confirm(self):
        """Called by the app once its self-test passed: keep this image."""
        if self.slots is not None:
            self.slots.confirm()

    def version(self, fallback):
        """The running image's version from its signed head (``fallback`` for factory)."""
        head = None if self.slots is None else self.slots.head
        return fallback if head is None else tuple(head.version)
