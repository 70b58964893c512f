"""``python -m neurona.demo``: a 2-2-1 sigmoid network learns XOR (the XOR chapter).

The main job of the README until the training workflow lands: it builds the network with
``neurona.nn``, trains it with plain SGD on the quadratic cost, and prints the loss and the
network's outputs so every step can be followed.
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
