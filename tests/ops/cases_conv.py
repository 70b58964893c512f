"""Op-table cases: conv2d, unfold, locally_connected2d, max_pool2d, avg_pool2d.

Shapes are small on purpose: gradcheck runs two forward passes per input element.
"""

import warnings

import neurona.functional as F

from .cases import Case, distinct, rand


def _tf():
    import torch.nn.functional as tF
    return tF


def _conv(*, bias=True, **kw):
    """A (neurona, torch) pair for conv2d with the keyword arguments ``kw``."""
    torch_kw = dict(kw)
    if kw.get("padding") == "full":  # not a torch mode: D*(K-1) on each side, given per case
        torch_kw["padding"] = kw["torch_padding"]
    torch_kw.pop("torch_padding", None)
    kw.pop("torch_padding", None)

    def torch_fn(x, w, b=None):
        with warnings.catch_warnings():  # torch warns that even 'same' kernels copy the input
            warnings.simplefilter("ignore", UserWarning)
            return _tf().conv2d(x, w, b, **torch_kw)

    if bias:
        return (lambda x, w, b: F.conv2d(x, w, b, **kw)), torch_fn
    return (lambda x, w: F.conv2d(x, w, **kw)), (lambda x, w: torch_fn(x, w))


def conv_case(name, x_shape, w_shape, bias=True, **kw):
    fn, torch_fn = _conv(bias=bias, **kw)
    inputs = [rand(*x_shape), rand(*w_shape, seed=1)]
    if bias:
        inputs.append(rand(w_shape[0], seed=2))
    return Case(f"conv2d_{name}", fn, torch_fn, inputs)


def pool_case(kind, name, x_shape, **kw):
    data = distinct(*x_shape) if kind == "max" else rand(*x_shape)
    fn = getattr(F, f"{kind}_pool2d")
    return Case(f"{kind}_pool2d_{name}", lambda x: fn(x, **kw),
                lambda x: getattr(_tf(), f"{kind}_pool2d")(x, **kw), [data])


CASES = [
    # ---- conv2d --------------------------------------------------------------------
    conv_case("basic", (2, 1, 5, 5), (2, 1, 3, 3)),
    conv_case("multi_channel", (2, 3, 5, 4), (4, 3, 3, 3)),
    conv_case("no_bias", (2, 2, 5, 5), (3, 2, 3, 3), bias=False),
    conv_case("stride2", (1, 2, 7, 6), (3, 2, 3, 3), stride=2),
    conv_case("stride_pair", (1, 2, 7, 6), (2, 2, 3, 2), stride=(2, 1)),
    conv_case("padding_int", (2, 2, 4, 4), (3, 2, 3, 3), padding=1),
    conv_case("padding_pair", (1, 2, 4, 5), (2, 2, 3, 3), padding=(2, 1)),
    conv_case("stride2_padding1", (2, 2, 6, 5), (3, 2, 3, 3), stride=2, padding=1),
    conv_case("valid", (1, 2, 5, 6), (2, 2, 3, 3), padding="valid"),
    conv_case("same_odd", (1, 2, 5, 6), (2, 2, 3, 3), padding="same"),
    conv_case("same_even", (1, 2, 5, 6), (2, 2, 2, 4), padding="same"),
    conv_case("same_dilated", (1, 2, 6, 6), (2, 2, 2, 3), padding="same", dilation=2),
    conv_case("full", (1, 2, 4, 5), (2, 2, 3, 2), padding="full", torch_padding=(2, 1)),
    conv_case("full_dilated", (1, 1, 4, 4), (2, 1, 2, 2), padding="full", dilation=2,
              torch_padding=2),
    conv_case("rectangular", (2, 2, 4, 7), (3, 2, 2, 4)),
    conv_case("dilation2", (1, 2, 7, 7), (2, 2, 3, 3), dilation=2),
    conv_case("dilation_pair_no_bias", (1, 1, 7, 6), (2, 1, 2, 3), bias=False, dilation=(2, 1),
              stride=(1, 2), padding=1),
    conv_case("kernel_1x1", (2, 3, 3, 3), (2, 3, 1, 1)),
    conv_case("kernel_equals_input", (2, 2, 3, 3), (2, 2, 3, 3)),
    # ---- unfold --------------------------------------------------------------------
    Case("unfold_basic", lambda x: F.unfold(x, 2), lambda x: _tf().unfold(x, 2),
         [rand(2, 2, 4, 3)]),
    Case("unfold_stride_padding_dilation",
         lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
         lambda x: _tf().unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
         [rand(1, 2, 5, 6)]),
    Case("unfold_overlapping_stride1", lambda x: F.unfold(x, 3, padding=(1, 0)),
         lambda x: _tf().unfold(x, 3, padding=(1, 0)), [rand(1, 1, 4, 5)]),
    # ---- locally_connected2d (no torch twin: see test_conv_semantics.py) ------------
    Case("locally_connected2d_basic", F.locally_connected2d, None,
         [rand(2, 2, 4, 4), rand(3, 2, 2, 2, 3, 3, seed=1), rand(3, 2, 2, seed=2)]),
    Case("locally_connected2d_stride_padding_no_bias",
         lambda x, w: F.locally_connected2d(x, w, stride=2, padding=1), None,
         [rand(1, 2, 5, 4), rand(2, 3, 2, 2, 3, 3, seed=1)]),
    Case("locally_connected2d_rect_kernel",
         lambda x, w, b: F.locally_connected2d(x, w, b, stride=(1, 2)), None,
         [rand(2, 1, 4, 5), rand(2, 3, 2, 1, 2, 2, seed=1), rand(2, 3, 2, seed=2)]),
    # ---- pooling -------------------------------------------------------------------
    pool_case("max", "2x2", (2, 2, 4, 4), kernel_size=2),
    pool_case("max", "odd_size_floors", (1, 2, 5, 7), kernel_size=2),
    pool_case("max", "overlap_3s2", (1, 2, 7, 6), kernel_size=3, stride=2),
    pool_case("max", "padding", (1, 2, 5, 5), kernel_size=3, stride=2, padding=1),
    pool_case("max", "rect_pad_pair", (2, 1, 5, 6), kernel_size=(2, 3), stride=(1, 2),
              padding=(1, 1)),
    pool_case("max", "stride1", (1, 1, 4, 5), kernel_size=2, stride=1),
    pool_case("avg", "2x2", (2, 2, 4, 4), kernel_size=2),
    pool_case("avg", "odd_size_floors", (1, 2, 5, 7), kernel_size=(2, 3)),
    pool_case("avg", "overlap_3s2", (1, 2, 7, 6), kernel_size=3, stride=2),
    pool_case("avg", "padding_counts_zeros", (1, 2, 5, 5), kernel_size=3, stride=2, padding=1),
    pool_case("avg", "rect_pad_pair", (2, 1, 5, 6), kernel_size=(2, 3), stride=(1, 2),
              padding=(1, 0)),
]
