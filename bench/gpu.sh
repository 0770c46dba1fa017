#!/usr/bin/env bash
# Real-GPU numbers for d2l's ResNet-18 on WebGPU, beside PyTorch CUDA and d2l's published figure.
#
#   bash bench/gpu.sh pack [OUT]   # here (Deno, npm registry, Debian): build one self-extracting
#                                  # file, default dist/resnet-gpu-bench.run, under 64 MiB
#   bash OUT [--smoke]             # on the GPU machine (Linux, NVIDIA driver, no internet)
#   bash bench/gpu.sh run [--smoke]  # in a checkout on a machine that has Deno
#   bash bench/gpu.sh icd          # the Vulkan ICD file run would use (see vulkan_icd)
#
# The packed file holds Deno (its own binary, xz-compressed), this project's sources with the npm
# packages they import (a DENO_DIR cache, run with --cached-only), and Debian's Vulkan loader
# (libvulkan1's libvulkan.so.1). On the target the NVIDIA driver's Vulkan ICD
# (/usr/share/vulkan/icd.d/nvidia_icd.json or /etc/vulkan/icd.d/) provides the GPU; where only the
# driver's libGLX_nvidia.so.0 is there (containers), run writes an ICD file pointing at it.
#
# `run` measures ResNet-18 training with `deno task bench` (bench/bench.ts, --impls webgpu) at
# 96x96 batch 256 and 28x28 batch 64, then PyTorch CUDA on the same GPU when python3 imports a
# CUDA-enabled torch, and prints d2l's 4703 images/s (PyTorch, CUDA, 96x96, batch 256) beside
# them. --smoke: 28x28 batch 8, 2 s per run, for a check on any adapter (the software one too).
#
# Why not `deno compile`: it needs Deno's `denort` runtime, downloaded from dl.deno.land, which
# our machines cannot reach; shipping the deno binary itself works offline and lets bench.ts
# spawn its per-run child processes unchanged. With DENORT_BIN set to a denort binary, `pack`
# also writes OUT.compiled (deno compile of bench/bench.ts, xz-compressed) for comparison.
set -euo pipefail

D2L_IMG_PER_S=4703 # d2l's book build, PyTorch on a CUDA GPU, ResNet-18 96x96 batch 256
LIMIT=$((64 * 1024 * 1024))
die() {
  echo "error: $1" >&2
  exit "${2:-1}"
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

pack() {
  local out=${1:-$root/dist/resnet-gpu-bench.run}
  command -v deno >/dev/null || die "pack needs deno on PATH (bash tools/setup.sh installs it)"
  command -v xz >/dev/null || die "pack needs xz (Debian: apt-get install xz-utils)"
  local stage
  stage=$(mktemp -d "${TMPDIR:-/tmp}/gpu-pack.XXXXXX")
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/app" "$stage/lib" "$(dirname "$out")"

  # The project's tracked sources (no data, no runs).
  (cd "$root" && git ls-files -z -- deno.json deno.lock main.ts mod.ts cli lib bench |
    xargs -0 cp --parents -t "$stage/app")
  cp "$here/gpu.sh" "$stage/app/bench/gpu.sh" # this script, even before it is committed
  # Its npm packages, fetched into a private cache; source maps and typings are not run.
  DENO_DIR="$stage/app/.deno" deno cache --quiet --config "$stage/app/deno.json" \
    "$stage/app/main.ts" "$stage/app/bench/bench.ts" "$stage/app/bench/worker.ts" \
    "$stage/app/bench/first_step.ts" >&2
  find "$stage/app/.deno" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' \) -delete
  rm -rf "$stage/app/.deno/check_cache"* "$stage/app/.deno/"*cache_v2*
  cp "$(readlink -f "$(command -v deno)")" "$stage/deno"

  # Debian's Vulkan loader: the installed one, else the package's file.
  local vk=/usr/lib/x86_64-linux-gnu/libvulkan.so.1
  if [[ -e $vk ]]; then
    cp "$(readlink -f "$vk")" "$stage/lib/libvulkan.so.1"
  else
    (cd "$stage" && apt-get download libvulkan1 >&2 && dpkg-deb -x libvulkan1_*.deb deb &&
      cp "$(readlink -f deb/usr/lib/x86_64-linux-gnu/libvulkan.so.1)" lib/libvulkan.so.1 &&
      rm -rf deb libvulkan1_*.deb) || die "could not get libvulkan1 (apt-get update first?)"
  fi

  local payload="$stage/payload.tar.xz"
  # -6: 24 MiB blocks, so -T0 compresses in parallel (-9e is one 192 MiB block: one thread).
  tar -C "$stage" -cf - deno lib app | xz -6 -T0 >"$payload"
  local tmp="$out.tmp.$$"
  {
    cat <<'HEADER'
#!/usr/bin/env bash
# Self-extracting ResNet-18 WebGPU benchmark (made by bench/gpu.sh pack): bash THIS [--smoke]
set -euo pipefail
command -v xz >/dev/null || { echo "error: needs xz to unpack (Debian: apt-get install xz-utils)" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/resnet-gpu-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
line=$(awk '/^__PAYLOAD__$/ { print NR + 1; exit }' "$0")
tail -n +"$line" "$0" | xz -d | tar -C "$dir" -xf -
export DENO="$dir/deno" DENO_DIR="$dir/app/.deno" DENO_NO_UPDATE_CHECK=1
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bash "$dir/app/bench/gpu.sh" run "$@"
exit $?
__PAYLOAD__
HEADER
    cat "$payload"
  } >"$tmp"
  chmod +x "$tmp"
  mv "$tmp" "$out"
  local size
  size=$(stat -c %s "$out")
  echo "packed $out: $((size / 1024 / 1024)) MiB ($size bytes), limit 64 MiB"
  ((size < LIMIT)) || die "$out is over 64 MiB"

  if [[ -n ${DENORT_BIN:-} ]]; then
    (cd "$stage/app" && DENO_DIR="$stage/app/.deno" deno compile -A --unstable-webgpu \
      --cached-only -o "$stage/resnet-bench" bench/bench.ts >&2)
    xz -6 -T0 -c "$stage/resnet-bench" >"$out.compiled.xz"
    echo "deno compile: $out.compiled.xz $(($(stat -c %s "$out.compiled.xz") / 1024 / 1024)) MiB"
  fi
}

# Directories searched for NVIDIA's Vulkan ICD file and driver libraries (tests override them).
ICD_DIRS=${GPU_ICD_DIRS:-/usr/share/vulkan/icd.d /etc/vulkan/icd.d}
LIB_DIRS=${GPU_LIB_DIRS:-/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu}

# Prints the NVIDIA Vulkan ICD file to use: $VK_ICD_FILENAMES, the driver's nvidia_icd.json, or
# (container images often mount the driver's libGLX_nvidia.so.0, which holds its Vulkan, without
# the JSON file) a temporary ICD file pointing at that library. Fails when there is neither.
vulkan_icd() {
  local f d
  for f in ${VK_ICD_FILENAMES:-}; do [[ -e $f ]] && echo "$f" && return; done
  for d in $ICD_DIRS; do
    [[ -e $d/nvidia_icd.json ]] && echo "$d/nvidia_icd.json" && return
  done
  for d in $LIB_DIRS; do
    if [[ -e $d/libGLX_nvidia.so.0 ]]; then
      f=$(mktemp "${TMPDIR:-/tmp}/nvidia_icd.XXXXXX.json")
      printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' \
        "$d/libGLX_nvidia.so.0" >"$f"
      echo "$f"
      return
    fi
  done
  return 1
}

# One line: the NVIDIA driver files that are here (or that there are none), for the error.
driver_files() {
  local d found=()
  for d in $ICD_DIRS $LIB_DIRS; do
    [[ -d $d ]] && found+=($(cd "$d" && ls -d nvidia* libnvidia* libGLX_nvidia* libcuda* 2>/dev/null | sed "s|^|$d/|"))
  done
  if ((${#found[@]})); then
    echo "found ${found[*]}, but neither nvidia_icd.json nor libGLX_nvidia.so.0" \
      "(install the driver's Vulkan part, or set VK_ICD_FILENAMES)"
  else
    echo "no NVIDIA driver files in $ICD_DIRS $LIB_DIRS (install the NVIDIA driver, or set" \
      "VK_ICD_FILENAMES)"
  fi
}

run() {
  local smoke=0 seconds=20 cap=900
  local configs=("96 256" "28 64")
  for a in "$@"; do
    case $a in
      --smoke) smoke=1 ;;
      *) die "unknown option $a: use --smoke or nothing" 2 ;;
    esac
  done
  if ((smoke)); then
    configs=("28 8")
    seconds=2
    cap=600
  fi
  local deno=${DENO:-deno}
  command -v "$deno" >/dev/null || die "no deno: run the packed file, or install Deno"
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  local flags=(run -A)
  [[ -n ${DENO_DIR:-} ]] && flags+=(--cached-only --no-check)

  local icd
  if icd=$(vulkan_icd); then
    echo "Vulkan ICD: $icd"
    export VK_ICD_FILENAMES=$icd
  else
    echo "warning: no NVIDIA Vulkan driver: $(driver_files); measuring whatever adapter" \
      "Vulkan offers" >&2
  fi
  export DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan}
  (cd "$root" && "$deno" "${flags[@]}" main.ts info)
  echo

  local results
  results=$(mktemp)
  trap 'rm -f "$results"' RETURN
  for c in "${configs[@]}"; do
    read -r size batch <<<"$c"
    echo "webgpu: ResNet-18 ${size}x${size} batch $batch ..." >&2
    (cd "$root" && "$deno" "${flags[@]}" bench/bench.ts --impls webgpu --depth 18 \
      --sizes "$size" --batch "$batch" --seconds "$seconds" --cap "$cap" --json --no-save) |
      grep '^{' >>"$results" || true
  done

  local py=${PYTHON:-python3}
  if command -v "$py" >/dev/null &&
    "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    for c in "${configs[@]}"; do
      read -r size batch <<<"$c"
      echo "torch-cuda: ResNet-18 ${size}x${size} batch $batch ..." >&2
      "$py" - "$here" "$size" "$batch" "$seconds" <<'PY' >>"$results" || true
import json, sys, time
import torch
sys.path.insert(0, sys.argv[1])
import torch_reference as R  # d2l's ResNet, as the CPU reference uses it
size, batch, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
dev = torch.device("cuda")
torch.manual_seed(0)
net = R.resnet(18)
net.apply(R.init_weights)
net.to(dev).train()
opt = torch.optim.SGD(net.parameters(), lr=0.05)
loss = torch.nn.CrossEntropyLoss()
X = torch.rand(batch, 1, size, size, device=dev)
y = torch.randint(0, 10, (batch,), device=dev)
def step():
    opt.zero_grad()
    l = loss(net(X), y)
    l.backward()
    opt.step()
    return float(l)  # train_ch6 reads the loss every step
t0 = time.perf_counter(); step(); first = time.perf_counter() - t0
for _ in range(3): step()
steps, t0 = 0, time.perf_counter()
while True:
    step(); steps += 1
    el = time.perf_counter() - t0
    if el >= seconds and steps >= 2: break
print(json.dumps({"impl": "torch-cuda", "size": size, "batch": batch, "img_per_s": steps * batch / el,
                  "first_step_s": first, "status": "ok",
                  "detail": f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}"}))
PY
    done
  else
    echo "PyTorch with CUDA not found here (set PYTHON=...): no PyTorch row" >&2
  fi

  (cd "$root" && "$deno" eval --no-config "
    const rows = Deno.readTextFileSync('$results').trim().split('\n').filter(Boolean)
      .map((l) => JSON.parse(l));
    const f = (v, d) => v == null ? '-' : v.toFixed(d);
    // webgpu rows: warm-up (compile ahead) plus first step; torch-cuda rows: its first step.
    console.log('impl        size  batch   images/s  first res. (s)  status');
    for (const r of rows) {
      console.log(r.impl.padEnd(10), String(r.size).padStart(5), String(r.batch).padStart(6),
        f(r.img_per_s, 1).padStart(10), f(r.first_result_s ?? r.first_step_s, 1).padStart(15),
        ' ', r.status, r.detail ? '(' + r.detail + ')' : '');
    }
    console.log('d2l         96     256  ${D2L_IMG_PER_S}.0', ' '.repeat(16),
      ' d2l book build: PyTorch, CUDA GPU');
  ")
}

case ${1:-} in
  pack) pack "${2:-}" ;;
  run) run "${@:2}" ;;
  icd) vulkan_icd || die "no NVIDIA Vulkan driver: $(driver_files)" ;;
  *) die "usage: bash bench/gpu.sh pack [OUT] | bash bench/gpu.sh run [--smoke] | bash bench/gpu.sh icd" 2 ;;
esac
