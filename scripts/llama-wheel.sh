#!/usr/bin/env bash
# Build llama-cpp-python once for a portable instruction set and print the folder holding the wheel.
#
# Why: by default llama-cpp-python compiles with -march=native, so the library uses every
# instruction of the build machine (AMX, AVX-512) and dies with SIGILL on another CPU, and pip
# caches that wheel under the sdist's hash, not the flags. Here the flags are explicit and the
# wheel lives in a folder named after version, architecture and flags: a wheel is reused only
# where it was built for exactly these flags, which run on every CPU of that baseline.
#
#   scripts/llama-wheel.sh            # prints the wheel folder (builds it first if missing)
#   IMPRINT_LLAMA_CMAKE_ARGS="..." scripts/llama-wheel.sh   # other flags, another folder
set -euo pipefail

version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$(dirname "$0")/../pyproject.toml")
arch=$(uname -m)
if [ -z "${IMPRINT_LLAMA_CMAKE_ARGS:-}" ]; then
  case "$arch" in
    # the x86-64-v3 baseline (Haswell, Zen 1 and later): AVX2, FMA, F16C, BMI2; no AVX-512, no AMX
    x86_64) IMPRINT_LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
    # generic ARMv8: no -mcpu=native
    *) IMPRINT_LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF" ;;
  esac
fi
key=$(printf '%s' "$IMPRINT_LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
folder="${IMPRINT_WHEEL_DIR:-$HOME/.cache/imprint/wheels}/llama-cpp-python-$version-$arch-$key"

if ! ls "$folder"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $version for $arch with: $IMPRINT_LLAMA_CMAKE_ARGS" >&2
  echo "(about 5 minutes on 2 cores, once per machine and flags)" >&2
  partial="$folder.partial.$$"
  rm -rf "$partial" && mkdir -p "$partial"
  # --no-cache-dir: never take a wheel pip cached from a build with other flags
  CMAKE_ARGS="$IMPRINT_LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "${PYTHON:-python3}" -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
    "llama-cpp-python==$version" -w "$partial" >&2
  printf '%s\n' "$IMPRINT_LLAMA_CMAKE_ARGS" > "$partial/CMAKE_ARGS"
  rm -rf "$folder" && mv "$partial" "$folder"
fi
echo "$folder"
