# SPDX-License-Identifier: Apache-2.0
"""A PIN or password held only as long as the command that needs it.

``str`` objects are immutable and interned, so a PIN kept as ``str`` stays in
memory until the collector runs, and shows up in every traceback, log
``%r`` and debugger that prints locals. ``Secret`` keeps the value in a
``bytearray`` that ``wipe()`` overwrites, and its ``repr``/``str`` never show
it (DESIGN invariant: a PIN never appears in a log, journal, message,
exception text or repr).
"""

from __future__ import annotations

from types import TracebackType

__all__ = ["Secret"]


class Secret:
    """A PIN or password as ASCII bytes, wiped after use.

    Use it as a context manager so that the value is wiped when the command
    that needed it is done::

        with Secret.from_text(getpass()) as pin:
            card.verify(PinKind.AUTH, pin)
    """

    __slots__ = ("_value", "_wiped")

    def __init__(self, value: bytes | bytearray) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("Secret takes bytes; use Secret.from_text for str")
        self._value = bytearray(value)
        self._wiped = False

    @classmethod
    def from_text(cls, text: str) -> Secret:
        """Make a secret from typed text (ASCII only, as every card PIN is).

        Raises:
            ValueError: the text is not ASCII (the message does not echo it).
        """
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("a PIN or password must be ASCII") from None
        return cls(raw)

    def reveal(self) -> bytes:
        """Return the value, for the one place that must send it (the APDU)."""
        if self._wiped:
            raise ValueError("the secret was already wiped")
        return bytes(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def wipe(self) -> None:
        """Overwrite the value in place; wiping twice is harmless."""
        for i in range(len(self._value)):
            self._value[i] = 0
        self._value = bytearray()
        self._wiped = True

    @property
    def wiped(self) -> bool:
        """Whether :meth:`wipe` has run."""
        return self._wiped

    def __enter__(self) -> Secret:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wipe()

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        # Equality by value would invite `secret == "1234"` comparisons in
        # logs and asserts; identity is all callers need.
        return self is other

    __hash__ = object.__hash__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")
