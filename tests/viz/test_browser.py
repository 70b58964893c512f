"""The draw-a-digit page in a real browser: headless Chromium driven by Selenium.

Chromium and its WebDriver come from the system (Debian: ``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them), Selenium from the dev extra. Selenium is
given ``/usr/bin/chromedriver`` and the Chromium binary explicitly, so Selenium Manager never
runs and nothing is downloaded. Without them this test skips locally, saying what to
install; with ``CI`` set it fails instead.

The test trains a LeNet-5 with the CLI (20,000 images, one epoch, ~3 s: 95 %), serves it on
127.0.0.1 and a free port in a thread, draws with real pointer actions (a mouse, and a
finger: a touch pointer), and checks that the bars move while drawing, that a "1" and a "0"
are recognised, and that "Clear" resets the page. It saves a screenshot to ``tmp_path``;
``NEURONA_SCREENSHOT=docs/img/draw.png`` also writes it there (the README's picture).
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import threading
from pathlib import Path

import pytest

from neurona import cli
from neurona.viz import serve

CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,720", "--force-device-scale-factor=1"]


def _unavailable(why: str):
    message = f"browser test: {why}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this fails instead of skipping)")
    pytest.skip(message)


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module", autouse=True)
def chromium():
    """Chromium's path, once Selenium, Chromium and chromedriver are known to be there
    (autouse: checked before the model is trained)."""
    if importlib.util.find_spec("selenium") is None:
        _unavailable("Selenium is not installed (pip install -e '.[dev]')")
    path = _chromium()
    if path is None or not os.path.isfile(CHROMEDRIVER):
        _unavailable("needs Chromium and its driver from the system: "
                     "apt-get install chromium chromium-driver "
                     f"(found chromium: {path}, {CHROMEDRIVER}: "
                     f"{os.path.isfile(CHROMEDRIVER)})")
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "lenet5.neurona"
    assert cli.main(["train", "--model", "lenet5", "--epochs", "1", "--limit", "20000",
                     "--out", str(out), "--quiet-bar"]) == 0
    return out


@pytest.fixture(scope="module")
def page_url(model_file):
    server = serve.make_server(model_file, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def driver(chromium, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = chromium  # with the driver's path: no Selenium Manager
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(20)
    browser.set_script_timeout(10)
    try:
        yield browser
    finally:
        browser.quit()


def _state(driver):
    return driver.execute_script(
        "return {answers: +(document.body.dataset.answers || 0), busy: document.body.dataset.busy,"
        " predicted: document.body.dataset.predicted,"
        " bars: [...document.querySelectorAll('#bars .bar')].map(b => +b.dataset.p)}")


def _wait_for_answer(driver, after: int):
    """Wait (at most 10 s) until an answer newer than ``after`` is shown and none is pending."""
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, 10, poll_frequency=0.05).until(
        lambda d: (lambda s: s["answers"] > after and s["busy"] == "0")(_state(d)))
    return _state(driver)


def _stroke(driver, canvas, points, pointer="mouse"):
    """Press at the first point, move through the others, release: real pointer actions.
    Points are offsets in CSS px from the canvas centre."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    kind = interaction.POINTER_TOUCH if pointer == "touch" else interaction.POINTER_MOUSE
    builder = ActionBuilder(driver, mouse=PointerInput(kind, pointer), duration=15)
    p = builder.pointer_action
    (x0, y0), rest = points[0], points[1:]
    p.move_to(canvas, int(x0), int(y0))
    p.pointer_down()
    for x, y in rest:
        p.move_to(canvas, int(round(x)), int(round(y)))
    p.pointer_up()
    builder.perform()


def _line(a, b, steps=12):
    return [(a[0] + (b[0] - a[0]) * t / steps, a[1] + (b[1] - a[1]) * t / steps)
            for t in range(steps + 1)]


def test_draw_a_digit_in_chromium(driver, page_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page_url)
    WebDriverWait(driver, 10).until(
        lambda d: "parameters" in d.find_element(By.ID, "model").text)
    assert "lenet5" in driver.find_element(By.ID, "model").text
    canvas = driver.find_element(By.ID, "pad")
    assert canvas.value_of_css_property("touch-action") == "none"
    assert _state(driver)["answers"] == 0

    # two drawing states of a "7": the bar, then the bar and the stem; the bars move
    _stroke(driver, canvas, _line((-55, -85), (50, -85)))
    first = _wait_for_answer(driver, 0)
    _stroke(driver, canvas, _line((50, -85), (-10, 95)))
    second = _wait_for_answer(driver, first["answers"])
    assert max(abs(a - b) for a, b in zip(first["bars"], second["bars"])) > 0.05, (first, second)
    assert abs(sum(second["bars"]) - 1) < 1e-6
    layers = driver.find_elements(By.CSS_SELECTOR, "#layers .layer")
    assert [el.get_attribute("data-name") for el in layers][:2] == ["conv1+relu1", "pool1"]
    assert len(layers[0].find_elements(By.TAG_NAME, "canvas")) == 6  # six feature maps

    # Clear empties the bars
    driver.find_element(By.ID, "clear").click()
    cleared = _state(driver)
    assert cleared["bars"] == [0] * 10 and cleared["predicted"] == ""

    # a "1" drawn with a finger (a touch pointer): a vertical stroke
    _stroke(driver, canvas, _line((5, -100), (-5, 100), steps=16), pointer="touch")
    one = _wait_for_answer(driver, second["answers"])
    assert one["predicted"] == "1", one

    # a "0" drawn with the mouse: an ellipse
    driver.find_element(By.ID, "clear").click()
    ellipse = [(60 * math.sin(2 * math.pi * t / 40), -95 * math.cos(2 * math.pi * t / 40))
               for t in range(43)]
    _stroke(driver, canvas, ellipse)
    zero = _wait_for_answer(driver, one["answers"])
    assert zero["predicted"] == "0", zero
    assert driver.find_element(By.ID, "prediction").text == "0"
    assert zero["bars"][0] == max(zero["bars"])

    shot = tmp_path / "draw.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    target = os.environ.get("NEURONA_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors
