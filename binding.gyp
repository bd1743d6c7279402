# node-gyp build of the Infera addon: CPU only (no CUDA, no TensorRT).
# Sources stay portable: no global -mavx2/-mfma; SIMD paths must be chosen at
# run time via cpu/cpu_features. C++ exceptions are enabled
# (NAPI_CPP_EXCEPTIONS), the same as in CMakeLists.txt, and an exception that
# cannot reach JS because the environment is terminating (a worker thread ended
# with async work in flight) is dropped instead of aborting the process
# (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS).
# SIMD kernels get their flags per file: gyp has no per-source flags, so each
# flag set is a small static library (x64 only) linked into the addon; the
# kernels are only called after quant/dispatch.cc has checked the CPU.
# -ffp-contract=off keeps the int8 epilogues bit-identical to the references.
{
  "target_defaults": {
    "include_dirs": ["native/src"],
    "cflags!": ["-fno-exceptions", "-O2", "-O0"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
    "cflags": ["-O3", "-Wall", "-Wextra", "-fPIC"],
    "cflags_cc": ["-std=c++17", "-fexceptions"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "GCC_OPTIMIZATION_LEVEL": "3",
      "MACOSX_DEPLOYMENT_TARGET": "11.0"
    }
  },
  "targets": [
    {
      "target_name": "infera_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": [
            "native/src/quant/gemm_f32_avx2.cc",
            "native/src/quant/int8_gemm_avx2.cc",
            "native/src/quant/spmm_avx2.cc"
          ],
          "cflags": ["-mavx2", "-mfma", "-ffp-contract=off"],
          "xcode_settings": {"OTHER_CFLAGS": ["-mavx2", "-mfma", "-ffp-contract=off"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX2", "/std:c++17", "/O2"]}}
        }]
      ]
    },
    {
      "target_name": "infera_avxvnni",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["native/src/quant/int8_gemm_avxvnni.cc"],
          "cflags": ["-mavx2", "-mfma", "-mavxvnni", "-ffp-contract=off"],
          "xcode_settings": {"OTHER_CFLAGS": ["-mavx2", "-mfma", "-mavxvnni", "-ffp-contract=off"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX2", "/std:c++17", "/O2"]}}
        }]
      ]
    },
    {
      "dependencies": ["infera_avx2", "infera_avxvnni"],
      "target_name": "infera",
      "sources": [
        "native/src/addon.cc",
        "native/src/system_info.cc",
        "native/src/thread_priority.cc",
        "native/src/batch/axis_copy.cc",
        "native/src/batch/batch_bindings.cc",
        "native/src/json/double_buffer.cc",
        "native/src/json/number_arrays.cc",
        "native/src/json/json_bindings.cc",
        "native/src/cpu/cpu_features.cc",
        "native/src/quant/gemm_pack.cc",
        "native/src/quant/gemm_f32_ref.cc",
        "native/src/quant/int8_gemm_ref.cc",
        "native/src/quant/spmm_ref.cc",
        "native/src/quant/dispatch.cc",
        "native/src/quant/quant_bindings.cc",
        "native/src/exec/thread_pool.cc",
        "native/src/exec/executor.cc",
        "native/src/exec/plan_parse.cc",
        "native/src/exec/model_bindings.cc",
        "native/src/features/iso_time.cc",
        "native/src/features/feature_transform.cc",
        "native/src/features/feature_bindings.cc",
        "native/src/audio/resample.cc",
        "native/src/audio/audio_bindings.cc",
        "native/src/gbdt/gbdt.cc",
        "native/src/gbdt/gbdt_bindings.cc",
        "native/src/features/feature_gpu.cc",
        "native/src/cuda/cuda_bindings.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
      "cflags": ["-O3", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": ["/std:c++17", "/O2"]
        }
      }
    }
  ]
}
