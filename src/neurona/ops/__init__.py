"""Primitive operations: one ``Function`` subclass per op, forward and backward together.

| file        | ops |
|-------------|-----|
| arith.py    | add sub mul div pow neg cast |
| unary.py    | exp log sqrt abs sigmoid tanh relu leaky_relu |
| reduce.py   | sum mean max min logsumexp softmax log_softmax |
| shape.py    | reshape flatten permute transpose (un)squeeze getitem gather cat stack pad |
| select.py   | maximum minimum where clip |
| linalg.py   | matmul linear |
| conv.py     | conv2d unfold locally_connected2d |
| pool.py     | max_pool2d avg_pool2d |
| geometry.py | no ops: window geometry of conv and pool (padding, sizes, im2col/col2im) |
| dropout.py  | dropout |
| loss.py     | fused losses (cross_entropy, nll_loss, bce, ...) |
"""
