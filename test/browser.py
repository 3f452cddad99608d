"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

No client library and no port: Chromium reads commands from fd 3 and writes replies to fd 4,
each a JSON object ended by a NUL byte. Enough for tests that open a page and take screenshots.
rerun's web viewer draws with WebGL into a canvas, so Chromium renders with SwiftShader (software GL).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--remote-debugging-pipe", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars"]


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file()


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="jsrl-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # in the child, before exec
            ours_in, ours_out = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(ours_in, 3)
            os.dup2(ours_out, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--window-size={width},{height}", f"--user-data-dir={self.profile.name}",
             "about:blank"], pass_fds=(3, 4), preexec_fn=pipes_on_3_and_4,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        except Exception:
            self.close()
            raise

    def call(self, method: str, session: str | None = None, timeout_s: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._receive(method, deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _receive(self, waiting_for: str, deadline: float) -> dict[str, Any]:
        """The next message from Chromium: a reply or an event."""
        while b"\0" not in self._buffer:
            if not select.select([self._from_chrome], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"{waiting_for}: nothing from Chromium in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def open(self, url: str, timeout_s: float = 30.0) -> None:
        """Navigate the page to ``url`` and wait for its load event."""
        self.call("Page.enable", self.session)
        self.call("Page.navigate", self.session, url=url)
        deadline = time.monotonic() + timeout_s
        while self._receive("Page.loadEventFired", deadline).get("method") != "Page.loadEventFired":
            pass

    def screenshot(self) -> np.ndarray:
        """The page as an (H, W, 3) RGB image."""
        data = base64.b64decode(self.call("Page.captureScreenshot", self.session, format="png")["data"])
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self.profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pixels_near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """How many pixels of ``image`` are within ``tolerance`` of ``rgb`` in every channel."""
    return int(np.all(np.abs(image.astype(np.int16) - np.array(rgb, np.int16)) <= tolerance, axis=-1).sum())
