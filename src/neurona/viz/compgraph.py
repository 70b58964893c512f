"""``graph(output, params=None, ...)``: the recorded computational graph with values and gradients.

As in figure 6 of the thesis (a 2-D sigmoid neuron): every tensor of the graph is a box with
its name, its shape, its forward value in green and its derivative d(output)/d(tensor) in
red; every operation is an ellipse named after its :class:`~neurona.autograd.Function`
(``Mul``, ``Sigmoid``, ``Linear``, ``Conv2d`` ...)::

    from neurona import viz
    loss = model(x, ...)                      # any computation on tensors
    g = viz.graph(loss, params=model)         # walks loss back to its leaves
    g.save("graph.svg")                       # .dot (text), .svg, .png, .pdf
    g                                         # a notebook shows it (_repr_svg_)

``neurona.viz.graph`` and ``neurona.viz.Graph`` are this module's :func:`graph` and
:class:`Graph` (the module is ``compgraph`` so that its name is not the function's).

**Names.** ``params`` names tensors: a :class:`~neurona.nn.Module` (its
``named_parameters()``: ``fc1.weight``, ...) or a dict ``name -> Tensor`` (any tensors,
inputs too). Otherwise a tensor's ``.name`` is used when set, ``output`` for the root, and a
short generated id (``in0`` for other leaves, ``t3`` for intermediate results).

**Values.** A tensor with at most ``max_values`` elements shows its numbers (4 significant
digits), a larger one ``min / mean / max``.

**Gradients** (``grads=``). ``"auto"`` (the default) computes d(output)/d(t) for *every*
tensor t of the graph that requires grad, intermediates included, by running the recorded
backward functions (``ctx.backward``) over the graph once more into a private dict: nothing
is stored in any ``.grad`` and nothing is freed, so it works before or after
``output.backward(retain_graph=True)`` and gives what that backward gives. It needs an
output with one element (or ``grad=``, the seed d(something)/d(output), as for
``backward``); otherwise "auto" falls back to ``"stored"``: the ``.grad`` each tensor
holds (leaves after a backward; intermediates only where ``retain_grad()`` was called
before it). ``True`` insists on computing (and raises when it cannot), ``False`` draws
values only. A backward *without* ``retain_graph=True`` frees the graph: draw it before
that backward, or pass ``retain_graph=True``.

**Layers.** With ``params=model`` every operation that takes a parameter of a module
belongs to that module and is drawn inside a box (a Graphviz cluster) labelled
``name: Class``, with the module's parameters and the intermediate results used only
inside it. Operations without parameters (activations, pooling, reshapes, losses) stay
outside, between the boxes. ``collapse=True`` draws each such module as a single node with
its input and output shapes, its parameter count, its output's value and its parameters'
gradients, and draws the intermediate tensors between the nodes as edges labelled with
their shapes (``collapse`` may also be a list of module names; ``None``, the default,
collapses when the full drawing would have more than :data:`AUTO_COLLAPSE` nodes).

**Rendering.** :attr:`Graph.source` is the DOT text, written here (no ``graphviz`` Python
package needed). ``.svg``/``.png``/``.pdf`` run Graphviz's ``dot`` program, which must be
on ``PATH`` (Debian/Ubuntu: ``apt-get install graphviz``; macOS: ``brew install graphviz``).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .. import backend as _dev
from ..atomic import atomic_write
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["graph", "Graph", "GraphvizNotFound", "VALUE_COLOR", "GRAD_COLOR", "MAX_VALUES",
           "AUTO_COLLAPSE", "format_array"]

VALUE_COLOR = "#1a7f37"  # forward values: green, as in figure 6
GRAD_COLOR = "#cf222e"   # derivatives: red
MARK_COLOR = "#cf222e"   # the border of a tensor marked with Graph.mark
MAX_VALUES = 6           # tensors with at most this many elements show their numbers
AUTO_COLLAPSE = 30       # collapse=None collapses the layers above this many nodes
_FORMATS = {"svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps"}
_TEXT_FORMATS = {"dot", "gv"}


class GraphvizNotFound(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program and it is not on PATH."""


# ---- text: numbers and DOT escaping ------------------------------------------------
def _num(v) -> str:
    """One number, 4 significant digits (integers and booleans as they are)."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    text = f"{v:.4g}"
    return "0" if text == "-0" else text


def format_array(array, max_values: int = MAX_VALUES) -> str:
    """``array`` as a figure shows it: its numbers when it has at most ``max_values``
    elements (``2``, ``[1, -2]``, ``[[1, 2], [3, 4]]``), else ``min … mean … max``."""
    a = _dev.to_numpy(array)
    if a.size == 0:
        return "empty"
    if a.size <= max_values:
        if a.ndim == 0:
            return _num(a.item())

        def nested(x):
            if x.ndim == 0:
                return _num(x.item())
            return "[" + ", ".join(nested(row) for row in x) + "]"
        return nested(a)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    mean = float(np.mean(a, dtype=np.float64))
    return f"min {_num(a.min())}  mean {_num(mean)}  max {_num(a.max())}"


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _quote(text: str) -> str:
    """A DOT quoted string for a label: backslashes and quotes escaped, newlines as ``\\n``."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r\n", "\n").replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    """Text inside a DOT HTML-like label (``& < > "`` as entities, newlines as ``<BR/>``)."""
    text = (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))
    return text.replace("\r\n", "\n").replace("\n", "<BR/>")


def _font(text, color=None, size=None, bold=False, italic=False) -> str:
    out = _html(text)
    if bold:
        out = f"<B>{out}</B>"
    if italic:
        out = f"<I>{out}</I>"
    attrs = (f' COLOR="{color}"' if color else "") + (f' POINT-SIZE="{size}"' if size else "")
    return f"<FONT{attrs}>{out}</FONT>" if attrs else out


def _table(rows) -> str:
    body = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


# ---- the nodes ----------------------------------------------------------------------
class TensorNode:
    """One tensor of the graph: ``name``, ``shape``, ``value``/``grad`` (the texts shown),
    ``kind`` (``'parameter'``, ``'input'``, ``'intermediate'`` or ``'output'``), ``module``
    (the layer it is drawn in, or None), ``notes`` and ``marked`` (see :meth:`Graph.mark`)."""

    __slots__ = ("id", "tensor", "name", "shape", "value", "grad", "grad_data", "kind",
                 "module", "notes", "marked", "producer", "consumers")

    def __init__(self, node_id, tensor, name, kind):
        self.id, self.tensor, self.name, self.kind = node_id, tensor, name, kind
        self.shape = tuple(tensor.shape)
        self.value, self.grad, self.grad_data = "", None, None
        self.module = None
        self.notes, self.marked = [], False
        self.producer = None   # the OpNode that computed it (None for leaves)
        self.consumers = []    # OpNodes that take it as input (once per use)

    def __repr__(self):
        return f"<TensorNode {self.name} {_shape(self.shape)}>"


class OpNode:
    """One operation: ``op`` (the Function class name), ``label`` (with its constant
    arguments, e.g. ``Div(1, •)``), ``inputs`` (TensorNodes, in argument order),
    ``output`` (a TensorNode) and ``module`` (the layer it belongs to, or None)."""

    __slots__ = ("id", "op", "label", "inputs", "output", "module")

    def __init__(self, node_id, op, label):
        self.id, self.op, self.label = node_id, op, label
        self.inputs, self.output, self.module = [], None, None

    def __repr__(self):
        return f"<OpNode {self.label}>"


def _constant(x) -> str | None:
    if x is None:
        return None
    if isinstance(x, (bool, int, float, np.number, np.bool_)):
        return _num(x)
    shape = getattr(x, "shape", None)
    if shape is not None:
        return "array" + _shape(shape) if len(shape) else _num(np.asarray(x).item())
    return type(x).__name__


def _walk(output):
    """Tensors reachable from ``output`` in forward order (leaves first, ``output`` last),
    every tensor once, without recursion; raises if a backward freed the graph."""
    order, visited = [], set()
    stack = [(output, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is None:
            continue
        if ctx.parents is None:
            raise RuntimeError(
                f"graph(): the graph was freed by a backward() (at {type(ctx).__name__}); "
                "draw it before the backward, or call backward(retain_graph=True)")
        for p in reversed(ctx.parents):
            if isinstance(p, Tensor) and id(p) not in visited:
                stack.append((p, False))
    return order


def _gradients(order, output, seed):
    """d(output)/d(t) for every tensor t of ``order`` that requires grad, keyed by id(t):
    the recorded backward functions run once more over the retained graph, results kept
    here (no ``.grad`` is touched, no node is freed)."""
    grads = {id(output): seed}
    found = {}
    with no_grad():
        for t in reversed(order):  # the output first, the leaves last
            g = grads.pop(id(t), None)
            if g is None:
                continue
            g = _dev.asarray(g)  # a ufunc on 0-d arrays may have returned a NumPy scalar
            if tuple(g.shape) != tuple(t.shape):  # e.g. a 0-d gradient of a shape-() tensor
                g = _dev.array_module(g).broadcast_to(g, t.shape)
            found[id(t)] = g
            ctx = t._ctx
            if ctx is None:
                continue
            in_grads = ctx.backward(g.copy())  # a copy: an op may overwrite what it gets
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for parent, need, pg in zip(ctx.parents, ctx.needs_input_grad, in_grads):
                if not need or pg is None or not isinstance(parent, Tensor):
                    continue
                pg = _dev.asarray(pg)
                grads[id(parent)] = pg if id(parent) not in grads else grads[id(parent)] + pg
    return found


def _names(params):
    """id(tensor) -> name, id(tensor) -> owning module name, and name -> module."""
    names, owners, modules = {}, {}, {}
    if params is None:
        return names, owners, modules
    if hasattr(params, "named_parameters"):
        modules = dict(params.named_modules())
        for name, p in params.named_parameters():
            names.setdefault(id(p), name)
            owners.setdefault(id(p), name.rpartition(".")[0])
        return names, owners, modules
    if isinstance(params, dict):
        items = params.items()
    else:
        raise TypeError(f"graph(params=...) takes a Module or a dict name -> Tensor, got "
                        f"{type(params).__name__}")
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"graph(params=...): {name!r} is a {type(t).__name__}, not a Tensor")
        names.setdefault(id(t), str(name))
    return names, owners, modules


# ---- the graph ----------------------------------------------------------------------
class Graph:
    """The drawing of one recorded computation (made by :func:`graph`).

    ``tensors`` (TensorNodes) and ``ops`` (OpNodes) hold everything found, in forward
    order; ``nodes``/``edges`` are what the drawing shows (ids; fewer with ``collapse``);
    ``clusters`` the layer names with a box, ``collapsed`` those drawn as one node.
    :attr:`source` is the DOT text; :meth:`save` writes ``.dot``, ``.svg``, ``.png``, ...
    """

    def __init__(self, tensors, ops, modules=None, collapsed=(), rankdir="LR", title=None,
                 has_grads=False, output_name="output"):
        self.tensors, self.ops = tensors, ops
        self.modules = modules or {}
        self.collapsed = [m for m in dict.fromkeys(collapsed)]
        self.rankdir, self.title = rankdir, title
        self.has_grads, self.output_name = has_grads, output_name
        self.clusters = list(dict.fromkeys(
            [n.module for n in (*ops, *tensors) if n.module is not None]))

    def __repr__(self):
        return (f"<Graph: {len(self.ops)} operations, {len(self.tensors)} tensors"
                + (f", layers {', '.join(self.clusters)}" if self.clusters else "") + ">")

    # ---- marks --------------------------------------------------------------------
    def tensor_node(self, key) -> TensorNode:
        """The TensorNode of a tensor, given the tensor itself or its name."""
        for n in self.tensors:
            if (isinstance(key, Tensor) and n.tensor is key) or (
                    not isinstance(key, Tensor) and n.name == key):
                return n
        raise KeyError(f"no tensor {key if not isinstance(key, Tensor) else 'like that'} in "
                       "this graph; names: " + ", ".join(n.name for n in self.tensors))

    def mark(self, key, note: str | None = None) -> "Graph":
        """Draw a tensor (the tensor or its name) with a red border and, if given, a note
        under its value (e.g. "printed 0.593: does not follow"). Returns the graph."""
        node = self.tensor_node(key)
        node.marked = True
        if note:
            node.notes.append(str(note))
        return self

    def note(self, key, text: str) -> "Graph":
        """Add a line of text under a tensor's value, without marking it. Returns the graph."""
        self.tensor_node(key).notes.append(str(text))
        return self

    # ---- what is drawn ------------------------------------------------------------
    def _collapsed_set(self):
        return set(self.collapsed)

    def _layout(self):
        """(nodes, edges): nodes as (id, kind, payload, cluster), edges as (a, b, label)."""
        collapsed = self._collapsed_set()
        nodes, edges = [], []
        # where a hidden tensor comes from: the node that stands for it
        def rep_of_op(op):
            return f"layer{self.clusters.index(op.module)}" if op.module in collapsed else op.id

        drawn = {}
        for t in self.tensors:
            hidden = False
            if t.module in collapsed:
                hidden = True
            elif collapsed and t.kind == "intermediate" and not t.marked:
                hidden = True  # between layers: drawn as an edge with its shape
            drawn[t.id] = not hidden
        for name in self.clusters:
            if name in collapsed:
                nodes.append((f"layer{self.clusters.index(name)}", "layer", name, None))
        for t in self.tensors:
            if drawn[t.id]:
                nodes.append((t.id, "tensor", t, None if t.module in collapsed else t.module))
        for op in self.ops:
            if op.module not in collapsed:
                nodes.append((op.id, "op", op, op.module))
        for op in self.ops:
            dst = rep_of_op(op)
            for t in op.inputs:
                if drawn[t.id]:
                    src, label = t.id, None
                elif t.producer is not None:
                    src, label = rep_of_op(t.producer), _shape(t.shape)
                else:  # a parameter of a collapsed layer
                    src = f"layer{self.clusters.index(t.module)}"
                    label = None if t.module == op.module else t.name
                if src != dst:
                    edges.append((src, dst, label))
            if drawn[op.output.id] and dst != op.output.id:
                edges.append((dst, op.output.id, None))
        return nodes, edges

    @property
    def nodes(self) -> list:
        """Ids of the nodes drawn."""
        return [n[0] for n in self._layout()[0]]

    @property
    def edges(self) -> list:
        """``(from, to)`` ids of the edges drawn."""
        return [(a, b) for a, b, _ in self._layout()[1]]

    # ---- DOT ----------------------------------------------------------------------
    def _tensor_label(self, t: TensorNode) -> str:
        head = _font(t.name, bold=True)
        if t.shape:
            head += " " + _font(_shape(t.shape), size=10)
        rows = [head, _font(t.value, VALUE_COLOR)]
        if t.grad is not None:
            rows.append(_font("grad " + t.grad, GRAD_COLOR))
        rows += [_font(n, MARK_COLOR if t.marked else None, size=10, italic=True)
                 for n in t.notes]
        return _table(rows)

    def _layer_label(self, name: str) -> str:
        module = self.modules.get(name)
        ops = [op for op in self.ops if op.module == name]
        params = [t for t in self.tensors if t.module == name and t.kind == "parameter"]
        inside = {op.output.id for op in ops}
        ins = [t for op in ops for t in op.inputs
               if t.id not in inside and t.module != name]
        outs = [op.output for op in ops
                if op.output.kind == "output"
                or any(c.module != name for c in op.output.consumers)]
        rows = [_font(name, bold=True) + (" " + _font(type(module).__name__) if module else "")]
        shapes = " ".join(_shape(t.shape) for t in dict.fromkeys(ins))
        shapes += " → " + " ".join(_shape(t.shape) for t in dict.fromkeys(outs))
        rows.append(_font(shapes.strip(), size=10))
        if params:
            count = sum(int(np.prod(t.shape)) for t in params)
            rows.append(_font(f"{count:,} parameters", size=10))
        for t in dict.fromkeys(outs):
            rows.append(_font("out " + t.value, VALUE_COLOR, size=10))
        for t in params:
            if t.grad_data is not None:
                short = t.name.rpartition(".")[2]
                text = format_array(t.grad_data, 1)  # min / mean / max: one line each
                rows.append(_font(f"grad {short}: {text}", GRAD_COLOR, size=10))
        return _table(rows)

    @property
    def source(self) -> str:
        """The DOT text of the drawing."""
        nodes, edges = self._layout()
        lines = ["digraph neurona {",
                 f"  graph [rankdir={self.rankdir}, fontname=\"Helvetica\", nodesep=0.25, "
                 f"ranksep={0.35 if self.rankdir in ('LR', 'RL') else 0.25}, "
                 "bgcolor=\"white\", ordering=in];",
                 '  node [fontname="Helvetica", fontsize=12, margin="0.08,0.04"];',
                 '  edge [fontname="Helvetica", fontsize=9, color="#555555", '
                 'arrowsize=0.7];']
        legend = []
        if self.title:
            legend.append(_font(self.title, bold=True))
        key = _font("green: forward value", VALUE_COLOR)
        if self.has_grads:
            key += _html("   ") + _font(f"red: d {self.output_name} / d tensor", GRAD_COLOR)
        legend.append(key)
        lines.append(f"  label={_table(legend)}; labelloc=b; fontsize=11;")

        def node_line(nid, kind, payload):
            if kind == "tensor":
                t = payload
                style = "rounded,filled"
                fill = {"parameter": "#fff8dc", "output": "#eef6ff"}.get(t.kind, "white")
                extra = ""
                if t.marked:
                    extra = f', color="{MARK_COLOR}", penwidth=2.5'
                elif t.kind == "output":
                    extra = ", penwidth=2"
                return (f"{nid} [shape=box, style=\"{style}\", fillcolor=\"{fill}\"{extra}, "
                        f"label={self._tensor_label(t)}];")
            if kind == "op":
                return (f"{nid} [shape=ellipse, style=filled, fillcolor=\"#e8e8e8\", "
                        f"color=\"#888888\", height=0.3, label={_quote(payload.label)}];")
            return (f"{nid} [shape=box, style=\"rounded,filled\", fillcolor=\"#f0f4ff\", "
                    f"color=\"#4a6fa5\", penwidth=1.5, label={self._layer_label(payload)}];")

        by_cluster = {}
        for nid, kind, payload, cluster in nodes:
            by_cluster.setdefault(cluster, []).append(node_line(nid, kind, payload))
        lines += ["  " + line for line in by_cluster.pop(None, [])]
        for name, body in by_cluster.items():
            module = self.modules.get(name)
            label = f"{name}: {type(module).__name__}" if module is not None else name
            lines.append(f"  subgraph cluster_{self.clusters.index(name)} {{")
            lines.append(f"    label={_quote(label)}; style=\"rounded,dashed\"; "
                         "color=\"#4a6fa5\"; fontcolor=\"#4a6fa5\"; fontsize=11; labelloc=t;")
            lines += ["    " + line for line in body]
            lines.append("  }")
        for a, b, label in edges:
            lines.append(f"  {a} -> {b}" + (f" [label={_quote(label)}];" if label else ";"))
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self):
        return self.source

    # ---- rendering ----------------------------------------------------------------
    def pipe(self, format: str = "svg", dpi: int | None = None) -> bytes:
        """The drawing rendered by Graphviz's ``dot`` (``svg``, ``png``, ``pdf``, ...)."""
        format = format.lower().lstrip(".")
        if format in _TEXT_FORMATS:
            return self.source.encode("utf-8")
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizNotFound(
                f"rendering a graph as .{format} needs Graphviz's `dot` program, which is not "
                "on PATH: install the package `graphviz` (Debian/Ubuntu: `apt-get install "
                "graphviz`; macOS: `brew install graphviz`; conda: `conda install graphviz`). "
                "Graph.save('name.dot') and Graph.source give the DOT text without it.")
        cmd = [dot, f"-T{format}"] + ([f"-Gdpi={dpi}"] if dpi else [])
        proc = subprocess.run(cmd, input=self.source.encode("utf-8"), capture_output=True,
                              timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"dot -T{format} failed (exit {proc.returncode}): "
                               + proc.stderr.decode("utf-8", "replace").strip())
        return proc.stdout

    def save(self, path, format: str | None = None, dpi: int | None = None) -> Path:
        """Write the drawing to ``path``: ``.dot``/``.gv`` the DOT text (no Graphviz needed),
        ``.svg``, ``.png``, ``.pdf`` ... rendered by ``dot``. Returns the path."""
        path = Path(path)
        format = (format or path.suffix.lstrip(".") or "dot").lower()
        if format not in _TEXT_FORMATS | _FORMATS:
            raise ValueError(f"Graph.save: unknown format {format!r}; use one of "
                             + ", ".join(sorted(_TEXT_FORMATS | _FORMATS)))
        return atomic_write(path, self.pipe(format, dpi))

    def _repr_svg_(self):
        if shutil.which("dot") is None:
            return None  # the notebook falls back to repr()
        return self.pipe("svg").decode("utf-8")


# ---- building it -------------------------------------------------------------------
def graph(output, params=None, collapse=None, max_values: int = MAX_VALUES, grads="auto",
           grad=None, rankdir: str = "LR", title: str | None = None) -> Graph:
    """The computational graph that produced ``output``, with values and gradients.

    Args:
        output: the Tensor to draw back from (a loss, a network's output, any result).
        params: names for tensors: a Module (its ``named_parameters()``, which also groups
            the operations into its layers) or a dict ``name -> Tensor``.
        collapse: ``True`` draws each layer of ``params`` as one node; a list of module
            names collapses those; ``None``: collapse when the full drawing would have more
            than ``AUTO_COLLAPSE`` nodes.
        max_values: tensors with at most this many elements show their numbers, larger
            ones ``min / mean / max``.
        grads: ``"auto"``: compute d(output)/d(t) for every tensor over the retained graph
            when ``output`` has one element (or ``grad`` is given), else show the stored
            ``.grad``; ``True``: compute (error if impossible); ``"stored"``; ``False``.
        grad: the seed, as ``output.backward(grad)`` takes it (default 1 for one element).
        rankdir: Graphviz's direction, ``"LR"`` (left to right, as figure 6) or ``"TB"``.
        title: a line printed under the drawing, above the colour key.
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"graph() takes the Tensor to draw back from, got {type(output).__name__}")
    if grads not in ("auto", "stored", True, False):
        raise ValueError(f"graph(grads=...) is 'auto', 'stored', True or False, got {grads!r}")
    names, owners, modules = _names(params)
    order = _walk(output)

    # gradients
    computed = None
    can = output.requires_grad and (grad is not None or output.data.size == 1)
    if grads is True and not can:
        raise RuntimeError(
            "graph(grads=True) needs an output that requires grad and has one element, or "
            "grad= (the seed of the backward pass)" if output.requires_grad else
            "graph(grads=True): the output does not require grad (no input had "
            "requires_grad=True, or it was computed under no_grad())")
    if grads in (True, "auto") and can:
        if grad is None:
            seed = _dev.like(output.data, np.ones(output.shape, dtype=output.data.dtype))
        else:
            seed = grad.data if isinstance(grad, Tensor) else _dev.like(output.data,
                                                                        np.asarray(grad))
            seed = seed.astype(output.data.dtype, copy=False)
            if tuple(seed.shape) != tuple(output.shape):
                raise ValueError(f"graph(grad=...) needs shape {output.shape}, got {seed.shape}")
        computed = _gradients(order, output, seed)

    # tensor nodes
    tnodes, by_id = [], {}
    counters = {"in": 0, "t": 0}
    for t in order:
        if id(t) in names:
            name = names[id(t)]
        elif t.name is not None:
            name = str(t.name)
        elif t is output:
            name = "output"
        else:
            prefix = "in" if t._ctx is None else "t"
            name = f"{prefix}{counters[prefix]}"
            counters[prefix] += 1
        kind = ("output" if t is output else "parameter" if id(t) in owners
                else "input" if t._ctx is None else "intermediate")
        node = TensorNode(f"n{len(tnodes)}", t, name, kind)
        node.value = format_array(t.data, max_values)
        g = None
        if computed is not None:
            g = computed.get(id(t))
        elif grads in ("auto", "stored"):
            g = t.grad
        if g is not None:
            node.grad, node.grad_data = format_array(g, max_values), g
        tnodes.append(node)
        by_id[id(t)] = node

    # op nodes
    onodes = []
    for t in order:
        ctx = t._ctx
        if ctx is None:
            continue
        name = type(ctx).__name__
        parts, consts = [], False
        for p in ctx.parents:
            if isinstance(p, Tensor):
                parts.append("•")
            else:
                c = _constant(p)
                if c is not None:
                    parts.append(c)
                    consts = True
        label = f"{name}({', '.join(parts)})" if consts else name
        op = OpNode(f"op{len(onodes)}", name, label)
        op.output = by_id[id(t)]
        op.output.producer = op
        for p in ctx.parents:
            if isinstance(p, Tensor):
                tn = by_id[id(p)]
                op.inputs.append(tn)
                tn.consumers.append(op)
        onodes.append(op)

    # layers: an op that takes the parameters of one module belongs to it
    if owners:
        for op in onodes:
            mods = {owners[id(t.tensor)] for t in op.inputs if id(t.tensor) in owners}
            mods.discard("")
            op.module = mods.pop() if len(mods) == 1 else None
        for tn in tnodes:
            if tn.kind == "parameter":
                tn.module = owners[id(tn.tensor)] or None
            elif tn.kind == "intermediate" and tn.producer.module is not None and all(
                    c.module == tn.producer.module for c in tn.consumers):
                tn.module = tn.producer.module

    g = Graph(tnodes, onodes, modules, (), rankdir, title,
              has_grads=any(n.grad is not None for n in tnodes),
              output_name=by_id[id(output)].name)
    if collapse is None:
        collapse = bool(g.clusters) and len(tnodes) + len(onodes) > AUTO_COLLAPSE
    if collapse is True:
        g.collapsed = list(g.clusters)
    elif collapse:
        wanted = [collapse] if isinstance(collapse, str) else list(collapse)
        unknown = [m for m in wanted if m not in g.clusters]
        if unknown:
            raise ValueError(f"graph(collapse=...): no layer {', '.join(map(repr, unknown))} in "
                             "this graph; layers: " + (", ".join(g.clusters) or "none"))
        g.collapsed = wanted
    return g
