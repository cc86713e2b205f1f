#!/usr/bin/python3
"""Writes the tiny ONNX models test/plate-ctc.test.ts loads to check the plate-ctc engine's handling of bad models
(python3-onnx only; the files are committed, CI does not run this):

  test-fixtures/plate-ctc/wrong-output.onnx      gives [N, 16, 11] (a model of another alphabet), not [N, T, 37]
  test-fixtures/plate-ctc/throws-when-bright.onnx gives probabilities that spell ABC1234 for any input whose
      brightest pixel is under 240/255, and fails in onnxruntime (a Reshape to an impossible shape) for brighter
      inputs: a crop that makes the model throw

Each with the .json description train.py writes (alphabet, input size).

  python3 scripts/plate-model/test-models.py
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test-fixtures", "plate-ctc")


def meta(name: str) -> dict:
    return {
        "model": name,
        "alphabet": ALPHABET,
        "blank": 0,
        "classes": len(ALPHABET) + 1,
        "input": {"channels": 1, "height": 32, "width": 128, "colour": "grey"},
        "note": "test model written by scripts/plate-model/test-models.py",
    }


def save(model: onnx.ModelProto, name: str) -> None:
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name))
    with open(os.path.join(OUT, name.replace(".onnx", ".json")), "w") as f:
        json.dump(meta(name), f, indent=2)
        f.write("\n")


def wrong_output() -> None:
    # input [N,1,32,128] -> AveragePool 2x8 -> [N,1,16,16] -> take the first 11 columns -> [N,16,11]
    nodes = [
        helper.make_node("AveragePool", ["input"], ["p"], kernel_shape=[2, 8], strides=[2, 8]),
        helper.make_node("Squeeze", ["p", "axis1"], ["s"]),
        helper.make_node("Slice", ["s", "starts", "ends", "axes"], ["probs"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([0], np.int64), "starts"),
        numpy_helper.from_array(np.array([11], np.int64), "ends"),
        numpy_helper.from_array(np.array([2], np.int64), "axes"),
    ]
    g = helper.make_graph(nodes, "wrong_output",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, 32, 128])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 16, 11])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "wrong-output.onnx")


def throws_when_bright() -> None:
    T, C = 32, len(ALPHABET) + 1
    probs = np.full((T, C), 0.001, np.float32)
    text = "ABC1234"
    for t in range(T):
        k = 0
        if 6 <= t < 6 + 2 * len(text) and (t - 6) % 2 == 0:
            k = ALPHABET.index(text[(t - 6) // 2]) + 1
        probs[t, k] = 0.99
    # shape = [1, T, C] + [0, 0, bright]: [1, 32, 38] cannot hold 32 x 37 values, and Reshape fails
    nodes = [
        helper.make_node("ReduceMax", ["input"], ["mx"], keepdims=0),
        helper.make_node("Greater", ["mx", "limit"], ["bright"]),
        helper.make_node("Cast", ["bright"], ["b64"], to=TensorProto.INT64),
        helper.make_node("Mul", ["b64", "unit"], ["extra"]),
        helper.make_node("Add", ["shape", "extra"], ["shape2"]),
        helper.make_node("Reshape", ["table", "shape2"], ["probs"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(240 / 127.5 - 1, np.float32), "limit"),
        numpy_helper.from_array(np.array([0, 0, 1], np.int64), "unit"),
        numpy_helper.from_array(np.array([1, T, C], np.int64), "shape"),
        numpy_helper.from_array(probs, "table"),
    ]
    g = helper.make_graph(nodes, "throws_when_bright",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, 32, 128])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, T, "c"])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "throws-when-bright.onnx")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    wrong_output()
    throws_when_bright()
