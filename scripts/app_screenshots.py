"""Screenshots of each panel of `genzoo app` into docs/app/*.png (README, "The app").

Starts the app on the zoo's models, drives the page in headless Chromium (the system's,
as tests/test_app.py does) and saves one picture per panel. Run from the checkout:
``.venv/bin/python scripts/app_screenshots.py``.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from playwright.sync_api import sync_playwright

from genzoo.app import launch

OUT = Path(__file__).resolve().parent.parent / "docs" / "app"
MODELS = [
    "zoo:gan-fashion-mnist", "zoo:vae-fashion-mnist", "zoo:pixelcnn-binarized-fashion-mnist",
    "zoo:rbm-binarized-fashion-mnist",
]  # fmt: skip
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo, url = launch(MODELS, port=port)
    OUT.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url, wait_until="load")
            page.wait_for_selector("#card h3")

            def tab(name: str) -> None:
                page.get_by_role("tab", name=name, exact=True).click()

            def model(ref: str) -> None:
                page.click("#model input")
                page.get_by_role("option", name=ref).click()
                page.wait_for_function(f"document.querySelector('#card h3').innerText == '{ref}'")

            def draw(prefix: str, name: str) -> None:
                page.click(f"#{prefix}-draw")
                page.wait_for_selector(f"#{prefix}-image img", timeout=120_000)
                page.wait_for_timeout(500)
                page.screenshot(path=OUT / f"{name}.png", full_page=True)

            model("zoo:vae-fashion-mnist")
            page.screenshot(path=OUT / "card.png", full_page=True)
            model("zoo:gan-fashion-mnist")
            tab("Samples")
            draw("samples", "samples")
            page.fill("#samples-seed input", "-1")
            page.click("#samples-draw")
            page.wait_for_function("document.querySelector('#samples-message').innerText.trim()")
            page.screenshot(path=OUT / "refused.png", full_page=True)
            tab("Views")
            tab("interpolate")
            page.fill("#interpolate-between textarea", "sample:5,sample:2")
            draw("interpolate", "interpolate")
            tab("arithmetic")
            draw("arithmetic", "arithmetic")
            model("zoo:pixelcnn-binarized-fashion-mnist")
            tab("Completion")
            draw("completion", "completion")
            model("zoo:rbm-binarized-fashion-mnist")
            tab("Views")
            tab("chain")
            draw("chain", "chain")
            model("zoo:vae-fashion-mnist")
            tab("latents")
            page.fill("#latents-n input", "2000")
            draw("latents", "latents")
            browser.close()
    finally:
        demo.close(verbose=False)
    print(f"wrote {len(list(OUT.glob('*.png')))} screenshots into {OUT}")


if __name__ == "__main__":
    main()
