"""Progress output (neurona.train.progress): a bar on terminals, one line per epoch elsewhere."""

import io

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.train import ProgbarLogger
from neurona.train.progress import format_duration, format_logs


def setup(n=100):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    neurona.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2))
    model.compile("sgd", lr=0.1, loss="cross_entropy", metrics=["accuracy"])
    return model, x, y


class FakeClock:
    """Advances by `tick` seconds at every reading: no real time in tests."""

    def __init__(self, tick):
        self.t, self.tick = 0.0, tick

    def __call__(self):
        self.t += self.tick
        return self.t


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_not_a_terminal_gives_one_line_per_epoch():
    model, x, y = setup()
    buf = io.StringIO()                                      # isatty() is False
    model.fit(x, y, batch_size=10, epochs=3, validation_split=0.2,
              callbacks=[ProgbarLogger(file=buf, clock=FakeClock(0.5))])
    text = buf.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, 1):
        assert line.startswith(f"Epoch {i}/3 - 8/8 - ")     # 80 training rows / 10
        for part in ("ex/s", "loss: ", "accuracy: ", "val_loss: ", "val_accuracy: "):
            assert part in line
    # clock: epoch begin t, 8 batch readings are not taken in line mode, end t + 0.5 -> 0.5 s
    # for 80 examples = 160 ex/s
    assert " - 0.50s - 160 ex/s - loss: " in lines[0]


def test_verbose_2_and_auto_print_lines_and_0_is_silent(capsys):
    model, x, y = setup()
    model.fit(x, y, batch_size=25, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2 and out.startswith("Epoch 1/2 - 4/4 - ")
    model.fit(x, y, batch_size=25, epochs=2)                # 'auto': captured stdout is no TTY
    assert len(capsys.readouterr().out.splitlines()) == 2
    model.fit(x, y, batch_size=25, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_bar_on_a_terminal_is_throttled_and_shows_eta():
    model, x, y = setup(200)
    buf = Terminal()
    # each clock reading advances 0.04 s: batch ends are ~0.04 s apart, so with a 0.1 s
    # interval at most one batch in 2 (usually 1 in 3) redraws the bar
    model.fit(x, y, batch_size=10, epochs=2,
              callbacks=[ProgbarLogger(file=buf, clock=FakeClock(0.04))])
    text = buf.getvalue()
    epochs = text.split("Epoch ")[1:]
    assert [e.split("\n")[0] for e in epochs] == ["1/2", "2/2"]
    for e in epochs:
        draws = e.split("\r")[1:]
        assert 3 <= len(draws) <= 11                         # 20 steps, throttled
        assert "ETA: " in draws[0] and draws[0].lstrip().startswith(tuple("0123456789"))
        final = draws[-1]
        assert final.startswith("20/20 [==============================] - ")
        assert final.endswith("\n") and "ETA" not in final and "loss: " in final
    assert " 1/20 [=>" in text                              # the first batch always draws


def test_bar_with_dynamic_forced_and_auto_detection():
    model, x, y = setup()
    buf = io.StringIO()
    model.fit(x, y, batch_size=50, epochs=1,
              callbacks=[ProgbarLogger(file=buf, dynamic=True, clock=FakeClock(1.0))])
    assert "\r" in buf.getvalue()
    buf = Terminal()
    model.fit(x, y, batch_size=50, epochs=1,
              callbacks=[ProgbarLogger(verbose=2, file=buf, clock=FakeClock(1.0))])
    assert "\r" not in buf.getvalue()                        # verbose=2 forces lines
    with pytest.raises(ValueError, match="verbose"):
        ProgbarLogger(verbose=3)


def test_formatting_helpers():
    assert format_duration(0.4215) == "0.42s"
    assert format_duration(7.31) == "7.3s"
    assert format_duration(42.4) == "42s"
    assert format_duration(65) == "1m05s"
    assert format_duration(7380) == "2h03m"
    assert format_logs({"accuracy": 0.5, "loss": 0.123456, "size": 3}) == \
        "loss: 0.1235 - accuracy: 0.5000"
    assert format_logs({"loss": 1.5e-5}) == "loss: 1.5000e-05"
