"""What every golden script shares: d2l's PyTorch code (written once, in bench/ and tools/) and the
JSON tensor encoding of tests/golden/README.md."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "golden")
# d2l's Residual and resnet_block (bench/), its five-stage network and safetensors writer (tools/).
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def enc(t):
    """A tensor as {"shape", "data"}: row-major, float32 values widened exactly to double."""
    t = t.detach().cpu().contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def write_json(name, obj, out=OUT):
    """Writes OUT/name (or `out`/name) as compact JSON ending in a newline."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)


def out_dir(argv):
    """`--out DIR` (to compare with the committed files) or tests/golden."""
    return argv[argv.index("--out") + 1] if "--out" in argv else OUT
