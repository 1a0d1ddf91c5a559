"""milo.Error and the helper that turns a failed C call into it."""

import ctypes

from . import _capi
from .constants import Status


def status_name(status):
    """The symbolic name libmilo gives a status ("MILO_ERR_CORRUPT"; "MILO_ERR_UNKNOWN" for a
    code it does not know)."""
    return _capi.text(_capi.lib.milo_status_name(int(status)))


class Error(Exception):
    """A failed Milo call.

    ``status`` is the milo_status code (a :class:`Status` when known, else the int),
    ``status_name`` the name libmilo gives it and ``message`` the library's message (it names
    the input, the place in it and what was expected). ``str(error)`` is "NAME: message".
    """

    def __init__(self, status, message, name=None):
        status = int(status)
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.status_name = name or status_name(status)
        self.message = message
        super().__init__(int(status), message)

    def __str__(self):
        return "%s: %s" % (self.status_name, self.message)

    def __reduce__(self):
        return (type(self), (int(self.status), self.message, self.status_name))


def raise_error(status, err):
    message = err.message.decode("utf-8", errors="replace")
    raise Error(status, message or "(no message)")


def call(fn, *args):
    """Calls a fallible C function with a fresh error buffer appended; raises Error on
    failure."""
    err = _capi.new_error()
    status = fn(*args, ctypes.byref(err))
    if status != 0:
        raise_error(status, err)
