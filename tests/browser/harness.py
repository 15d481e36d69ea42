"""What the browser test, the page-speed benchmark and the docs screenshots share: a throwaway
Airflow with the demo DAGs run against the simulator, ``airflow standalone`` on a port of
18800-18899, and headless Chromium driven over the DevTools protocol (``websockets``, which
comes with uvicorn: no browser driver package).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORTS = range(18800, 18900)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--window-size=1400,1000",
)


def chromium() -> str | None:
    """The OS package's Chromium (``apt-get install chromium``), if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    """A free port in :data:`PORTS` (the range this test owns on a shared machine)."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read() or b"null")


def status_of(url: str, token: str | None = None) -> int:
    try:
        call(url, token=token)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except json.JSONDecodeError:
        return 200
    return 200


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")


def airflow_env(home: Path, port: int, conn_json: str, output_dir: Path, dags: Path) -> dict[str, str]:
    """An Airflow of its own in ``home`` (SQLite), its api-server on ``port``; user ``admin`` and a
    user ``guest`` without any role (it may read no DAG)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "KLING_"))}
    api = f"http://127.0.0.1:{port}"
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH")))),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,guest:",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=api,
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(port + 1),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(port + 2),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api}/execution/",
        AIRFLOW_CONN_KLING_DEFAULT=conn_json,
        KLING_OUTPUT_DIR=str(output_dir),
        KLING_POLL_INTERVAL="0.3",
        PYTHONWARNINGS="ignore",
    )
    return env


def airflow(env: dict[str, str], *args: str, log: Path | None = None) -> None:
    """One ``airflow`` command; raises with its output when it fails."""
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, check=False)
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}")


@contextmanager
def standalone(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``airflow standalone`` until the block ends; yields its URL and the users' passwords."""
    home, api = Path(env["AIRFLOW_HOME"]), env["AIRFLOW__API__BASE_URL"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        wait_for("the API server", lambda: call(f"{api}/api/v2/monitor/health"), 180)
        passwords_file = home / "simple_auth_manager_passwords.json.generated"
        passwords = wait_for("the passwords", lambda: json.loads(passwords_file.read_text()), 60)
        yield api, passwords
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def token_of(api: str, user: str, password: str) -> str:
    return str(call(f"{api}/auth/token", "POST", {"username": user, "password": password})["access_token"])


class Browser:
    """Headless Chromium, one page, driven over the DevTools protocol."""

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="kling-chromium-")
        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        port = wait_for("Chromium's DevTools port", lambda: port_file.read_text().split()[0], 60)
        targets = wait_for("a page", lambda: call(f"http://127.0.0.1:{port}/json/list"), 30)
        page = next(target for target in targets if target["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self.next_id = 0
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> Any:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=120))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (awaited when it is a promise)."""
        answer = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def open(self, url: str, ready: str = "document.readyState === 'complete'", timeout: float = 60) -> float:
        """Load ``url``; wait until the ``ready`` expression is true; the seconds that took."""
        started = time.monotonic()
        self.send("Page.navigate", url=url)
        guarded = f"(() => {{ try {{ return !!({ready}); }} catch (e) {{ return false; }} }})()"  # mid-load
        wait_for(f"{url} to be ready", lambda: self.evaluate(guarded), timeout)
        return time.monotonic() - started

    def screenshot(self, path: Path, scale: float = 1.0) -> Path:
        """The viewport as a PNG, or a JPEG (``.jpg``) ``scale`` times its size (the docs' copies)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        shape: dict[str, Any] = {"format": "png"}
        if path.suffix == ".jpg":
            width, height = self.evaluate("[innerWidth, innerHeight]")
            clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}
            shape = {"format": "jpeg", "quality": 80, "clip": clip}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **shape)["data"]))
        return path

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        self.process.wait(30)
        shutil.rmtree(self.profile, ignore_errors=True)


def log_in(browser: Browser, api: str, user: str, password: str) -> None:
    """Log in as Airflow's login form does: ``POST /auth/token``, the token in Airflow's cookie."""
    browser.open(f"{api}/auth/login")
    token = browser.evaluate(
        f"fetch('/auth/token', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, "
        f"body: JSON.stringify({{username: {json.dumps(user)}, password: {json.dumps(password)}}})}})"
        ".then(r => r.json()).then(j => j.access_token)"
    )
    browser.evaluate(f"document.cookie = '_token={token}; path=/'")
