"""``genzoo app``: the pictures of trained models, live in the browser (a local Gradio app).

The page (:mod:`genzoo.app.page`) shows each model's card and figures, draws sample grids
and completions, and every view the families declare (:mod:`genzoo.declare`), drawn by
the same functions as ``genzoo sample``, ``genzoo viz`` and the report
(:mod:`genzoo.app.panels`). It is served on 127.0.0.1 only by default, with Gradio's
analytics and version check off and no share link, so nothing leaves the machine.

Gradio is an optional extra (``pip install 'genzoo[app]'``) and is imported only here, when
the app starts, so that ``genzoo --help`` stays fast.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from genzoo.errors import UserInputError

INSTALL = "pip install 'genzoo[app]'"
HOST = "127.0.0.1"
PORT = 7860


def require_gradio() -> None:
    """Refuse in one line when Gradio is not installed."""
    if importlib.util.find_spec("gradio") is None:
        raise UserInputError(f"the app needs Gradio, an optional extra: {INSTALL}")


def check_port(host: str, port: int) -> None:
    """Refuse in one line a port outside 1-65535 or one another program listens on."""
    if not 1 <= port <= 65535:
        raise UserInputError(f"--port must be in [1, 65535], got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the server binds: a port left in TIME_WAIT by an app just stopped is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UserInputError(
                f"cannot listen on {host}:{port} ({e.strerror or e}): is another app running "
                "there? stop it or pass --port N"
            ) from None


def default_refs() -> list[str]:
    """Every shipped zoo model, as ``zoo:NAME``."""
    from genzoo import zoo

    return [zoo.PREFIX + entry.name for entry in zoo.entries()]


def launch(
    refs: Sequence[str] = (), *, host: str = HOST, port: int = PORT, device: str = "cpu"
) -> tuple[Any, str]:
    """Load the models and start the app's server in a background thread.

    Args:
        refs: run folders, exported models or ``zoo:NAME`` (default: every zoo model).
        host: the address to listen on (127.0.0.1: this machine only).
        port: the port to listen on.
        device: the torch device the models run on.

    Returns:
        ``(demo, url)``: the running Gradio Blocks (``demo.close()`` stops it) and its URL.

    Raises:
        UserInputError: Gradio missing, a bad reference, or the port taken (one line each,
            before anything is served).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before Gradio is imported
    require_gradio()
    refs = list(refs) or default_refs()
    if not refs:
        raise UserInputError("no zoo models are shipped with this genzoo: name run folders")
    check_port(host, port)
    from genzoo.app.panels import Session, open_models

    session = Session(open_models(refs, device))
    from genzoo.app.page import build

    demo = build(session)
    demo.queue(default_concurrency_limit=1)
    try:
        demo.launch(
            server_name=host, server_port=port, share=False, inbrowser=False,
            prevent_thread_lock=True, quiet=True, show_error=False, ssr_mode=False,
            mcp_server=False, pwa=False, enable_monitoring=False, footer_links=[],
        )  # fmt: skip
    except OSError as e:  # the port was taken between the check and the launch
        raise UserInputError(f"cannot listen on {host}:{port} ({e}); pass --port N") from None
    return demo, f"http://{host}:{port}/"


def idle() -> None:
    """Wait, while the server's threads serve, until Ctrl-C (KeyboardInterrupt)."""
    while True:
        time.sleep(0.5)


def serve(
    refs: Sequence[str] = (), *, host: str = HOST, port: int = PORT, device: str = "cpu"
) -> int:
    """``genzoo app``: launch (see :func:`launch`), print the URL, serve until Ctrl-C."""
    demo, url = launch(refs, host=host, port=port, device=device)
    print(f"genzoo app: {url}  (Ctrl-C stops it)", flush=True)
    try:
        idle()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close(verbose=False)
    print("genzoo app: stopped")
    return 0
