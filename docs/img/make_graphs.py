"""Regenerate the README's graph pictures: ``python docs/img/make_graphs.py`` (needs Graphviz).

graph_fig6.*   the thesis's figure 6: a 2-D sigmoid neuron, values green, derivatives red
graph_xor.*    the XOR chapter's forward pass for (0, 1) from its printed weights
graph_lenet5.* LeNet-5 (neurona.zoo.lenet5) on a batch of 4, one node per layer

The PNGs are reduced to the drawing's own palette when Pillow is installed (a few tens
of KB each).
"""

from pathlib import Path

import numpy as np

import neurona as nr
import neurona.zoo
from neurona import functional as F
from neurona import viz
from neurona.recipes import thesis_fig6, xor

HERE = Path(__file__).resolve().parent


def _palette():
    """The drawing's own colours, and their blends with the backgrounds (antialiased text)."""
    from neurona.viz import graph as g
    ink = ["#000000", g.VALUE_COLOR, g.GRAD_COLOR, "#555555", "#888888", "#4a6fa5"]
    backgrounds = ["#ffffff", "#e8e8e8", "#fff8dc", "#eef6ff", "#f0f4ff"]

    def rgb(h):
        return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))
    colours = [rgb(c) for c in ink + backgrounds]
    for c in ink:
        for b in backgrounds:
            for t in (0.2, 0.4, 0.6, 0.8):
                colours.append(tuple(round(t * x + (1 - t) * y) for x, y in zip(rgb(c), rgb(b))))
    colours = list(dict.fromkeys(colours))[:256]
    return [v for c in colours for v in c] + [0] * (3 * (256 - len(colours)))


def small_png(path):
    """Reduce the PNG to the drawing's own palette (exact colours, a third of the bytes)."""
    try:
        from PIL import Image
    except ImportError:
        return
    palette = Image.new("P", (1, 1))
    palette.putpalette(_palette())
    image = Image.open(path).convert("RGB")
    image.quantize(palette=palette, dither=Image.Dither.NONE).save(path, optimize=True)


def save(g, stem):
    g.save(HERE / f"{stem}.svg")
    g.save(HERE / f"{stem}.png")
    small_png(HERE / f"{stem}.png")


def lenet5_graph():
    nr.manual_seed(0)
    model = neurona.zoo.lenet5()
    x = nr.tensor(np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32))
    loss = F.nll_loss(model(x), np.array([0, 1, 2, 3]))
    loss.name = "loss"
    return viz.graph(loss, params=model, collapse=True, rankdir="TB",
                     title="LeNet-5, a batch of 4 (random digits)")


if __name__ == "__main__":
    save(thesis_fig6.neuron_graph(), "graph_fig6")
    save(xor.forward_graph(), "graph_xor")
    save(lenet5_graph(), "graph_lenet5")
    for p in sorted(HERE.glob("graph_*")):
        print(f"{p.name}: {p.stat().st_size / 1024:.0f} KB")
