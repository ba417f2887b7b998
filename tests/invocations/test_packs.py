from __future__ import annotations

import io
import sys

import pytest

from eventsvc.errors import NodeError
from eventsvc.invocations import collections, math, primitives, strings, tensors
from eventsvc.invocations.context import ArtifactRef
from eventsvc.testing import FakeContext


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


def test_primitives_return_their_values(context: FakeContext) -> None:
    assert primitives.IntegerInvocation(value=7).invoke(context).value == 7
    assert primitives.FloatInvocation(value=2.5).invoke(context).value == 2.5
    assert primitives.StringInvocation(value="hi").invoke(context).value == "hi"
    assert primitives.BooleanInvocation(value=True).invoke(context).value is True
    assert primitives.IntegerCollectionInvocation(collection=[1, 2]).invoke(context).collection == [
        1,
        2,
    ]
    assert primitives.StringCollectionInvocation(collection=["a"]).invoke(context).collection == [
        "a"
    ]


def test_math(context: FakeContext) -> None:
    assert math.AddInvocation(a=2, b=3).invoke(context).value == 5
    assert math.SubtractInvocation(a=2, b=3).invoke(context).value == -1
    assert math.MultiplyInvocation(a=4, b=3).invoke(context).value == 12
    assert math.DivideInvocation(a=7, b=2).invoke(context).value == 3
    assert math.DivideInvocation(a=-7, b=2).invoke(context).value == -3


def test_division_by_zero_is_a_clear_node_failure(context: FakeContext) -> None:
    with pytest.raises(NodeError, match="cannot divide 7 by zero"):
        math.DivideInvocation(a=7, b=0).invoke(context)


def test_random_int_is_seeded_and_in_range(context: FakeContext) -> None:
    draws = [
        math.RandomIntInvocation(low=5, high=9, seed=s).invoke(context).value for s in range(50)
    ]
    assert set(draws) == {5, 6, 7, 8}
    again = [
        math.RandomIntInvocation(low=5, high=9, seed=s).invoke(context).value for s in range(50)
    ]
    assert draws == again
    with pytest.raises(NodeError, match="must be greater than low"):
        math.RandomIntInvocation(low=3, high=3).invoke(context)


def test_strings(context: FakeContext) -> None:
    joined = strings.StringJoinInvocation(left="a", right="b", separator="-").invoke(context)
    assert joined.value == "a-b"
    replaced = strings.StringReplaceInvocation(string="aXbX", search="X", replace="y")
    assert replaced.invoke(context).value == "ayby"
    regex = strings.StringReplaceInvocation(
        string="a1b22", search=r"\d+", replace="#", use_regex=True
    )
    assert regex.invoke(context).value == "a#b#"
    assert strings.StringSplitInvocation(string="a b  c").invoke(context).collection == [
        "a",
        "b",
        "c",
    ]
    assert strings.StringSplitInvocation(string="a,b", delimiter=",").invoke(
        context
    ).collection == [
        "a",
        "b",
    ]
    formatted = strings.StringFormatInvocation(template="{who} is {n}", values={"who": "x", "n": 3})
    assert formatted.invoke(context).value == "x is 3"


def test_string_errors_name_the_problem(context: FakeContext) -> None:
    with pytest.raises(NodeError, match="invalid regex"):
        strings.StringReplaceInvocation(string="a", search="(", use_regex=True).invoke(context)
    with pytest.raises(NodeError, match=r"\['who'\]"):
        strings.StringFormatInvocation(template="{who}").invoke(context)
    # Only {name} placeholders are filled: no attribute access or format specs are evaluated.
    safe = strings.StringFormatInvocation(template="{x.__class__} {x}", values={"x": 1})
    assert safe.invoke(context).value == "{x.__class__} 1"


def test_range(context: FakeContext) -> None:
    assert collections.RangeInvocation(start=1, stop=8, step=3).invoke(context).collection == [
        1,
        4,
        7,
    ]
    with pytest.raises(NodeError, match="step cannot be 0"):
        collections.RangeInvocation(step=0).invoke(context)


# --- tensors ------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def load(context: FakeContext, ref: ArtifactRef) -> object:
    return tensors.load_tensor(context, ref, "test")


def test_noise_is_seeded(context: FakeContext) -> None:
    first = tensors.NoiseInvocation(width=8, height=4, channels=3, seed=1).invoke(context).tensor
    again = tensors.NoiseInvocation(width=8, height=4, channels=3, seed=1).invoke(context).tensor
    other = tensors.NoiseInvocation(width=8, height=4, channels=3, seed=2).invoke(context).tensor
    assert first == again
    assert first.artifact != other.artifact
    assert first.shape == [3, 4, 8]
    assert first.kind == "tensor"


def test_blend_blur_normalize(context: FakeContext) -> None:
    a = tensors.NoiseInvocation(width=16, height=16, seed=1).invoke(context).tensor
    b = tensors.NoiseInvocation(width=16, height=16, seed=2).invoke(context).tensor
    blended = tensors.BlendInvocation(a=a, b=b, alpha=0.25).invoke(context).tensor
    expected = load(context, a) * 0.75 + load(context, b) * 0.25  # type: ignore[operator]
    assert torch.allclose(load(context, blended), expected)

    blurred = load(
        context, tensors.GaussianBlurInvocation(tensor=a, sigma=2).invoke(context).tensor
    )
    assert blurred.shape == (3, 16, 16)  # type: ignore[attr-defined]
    assert blurred.std() < load(context, a).std()  # type: ignore[attr-defined]

    normal = load(context, tensors.NormalizeInvocation(tensor=a).invoke(context).tensor)
    assert float(normal.min()) == 0.0  # type: ignore[attr-defined]
    assert float(normal.max()) == 1.0  # type: ignore[attr-defined]


def test_blend_refuses_different_shapes(context: FakeContext) -> None:
    a = tensors.NoiseInvocation(width=4, height=4).invoke(context).tensor
    b = tensors.NoiseInvocation(width=5, height=4).invoke(context).tensor
    with pytest.raises(NodeError, match="shapes differ"):
        tensors.BlendInvocation(a=a, b=b).invoke(context)


def test_to_image_writes_a_png(context: FakeContext) -> None:
    from PIL import Image

    noise = tensors.NoiseInvocation(width=12, height=7, channels=3, seed=3).invoke(context).tensor
    normal = tensors.NormalizeInvocation(tensor=noise).invoke(context).tensor
    ref = tensors.ToImageInvocation(tensor=normal).invoke(context).image
    assert (ref.kind, ref.size) == ("image", (12, 7))
    assert context.artifacts.media_type(ref.artifact) == "image/png"
    picture = Image.open(io.BytesIO(context.artifacts.get(ref.artifact)))
    assert (picture.format, picture.mode, picture.size) == ("PNG", "RGB", (12, 7))


def test_without_torch_a_tensor_node_says_what_to_install(
    context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(NodeError, match=r"install the 'torch' extra"):
        tensors.NoiseInvocation().invoke(context)
