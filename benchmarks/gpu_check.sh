#!/usr/bin/env bash
# Everything kolorize needs a GPU for, as ONE script that a lent GPU machine runs in under
# 8 minutes: the CUDA tests, the training-step benchmark (reference step in the same run),
# a profiler summary, and a scaled study projected to its full size. Writes $OUT/gpu_check.log.
#
# On the development machine, first (once per session):
#   benchmarks/gpu_check.sh --prepare      # .carry/: photos at 256 px + the torch-fidelity wheel
# and dry-run it on the CPU at tiny sizes (a GPU minute is never spent on a typo):
#   OUT=/tmp/gc benchmarks/gpu_check.sh --dry-run
# then on the GPU machine (the device tool, carry [".carry"]):
#   bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
CARRY=.carry

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$CARRY/photos" "$CARRY/whl"
  .venv/bin/python - <<'PY'
from pathlib import Path
from PIL import Image
src = Path("../shared/data")
files = sorted((src / "coco").glob("*.jpg")) + sorted((src / "photos").glob("*.jpg"))
files += sorted((src / "photos_extra").glob("*.jpg"))
for f in files[:1200]:
    out = Path(".carry/photos") / f.name
    if not out.exists():
        Image.open(f).convert("RGB").resize((256, 256), Image.BICUBIC).save(out, quality=85)
print(len(list(Path(".carry/photos").iterdir())), "photos in .carry/photos")
PY
  .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp -d "$CARRY/whl" torch-fidelity
  du -sh "$CARRY"
  exit 0
fi

DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
if [ $DRY = 1 ]; then
  PY="$PWD/.venv/bin/python"
  SIZE=32 BATCH=4 STEPS=2 PHOTOS=48 VAL=8 SCALE=0.04
  TINY=(--set generator.width=8 --set discriminator.width=8 --set generator.depth=2)
else
  PY=python3
  SIZE=256 BATCH=16 STEPS=20 PHOTOS=1200 VAL=200 SCALE=0.05
  TINY=()
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$CARRY"/whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
LOG="$OUT/gpu_check.log"
PHOTOS_DIR="$CARRY/photos"
[ -d "$PHOTOS_DIR" ] || { echo "no $PHOTOS_DIR: run benchmarks/gpu_check.sh --prepare first"; exit 2; }
step() { echo; echo "=== $* ($(date +%T))"; }
{
  step "machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no GPU"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

  step "CUDA tests"
  # the tests take their real photos from ../shared/data/photos: the carried ones stand in
  [ -d ../shared/data/photos ] || { mkdir -p ../shared/data && ln -s "$PWD/$PHOTOS_DIR" ../shared/data/photos; }
  "$PY" -m pytest -q -p no:cacheprovider tests/test_step.py tests/test_inference.py \
    -k "cuda or captured or device or host_work" 2>&1 | tail -15

  step "training step, GAN (reference in the same run)"
  (cd benchmarks && timeout 200 "$PY" bench_train.py --size $SIZE --batch $BATCH --steps $STEPS)

  step "training step, L1 pretraining"
  (cd benchmarks && timeout 120 "$PY" bench_train.py --size $SIZE --batch $BATCH --steps $STEPS \
    --phase pretrain --archs resnet18_unet)

  step "profile of 20 steps"
  DATA=/tmp/gc_data
  "$PY" -m kolorize data prepare "$PHOTOS_DIR" --out $DATA --size $SIZE --force \
    --n 256 --val 16 2>&1 | tail -1
  (cd benchmarks && timeout 120 "$PY" profile_step.py $DATA --steps $STEPS "${TINY[@]}" \
    --set train.batch_size=$BATCH 2>&1 | tail -70)

  step "the study at $SCALE of its epochs, projected to its full size"
  (cd benchmarks && timeout 240 "$PY" bench_study.py --photos $PHOTOS --val $VAL --size $SIZE \
    --scale $SCALE --photos-dir "../$PHOTOS_DIR" "${TINY[@]}" 2>&1 | tail -25)
  step "done"
} 2>&1 | tee "$LOG"
