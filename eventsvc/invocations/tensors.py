"""Tensor and image nodes, seeded and deterministic, passing values as artifact references.

The classes always register, so schemas do not depend on what is installed; torch and Pillow
are imported inside ``invoke`` only, and running a node without them is a node failure that
says to install the ``torch`` extra. A tensor artifact is its float32 values, C-contiguous and
little-endian; its shape and dtype travel in the reference. Images are PNG files.
"""

from __future__ import annotations

import io
import math
from typing import Any

from eventsvc.errors import NodeError
from eventsvc.invocations.base import (
    BaseInvocation,
    BaseInvocationOutput,
    Input,
    InputField,
    OutputField,
)
from eventsvc.invocations.context import ArtifactRef, InvocationContext
from eventsvc.invocations.decorators import invocation, invocation_output

TENSOR_MEDIA_TYPE = "application/x-eventsvc-tensor-f32"
_TAGS = ("tensor",)


def _import(module: str, node: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise NodeError(
            f"{node}: needs {module}, which is not installed; install the 'torch' extra "
            "(pip install 'eventsvc[torch]')"
        ) from exc


def load_tensor(context: InvocationContext, ref: ArtifactRef, node: str) -> Any:
    torch = _import("torch", node)
    if ref.kind != "tensor" or ref.shape is None:
        raise NodeError(f"{node}: artifact {ref.artifact[:12]} is a {ref.kind}, not a tensor")
    data = bytearray(context.artifacts.get(ref.artifact))
    return torch.frombuffer(data, dtype=torch.float32).reshape(ref.shape)


def store_tensor(context: InvocationContext, tensor: Any) -> ArtifactRef:
    values = tensor.detach().to("cpu", dtype=_import("torch", "tensor").float32).contiguous()
    sha = context.artifacts.put(values.numpy().tobytes(), TENSOR_MEDIA_TYPE)
    return ArtifactRef(artifact=sha, kind="tensor", shape=list(values.shape), dtype="float32")


@invocation_output("tensor_output")
class TensorOutput(BaseInvocationOutput):
    tensor: ArtifactRef = OutputField(description="The tensor (channels, height, width)")


@invocation_output("image_output")
class ImageOutput(BaseInvocationOutput):
    image: ArtifactRef = OutputField(description="The PNG image")


@invocation("noise", title="Seeded Noise", tags=(*_TAGS, "noise"), category="tensors")
class NoiseInvocation(BaseInvocation):
    """Standard normal noise of shape (channels, height, width), the same for the same seed."""

    width: int = InputField(64, ge=1, le=4096, description="Width in pixels")
    height: int = InputField(64, ge=1, le=4096, description="Height in pixels")
    channels: int = InputField(3, ge=1, le=4, description="Channels")
    seed: int = InputField(0, ge=0, description="The seed")

    def invoke(self, context: InvocationContext) -> TensorOutput:
        torch = _import("torch", "noise")
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        noise = torch.randn((self.channels, self.height, self.width), generator=generator)
        return TensorOutput(tensor=store_tensor(context, noise))


@invocation("blend", title="Blend Tensors", tags=(*_TAGS, "blend"), category="tensors")
class BlendInvocation(BaseInvocation):
    """(1 - alpha) * a + alpha * b"""

    a: ArtifactRef = InputField(input=Input.CONNECTION, description="The first tensor")
    b: ArtifactRef = InputField(input=Input.CONNECTION, description="The second tensor")
    alpha: float = InputField(0.5, ge=0.0, le=1.0, description="How much of b")

    def invoke(self, context: InvocationContext) -> TensorOutput:
        a, b = load_tensor(context, self.a, "blend"), load_tensor(context, self.b, "blend")
        if a.shape != b.shape:
            raise NodeError(f"blend: shapes differ: a {list(a.shape)}, b {list(b.shape)}")
        return TensorOutput(tensor=store_tensor(context, a * (1 - self.alpha) + b * self.alpha))


@invocation("gaussian_blur", title="Gaussian Blur", tags=(*_TAGS, "blur"), category="tensors")
class GaussianBlurInvocation(BaseInvocation):
    """Blur each channel with a gaussian kernel of ``sigma`` pixels (reflecting edges)."""

    tensor: ArtifactRef = InputField(input=Input.CONNECTION, description="The tensor to blur")
    sigma: float = InputField(1.0, gt=0.0, le=64.0, description="Standard deviation in pixels")

    def invoke(self, context: InvocationContext) -> TensorOutput:
        torch = _import("torch", "gaussian_blur")
        image = load_tensor(context, self.tensor, "gaussian_blur")
        radius = max(1, math.ceil(3 * self.sigma))
        if radius >= min(image.shape[-2:]):
            radius = min(image.shape[-2:]) - 1
        offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-(offsets**2) / (2 * self.sigma**2))
        kernel = kernel / kernel.sum()
        channels = image.shape[0]
        x = image.unsqueeze(0)
        if radius > 0:
            pad = torch.nn.functional.pad
            conv = torch.nn.functional.conv2d
            horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
            vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
            x = conv(pad(x, (radius, radius, 0, 0), mode="reflect"), horizontal, groups=channels)
            x = conv(pad(x, (0, 0, radius, radius), mode="reflect"), vertical, groups=channels)
        return TensorOutput(tensor=store_tensor(context, x.squeeze(0)))


@invocation("normalize", title="Normalize Tensor", tags=(*_TAGS, "normalize"), category="tensors")
class NormalizeInvocation(BaseInvocation):
    """Scale values linearly into [0, 1] (a constant tensor becomes all zeros)."""

    tensor: ArtifactRef = InputField(input=Input.CONNECTION, description="The tensor")

    def invoke(self, context: InvocationContext) -> TensorOutput:
        x = load_tensor(context, self.tensor, "normalize")
        low, high = x.min(), x.max()
        span = high - low
        scaled = (x - low) / span if float(span) > 0 else x * 0
        return TensorOutput(tensor=store_tensor(context, scaled))


@invocation("to_image", title="Tensor to Image", tags=(*_TAGS, "image"), category="tensors")
class ToImageInvocation(BaseInvocation):
    """Write a (1, 3 or 4 channel) tensor with values in [0, 1] as a PNG image."""

    tensor: ArtifactRef = InputField(input=Input.CONNECTION, description="Values in [0, 1]")

    def invoke(self, context: InvocationContext) -> ImageOutput:
        image_module = _import("PIL.Image", "to_image").Image
        x = load_tensor(context, self.tensor, "to_image")
        modes = {1: "L", 3: "RGB", 4: "RGBA"}
        if x.dim() != 3 or x.shape[0] not in modes:
            raise NodeError(f"to_image: needs 1, 3 or 4 channels, got shape {list(x.shape)}")
        pixels = (x.clamp(0, 1) * 255).round().to(dtype=_import("torch", "to_image").uint8)
        array = pixels.permute(1, 2, 0).contiguous().numpy()
        mode = modes[x.shape[0]]
        picture = image_module.fromarray(array[:, :, 0] if mode == "L" else array, mode=mode)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        sha = context.artifacts.put(buffer.getvalue(), "image/png")
        return ImageOutput(
            image=ArtifactRef(artifact=sha, kind="image", size=(picture.width, picture.height))
        )
