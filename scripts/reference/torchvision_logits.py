"""Records the logits of torchvision's builders for Lesion's reference test (not needed to build,
run or test Lesion; run it on a machine with PyTorch and torchvision to renew the literals in
Tests/LuaHostTests/TorchvisionTests.swift).

Every tensor of the state dict (num_batches_tracked aside) is filled by a formula that Lesion's
test computes the same way: element j of the t-th name in sorted order is
u = ((j * 2654435761 + (t + 1) * 97531) mod 2^32) / 2^32 - 0.5, scaled per kind of tensor; the
input is the same formula with t = -1. Printed as Swift literals, in evaluation mode: the logits,
and for the output of `avgpool` (flattened) per image its first 6 values, sum and sum of squares.
"""
import sys

import numpy as np
import torch
import torch.library

# torchvision's compiled operators may not match a CPU build of torch; the models need none.
_register_fake = torch.library.register_fake
torch.library.register_fake = lambda name, *a, **k: (lambda f: f) if str(name).startswith("torchvision::") else _register_fake(name, *a, **k)
from torchvision import models  # noqa: E402


def formula(n, t):
    j = np.arange(n, dtype=np.uint64)
    h = (j * np.uint64(2654435761) + np.uint64((t + 1) * 97531)) % np.uint64(2**32)
    return h.astype(np.float64) / 4294967296.0 - 0.5


def fill(model):
    sd = model.state_dict()
    names = sorted(k for k in sd if not k.endswith("num_batches_tracked"))
    for t, name in enumerate(names):
        x = sd[name]
        u = formula(x.numel(), t)
        leaf = name.rsplit(".", 1)[1]
        if leaf == "weight" and x.dim() > 1:
            v = u * np.sqrt(24.0 / (x.numel() / x.shape[0]))
        elif leaf == "weight":
            v = 1 + 0.2 * u
        elif leaf == "running_var":
            v = 1 + u
        else:
            v = 0.2 * u
        x.copy_(torch.from_numpy(v.astype(np.float32)).reshape(x.shape))


def narrow_classifier(m, hidden):
    """torchvision's classifier with `hidden` units instead of 4096 (Lesion's `hidden` option)."""
    c = m.classifier
    lin = [i for i, l in enumerate(c) if isinstance(l, torch.nn.Linear)]
    c[lin[0]] = torch.nn.Linear(c[lin[0]].in_features, hidden)
    c[lin[1]] = torch.nn.Linear(hidden, hidden)
    c[lin[2]] = torch.nn.Linear(hidden, c[lin[2]].out_features)
    return m


CASES = [("resnet18", None, 64), ("resnet50", None, 64), ("alexnet", 64, 64), ("vgg11_bn", 64, 32)]

for name, hidden, side in CASES:
    m = getattr(models, name)(num_classes=10)
    if hidden:
        m = narrow_classifier(m, hidden)
    m = m.eval()
    fill(m)
    x = torch.from_numpy(formula(2 * 3 * side * side, -1).astype(np.float32)).reshape(2, 3, side, side)
    pooled = {}
    def keep(module, inputs, output):
        pooled["v"] = output.detach().double().reshape(2, -1).numpy()

    m.avgpool.register_forward_hook(keep)
    with torch.no_grad():
        y = m(x).numpy().reshape(-1)
    p = pooled["v"]
    stats = [v for r in p for v in list(r[:6]) + [r.sum(), (r * r).sum()]]
    print(f'"{name}": ([' + ", ".join(f"{v:.7g}" for v in y) + "],", file=sys.stdout)
    print("    [" + ", ".join(f"{v:.9g}" for v in stats) + "]),", file=sys.stdout)
