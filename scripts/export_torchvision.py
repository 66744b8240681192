"""Exports torchvision's pretrained weights to safetensors for Lesion (run on a machine with
PyTorch, torchvision and safetensors; Lesion itself needs none of them).

    python scripts/export_torchvision.py resnet18 resnet18.safetensors
    lesion run examples/resnet.lua --set arch=resnet18 --set weights=resnet18.safetensors --set images=val/

Names: alexnet, vgg11, vgg13, vgg16, vgg19, vgg11_bn, ..., resnet18, resnet34, resnet50, resnet101.
For a `_bn` VGG build it in Lesion with models.vgg16{bn = true}.
"""
import sys

import torch
from safetensors.torch import save_file
from torchvision import models


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    name, path = sys.argv[1], sys.argv[2]
    model = models.get_model(name, weights="DEFAULT").eval()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, path)
    print(f"{name}: {sum(v.numel() for v in state.values())} values in {len(state)} tensors -> {path}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
