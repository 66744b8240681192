"""Reference for LesionNNTests.PyTorchCompatibilityTests, written with NumPy alone.

A small network with every kind of layer that holds weights or changes layout, in PyTorch's
conventions: conv weights [out, in, kh, kw], NCHW activations, Flatten in (c, h, w) order,
Linear weights [out, in], BatchNorm in evaluation mode with running statistics. The weights are
saved with PyTorch's state-dict names by the `safetensors` package, the input and the logits as
.npy. Run once; the outputs are committed. Requires numpy and safetensors (pip).

  conv1 Conv2d(3, 4, 3, padding=1) . bn1 BatchNorm2d(4) . relu . pool1 MaxPool2d(2)
  conv2 Conv2d(4, 6, 3, stride=2, padding=1) . relu . pool2 AvgPool2d(2) ... 12 -> 6 -> 3 -> 1
  flatten . fc1 Linear(6, 8) . bn2 BatchNorm1d(8) . relu . fc2 Linear(8, 5)
"""
import numpy as np
from safetensors.numpy import save_file

rng = np.random.default_rng(20181105)
f32 = np.float32

def conv2d(x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - k) // stride + 1
    wo = (wd + 2 * padding - k) // stride + 1
    y = np.zeros((n, o, ho, wo), dtype=np.float64)
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return y + b[None, :, None, None]

def bn(x, g, b, mean, var, eps=1e-5):
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * g.reshape(shape) + b.reshape(shape)

def maxpool(x, k):
    n, c, h, w = x.shape
    ho, wo = h // k, w // k
    return x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).max(axis=(3, 5))

def avgpool(x, k):
    n, c, h, w = x.shape
    ho, wo = h // k, w // k
    return x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).mean(axis=(3, 5))

relu = lambda x: np.maximum(x, 0)

w = {
    "conv1.weight": rng.normal(0, 0.3, (4, 3, 3, 3)), "conv1.bias": rng.normal(0, 0.1, 4),
    "bn1.weight": rng.uniform(0.5, 1.5, 4), "bn1.bias": rng.normal(0, 0.1, 4),
    "bn1.running_mean": rng.normal(0, 0.2, 4), "bn1.running_var": rng.uniform(0.5, 2, 4),
    "conv2.weight": rng.normal(0, 0.3, (6, 4, 3, 3)), "conv2.bias": rng.normal(0, 0.1, 6),
    "fc1.weight": rng.normal(0, 0.4, (8, 6)), "fc1.bias": rng.normal(0, 0.1, 8),
    "bn2.weight": rng.uniform(0.5, 1.5, 8), "bn2.bias": rng.normal(0, 0.1, 8),
    "bn2.running_mean": rng.normal(0, 0.2, 8), "bn2.running_var": rng.uniform(0.5, 2, 8),
    "fc2.weight": rng.normal(0, 0.4, (5, 8)), "fc2.bias": rng.normal(0, 0.1, 5),
}
w = {k: v.astype(f32) for k, v in w.items()}
x = rng.uniform(0, 1, (5, 3, 12, 12)).astype(f32)

d = {k: v.astype(np.float64) for k, v in w.items()}
h = relu(bn(conv2d(x.astype(np.float64), d["conv1.weight"], d["conv1.bias"], padding=1),
            d["bn1.weight"], d["bn1.bias"], d["bn1.running_mean"], d["bn1.running_var"]))
h = maxpool(h, 2)
h = avgpool(relu(conv2d(h, d["conv2.weight"], d["conv2.bias"], stride=2, padding=1)), 2)
h = h.reshape(h.shape[0], -1)
h = relu(bn(h @ d["fc1.weight"].T + d["fc1.bias"], d["bn2.weight"], d["bn2.bias"], d["bn2.running_mean"], d["bn2.running_var"]))
logits = h @ d["fc2.weight"].T + d["fc2.bias"]

state = dict(w)
state["bn1.num_batches_tracked"] = np.array(7, dtype=np.int64)
state["bn2.num_batches_tracked"] = np.array(7, dtype=np.int64)
save_file(state, "reference_net.safetensors", metadata={"format": "pt"})
np.save("reference_input.npy", x)
np.save("reference_logits.npy", logits.astype(f32))
print(logits)
