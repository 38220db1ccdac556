"""The emulator's one error type: what the model raises and the HTTP layer turns into Neon's error body."""

from __future__ import annotations


class EmulatorError(Exception):
    """A Neon-style API error: HTTP status plus the `{code, message}` body Neon sends."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, request_id: str | None = None) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if request_id:
            out["request_id"] = request_id
        return out


def not_found(kind: str, ident: str) -> EmulatorError:
    return EmulatorError(404, f"{kind} {ident!r} not found")


def bad_request(message: str) -> EmulatorError:
    return EmulatorError(400, message)


def conflict(message: str) -> EmulatorError:
    return EmulatorError(409, message)


LOCKED_MESSAGE = "project already has running conflicting operations, scheduling of new ones is prohibited"


def locked() -> EmulatorError:
    return EmulatorError(423, LOCKED_MESSAGE)
