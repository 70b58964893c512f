"""The generic workload: train one epoch with neurona or PyTorch on the same batches.

A workload subclass gives the data, the two twin models, the two losses, the batch size
and the learning rate; everything else (batching, the SGD step, recording the first
losses, accuracy) is shared here so both sides do exactly the same work.
"""

from __future__ import annotations

import numpy as np

from . import common

RECORD = 5  # losses of the first RECORD steps of each epoch are kept (the smoke test compares them)


class TrainWorkload:
    name = "?"
    title = "?"
    notes: list[str] = []
    batch_size = 32
    lr = 0.1
    shuffle = True          # False: the stored order every epoch (LeCun 1989)
    unit = "epoch"          # what one timed repetition is
    eval_batch = 256
    device = "cpu"          # 'cuda': neurona on CuPy, PyTorch on CUDA (set by --device)

    # ---- to override ----------------------------------------------------------------
    def load(self, quick: bool, tiny: bool):
        """Set self.x, self.t (targets), self.x_test, self.y_test, self.source."""
        raise NotImplementedError

    def neurona_model(self):
        raise NotImplementedError

    def torch_model(self):
        raise NotImplementedError

    def neurona_loss(self, out, target):
        raise NotImplementedError

    def torch_loss(self, out, target):
        raise NotImplementedError

    # ---- shared -----------------------------------------------------------------------
    def examples_per_epoch(self):
        return len(self.x)

    def _batches(self, rep):
        n, bs = len(self.x), self.batch_size
        if not self.shuffle:
            for i in range(0, n - bs + 1, bs):
                yield self.x[i:i + bs], self.t[i:i + bs]
            return
        order = np.random.default_rng(1000 + rep).permutation(n)
        for i in range(0, n - bs + 1, bs):
            idx = order[i:i + bs]
            yield self.x[idx], self.t[idx]

    def setup(self, side: str, seed: int = 0):
        """Build the models: neurona's from ``seed``; torch's as a copy of neurona's weights."""
        import neurona
        neurona.manual_seed(seed)
        self.nmodel = self.neurona_model()
        if side in ("torch", "both"):
            import torch
            torch.manual_seed(seed)
            self.tmodel = self.torch_model()
            common.copy_weights(self.nmodel, self.tmodel)
            self.tmodel.to(self.device)
            self.topt = torch.optim.SGD(self.tmodel.parameters(), lr=self.lr)
        self.nmodel.to(self.device)
        self.nopt = neurona.optim.SGD(self.nmodel.parameters(), lr=self.lr)

    def sync(self, side: str):
        """Wait for the GPU to finish (timings on 'cuda' would stop at the last launch)."""
        if self.device == "cpu":
            return
        if side == "torch":
            import torch
            torch.cuda.synchronize()
        else:
            from neurona import backend
            backend.synchronize()

    def epoch_neurona(self, rep: int) -> list[float]:
        from neurona import Tensor
        model, opt, lossf = self.nmodel, self.nopt, self.neurona_loss
        losses = []
        for xb, tb in self._batches(rep):
            opt.zero_grad()
            loss = lossf(model(Tensor(xb, device=self.device)), Tensor(tb, device=self.device))
            loss.backward()
            opt.step()
            if len(losses) < RECORD:
                losses.append(loss.item())
        self.sync("neurona")
        return losses

    def epoch_torch(self, rep: int) -> list[float]:
        import torch
        model, opt, lossf = self.tmodel, self.topt, self.torch_loss
        losses = []
        for xb, tb in self._batches(rep):
            opt.zero_grad()
            dev = self.device
            loss = lossf(model(torch.from_numpy(xb).to(dev)), torch.from_numpy(tb).to(dev))
            loss.backward()
            opt.step()
            if len(losses) < RECORD:
                losses.append(loss.item())
        self.sync("torch")
        return losses

    def outputs_neurona(self, x):
        """neurona's ``predict`` (what ``model.predict`` runs: evaluation mode, no graph,
        batches of ``eval_batch``; with ``--split``, a range of the batches per thread)."""
        from neurona.train import predict
        return predict(self.nmodel, x, batch_size=self.eval_batch)

    def outputs_torch(self, x):
        import torch
        outs = []
        with torch.no_grad():
            for i in range(0, len(x), self.eval_batch):
                batch = torch.from_numpy(x[i:i + self.eval_batch]).to(self.device)
                outs.append(self.tmodel(batch).cpu().numpy())
        return np.concatenate(outs)

    def accuracy(self, side: str) -> float:
        out = self.outputs_neurona(self.x_test) if side == "neurona" else self.outputs_torch(self.x_test)
        return float((out.argmax(1) == self.y_test).mean())


def mnist_flat(quick: bool, tiny: bool, train_n: int = 50000):
    """Flattened MNIST (N, 784) float32: the thesis's first 50,000 for training, the next
    10,000 ("validation") for accuracy. quick/tiny: fewer examples."""
    ((xtr, ytr), _), source = common.mnist()
    n = 64 if tiny else (9600 if quick else train_n)
    n_test = 256 if tiny else (2000 if quick else 10000)
    x = np.ascontiguousarray(xtr[:n].reshape(n, 784))
    xv = np.ascontiguousarray(xtr[50000:50000 + n_test].reshape(n_test, 784))
    return x, ytr[:n], xv, ytr[50000:50000 + n_test], source
