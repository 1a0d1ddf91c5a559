"""milo.Error (and its subclass UntrustedTypesError) and the helper that turns a failed C
call into it."""

import ctypes
import pickle

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


class UntrustedTypesError(Error, pickle.UnpicklingError):
    """milo.load/loads refused a document because it names types or functions that are not
    trusted. Raised before anything is unpickled (and by the restricted unpickler for a name it
    was not told to admit).

    ``names`` is the sorted list of every refused "module.qualname"; ``dangerous`` the sorted
    subset classified dangerous, which is never loaded, even when listed in ``trusted=``. The
    status is ``Status.ERR_DANGEROUS``. It is a milo.Error and a pickle.UnpicklingError, so
    either ``except`` clause catches it.
    """

    def __init__(self, names, dangerous=(), message=None):
        self.names = sorted(set(names) | set(dangerous))
        self.dangerous = sorted(set(dangerous))
        if message is None:
            message = _untrusted_message(self.names, self.dangerous)
        super().__init__(Status.ERR_DANGEROUS, message)

    def __reduce__(self):
        return (type(self), (self.names, self.dangerous, self.message))


def _untrusted_message(names, dangerous):
    untrusted = [n for n in names if n not in set(dangerous)]
    parts = []
    if untrusted:
        parts.append("%d untrusted name%s: %s (after reviewing them, allow them with "
                     "trusted=%r)" % (len(untrusted), "" if len(untrusted) == 1 else "s",
                                      ", ".join(untrusted), untrusted))
    if dangerous:
        parts.append("%d dangerous name%s, never loaded even when listed in trusted=: %s"
                     % (len(dangerous), "" if len(dangerous) == 1 else "s",
                        ", ".join(dangerous)))
    return "refusing to load a model that uses " + "; and ".join(parts)


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
