"""A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe` (no dependencies).

Chromium reads commands from its fd 3 and writes replies and events to its fd 4, each a JSON
message ended by a NUL byte. One page target is attached in flat mode (`sessionId`), so every
command here goes to that page. Everything waits with a deadline: a wedged browser fails the
test instead of hanging the run.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,1600",
)

Message = dict[str, Any]


def _above_nine(fd: int) -> int:
    """The same pipe end on a descriptor above 9 (the old one closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class CDPError(AssertionError):
    """The browser answered a command with an error, died, or was too slow."""


class Browser:
    """One headless Chromium with one page, driven over the debugging pipe."""

    def __init__(self, executable: str, profile: Path, *, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.events: list[Message] = []  # every event received, in order, until drained
        self._buffer = b""
        self._next_id = 0
        # The browser's own chatter goes to a file: a pipe nobody reads would block it.
        self._log_path = profile.with_name(profile.name + ".log")
        self._log = self._log_path.open("wb")
        to_child, self._to_browser = os.pipe()
        self._from_browser, from_child = os.pipe()
        # The child's ends are moved above fd 9, so that putting them on 3 and 4 in the child
        # cannot overwrite one with the other.
        to_child, from_child = (_above_nine(fd) for fd in (to_child, from_child))
        # A small Python moves the pipe ends to fds 3 and 4, then becomes the browser
        # (preexec_fn is unsafe with threads, and the test serves the site from one; a shell
        # cannot name fds above 9).
        move = (
            "import os, sys; a, b = int(sys.argv[1]), int(sys.argv[2]); os.dup2(a, 3); "
            "os.dup2(b, 4); os.close(a); os.close(b); os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", move, str(to_child), str(from_child), executable, *FLAGS,
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True,
        )  # fmt: skip
        os.close(to_child)
        os.close(from_child)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
            self.session: str | None = attached["sessionId"]
            for method in ("Page.enable", "Runtime.enable", "Log.enable"):
                self.send(method)
            self.send(
                "Target.setAutoAttach",
                {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
            )
        except BaseException:
            self.close()
            raise

    # -- the wire ----------------------------------------------------------------------------

    def _read(self, deadline: float) -> Message:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("the browser did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise CDPError(f"the browser exited: {self._stderr()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: Message = json.loads(message)
        return parsed

    def send(self, method: str, params: Message | None = None, *, top: bool = False) -> Message:
        """Run one command (on the page unless `top`) and return its result."""
        self._next_id += 1
        ident = self._next_id  # (events may send commands of their own while this waits)
        message: Message = {"id": ident, "method": method, "params": params or {}}
        if not top and getattr(self, "session", None):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                result: Message = reply.get("result", {})
                return result
            if "method" in reply:
                self._event(reply)

    def _event(self, event: Message) -> None:
        self.events.append(event)
        if event["method"] == "Target.attachedToTarget":
            # A worker of the page (the search runs in one), paused until its errors are
            # listened to too. The replies are not waited for: their ids match no command.
            session = event["params"]["sessionId"]
            for method in ("Runtime.enable", "Log.enable", "Runtime.runIfWaitingForDebugger"):
                self._next_id += 1
                message = {"id": self._next_id, "method": method, "sessionId": session}
                os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def wait_for(self, accept: Callable[[Message], bool], timeout: float | None = None) -> Message:
        """The first event (already received or still to come) that `accept` takes."""
        for event in self.events:
            if accept(event):
                return event
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            event = self._read(deadline)
            if "method" in event:
                self._event(event)
                if accept(event):
                    return event

    # -- what the tests use ------------------------------------------------------------------

    def navigate(self, url: str) -> None:
        """Open `url` and wait for its load event (its scripts have run)."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"{url}: {result['errorText']}")
        self.wait_for(lambda e: e["method"] == "Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, clip: Message | None = None) -> bytes:
        """The visible page, or the `clip` rectangle of it (x, y, width, height), as PNG."""
        params: Message = {"format": "png"}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def errors(self) -> list[str]:
        """The console errors, uncaught exceptions and error log entries (failed loads among
        them) received so far, as readable lines; the events are then forgotten."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                found.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details["text"]
                found.append(f"exception: {text}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"log ({entry['source']}): {entry['text']} {entry.get('url', '')}")
        self.events = []
        return found

    def _stderr(self) -> str:
        self._log.flush()
        return self._log_path.read_bytes().decode(errors="replace")[-2000:]

    def close(self) -> None:
        """Stop the browser (killed if it does not close at once) and release the pipes."""
        try:
            if self.process.poll() is None:
                with contextlib.suppress(CDPError, OSError):
                    self.send("Browser.close", top=True)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            # Its helpers (renderer, zygote) are in the session the browser started.
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self._log.close()
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)
