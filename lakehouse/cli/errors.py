"""One line for a failure: what failed and, where the cause is a usual one, what to do.

The CLI prints this instead of a traceback (``--debug`` shows the traceback)."""

from __future__ import annotations

import re
import urllib.error

# "java.lang.IllegalStateException: message" as a Java stack trace prints it (a Py4J error's text).
_JAVA_EXCEPTION = re.compile(r"^(?:Caused by: |: )?((?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)): (.+)$")

_HINTS = {
    ConnectionRefusedError: "is the service up? (`make stack-status`, `make stack-up`)",
    FileNotFoundError: "check the path, or the profile and data directory (--profile, --data-dir)",
    PermissionError: "check the file's permissions, or the S3 keys in the environment",
}


def describe(error: BaseException) -> str:
    """``error`` as one line, without secrets beyond what its own message holds."""
    if isinstance(error, urllib.error.HTTPError):
        detail = _first_line(error.read().decode(errors="replace")) if error.fp else ""
        text = f"HTTP {error.code} {error.reason} from {error.url}" + (f": {detail}" if detail else "")
        return text
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        text = f"cannot reach the service: {reason}"
        hint = _HINTS.get(type(reason)) if isinstance(reason, BaseException) else None
        return f"{text}; {hint}" if hint else text
    java = _java_root_cause(str(error))
    if java:
        return java
    message = _first_line(str(error)) or type(error).__name__
    text = f"{type(error).__name__}: {message}"
    for kind, hint in _HINTS.items():
        if isinstance(error, kind):
            return f"{text}; {hint}"
    return text


def _java_root_cause(text: str) -> str:
    """The innermost Java exception in a JVM error's text (a Py4J error from Flink), as
    "SimpleName: message"; empty when the text holds none."""
    found = ""
    for line in text.splitlines():
        match = _JAVA_EXCEPTION.match(line.strip())
        if match:
            found = f"{match.group(1).rsplit('.', 1)[-1]}: {_first_line(match.group(2))}"
    return found


def _first_line(text: str, *, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."
