"""``python -m neurona.demo``: a tiny XOR demo with a hand-written training loop.

A 2-2-1 sigmoid network built with ``neurona.nn`` learns XOR with plain SGD on the
quadratic cost in a loop written out by hand (``zero_grad``, forward, ``backward``,
``step``) and prints the loss and the network's outputs: the README's PyTorch-style
quick start, runnable. It is a smoke test of the API, not a reproduction: the XOR
chapter's own experiments are recipes (``neurona.recipes.xor``), and the Keras-style
training workflow (``model.compile`` / ``model.fit``, ``make run``) is
``neurona.train``.
"""

import numpy as np

import neurona
import neurona.functional as F
from neurona import nn, optim


def main(epochs: int = 3000, lr: float = 2.0, seed: int = 0) -> float:
    neurona.manual_seed(seed)
    x = neurona.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = neurona.tensor([[0.0], [1.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=lr)
    print(model)
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss = F.quadratic_loss(model(x), y)
        loss.backward()
        opt.step()
        if epoch == 1 or epoch % (epochs // 10) == 0:
            print(f"epoch {epoch:5d} | loss {loss.item():.5f}")
    with neurona.no_grad():
        out = model(x).numpy()
    correct = int(np.sum((out > 0.5) == (y.numpy() > 0.5)))
    for xi, oi in zip(x.numpy(), out):
        print(f"XOR({int(xi[0])}, {int(xi[1])}) -> {oi[0]:.3f} -> {int(oi[0] > 0.5)}")
    print(f"accuracy: {correct}/4")
    return correct / 4


if __name__ == "__main__":
    main()
