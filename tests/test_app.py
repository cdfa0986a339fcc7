"""``genzoo app``: its panels as functions, its start-up refusals, and the real page driven
in headless Chromium (as tests/test_report.py opens the report) on two zoo models: a GAN
(grids, views) and the binarised PixelCNN (completions, its sampler's option)."""

from __future__ import annotations

import base64
import importlib.util
import io
import shutil
import socket

import pytest
import torch
from PIL import Image

from genzoo.app import panels
from genzoo.cli import main
from genzoo.errors import UserInputError
from genzoo.registry import views

GAN = "zoo:gan-fashion-mnist"
PCNN = "zoo:pixelcnn-binarized-fashion-mnist"


@pytest.fixture(scope="module")
def session():
    return panels.Session(panels.open_models([GAN, PCNN]))


# -- the panels as functions -------------------------------------------------------------


def test_grid_is_the_cli_sample_of_its_seed_and_refuses_bad_seeds(session):
    model = session.get(GAN).model
    picture = panels.sample_grid(session, GAN, 5, 16)
    g = torch.Generator().manual_seed(5)
    direct = panels.picture_image((model.sample(16, generator=g), None), panels.grid_scale(model))
    assert picture.tobytes() == direct.tobytes()
    assert picture.tobytes() != panels.sample_grid(session, GAN, 6, 16).tobytes()
    for bad in (-1, 2**32, 1.5, None, "x"):
        with pytest.raises(UserInputError, match="seed"):
            panels.sample_grid(session, GAN, bad, 16)
    with pytest.raises(UserInputError, match=r"truncation must be >= 0|must be positive"):
        panels.sample_grid(session, GAN, 0, 4, options={"truncation": "0"})
    with pytest.raises(UserInputError, match="does not apply"):
        panels.sample_grid(session, GAN, 0, 4, options={"sampler": "naive"})
    with pytest.raises(UserInputError, match=r"window sampler was retired.*cached.*naive"):
        panels.sample_grid(session, PCNN, 0, 4, options={"sampler": "window"})  # issue #21


def test_clicked_pixel_names_the_sample_under_it(session):
    model = session.get(GAN).model
    n, s = 10, panels.grid_scale(model)  # 4 columns of 28 + 2 pixels, enlarged s times
    for i in range(n):
        row, col = divmod(i, 4)
        assert panels.grid_index(model, n, (2 + 30 * col + 14) * s, (2 + 30 * row + 14) * s) == i
    assert panels.grid_index(model, n, 1, 1) is None  # the padding
    assert panels.grid_index(model, n, (2 + 30 * 3 + 14) * s, (2 + 30 * 2 + 14) * s) is None


def test_views_refuse_models_without_them_and_oversized_options(session):
    by_name = views()
    with pytest.raises(UserInputError, match="Not available for gan: 'chain' is a view of"):
        panels.draw_view(session, GAN, by_name["chain"], {}, 0)
    with pytest.raises(UserInputError, match="needs a model that declares has_latent"):
        panels.draw_view(session, PCNN, by_name["interpolate"], {}, 0)
    with pytest.raises(UserInputError, match=r"steps must be a whole number in \[0, 100\]"):
        panels.draw_view(session, GAN, by_name["interpolate"], {"steps": 10**6}, 0)
    # the same view with the same seed is the same picture; the options reach the drawing
    one = panels.draw_view(session, GAN, by_name["interpolate"], {"steps": "4"}, 3)
    assert (
        one.tobytes()
        == panels.draw_view(session, GAN, by_name["interpolate"], {"steps": 4}, 3).tobytes()
    )
    assert one.width < panels.draw_view(session, GAN, by_name["interpolate"], {}, 3).width


def test_long_sampling_reports_progress_and_stops_when_asked(session):
    seen = []

    def report(done, total, unit):
        seen.append((done, total, unit))
        if done >= 16:
            session.stop.set()

    with pytest.raises(panels.Stopped, match=r"stopped after \d+ of \d+ pixels"):
        panels.completion(session, PCNN, "test:0-1", 14, 0, {"sampler": "cached"}, report)
    assert seen[0][0] == 0 and seen[0][2] == "pixel" and 16 <= seen[-1][0] < seen[-1][1]
    # the next drawing starts afresh
    assert panels.completion(session, PCNN, "test:0-1", 26, 0, {}).height > 0


# -- start-up refusals: one line, exit 2 -------------------------------------------------


def test_app_refuses_bad_refs_a_taken_port_and_a_missing_gradio(capsys, monkeypatch, tmp_path):
    assert main(["app", str(tmp_path / "no-such-run")]) == 2
    assert main(["app", "zoo:no-such-model"]) == 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["app", GAN, "--port", str(s.getsockname()[1])]) == 2
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "gradio" else find_spec(n, *a)
    )
    assert main(["app", GAN]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all(line.startswith("genzoo: error: ") for line in err), err
    assert "no-such-run" in err[0] and "no zoo model 'no-such-model'" in err[1]
    assert "--port" in err[2] and "pip install 'genzoo[app]'" in err[3]


# -- the page in headless Chromium -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def page():
    pytest.importorskip("gradio")
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (scripts/setup.sh installs Debian's package as root)")
    from genzoo.app import launch

    demo, url = launch([GAN, PCNN], port=_free_port())
    args = [
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    outside: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=args)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on(
                "request",
                lambda r: (
                    None if r.url.startswith((url, "data:", "blob:")) else outside.append(r.url)
                ),
            )
            page.goto(url, wait_until="load")
            page.wait_for_selector("#card h3")
            page.outside = outside  # type: ignore[attr-defined]
            yield page
            browser.close()
    finally:
        demo.close(verbose=False)


def _draw(page, prefix: str) -> Image.Image | None:
    """Click the panel's button; its new picture as the page shows it (None: a message)."""
    img = page.query_selector(f"#{prefix}-image img")
    old = img.get_attribute("src") if img else None  # (a picture's address is its hash)
    said = page.inner_text(f"#{prefix}-message").strip()
    page.click(f"#{prefix}-draw")
    shown = page.wait_for_function(
        """([p, old, said]) => {
            const img = document.querySelector(`#${p}-image img`);
            const msg = document.querySelector(`#${p}-message`).innerText.trim();
            if (msg && msg !== said) return "message";
            if (!img || !img.complete || img.naturalWidth === 0 || img.src === old) return false;
            const c = document.createElement("canvas");
            c.width = img.naturalWidth;
            c.height = img.naturalHeight;
            c.getContext("2d").drawImage(img, 0, 0);
            return c.toDataURL("image/png");
        }""",
        arg=[prefix, old, said],
        timeout=30_000,
    ).json_value()
    if shown == "message":
        return None
    return Image.open(io.BytesIO(base64.b64decode(shown.split(",", 1)[1]))).convert("RGB")


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def test_page_loads_with_the_card_and_asks_nothing_outside(page):
    assert "zoo:gan-fashion-mnist" in page.inner_text("#card")
    assert "gan-fashion-mnist" in page.inner_text("#card table")  # the zoo's figures
    assert page.outside == []


def test_page_draws_a_grid_same_seed_same_images_other_seed_other(page, session):
    _tab(page, "Samples")
    first = _draw(page, "samples")
    page.fill("#samples-seed input", "1")
    other = _draw(page, "samples")
    page.fill("#samples-seed input", "0")
    again = _draw(page, "samples")
    assert first is not None and other is not None and again is not None
    assert first.tobytes() == again.tobytes() and first.tobytes() != other.tobytes()
    # what the page shows is the model's own sample of that seed, laid out by the grid code
    assert first.tobytes() == panels.sample_grid(session, GAN, 0, 16).convert("RGB").tobytes()


def test_page_renders_a_refusal_for_a_bad_seed(page):
    _tab(page, "Samples")
    page.fill("#samples-seed input", "-7")
    assert _draw(page, "samples") is None
    assert "Refused: seed must be a whole number in [0, 4294967295], got -7" in page.inner_text(
        "#samples-message"
    )
    page.fill("#samples-seed input", "0")
    _tab(page, "Views")
    _tab(page, "chain")  # a Boltzmann machine's view, on a GAN: a message, not a traceback
    assert "Not available for gan" in page.inner_text("#chain-note")
    assert _draw(page, "chain") is None
    assert "Refused: Not available for gan" in page.inner_text("#chain-message")


def test_page_interpolates_between_two_clicked_samples(page):
    _tab(page, "Samples")
    assert _draw(page, "samples")
    page.fill("#samples-picked textarea", "")
    img = page.locator("#samples-image img")
    box = img.bounding_box()
    natural = img.evaluate("e => e.naturalWidth")
    scale = box["width"] / natural * 2  # the grid is enlarged twice (28-pixel tiles)
    for col, row in ((1, 1), (2, 0)):  # samples 5 and 2 of a 4-column grid
        img.click(position={"x": (2 + 30 * col + 14) * scale, "y": (2 + 30 * row + 14) * scale})
        page.wait_for_timeout(300)
    page.wait_for_function("document.querySelector('#samples-picked textarea').value == '5,2'")
    page.click("#pick-interpolate-between")
    page.wait_for_function("document.querySelector('#samples-message').innerText.includes('set')")
    _tab(page, "Views")
    _tab(page, "interpolate")
    assert page.input_value("#interpolate-between textarea") == "sample:5,sample:2"
    png = _draw(page, "interpolate")
    assert png.size == ((10 * 30 + 2) * 2, (2 * 30 + 2) * 2)  # 2 paths of 10 steps


def test_page_completes_test_images_with_a_sampler_option(page):
    page.click("#model input")
    page.get_by_role("option", name=PCNN).click()
    page.wait_for_function("document.querySelector('#card h3').innerText.includes('pixelcnn')")
    _tab(page, "Completion")
    page.fill("#completion-images textarea", "test:0-3")
    png = _draw(page, "completion")
    assert png.size == ((4 * 30 + 2) * 2, (3 * 30 + 2) * 2)  # given, completed, original
    assert page.is_visible("#completion-sampler")
