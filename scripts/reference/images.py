"""Makes the small image fixtures of Tests/lua/fixtures and records what torchvision's
ImageFolder (PIL loader, transforms) gives for them (not needed to build, run or test Lesion).

Writes images/{cat,dog}/... in assorted sizes and modes, bad/cls/... (damaged files), gray16.png,
and images_<transform>.npy: the stacked tensors of the folder for each transform below.
"""
import os
import shutil
import sys

import numpy as np
import torch
import torch.library
from PIL import Image

_rf = torch.library.register_fake
torch.library.register_fake = lambda name, *a, **k: (lambda f: f) if str(name).startswith("torchvision::") else _rf(name, *a, **k)
from torchvision import datasets, transforms  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/lua/fixtures"
root = os.path.join(out, "images")
shutil.rmtree(root, ignore_errors=True)
for d in ["cat/sub", "dog"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)


def pattern(h, w, c, seed):
    y, x = np.mgrid[0:h, 0:w]
    planes = [(np.sin(x * (0.3 + 0.1 * k) + y * (0.2 + 0.05 * seed) + k) * 110 + 128 + (x * y * (k + 1)) % 17) for k in range(c)]
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


Image.fromarray(pattern(29, 37, 3, 1)).save(f"{root}/cat/a_rgb.jpg", quality=90)
Image.fromarray(pattern(31, 20, 1, 2)[..., 0], "L").save(f"{root}/cat/b_gray.jpg", quality=85)
Image.fromarray(pattern(24, 33, 4, 3), "RGBA").save(f"{root}/cat/sub/c_rgba.png")
p = Image.fromarray(pattern(40, 19, 3, 4)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
p.info["transparency"] = 3
p.save(f"{root}/dog/d_palette.png", transparency=3)
rgb16 = pattern(22, 26, 3, 5).astype(np.uint16) * 257 + np.arange(26, dtype=np.uint16)[None, :, None]
import zlib, struct  # noqa: E401,E402


def png16(path, a, color_type):
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)  # noqa: E731
    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


png16(f"{root}/dog/f_rgb16.png", rgb16, 2)
Image.fromarray(pattern(21, 45, 1, 6)[..., 0], "L").save(f"{root}/dog/g_gray.png")
Image.fromarray(pattern(27, 23, 2, 7), "LA").save(f"{root}/dog/h_la.png")
Image.fromarray(pattern(18, 30, 1, 8)[..., 0] > 128).save(f"{root}/dog/i_1bit.png")
# 16-bit grayscale: PIL clips it to 0..255 when converting to RGB; Lesion keeps the high byte.
g16 = (np.arange(12 * 10, dtype=np.uint32).reshape(12, 10) * 541 % 65536).astype(np.uint16)
png16(f"{out}/gray16.png", g16, 0)
np.save(f"{out}/gray16_high_byte.npy", (g16 >> 8).astype(np.float32) / 255)

bad = os.path.join(out, "bad", "cls")
shutil.rmtree(os.path.join(out, "bad"), ignore_errors=True)
os.makedirs(bad)
data = open(f"{root}/cat/a_rgb.jpg", "rb").read()
open(f"{bad}/truncated.jpg", "wb").write(data[: len(data) // 2])
open(f"{bad}/text.png", "wb").write(b"this is not an image\n")
data = open(f"{root}/dog/g_gray.png", "rb").read()
open(f"{bad}/truncated.png", "wb").write(data[: len(data) - 30])

imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
TRANSFORMS = {
    "small": transforms.Compose([transforms.Resize(16), transforms.CenterCrop(12), transforms.ToTensor()]),
    "large": transforms.Compose([transforms.Resize(48), transforms.CenterCrop((40, 43)), transforms.ToTensor()]),
    "exact": transforms.Compose([transforms.Resize((17, 30)), transforms.ToTensor(), transforms.Normalize(*imagenet)]),
}
for name, tf in TRANSFORMS.items():
    ds = datasets.ImageFolder(root, transform=tf)
    x = torch.stack([ds[i][0] for i in range(len(ds))]).numpy()
    np.save(f"{out}/images_{name}.npy", x.astype(np.float32))
    print(name, x.shape, [os.path.relpath(p, root) for p, _ in ds.samples])
