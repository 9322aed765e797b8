#!/bin/sh
# download_official.sh — fetch the official ProsQA splits and HF GPT-2 (124M) where
# there is internet access. Files go to datasets/prosqa/ and models/gpt2/ (both
# git-ignored). Uses curl or wget; verifies nothing beyond HTTP success, so check
# the sizes printed at the end (prosqa_train.json ~30 MB, model.safetensors 548 MB).
set -eu
cd "$(dirname "$0")/.."
fetch() { # url dest
  if [ -s "$2" ]; then echo "have $2"; return; fi
  echo "fetch $1"
  if command -v curl >/dev/null 2>&1; then curl -fL --retry 3 -o "$2.part" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -O "$2.part" "$1"
  else echo "need curl or wget" >&2; exit 1; fi
  mv "$2.part" "$2"
}
mkdir -p datasets/prosqa models/gpt2
base=https://raw.githubusercontent.com/facebookresearch/coconut/main/data
for s in train valid test; do fetch "$base/prosqa_$s.json" "datasets/prosqa/prosqa_$s.json"; done
hf=https://huggingface.co/openai-community/gpt2/resolve/main
for f in model.safetensors config.json vocab.json merges.txt; do fetch "$hf/$f" "models/gpt2/$f"; done
ls -l datasets/prosqa/prosqa_*.json models/gpt2/
